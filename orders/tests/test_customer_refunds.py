"""``customer_refunds_upsert``: channel refunds stored once, updated only when the channel changed
them, hostile ones refused with a note and nothing stored, in a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.enums import OrderEventType
from orders.models import CustomerRefund, Order, OrderEvent
from orders.services import LineData
from orders.services.customer_refunds import (
    CustomerRefundData,
    RefundLineData,
    customer_refund_malformed,
    customer_refunds_store,
    customer_refunds_upsert,
)
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)


@pytest.fixture
def order(store: Any) -> Order:
    lines = (
        LineData(title="Earbuds", unit_price=Decimal("10.00"), quantity=2, channel_line_id="L1"),
        LineData(title="Case", unit_price=Decimal("5.00"), quantity=1, channel_line_id="L2"),
    )
    return OrderFactory(store=store, lines=lines, total=Decimal("25.00"), currency="USD")


def refund(refund_id: str = "R1", amount: str = "10.00", **fields: Any) -> CustomerRefundData:
    values: dict[str, Any] = {
        "channel_refund_id": refund_id,
        "amount": Decimal(amount),
        "currency": "USD",
        "refunded_at": AT,
        "reason": "damaged",
        "status": "success",
        "lines": (RefundLineData("L1", 1, Decimal("10.00")),),
    }
    values.update(fields)
    return CustomerRefundData(**values)


def stored(order: Order) -> list[tuple[Any, ...]]:
    return list(
        CustomerRefund.objects.filter(order=order).values_list(
            "channel_refund_id", "amount", "currency", "status", "refunded_at", "lines"
        )
    )


def refund_events(order: Order) -> list[dict[str, Any]]:
    return list(
        OrderEvent.objects.filter(order=order, type=OrderEventType.CUSTOMER_REFUND)
        .order_by("id")
        .values_list("parameters", flat=True)
    )


def test_a_refund_is_stored_once_with_its_lines_mapped_and_one_event(store: Any, order: Order) -> None:
    line_id = order.lines.get(channel_line_id="L1").pk

    assert customer_refunds_upsert(store=store, order=order, refunds=[refund()]) == 1
    assert customer_refunds_upsert(store=store, order=order, refunds=[refund()]) == 0

    assert stored(order) == [
        (
            "R1",
            Decimal("10.00"),
            "USD",
            "success",
            AT,
            [{"order_line_id": line_id, "channel_line_id": "L1", "quantity": 1, "amount": "10.00"}],
        )
    ]
    assert [(event["change"], event["amount"], event["channel_refund_id"]) for event in refund_events(order)] == [
        ("new", "10.00", "R1")
    ]


def test_a_changed_status_or_amount_updates_the_row_and_a_final_one_never_goes_back(store: Any, order: Order) -> None:
    customer_refunds_upsert(store=store, order=order, refunds=[refund(status="pending")])
    customer_refunds_upsert(store=store, order=order, refunds=[refund(status="success", amount="12.00")])
    customer_refunds_upsert(store=store, order=order, refunds=[refund(status="pending")])  # an older body, late

    assert [(row[1], row[3]) for row in stored(order)] == [(Decimal("12.00"), "success")]
    assert [event["change"] for event in refund_events(order)] == ["new", "updated"]


def test_a_second_refund_is_a_second_row(store: Any, order: Order) -> None:
    customer_refunds_upsert(store=store, order=order, refunds=[refund("R1")])
    created = customer_refunds_upsert(
        store=store,
        order=order,
        refunds=[refund("R1"), refund("R2", "5.00", lines=(RefundLineData("L2", 1, Decimal("5.00")),))],
    )

    assert created == 1
    assert [(row[0], row[1]) for row in stored(order)] == [("R1", Decimal("10.00")), ("R2", Decimal("5.00"))]


@pytest.mark.parametrize(
    ("hostile", "reason"),
    [
        (refund(amount="-1.00"), "the amount -1.00 is below zero"),
        (refund(amount="1000000.00"), "the amount 1000000.00 is more than the order's total 25.00"),
        (refund(currency="EUR"), "the refund is in EUR, the order in USD"),
        (refund(lines=(RefundLineData("L9", 1, Decimal("1.00")),)), "line L9 is not on the order"),
        (refund(lines=(RefundLineData("L1", -1, Decimal("1.00")),)), "line L1 has a quantity below zero"),
        (refund(lines=(RefundLineData("L1", 3, Decimal("1.00")),)), "line L1 refunds 3 of 2 ordered"),
        (refund(refund_id=""), "the refund has no usable id"),
    ],
)
def test_a_hostile_refund_is_refused_with_one_note_and_nothing_stored(
    store: Any, order: Order, hostile: CustomerRefundData, reason: str
) -> None:
    assert customer_refunds_upsert(store=store, order=order, refunds=[hostile]) == 0
    assert customer_refunds_upsert(store=store, order=order, refunds=[hostile]) == 0  # repeated: still one note

    assert stored(order) == []
    assert refund_events(order) == []
    notes = list(
        OrderEvent.objects.filter(
            order=order, type=OrderEventType.NOTE, parameters__code="customer_refund_refused"
        ).values_list("parameters__reason", flat=True)
    )
    assert notes == [reason]


def test_a_refund_id_the_store_has_on_another_order_is_refused(store: Any, order: Order) -> None:
    other = OrderFactory(
        store=store, lines=(LineData(title="X", unit_price=Decimal(25), channel_line_id="L1"),), total=Decimal(25)
    )
    customer_refunds_upsert(store=store, order=other, refunds=[refund()])

    assert customer_refunds_upsert(store=store, order=order, refunds=[refund()]) == 0
    assert stored(order) == []
    assert CustomerRefund.objects.get().order_id == other.pk


def _queries(store: Any, order: Order, refunds: list[CustomerRefundData]) -> int:
    with CaptureQueriesContext(connection) as queries:
        customer_refunds_upsert(store=store, order=order, refunds=refunds)
    return len(queries)


# the order's lock, its lines, the known refunds, the insert (or the update), the events, and the
# atomic block's savepoint and release: 7, whether 1, 20 new or 20 changed refunds.
EXPECTED = 7


def test_the_queries_do_not_grow_with_the_number_of_refunds(store: Any, order: Order) -> None:
    one = _queries(store, order, [refund("A1", "1.00")])
    many = _queries(store, order, [refund(f"B{n}", "1.00") for n in range(20)])
    again = _queries(store, order, [refund(f"B{n}", "2.00") for n in range(20)])  # 20 updates

    assert CustomerRefund.objects.filter(order=order).count() == 21
    assert many == one
    assert (one, many, again) == (EXPECTED, EXPECTED, EXPECTED)


@pytest.mark.django_db(transaction=True)
def test_two_workers_storing_the_same_refund_at_once_make_one_row_and_one_event(store: Any) -> None:
    import threading

    from django.db import connections

    lines = (LineData(title="Earbuds", unit_price=Decimal("10.00"), quantity=2, channel_line_id="L1"),)
    order = OrderFactory(store=store, lines=lines, total=Decimal("25.00"))
    barrier = threading.Barrier(2)
    created: list[int] = []

    def worker() -> None:
        try:
            barrier.wait()
            created.append(customer_refunds_upsert(store=store, order=order, refunds=[refund()]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(created) == [0, 1]
    assert CustomerRefund.objects.filter(order=order).count() == 1
    assert len(refund_events(order)) == 1


def test_a_malformed_refund_is_refused_with_one_note_and_the_others_are_stored(store: Any, order: Order) -> None:
    bad = customer_refund_malformed(channel_refund_id="R9", detail="refund R9: no 'createdAt'")

    assert customer_refunds_upsert(store=store, order=order, refunds=[bad, refund()]) == 1
    assert customer_refunds_upsert(store=store, order=order, refunds=[bad, refund()]) == 0

    assert [row[0] for row in stored(order)] == ["R1"]
    notes = OrderEvent.objects.filter(order=order, type=OrderEventType.NOTE, parameters__code="customer_refund_refused")
    assert [note["refund_id"] for note in notes.values_list("parameters", flat=True)] == ["R9"]


def test_a_fuller_read_with_more_lines_repairs_a_stored_refund(store: Any, order: Order) -> None:
    """A truncated read stored one line; the same status and amount with both lines updates it."""
    customer_refunds_upsert(store=store, order=order, refunds=[refund(amount="15.00")])
    both = (RefundLineData("L1", 1, Decimal("10.00")), RefundLineData("L2", 1, Decimal("5.00")))

    customer_refunds_upsert(store=store, order=order, refunds=[refund(amount="15.00", lines=both)])

    assert [line["channel_line_id"] for line in CustomerRefund.objects.get().lines] == ["L1", "L2"]


def test_a_batch_dedupes_after_validation_and_notes_a_duplicate_on_another_order(store: Any, order: Order) -> None:
    other = OrderFactory(
        store=store, lines=(LineData(title="X", unit_price=Decimal(25), channel_line_id="L1"),), total=Decimal(25)
    )
    broken = refund(amount="-1.00")  # the first copy is refused; the valid second copy is stored

    result = customer_refunds_store(store_id=store.pk, items=[(order, [broken, refund()]), (other, [refund()])])

    assert [row[0] for row in stored(order)] == ["R1"]
    assert stored(other) == []
    assert [reason for _id, reason in result.refused][1:] == ["the channel sent refund R1 on another order too"]
    assert OrderEvent.objects.filter(order=other, parameters__code="customer_refund_refused").count() == 1
