"""The daily job's Expired half against the sandbox's 17TRACK over real HTTP: parcels silent past the
account's days turn Expired, are no longer polled, are stopped at the provider (≤ 40 a call) and
their orders move to Expired through the orders service; a provider that refuses changes nothing
of that. Then the task itself, run by a real worker from the broker, and its beat entry."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import pytest
from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from orders.enums import OrderStatus, SubStatus, TrackingStatus
from orders.models import Order
from orders.services import order_recompute_status
from sandbox.models import TrackingRegistration
from sandbox.tests.conftest import Control
from tests.factories import AccountFactory, OrderFactory, ShipmentFactory, StoreFactory, SupplierOrderFactory
from tests.workers import running_worker, wait_for
from tracking.enums import RegistrationState, StalledReason
from tracking.models import Shipment, ShipmentOrder
from tracking.providers.base import Registration
from tracking.providers.track17 import Track17Provider
from tracking.services import stalled
from tracking.services.stalled import LOCK_KEY, tracking_expire_and_flag_stalled

# The live server (the sandbox), the worker thread and this test write at once: PostgreSQL.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

NOW = timezone.now()


@pytest.fixture(autouse=True)
def _no_lock_left() -> None:
    cache.delete(LOCK_KEY)


@pytest.fixture
def track17(control: Control, settings: Any) -> Track17Provider:
    """The sandbox's 17TRACK as the settings name it (the job builds its provider from them)."""
    account = control.account("17track", "edge-expire")
    settings.TRACK17_API_URL = account["base_url"]
    settings.TRACK17_API_KEY = account["credentials"]["token"]
    return Track17Provider(sleep=lambda seconds: None)


def parcel(store: Any, number: str, *, silent_days: float, **fields: Any) -> Shipment:
    """An order in Shipment with one parcel; its stored status is taken while the parcel was fresh,
    then the parcel goes silent (as time passing does)."""
    order = OrderFactory(store=store)
    fields.setdefault("registration_state", RegistrationState.REGISTERED)
    fields.setdefault("tracking_status", TrackingStatus.IN_TRANSIT)
    fields.setdefault("sub_status", SubStatus.IN_TRANSIT)
    shipment = ShipmentFactory(
        order=order,
        supplier_order=SupplierOrderFactory(order=order),
        tracking_number=number,
        next_poll_at=NOW + timedelta(hours=1),
        **fields,
    )
    order_recompute_status(order_id=order.pk, now=NOW)
    at = NOW - timedelta(days=silent_days)
    Shipment.objects.filter(pk=shipment.pk).update(last_event_at=at, created_at=at)
    return shipment


def state(shipment: Shipment) -> tuple[str, str, bool]:
    shipment.refresh_from_db()
    return shipment.sub_status, shipment.registration_state, shipment.next_poll_at is not None


def order_status(order_id: int) -> tuple[str, str]:
    return Order.objects.values_list("status", "sub_status").get(pk=order_id)


def stopped_at_sandbox(number: str) -> bool:
    return TrackingRegistration.objects.get(parcel__number=number).stopped


