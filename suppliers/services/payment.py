"""Pay, reconcile, cancel and re-place supplier orders (the protocol of ``placement``).

Payment is its own in-flight state (``PAYING``): the supplier is asked only under a lease, and a
payment whose outcome is unknown is settled by reading the order at the supplier (paid or not)
before it is asked to pay again. Nothing here pays an order the supplier says is paid.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from integrations.errors import MalformedPayload, NotSupported, OutcomeUnknown, ProviderError
from orders.enums import OrderStatus, SupplierOrderState
from orders.models import Order
from suppliers.enums import CanceledBy, PlacementOutcome, SourceAccountStatus
from suppliers.models import AutoOrderRule, SupplierOrder
from suppliers.providers.base import REGISTRY, PaymentFailed, Placed, Refusal, SupplierOrderInfo, SupplierRefused
from suppliers.services.connection import provider_for
from suppliers.services.placement import (
    Result,
    create_call,
    lease_length,
    outcome_unknown,
    place_request,
    placed_record,
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
# An in-flight supplier order reconciled this many times without a clear answer goes to support.
RECONCILE_LIMIT = 8
BY_HAND = "reconcile_by_hand"


def supplier_orders_of(*, account: Account) -> QuerySet[SupplierOrder]:
    return SupplierOrder.objects.filter(account=account)


def _can_repeat_create(supplier_order: SupplierOrder, now: datetime) -> bool:
    """AliExpress answers a repeat of the same key with the order it made, for a while only."""
    window = REGISTRY[supplier_order.provider].repeat_answers_existing_for
    return (
        window is not None and supplier_order.first_sent_at is not None and now - supplier_order.first_sent_at < window
    )


# Pay ------------------------------------------------------------------------------------------


def supplier_order_pay(
    *,
    supplier_order_id: int,
    actor: AbstractBaseUser | None = None,
    rule: AutoOrderRule | None = None,
    now: datetime | None = None,
) -> Result:
    """Pay a placed (or payment-failed) supplier order: lease, commit, call, record."""
    now = now or timezone.now()
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state not in PAYABLE_STATES:
            return Result(PlacementOutcome.SKIPPED, _("This supplier order is not waiting for payment."))
        source = supplier_order.source_account
        if source is None or source.status != SourceAccountStatus.CONNECTED:
            return Result(PlacementOutcome.BLOCKED, _("The supplier account is not connected."))
        supplier_order.in_flight_until = now + lease_length()
        supplier_order.attempts += 1
        supplier_order_move(
            supplier_order, SupplierOrderState.PAYING, actor=actor, rule=rule, fields=("in_flight_until", "attempts")
        )
    return payment_call(supplier_order=supplier_order, actor=actor, now=now)


def payment_call(*, supplier_order: SupplierOrder, actor: AbstractBaseUser | None, now: datetime) -> Result:
    """Ask the supplier to pay an order held in ``PAYING`` and record the outcome."""
    provider = provider_for(supplier_order.source_account)  # type: ignore[arg-type]
    try:
        try:
            info = provider.pay(supplier_order.external_order_id)
        except NotSupported:
            if not _can_repeat_create(supplier_order, now):
                raise
            # AliExpress pays through its create call: the same key again, with payment on.
            with supplier_order_locked(supplier_order.pk) as held:
                request = place_request(held, pay=True)
            return _payment_placed(supplier_order.pk, provider.place(request), actor=actor)
    except PaymentFailed as failed:
        return payment_failed_record(supplier_order.pk, failed.refusal, actor=actor)
    except SupplierRefused as refused:
        return payment_failed_record(supplier_order.pk, refused.refusal, actor=actor)
    except NotSupported:
        refusal = Refusal(
            code=BY_HAND,
            message=_("This supplier order can no longer be paid through the API."),
            fix=_("Pay it in the supplier's order list, then it updates here at the next sync."),
        )
        return payment_failed_record(supplier_order.pk, refusal, actor=actor)
    except (MalformedPayload, OutcomeUnknown, ProviderError) as error:
        return outcome_unknown(supplier_order.pk, str(error))
    if info.paid:
        return placed_record(supplier_order.pk, Placed(order=info), actor=actor)
    refusal = Refusal(code="not_paid", message=_("The supplier did not take the payment."), fix=_("Retry the payment."))
    return payment_failed_record(supplier_order.pk, refusal, actor=actor, info=info)


def _payment_placed(supplier_order_id: int, placed: Placed, *, actor: AbstractBaseUser | None) -> Result:
    if placed.payment_failure is not None:
        return payment_failed_record(supplier_order_id, placed.payment_failure, actor=actor, info=placed.order)
    return placed_record(supplier_order_id, placed, actor=actor)


def payment_failed_record(
    supplier_order_id: int, refusal: Refusal, *, actor: AbstractBaseUser | None, info: SupplierOrderInfo | None = None
) -> Result:
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state != SupplierOrderState.PAYING:
            return Result(PlacementOutcome.SKIPPED)
        fields = info_apply(supplier_order, info) if info is not None else ()
        supplier_order.in_flight_until = None
        supplier_order_move(
            supplier_order,
            SupplierOrderState.PAYMENT_FAILED,
            note=refusal.message,
            actor=actor,
            fields=(*fields, "in_flight_until", *failure_set(supplier_order, refusal)),
        )
        order_after_supplier_change(order_id=supplier_order.order_id, actor=actor)
    return Result(PlacementOutcome.PAYMENT_FAILED, f"{refusal.message} {refusal.fix}".strip(), [supplier_order_id])


# Reconcile ------------------------------------------------------------------------------------


def supplier_order_reconcile(*, supplier_order_id: int, now: datetime | None = None) -> Result:
    """Settle an in-flight supplier order whose lease has passed by asking the supplier.

    A create: found under its key (CJ, Temu) → recorded as the supplier says; not found →
    nothing was made, sent again under the same key; AliExpress (no lookup by key) → the same
    request again under the same key within the 24 h it answers repeats with the existing order.
    A payment: the order is read; paid → recorded; not paid → the payment is asked again.
    """
    now = now or timezone.now()
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state not in (SupplierOrderState.PLACING, SupplierOrderState.PAYING):
            return Result(PlacementOutcome.SKIPPED)
        if supplier_order.in_flight_until is None or supplier_order.in_flight_until > now:
            return Result(PlacementOutcome.SKIPPED, _("A worker is still on it."))
        if supplier_order.attempts >= RECONCILE_LIMIT:
            supplier_order.in_flight_until = None
            refusal = Refusal(
                code=BY_HAND,
                message=_("The supplier has not given a clear answer after several tries."),
                fix=_("Support checks the supplier's order list by hand (docs/suppliers.md)."),
            )
            supplier_order.save(update_fields=("in_flight_until", *failure_set(supplier_order, refusal), "updated_at"))
            return Result(PlacementOutcome.UNKNOWN, refusal.message)
        supplier_order.in_flight_until = now + lease_length()
        supplier_order.attempts += 1
        supplier_order.save(update_fields=("in_flight_until", "attempts", "updated_at"))
        paying = supplier_order.state == SupplierOrderState.PAYING
        request = None if paying else place_request(supplier_order, pay=supplier_order.pay_with_order)
    provider = provider_for(supplier_order.source_account)  # type: ignore[arg-type]
    if paying:
        try:
            info = provider.get(supplier_order.external_order_id)
        except (MalformedPayload, ProviderError) as error:
            return outcome_unknown(supplier_order_id, str(error))
        if info.paid:
            return placed_record(supplier_order_id, Placed(order=info), actor=None)
        return payment_call(supplier_order=supplier_order, actor=None, now=now)
    assert request is not None
    if REGISTRY[supplier_order.provider].repeat_answers_existing_for is not None:
        if not _can_repeat_create(supplier_order, now):
            return _by_hand(supplier_order_id)
        return create_call(supplier_order=supplier_order, request=request, actor=None)
    try:
        found = provider.find(supplier_order.idempotency_key)
    except (MalformedPayload, ProviderError) as error:
        return outcome_unknown(supplier_order_id, str(error))
    if found is None:  # nothing was made under the key: send it again, same key
        return create_call(supplier_order=supplier_order, request=request, actor=None)
    if not found.paid and supplier_order.pay_with_order:
        failure = Refusal(
            code="not_paid", message=_("The order was created, but not paid."), fix=_("Retry the payment.")
        )
        return placed_record(supplier_order_id, Placed(order=found, payment_failure=failure), actor=None)
    return placed_record(supplier_order_id, Placed(order=found), actor=None)


def _by_hand(supplier_order_id: int) -> Result:
    with supplier_order_locked(supplier_order_id) as supplier_order:
        supplier_order.in_flight_until = None
        refusal = Refusal(
            code=BY_HAND,
            message=_("Whether the supplier made this order is not known, and it can no longer be asked safely."),
            fix=_("Support checks the supplier's order list by hand (docs/suppliers.md)."),
        )
        supplier_order.save(update_fields=("in_flight_until", *failure_set(supplier_order, refusal), "updated_at"))
    return Result(PlacementOutcome.UNKNOWN, refusal.message)


def supplier_orders_to_reconcile(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """In-flight supplier orders whose lease has passed (a killed worker, a lost answer)."""
    now = now or timezone.now()
    return list(
        SupplierOrder.objects.filter(
            state__in=(SupplierOrderState.PLACING, SupplierOrderState.PAYING), in_flight_until__lte=now
        )
        .order_by("in_flight_until")
        .values_list("pk", flat=True)[:limit]
    )


# Cancel and re-place --------------------------------------------------------------------------


def supplier_order_cancel(
    *, supplier_order_id: int, by: CanceledBy, reason: str = "", actor: AbstractBaseUser | None = None
) -> Result:
    """Cancel an unpaid supplier order at the supplier where its API allows it.

    Paid, or in flight: refused (ask the supplier for a refund / wait). A supplier without a
    cancel call: nothing changes here, and the message says how to cancel it there.
    """
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state == SupplierOrderState.DRAFT:
            supplier_order.cancel_reason, supplier_order.canceled_by = reason[:255], by
            supplier_order.canceled_at = timezone.now()
            supplier_order_move(
                supplier_order,
                SupplierOrderState.CANCELED,
                note=reason,
                actor=actor,
                fields=("cancel_reason", "canceled_by", "canceled_at"),
            )
            order_after_supplier_change(order_id=supplier_order.order_id, actor=actor)
            return Result(PlacementOutcome.SKIPPED, _("Canceled before it was sent."))
        if supplier_order.state not in PAYABLE_STATES:
            return Result(PlacementOutcome.SKIPPED, _("Only an unpaid supplier order can be canceled."))
    provider = provider_for(supplier_order.source_account)  # type: ignore[arg-type]
    try:
        provider.cancel(supplier_order.external_order_id)
    except NotSupported:
        return Result(
            PlacementOutcome.SKIPPED,
            _("%(supplier)s has no cancel call: cancel it in its order list (unpaid orders close by themselves).")
            % {"supplier": supplier_order.get_provider_display()},
        )
    except (SupplierRefused, MalformedPayload, ProviderError) as error:
        return Result(PlacementOutcome.REFUSED, str(error)[:300])
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state not in PAYABLE_STATES:
            return Result(PlacementOutcome.SKIPPED)
        supplier_order.cancel_reason, supplier_order.canceled_by = reason[:255], by
        supplier_order.canceled_at = timezone.now()
        supplier_order_move(
            supplier_order,
            SupplierOrderState.CANCELED,
            note=reason,
            actor=actor,
            fields=("cancel_reason", "canceled_by", "canceled_at"),
        )
        order_after_supplier_change(order_id=supplier_order.order_id, actor=actor)
    return Result(PlacementOutcome.SKIPPED, _("Canceled at the supplier."))


def order_replace(*, account: Account, order_id: int, actor: AbstractBaseUser | None = None) -> Result:
    """Back to New with fresh drafts later: unpaid and canceled supplier orders become history.

    Allowed from Payment Failed and Source Canceled; an unpaid supplier order is canceled at the
    supplier first where it can be (else it closes there by itself, unpaid).
    """
    order = Order.objects.get(account=account, pk=order_id)
    if order.archived or order.status not in (OrderStatus.PAYMENT, OrderStatus.CANCELED):
        return Result(
            PlacementOutcome.SKIPPED,
            _("Only orders whose payment failed or that the supplier canceled can be re-placed."),
        )
    current = list(SupplierOrder.objects.filter(CURRENT, order=order))
    if any(so.state not in (*PAYABLE_STATES, SupplierOrderState.DRAFT, SupplierOrderState.CANCELED) for so in current):
        return Result(
            PlacementOutcome.SKIPPED,
            _("A supplier order of this order is paid or in progress: it cannot be re-placed."),
        )
    for supplier_order in current:
        if supplier_order.state in PAYABLE_STATES:
            supplier_order_cancel(
                supplier_order_id=supplier_order.pk, by=CanceledBy.MERCHANT, reason=_("Re-placed"), actor=actor
            )
    for supplier_order in SupplierOrder.objects.filter(order=order).exclude(state=SupplierOrderState.REPLACED):
        with supplier_order_locked(supplier_order.pk) as held:
            if held.state not in (*PAYABLE_STATES, SupplierOrderState.CANCELED, SupplierOrderState.DRAFT):
                continue
            held.in_flight_until = None
            supplier_order_move(
                held, SupplierOrderState.REPLACED, note=_("Re-placed"), actor=actor, fields=("in_flight_until",)
            )
            order_after_supplier_change(order_id=held.order_id, actor=actor)
    return Result(PlacementOutcome.SKIPPED, _("Back in New: place it again."))


# By hand ---------------------------------------------------------------------------------------


def supplier_order_resolve_by_hand(
    *, supplier_order_id: int, external_order_id: str = "", paid: bool = False, note: str = ""
) -> Result:
    """Support looked in the supplier's order list for a supplier order left ``reconcile_by_hand``
    (or stuck in flight): found under ``external_order_id`` (paid or not) → recorded as such;
    not there (``external_order_id`` empty) → back to draft, the merchant may place it again."""
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state not in (SupplierOrderState.PLACING, SupplierOrderState.PAYING):
            return Result(PlacementOutcome.SKIPPED, _("Only a supplier order whose call is in flight can be resolved."))
        if supplier_order.in_flight_until is not None and supplier_order.in_flight_until > timezone.now():
            return Result(PlacementOutcome.SKIPPED, _("A worker is still on it: wait until its time is up."))
        supplier_order.in_flight_until = None
        note = note or _("Resolved by support")
        if not external_order_id:
            if supplier_order.state == SupplierOrderState.PAYING:
                return Result(
                    PlacementOutcome.SKIPPED, _("A payment in flight belongs to an order that exists: give its id.")
                )
            refusal = Refusal(
                code="resolved_not_made", message=_("The supplier has no such order (checked by support).")
            )
            supplier_order_move(
                supplier_order,
                SupplierOrderState.DRAFT,
                note=note,
                fields=("in_flight_until", *failure_set(supplier_order, refusal)),
            )
            order_after_supplier_change(order_id=supplier_order.order_id)
            return Result(PlacementOutcome.SKIPPED, refusal.message)
        supplier_order.save(update_fields=("in_flight_until", "updated_at"))
    info = SupplierOrderInfo(external_id=external_order_id[:64], status="", paid=paid)
    return placed_record(supplier_order_id, Placed(order=info), actor=None, note=note)
