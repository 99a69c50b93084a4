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
    # amounts only (no lines) and within the order's total 25.00: the caps across refunds pass
    one = _queries(store, order, [refund("A1", "0.50", lines=())])
    many = _queries(store, order, [refund(f"B{n}", "0.50", lines=()) for n in range(20)])
    again = _queries(store, order, [refund(f"B{n}", "1.00", lines=()) for n in range(20)])  # 20 updates

    assert CustomerRefund.objects.filter(order=order).count() == 21
    assert many == one
    assert (one, many, again) == (EXPECTED, EXPECTED, EXPECTED)


@pytest.mark.postgres  # SQLite's shared-cache test database refuses a second writer at once; make run's
@pytest.mark.django_db(transaction=True)  # one-file SQLite path is in tests/embedded/sqlite_paths.py
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


def notes_of(order: Order) -> list[tuple[str, str]]:
    return list(
        OrderEvent.objects.filter(order=order, type=OrderEventType.NOTE, parameters__code="customer_refund_refused")
        .order_by("id")
        .values_list("parameters__refund_id", "parameters__reason")
    )


def one_unit(line: str, amount: str) -> tuple[RefundLineData, ...]:
    return (RefundLineData(line, 1, Decimal(amount)),)


def test_units_of_a_line_over_its_quantity_across_stored_refunds_are_refused(store: Any, order: Order) -> None:
    """L1 was ordered twice: two refunds of one unit each are stored, a third is refused."""
    customer_refunds_upsert(store=store, order=order, refunds=[refund("R1", "10.00")])
    customer_refunds_upsert(store=store, order=order, refunds=[refund("R2", "1.00")])

    assert customer_refunds_upsert(store=store, order=order, refunds=[refund("R3", "1.00")]) == 0
    assert customer_refunds_upsert(store=store, order=order, refunds=[refund("R3", "1.00")]) == 0  # one note

    assert [row[0] for row in stored(order)] == ["R1", "R2"]
    assert notes_of(order) == [("R3", "line L1 would have 3 units refunded in all, of 2 ordered")]


def test_refunds_over_a_line_or_the_total_within_one_batch_are_refused_after_the_earlier_ones(
    store: Any, order: Order
) -> None:
    two = (RefundLineData("L1", 2, Decimal("20.00")),)
    result = customer_refunds_store(
        store_id=store.pk,
        items=[(order, [refund("R1", "20.00", lines=two), refund("R2", "5.00"), refund("R3", "5.01", lines=())])],
    )

    assert [row[0] for row in stored(order)] == ["R1"]
    assert result.refused == [
        ("R2", "line L1 would have 3 units refunded in all, of 2 ordered"),
        ("R3", "the order's refunds would add up to 25.01, more than its total 25.00"),
    ]


def test_shipping_only_refunds_are_capped_by_the_order_total(store: Any, order: Order) -> None:
    """Refunds with no lines (shipping, tax) count against the order's total only."""
    customer_refunds_upsert(store=store, order=order, refunds=[refund("R1", "15.00", lines=one_unit("L1", "10.00"))])
    assert customer_refunds_upsert(store=store, order=order, refunds=[refund("S1", "10.00", lines=())]) == 1

    assert customer_refunds_upsert(store=store, order=order, refunds=[refund("S2", "0.01", lines=())]) == 0
    assert [row[0] for row in stored(order)] == ["R1", "S1"]
    assert notes_of(order) == [("S2", "the order's refunds would add up to 25.01, more than its total 25.00")]


def test_an_update_of_a_stored_refund_is_counted_once_not_against_itself(store: Any, order: Order) -> None:
    customer_refunds_upsert(store=store, order=order, refunds=[refund("R1", "10.00")])
    customer_refunds_upsert(store=store, order=order, refunds=[refund("R2", "5.00", lines=one_unit("L2", "5.00"))])
    both = (RefundLineData("L1", 2, Decimal("20.00")),)

    customer_refunds_upsert(store=store, order=order, refunds=[refund("R1", "20.00", lines=both)])  # 20 + 5 = 25
    customer_refunds_upsert(store=store, order=order, refunds=[refund("R1", "20.01", lines=both)])  # 25.01: refused

    assert [(row[0], row[1]) for row in stored(order)] == [("R1", Decimal("20.00")), ("R2", Decimal("5.00"))]
    assert notes_of(order) == [("R1", "the order's refunds would add up to 25.01, more than its total 25.00")]


def test_a_failed_refund_does_not_count_so_its_retry_is_stored(store: Any, order: Order) -> None:
    """The caps count what the margin counts (final refunds): a failed refund of everything and
    its successful retry are both stored; a pending one is checked as if it completed."""
    everything = (RefundLineData("L1", 2, Decimal("20.00")), RefundLineData("L2", 1, Decimal("5.00")))
    customer_refunds_upsert(
        store=store, order=order, refunds=[refund("F1", "25.00", status="failure", lines=everything)]
    )
    customer_refunds_upsert(store=store, order=order, refunds=[refund("R1", "25.00", lines=everything)])

    assert customer_refunds_upsert(store=store, order=order, refunds=[refund("P1", "1.00", status="pending")]) == 0
    assert [row[0] for row in stored(order)] == ["F1", "R1"]
    assert [refund_id for refund_id, _reason in notes_of(order)] == ["P1"]


def test_the_caps_cost_no_query_more(store: Any, order: Order) -> None:
    """The stored refunds the caps count come with the known ones: one read, as before."""
    customer_refunds_upsert(store=store, order=order, refunds=[refund(f"A{n}", "1.00", lines=()) for n in range(20)])

    assert _queries(store, order, [refund("B1", "1.00", lines=())]) == EXPECTED