def test_silent_parcels_expire_stop_and_move_their_orders(track17: Track17Provider) -> None:
    store = StoreFactory(account=AccountFactory(name="Edge A"), name="Edge A Shopify")  # 30 days
    patient = StoreFactory(account=AccountFactory(name="Edge B"), name="Edge B Shopify")
    patient.account.expire_after_days = 60
    patient.account.save()
    silent = parcel(store, "RR000000031CN", silent_days=31)
    unregistered = parcel(store, "RR000000032CN", silent_days=31, registration_state=RegistrationState.PENDING)
    delivered = parcel(
        store, "RR000000033CN", silent_days=40, tracking_status=TrackingStatus.DELIVERED, sub_status=SubStatus.DELIVERED
    )
    recent = parcel(store, "RR000000034CN", silent_days=20)
    theirs = parcel(patient, "RR000000035CN", silent_days=31)
    # the silent parcel's number is another order's too (a shared number): that order shows it
    sharing = OrderFactory(store=store)
    ShipmentOrder.objects.create(shipment=silent, order=sharing, supplier_order=SupplierOrderFactory(order=sharing))
    track17.register([Registration(s.tracking_number) for s in (silent, delivered, recent, theirs)])
    assert order_status(silent.order_id) == (OrderStatus.SHIPMENT, SubStatus.IN_TRANSIT)

    # when the daily job runs
    result = tracking_expire_and_flag_stalled(now=NOW)

    # then the two parcels silent past 30 days expired, are no longer polled, and tracking stopped
    assert (result.ran, result.expired, result.stop_failures) == (True, 2, 0)
    assert state(silent) == (SubStatus.EXPIRED, RegistrationState.STOPPED, False)
    assert state(unregistered) == (SubStatus.EXPIRED, RegistrationState.STOPPED, False)
    # the provider stopped the registered one (the other was never registered there)
    assert stopped_at_sandbox(silent.tracking_number)
    assert not TrackingRegistration.objects.filter(parcel__number=unregistered.tracking_number).exists()
    # their orders, the sharing one included, are Expired (recomputed by the orders service)
    assert order_status(silent.order_id) == order_status(unregistered.order_id) == (OrderStatus.SHIPMENT, "expired")
    assert order_status(sharing.pk) == (OrderStatus.SHIPMENT, SubStatus.EXPIRED)
    # nothing else moved: delivered, recent, and the other account's (60 days) parcel
    assert state(delivered) == (SubStatus.DELIVERED, RegistrationState.REGISTERED, True)
    assert state(recent) == (SubStatus.IN_TRANSIT, RegistrationState.REGISTERED, True)
    assert state(theirs) == (SubStatus.IN_TRANSIT, RegistrationState.REGISTERED, True)
    assert not any(stopped_at_sandbox(s.tracking_number) for s in (delivered, recent, theirs))
    assert order_status(theirs.order_id) == (OrderStatus.SHIPMENT, SubStatus.IN_TRANSIT)
    # and a second run finds nothing more to do
    assert tracking_expire_and_flag_stalled(now=NOW).expired == 0


def test_at_most_40_numbers_per_stop_call(track17: Track17Provider) -> None:
    store = StoreFactory(account=AccountFactory(name="Edge A"), name="Edge A Shopify")
    numbers = [f"RR{n:09d}CN" for n in range(100, 145)]
    for number in numbers:
        parcel(store, number, silent_days=31)
    track17.register([Registration(number) for number in numbers])
    # when the job expires them with this provider
    result = tracking_expire_and_flag_stalled(now=NOW, provider=track17)
    # then 45 numbers took two stop calls, and every one is stopped
    stop_calls = [attempt for attempt in track17.client.attempts if attempt.path.endswith("/stoptrack")]
    assert (result.expired, len(stop_calls)) == (45, 2)
    assert TrackingRegistration.objects.filter(parcel__number__in=numbers, stopped=True).count() == 45


