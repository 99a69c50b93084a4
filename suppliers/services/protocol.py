"""The never-twice protocol for one supplier call (architecture rule 4).

Lock the order row, then the supplier order row (the one lock order, everywhere); take a *lease*
(a fresh ``lease_id`` and ``in_flight_until``, longer than any call may take); commit; call the
supplier outside any transaction; lock again and record the outcome **only while the row still
carries that lease** — except a success, which is recorded whoever holds the row (the supplier
order exists, whatever a slower worker thinks). A call whose outcome is not known leaves the row
in flight; reconciliation (``payment.supplier_order_reconcile``) asks the supplier before anything
is sent again.

Once a create under a key may have reached the supplier (``key_maybe_made``), the key is never
given up: the row never goes back to draft, is never moved to another account, and a refusal of
a later send under it is taken to support, not as "nothing was made".
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Iterator
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
    RateLimited,
)
from orders.address import tax_id_compact
from orders.enums import SupplierOrderState
from orders.models import Order
from suppliers.enums import PlacementOutcome, SourceAccountStatus
from suppliers.models import IN_FLIGHT_STATES, ProductLink, SourceAccount, SupplierOrder, SupplierOrderLine
from suppliers.providers.base import (
    PaymentFailed,
    Placed,
    PlaceLine,
    PlaceRequest,
    Refusal,
    ShipTo,
    SupplierProvider,
    SupplierRefused,
)
from suppliers.services.connection import provider_for
from suppliers.services.records import (
    Rates,
    failure_set,
    fx_apply,
    info_apply,
    order_after_supplier_change,
    supplier_order_move,
)

# A create that never reached the supplier (our token refused, a request we could not build):
# nothing is known under its key, which is kept.
NOT_SENT = "not_sent"
# Support looks in the supplier's order list (``manage.py supplier_order_resolve``).
BY_HAND = "reconcile_by_hand"
# Seconds after an unknown outcome before the supplier is asked what happened.
RECONCILE_DELAY = 15
IN_FLIGHT = IN_FLIGHT_STATES  # (the models' name, shorter here)


def lease_length() -> timedelta:
    """How long a worker holds a supplier order for one call: more than any call may take."""
    return timedelta(seconds=float(getattr(settings, "OUTBOUND_CALL_DEADLINE", 30)) * 2 + 30)


def repeat_window(provider: type[object] | None) -> timedelta | None:
    """How long after the first send a create may be repeated under its key (AliExpress: its 24 h
    dedup less a safety margin, ``SUPPLIER_REPEAT_MARGIN``); None: the supplier has a lookup."""
    window = getattr(provider, "repeat_answers_existing_for", None)
    if window is None:
        return None
    return window - timedelta(seconds=float(getattr(settings, "SUPPLIER_REPEAT_MARGIN", 3600)))


@dataclass
class Result:
    outcome: PlacementOutcome
    message: str = ""
    supplier_orders: list[int] = field(default_factory=list)
    retry_after: float | None = None  # DEFERRED: seconds until the supplier's next free call slot
    canceled: bool = False  # supplier_order_cancel: the supplier order is canceled (its message says how)


# Locks and leases -------------------------------------------------------------------------------


@contextmanager
def supplier_order_locked(supplier_order_id: int, *, account: Account | None = None) -> Iterator[SupplierOrder]:
    """A transaction holding the order's row lock, then the supplier order's. With ``account``, a
    supplier order of another account is ``SupplierOrder.DoesNotExist``."""
    rows = SupplierOrder.objects.all() if account is None else SupplierOrder.objects.filter(account=account)
    order_id = rows.values_list("order_id", flat=True).get(pk=supplier_order_id)
    with transaction.atomic():
        Order.objects.select_for_update(of=("self",)).filter(pk=order_id).first()
        yield (
            SupplierOrder.objects.select_for_update(of=("self",))
            .select_related("source_account", "order")
            .get(pk=supplier_order_id)
        )


def lease_take(supplier_order: SupplierOrder, now: datetime) -> tuple[uuid.UUID, tuple[str, ...]]:
    """Give the row a new lease (the caller saves the fields returned)."""
    supplier_order.lease_id = uuid.uuid4()
    supplier_order.in_flight_until = now + lease_length()
    return supplier_order.lease_id, ("lease_id", "in_flight_until")


def lease_live(supplier_order: SupplierOrder, now: datetime) -> bool:
    return supplier_order.in_flight_until is not None and supplier_order.in_flight_until > now


def held_by(supplier_order: SupplierOrder, lease: uuid.UUID | None) -> bool:
    return lease is not None and supplier_order.lease_id == lease


def _lease_end(supplier_order: SupplierOrder) -> tuple[str, ...]:
    supplier_order.lease_id = None
    supplier_order.in_flight_until = None
    return ("lease_id", "in_flight_until")


def order_still_wanted(order: Order) -> bool:
    """The order may still be bought (a cancel, an archive or a duplicate flag stops it)."""
    return not (order.archived or order.channel_canceled or order.awaiting_duplicate_confirmation)


def place_request(supplier_order: SupplierOrder, *, pay: bool) -> PlaceRequest:
    return request_for(supplier_order.order, supplier_order.lines.all(), key=supplier_order.idempotency_key, pay=pay)


def request_for(order: Order, lines: Iterable[SupplierOrderLine], *, key: str, pay: bool) -> PlaceRequest:
    """The create request of a supplier order under ``key``: its lines, the order's address."""
    return PlaceRequest(
        idempotency_key=key,
        lines=tuple(
            PlaceLine(
                product_id=line.supplier_product_id,
                sku=line.supplier_sku,
                quantity=line.quantity,
                shipping_method=line.shipping_method,
            )
            for line in lines
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
            tax_id=tax_id_compact(order.ship_country_code, order.ship_tax_id) if order.ship_tax_id else "",
        ),
        pay=pay,
    )


