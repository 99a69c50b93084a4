"""A channel cancellation reaching the supplier orders (the customer canceled in the channel).

``orders`` enqueues ``suppliers.order_channel_canceled`` by name when an order's
``channel_canceled`` turns true (it imports no app of ours). For each current supplier order:
- a draft (nothing sent): canceled here;
- unpaid at the supplier (placed, payment failed): canceled at the supplier where its API allows
  (CJ ``deleteOrder``); AliExpress has no cancel call: the order's timeline says how, and the
  unpaid order closes there by itself when its payment deadline passes (the sync then records it);
- in flight (placing, paying): not known yet whether it was made or paid, so it is reconciled
  first (asked of the supplier) and the task runs again later;
- paid: nothing can be undone through the API; the timeline says "canceled by the customer after
  payment: ask the supplier for a refund".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.enums import OrderEventType, SupplierOrderState
from orders.models import Order, OrderEvent
from suppliers.enums import CanceledBy, PlacementOutcome
from suppliers.models import SupplierOrder
from suppliers.providers.base import REGISTRY, SupplierProvider
from suppliers.services.payment import supplier_order_cancel, supplier_order_reconcile
from suppliers.services.protocol import IN_FLIGHT, lease_live
from suppliers.services.records import CURRENT

UNPAID = (SupplierOrderState.DRAFT, SupplierOrderState.PLACED, SupplierOrderState.PAYMENT_FAILED)
REFUND_NOTE = "refund_after_channel_cancel"
TOLD_HOW = "cancel_told_how"
CANCEL_BY_HAND = "cancel_by_hand"
DEALT_WITH_NOTES = (REFUND_NOTE, TOLD_HOW, CANCEL_BY_HAND)


@dataclass
class ChannelCancelResult:
    canceled: list[int] = field(default_factory=list)  # supplier orders canceled (here or at the supplier)
    told_how: list[int] = field(default_factory=list)  # no cancel API: the merchant is told how
    refund_asked: list[int] = field(default_factory=list)  # paid: the note to ask for a refund
    failed: list[int] = field(default_factory=list)  # the supplier refused or did not answer: try again
    in_flight: list[int] = field(default_factory=list)  # reconciled first: the task runs again later

    @property
    def retry(self) -> bool:
        return bool(self.in_flight or self.failed)


def _note_once(order_id: int, supplier_order: SupplierOrder, code: str, text: str) -> bool:
    """A NOTE on the order's timeline, once per supplier order and kind (a repeated task adds none)."""
    with transaction.atomic():
        Order.objects.select_for_update(of=("self",)).filter(pk=order_id).first()
        exists = OrderEvent.objects.filter(
            order_id=order_id,
            type=OrderEventType.NOTE,
            parameters__code=code,
            parameters__supplier_order=supplier_order.pk,
        ).exists()
        if not exists:
            OrderEvent.objects.create(
                order_id=order_id,
                type=OrderEventType.NOTE,
                parameters={
                    "code": code,
                    "text": text,
                    "supplier_order": supplier_order.pk,
                    "provider": supplier_order.provider,
                },
            )
    return not exists


def order_channel_canceled(*, order_id: int) -> ChannelCancelResult:
    """Carry a channel cancellation to ``order_id``'s supplier orders (safe to run again)."""
    result = ChannelCancelResult()
    order = Order.objects.filter(pk=order_id).only("pk", "channel_canceled").first()
    if order is None or not order.channel_canceled:  # gone, or no longer canceled in the channel
        return result
    reason = _("Canceled by the customer in the sales channel.")
    for supplier_order in SupplierOrder.objects.filter(CURRENT, order_id=order_id).order_by("id"):
        if supplier_order.state in IN_FLIGHT:
            if supplier_order.in_flight_until is None:  # left for support: it cannot be asked
                _note_once(order_id, supplier_order, CANCEL_BY_HAND, _by_hand_text(supplier_order, ""))
                result.told_how.append(supplier_order.pk)
                continue
            if not lease_live(supplier_order, timezone.now()):  # its worker is gone: ask the supplier
                supplier_order_reconcile(supplier_order_id=supplier_order.pk)
            result.in_flight.append(supplier_order.pk)
        elif supplier_order.state in UNPAID:
            _unpaid_cancel(supplier_order, reason, result)
        elif supplier_order.state == SupplierOrderState.PAID:
            _note_once(
                order_id,
                supplier_order,
                REFUND_NOTE,
                _("Canceled by the customer after payment: ask the supplier for a refund."),
            )
            result.refund_asked.append(supplier_order.pk)
    return result


