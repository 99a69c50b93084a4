"""The supplier's own tracking as a fallback (docs/tracking.md, "Supplier tracking fallback"): a
registered parcel 17TRACK still has nothing for hours after the handover is asked of its supplier
by task name, at most once per interval and never once the provider has events; the supplier's
scans come back by task name, checked as hostile input, and fill the timeline without ever setting
the parcel's status. The whole chain runs against the sandbox in real worker threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from celery import shared_task
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.enums import TrackingStatus
from orders.models import Order
from orders.presentation_parcels import order_parcels
from sandbox.models import Parcel
from sandbox.sim import carriers
from suppliers.enums import SupplierProvider
from suppliers.models import SupplierOrder
from suppliers.tests.test_sync import placed, sim_name
from tests.workers import running_worker, wait_for
from tracking.enums import EventSource, RegistrationState
from tracking.models import Shipment, TrackingEvent
from tracking.services.fallback import shipments_fallback_ask, supplier_events_merge
from tracking.services.polling import shipments_poll_due
from tracking.tests.conftest import control, sandbox_url  # noqa: F401 - fixtures
from tracking.tests.flow import hand_over, paid_order, provider, track17  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

AE = SupplierProvider.ALIEXPRESS
ASKED: list[tuple[tuple[Any, ...], dict[str, Any]]] = []  # what the stand-in supplier task received
ASK_STAND_IN = "tracking.tests.fallback_ask_stand_in"


@shared_task(name=ASK_STAND_IN)
def fallback_ask_stand_in(*args: Any, **kwargs: Any) -> None:
    ASKED.append((args, kwargs))


@pytest.fixture
def tracking_worker(settings: Any) -> Iterator[list[tuple[str, str]]]:
    settings.SUPPLIER_TRACKING_FALLBACK_TASK = ASK_STAND_IN
    ASKED.clear()
    with running_worker(["tracking"]) as ran:
        yield ran


def supplier_order_of(order: Order) -> SupplierOrder:
    """The order's supplier order row (tracking only keeps its id: nothing is placed)."""
    existing = SupplierOrder.objects.filter(order=order).first()
    return existing or SupplierOrder.objects.create(
        account_id=order.account_id, order=order, provider=AE, idempotency_key=f"fallback-{order.pk}"
    )


def quiet_shipment(order: Order, number: str, *, hours_ago: float = 7, supplier: bool = True) -> Shipment:
    """A registered shipment 17TRACK says nothing of, handed over ``hours_ago``."""
    more = {"supplier_order_id": supplier_order_of(order).pk} if supplier else {}
    shipment = hand_over(order, number, **more)
    Shipment.objects.filter(pk=shipment.pk).update(
        registration_state=RegistrationState.REGISTERED, created_at=timezone.now() - timedelta(hours=hours_ago)
    )
    return Shipment.objects.get(pk=shipment.pk)


def fetches_in(ran: list[tuple[str, str]]) -> int:
    return sum(name == "suppliers.tracking_fallback_fetch" for name, _ in ran)


def scan(when: datetime, description: str, location: str = "") -> dict[str, Any]:
    return {"time": when.isoformat().replace("+00:00", "Z"), "description": description, "location": location}


