"""A real Celery worker, consuming from the Redis broker, runs the beat task that expires
silent parcels. Nothing is eager: the task goes through Redis and a worker thread with its
own database connection, as in production."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connection
from django.utils import timezone

from orders.enums import OrderEventType, SupplierOrderState, TrackingStatus
from orders.models import Order, OrderEvent
from orders.services import order_recompute_status
from orders.services.counts import order_counts_from_rows, order_counts_stored
from orders.tasks import refresh_time_based_statuses
from tests.factories import OrderFactory, ShipmentFactory, StoreFactory, SupplierOrderFactory
from tracking.models import Shipment
from zopi.celery import app as celery_app

pytestmark = [pytest.mark.redis, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 20


RAN: list[tuple[str, str]] = []  # (task name, thread name) of each task the worker ran


def _after_task(sender: Any = None, **kwargs: Any) -> None:
    """Runs in the worker's thread after each task: note it, and close the thread's connection
    (it must not outlive the test database)."""
    RAN.append((sender.name, threading.current_thread().name))
    connection.close()


@pytest.fixture
def worker() -> Iterator[Any]:
    """A worker thread on the real broker, consuming the queue our orders tasks are routed to."""
    assert not celery_app.conf.task_always_eager
    assert celery_app.conf.broker_url == settings.CELERY_BROKER_URL
    assert celery_app.conf.broker_url.startswith("redis://")
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("default")  # leftovers of an earlier, interrupted run
    RAN.clear()
    task_postrun.connect(_after_task, weak=False)
    try:
        with start_worker(
            celery_app, pool="solo", concurrency=1, perform_ping_check=False, queues=["default"], shutdown_timeout=30
        ) as running:
            yield running
    finally:
        task_postrun.disconnect(_after_task)


def wait_for(condition: Any, *, timeout: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_real_worker_expires_an_order_whose_parcel_went_silent(worker: Any) -> None:
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
    assert wait_for(lambda: len(RAN) == 1)
    assert RAN[0][0] == "orders.refresh_time_based_statuses"
    assert RAN[0][1] != threading.current_thread().name
    # and the fresh order did not move
    assert Order.objects.get(pk=fresh.pk).sub_status == "in_transit"
    assert order_counts_stored(account=store.account) == order_counts_from_rows(account=store.account)
