"""Re-derive orders' status from their facts after a fact changed, and store it if it moved.

The facts are read here (channel fields, supplier orders, parcels, refunds), the decision is
``orders.derivation.derive_status`` and the write is ``orders.services.status_write``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account
from orders.derivation import (
    EXPIRABLE_SUB_STATUSES,
    DerivedStatus,
    OrderFacts,
    ShipmentFact,
    SupplierOrderFact,
    derive_status,
)
from orders.enums import OrderStatus, RefundState, SupplierOrderState, TrackingStatus
from orders.models import Order
from orders.services.status_write import status_writes


def orders_facts(*, orders: Sequence[Order]) -> dict[int, OrderFacts]:
    """The facts of each order by id, in three queries however many orders there are.

    Read through the order's reverse relations (``orders`` imports no supplier or tracking
    module) as plain values: nothing is cached on the orders passed in.
    """
    ids = [order.pk for order in orders]
    supplier_orders: dict[int, list[SupplierOrderFact]] = {order_id: [] for order_id in ids}
    shipments: dict[int, list[ShipmentFact]] = {order_id: [] for order_id in ids}
    refunds: dict[int, list[RefundState]] = {order_id: [] for order_id in ids}
    of_orders = Order.objects.filter(pk__in=ids)
    for order_id, so_id, state in of_orders.filter(supplier_orders__isnull=False).values_list(
        "pk", "supplier_orders__id", "supplier_orders__state"
    ):
        supplier_orders[order_id].append(SupplierOrderFact(id=so_id, state=SupplierOrderState(state)))
    # Its own parcels and the parcels whose number the supplier also gave for it (a shared
    # number, ``tracking.ShipmentOrder``): one statement.
    own = of_orders.filter(shipments__isnull=False).values_list(
        "pk",
        "shipments__tracking_status",
        "shipments__created_at",
        "shipments__last_event_at",
        "shipments__supplier_order_id",
    )
    shared = of_orders.filter(shared_shipments__isnull=False).values_list(
        "pk",
        "shared_shipments__shipment__tracking_status",
        "shared_shipments__shipment__created_at",
        "shared_shipments__shipment__last_event_at",
        "shared_shipments__supplier_order_id",
    )
    for order_id, status, created_at, last_event_at, supplier_order_id in own.union(shared, all=True):
        shipments[order_id].append(
            ShipmentFact(
                tracking_status=TrackingStatus(status),
                created_at=created_at,
                last_event_at=last_event_at,
                supplier_order_id=supplier_order_id,
            )
        )
    for order_id, state in of_orders.filter(refunds__isnull=False).values_list("pk", "refunds__state"):
        refunds[order_id].append(RefundState(state))
    return {
        order.pk: OrderFacts(
            channel_paid=order.channel_paid,
            channel_canceled=order.channel_canceled,
            supplier_orders=tuple(supplier_orders[order.pk]),
            shipments=tuple(shipments[order.pk]),
            refunds=tuple(refunds[order.pk]),
        )
        for order in orders
    }


def orders_derived_status(*, orders: Sequence[Order], now: datetime | None = None) -> dict[int, DerivedStatus]:
    """What ``derive_status`` says of each order now, by id (orders with their ``account`` loaded)."""
    now = now or timezone.now()
    facts = orders_facts(orders=orders)
    return {
        order.pk: derive_status(facts[order.pk], now=now, expire_after=timedelta(days=order.account.expire_after_days))
        for order in orders
    }


def order_facts(*, order: Order) -> OrderFacts:
    """The facts of one order (see ``orders_facts``)."""
    return orders_facts(orders=[order])[order.pk]


@transaction.atomic
def order_recompute_status(
    *, order_id: int, actor: AbstractBaseUser | None = None, now: datetime | None = None
) -> Order:
    """Re-read the order under a row lock, derive its status and store it if it moved.

    Every service that changes a fact (supplier order, parcel, refund, channel state) calls
    this in its own transaction, so the stored status is never stale after a commit.
    """
    order = Order.objects.select_for_update(of=("self",)).select_related("account").get(pk=order_id)
    with status_writes(actor=actor) as writes:
        writes.store(order, orders_derived_status(orders=[order], now=now)[order.pk])
    return order


def orders_due_for_expiry(*, now: datetime | None = None) -> list[int]:
    """Ids of orders with a parcel silent for longer than their account allows."""
    now = now or timezone.now()
    due: list[int] = []
    for account_id, days in Account.objects.values_list("id", "expire_after_days"):
        due.extend(
            Order.objects.filter(
                account_id=account_id, status=OrderStatus.SHIPMENT, sub_status__in=EXPIRABLE_SUB_STATUSES
            )
            .alias(parcel_last_update=Coalesce("shipments__last_event_at", "shipments__created_at"))
            .filter(parcel_last_update__lt=now - timedelta(days=days))
            .values_list("id", flat=True)
            .distinct()
        )
    return due
