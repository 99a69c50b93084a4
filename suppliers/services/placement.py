"""Place an order with its suppliers: the checks, one draft per supplier, then the create call.

The call itself follows the never-twice protocol of ``suppliers.services.protocol`` (lock, lease,
commit, call, record; reconciliation of unknown outcomes). Two workers, a retried task, a double
click, the bulk action and an auto-order rule all meet at the order's row lock and the supplier
order's state: one create per key, one payment per supplier order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from orders.address import address_problems
from orders.enums import OrderEventType, OrderStatus, SupplierOrderState
from orders.models import Order, OrderEvent, OrderLine
from suppliers.enums import PaymentMode, PlacementOutcome, SourceAccountStatus, SupplierProvider
from suppliers.models import AutoOrderRule, ProductLink, SourceAccount, SupplierOrder, SupplierOrderLine
from suppliers.services.links import links_for_lines
from suppliers.services.protocol import (
    BY_HAND,
    IN_FLIGHT,
    NOT_SENT,
    Result,
    create_call,
    lease_length,
    lease_take,
    order_still_wanted,
    outcome_unknown,
    place_request,
    placed_record,
    supplier_order_locked,
)
from suppliers.services.records import CURRENT, failure_set, new_idempotency_key, supplier_order_move

logger = logging.getLogger(__name__)

__all__ = [  # what other modules take from here (the protocol's names included, for one import)
    "BY_HAND",
    "Blocker",
    "NOT_SENT",
    "Result",
    "create_call",
    "lease_length",
    "order_blockers",
    "order_place",
    "outcome_unknown",
    "place_request",
    "placed_record",
    "supplier_order_locked",
    "supplier_order_send",
]


@dataclass(frozen=True)
class Blocker:
    """Why an order cannot be sent yet, with the fix one click away: the view (URL name), its
    arguments and query string that the page links to."""

    code: str
    message: str
    fix_view: str = ""
    fix_args: tuple[int, ...] = ()
    fix_query: str = ""


# Checks ---------------------------------------------------------------------------------------


def current_accounts(account: Account) -> dict[str, SourceAccount]:
    return {
        source.provider: source
        for source in SourceAccount.objects.filter(
            account=account, status__in=(SourceAccountStatus.CONNECTED, SourceAccountStatus.RECONNECT)
        )
    }


def order_blockers(
    *, order: Order, lines: list[OrderLine], links: dict[int, ProductLink], sources: dict[str, SourceAccount]
) -> list[Blocker]:
    """Everything that stops ``order`` before a supplier is asked (empty: it can be sent)."""
    if order.awaiting_duplicate_confirmation:
        return [Blocker("duplicate", _("This order may be a duplicate: confirm it before placing it."))]
    blockers: list[Blocker] = []
    if not lines:
        blockers.append(Blocker("no_lines", _("This order has no lines to buy.")))
    for line in lines:
        link = links.get(line.pk)
        if link is None:
            blockers.append(
                Blocker(
                    "unlinked",
                    _("“%(title)s” is not linked to a supplier product.") % {"title": line.title[:80]},
                    "suppliers:link_new",
                    fix_query=f"order_line={line.pk}",
                )
            )
        elif link.unavailable_at is not None:
            blockers.append(
                Blocker(
                    "link_unavailable",
                    _("The supplier no longer sells the product linked to “%(title)s”: %(why)s")
                    % {"title": line.title[:80], "why": link.unavailable_reason or _("unavailable")},
                    "suppliers:link_edit",
                    (link.pk,),
                )
            )
    suppliers_page = "suppliers:accounts"
    for provider in sorted({link.provider for link in links.values()}):
        source = sources.get(provider)
        if source is None:
            blockers.append(
                Blocker(
                    "no_account",
                    _("Connect a %(supplier)s account first.") % {"supplier": SupplierProvider(provider).label},
                    suppliers_page,
                )
            )
        elif source.status == SourceAccountStatus.RECONNECT:
            blockers.append(
                Blocker(
                    "account_reconnect",
                    _("Your %(supplier)s account needs reconnecting.") % {"supplier": source.get_provider_display()},
                    suppliers_page,
                )
            )
    suppliers: list[str | None] = [*sorted({link.provider for link in links.values()})] or [None]
    for supplier in suppliers:
        for problem in address_problems(order, supplier=supplier):
            blockers.append(
                Blocker(f"address_{problem.code}", str(problem.message), "orders:address_edit", (order.pk,))
            )
    unique: dict[str, Blocker] = {}
    for blocker in blockers:
        unique.setdefault(f"{blocker.code}:{blocker.message}", blocker)
    return list(unique.values())


# Drafts ---------------------------------------------------------------------------------------


def blockers_record(order: Order, blockers: list[Blocker]) -> None:
    """The order's placement issue from ``blockers`` (the first one's fix; none: cleared), written
    when it changed, with a "placement blocked" event."""
    code = blockers[0].code if blockers else ""
    message = " ".join(blocker.message for blocker in blockers)[:500]
    if (order.placement_issue, order.placement_issue_message) == (code, message):
        return
    first = blockers[0] if blockers else None
    fix = None
    if first is not None and first.fix_view:
        fix = {"view": first.fix_view, "args": list(first.fix_args), "query": first.fix_query}
    Order.objects.filter(pk=order.pk).update(
        placement_issue=code, placement_issue_message=message, placement_issue_fix=fix
    )
    if blockers:
        OrderEvent.objects.create(
            order=order,
            type=OrderEventType.PLACEMENT_BLOCKED,
            parameters={"codes": [blocker.code for blocker in blockers], "message": message},
        )


def _drafts_prepare(
    *, account: Account, order_id: int, pay: bool | None, actor: AbstractBaseUser | None, rule: AutoOrderRule | None
) -> Result:
    """Under the order's lock: check it, and group the lines no supplier order covers yet into one
    draft per supplier (an order partly placed, one supplier having refused, sends the rest)."""
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).get(account=account, pk=order_id)
        if (
            order.status != OrderStatus.NEW
            or not order_still_wanted(order)
            and not order.awaiting_duplicate_confirmation
        ):
            return Result(PlacementOutcome.SKIPPED, _("Only orders in New can be placed."))
        current = list(SupplierOrder.objects.filter(CURRENT, order=order).select_for_update(of=("self",)))
        if any(so.state in IN_FLIGHT for so in current):
            return Result(PlacementOutcome.SKIPPED, _("This order is already being placed."))
        covered = {so.provider for so in current if so.state != SupplierOrderState.DRAFT}
        lines = list(order.lines.all())
        links = links_for_lines(account=account, store_id=order.store_id, lines=lines)
        open_lines = [line for line in lines if line.pk not in links or links[line.pk].provider not in covered]
        if lines and not open_lines:
            return Result(PlacementOutcome.SKIPPED, _("This order is already placed."))
        sources = current_accounts(account)
        blockers = order_blockers(order=order, lines=open_lines, links=links, sources=sources)
        blockers_record(order, blockers)
        if blockers:
            return Result(PlacementOutcome.BLOCKED, " ".join(blocker.message for blocker in blockers))
        now = timezone.now()
        drafts = {so.provider: so for so in current if so.state == SupplierOrderState.DRAFT}
        wanted = {links[line.pk].provider for line in open_lines}
        for provider in set(drafts) - wanted:  # a draft for a supplier the lines no longer use: history
            supplier_order_move(
                drafts.pop(provider), SupplierOrderState.REPLACED, note=_("Lines relinked"), actor=actor
            )
        ids: list[int] = []
        for provider in sorted(wanted):
            draft = drafts.get(provider)
            if draft is not None and not draft.failure_code and draft.updated_at > now - lease_length():
                ids.append(draft.pk)  # prepared moments ago by another click: sent as it is
                continue
            draft = draft_fill(
                draft or SupplierOrder(account=account, order=order, provider=provider),
                source=sources[provider],
                pay=pay,
                actor=actor,
                rule=rule,
            )
            draft.save()
            draft.lines.all().delete()
            SupplierOrderLine.objects.bulk_create(draft_lines(draft, open_lines, links))
            ids.append(draft.pk)
        return Result(PlacementOutcome.PLACED, supplier_orders=ids)


def draft_fill(
    draft: SupplierOrder,
    *,
    source: SourceAccount,
    pay: bool | None,
    actor: AbstractBaseUser | None,
    rule: AutoOrderRule | None,
) -> SupplierOrder:
    """A draft (new: with a fresh key) to send with ``source``, paid with the order per the
    account's setting unless ``pay`` says; not saved."""
    draft.idempotency_key = draft.idempotency_key or new_idempotency_key()
    draft.source_account = source
    draft.pay_with_order = source.payment_mode == PaymentMode.WITH_ORDER if pay is None else pay
    draft.placed_by_id = actor.pk if actor is not None else None
    draft.placed_by_rule = rule
    return draft


