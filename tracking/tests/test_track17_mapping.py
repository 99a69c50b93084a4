"""17TRACK's statuses onto ours, the tracking JSON reader, and the webhook push (sign, parse):
pure functions, no database, no HTTP. Hostile bodies give ``MalformedPayload``, never a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.errors import HostNotAllowed, MalformedPayload
from integrations.hosts import check_url
from orders.enums import TrackingStatus
from tracking.providers.track17 import mapping
from tracking.providers.track17.client import TRACK17_API
from tracking.providers.track17.payload import track_info_of
from tracking.providers.track17.webhook import push_event, push_parse, push_sign, push_verify

T = TrackingStatus
# Written out from help.17track.net "Understanding Tracking Status" (9 main, 30 sub) and the
# order center's tabs: In Transit includes out for delivery, Pickup = available for pickup,
# Failed = delivery failure and every exception.
EXPECTED_MAIN = {
    "NotFound": T.NOT_FOUND,
    "InfoReceived": T.INFO_RECEIVED,
    "InTransit": T.IN_TRANSIT,
    "Expired": T.EXPIRED,
    "AvailableForPickup": T.AVAILABLE_FOR_PICKUP,
    "OutForDelivery": T.OUT_FOR_DELIVERY,
    "DeliveryFailure": T.DELIVERY_FAILURE,
    "Delivered": T.DELIVERED,
    "Exception": T.EXCEPTION,
}
EXPECTED_SUB = {
    "NotFound_Other": T.NOT_FOUND,
    "NotFound_InvalidCode": T.NOT_FOUND,
    "InfoReceived": T.INFO_RECEIVED,
    "InTransit_PickedUp": T.IN_TRANSIT,
    "InTransit_Other": T.IN_TRANSIT,
    "InTransit_Departure": T.IN_TRANSIT,
    "InTransit_Arrival": T.IN_TRANSIT,
    "InTransit_CustomsProcessing": T.IN_TRANSIT,
    "InTransit_CustomsReleased": T.IN_TRANSIT,
    "InTransit_CustomsRequiringInformation": T.IN_TRANSIT,
    "Expired_Other": T.EXPIRED,
    "AvailableForPickup_Other": T.AVAILABLE_FOR_PICKUP,
    "OutForDelivery_Other": T.OUT_FOR_DELIVERY,
    "DeliveryFailure_Other": T.DELIVERY_FAILURE,
    "DeliveryFailure_NoBody": T.DELIVERY_FAILURE,
    "DeliveryFailure_Security": T.DELIVERY_FAILURE,
    "DeliveryFailure_Rejected": T.DELIVERY_FAILURE,
    "DeliveryFailure_InvalidAddress": T.DELIVERY_FAILURE,
    "Delivered_Other": T.DELIVERED,
    "Exception_Other": T.EXCEPTION,
    "Exception_Returning": T.EXCEPTION,
    "Exception_Returned": T.EXCEPTION,
    "Exception_NoBody": T.EXCEPTION,
    "Exception_Security": T.EXCEPTION,
    "Exception_Damage": T.EXCEPTION,
    "Exception_Rejected": T.EXCEPTION,
    "Exception_Delayed": T.EXCEPTION,
    "Exception_Lost": T.EXCEPTION,
    "Exception_Destroyed": T.EXCEPTION,
    "Exception_Cancel": T.EXCEPTION,
}


def test_the_tables_hold_exactly_17tracks_9_main_and_30_sub_statuses() -> None:
    assert set(mapping.MAIN_STATUSES) == set(EXPECTED_MAIN)
    assert set(mapping.SUB_STATUSES) == set(EXPECTED_SUB)
    assert len(EXPECTED_SUB) == 30
    assert set(mapping.SUB_STATUSES.values()) == set(EXPECTED_MAIN)


@pytest.mark.parametrize(("main", "expected"), EXPECTED_MAIN.items())
def test_every_main_status(main: str, expected: TrackingStatus) -> None:
    assert mapping.status_of(main) == expected


@pytest.mark.parametrize(("sub", "expected"), EXPECTED_SUB.items())
def test_every_sub_status_with_its_main_and_alone(sub: str, expected: TrackingStatus) -> None:
    main = mapping.main_of_sub_status(sub)
    assert EXPECTED_MAIN[main] == expected
    assert mapping.status_of(main, sub) == expected
    assert mapping.status_of("", sub) == expected  # an event: only its sub-status


@pytest.mark.parametrize(
    ("main", "sub", "expected"),
    [
        ("Teleported", "Teleported_ToMars", T.UNKNOWN),  # neither known
        ("", "", T.UNKNOWN),  # nothing said
        ("", "InTransit_SomethingNew", T.IN_TRANSIT),  # a new sub-status of a known main status
        ("Teleported", "Delivered_Other", T.DELIVERED),  # an unknown main, a known sub-status
        ("Delivered", "Exception_Lost", T.DELIVERED),  # they disagree: the main status decides
        ("delivered", "", T.UNKNOWN),  # case matters: 17TRACK's words are exact
    ],
)
def test_statuses_we_do_not_know(main: str, sub: str, expected: TrackingStatus) -> None:
    assert mapping.status_of(main, sub) == expected


def test_terminal_statuses() -> None:
    assert mapping.is_terminal("Delivered", "Delivered_Other")
    assert mapping.is_terminal("Expired", "Expired_Other")
    assert mapping.is_terminal("Exception", "Exception_Returned")
    assert mapping.is_terminal("Exception", "Exception_Lost")
    assert not mapping.is_terminal("Exception", "Exception_Returning")
    assert not mapping.is_terminal("DeliveryFailure", "DeliveryFailure_NoBody")
    assert not mapping.is_terminal("InTransit", "InTransit_Arrival")
    assert not mapping.is_terminal("Teleported", "")


# --- The tracking JSON ---------------------------------------------------------------------


def event(time_utc: str | None, sub_status: str | None, description: str = "scan", **more: Any) -> dict[str, Any]:
    return {
        "time_iso": None,
        "time_utc": time_utc,
        "description": description,
        "location": "Los Angeles, CA, US",
        "stage": None,
        "sub_status": sub_status,
        **more,
    }


def item(**track_info: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "latest_status": {"status": "InTransit", "sub_status": "InTransit_Arrival", "sub_status_descr": None},
        "latest_event": event("2026-03-02T10:00:00Z", "InTransit_Arrival", "Arrived"),
        "tracking": {
            "providers_hash": 1,
            "providers": [
                {
                    "provider": {"key": 190008, "name": "YunExpress"},
                    "events": [  # newest first, as 17TRACK lists them
                        event("2026-03-02T10:00:00Z", "InTransit_Arrival", "Arrived"),
                        event("2026-03-01T08:30:00Z", "InTransit_PickedUp", "Picked up"),
                    ],
                },
                {
                    "provider": {"key": 21051, "name": "USPS"},
                    "events": [
                        event("2026-03-02T10:00:00Z", "InTransit_Arrival", "Arrived"),  # the same scan again
                        event("2026-03-01T02:00:00+08:00", "InfoReceived", "Label created"),
                    ],
                },
            ],
        },
    }
    info.update(track_info)
    return {"number": " yt1234567890123456 ", "carrier": 190008, "param": None, "tag": "order-1001", "track_info": info}


def test_a_tracking_item_read_in_full() -> None:
    info = track_info_of(item())

    assert (info.number, info.carrier_code, info.carrier_name, info.tag) == (
        "YT1234567890123456",
        190008,
        "YunExpress",
        "order-1001",
    )
    assert (info.provider_status, info.provider_sub_status, info.status) == (
        "InTransit",
        "InTransit_Arrival",
        T.IN_TRANSIT,
    )
    assert [(e.time, e.provider_sub_status, e.status) for e in info.events] == [
        (datetime(2026, 2, 28, 18, 0, tzinfo=UTC), "InfoReceived", T.INFO_RECEIVED),
        (datetime(2026, 3, 1, 8, 30, tzinfo=UTC), "InTransit_PickedUp", T.IN_TRANSIT),
        (datetime(2026, 3, 2, 10, 0, tzinfo=UTC), "InTransit_Arrival", T.IN_TRANSIT),
    ]
    assert all(e.time.tzinfo is UTC for e in info.events)
    assert info.events[1].provider_status == "InTransit"
    assert info.latest_event_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert not info.stopped


def test_an_unknown_status_is_kept_as_received() -> None:
    info = track_info_of(
        item(
            latest_status={"status": "Teleported", "sub_status": "Teleported_ToMars"},
            latest_event=None,
            tracking={
                "providers": [{"provider": None, "events": [event("2026-03-03T00:00:00Z", "Teleported_ToMars")]}]
            },
        )
    )

    assert (info.provider_status, info.provider_sub_status, info.status) == (
        "Teleported",
        "Teleported_ToMars",
        T.UNKNOWN,
    )
    (only,) = info.events
    assert (only.provider_status, only.provider_sub_status, only.status) == (
        "Teleported",
        "Teleported_ToMars",
        T.UNKNOWN,
    )


def test_nothing_known_yet() -> None:
    registered = track_info_of({"number": "RR123456789CN", "carrier": 3011, "track_info": None})
    empty = track_info_of(
        item(latest_status={"status": "NotFound", "sub_status": "NotFound_Other"}, latest_event=None, tracking=None)
    )

    assert (registered.status, registered.events, registered.latest_event_at) == (T.NOT_FOUND, (), None)
    assert (empty.status, empty.events, empty.latest_event_at) == (T.NOT_FOUND, (), None)


def test_text_from_the_carrier_is_sanitised_and_capped() -> None:
    long = "<b>Arrived</b>\x00 at   " + "x" * 1000
    info = track_info_of(
        item(tracking={"providers": [{"events": [event("2026-03-03T00:00:00Z", "InTransit_Other", long)]}]})
    )

    (only,) = info.events
    assert only.description.startswith("Arrived at xxx")
    assert len(only.description) <= 500


HOSTILE_ITEMS: list[tuple[str, Any, str]] = [
    ("not an object", ["RR123456789CN"], "is not an object"),
    ("no number", {"carrier": 3011, "track_info": None}, "'number'"),
    ("number not text", {"number": 12345678, "track_info": None}, "'number'"),
    ("number too long", {"number": "A" * 65, "track_info": None}, "longer than 64"),
    ("track_info not an object", {"number": "RR123456789CN", "track_info": "Delivered"}, "'track_info'"),
    ("latest_status not an object", item(latest_status=["Delivered"]), "'latest_status'"),
    ("status not text", item(latest_status={"status": 40, "sub_status": None}), "'status' is not text"),
    ("providers not a list", item(tracking={"providers": {"events": []}}), "'providers' is not a list"),
    ("provider not an object", item(tracking={"providers": ["USPS"]}), "providers[0] is not an object"),
    ("events not a list", item(tracking={"providers": [{"events": "none"}]}), "'events' is not a list"),
]

# An unreadable event is left out and counted, not a reason to refuse the item (review 7).
HOSTILE_EVENTS: list[tuple[str, Any, str]] = [
    ("event not an object", item(tracking={"providers": [{"events": [7]}]}), "events[0] is not an object"),
    (
        "event without a time",
        item(tracking={"providers": [{"events": [event(None, "InTransit_Other")]}]}),
        "no 'time_utc'",
    ),
    (
        "event time not a time",
        item(tracking={"providers": [{"events": [event("yesterday", "InTransit_Other")]}]}),
        "not an ISO 8601 time",
    ),
    (
        "event time without an offset",
        item(tracking={"providers": [{"events": [event("2026-03-03T00:00:00", "InTransit_Other")]}]}),
        "no UTC offset",
    ),
    (
        "description not text",
        item(tracking={"providers": [{"events": [event("2026-03-03T00:00:00Z", "InTransit_Other", {"x": 1})]}]}),  # type: ignore[arg-type]
        "'description' is not text",
    ),
    ("latest_event without a time", item(latest_event={"description": "x"}), "latest_event: no 'time_utc'"),
]


@pytest.mark.parametrize(("case", "body", "said"), HOSTILE_ITEMS, ids=[case for case, _, _ in HOSTILE_ITEMS])
def test_hostile_tracking_items(case: str, body: Any, said: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        track_info_of(body)
    assert said in str(caught.value)


@pytest.mark.parametrize(("case", "body", "said"), HOSTILE_EVENTS, ids=[case for case, _, _ in HOSTILE_EVENTS])
def test_hostile_events_are_left_out_and_counted(case: str, body: Any, said: str) -> None:
    info = track_info_of(body)
    assert info.dropped_events == 1
    assert said in info.dropped_reason
    assert info.number == "YT1234567890123456"


# --- The webhook push ----------------------------------------------------------------------


def test_push_sign_is_sha256_of_body_slash_key() -> None:
    # The sandbox's fixed vector (sandbox/tests/test_track17_api.py), computed independently there.
    body = b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CN"}}'
    sign = "7753cbc3f4b682fa9fd41b1ae00375230131d2f7ee3df64ebc9a28d474281ba6"

    assert push_sign(body, "ABC123") == sign
    assert push_verify(body, "ABC123", sign)
    assert push_verify(body, "ABC123", f" {sign.upper()} ")  # hex is hex, whatever the case


@pytest.mark.parametrize(
    ("body", "key", "sign"),
    [
        (b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CN"}} ', "ABC123", "tampered body"),
        (b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CN"}}', "ABC124", "another key"),
        (b'{"event":"TRACKING_UPDATED","data":{"number":"RR123456789CN"}}', "", "no key"),
    ],
)
def test_push_verify_refuses_a_sign_that_does_not_match(body: bytes, key: str, sign: str) -> None:
    good = "7753cbc3f4b682fa9fd41b1ae00375230131d2f7ee3df64ebc9a28d474281ba6"
    assert not push_verify(body, key, good)


@pytest.mark.parametrize("sign", [None, "", "   ", "7753cbc3", "é" * 64, "0" * 64])
def test_push_verify_refuses_missing_short_and_garbage_signs(sign: str | None) -> None:
    assert not push_verify(b'{"event":"TRACKING_UPDATED"}', "ABC123", sign)


def push(event_name: str, data: Any) -> bytes:
    return json.dumps({"event": event_name, "data": data}).encode()


def test_push_parse_tracking_updated_and_stopped() -> None:
    (updated,) = push_parse(push("TRACKING_UPDATED", item()))
    (stopped,) = push_parse(push("TRACKING_STOPPED", item()))

    assert (updated.number, updated.status, len(updated.events), updated.stopped) == (
        "YT1234567890123456",
        T.IN_TRANSIT,
        3,
        False,
    )
    assert stopped.stopped
    assert push_event(push("TRACKING_STOPPED", item())) == "TRACKING_STOPPED"


def test_push_parse_an_event_we_do_not_know_reports_nothing() -> None:
    assert push_parse(push("SOMETHING_NEW", {"anything": True})) == []


HOSTILE_PUSHES: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not JSON", b"{not json"),
    ("not UTF-8", b'{"event":"\xff"}'),
    ("a list", b"[1, 2]"),
    ("nested too deeply", b"[" * 100_000 + b"]" * 100_000),
    ("no event", json.dumps({"data": item()}).encode()),
    ("event not text", json.dumps({"event": 3, "data": item()}).encode()),
    ("no data", json.dumps({"event": "TRACKING_UPDATED"}).encode()),
    ("data text", push("TRACKING_UPDATED", "RR123456789CN")),
    ("data empty list", push("TRACKING_UPDATED", [])),
    ("data list of text", push("TRACKING_UPDATED", ["RR123456789CN"])),
    ("data without number", push("TRACKING_UPDATED", {"track_info": None})),
    ("bad provider inside", push("TRACKING_UPDATED", item(tracking={"providers": [5]}))),
]


@pytest.mark.parametrize(("case", "body"), HOSTILE_PUSHES, ids=[case for case, _ in HOSTILE_PUSHES])
def test_hostile_pushes_are_malformed_payloads(case: str, body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        push_parse(body)


def test_a_push_with_a_bad_event_inside_keeps_the_others() -> None:
    body = push("TRACKING_UPDATED", item(tracking={"providers": [{"events": [{"time_utc": 5}]}]}))
    (info,) = push_parse(body)
    assert (info.dropped_events, info.events) == (1, ())
    assert "not an ISO 8601 time" in info.dropped_reason


# --- The host policy -----------------------------------------------------------------------


def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]  # a public address, whatever the name (no DNS in this test)


def test_only_17tracks_host_is_called_outside_the_sandbox() -> None:
    url = "https://api.17track.net/track/v2.2/register"
    target = check_url(url, TRACK17_API, base=False, allow_loopback=False, resolver=public)

    assert (target.host, target.path) == ("api.17track.net", "/track/v2.2/register")
    for url in (
        "https://api.17track.net.evil.example/track/v2.2/register",
        "https://evil.example/track/v2.2/register",
        "http://api.17track.net/track/v2.2/register",
        "https://api.17track.net:8443/track/v2.2/register",
    ):
        with pytest.raises(HostNotAllowed):
            check_url(url, TRACK17_API, base=False, allow_loopback=False, resolver=public)
