"""POST /webhooks/17track/: the sandbox's signed pushes over real HTTP stored once and processed
by a real worker; a bad or missing sign → 401 and nothing stored; a body over 1 MB → 413;
duplicated and out-of-order pushes stored once and the parcel never moves back; malformed →
IGNORED with the reason; pending messages re-queued by beat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from orders.enums import SubStatus, TrackingStatus
from sandbox.clock import sim_now
from sandbox.webhooks import deliveries_send_due
from sandbox.world import world_tick
from tests.workers import running_worker, wait_for
from tracking.enums import RegistrationState, TrackingMessageState
from tracking.models import Shipment, TrackingEvent, TrackingMessage
from tracking.providers.track17.webhook import push_sign
from tracking.services.messages import MAX_BODY, tracking_message_process, tracking_messages_requeue
from tracking.services.registration import shipments_register
from tracking.tests.conftest import control, sandbox_url, webhook_receiver  # noqa: F401 - fixtures
from tracking.tests.flow import (  # noqa: F401
    SIM_ACCOUNT,
    hand_over,
    journey,
    paid_order,
    planned_parcel,
    provider,
    track17,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture
def hook_url(live_server: Any) -> str:
    return f"{live_server.url}{reverse('track17_webhook')}"


def post(url: str, body: bytes, sign: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if sign is not None:
        headers["sign"] = sign
    return requests.post(url, data=body, headers=headers, timeout=10)


def followed(track17_account: dict[str, Any], kind: str = "delivered", last: str = "Delivered_Other") -> Shipment:
    parcel = planned_parcel(kind, start=sim_now(), ends_with=last)
    shipment = hand_over(paid_order(name="Pushed merchant"), parcel.number)
    assert shipments_register(provider=provider()).registered == 1
    return shipment


@pytest.fixture
def tracking_worker() -> Iterator[list[tuple[str, str]]]:
    with running_worker(["tracking"]) as ran:
        yield ran


@pytest.mark.redis
@pytest.mark.celery_worker
def test_the_sandboxs_signed_pushes_are_stored_once_and_processed_by_the_worker(
    track17: dict[str, Any],  # noqa: F811
    control: Any,  # noqa: F811
    hook_url: str,
    tracking_worker: list[tuple[str, str]],
) -> None:
    control.webhook("17track", SIM_ACCOUNT, hook_url)
    shipment = followed(track17)
    steps = journey(shipment_parcel(shipment))

    world_tick(now=steps[2].at + timedelta(seconds=1))  # info received, picked up, departed
    assert deliveries_send_due() >= 1

    assert wait_for(lambda: TrackingMessage.objects.filter(state=TrackingMessageState.PROCESSED).exists()), (
        tracking_worker
    )
    shipment.refresh_from_db()
    assert (shipment.provider_sub_status, shipment.tracking_status) == (
        "InTransit_Departure",
        TrackingStatus.IN_TRANSIT,
    )
    assert shipment.events.count() == 3
    assert shipment.last_pushed_at is not None
    assert shipment.order.sub_status == SubStatus.IN_TRANSIT
    assert shipment.next_poll_at is not None
    assert shipment.next_poll_at > timezone.now() + timedelta(hours=12)

    message = TrackingMessage.objects.get()
    again = post(hook_url, bytes(message.body), push_sign(bytes(message.body), track17["credentials"]["token"]))
    assert again.status_code == 200
    assert "Set-Cookie" not in again.headers  # no session
    assert TrackingMessage.objects.count() == 1  # a repeat is one row


def shipment_parcel(shipment: Shipment) -> Any:
    from sandbox.models import Parcel

    return Parcel.objects.get(number=shipment.tracking_number)


def test_duplicated_and_out_of_order_pushes_are_stored_once_and_never_move_the_parcel_back(
    track17: dict[str, Any],  # noqa: F811
    control: Any,  # noqa: F811
    hook_url: str,
    webhook_receiver: Any,  # noqa: F811
) -> None:
    control.webhook("17track", SIM_ACCOUNT, webhook_receiver.url + "/17track")
    shipment = followed(track17)
    steps = journey(shipment_parcel(shipment))
    bodies = []
    for step in (steps[1], steps[-1]):  # picked up, then delivered
        world_tick(now=step.at + timedelta(seconds=1))
        deliveries_send_due()
        bodies.append(webhook_receiver.wait_for(len(bodies) + 1)[-1])
    early, late = bodies
    key = track17["credentials"]["token"]

    for received in (late, early, late, early):  # out of order, each twice
        response = post(hook_url, received.body, received.headers["sign"])
        assert response.status_code == 200, response.text
    for message in TrackingMessage.objects.order_by("id"):
        tracking_message_process(message_id=message.pk)

    assert TrackingMessage.objects.count() == 2
    assert set(TrackingMessage.objects.values_list("state", flat=True)) == {TrackingMessageState.PROCESSED}
    shipment.refresh_from_db()
    assert shipment.tracking_status == TrackingStatus.DELIVERED
    assert shipment.order.sub_status == SubStatus.DELIVERED
    assert TrackingEvent.objects.filter(shipment=shipment).count() == len([s for s in steps if s.description])
    assert shipment.registration_state == RegistrationState.STOPPED  # terminal: stopped at 17TRACK
    assert shipment.next_poll_at is None
    assert push_sign(late.body, key) == late.headers["sign"]


def test_a_bad_or_missing_sign_is_401_and_nothing_is_stored(track17: dict[str, Any], hook_url: str) -> None:  # noqa: F811
    body = json.dumps({"event": "TRACKING_UPDATED", "data": {"number": "YT1"}}).encode()
    key = track17["credentials"]["token"]

    assert post(hook_url, body, None).status_code == 401
    assert post(hook_url, body, "0" * 64).status_code == 401
    assert post(hook_url, body, push_sign(body, key + "x")).status_code == 401
    assert post(hook_url, body + b" ", push_sign(body, key)).status_code == 401
    assert requests.get(hook_url, timeout=10).status_code == 405
    big = b"{" + b" " * MAX_BODY + b"}"
    assert post(hook_url, big, push_sign(big, key)).status_code == 413
    assert not TrackingMessage.objects.exists()


def test_malformed_and_unfollowed_pushes_are_ignored_with_the_reason(
    track17: dict[str, Any],  # noqa: F811
    hook_url: str,
) -> None:
    key = track17["credentials"]["token"]
    bodies = {
        "not json": b"{not json",
        "no data": json.dumps({"event": "TRACKING_UPDATED"}).encode(),
        "unfollowed": json.dumps(
            {
                "event": "TRACKING_UPDATED",
                "data": {"number": "YT9999999999999999", "carrier": 190008, "track_info": None},
            }
        ).encode(),
        "other event": json.dumps({"event": "SOMETHING_ELSE", "data": {}}).encode(),
    }
    for body in bodies.values():
        assert post(hook_url, body, push_sign(body, key)).status_code == 200

    states = {}
    for name, body in bodies.items():
        message = TrackingMessage.objects.get(body=body)
        assert tracking_message_process(message_id=message.pk) == TrackingMessageState.IGNORED
        message.refresh_from_db()
        states[name] = message.error
        assert message.processed_at is not None
        assert tracking_message_process(message_id=message.pk) == ""  # done: left alone
    assert "JSON" in states["not json"] or "json" in states["not json"]
    assert "data" in states["no data"]
    assert "YT9999999999999999" in states["unfollowed"]
    assert states["other event"]


def test_pending_messages_older_than_a_few_minutes_are_requeued(track17: dict[str, Any], hook_url: str) -> None:  # noqa: F811
    key = track17["credentials"]["token"]
    body = json.dumps({"event": "TRACKING_UPDATED", "data": {}}).encode()
    assert post(hook_url, body, push_sign(body, key)).status_code == 200
    message = TrackingMessage.objects.get()

    assert tracking_messages_requeue() == []  # just received
    TrackingMessage.objects.filter(pk=message.pk).update(received_at=timezone.now() - timedelta(minutes=10))
    assert tracking_messages_requeue() == [message.pk]
    tracking_message_process(message_id=message.pk)
    assert tracking_messages_requeue() == []


def test_nul_characters_in_a_signed_push_are_no_crash(track17: dict[str, Any], hook_url: str) -> None:  # noqa: F811
    shipment = hand_over(paid_order(name="NUL merchant"), "YT0000000000000100")
    Shipment.objects.filter(pk=shipment.pk).update(registration_state=RegistrationState.REGISTERED)
    key = track17["credentials"]["token"]
    event = {
        "time_utc": "2026-11-30T10:00:00Z",
        "description": "Scan\u0000ned",
        "location": "A\u0000",
        "sub_status": "",
    }

    def push(number: str) -> bytes:
        info = {
            "latest_status": {"status": "In\u0000Transit", "sub_status": "InTransit_\u0000Other"},
            "tracking": {"providers": [{"provider": {"key": 190008, "name": "Yun\u0000"}, "events": [event]}]},
        }
        return json.dumps({"event": "TRACKING_UPDATED", "data": {"number": number, "track_info": info}}).encode()

    followed_body, unknown_body = push(shipment.tracking_number), push("YT\u00000000000000100")
    for body in (followed_body, unknown_body):
        assert post(hook_url, body, push_sign(body, key)).status_code == 200
    states = [
        tracking_message_process(message_id=TrackingMessage.objects.get(body=body).pk)
        for body in (followed_body, unknown_body)
    ]

    assert states == [TrackingMessageState.PROCESSED, TrackingMessageState.IGNORED]
    shipment.refresh_from_db()
    assert "\x00" not in shipment.provider_status + shipment.provider_sub_status + shipment.last_event_description
    assert shipment.events.count() == 1