def _has_cancel_call(provider: str) -> bool:
    """The supplier's provider implements ``cancel`` (CJ); AliExpress has no cancel call."""
    cls = REGISTRY.get(provider)
    return cls is not None and cls.cancel is not SupplierProvider.cancel


def _by_hand_text(supplier_order: SupplierOrder, why: str) -> str:
    text = _(
        "Canceled by the customer, but %(supplier)s order %(id)s could not be canceled from here%(why)s: "
        "cancel it in the supplier's order list (an unpaid order closes there by itself)."
    ) % {
        "supplier": supplier_order.get_provider_display(),
        "id": supplier_order.external_order_id or supplier_order.idempotency_key,
        "why": f" ({why[:200]})" if why else "",
    }
    return str(text)


def _unpaid_cancel(supplier_order: SupplierOrder, reason: str, result: ChannelCancelResult) -> None:
    source = supplier_order.source_account
    if supplier_order.state != SupplierOrderState.DRAFT and (source is None or not source.is_current):
        # Placed with an account since replaced or disconnected: it cannot be asked from here.
        _note_once(supplier_order.order_id, supplier_order, CANCEL_BY_HAND, _by_hand_text(supplier_order, ""))
        result.told_how.append(supplier_order.pk)
        return
    outcome = supplier_order_cancel(supplier_order_id=supplier_order.pk, by=CanceledBy.CHANNEL, reason=reason)
    after = SupplierOrder.objects.only("state", "in_flight_until").get(pk=supplier_order.pk)
    if after.state == SupplierOrderState.CANCELED:
        result.canceled.append(supplier_order.pk)
    elif after.state in IN_FLIGHT or lease_live(after, timezone.now()):
        result.in_flight.append(supplier_order.pk)  # a payment or another cancel holds it: later
    elif after.state == SupplierOrderState.PAID:  # paid meanwhile
        _note_once(
            supplier_order.order_id,
            supplier_order,
            REFUND_NOTE,
            _("Canceled by the customer after payment: ask the supplier for a refund."),
        )
        result.refund_asked.append(supplier_order.pk)
    elif not _has_cancel_call(supplier_order.provider):  # AliExpress: say how, once
        _note_once(
            supplier_order.order_id,
            supplier_order,
            TOLD_HOW,
            _(
                "Canceled by the customer: %(supplier)s has no cancel call. Cancel order %(id)s in its "
                "order list, or leave it unpaid: it closes there by itself when its payment deadline passes."
            )
            % {"supplier": supplier_order.get_provider_display(), "id": supplier_order.external_order_id},
        )
        result.told_how.append(supplier_order.pk)
    elif outcome.outcome == PlacementOutcome.REFUSED:
        # The supplier refused (or could not be reached): said once, then left to the merchant;
        # the sync still follows the order (an unpaid one closes at the supplier by itself).
        _note_once(
            supplier_order.order_id, supplier_order, CANCEL_BY_HAND, _by_hand_text(supplier_order, outcome.message)
        )
        result.told_how.append(supplier_order.pk)
    else:
        result.failed.append(supplier_order.pk)


# The safety net ----------------------------------------------------------------------------------

# An order canceled in the channel is left to its announced task this long before the sweep
# looks (the task may be retrying an in-flight supplier order meanwhile: a second one is harmless).
SWEEP_AFTER = timedelta(minutes=10)


def channel_cancels_sweep(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Beat: orders canceled in the channel whose supplier orders were not dealt with (the
    announcement was lost with the broker, or a supplier order was placed as the cancellation
    arrived) get the task again. Dealt with: canceled, or noted (told how, refund to ask)."""
    from suppliers import tasks  # the task module imports the services

    now = now or timezone.now()
    noted = OrderEvent.objects.filter(
        order_id=OuterRef("order_id"), type=OrderEventType.NOTE, parameters__code__in=DEALT_WITH_NOTES
    )
    # Settled rows only: one in flight is reconciled by beat and is caught here once it settles.
    order_ids = list(
        SupplierOrder.objects.filter(
            CURRENT,
            order__channel_canceled=True,
            order__updated_at__lt=now - SWEEP_AFTER,
            state__in=(*UNPAID, SupplierOrderState.PAID),
        )
        .exclude(Exists(noted))
        .order_by("order_id")
        .values_list("order_id", flat=True)
        .distinct()[:limit]
    )
    for order_id in order_ids:
        tasks.order_channel_canceled.delay(order_id)
    return order_ids
