"""Derive an order's (status, sub-status) from facts. Pure: no database, no clock.

Precedence, first match wins:

1. **Refund.** Any refund asked of a supplier puts the order in Refund: an open money case
   is what the merchant must follow, even after a channel cancellation (the usual reason
   to ask for one). Several refunds: the least settled shows, In Review > Approved >
   Rejected > Refunded.
2. **Channel Canceled.** The customer or the channel canceled the order.
3. **Unpaid.** The channel has not said paid: in no tab yet.
4. **Source Canceled.** The order has supplier orders and the supplier canceled all of them.
   Supplier orders that were canceled while others go on are ignored (the drawer shows them).
5. **New.** No live supplier order yet (a draft, a refused draft, or one whose create call is
   still in flight). Replaced supplier orders (the merchant re-placed) are history: ignored.
6. Otherwise each live supplier order gets a stage, and the order shows the **lowest**
   stage of its parts in this ranking, so the part that needs the merchant first is what
   the order shows (one parcel delivered and one stuck is not "Delivered"):

   New (placing) < Payment Failed (placed / paying / payment failed)
   < Paid – Awaiting Fulfillment (paid, no parcel) < Failed < Expired
   < Awaiting Shipment < In Transit < Pickup < Delivered

   A paid supplier order with parcels takes the lowest stage of its parcels. Parcels that
   belong to no supplier order (added by hand) count as parts of their own.

A parcel's stage comes from its tracking status (``unknown``, a provider status we do not know,
counts as In Transit); a parcel that is not final (awaiting,
in transit, pickup) and has had no event for ``expire_after`` is Expired.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from orders.enums import OrderStatus, RefundState, SubStatus, SupplierOrderState, TrackingStatus


@dataclass(frozen=True)
class SupplierOrderFact:
    id: int
    state: SupplierOrderState


@dataclass(frozen=True)
class ShipmentFact:
    tracking_status: TrackingStatus
    created_at: datetime
    last_event_at: datetime | None = None
    supplier_order_id: int | None = None


@dataclass(frozen=True)
class OrderFacts:
    channel_paid: bool
    channel_canceled: bool = False
    supplier_orders: tuple[SupplierOrderFact, ...] = field(default_factory=tuple)
    shipments: tuple[ShipmentFact, ...] = field(default_factory=tuple)
    refunds: tuple[RefundState, ...] = field(default_factory=tuple)


DerivedStatus = tuple[OrderStatus, SubStatus]

NEW: DerivedStatus = (OrderStatus.NEW, SubStatus.NONE)

# Lowest first: the order shows the lowest stage among its parts.
STAGE_RANK: tuple[DerivedStatus, ...] = (
    NEW,
    (OrderStatus.PAYMENT, SubStatus.PAYMENT_FAILED),
    (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT),
    (OrderStatus.SHIPMENT, SubStatus.FAILED),
    (OrderStatus.SHIPMENT, SubStatus.EXPIRED),
    (OrderStatus.SHIPMENT, SubStatus.AWAITING_SHIPMENT),
    (OrderStatus.SHIPMENT, SubStatus.IN_TRANSIT),
    (OrderStatus.SHIPMENT, SubStatus.PICKUP),
    (OrderStatus.SHIPMENT, SubStatus.DELIVERED),
)
_RANK = {stage: index for index, stage in enumerate(STAGE_RANK)}

REFUND_PRECEDENCE: tuple[RefundState, ...] = (
    RefundState.IN_REVIEW,
    RefundState.APPROVED,
    RefundState.REJECTED,
    RefundState.REFUNDED,
)
_REFUND_SUB_STATUS = {
    RefundState.IN_REVIEW: SubStatus.REFUND_IN_REVIEW,
    RefundState.APPROVED: SubStatus.REFUND_APPROVED,
    RefundState.REJECTED: SubStatus.REFUND_REJECTED,
    RefundState.REFUNDED: SubStatus.REFUNDED,
}

_SUPPLIER_STAGE = {
    SupplierOrderState.DRAFT: NEW,
    SupplierOrderState.PLACING: NEW,
    SupplierOrderState.PLACED: (OrderStatus.PAYMENT, SubStatus.PAYMENT_FAILED),
    SupplierOrderState.PAYING: (OrderStatus.PAYMENT, SubStatus.PAYMENT_FAILED),
    SupplierOrderState.PAYMENT_FAILED: (OrderStatus.PAYMENT, SubStatus.PAYMENT_FAILED),
    SupplierOrderState.PAID: (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT),
}

_TRACKING_SUB_STATUS = {
    TrackingStatus.NOT_FOUND: SubStatus.AWAITING_SHIPMENT,
    TrackingStatus.INFO_RECEIVED: SubStatus.AWAITING_SHIPMENT,
    TrackingStatus.IN_TRANSIT: SubStatus.IN_TRANSIT,
    TrackingStatus.OUT_FOR_DELIVERY: SubStatus.IN_TRANSIT,
    TrackingStatus.AVAILABLE_FOR_PICKUP: SubStatus.PICKUP,
    TrackingStatus.DELIVERED: SubStatus.DELIVERED,
    TrackingStatus.DELIVERY_FAILURE: SubStatus.FAILED,
    TrackingStatus.EXCEPTION: SubStatus.FAILED,
    TrackingStatus.EXPIRED: SubStatus.EXPIRED,
    TrackingStatus.UNKNOWN: SubStatus.IN_TRANSIT,  # a provider status we do not know: still on its way
}
# Sub-statuses that turn Expired with time alone (the beat job looks for them).
EXPIRABLE_SUB_STATUSES = (SubStatus.AWAITING_SHIPMENT, SubStatus.IN_TRANSIT, SubStatus.PICKUP)


def shipment_stage(shipment: ShipmentFact, *, now: datetime, expire_after: timedelta) -> DerivedStatus:
    sub_status = _TRACKING_SUB_STATUS[shipment.tracking_status]
    last_update = shipment.last_event_at or shipment.created_at
    if sub_status in EXPIRABLE_SUB_STATUSES and now - last_update > expire_after:
        sub_status = SubStatus.EXPIRED
    return (OrderStatus.SHIPMENT, sub_status)


def _lowest(stages: Iterable[DerivedStatus]) -> DerivedStatus:
    return min(stages, key=_RANK.__getitem__)


def derive_status(facts: OrderFacts, *, now: datetime, expire_after: timedelta) -> DerivedStatus:
    """The one place an order's (status, sub-status) is decided. See the module docstring."""
    if facts.refunds:
        state = min(facts.refunds, key=REFUND_PRECEDENCE.index)
        return (OrderStatus.REFUND, _REFUND_SUB_STATUS[state])
    if facts.channel_canceled:
        return (OrderStatus.CANCELED, SubStatus.CHANNEL_CANCELED)
    if not facts.channel_paid:
        return (OrderStatus.UNPAID, SubStatus.NONE)

    # Replaced supplier orders (the merchant re-placed the order) are history only: neither live
    # nor a supplier's cancellation.
    current = [so for so in facts.supplier_orders if so.state != SupplierOrderState.REPLACED]
    live = [so for so in current if so.state != SupplierOrderState.CANCELED]
    live_ids = {so.id for so in live}
    parcels_by_supplier_order: dict[int, list[DerivedStatus]] = {}
    stages: list[DerivedStatus] = []
    for shipment in facts.shipments:
        stage = shipment_stage(shipment, now=now, expire_after=expire_after)
        if shipment.supplier_order_id is None:
            stages.append(stage)
        elif shipment.supplier_order_id in live_ids:
            parcels_by_supplier_order.setdefault(shipment.supplier_order_id, []).append(stage)
    for supplier_order in live:
        parcels = parcels_by_supplier_order.get(supplier_order.id)
        if supplier_order.state == SupplierOrderState.PAID and parcels:
            stages.append(_lowest(parcels))
        else:
            stages.append(_SUPPLIER_STAGE[supplier_order.state])

    if not stages:
        if current:  # every supplier order was canceled at the supplier
            return (OrderStatus.CANCELED, SubStatus.SOURCE_CANCELED)
        return NEW
    return _lowest(stages)
