"""make run's demo merchant (sandbox/demo.py): a customer refund from the channel on an order whose
supplier (CJ, over real HTTP to the sandbox) has a refund API becomes one supplier refund request
of those units, for what they cost, sent like the form's; asked once; AliExpress left to the
merchant; an account other than the demo's untouched."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from orders.enums import RefundReason, RefundSend, RefundState, RefundVia
from orders.models import Refund
from orders.services.customer_refunds import CustomerRefundData, RefundLineData, customer_refunds_upsert
from sandbox.demo import demo_refunds_ask
from suppliers.enums import SupplierProvider
from suppliers.services.refund_send import refund_send
from suppliers.services.refunds import refund_room
from suppliers.tests.refunding import Shipped, shipped_order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _send_by_hand(settings: Any) -> None:
    settings.REFUND_SEND_TASK = ""


def customer_refunded(shipped: Shipped, units: int = 1) -> None:
    """The channel refunded the customer ``units`` of the order's line."""
    order_line = shipped.order.lines.get()
    order_line.channel_line_id = "L-1"
    order_line.save(update_fields=["channel_line_id"])
    data = CustomerRefundData(
        channel_refund_id="CR-1",
        amount=Decimal("9.99"),
        currency="USD",
        refunded_at=datetime(2026, 12, 1, tzinfo=UTC),
        status="success",
        lines=(RefundLineData("L-1", units, Decimal("9.99")),),
    )
    assert customer_refunds_upsert(store=shipped.order.store, order=shipped.order, refunds=[data]) == 1


def test_a_customer_refund_on_a_cj_order_is_asked_of_cj_once(control: Any) -> None:
    shipped = shipped_order(control, SupplierProvider.CJ)
    customer_refunded(shipped)
    [line] = refund_room(supplier_order=shipped.supplier_order).lines

    assert demo_refunds_ask(account=shipped.account) == 1
    assert demo_refunds_ask(account=shipped.account) == 0  # asked once

    [refund] = Refund.objects.filter(order=shipped.order)
    assert (refund.via, refund.state, refund.reason) == (RefundVia.API, RefundState.IN_REVIEW, RefundReason.DAMAGED)
    assert "CR-1" in refund.note
    assert [(part.supplier_order_line_id, part.quantity) for part in refund.lines.all()] == [
        (line.supplier_order_line_id, 1)
    ]
    assert refund.amount == line.cap_for(1)
    assert refund_send(refund_id=refund.pk) == "sent"
    refund.refresh_from_db()
    assert refund.send_state == RefundSend.SENT


def test_aliexpress_orders_are_left_to_the_merchant(control: Any) -> None:
    shipped = shipped_order(control, SupplierProvider.ALIEXPRESS)
    customer_refunded(shipped)
    assert demo_refunds_ask(account=shipped.account) == 0
    assert not Refund.objects.filter(order=shipped.order).exists()


def test_only_the_demo_account_is_touched(control: Any) -> None:
    shipped = shipped_order(control, SupplierProvider.CJ)
    customer_refunded(shipped)
    assert demo_refunds_ask() == 0  # no demo account in this database
    assert not Refund.objects.filter(order=shipped.order).exists()