def order_issue_set(order_id: int, code: str, message: str, fix: dict[str, object] | None = None) -> None:
    Order.objects.filter(pk=order_id).update(
        placement_issue=code[:32], placement_issue_message=message[:500], placement_issue_fix=fix
    )


# The create call ------------------------------------------------------------------------------


def create_call(
    *,
    supplier_order: SupplierOrder,
    request: PlaceRequest,
    lease: uuid.UUID,
    actor: AbstractBaseUser | None,
    provider: SupplierProvider | None = None,
    on_placed: Callable[[Placed], Result] | None = None,
) -> Result:
    """Make the create call of a supplier order held under ``lease`` and record its outcome.

    ``provider``: the caller's (a bulk placement's chunk calls one for all its supplier orders);
    ``on_placed``: who records a success (a chunk records its successes together; by default
    ``placed_record`` at once). Every other outcome is recorded here, at once."""
    if provider is None:
        assert supplier_order.source_account is not None
        provider = provider_for(supplier_order.source_account)
    try:
        placed = provider.place(request)
    except RateLimited as limited:  # our own pacing: nothing was sent
        return rate_limited_record(supplier_order.pk, limited, lease=lease)
    except PaymentFailed as failed:  # a payment refusal on a create: the order may have been made
        return outcome_unknown(supplier_order.pk, lease, failed.refusal.message)
    except SupplierRefused as refused:
        return refusal_record(supplier_order.pk, refused.refusal, lease=lease, actor=actor)
    except MalformedPayload as error:  # an answer we could not read: the order may exist
        return outcome_unknown(supplier_order.pk, lease, str(error))
    except CredentialsError as error:
        return not_sent_record(supplier_order.pk, str(error), lease=lease, credentials=True)
    except (HostNotAllowed, NotSupported, ValueError) as error:  # refused before anything was sent
        return not_sent_record(supplier_order.pk, str(error), lease=lease)
    except (OutcomeUnknown, ProviderError) as error:
        return outcome_unknown(supplier_order.pk, lease, str(error), retry_after=error.retry_after)
    if on_placed is not None:
        return on_placed(placed)
    return placed_record(supplier_order.pk, placed, actor=actor)


def outcome_unknown(
    supplier_order_id: int, lease: uuid.UUID | None, why: str, *, retry_after: float | None = None
) -> Result:
    """The call may or may not have happened: ask the supplier in a while (one reconcile task, and
    beat's sweep once ``in_flight_until`` has passed)."""
    from suppliers.tasks import reconcile_soon  # the task module imports the services

    delay = max(RECONCILE_DELAY, int(retry_after or 0))
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state in IN_FLIGHT and held_by(supplier_order, lease):
            if supplier_order.state == SupplierOrderState.PLACING:
                supplier_order.key_maybe_made = True
            supplier_order.lease_id = None
            supplier_order.in_flight_until = timezone.now() + timedelta(seconds=delay)
            supplier_order.failure_reason = why[:255]
            supplier_order.save(
                update_fields=("key_maybe_made", "lease_id", "in_flight_until", "failure_reason", "updated_at")
            )
            reconcile_soon(supplier_order_id, countdown=delay)
    return Result(PlacementOutcome.UNKNOWN, _("The supplier did not answer clearly: we are checking with it."))


