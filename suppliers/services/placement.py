"""Place an order with its suppliers: checks, drafts, then the create call (never twice).

The protocol (architecture rule 4), for every supplier call: lock the order and the supplier
order (in that order, everywhere), move to the in-flight state with a lease
(``in_flight_until``, longer than any call may take), commit, call the supplier outside any
transaction, then lock again and record what it said. A call whose outcome is not known (a
timeout, a lost answer, a killed worker) leaves the row in flight; once the lease has passed,
``suppliers.services.reconcile`` asks the supplier what happened before anything is sent again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from integrations.errors import (
    CredentialsError,
    HostNotAllowed,
    MalformedPayload,
    NotSupported,
    OutcomeUnknown,
    ProviderError,
)
from orders.address import address_problems
from orders.enums import OrderEventType, OrderStatus, SupplierOrderState
from orders.models import Order, OrderEvent, OrderLine
from suppliers.enums import PaymentMode, PlacementOutcome, SourceAccountStatus, SupplierProvider
from suppliers.models import AutoOrderRule, ProductLink, SourceAccount, SupplierOrder, SupplierOrderLine
from suppliers.providers.base import Placed, PlaceLine, PlaceRequest, Refusal, ShipTo, SupplierRefused
from suppliers.services.connection import provider_for
from suppliers.services.links import links_for_lines
from suppliers.services.records import (
    CURRENT,
    failure_set,
    fx_apply,
    info_apply,
    new_idempotency_key,
    order_after_supplier_change,
    supplier_order_move,
)

# A create that never reached the supplier (our token refused, a request we could not build):
# nothing is known under its key, which is kept.
NOT_SENT = "not_sent"


def lease_length() -> timedelta:
    """How long a worker holds a supplier order for one call: more than any call may take."""
    return timedelta(seconds=float(getattr(settings, "OUTBOUND_CALL_DEADLINE", 30)) * 2 + 30)


@dataclass(frozen=True)
class Blocker:
    """Why an order cannot be sent yet, with the fix one click away: the view (URL name), its
    arguments and query string that the page links to."""

    code: str
    message: str
    fix_view: str = ""
    fix_args: tuple[int, ...] = ()
    fix_query: str = ""


@dataclass
class Result:
    outcome: PlacementOutcome
    message: str = ""
    supplier_orders: list[int] = field(default_factory=list)


# Checks ---------------------------------------------------------------------------------------


def _current_accounts(account: Account) -> dict[str, SourceAccount]:
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


def _issue_set(order: Order, blockers: list[Blocker]) -> None:
    code = blockers[0].code if blockers else ""
    message = " ".join(blocker.message for blocker in blockers)[:500]
    if (order.placement_issue, order.placement_issue_message) == (code, message):
        return
    first = blockers[0] if blockers else None
    fix = (
        {"view": first.fix_view, "args": list(first.fix_args), "query": first.fix_query}
        if first and first.fix_view
        else {}
    )
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
    """Under the order's lock: check it, and group its lines into one draft per supplier."""
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).get(account=account, pk=order_id)
        if order.archived or order.status != OrderStatus.NEW:
            return Result(PlacementOutcome.SKIPPED, _("Only orders in New can be placed."))
        current = list(SupplierOrder.objects.filter(CURRENT, order=order).select_for_update(of=("self",)))
        if any(so.state != SupplierOrderState.DRAFT for so in current):
            return Result(PlacementOutcome.SKIPPED, _("This order is already being placed."))
        lines = list(order.lines.all())
        links = links_for_lines(account=account, store_id=order.store_id, lines=lines)
        sources = _current_accounts(account)
        blockers = order_blockers(order=order, lines=lines, links=links, sources=sources)
        _issue_set(order, blockers)
        if blockers:
            return Result(PlacementOutcome.BLOCKED, " ".join(blocker.message for blocker in blockers))
        drafts = {so.provider: so for so in current}
        for provider in set(drafts) - {links[line.pk].provider for line in lines}:
            drafts.pop(provider).delete()  # a draft for a supplier the lines no longer use
        ids: list[int] = []
        for provider in sorted({links[line.pk].provider for line in lines}):
            source = sources[provider]
            draft = drafts.get(provider) or SupplierOrder(
                account=account, order=order, provider=provider, idempotency_key=new_idempotency_key()
            )
            draft.source_account = source
            draft.pay_with_order = source.payment_mode == PaymentMode.WITH_ORDER if pay is None else pay
            draft.placed_by_id = actor.pk if actor is not None else None
            draft.placed_by_rule = rule
            draft.save()
            draft.lines.all().delete()
            SupplierOrderLine.objects.bulk_create(
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
                if links[line.pk].provider == provider
            )
            ids.append(draft.pk)
        return Result(PlacementOutcome.PLACED, supplier_orders=ids)


