"""Refund requests sent to the suppliers' APIs and followed to the end, against the sandbox over
real HTTP and real PostgreSQL: CJ's dispute API and Temu (simulated); AliExpress recorded for
the merchant. The order's tab follows (In Review → Approved → Refunded); the sandbox's ledger
shows one credit per refunded request."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from orders.enums import OrderStatus, RefundOverdue, RefundSend, RefundState, RefundVia, SubStatus
from orders.models import Order, Refund
from suppliers.enums import SupplierProvider
from suppliers.providers.base import RefundInfo
from suppliers.services.refund_send import refund_info_apply, refund_send
from suppliers.services.refunds import orders_flag_refund_overdue
from suppliers.tests.refunding import ask, shipped_order, sim_refunds, sync_later, tab, world_forward

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _send_by_hand(settings: Any) -> None:
    """Sends are run by the test itself (a worker sends them in production)."""
    settings.REFUND_SEND_TASK = ""


API_SUPPLIERS = [SupplierProvider.CJ, SupplierProvider.TEMU]


def credits_for(control: Any, refund: Refund) -> list[dict[str, Any]]:
    return [credit for credit in control.credits() if credit["refund_key"] == refund.idempotency_key]


@pytest.mark.parametrize("provider", API_SUPPLIERS)
def test_a_request_is_sent_approved_and_refunded_once(control: Any, provider: str) -> None:
    # given a shipped order whose supplier approves refunds
    shipped = shipped_order(control, provider, refund_decision="approve")
    assert tab(shipped.order) == (OrderStatus.SHIPMENT, SubStatus.IN_TRANSIT)
    refund = ask(shipped)
    assert (refund.via, refund.send_state) == (RefundVia.API, RefundSend.PENDING)
    assert tab(shipped.order) == (OrderStatus.REFUND, SubStatus.REFUND_IN_REVIEW)

    # when it is sent: one request at the supplier, under our key, on the line asked for
    sent = refund_send(refund_id=refund.pk)
    refund.refresh_from_db()
    assert sent == "sent", (refund.rejection_reason, refund.send_error)
    [at_supplier] = sim_refunds(refund)
    assert (refund.send_state, refund.send_attempts, refund.external_id != "") == (RefundSend.SENT, 1, True)
    assert (at_supplier.status, at_supplier.amount, len(at_supplier.lines)) == ("in_review", refund.amount, 1)

    # then the supplier approves within the day, and our sweep sees it
    world_forward(control, hours=21)
    assert sync_later(hours=2) >= 1
    refund.refresh_from_db()
    assert refund.state == RefundState.APPROVED
    assert refund.refund_due_at is not None
    assert tab(shipped.order) == (OrderStatus.REFUND, SubStatus.REFUND_APPROVED)
    assert credits_for(control, refund) == []

    # and pays the day after: Refunded, the money credited once
    world_forward(control, hours=25)
    sync_later(hours=4)
    refund.refresh_from_db()
    assert (refund.state, refund.refunded_amount, refund.next_sync_at) == (RefundState.REFUNDED, refund.amount, None)
    assert tab(shipped.order) == (OrderStatus.REFUND, SubStatus.REFUNDED)
    # and running everything again changes nothing: still one credit, one request
    world_forward(control, hours=30)
    assert sync_later(hours=8) == 0
    assert refund_send(refund_id=refund.pk) == "skipped"
    [credit] = credits_for(control, refund)
    assert Decimal(credit["amount"]) == refund.amount
    assert len(sim_refunds(refund)) == 1


@pytest.mark.parametrize("provider", API_SUPPLIERS)
def test_a_rejection_shows_the_suppliers_reason(control: Any, provider: str) -> None:
    shipped = shipped_order(control, provider, refund_decision="reject", refund_reject_reason="Photos show no damage")
    refund = ask(shipped)
    assert refund_send(refund_id=refund.pk) == "sent"

    world_forward(control, hours=21)
    sync_later(hours=2)

    refund.refresh_from_db()
    assert refund.state == RefundState.REJECTED
    assert "Photos show no damage" in refund.rejection_reason
    assert tab(shipped.order) == (OrderStatus.REFUND, SubStatus.REFUND_REJECTED)
    assert credits_for(control, refund) == []


def test_a_supplier_that_never_decides_makes_the_order_overdue_for_review(control: Any) -> None:
    shipped = shipped_order(control, SupplierProvider.CJ, refund_stall="review")
    refund = ask(shipped)
    refund_send(refund_id=refund.pk)
    world_forward(control, hours=30)
    sync_later(hours=2)
    refund.refresh_from_db()
    assert refund.state == RefundState.IN_REVIEW
    assert refund.next_sync_at is not None  # still followed, hourly once overdue

    orders_flag_refund_overdue(now=refund.review_due_at + timedelta(hours=1))

    assert Order.objects.get(pk=shipped.order.pk).refund_overdue == RefundOverdue.REVIEW


def test_a_supplier_that_approves_and_never_pays_makes_the_order_overdue_for_payment(control: Any) -> None:
    shipped = shipped_order(control, SupplierProvider.TEMU, refund_stall="payment")
    refund = ask(shipped)
    refund_send(refund_id=refund.pk)
    world_forward(control, hours=21)
    sync_later(hours=2)
    world_forward(control, hours=48)
    sync_later(hours=4)
    refund.refresh_from_db()
    assert refund.state == RefundState.APPROVED
    assert refund.refund_due_at is not None

    orders_flag_refund_overdue(now=refund.refund_due_at + timedelta(hours=1))

    assert Order.objects.get(pk=shipped.order.pk).refund_overdue == RefundOverdue.PAYMENT
    assert credits_for(control, refund) == []


def test_cj_refusing_a_line_already_disputed_at_cj_rejects_with_its_words(control: Any) -> None:
    # given a CJ order whose line the merchant already disputed on CJ's own site
    shipped = shipped_order(control, SupplierProvider.CJ)
    first = ask(shipped, units=1)
    assert refund_send(refund_id=first.pk) == "sent"
    Refund.objects.filter(pk=first.pk).update(state=RefundState.REJECTED)  # ours closed, CJ's still open
    second = ask(shipped, units=1, note="Second try")

    assert refund_send(refund_id=second.pk) == "rejected"

    second.refresh_from_db()
    assert (second.state, second.send_state) == (RefundState.REJECTED, RefundSend.SENT)
    assert second.rejection_reason.startswith("CJ does not allow a dispute on this line now")
    assert sim_refunds(second) == []


def test_aliexpress_is_recorded_with_its_dispute_page_and_nothing_is_sent(control: Any) -> None:
    shipped = shipped_order(control, SupplierProvider.ALIEXPRESS)
    refund = ask(shipped)

    assert (refund.via, refund.send_state) == (RefundVia.MERCHANT, RefundSend.NOT_NEEDED)
    first_id = shipped.supplier_order.external_order_id.split(",")[0]
    assert refund.dispute_url == f"https://www.aliexpress.com/p/order/detail.html?orderId={first_id}"
    assert refund_send(refund_id=refund.pk) == "skipped"
    assert sync_later(hours=30) == 0
    assert shipped.supplier_order.external_order_id
    assert sim_refunds(refund) == []
    assert tab(shipped.order) == (OrderStatus.REFUND, SubStatus.REFUND_IN_REVIEW)


def test_hostile_supplier_answers_are_kept_and_never_move_money(control: Any) -> None:
    shipped = shipped_order(control, SupplierProvider.TEMU)
    refund = ask(shipped)
    assert refund_send(refund_id=refund.pk) == "sent"
    refund.refresh_from_db()
    above = refund.amount + Decimal("100.00")

    # more money than was asked: not recorded, the supplier's status says why
    moved = refund_info_apply(
        refund_id=refund.pk,
        info=RefundInfo(external_id=refund.external_id, status="refunded", state="refunded", refunded_amount=above),
    )
    refund.refresh_from_db()
    assert (moved, refund.state, refund.refunded_amount) == (False, RefundState.IN_REVIEW, None)
    assert refund.external_status == f"refunded ({above}: above the ask)"

    # a status word we do not know: kept as received, no move
    moved = refund_info_apply(
        refund_id=refund.pk, info=RefundInfo(external_id=refund.external_id, status="escalated_to_mars", state="")
    )
    refund.refresh_from_db()
    assert (moved, refund.state, refund.external_status) == (False, RefundState.IN_REVIEW, "escalated_to_mars")
    assert tab(shipped.order) == (OrderStatus.REFUND, SubStatus.REFUND_IN_REVIEW)
