"""Pay, reconcile, cancel and re-place supplier orders (the protocol of ``protocol``).

Payment is its own in-flight state (``PAYING``): the supplier is asked only under a lease, and a
payment whose outcome is unknown is settled by reading the order at the supplier (paid, unpaid,
or a status that does not say) before it is asked to pay again. Nothing here pays an order the
supplier says is paid, or one whose payment state the supplier's answer leaves open.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from integrations.errors import MalformedPayload, NotSupported, ProviderError
from orders.enums import OrderStatus, SupplierOrderState
from orders.models import Order
from suppliers.enums import CanceledBy, PlacementOutcome, SourceAccountStatus
from suppliers.models import AutoOrderRule, SupplierOrder
from suppliers.providers.base import REGISTRY, PaymentFailed, Placed, Refusal, SupplierOrderInfo, SupplierRefused
from suppliers.services.connection import provider_for
from suppliers.services.protocol import (
    BY_HAND,
    IN_FLIGHT,
    Result,
    by_hand_record,
    create_call,
    held_by,
    lease_live,
    lease_take,
    order_issue_set,
    order_still_wanted,
    outcome_unknown,
    place_request,
    placed_record,
    repeat_window,
    supplier_order_locked,
)
from suppliers.services.records import (
    CURRENT,
    failure_set,
    info_apply,
    order_after_supplier_change,
    supplier_order_move,
)

PAYABLE_STATES = (SupplierOrderState.PLACED, SupplierOrderState.PAYMENT_FAILED)
# Reconciliations of one call without a clear answer before support takes over.
RECONCILE_LIMIT = 8
# While the supplier account needs reconnecting, reconciliation looks again this often (seconds).
RECONNECT_WAIT = 300


def _within_repeat_window(supplier_order: SupplierOrder, now: datetime) -> bool:
    """AliExpress answers a repeat of the same key with the order it made, for a while only."""
    window = repeat_window(REGISTRY[supplier_order.provider])
    return (
        window is not None and supplier_order.first_sent_at is not None and now - supplier_order.first_sent_at < window
    )


# Pay ------------------------------------------------------------------------------------------


def supplier_order_pay(
    *,
    supplier_order_id: int,
    account: Account | None = None,
    actor: AbstractBaseUser | None = None,
    rule: AutoOrderRule | None = None,
) -> Result:
    """Pay a placed (or payment-failed) supplier order: lease, commit, call, record. With
    ``account``, another account's supplier order is ``SupplierOrder.DoesNotExist``."""
    with supplier_order_locked(supplier_order_id, account=account) as supplier_order:
        now = timezone.now()
        if supplier_order.state not in PAYABLE_STATES or lease_live(supplier_order, now):
            return Result(PlacementOutcome.SKIPPED, _("This supplier order is not waiting for payment."))
        if not order_still_wanted(supplier_order.order):
            return Result(PlacementOutcome.SKIPPED, _("The order was canceled or archived: it is not paid."))
        source = supplier_order.source_account
        if source is None or source.status != SourceAccountStatus.CONNECTED:
            return Result(PlacementOutcome.BLOCKED, _("The supplier account is not connected."))
        lease, lease_fields = lease_take(supplier_order, now)
        supplier_order.attempts += 1
        supplier_order.reconcile_attempts = 0
        supplier_order_move(
            supplier_order,
            SupplierOrderState.PAYING,
            actor=actor,
            rule=rule,
            fields=(*lease_fields, "attempts", "reconcile_attempts"),
        )
    return payment_call(supplier_order=supplier_order, lease=lease, actor=actor)


