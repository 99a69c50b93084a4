"""Orders with a paid supplier order and its lines, the way placement leaves them, for the refund tests."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils import timezone

from orders.enums import SupplierOrderState, TrackingStatus
from orders.models import Order
from orders.services import order_recompute_status
from suppliers.models import SupplierOrder, SupplierOrderLine
from tests.factories import OrderFactory, ShipmentFactory, SupplierOrderFactory, line


def shipped_order(
    store: Any,
    *,
    lines: Sequence[tuple[int, str]] = ((2, "4.00"), (1, "2.00")),
    shipping: str = "1.00",
    provider: str = "aliexpress",
    shipped: bool = True,
) -> tuple[Order, SupplierOrder, list[SupplierOrderLine]]:
    """An order whose lines (units, unit cost) were placed and paid with one supplier order
    (items + ``shipping``), and, when ``shipped``, a parcel on its way (the order is in Shipment)."""
    order = OrderFactory(
        store=store,
        lines=tuple(line(f"Item {i}", sku=f"SKU-{i}", quantity=units) for i, (units, _) in enumerate(lines)),
    )
    items = sum((Decimal(cost) * units for units, cost in lines), Decimal(0))
    supplier_order = SupplierOrderFactory(
        order=order,
        provider=provider,
        state=SupplierOrderState.PAID,
        paid_at=timezone.now(),
        items_total=items,
        shipping_total=Decimal(shipping),
        cost=items + Decimal(shipping),
    )
    made = [
        SupplierOrderLine.objects.create(
            supplier_order=supplier_order,
            order_line=order_line,
            supplier_product_id=f"P{order_line.pk}",
            supplier_sku=order_line.sku,
            quantity=units,
            unit_cost=Decimal(cost),
        )
        for order_line, (units, cost) in zip(order.lines.order_by("id"), lines, strict=True)
    ]
    if shipped:
        ShipmentFactory(order=order, supplier_order=supplier_order, tracking_status=TrackingStatus.IN_TRANSIT)
    return order_recompute_status(order_id=order.pk), supplier_order, made