@pytest.mark.redis
@pytest.mark.celery_worker
def test_only_quiet_registered_parcels_with_a_supplier_order_are_asked_once_per_interval(
    track17: dict[str, Any],  # noqa: F811
    tracking_worker: list[tuple[str, str]],
) -> None:
    order = paid_order()
    due = quiet_shipment(order, "LP00000000000101")
    young = quiet_shipment(order, "LP00000000000102", hours_ago=2)
    without_supplier = quiet_shipment(order, "LP00000000000103", supplier=False)
    moving = quiet_shipment(order, "LP00000000000104")
    TrackingEvent.objects.create(
        shipment=moving, occurred_at=timezone.now(), description="Picked up", description_hash="x", status="in_transit"
    )
    pending = quiet_shipment(order, "LP00000000000105")
    Shipment.objects.filter(pk=pending.pk).update(registration_state=RegistrationState.PENDING)
    ids = [due.pk, young.pk, without_supplier.pk, moving.pk, pending.pk]

    assert shipments_fallback_ask(shipment_ids=ids) == [due.pk]

    assert wait_for(lambda: len(ASKED) == 1), tracking_worker
    asked = [((due.supplier_order_id,), {"shipment_id": due.pk, "tracking_number": "LP00000000000101"})]
    assert asked == ASKED
    due.refresh_from_db()
    assert due.fallback_asked_at is not None
    # the next polls within the interval ask nothing; after it, once more
    assert shipments_fallback_ask(shipment_ids=ids) == []
    Shipment.objects.filter(pk=due.pk).update(fallback_asked_at=timezone.now() - timedelta(hours=13))
    assert shipments_fallback_ask(shipment_ids=ids) == [due.pk]
    assert wait_for(lambda: len(ASKED) == 2), tracking_worker
    assert not wait_for(lambda: len(ASKED) > 2, timeout=1)


@pytest.mark.redis
def test_asking_takes_the_same_statements_for_3_or_30_shipments(settings: Any) -> None:
    order = paid_order()
    few = [quiet_shipment(order, f"LQ{n:014d}").pk for n in range(3)]
    many = [quiet_shipment(order, f"LR{n:014d}").pk for n in range(30)]
    settings.SUPPLIER_TRACKING_FALLBACK_TASK = ""
    assert shipments_fallback_ask(shipment_ids=few) == []  # turned off: nothing asked

    # The asks go to the broker after commit (no worker here: the next worker's purge drops them).
    settings.SUPPLIER_TRACKING_FALLBACK_TASK = ASK_STAND_IN
    with CaptureQueriesContext(connection) as three:
        assert len(shipments_fallback_ask(shipment_ids=few)) == 3
    with CaptureQueriesContext(connection) as thirty:
        assert len(shipments_fallback_ask(shipment_ids=many)) == 30
    assert len(three.captured_queries) == len(thirty.captured_queries)
    assert Shipment.objects.filter(pk__in=few + many, fallback_asked_at__isnull=False).count() == 33


def test_four_pollers_asking_at_once_ask_for_each_shipment_once(settings: Any) -> None:
    settings.SUPPLIER_TRACKING_FALLBACK_TASK = ASK_STAND_IN  # queued, no worker: the stamps are counted
    order = paid_order()
    ids = [quiet_shipment(order, f"LS{n:014d}").pk for n in range(40)]
    start = threading.Barrier(4)
    asked: list[list[int]] = []
    errors: list[BaseException] = []

    def poller() -> None:
        try:
            start.wait()
            asked.append(shipments_fallback_ask(shipment_ids=ids))
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=poller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors
    assert sorted(pk for mine in asked for pk in mine) == sorted(ids)  # each exactly once


def test_the_suppliers_scans_fill_the_timeline_but_never_the_status() -> None:
    order = paid_order()
    shipment = quiet_shipment(order, "LP00000000000201")
    now = timezone.now()
    events = [
        scan(now - timedelta(hours=5), "Order information received", ""),
        scan(now - timedelta(hours=3), "Parcel handed to the carrier", "Shenzhen, CN"),
    ]

    result = supplier_events_merge(shipment_id=shipment.pk, tracking_number="LP00000000000201", events=events)

    assert (result.inserted, result.dropped, result.ignored) == (2, 0, "")
    stored = list(shipment.events.order_by("occurred_at").values_list("description", "location", "source"))
    assert stored == [
        ("Order information received", "", EventSource.SUPPLIER),
        ("Parcel handed to the carrier", "Shenzhen, CN", EventSource.SUPPLIER),
    ]
    shipment.refresh_from_db()
    assert shipment.tracking_status == TrackingStatus.NOT_FOUND  # the provider's word, not the supplier's
    assert shipment.provider_status == ""
    assert shipment.last_event_at is None  # orders the provider's answers and the expiry: the provider's
    assert (shipment.last_event_description, shipment.last_event_location) == (
        "Parcel handed to the carrier",
        "Shenzhen, CN",
    )
    # the same scans again: nothing new; an older message does not move the latest event back
    again = supplier_events_merge(shipment_id=shipment.pk, tracking_number="LP00000000000201", events=events[:1])
    assert again.inserted == 0
    shipment.refresh_from_db()
    assert shipment.last_event_description == "Parcel handed to the carrier"
    # the drawer says whose scans they are
    views, _ = order_parcels(Order.objects.prefetch_related("shipments__events").get(pk=order.pk))
    assert [event.provider_status for event in views[0].events] == ["from the supplier"] * 2


