"""A real Celery worker, consuming from the Redis broker, runs the beat task that expires
silent parcels. Nothing is eager: the task goes through Redis and a worker thread with its
own database connection, as in production."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.enums import OrderEventType, SupplierOrderState, TrackingStatus
from orders.models import Order, OrderEvent
from orders.services import order_recompute_status
from orders.services.counts import order_counts_from_rows, order_counts_stored
from orders.tasks import refresh_time_based_statuses
from tests.factories import OrderFactory, ShipmentFactory, StoreFactory, SupplierOrderFactory
from tests.workers import running_worker, wait_for
from tracking.models import Shipment

pytestmark = [pytest.mark.redis, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker() -> Iterator[list[tuple[str, str]]]:
    """A worker thread on the real broker, consuming the queue our orders tasks are routed to."""
    with running_worker(["default"]) as ran:
        yield ran


def test_a_real_worker_expires_an_order_whose_parcel_went_silent(worker: list[tuple[str, str]]) -> None:
    # given an order in transit whose parcel has been silent for 40 days, and one updated today
    store = StoreFactory()
    silent, fresh = OrderFactory(store=store, number="#1001"), OrderFactory(store=store, number="#1002")
    for order in (silent, fresh):
        supplier_order = SupplierOrderFactory(order=order, state=SupplierOrderState.PAID)
        ShipmentFactory(order=order, supplier_order=supplier_order, tracking_status=TrackingStatus.IN_TRANSIT)
        order_recompute_status(order_id=order.pk)
    forty_days_ago = timezone.now() - timedelta(days=40)
    Shipment.objects.filter(order=silent).update(last_event_at=forty_days_ago, created_at=forty_days_ago)
    assert Order.objects.get(pk=silent.pk).sub_status == "in_transit"

    # when beat's task is sent through the broker
    result = refresh_time_based_statuses.delay()

    # then the worker moves the silent order to Shipment / Expired, with its event
    assert result.id
    assert wait_for(lambda: Order.objects.get(pk=silent.pk).sub_status == "expired"), "the worker did not run the task"
    silent.refresh_from_db()
    assert (silent.status, silent.sub_status) == ("shipment", "expired")
    event = OrderEvent.objects.filter(order=silent, type=OrderEventType.STATUS_CHANGED).latest("id")
    assert event.parameters == {
        "from": {"status": "shipment", "sub_status": "in_transit"},
        "to": {"status": "shipment", "sub_status": "expired"},
    }
    # and it ran once, in the worker's thread, not in this one
    assert wait_for(lambda: len(worker) == 1)
    assert worker[0][0] == "orders.refresh_time_based_statuses"
    assert worker[0][1] != threading.current_thread().name
    # and the fresh order did not move
    assert Order.objects.get(pk=fresh.pk).sub_status == "in_transit"
    assert order_counts_stored(account=store.account) == order_counts_from_rows(account=store.account)