def draft_lines(draft: SupplierOrder, lines: list[OrderLine], links: dict[int, ProductLink]) -> list[SupplierOrderLine]:
    """The draft's lines: those of ``lines`` linked to its supplier, as their links say (unsaved)."""
    return [
        SupplierOrderLine(
            supplier_order=draft,
            order_line=line,
            product_link=links[line.pk],
            supplier_product_id=links[line.pk].supplier_product_id,
            supplier_sku=links[line.pk].supplier_sku,
            shipping_method=links[line.pk].shipping_method,
            quantity=line.quantity,
            unit_cost=links[line.pk].unit_cost,
        )
        for line in lines
        if links[line.pk].provider == draft.provider
    ]


# Sending --------------------------------------------------------------------------------------


def order_place(
    *,
    account: Account,
    order_id: int,
    actor: AbstractBaseUser | None = None,
    rule: AutoOrderRule | None = None,
    pay: bool | None = None,
) -> Result:
    """Check ``order_id`` (of ``account``: ``Order.DoesNotExist`` otherwise), make its drafts and
    send each to its supplier. Safe to call twice at once: one create per supplier order.

    Not inside a transaction: each step commits before the supplier is called."""
    prepared = _drafts_prepare(account=account, order_id=order_id, pay=pay, actor=actor, rule=rule)
    if prepared.outcome != PlacementOutcome.PLACED:
        return prepared
    results = [
        supplier_order_send(supplier_order_id=so_id, actor=actor, rule=rule) for so_id in prepared.supplier_orders
    ]
    return results_combined(results, prepared.supplier_orders)


