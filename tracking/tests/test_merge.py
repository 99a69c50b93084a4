"""Merging what 17TRACK says into shipments, timelines and orders: parcels polled through every
sub-status to the door as the sandbox clock moves (over real HTTP), an unknown status kept,
out-of-order and repeated infos, a number in two accounts, constant queries per batch."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.enums import OrderStatus, SubStatus, TrackingStatus
from sandbox.clock import sim_now
from sandbox.world import world_tick
from tracking.enums import RegistrationState
from tracking.models import Shipment, TrackingEvent
from tracking.providers.base import TrackEvent, TrackInfo
from tracking.services.merge import POLL, WEBHOOK, next_poll_at, track_infos_merge
from tracking.services.polling import shipments_poll_due
from tracking.services.registration import shipments_register
from tracking.tests.conftest import control, sandbox_url  # noqa: F401 - fixtures
from tracking.tests.flow import hand_over, journey, paid_order, planned_parcel, provider, track17  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

T, S = TrackingStatus, SubStatus

# (fate, the journey's last sub-status, the order's sub-status at the end, stopped at the end)
FATES = [
    ("delivered", "Delivered_Other", S.DELIVERED, True),
    ("pickup", "AvailableForPickup_Other", S.PICKUP, False),
    ("failed_attempt", "DeliveryFailure_NoBody", S.FAILED, False),
    ("exception", "Exception_Lost", S.FAILED, True),
    ("exception", "Exception_Damage", S.FAILED, False),
]


def test_parcels_polled_through_every_sub_status_to_the_door(track17: dict[str, Any]) -> None:  # noqa: F811
    start = sim_now()
    parcels = [planned_parcel(kind, start=start, ends_with=last) for kind, last, _, _ in FATES]
    shipments = [hand_over(paid_order(name=f"Merchant {i}"), parcel.number) for i, parcel in enumerate(parcels)]
    assert {(s.order.status, s.order.sub_status) for s in shipments} == {(OrderStatus.SHIPMENT, S.AWAITING_SHIPMENT)}

    registered = shipments_register(provider=provider())
    assert (registered.registered, registered.calls) == (len(parcels), 1)

    seen: dict[int, list[str]] = {s.pk: [] for s in shipments}
    order_seen: dict[int, list[str]] = {s.pk: [] for s in shipments}
    times = sorted({step.at for parcel in parcels for step in journey(parcel)})
    for at in times:
        control_advance = max(0.0, (at - sim_now()).total_seconds()) + 1
        track17_clock(control_advance)
        Shipment.objects.exclude(next_poll_at=None).update(next_poll_at=timezone.now())  # time passes: due
        outcome = shipments_poll_due(provider=provider())
        assert outcome.rate_limited is None
        for row in Shipment.objects.select_related("order"):
            if seen[row.pk][-1:] != [row.provider_sub_status]:
                seen[row.pk].append(row.provider_sub_status)
            if order_seen[row.pk][-1:] != [row.order.sub_status]:
                order_seen[row.pk].append(row.order.sub_status)

    for shipment, parcel, (_, _, final, stopped) in zip(shipments, parcels, FATES, strict=True):
        steps = journey(parcel)
        expected = [s.sub_status for i, s in enumerate(steps) if i == 0 or steps[i - 1].sub_status != s.sub_status]
        assert [sub for sub in seen[shipment.pk] if sub != "NotFound_Other"] == expected  # every step, in order
        row = Shipment.objects.select_related("order").get(pk=shipment.pk)
        assert (row.order.status, row.order.sub_status) == (OrderStatus.SHIPMENT, final)
        assert row.sub_status == final
        assert row.events.count() == len([s for s in steps if s.description])
        assert row.last_event_description == [s.description for s in steps if s.description][-1]
        assert row.carrier_name == "YunExpress"
        assert (row.registration_state == RegistrationState.STOPPED) == stopped
        assert (row.next_poll_at is None) == stopped
        assert order_seen[shipment.pk][0] == S.AWAITING_SHIPMENT
        assert S.IN_TRANSIT in order_seen[shipment.pk]


_control: list[Any] = []


@pytest.fixture(autouse=True)
def _keep_control(control: Any) -> None:  # noqa: F811
    _control[:] = [control]


def track17_clock(seconds: float) -> None:
    _control[0].clock(advance_seconds=seconds)
    world_tick()


# --- Merge on its own (infos as the provider layer returns them) ------------------------------


def event(at: Any, text: str, sub: str = "InTransit_Other", status: T = T.IN_TRANSIT) -> TrackEvent:
    return TrackEvent(
        time=at, description=text, location="Austin, TX, US", provider_status="", provider_sub_status=sub, status=status
    )


def info(number: str, *events: TrackEvent, main: str = "InTransit", sub: str = "InTransit_Other") -> TrackInfo:
    status = {"InTransit": T.IN_TRANSIT, "Delivered": T.DELIVERED}.get(main, T.UNKNOWN)
    return TrackInfo(
        number=number,
        carrier_code=190008,
        carrier_name="YunExpress",
        provider_status=main,
        provider_sub_status=sub,
        status=status,
        latest_event_at=events[-1].time if events else None,
        events=events,
    )


def registered(number: str, **order: Any) -> Shipment:
    shipment = hand_over(paid_order(**order), number)
    Shipment.objects.filter(pk=shipment.pk).update(
        registration_state=RegistrationState.REGISTERED, registered_at=timezone.now()
    )
    return Shipment.objects.get(pk=shipment.pk)


def test_an_unknown_provider_status_is_kept_counted_and_never_a_crash() -> None:
    shipment = registered("YT0000000000000001")
    now = timezone.now()
    odd = info(shipment.tracking_number, event(now, "Teleported"), main="Teleported", sub="Teleported_Somewhere")

    result = track_infos_merge([odd], source=POLL)

    shipment.refresh_from_db()
    assert result.unknown_statuses == 1
    assert (shipment.tracking_status, shipment.provider_status, shipment.provider_sub_status) == (
        T.UNKNOWN,
        "Teleported",
        "Teleported_Somewhere",
    )
    assert shipment.order.sub_status == S.IN_TRANSIT
    assert shipment.next_poll_at is not None


def test_out_of_order_and_repeated_infos_are_stored_once_and_never_move_back() -> None:
    shipment = registered("YT0000000000000002")
    t0 = timezone.now() - timedelta(days=3)
    early = info(shipment.tracking_number, event(t0, "Picked up"), event(t0 + timedelta(hours=5), "Departed"))
    late = info(
        shipment.tracking_number,
        *early.events,
        event(t0 + timedelta(days=2), "Delivered", "Delivered_Other", T.DELIVERED),
        main="Delivered",
        sub="Delivered_Other",
    )

    first = track_infos_merge([late], source=WEBHOOK)
    older = track_infos_merge([early], source=WEBHOOK)
    again = track_infos_merge([late, late], source=WEBHOOK)

    shipment.refresh_from_db()
    assert (first.events_inserted, older.events_inserted, again.events_inserted) == (3, 0, 0)
    assert (older.updated, older.stale) == (0, 1)
    assert shipment.tracking_status == T.DELIVERED
    assert shipment.last_event_description == "Delivered"
    assert shipment.order.sub_status == S.DELIVERED
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 3
    assert first.to_stop == [shipment.tracking_number]
    assert shipment.last_pushed_at is not None


def test_a_number_in_two_accounts_updates_each_accounts_row() -> None:
    a = registered("YT0000000000000003", name="Merchant A")
    b = registered("YT0000000000000003", name="Merchant B")
    now = timezone.now()

    result = track_infos_merge([info(a.tracking_number, event(now, "Arrived at facility"))], source=POLL)

    assert (result.shipments, result.updated, result.events_inserted) == (2, 2, 2)
    for row in Shipment.objects.filter(pk__in=[a.pk, b.pk]).select_related("order"):
        assert (row.tracking_status, row.order.sub_status) == (T.IN_TRANSIT, S.IN_TRANSIT)


def test_a_number_we_do_not_follow_is_reported_unmatched() -> None:
    result = track_infos_merge([info("ZZ123", event(timezone.now(), "x"))], source=WEBHOOK)
    assert (result.shipments, result.unmatched) == (0, ["ZZ123"])


def test_queries_are_constant_per_batch_and_bulk_at_scale() -> None:
    account_order = paid_order(name="Bulk merchant")
    t0 = timezone.now() - timedelta(days=5)

    def batch(count: int, events_each: int, prefix: str) -> list[TrackInfo]:
        infos = []
        for n in range(count):
            number = f"{prefix}{n:014d}"
            order = account_order if prefix == "YA" else paid_order(account_order.account)
            shipment = hand_over(order, number)
            Shipment.objects.filter(pk=shipment.pk).update(registration_state=RegistrationState.REGISTERED)
            evs = tuple(event(t0 + timedelta(minutes=m), f"Scan {m}") for m in range(events_each))
            infos.append(info(number, *evs))
        return infos

    one, forty = batch(1, 150, "YA"), batch(40, 150, "YB")
    with CaptureQueriesContext(connection) as small:
        track_infos_merge(one, source=POLL)
    with CaptureQueriesContext(connection) as large:
        result = track_infos_merge(forty, source=POLL)

    assert result.events_inserted == 6000
    assert result.orders_moved == 40
    # the same statements, but the event INSERTs: one per 2,000 events (150 vs 6,000 here)
    assert len(large.captured_queries) == len(small.captured_queries) + 2


def test_next_poll_at_is_sooner_near_the_door_later_when_quiet_and_rarer_with_webhooks() -> None:
    now = timezone.now()

    def after(status: T, *, source: str = POLL, last: Any = None, registered_at: Any = None) -> timedelta | None:
        at = next_poll_at(
            status=status, terminal=False, now=now, source=source, registered_at=registered_at, last_event_at=last
        )
        return None if at is None else at - now

    near = after(T.OUT_FOR_DELIVERY, last=now)
    just = after(T.NOT_FOUND, registered_at=now - timedelta(minutes=5))
    moving = after(T.IN_TRANSIT, last=now - timedelta(hours=3))
    quiet = after(T.IN_TRANSIT, last=now - timedelta(days=4))
    pushed = after(T.IN_TRANSIT, last=now - timedelta(days=4), source=WEBHOOK)
    assert near is not None
    assert just is not None
    assert moving is not None
    assert quiet is not None
    assert pushed is not None
    assert near < moving < quiet < pushed
    assert just < moving
    assert quiet >= timedelta(hours=6)
    assert pushed >= 2 * quiet
    terminal = next_poll_at(
        status=T.DELIVERED, terminal=True, now=now, source=POLL, registered_at=None, last_event_at=now
    )
    assert terminal is None


def test_a_stopped_push_stops_the_shipment() -> None:
    shipment = registered("YT0000000000000004")
    stopped = replace(info(shipment.tracking_number, event(timezone.now(), "Scan")), stopped=True)

    result = track_infos_merge([stopped], source=WEBHOOK)

    shipment.refresh_from_db()
    assert result.to_stop == []
    assert (shipment.registration_state, shipment.next_poll_at) == (RegistrationState.STOPPED, None)