def test_hostile_events_are_dropped_and_bad_messages_write_nothing() -> None:
    order = paid_order()
    shipment = quiet_shipment(order, "LP00000000000301")
    now = timezone.now()
    good = scan(now - timedelta(hours=1), "In transit")
    hostile: list[Any] = [
        "not an object",
        None,
        {"time": "yesterday", "description": "bad time"},
        {"time": "2026-11-30T10:00:00", "description": "no offset"},
        {"time": (now + timedelta(days=30)).isoformat(), "description": "in the future"},
        {"time": "1970-01-01T00:00:00Z", "description": "too old"},
        {"time": 1764500000, "description": "a number, not text"},
        {"time": good["time"], "description": 42},
        {"time": good["time"], "description": "   "},
        {"time": good["time"], "description": "x" * 5000},
        {"time": good["time"], "description": "ok", "location": ["a list"]},
        {"time": "9" * 100, "description": "a long time"},
        good,
        {"time": good["time"], "description": "<script>alert(1)</script>Sorting\x00 center", "location": None},
    ]

    result = supplier_events_merge(shipment_id=shipment.pk, tracking_number=shipment.tracking_number, events=hostile)

    assert (result.inserted, result.dropped) == (2, 12)
    assert sorted(shipment.events.values_list("description", flat=True)) == ["In transit", "alert(1) Sorting center"]
    for bad in (
        {"shipment_id": "1", "tracking_number": shipment.tracking_number, "events": [good]},
        {"shipment_id": True, "tracking_number": shipment.tracking_number, "events": [good]},
        {"shipment_id": 2**70, "tracking_number": shipment.tracking_number, "events": [good]},
        {"shipment_id": shipment.pk, "tracking_number": None, "events": [good]},
        {"shipment_id": shipment.pk, "tracking_number": "LP00000000009999", "events": [good]},  # not its number
        {"shipment_id": shipment.pk + 1000, "tracking_number": shipment.tracking_number, "events": [good]},
        {"shipment_id": shipment.pk, "tracking_number": shipment.tracking_number, "events": {"a": 1}},
        {"shipment_id": shipment.pk, "tracking_number": shipment.tracking_number, "events": []},
    ):
        outcome = supplier_events_merge(**bad)
        assert outcome.ignored, bad
        assert outcome.inserted == 0, bad
    assert shipment.events.count() == 2
    many = [scan(now - timedelta(minutes=n), f"Scan {n}") for n in range(1, 500)]
    capped = supplier_events_merge(shipment_id=shipment.pk, tracking_number=shipment.tracking_number, events=many)
    assert (capped.inserted, capped.dropped) == (200, 299)