def payment_call(*, supplier_order: SupplierOrder, lease: uuid.UUID, actor: AbstractBaseUser | None) -> Result:
    """Ask the supplier to pay an order held in ``PAYING`` under ``lease`` and record the outcome."""
    provider = provider_for(supplier_order.source_account)  # type: ignore[arg-type]
    try:
        try:
            info = provider.pay(supplier_order.external_order_id)
        except NotSupported:
            if not _within_repeat_window(supplier_order, timezone.now()):
                raise
            # AliExpress pays through its create call: the same key again, with payment on.
            with supplier_order_locked(supplier_order.pk) as held:
                request = place_request(held, pay=True)
            placed = provider.place(request)
            if placed.payment_failure is not None:
                return payment_failed_record(
                    supplier_order.pk, placed.payment_failure, lease=lease, actor=actor, info=placed.order
                )
            return placed_record(supplier_order.pk, placed, actor=actor)
    except (PaymentFailed, SupplierRefused) as refused:
        return payment_failed_record(supplier_order.pk, refused.refusal, lease=lease, actor=actor)
    except NotSupported:
        refusal = Refusal(
            code="pay_at_supplier",
            message=_("This supplier order can no longer be paid through the API."),
            fix=_("Pay it in the supplier's order list; it updates here at the next sync."),
        )
        return payment_failed_record(supplier_order.pk, refusal, lease=lease, actor=actor)
    except MalformedPayload as error:
        return outcome_unknown(supplier_order.pk, lease, str(error))
    except ProviderError as error:
        return outcome_unknown(supplier_order.pk, lease, str(error), retry_after=error.retry_after)
    if not info.payment_known:
        return outcome_unknown(supplier_order.pk, lease, _("The supplier's status does not say whether it is paid."))
    if info.paid:
        return placed_record(supplier_order.pk, Placed(order=info), actor=actor)
    refusal = Refusal(code="not_paid", message=_("The supplier did not take the payment."), fix=_("Retry the payment."))
    return payment_failed_record(supplier_order.pk, refusal, lease=lease, actor=actor, info=info)


def payment_failed_record(
    supplier_order_id: int,
    refusal: Refusal,
    *,
    lease: uuid.UUID | None,
    actor: AbstractBaseUser | None,
    info: SupplierOrderInfo | None = None,
) -> Result:
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state != SupplierOrderState.PAYING or not held_by(supplier_order, lease):
            return Result(PlacementOutcome.SKIPPED)
        fields = info_apply(supplier_order, info) if info is not None else ()
        supplier_order.lease_id, supplier_order.in_flight_until = None, None
        supplier_order.next_sync_at = timezone.now()  # the sync follows it (paid by hand, closed, …)
        supplier_order_move(
            supplier_order,
            SupplierOrderState.PAYMENT_FAILED,
            note=refusal.message,
            actor=actor,
            fields=(*fields, "lease_id", "in_flight_until", "next_sync_at", *failure_set(supplier_order, refusal)),
        )
        order_after_supplier_change(order_id=supplier_order.order_id, actor=actor)
    return Result(PlacementOutcome.PAYMENT_FAILED, f"{refusal.message} {refusal.fix}".strip(), [supplier_order_id])


# Reconcile ------------------------------------------------------------------------------------


def supplier_order_reconcile(*, supplier_order_id: int) -> Result:
    """Settle an in-flight supplier order whose lease has passed by asking the supplier.

    A create: found under its key (CJ, Temu) → recorded as the supplier says; not found →
    nothing was made, sent again under the same key; AliExpress (no lookup by key) → the same
    request again under the same key while it still answers repeats with the existing order
    (24 h less a margin), else support. A payment: the order is read; paid → recorded; unpaid →
    asked again (under a new lease); a status that does not say → looked at again later.
    """
    with supplier_order_locked(supplier_order_id) as supplier_order:
        now = timezone.now()
        if supplier_order.state not in IN_FLIGHT or supplier_order.in_flight_until is None:
            return Result(PlacementOutcome.SKIPPED)  # not in flight, or left for support
        if supplier_order.in_flight_until > now:
            return Result(PlacementOutcome.SKIPPED, _("A worker is still on it."))
        source = supplier_order.source_account
        if source is not None and source.status == SourceAccountStatus.RECONNECT:
            supplier_order.in_flight_until = now + timedelta(seconds=RECONNECT_WAIT)
            supplier_order.save(update_fields=("in_flight_until", "updated_at"))
            return Result(PlacementOutcome.UNKNOWN, _("Waiting for the supplier account to be reconnected."))
        if source is None or source.status != SourceAccountStatus.CONNECTED:  # replaced or disconnected
            return by_hand_record(
                supplier_order,
                _("Placed with a supplier account that is no longer connected: check it in that account's order list."),
            )
        if supplier_order.reconcile_attempts >= RECONCILE_LIMIT:
            return by_hand_record(supplier_order, _("The supplier has not given a clear answer after several tries."))
        paying = supplier_order.state == SupplierOrderState.PAYING
        repeats = REGISTRY[supplier_order.provider].repeat_answers_existing_for is not None
        if not paying and repeats and not _within_repeat_window(supplier_order, now):
            return by_hand_record(
                supplier_order,
                _("Whether the supplier made this order is not known, and it can no longer be asked safely."),
            )
        lease, lease_fields = lease_take(supplier_order, now)
        supplier_order.reconcile_attempts += 1
        supplier_order.save(update_fields=(*lease_fields, "reconcile_attempts", "updated_at"))
        # What was asked for, unless the order was canceled or archived since: then not paid.
        pay = supplier_order.pay_with_order and order_still_wanted(supplier_order.order)
        request = None if paying else place_request(supplier_order, pay=pay)
    provider = provider_for(supplier_order.source_account)  # type: ignore[arg-type]
    if paying:
        return _payment_reconcile(supplier_order, provider=provider, lease=lease)
    assert request is not None
    if REGISTRY[supplier_order.provider].repeat_answers_existing_for is not None:
        return create_call(supplier_order=supplier_order, request=request, lease=lease, actor=None)
    try:
        found = provider.find(supplier_order.idempotency_key)
    except MalformedPayload as error:
        return outcome_unknown(supplier_order_id, lease, str(error))
    except ProviderError as error:
        return outcome_unknown(supplier_order_id, lease, str(error), retry_after=error.retry_after)
    if found is None:  # nothing was made under the key: send it again, same key
        return create_call(supplier_order=supplier_order, request=request, lease=lease, actor=None)
    if not found.payment_known:
        return outcome_unknown(supplier_order_id, lease, _("The supplier's status does not say whether it is paid."))
    if not found.paid and request.pay:
        failure = Refusal(
            code="not_paid", message=_("The order was created, but not paid."), fix=_("Retry the payment.")
        )
        return placed_record(supplier_order_id, Placed(order=found, payment_failure=failure), actor=None)
    return placed_record(supplier_order_id, Placed(order=found), actor=None)