def by_hand_record(supplier_order: SupplierOrder, message: str) -> Result:
    """Park an in-flight supplier order for support (inside the caller's lock); the row says so."""
    refusal = Refusal(code=BY_HAND, message=message, fix=_("Support checks the supplier's order list by hand."))
    fields = (*_lease_end(supplier_order), *failure_set(supplier_order, refusal), "updated_at")
    supplier_order.save(update_fields=fields)
    order_issue_set(supplier_order.order_id, "needs_support", f"{message} {refusal.fix}")
    return Result(PlacementOutcome.UNKNOWN, message)


def refusal_record(
    supplier_order_id: int, refusal: Refusal, *, lease: uuid.UUID | None, actor: AbstractBaseUser | None
) -> Result:
    """The supplier refused a create knowingly: back to draft (nothing was made), the reason on the
    order, a link problem flags the links. A refusal of a *repeat* under a key that may have made an
    order (after a lost answer) proves nothing: support looks."""
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state != SupplierOrderState.PLACING or not held_by(supplier_order, lease):
            return Result(PlacementOutcome.SKIPPED)
        if supplier_order.key_maybe_made:
            return by_hand_record(
                supplier_order,
                _("The supplier refused a repeat of an order it may already have made (%(why)s).")
                % {"why": refusal.message[:200]},
            )
        supplier_order_move(
            supplier_order,
            SupplierOrderState.DRAFT,
            note=refusal.message,
            actor=actor,
            fields=(*_lease_end(supplier_order), *failure_set(supplier_order, refusal)),
        )
        if refusal.link_problem:
            link_ids = supplier_order.lines.exclude(product_link=None).values_list("product_link_id", flat=True)
            ProductLink.objects.filter(pk__in=list(link_ids), unavailable_at=None).update(
                unavailable_at=timezone.now(), unavailable_reason=refusal.message[:255]
            )
            fix: dict[str, object] | None = {"view": "suppliers:links", "args": [], "query": "unavailable=1"}
        elif "ADDRESS" in refusal.code.upper() or "CPF" in refusal.code.upper() or refusal.code == "1600101":
            fix = {"view": "orders:address_edit", "args": [supplier_order.order_id], "query": ""}
        else:
            fix = None
        message = f"{refusal.message} {refusal.fix}".strip()
        order_issue_set(supplier_order.order_id, f"refused_{refusal.code}", message, fix)
        order_after_supplier_change(order_id=supplier_order.order_id, actor=actor)
    return Result(PlacementOutcome.REFUSED, message)


def not_sent_record(supplier_order_id: int, why: str, *, lease: uuid.UUID | None, credentials: bool = False) -> Result:
    """The create never reached the supplier (our token, our request). A first send goes back to
    draft under the same key; a key that may have made an order stays in flight until the account
    works again (reconciliation then asks)."""
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state != SupplierOrderState.PLACING or not held_by(supplier_order, lease):
            return Result(PlacementOutcome.SKIPPED)
        if credentials and supplier_order.source_account_id is not None:
            SourceAccount.objects.filter(
                pk=supplier_order.source_account_id, status=SourceAccountStatus.CONNECTED
            ).update(status=SourceAccountStatus.RECONNECT, last_error=why[:500])
        message = _("The supplier refused our access: reconnect the supplier account.") if credentials else why
        if supplier_order.key_maybe_made:
            supplier_order.lease_id = None
            supplier_order.in_flight_until = timezone.now() + lease_length()
            supplier_order.failure_reason = str(message)[:255]
            supplier_order.save(update_fields=("lease_id", "in_flight_until", "failure_reason", "updated_at"))
            order_issue_set(
                supplier_order.order_id,
                "account_reconnect",
                str(message),
                {"view": "suppliers:accounts", "args": [], "query": ""},
            )
            return Result(PlacementOutcome.UNKNOWN, str(message))
        supplier_order_move(
            supplier_order,
            SupplierOrderState.DRAFT,
            note=str(message),
            fields=(
                *_lease_end(supplier_order),
                *failure_set(supplier_order, Refusal(code=NOT_SENT, message=str(message)[:255])),
            ),
        )
        fix: dict[str, object] | None = {"view": "suppliers:accounts", "args": [], "query": ""} if credentials else None
        order_issue_set(supplier_order.order_id, NOT_SENT, str(message), fix)
        order_after_supplier_change(order_id=supplier_order.order_id)
    return Result(PlacementOutcome.BLOCKED, str(message))


