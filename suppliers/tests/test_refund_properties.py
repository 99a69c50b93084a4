"""Properties of refunds over several lines and supplier orders, against real PostgreSQL: whatever the
merchant asks and the suppliers decide, in any order, no line is asked for twice at once, no unit
or cent beyond what was paid is ever asked, and the order shows the least settled refund."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orders.derivation import REFUND_PRECEDENCE
from orders.enums import OrderStatus, RefundReason, RefundState, SupplierOrderState, TrackingStatus
from orders.models import Order, Refund
from orders.services import order_recompute_status
from suppliers.models import SupplierOrder, SupplierOrderLine
from suppliers.services.refunds import (
    COUNTED,
    RefundAskLine,
    RefundRefused,
    refund_decision_record,
    refund_request,
    refund_room,
)
from tests.factories import AccountFactory, OrderFactory, ShipmentFactory, StoreFactory, SupplierOrderFactory, line

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# Three order lines (units, unit cost): the first two with one supplier, the third with another.
LINES = ((3, "4.00"), (1, "2.50"), (2, "7.00"))
SPLIT = ((0, 1), (2,))
SHIPPING = ("1.20", "0.80")
PROVIDERS = ("aliexpress", "cj")  # one current supplier order per supplier and order


def two_supplier_orders(store: Any) -> tuple[Order, list[SupplierOrder]]:
    order = OrderFactory(
        store=store,
        lines=tuple(line(f"Item {i}", sku=f"SKU-{i}", quantity=units) for i, (units, _) in enumerate(LINES)),
    )
    order_lines = list(order.lines.order_by("id"))
    supplier_orders = []
    for lines, shipping, provider in zip(SPLIT, SHIPPING, PROVIDERS, strict=True):
        items = sum((Decimal(LINES[i][1]) * LINES[i][0] for i in lines), Decimal(0))
        made = SupplierOrderFactory(
            order=order,
            provider=provider,
            state=SupplierOrderState.PAID,
            paid_at=timezone.now(),
            cost=items + Decimal(shipping),
        )
        for i in lines:
            SupplierOrderLine.objects.create(
                supplier_order=made,
                order_line=order_lines[i],
                supplier_product_id=f"P{i}",
                quantity=LINES[i][0],
                unit_cost=Decimal(LINES[i][1]),
            )
        ShipmentFactory(order=order, supplier_order=made, tracking_status=TrackingStatus.IN_TRANSIT)
        supplier_orders.append(made)
    return order_recompute_status(order_id=order.pk), supplier_orders


asks = st.tuples(
    st.just("ask"),
    st.integers(min_value=0, max_value=1),  # which supplier order
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=1), st.sampled_from(("one", "one", "all", "all", "zero", "more"))),
        min_size=1,
        max_size=2,
    ),
    # the amount as a share of the room the merchant sees: above 1 asks for too much
    st.decimals(min_value=Decimal("-0.1"), max_value=Decimal("1.2"), places=2),
)
decisions = st.tuples(
    st.just("decide"),
    st.integers(min_value=0, max_value=5),  # which refund (of those made so far)
    st.sampled_from(RefundState),
    st.decimals(min_value=Decimal("0"), max_value=Decimal("40"), places=2),
)


def check_invariants(order: Order, supplier_orders: list[SupplierOrder]) -> None:
    for supplier_order in supplier_orders:
        counted = list(
            Refund.objects.filter(supplier_order=supplier_order, state__in=COUNTED).prefetch_related("lines")
        )
        money = sum((r.refunded_amount if r.state == RefundState.REFUNDED else r.amount for r in counted), Decimal(0))
        assert money <= supplier_order.cost  # never more than was paid
        for supplier_line in supplier_order.lines.all():
            parts = [p for r in counted for p in r.lines.all() if p.supplier_order_line_id == supplier_line.pk]
            assert sum(p.quantity for p in parts) <= supplier_line.quantity  # never more units
            open_ones = [
                p for r in counted if r.is_open for p in r.lines.all() if p.supplier_order_line_id == supplier_line.pk
            ]
            assert len(open_ones) <= 1  # never two open requests on one line
    states = list(Refund.objects.filter(order=order).values_list("state", flat=True))
    order.refresh_from_db()
    if states:
        assert order.status == OrderStatus.REFUND
        assert order.sub_status == min(states, key=lambda s: REFUND_PRECEDENCE.index(RefundState(s)))
    else:
        assert order.status == OrderStatus.SHIPMENT


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.one_of(asks, decisions), min_size=1, max_size=8))
def test_any_sequence_of_requests_and_decisions_keeps_the_books_right(steps: list[tuple[Any, ...]]) -> None:
    store = StoreFactory(account=AccountFactory())
    order, supplier_orders = two_supplier_orders(store)
    made: list[int] = []
    for step in steps:
        if step[0] == "ask":
            _, which, parts, share = step
            supplier_order = supplier_orders[which]
            lines = list(supplier_order.lines.order_by("id"))
            units = {"zero": lambda _: 0, "one": lambda _: 1, "all": lambda q: q, "more": lambda q: q + 1}
            wanted = [
                RefundAskLine(lines[i % len(lines)].pk, units[how](lines[i % len(lines)].quantity)) for i, how in parts
            ]
            room = refund_room(supplier_order=supplier_order)
            seen = [room.line(w.supplier_order_line_id) for w in wanted]
            cap = sum((c.cap_for(w.quantity) for c, w in zip(seen, wanted, strict=True) if c), Decimal(0))
            amount = (cap * share).quantize(Decimal("0.01"))
            try:
                refund = refund_request(
                    account=store.account,
                    order_id=order.pk,
                    supplier_order_id=supplier_order.pk,
                    lines=wanted,
                    amount=amount,
                    reason=RefundReason.NOT_RECEIVED,
                )
            except RefundRefused as refusal:
                event(f"refused: {refusal.field}")
                continue
            # what was accepted fitted the room the merchant saw
            caps = [room.line(w.supplier_order_line_id) for w in wanted]
            assert all(cap is not None and not cap.under_open_request for cap in caps)
            assert amount <= sum(
                (cap.cap_for(w.quantity) for cap, w in zip(caps, wanted, strict=True) if cap), Decimal(0)
            )
            made.append(refund.pk)
            event("a request was accepted")
        elif made:
            _, index, state, refunded = step
            refund_decision_record(refund_id=made[index % len(made)], state=state, refunded_amount=None)
        check_invariants(order, supplier_orders)