# Locks ----------------------------------------------------------------------------------------


@contextmanager
def supplier_order_locked(supplier_order_id: int) -> Iterator[SupplierOrder]:
    """A transaction holding the order's row lock, then the supplier order's (the one lock order)."""
    order_id = SupplierOrder.objects.values_list("order_id", flat=True).get(pk=supplier_order_id)
    with transaction.atomic():
        Order.objects.select_for_update(of=("self",)).filter(pk=order_id).first()
        yield (
            SupplierOrder.objects.select_for_update(of=("self",))
            .select_related("source_account", "order")
            .get(pk=supplier_order_id)
        )


def place_request(supplier_order: SupplierOrder, *, pay: bool) -> PlaceRequest:
    order = supplier_order.order
    return PlaceRequest(
        idempotency_key=supplier_order.idempotency_key,
        lines=tuple(
            PlaceLine(
                product_id=line.supplier_product_id,
                sku=line.supplier_sku,
                quantity=line.quantity,
                shipping_method=line.shipping_method,
            )
            for line in supplier_order.lines.all()
        ),
        ship_to=ShipTo(
            name=order.ship_name,
            phone=order.ship_phone,
            address1=order.ship_address1,
            address2=order.ship_address2,
            city=order.ship_city,
            province=order.ship_province_code or order.ship_province,
            zip=order.ship_zip,
            country_code=order.ship_country_code,
            email=order.customer_email,
            tax_id=order.ship_tax_id,
        ),
        pay=pay,
    )


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
    send each to its supplier. Safe to call twice at once: one create per supplier order."""
    prepared = _drafts_prepare(account=account, order_id=order_id, pay=pay, actor=actor, rule=rule)
    if prepared.outcome != PlacementOutcome.PLACED:
        return prepared
    results = [
        supplier_order_send(supplier_order_id=so_id, actor=actor, rule=rule) for so_id in prepared.supplier_orders
    ]
    worst = min(results, key=lambda result: _OUTCOME_RANK.index(result.outcome))
    return Result(
        worst.outcome, " ".join(result.message for result in results if result.message), prepared.supplier_orders
    )


_OUTCOME_RANK = (
    PlacementOutcome.REFUSED,
    PlacementOutcome.BLOCKED,
    PlacementOutcome.UNKNOWN,
    PlacementOutcome.PAYMENT_FAILED,
    PlacementOutcome.SKIPPED,
    PlacementOutcome.PLACED,
    PlacementOutcome.PAID,
)


def supplier_order_send(
    *,
    supplier_order_id: int,
    actor: AbstractBaseUser | None = None,
    rule: AutoOrderRule | None = None,
    now: datetime | None = None,
) -> Result:
    """Send a draft's create call (lease, commit, call, record). Anything but a draft: skipped."""
    now = now or timezone.now()
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state != SupplierOrderState.DRAFT:
            return Result(PlacementOutcome.SKIPPED, _("This order is already being placed."))
        source = supplier_order.source_account
        if source is None or source.status != SourceAccountStatus.CONNECTED:
            return Result(PlacementOutcome.BLOCKED, _("The supplier account is not connected."))
        changed: tuple[str, ...] = ()
        if supplier_order.failure_code and supplier_order.failure_code != NOT_SENT:
            # The supplier refused this key knowingly (it may remember the refusal): a new key.
            supplier_order.idempotency_key = new_idempotency_key()
            supplier_order.first_sent_at = None
            changed = ("idempotency_key",)
        supplier_order.in_flight_until = now + lease_length()
        supplier_order.first_sent_at = supplier_order.first_sent_at or now
        supplier_order.attempts += 1
        supplier_order_move(
            supplier_order,
            SupplierOrderState.PLACING,
            actor=actor,
            rule=rule,
            fields=(*changed, "in_flight_until", "first_sent_at", "attempts", *failure_set(supplier_order, None)),
        )
        request = place_request(supplier_order, pay=supplier_order.pay_with_order)
    return create_call(supplier_order=supplier_order, request=request, actor=actor)


def create_call(*, supplier_order: SupplierOrder, request: PlaceRequest, actor: AbstractBaseUser | None) -> Result:
    """Make the create call of an in-flight supplier order and record its outcome."""
    assert supplier_order.source_account is not None
    provider = provider_for(supplier_order.source_account)
    try:
        placed = provider.place(request)
    except SupplierRefused as refused:
        return _refused(supplier_order.pk, refused.refusal, actor=actor)
    except MalformedPayload as error:  # an answer we could not read: the order may exist
        return outcome_unknown(supplier_order.pk, str(error))
    except (CredentialsError, HostNotAllowed, NotSupported, ValueError) as error:
        # Refused before the supplier made anything (our token, our request): a draft again.
        return _refused(supplier_order.pk, Refusal(code=NOT_SENT, message=str(error)[:255]), actor=actor)
    except (OutcomeUnknown, ProviderError) as error:
        return outcome_unknown(supplier_order.pk, str(error))
    return placed_record(supplier_order.pk, placed, actor=actor)