def test_once_the_provider_has_events_the_suppliers_are_not_taken() -> None:
    order = paid_order()
    shipment = quiet_shipment(order, "LP00000000000401")
    when = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    TrackingEvent.objects.create(
        shipment=shipment, occurred_at=when, description="Accepted", description_hash="a", status="in_transit"
    )
    result = supplier_events_merge(
        shipment_id=shipment.pk, tracking_number=shipment.tracking_number, events=[scan(when, "Supplier says hi")]
    )
    assert result.ignored == "the tracking provider has news of this parcel"
    assert list(shipment.events.values_list("source", flat=True)) == [EventSource.PROVIDER]


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_parcel_17track_does_not_know_yet_gets_the_aliexpress_scans_through_the_workers(
    control: Any,  # noqa: F811
    track17: dict[str, Any],  # noqa: F811
    settings: Any,
) -> None:
    assert settings.SUPPLIER_TRACKING_FALLBACK_TASK == "suppliers.tracking_fallback_fetch"
    assert settings.SUPPLIER_EVENTS_MERGE_TASK == "tracking.supplier_events_merge"
    with running_worker(["suppliers", "tracking"]) as ran:
        order, supplier_order = placed(control, AE, name="ae-fallback-flow")
        shipped = control.supplier_ship(AE, sim_name(supplier_order), supplier_order.external_order_id)
        number = shipped["tracking_number"]
        # The simulated world does not move this parcel by itself: the test says who knows what.
        Parcel.objects.filter(number=number).update(
            fate=carriers.UNKNOWN_FATE, events=[], status="NotFound", sub_status="NotFound_Other"
        )
        shipment = hand_over(order, number, supplier_order_id=supplier_order.pk, register_now=True)
        assert Shipment.objects.get(pk=shipment.pk).registration_state == RegistrationState.REGISTERED
        Shipment.objects.filter(pk=shipment.pk).update(
            created_at=timezone.now() - timedelta(hours=7), next_poll_at=timezone.now()
        )

        # 17TRACK has nothing: the poll asks AliExpress, which has nothing either yet
        assert shipments_poll_due(provider=provider()).polled == 1
        assert wait_for(lambda: fetches_in(ran) == 1, timeout=60), ran
        assert not shipment.events.exists()

        # AliExpress's own tracking moves first; 17TRACK lags: the next ask brings the scans
        scanned = [
            {
                "time_utc": "2026-11-30T02:00:00Z",
                "description": "Accepted by carrier",
                "location": "Shenzhen, CN",
                "stage": "PickedUp",
                "sub_status": "InTransit_PickedUp",
            },
            {
                "time_utc": "2026-11-30T09:30:00Z",
                "description": "Departed from sorting center",
                "location": "Shenzhen, CN",
                "stage": "Departure",
                "sub_status": "InTransit_Departure",
            },
        ]
        Parcel.objects.filter(number=number).update(events=scanned)
        Shipment.objects.filter(pk=shipment.pk).update(fallback_asked_at=timezone.now() - timedelta(hours=13))
        assert shipments_fallback_ask(shipment_ids=[shipment.pk]) == [shipment.pk]
        assert wait_for(lambda: shipment.events.count() == 2, timeout=60), ran
        assert set(shipment.events.values_list("source", flat=True)) == {EventSource.SUPPLIER}
        assert sorted(shipment.events.values_list("description", flat=True)) == [
            "Accepted by carrier",
            "Departed from sorting center",
        ]
        shipment.refresh_from_db()
        assert shipment.tracking_status == TrackingStatus.NOT_FOUND
        assert shipment.last_event_description == "Departed from sorting center"

        # 17TRACK catches up: its status wins, and the supplier is not asked again
        Parcel.objects.filter(number=number).update(status="InTransit", sub_status="InTransit_Departure")
        Shipment.objects.filter(pk=shipment.pk).update(
            next_poll_at=timezone.now(), fallback_asked_at=timezone.now() - timedelta(hours=13)
        )
        assert shipments_poll_due(provider=provider()).polled == 1
        shipment.refresh_from_db()
        assert shipment.tracking_status == TrackingStatus.IN_TRANSIT
        assert shipment.last_event_at == datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
        assert shipment.events.filter(source=EventSource.PROVIDER).count() == 2
        assert shipments_fallback_ask(shipment_ids=[shipment.pk]) == []
        assert not wait_for(lambda: fetches_in(ran) > 2, timeout=2)
        assert fetches_in(ran) == 2