def _payment_reconcile(supplier_order: SupplierOrder, *, provider: object, lease: uuid.UUID) -> Result:
    try:
        info = provider.get(supplier_order.external_order_id)  # type: ignore[attr-defined]
    except MalformedPayload as error:
        return outcome_unknown(supplier_order.pk, lease, str(error))
    except ProviderError as error:
        return outcome_unknown(supplier_order.pk, lease, str(error), retry_after=error.retry_after)
    if not info.payment_known:
        return outcome_unknown(supplier_order.pk, lease, _("The supplier's status does not say whether it is paid."))
    if info.paid:
        return placed_record(supplier_order.pk, Placed(order=info), actor=None)
    with supplier_order_locked(supplier_order.pk) as held:  # a new lease for the payment call
        now = timezone.now()
        if held.state != SupplierOrderState.PAYING or not held_by(held, lease):
            return Result(PlacementOutcome.SKIPPED)
        if not order_still_wanted(held.order):  # canceled or archived since: not paid again
            refusal = Refusal(code="not_paid", message=_("Not paid: the order was canceled or archived meanwhile."))
            held.lease_id, held.in_flight_until, held.next_sync_at = None, None, now
            supplier_order_move(
                held,
                SupplierOrderState.PAYMENT_FAILED,
                note=refusal.message,
                fields=("lease_id", "in_flight_until", "next_sync_at", *failure_set(held, refusal)),
            )
            order_after_supplier_change(order_id=held.order_id)
            return Result(PlacementOutcome.PAYMENT_FAILED, refusal.message)
        lease, lease_fields = lease_take(held, now)
        held.save(update_fields=(*lease_fields, "updated_at"))
    return payment_call(supplier_order=held, lease=lease, actor=None)