def outcome_unknown(supplier_order_id: int, why: str) -> Result:
    """The call may or may not have happened: end the lease now, so reconciliation asks soon."""
    from suppliers.tasks import reconcile_soon  # the task module imports the services

    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state in (SupplierOrderState.PLACING, SupplierOrderState.PAYING):
            supplier_order.in_flight_until = timezone.now()
            supplier_order.failure_reason = why[:255]
            supplier_order.save(update_fields=("in_flight_until", "failure_reason", "updated_at"))
            reconcile_soon(supplier_order_id)
    return Result(PlacementOutcome.UNKNOWN, _("The supplier did not answer clearly: we are checking with it."))


def _refused(supplier_order_id: int, refusal: Refusal, *, actor: AbstractBaseUser | None) -> Result:
    """Nothing was made: back to draft, the reason on the order, a gone SKU flags its link."""
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state != SupplierOrderState.PLACING:
            return Result(PlacementOutcome.SKIPPED)
        supplier_order.in_flight_until = None
        supplier_order_move(
            supplier_order,
            SupplierOrderState.DRAFT,
            note=refusal.message,
            actor=actor,
            fields=("in_flight_until", *failure_set(supplier_order, refusal)),
        )
        if refusal.link_problem:  # the SKU is gone or out of stock: flag the link
            link_ids = supplier_order.lines.exclude(product_link=None).values_list("product_link_id", flat=True)
            ProductLink.objects.filter(pk__in=list(link_ids), unavailable_at=None).update(
                unavailable_at=timezone.now(), unavailable_reason=refusal.message[:255]
            )
        message = f"{refusal.message} {refusal.fix}".strip()
        fix = {"view": "orders:address_edit", "args": [supplier_order.order_id], "query": ""}
        if refusal.link_problem:
            fix = {"view": "suppliers:links", "args": [], "query": "unavailable=1"}
        Order.objects.filter(pk=supplier_order.order_id).update(
            placement_issue=f"refused_{refusal.code}"[:32],
            placement_issue_message=message[:500],
            placement_issue_fix=fix,
        )
        order_after_supplier_change(order_id=supplier_order.order_id, actor=actor)
    return Result(PlacementOutcome.REFUSED, message)


def placed_record(
    supplier_order_id: int,
    placed: Placed,
    *,
    actor: AbstractBaseUser | None,
    note: str = "",
) -> Result:
    """The supplier made the order: placed, paid, or placed with its payment failed (only for a
    supplier order still in flight: a worker's own call, reconciliation's, support's by hand)."""
    now = timezone.now()
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state not in (SupplierOrderState.PLACING, SupplierOrderState.PAYING):
            return Result(PlacementOutcome.SKIPPED)
        fields = list(info_apply(supplier_order, placed.order))
        supplier_order.in_flight_until = None
        supplier_order.placed_at = supplier_order.placed_at or now
        supplier_order.next_sync_at = now  # the sync reads amounts and status soon
        fields += ["in_flight_until", "placed_at", "next_sync_at"]
        if placed.order.paid:
            supplier_order.paid_at = now
            fields += [
                "paid_at",
                *fx_apply(supplier_order, supplier_order.order, now),
                *failure_set(supplier_order, None),
            ]
            state, outcome = SupplierOrderState.PAID, PlacementOutcome.PAID
        elif placed.payment_failure is not None:
            fields += failure_set(supplier_order, placed.payment_failure)
            state, outcome = SupplierOrderState.PAYMENT_FAILED, PlacementOutcome.PAYMENT_FAILED
            note = note or placed.payment_failure.message
        else:
            fields += failure_set(supplier_order, None)
            state, outcome = SupplierOrderState.PLACED, PlacementOutcome.PLACED
        if supplier_order.cost is not None and not supplier_order.fx_source:
            fields += fx_apply(supplier_order, supplier_order.order, now)
        supplier_order_move(supplier_order, state, note=note, actor=actor, fields=tuple(dict.fromkeys(fields)))
        Order.objects.filter(pk=supplier_order.order_id).update(
            placement_issue="", placement_issue_message="", placement_issue_fix=None
        )
        order_after_supplier_change(order_id=supplier_order.order_id, actor=actor)
    return Result(outcome, note, [supplier_order_id])
