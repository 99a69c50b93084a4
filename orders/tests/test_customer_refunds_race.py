"""Customer refunds stored by two workers at once, on real PostgreSQL (two connections, two threads).

Worker A stores a refund and keeps its transaction open; worker B reads the known refunds before A
commits (it does not see A's row), then inserts the same refund id and waits on the unique index
until A commits. B must neither fail with IntegrityError (the batch lost) nor store the refund
twice: a copy on another order is refused with the note, as the sequential path does; a copy on
the same order (a worker the order's lock did not queue) is applied as an update.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections, transaction

from orders.enums import OrderEventType
from orders.models import CustomerRefund, Order, OrderEvent
from orders.services import LineData
from orders.services.customer_refunds import (
    CustomerRefundData,
    RefundLineData,
    customer_refunds_store,
    customer_refunds_upsert,
)
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db(transaction=True)

AT = datetime(2026, 11, 3, 14, 5, tzinfo=UTC)
WAIT = 10.0  # seconds: far more than any step here takes


def refund(status: str = "success") -> CustomerRefundData:
    return CustomerRefundData(
        channel_refund_id="R1",
        amount=Decimal("10.00"),
        currency="USD",
        refunded_at=AT,
        status=status,
        lines=(RefundLineData("L1", 1, Decimal("10.00")),),
    )


def an_order(store: Any) -> Order:
    lines = (LineData(title="Earbuds", unit_price=Decimal("10.00"), quantity=2, channel_line_id="L1"),)
    return OrderFactory(store=store, lines=lines, total=Decimal("25.00"), currency="USD")


def lock_waiters() -> int:
    """Backends of this database waiting on a lock (B on A's uncommitted row)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def race(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run ``first`` in a transaction held open until ``second`` (another connection) waits on it."""
    stored, released = threading.Event(), threading.Event()
    results: list[Any] = []
    errors: list[BaseException] = []

    def holder() -> None:
        try:
            with transaction.atomic():
                results.append(first())
                stored.set()
                released.wait(WAIT)
        except DatabaseError as error:
            errors.append(error)
        finally:
            stored.set()
            connections.close_all()

    def racer() -> None:
        try:
            results.append(second())
        except DatabaseError as error:  # what the insert raised before the fix: the batch lost
            errors.append(error)
        finally:
            connections.close_all()

    a = threading.Thread(target=holder)
    a.start()
    assert stored.wait(WAIT)
    b = threading.Thread(target=racer)
    b.start()
    deadline = time.monotonic() + WAIT
    while b.is_alive() and lock_waiters() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lock_waiters() == 1, "B should wait on A's uncommitted refund"
    released.set()
    a.join(WAIT)
    b.join(WAIT)
    return results, errors


def refused_notes(order: Order) -> list[tuple[str, str]]:
    return list(
        OrderEvent.objects.filter(order=order, type=OrderEventType.NOTE, parameters__code="customer_refund_refused")
        .order_by("id")
        .values_list("parameters__refund_id", "parameters__reason")
    )


def test_a_refund_id_another_worker_stores_on_another_order_meanwhile_is_refused_with_a_note(store: Any) -> None:
    """The webhook of one order and a hostile body naming its refund on another order, at once."""
    first, second = an_order(store), an_order(store)

    results, errors = race(
        lambda: customer_refunds_upsert(store=store, order=first, refunds=[refund()]),
        lambda: customer_refunds_upsert(store=store, order=second, refunds=[refund()]),
    )

    assert errors == []
    assert sorted(results) == [0, 1]
    assert list(CustomerRefund.objects.values_list("order_id", "channel_refund_id")) == [(first.pk, "R1")]
    assert refused_notes(second) == [("R1", "the store already has refund R1 on another order")]
    assert refused_notes(first) == []
    assert OrderEvent.objects.filter(type=OrderEventType.CUSTOMER_REFUND).count() == 1


def test_a_newer_copy_of_the_same_orders_refund_stored_meanwhile_is_not_lost(store: Any) -> None:
    """Two workers without the order's lock (``customer_refunds_store`` trusts its caller for it):
    the later one's newer status is applied to the row the first stored, not lost or doubled."""
    order = an_order(store)

    results, errors = race(
        lambda: customer_refunds_store(store_id=store.pk, items=[(order, [refund("pending")])]),
        lambda: customer_refunds_store(store_id=store.pk, items=[(order, [refund("success")])]),
    )

    assert errors == []
    assert len(results) == 2
    assert list(CustomerRefund.objects.values_list("order_id", "status")) == [(order.pk, "success")]
    changes = list(
        OrderEvent.objects.filter(order=order, type=OrderEventType.CUSTOMER_REFUND)
        .order_by("id")
        .values_list("parameters__change", flat=True)
    )
    assert changes == ["new", "updated"]