def supplier_orders_to_reconcile(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """In-flight supplier orders whose lease has passed (a killed worker, a lost answer)."""
    now = now or timezone.now()
    return list(
        SupplierOrder.objects.filter(state__in=IN_FLIGHT, in_flight_until__lte=now)
        .order_by("in_flight_until")
        .values_list("pk", flat=True)[:limit]
    )


def supplier_orders_rearm(*, supplier_order_ids: list[int]) -> list[int]:
    """Support's "ask the supplier now": in-flight rows (those left for support included) are
    due for reconciliation again, with a fresh budget. The ids re-armed."""
    rearmed = []
    for supplier_order_id in supplier_order_ids:
        with supplier_order_locked(supplier_order_id) as supplier_order:
            now = timezone.now()
            if supplier_order.state not in IN_FLIGHT or lease_live(supplier_order, now):
                continue
            supplier_order.in_flight_until, supplier_order.reconcile_attempts = now, 0
            fields = failure_set(supplier_order, None) if supplier_order.failure_code == BY_HAND else ()
            supplier_order.save(update_fields=("in_flight_until", "reconcile_attempts", *fields, "updated_at"))
            rearmed.append(supplier_order_id)
    return rearmed


# Cancel and re-place --------------------------------------------------------------------------


def supplier_order_cancel(
    *,
    supplier_order_id: int,
    by: CanceledBy,
    reason: str = "",
    account: Account | None = None,
    actor: AbstractBaseUser | None = None,
) -> Result:
    """Cancel an unpaid supplier order at the supplier where its API allows it (under a lease on
    the row, so no payment starts meanwhile). Outcome SKIPPED and ``canceled`` when done; REFUSED
    (with the supplier's words) or SKIPPED (how to do it there) when not."""
    with supplier_order_locked(supplier_order_id, account=account) as supplier_order:
        now = timezone.now()
        if supplier_order.state == SupplierOrderState.DRAFT:
            _canceled(supplier_order, by=by, reason=reason, actor=actor, now=now)
            return Result(PlacementOutcome.SKIPPED, _("Canceled before it was sent."), canceled=True)
        if supplier_order.state not in PAYABLE_STATES or lease_live(supplier_order, now):
            return Result(PlacementOutcome.SKIPPED, _("Only an unpaid supplier order can be canceled."))
        lease, lease_fields = lease_take(supplier_order, now)
        supplier_order.save(update_fields=(*lease_fields, "updated_at"))
    provider = provider_for(supplier_order.source_account)  # type: ignore[arg-type]
    outcome: Result | None = None
    try:
        provider.cancel(supplier_order.external_order_id)
    except NotSupported:
        outcome = Result(
            PlacementOutcome.SKIPPED,
            _("%(supplier)s has no cancel call: cancel it in its order list (an unpaid order closes by itself).")
            % {"supplier": supplier_order.get_provider_display()},
        )
    except (SupplierRefused, MalformedPayload, ProviderError) as error:
        outcome = Result(PlacementOutcome.REFUSED, str(error)[:300])
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if not held_by(supplier_order, lease):
            return outcome or Result(PlacementOutcome.SKIPPED)
        if outcome is not None or supplier_order.state not in PAYABLE_STATES:
            supplier_order.lease_id, supplier_order.in_flight_until = None, None
            supplier_order.save(update_fields=("lease_id", "in_flight_until", "updated_at"))
            return outcome or Result(PlacementOutcome.SKIPPED)
        _canceled(supplier_order, by=by, reason=reason, actor=actor, now=timezone.now())
    return Result(PlacementOutcome.SKIPPED, _("Canceled at the supplier."), canceled=True)


def _canceled(
    supplier_order: SupplierOrder, *, by: CanceledBy, reason: str, actor: AbstractBaseUser | None, now: datetime
) -> None:
    supplier_order.cancel_reason, supplier_order.canceled_by, supplier_order.canceled_at = reason[:255], by, now
    supplier_order.lease_id, supplier_order.in_flight_until = None, None
    supplier_order_move(
        supplier_order,
        SupplierOrderState.CANCELED,
        note=reason,
        actor=actor,
        fields=("cancel_reason", "canceled_by", "canceled_at", "lease_id", "in_flight_until"),
    )
    order_after_supplier_change(order_id=supplier_order.order_id, actor=actor)


def order_replace(*, account: Account, order_id: int, actor: AbstractBaseUser | None = None) -> Result:
    """Back to New for a fresh placement: the supplier orders become history (``replaced``).

    Allowed from Payment Failed and Source Canceled. Each unpaid supplier order is first read at the
    supplier (paid there → recorded, and no re-place) and canceled there where its API allows; one
    the supplier refuses to cancel stops the re-place with the reason. A supplier without a cancel
    call (AliExpress): its unpaid order is left to close by itself, and the history says so.
    """
    order = Order.objects.get(account=account, pk=order_id)
    if order.archived or order.status not in (OrderStatus.PAYMENT, OrderStatus.CANCELED):
        return Result(
            PlacementOutcome.SKIPPED,
            _("Only orders whose payment failed or that the supplier canceled can be re-placed."),
        )
    current = list(SupplierOrder.objects.filter(CURRENT, order=order).select_related("source_account"))
    if any(
        so.state not in (*PAYABLE_STATES, SupplierOrderState.DRAFT)
        for so in current
        if so.state != SupplierOrderState.CANCELED
    ):
        return Result(
            PlacementOutcome.SKIPPED,
            _("A supplier order of this order is paid or in progress: it cannot be re-placed."),
        )
    notes: dict[int, str] = {}
    for supplier_order in current:
        if supplier_order.state not in PAYABLE_STATES:
            continue
        if supplier_order.source_account is None or not supplier_order.source_account.is_current:
            # Placed with an account since replaced: it cannot be asked; the history says so.
            notes[supplier_order.pk] = str(
                _("Placed with a previous supplier account: cancel it there if it is still open.")
            )
            continue
        try:
            info = provider_for(supplier_order.source_account).get(supplier_order.external_order_id)
        except (MalformedPayload, ProviderError) as error:
            return Result(
                PlacementOutcome.REFUSED,
                _("Could not check the order with the supplier: %(why)s. Try again.") % {"why": str(error)[:200]},
            )
        if info.paid or not info.payment_known:
            _paid_found(supplier_order.pk, info)
            return Result(PlacementOutcome.SKIPPED, _("The supplier says this order is paid: it is not re-placed."))
        if info.canceled:
            continue
        canceled = supplier_order_cancel(
            supplier_order_id=supplier_order.pk, by=CanceledBy.MERCHANT, reason=_("Re-placed"), actor=actor
        )
        if canceled.outcome == PlacementOutcome.REFUSED:
            return Result(
                PlacementOutcome.REFUSED,
                _("The supplier refused to cancel the old order: %(why)s") % {"why": canceled.message},
            )
        if not canceled.canceled:  # not canceled there (no cancel call): the merchant is told how
            notes[supplier_order.pk] = canceled.message
    for supplier_order in SupplierOrder.objects.filter(CURRENT | Q(state=SupplierOrderState.CANCELED), order=order):
        with supplier_order_locked(supplier_order.pk) as held:
            if held.state not in (*PAYABLE_STATES, SupplierOrderState.CANCELED, SupplierOrderState.DRAFT):
                return Result(
                    PlacementOutcome.SKIPPED, _("A supplier order of this order changed meanwhile: look again.")
                )
            if lease_live(held, timezone.now()):
                return Result(
                    PlacementOutcome.SKIPPED, _("A supplier order of this order is busy: try again in a minute.")
                )
            note = notes.get(held.pk, "") or str(_("Re-placed"))
            supplier_order_move(held, SupplierOrderState.REPLACED, note=note, actor=actor)
            order_after_supplier_change(order_id=held.order_id, actor=actor)
    order_issue_set(order.pk, "", "")
    return Result(PlacementOutcome.SKIPPED, _("Back in New: place it again."))


def _paid_found(supplier_order_id: int, info: SupplierOrderInfo) -> None:
    """A supplier order we had as unpaid is paid at the supplier: record it (not re-placed)."""
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state not in PAYABLE_STATES or not info.paid:
            return
        supplier_order.paid_at = timezone.now()
        supplier_order_move(
            supplier_order,
            SupplierOrderState.PAID,
            note=_("Paid at the supplier"),
            fields=(*info_apply(supplier_order, info), "paid_at", *failure_set(supplier_order, None)),
        )
        order_after_supplier_change(order_id=supplier_order.order_id)


# By hand --------------------------------------------------------------------------------------


def supplier_order_resolve_by_hand(
    *, supplier_order_id: int, external_order_id: str = "", paid: bool = False, note: str = ""
) -> Result:
    """Support looked in the supplier's order list for a supplier order in flight (left
    ``reconcile_by_hand`` or stuck): found under ``external_order_id`` (paid or not) → recorded as
    such; not there (``external_order_id`` empty) → back to draft with a new key."""
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state not in IN_FLIGHT:
            return Result(PlacementOutcome.SKIPPED, _("Only a supplier order whose call is in flight can be resolved."))
        if lease_live(supplier_order, timezone.now()) and supplier_order.failure_code != BY_HAND:
            return Result(PlacementOutcome.SKIPPED, _("A worker is still on it: wait until its time is up."))
        note = note or str(_("Resolved by support"))
        if not external_order_id:
            if supplier_order.state == SupplierOrderState.PAYING:
                return Result(
                    PlacementOutcome.SKIPPED, _("A payment in flight belongs to an order that exists: give its id.")
                )
            refusal = Refusal(
                code="resolved_not_made", message=_("The supplier has no such order (checked by support).")
            )
            supplier_order.lease_id, supplier_order.in_flight_until = None, None
            supplier_order.key_maybe_made = False  # support saw there is none: a new key next time
            supplier_order_move(
                supplier_order,
                SupplierOrderState.DRAFT,
                note=note,
                fields=("lease_id", "in_flight_until", "key_maybe_made", *failure_set(supplier_order, refusal)),
            )
            order_issue_set(supplier_order.order_id, "", "")
            order_after_supplier_change(order_id=supplier_order.order_id)
            return Result(PlacementOutcome.SKIPPED, refusal.message)
    info = SupplierOrderInfo(external_id=external_order_id[:64], status="", paid=paid)
    return placed_record(supplier_order_id, Placed(order=info), actor=None, note=note)