def test_a_provider_that_refuses_is_logged_and_the_parcel_expires_anyway(
    track17: Track17Provider, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = StoreFactory(account=AccountFactory(name="Edge A"), name="Edge A Shopify")
    silent = parcel(store, "RR000000041CN", silent_days=31)
    track17.register([Registration(silent.tracking_number)])
    settings.TRACK17_API_KEY = "not-the-key"
    # when the job runs and the provider refuses the key
    with caplog.at_level(logging.WARNING, logger="tracking.services.stalled"):
        result = tracking_expire_and_flag_stalled(now=NOW)
    # then the failure is counted and logged, and the parcel and its order expired all the same
    assert (result.expired, result.stop_failures) == (1, 1)
    assert "did not stop 1 numbers" in caplog.text
    assert state(silent) == (SubStatus.EXPIRED, RegistrationState.STOPPED, False)
    assert order_status(silent.order_id) == (OrderStatus.SHIPMENT, SubStatus.EXPIRED)
    assert not stopped_at_sandbox(silent.tracking_number)


def test_the_beat_entry_is_daily() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["tracking-expire-and-flag-stalled"]
    assert (entry["task"], entry["schedule"]) == ("tracking.expire_and_flag_stalled", timedelta(days=1))


@pytest.mark.redis
@pytest.mark.celery_worker
def test_the_task_runs_on_a_real_worker_from_the_broker() -> None:
    store = StoreFactory(account=AccountFactory(name="Edge A"), name="Edge A Shopify")
    order = OrderFactory(store=store)
    SupplierOrderFactory(order=order, paid_at=NOW - timedelta(days=8))
    order_recompute_status(order_id=order.pk)
    # when beat's message reaches a worker on the tracking queue
    with running_worker(["tracking"]) as ran:
        current_app.send_task("tracking.expire_and_flag_stalled")
        assert wait_for(lambda: Order.objects.filter(pk=order.pk, stalled=StalledReason.NO_TRACKING).exists())
    # then the worker ran it (routed to "tracking" by its name)
    assert [name for name, _ in ran] == ["tracking.expire_and_flag_stalled"]


def test_a_parcel_a_poller_holds_is_left_for_the_next_run(track17: Track17Provider) -> None:
    store = StoreFactory(account=AccountFactory(name="Edge A"), name="Edge A Shopify")
    held = parcel(store, "RR000000051CN", silent_days=31)
    free = parcel(store, "RR000000052CN", silent_days=31)
    track17.register([Registration(held.tracking_number), Registration(free.tracking_number)])
    locked, release = threading.Event(), threading.Event()

    def poller() -> None:
        # another worker holds the row (as a poller writing news to it does) until told to let go
        try:
            with transaction.atomic():
                Shipment.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(timeout=20)
        finally:
            connection.close()

    thread = threading.Thread(target=poller)
    thread.start()
    try:
        assert locked.wait(timeout=20)
        # when the job runs while the row is held
        result = tracking_expire_and_flag_stalled(now=NOW)
    finally:
        release.set()
        thread.join()
    # then it expired the free parcel without waiting, and left the held one as it was
    assert result.expired == 1
    assert state(free)[0] == SubStatus.EXPIRED
    assert state(held) == (SubStatus.IN_TRANSIT, RegistrationState.REGISTERED, True)
    # the next run takes it
    assert tracking_expire_and_flag_stalled(now=NOW).expired == 1
    assert state(held)[0] == SubStatus.EXPIRED


def test_many_parcels_expire_a_chunk_per_transaction(track17: Track17Provider, monkeypatch: Any) -> None:
    monkeypatch.setattr(stalled, "EXPIRE_CHUNK", 2)
    store = StoreFactory(account=AccountFactory(name="Edge A"), name="Edge A Shopify")
    shipments = [parcel(store, f"RR{n:09d}CN", silent_days=31) for n in range(200, 205)]
    track17.register([Registration(s.tracking_number) for s in shipments])
    # when the job expires 5 parcels two at a time
    result = tracking_expire_and_flag_stalled(now=NOW, provider=track17)
    # then all of them, in three chunks (one stop call each), with their orders
    stop_calls = [attempt for attempt in track17.client.attempts if attempt.path.endswith("/stoptrack")]
    assert (result.expired, len(stop_calls)) == (5, 3)
    assert all(state(s)[0] == SubStatus.EXPIRED for s in shipments)
    assert {order_status(s.order_id) for s in shipments} == {(OrderStatus.SHIPMENT, SubStatus.EXPIRED)}


class DyingProvider(Track17Provider):
    """The sandbox's 17TRACK, but the worker is killed while it stops the numbers."""

    def stop(self, numbers: Any) -> Any:
        raise RuntimeError("the worker was killed while the provider answered")


def test_a_crash_at_the_provider_leaves_no_order_unrecomputed(track17: Track17Provider) -> None:
    store = StoreFactory(account=AccountFactory(name="Edge A"), name="Edge A Shopify")
    silent = parcel(store, "RR000000300CN", silent_days=31)
    assert order_status(silent.order_id) == (OrderStatus.SHIPMENT, SubStatus.IN_TRANSIT)
    dying = DyingProvider(base_url=settings.TRACK17_API_URL, api_key=settings.TRACK17_API_KEY)
    # when the run dies after the chunk's commit, during the provider's stop call
    with pytest.raises(RuntimeError):
        tracking_expire_and_flag_stalled(now=NOW, provider=dying)
    # then the parcel is Expired and so is its order: the next run no longer selects the parcel
    assert state(silent)[0] == SubStatus.EXPIRED
    assert order_status(silent.order_id) == (OrderStatus.SHIPMENT, SubStatus.EXPIRED)
    assert tracking_expire_and_flag_stalled(now=NOW, provider=track17).expired == 0