def results_combined(results: list[Result], supplier_orders: list[int]) -> Result:
    """An order's outcome from its supplier orders' (the worst; their messages; the longest wait)."""
    worst = min(results, key=lambda result: OUTCOME_RANK.index(result.outcome))
    message = " ".join(result.message for result in results if result.message)
    waits = [result.retry_after or 0.0 for result in results if result.outcome == PlacementOutcome.DEFERRED]
    return Result(worst.outcome, message, supplier_orders, retry_after=max(waits) if waits else None)


def order_place_reported(
    *, account: Account, order_id: int, actor: AbstractBaseUser | None, rule: AutoOrderRule | None, pay: bool | None
) -> Result:
    """``order_place`` for a batch's result: a missing order or an error of ours is an outcome
    (logged), never an exception; the supplier orders stay safe (in flight at worst)."""
    try:
        return order_place(account=account, order_id=order_id, actor=actor, rule=rule, pay=pay)
    except Order.DoesNotExist:
        return Result(PlacementOutcome.SKIPPED, _("The order is gone."))
    except Exception:  # a bug or the database: logged; the order is checked again (reconciliation)
        logger.exception("placing order %s failed", order_id)
        return Result(PlacementOutcome.UNKNOWN, _("Something went wrong on our side; the order is checked again."))


OUTCOME_RANK = (
    PlacementOutcome.DEFERRED,  # first: the task must come back for it (the rest is sent then)
    PlacementOutcome.REFUSED,
    PlacementOutcome.BLOCKED,
    PlacementOutcome.UNKNOWN,
    PlacementOutcome.PAYMENT_FAILED,
    PlacementOutcome.SKIPPED,
    PlacementOutcome.PLACED,
    PlacementOutcome.PAID,
)


def supplier_order_send(
    *, supplier_order_id: int, actor: AbstractBaseUser | None = None, rule: AutoOrderRule | None = None
) -> Result:
    """Send a draft's create call (lease, commit, call, record). Anything but a draft: skipped."""
    with supplier_order_locked(supplier_order_id) as supplier_order:
        now = timezone.now()
        if supplier_order.state != SupplierOrderState.DRAFT:
            return Result(PlacementOutcome.SKIPPED, _("This order is already being placed."))
        if not order_still_wanted(supplier_order.order):
            return Result(PlacementOutcome.SKIPPED, _("The order was canceled, archived or flagged meanwhile."))
        source = supplier_order.source_account
        if source is None or source.status != SourceAccountStatus.CONNECTED:
            return Result(PlacementOutcome.BLOCKED, _("The supplier account is not connected."))
        changed: tuple[str, ...] = ()
        if supplier_order.failure_code and supplier_order.failure_code != NOT_SENT:
            # The supplier refused this key knowingly (nothing made; it may remember the refusal).
            supplier_order.idempotency_key = new_idempotency_key()
            supplier_order.first_sent_at = None
            changed = ("idempotency_key",)
        lease, lease_fields = lease_take(supplier_order, now)
        supplier_order.first_sent_at = supplier_order.first_sent_at or now
        supplier_order.attempts += 1
        supplier_order.reconcile_attempts = 0
        supplier_order_move(
            supplier_order,
            SupplierOrderState.PLACING,
            actor=actor,
            rule=rule,
            fields=(
                *changed,
                *lease_fields,
                "first_sent_at",
                "attempts",
                "reconcile_attempts",
                *failure_set(supplier_order, None),
            ),
        )
        request = place_request(supplier_order, pay=supplier_order.pay_with_order)
    return create_call(supplier_order=supplier_order, request=request, lease=lease, actor=actor)
