"""Orders with a paid supplier order and its lines, for the refund tests (views, drawer, browser)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from orders.enums import SubStatus
from orders.models import Order
from suppliers.models import SupplierOrder, SupplierOrderLine
from tests.factories import line, order_in_state


def shipped_with_paid_supplier_order(
    store: Any, *, number: str = "#5001", provider: str = "aliexpress", cost: str = "30.00", fx_rate: str = "1"
) -> tuple[Order, SupplierOrder]:
    """An order in transit with two lines (2 earbuds, 1 case) placed and paid with one supplier
    order of ``cost`` (split by the lines' unit costs: 10 × 2 and 10 × 1)."""
    order = order_in_state(
        SubStatus.IN_TRANSIT,
        store=store,
        number=number,
        lines=(line("Wireless Earbuds", sku="EB-1", price="25.00", quantity=2), line("Case", sku="CS-1", price="9.00")),
    )
    supplier_order = order.supplier_orders.get()
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(
        provider=provider, cost=Decimal(cost), paid_at=timezone.now(), fx_rate=Decimal(fx_rate), fx_source="test"
    )
    for order_line in order.lines.order_by("id"):
        SupplierOrderLine.objects.create(
            supplier_order=supplier_order,
            order_line=order_line,
            supplier_product_id=f"P-{order_line.pk}",
            quantity=order_line.quantity,
            unit_cost=Decimal("10.00"),
        )
    supplier_order.refresh_from_db()
    order.refresh_from_db()
    return order, supplier_order
