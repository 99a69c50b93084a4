"""Asking a supplier for a refund (``suppliers.services.refunds``) against real PostgreSQL: the room
left per line, the checks of a request, decisions only forward, and the overdue flags."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.enums import (
    OrderEventType,
    OrderStatus,
    RefundOverdue,
    RefundReason,
    RefundSend,
    RefundState,
    RefundVia,
    SubStatus,
)
from orders.models import Order, OrderEvent, Refund
from suppliers.models import SupplierOrder
from suppliers.services.refunds import (
    RefundAskLine,
    RefundRefused,
    orders_flag_refund_overdue,
    refund_decision_record,
    refund_request,
    refund_room,
)
from tests.factories import AccountFactory, StoreFactory

from .refund_helpers import shipped_order

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture
def store() -> Any:
    return StoreFactory(account=AccountFactory(name="Refunds A"), name="Refunds A Shopify")


def ask(store: Any, supplier_order: SupplierOrder, parts: list[tuple[int, int]], amount: str, **more: Any) -> Refund:
    values: dict[str, Any] = {"reason": RefundReason.DAMAGED, "note": "", **more}
    return refund_request(
        account=store.account,
        order_id=supplier_order.order_id,
        supplier_order_id=supplier_order.pk,
        lines=[RefundAskLine(line_id, quantity) for line_id, quantity in parts],
        amount=Decimal(amount),
        **values,
    )


def refused(store: Any, supplier_order: SupplierOrder, parts: list[tuple[int, int]], amount: str, **more: Any) -> str:
    with pytest.raises(RefundRefused) as caught:
        ask(store, supplier_order, parts, amount, **more)
    return f"{caught.value.field}: {caught.value.message}"


def test_the_room_is_each_lines_share_of_what_was_paid_shipping_included(store: Any) -> None:
    # given 2 × 4.00 and 1 × 2.00 with 1.00 shipping: 11.00 paid
    _, supplier_order, (first, second) = shipped_order(store)
    room = refund_room(supplier_order=supplier_order)
    # then the lines share it by their cost: 8/10 and 2/10 of 11.00
    assert (room.paid, room.currency) == (Decimal("11.00"), "USD")
    assert [(line.quantity_left, line.paid, line.amount_left) for line in room.lines] == [
        (2, Decimal("8.80"), Decimal("8.80")),
        (1, Decimal("2.20"), Decimal("2.20")),
    ]
    half = room.line(first.pk)
    assert half is not None
    assert half.cap_for(1) == Decimal("4.40")


def test_a_request_is_stored_in_review_with_its_lines_and_moves_the_order(store: Any) -> None:
    order, supplier_order, (first, _second) = shipped_order(store)
    refund = ask(
        store, supplier_order, [(first.pk, 1)], "4.40", note="Arrived broken", evidence=["https://img.example/1.jpg"]
    )
    refund.refresh_from_db()
    assert (refund.state, refund.amount, refund.currency, refund.reason) == (
        RefundState.IN_REVIEW,
        Decimal("4.40"),
        "USD",
        RefundReason.DAMAGED,
    )
    assert [(part.supplier_order_line_id, part.quantity) for part in refund.lines.all()] == [(first.pk, 1)]
    assert refund.review_due_at - refund.requested_at == timedelta(days=1)
    # AliExpress has no refund API: recorded, not sent
    assert (refund.via, refund.send_state) == (RefundVia.MERCHANT, RefundSend.NOT_NEEDED)
    assert refund.evidence == ["https://img.example/1.jpg"]
    order.refresh_from_db()
    assert (order.status, order.sub_status) == (OrderStatus.REFUND, SubStatus.REFUND_IN_REVIEW)
    assert OrderEvent.objects.filter(order=order, type=OrderEventType.REFUND, parameters__what="requested").count() == 1


def test_a_second_open_request_on_the_same_line_is_refused_and_another_line_is_not(store: Any) -> None:
    _, supplier_order, (first, second) = shipped_order(store)
    ask(store, supplier_order, [(first.pk, 1)], "2.00")
    assert "already in an open refund request" in refused(store, supplier_order, [(first.pk, 1)], "1.00")
    assert "already in an open refund request" in refused(
        store, supplier_order, [(second.pk, 1), (first.pk, 1)], "1.00"
    )
    assert ask(store, supplier_order, [(second.pk, 1)], "2.20").state == RefundState.IN_REVIEW


def test_after_a_rejection_the_line_can_be_asked_again_and_after_a_refund_only_what_is_left(store: Any) -> None:
    _, supplier_order, (first, _second) = shipped_order(store)
    rejected = ask(store, supplier_order, [(first.pk, 2)], "8.80")
    refund_decision_record(refund_id=rejected.pk, state=RefundState.REJECTED, rejection_reason="No photo")
    refunded = ask(store, supplier_order, [(first.pk, 1)], "4.00")
    refund_decision_record(refund_id=refunded.pk, state=RefundState.APPROVED)
    refund_decision_record(refund_id=refunded.pk, state=RefundState.REFUNDED)
    room = refund_room(supplier_order=supplier_order).line(first.pk)
    assert room is not None
    assert (room.quantity_left, room.amount_left, room.under_open_request) == (1, Decimal("4.80"), False)
    assert "between 1 and 1 units" in refused(store, supplier_order, [(first.pk, 2)], "1.00")
    assert "At most 4.80 USD" in refused(store, supplier_order, [(first.pk, 1)], "4.81")
    assert ask(store, supplier_order, [(first.pk, 1)], "4.80").amount == Decimal("4.80")


def test_an_amount_above_what_was_paid_for_those_lines_is_refused(store: Any) -> None:
    _, supplier_order, (first, second) = shipped_order(store)
    assert refused(store, supplier_order, [(first.pk, 1)], "4.41") == (
        "amount: At most 4.40 USD can be asked for these lines (what was paid less what was refunded)."
    )
    assert "At most 11.00 USD" in refused(store, supplier_order, [(first.pk, 2), (second.pk, 1)], "11.01")
    assert refused(store, supplier_order, [(first.pk, 1)], "0").startswith("amount:")
    assert refused(store, supplier_order, [(first.pk, 1)], "1.005").startswith("amount:")
    assert not Refund.objects.exists()


@pytest.mark.parametrize(
    ("parts", "more", "field"),
    [
        ([], {}, "lines"),
        ("zero", {}, "lines"),
        ("too many", {}, "lines"),
        ("twice", {}, "lines"),
        ("other order", {}, "lines"),
        ("one", {"reason": "lost_in_space"}, "reason"),
        ("one", {"reason": RefundReason.OTHER, "note": "  "}, "note"),
        ("one", {"note": "x" * 2001}, "note"),
        ("one", {"evidence": ["http://plain.example/a.jpg"]}, "evidence"),
        ("one", {"evidence": ["javascript:alert(1)"]}, "evidence"),
        ("one", {"evidence": [f"https://img.example/{i}.jpg" for i in range(11)]}, "evidence"),
    ],
)
def test_hostile_requests_are_refused_at_their_field_and_store_nothing(
    store: Any, parts: Any, more: dict[str, Any], field: str
) -> None:
    _, supplier_order, (first, _second) = shipped_order(store)
    _, other, (elsewhere, _) = shipped_order(store)
    lines = (
        {
            "zero": [(first.pk, 0)],
            "too many": [(first.pk, 3)],
            "twice": [(first.pk, 1), (first.pk, 1)],
            "other order": [(elsewhere.pk, 1)],
            "one": [(first.pk, 1)],
        }.get(parts, parts)
        if isinstance(parts, str)
        else parts
    )
    assert refused(store, supplier_order, lines, "1.00", **more).startswith(f"{field}:")
    assert not Refund.objects.exists()


def test_only_a_paid_supplier_order_of_an_order_in_shipment_or_source_canceled_and_of_this_account(store: Any) -> None:
    _, waiting, (line_of_waiting, _) = shipped_order(store, shipped=False)  # paid, no parcel yet: Payment tab
    assert "once the supplier order is paid" in refused(store, waiting, [(line_of_waiting.pk, 1)], "1.00")
    _, supplier_order, (first, _) = shipped_order(store)
    intruder = StoreFactory(account=AccountFactory(name="Refunds B"), name="Refunds B Shopify")
    with pytest.raises(SupplierOrder.DoesNotExist):
        ask(intruder, supplier_order, [(first.pk, 1)], "1.00")
    assert not Refund.objects.exists()


def test_decisions_only_move_forward(store: Any) -> None:
    _, supplier_order, (first, _) = shipped_order(store)
    refund = ask(store, supplier_order, [(first.pk, 1)], "4.40")
    at = timezone.now()
    refund, moved = refund_decision_record(refund_id=refund.pk, state=RefundState.APPROVED, at=at)
    assert moved
    assert (refund.decided_at, refund.refund_due_at) == (at, at + timedelta(days=1))
    refund, moved = refund_decision_record(refund_id=refund.pk, state=RefundState.IN_REVIEW)  # an older answer
    assert (moved, refund.state) == (False, RefundState.APPROVED)
    refund, moved = refund_decision_record(
        refund_id=refund.pk, state=RefundState.REFUNDED, refunded_amount=Decimal("4.00"), external_status="FINISHED"
    )
    assert (moved, refund.state, refund.refunded_amount, refund.external_status) == (
        True,
        RefundState.REFUNDED,
        Decimal("4.00"),
        "FINISHED",
    )
    refund, moved = refund_decision_record(refund_id=refund.pk, state=RefundState.REJECTED, rejection_reason="late")
    assert (moved, refund.state, refund.rejection_reason) == (False, RefundState.REFUNDED, "")
    order = Order.objects.get(pk=supplier_order.order_id)
    assert order.sub_status == SubStatus.REFUNDED
    # a merchant's update is limited to the merchant's account
    other = AccountFactory(name="Refunds C")
    with pytest.raises(Refund.DoesNotExist):
        refund_decision_record(refund_id=refund.pk, state=RefundState.REJECTED, account=other)


def test_overdue_review_then_overdue_money_then_cleared_in_the_same_statements(store: Any) -> None:
    orders, refunds = [], []
    for _ in range(3):
        order, supplier_order, (first, _) = shipped_order(store)
        orders.append(order)
        refunds.append(ask(store, supplier_order, [(first.pk, 1)], "1.00"))
    later = timezone.now() + timedelta(days=1, minutes=1)
    assert orders_flag_refund_overdue(now=timezone.now()) == (0, 0)
    assert orders_flag_refund_overdue(now=later) == (3, 0)
    assert set(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("refund_overdue", flat=True)) == {
        RefundOverdue.REVIEW
    }
    # the supplier approves the first (its money is due a day later), refunds the second
    refund_decision_record(refund_id=refunds[0].pk, state=RefundState.APPROVED, at=later)
    refund_decision_record(refund_id=refunds[1].pk, state=RefundState.REFUNDED, at=later)
    with CaptureQueriesContext(connection) as queries:
        orders_flag_refund_overdue(now=later + timedelta(days=1, minutes=1))
    flags = dict(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("pk", "refund_overdue"))
    assert [flags[o.pk] for o in orders] == [RefundOverdue.PAYMENT, RefundOverdue.NONE, RefundOverdue.REVIEW]
    assert sum(q["sql"].startswith("UPDATE") for q in queries.captured_queries) == 3


def test_two_requests_for_the_same_line_at_once_make_one_refund(store: Any) -> None:
    _, supplier_order, (first, _) = shipped_order(store)
    start, outcomes = threading.Barrier(2), []

    def one() -> None:
        try:
            start.wait()
            ask(store, supplier_order, [(first.pk, 1)], "4.40")
            outcomes.append("made")
        except RefundRefused as refusal:
            outcomes.append(refusal.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("made") == 1
    assert "already in an open refund request" in next(o for o in outcomes if o != "made")
    assert Refund.objects.filter(supplier_order=supplier_order).count() == 1