def deferred_message(wait: float) -> str:
    return _("The supplier's call rate limit is used up for now: it is sent in %(seconds)s s.") % {
        "seconds": round(wait, 1)
    }


def rate_limited_record(supplier_order_id: int, limited: RateLimited, *, lease: uuid.UUID | None) -> Result:
    """Our pacing kept a create from being sent (the supplier's call rate limit is used up for
    longer than a call may sleep). A first send goes back to draft under the same key and the
    result is DEFERRED: its task comes back after ``retry_after``. A key that may have made an
    order stays in flight until the slot, and reconciliation asks then."""
    from suppliers.tasks import reconcile_soon  # the task module imports the services

    wait = float(limited.retry_after or 0.0)
    message = deferred_message(wait)
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state != SupplierOrderState.PLACING or not held_by(supplier_order, lease):
            return Result(PlacementOutcome.SKIPPED)
        if supplier_order.key_maybe_made:
            supplier_order.lease_id = None
            supplier_order.in_flight_until = timezone.now() + timedelta(seconds=wait)
            supplier_order.save(update_fields=("lease_id", "in_flight_until", "updated_at"))
            reconcile_soon(supplier_order_id, countdown=max(1, math.ceil(wait)))
            return Result(PlacementOutcome.UNKNOWN, message, [supplier_order_id])
        supplier_order.attempts = max(0, supplier_order.attempts - 1)  # not an attempt: nothing was sent
        supplier_order_move(
            supplier_order,
            SupplierOrderState.DRAFT,
            note=message,
            fields=(
                *_lease_end(supplier_order),
                "attempts",
                *failure_set(supplier_order, Refusal(code=NOT_SENT, message=message)),
            ),
        )
        order_after_supplier_change(order_id=supplier_order.order_id)
    return Result(PlacementOutcome.DEFERRED, message, [supplier_order_id], retry_after=wait)


def placed_apply(
    supplier_order: SupplierOrder,
    placed: Placed,
    *,
    order: Order,
    now: datetime,
    note: str = "",
    rates: Rates | None = None,
) -> tuple[SupplierOrderState, PlacementOutcome, str, tuple[str, ...]]:
    """Put what the supplier made on an in-flight supplier order (not saved): the state it moves to,
    the placement's outcome, the note and the fields changed (the caller moves and saves it)."""
    fields = [*info_apply(supplier_order, placed.order), *_lease_end(supplier_order)]
    supplier_order.placed_at = supplier_order.placed_at or now
    supplier_order.next_sync_at = now  # the sync reads amounts and status soon
    supplier_order.reconcile_attempts = 0
    fields += ["placed_at", "next_sync_at", "reconcile_attempts"]
    if placed.order.paid:
        supplier_order.paid_at = now
        fields += ["paid_at", *fx_apply(supplier_order, order, now, rates=rates), *failure_set(supplier_order, None)]
        state, outcome = SupplierOrderState.PAID, PlacementOutcome.PAID
    elif placed.payment_failure is not None:
        fields += failure_set(supplier_order, placed.payment_failure)
        state, outcome = SupplierOrderState.PAYMENT_FAILED, PlacementOutcome.PAYMENT_FAILED
        note = note or placed.payment_failure.message
    else:
        fields += failure_set(supplier_order, None)
        state, outcome = SupplierOrderState.PLACED, PlacementOutcome.PLACED
    if supplier_order.cost is not None and not supplier_order.fx_source:
        fields += fx_apply(supplier_order, order, now, rates=rates)
    return state, outcome, note, tuple(dict.fromkeys(fields))


def placed_record(supplier_order_id: int, placed: Placed, *, actor: AbstractBaseUser | None, note: str = "") -> Result:
    """The supplier made the order: placed, paid, or placed with its payment failed. Recorded for
    any supplier order still in flight, whoever holds its lease (a success is never lost)."""
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state not in IN_FLIGHT:
            return Result(PlacementOutcome.SKIPPED)
        state, outcome, note, fields = placed_apply(
            supplier_order, placed, order=supplier_order.order, now=timezone.now(), note=note
        )
        supplier_order_move(supplier_order, state, note=note, actor=actor, fields=fields)
        if (
            not supplier_order.order.supplier_orders.filter(state=SupplierOrderState.DRAFT)
            .exclude(pk=supplier_order.pk)
            .exists()
        ):
            order_issue_set(supplier_order.order_id, "", "")
        order_after_supplier_change(order_id=supplier_order.order_id, actor=actor)
    return Result(outcome, note, [supplier_order_id])
