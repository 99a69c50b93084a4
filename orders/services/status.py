"""Recompute and store an order's derived status, with its event and counters."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account
from orders import events
from orders.enums import OrderStatus, RefundState, SubStatus, SupplierOrderState, TrackingStatus
from orders.models import Order
from orders.services.counts import count_key, counts_move
from orders.status import DerivedStatus, OrderFacts, ShipmentFact, SupplierOrderFact, derive_status


def order_facts(*, order: Order) -> OrderFacts:
    """Read the facts of one order from its channel fields, supplier orders, parcels, refunds."""
    return OrderFacts(
        channel_paid=order.channel_paid,
        channel_canceled=order.channel_canceled,
        supplier_orders=tuple(
            SupplierOrderFact(id=so_id, state=SupplierOrderState(state))
            for so_id, state in order.supplier_orders.values_list("id", "state")
        ),
        shipments=tuple(
            ShipmentFact(
                tracking_status=TrackingStatus(status),
                created_at=created_at,
                last_event_at=last_event_at,
                supplier_order_id=supplier_order_id,
            )
            for status, created_at, last_event_at, supplier_order_id in order.shipments.values_list(
                "tracking_status", "created_at", "last_event_at", "supplier_order_id"
            )
        ),
        refunds=tuple(RefundState(state) for state in order.refunds.values_list("state", flat=True)),
    )


def order_derived_status(*, order: Order, now: datetime | None = None) -> DerivedStatus:
    return derive_status(
        order_facts(order=order),
        now=now or timezone.now(),
        expire_after=timedelta(days=order.account.expire_after_days),
    )


@transaction.atomic
def order_recompute_status(
    *, order_id: int, actor: AbstractBaseUser | None = None, now: datetime | None = None
) -> Order:
    """Re-read the order under a row lock, derive its status and store it if it moved.

    Every service that changes a fact (supplier order, parcel, refund, channel state) calls
    this in its own transaction, so the stored status is never stale after a commit.
    """
    order = Order.objects.select_for_update(of=("self",)).select_related("account").get(pk=order_id)
    status, sub_status = order_derived_status(order=order, now=now)
    old = (order.status, order.sub_status)
    if old == (status, sub_status):
        return order
    old_key = count_key(order)
    order.status, order.sub_status = status, sub_status
    order.save(update_fields=["status", "sub_status", "updated_at"])
    counts_move([(old_key, count_key(order))])
    events.event_status_changed(order=order, old=old, new=(status, sub_status), actor=actor)
    return order


# Sub-statuses that turn Expired with time alone (see orders.status).
TIME_SENSITIVE_SUB_STATUSES = (SubStatus.AWAITING_SHIPMENT, SubStatus.IN_TRANSIT, SubStatus.PICKUP)


def orders_due_for_expiry(*, now: datetime | None = None) -> list[int]:
    """Ids of orders with a parcel silent for longer than their account allows."""
    now = now or timezone.now()
    due: list[int] = []
    for account_id, days in Account.objects.values_list("id", "expire_after_days"):
        due.extend(
            Order.objects.filter(
                account_id=account_id, status=OrderStatus.SHIPMENT, sub_status__in=TIME_SENSITIVE_SUB_STATUSES
            )
            .alias(parcel_last_update=Coalesce("shipments__last_event_at", "shipments__created_at"))
            .filter(parcel_last_update__lt=now - timedelta(days=days))
            .values_list("id", flat=True)
            .distinct()
        )
    return due
