"""17TRACK v2.2 against the sandbox over real HTTP: register in batches of 40, already-registered
counted as accepted, poll a parcel through every status the simulated carriers produce as the
sandbox clock moves, stop, quota, a signed push verified and read, and every failure typed
(429 → RateLimited, 5xx → retryable, a cut-short body → MalformedPayload, a bad key)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from integrations.errors import CredentialsError, MalformedPayload, ProviderError, RateLimited
from orders.enums import TrackingStatus
from sandbox.clock import sim_now
from sandbox.models import Parcel
from sandbox.sim import carriers
from sandbox.tests.conftest import SANDBOX_LIVE_DB, Control
from sandbox.webhooks import deliveries_send_due
from sandbox.world import world_tick
from tracking.providers.base import REGISTRY, Registration
from tracking.providers.track17 import Track17Provider
from tracking.providers.track17.webhook import push_parse, push_verify

pytestmark = [SANDBOX_LIVE_DB, pytest.mark.postgres]

T = TrackingStatus
ACCOUNT = "zopi-tracker"


@pytest.fixture
def account(control: Control) -> dict[str, Any]:
    return control.account("17track", ACCOUNT)


@pytest.fixture
def connect(account: dict[str, Any]) -> Any:
    def make(**options: Any) -> Track17Provider:
        options.setdefault("api_key", account["credentials"]["token"])
        options.setdefault("sleep", lambda seconds: None)
        return Track17Provider(base_url=account["base_url"], **options)

    return make


def calls(provider: Track17Provider, endpoint: str) -> int:
    return sum(1 for attempt in provider.client.attempts if attempt.path.endswith(f"/{endpoint}"))


def china_post(n: int) -> str:
    return f"RR{n:09d}CN"


def test_registered_and_settings_default(settings: Any) -> None:
    settings.TRACK17_API_URL, settings.TRACK17_API_KEY = "https://api.17track.net/track/v2.2/", "KEY"
    provider = Track17Provider()

    assert REGISTRY["track17"] is Track17Provider
    assert (provider.base_url, provider.api_key) == ("https://api.17track.net/track/v2.2", "KEY")


def test_register_85_numbers_takes_3_calls_and_a_repeat_is_accepted(connect: Any, control: Control) -> None:
    provider = connect()
    numbers = [china_post(n) for n in range(85)]
    items = [Registration(n, tag=f"order-{i}") for i, n in enumerate(numbers)]
    items += [Registration(f" {numbers[0].lower()} "), Registration("ZZ-12345-?")]  # a repeat, an undetectable one

    first = provider.register(items)
    again = connect().register([Registration(numbers[3]), Registration(numbers[84], carrier_code=3011)])

    assert calls(provider, "register") == 3  # 40 + 40 + 6 (the repeat is sent once)
    assert first.accepted_numbers == tuple(numbers)
    assert {a.carrier_code for a in first.accepted} == {3011}
    assert not any(a.already for a in first.accepted)
    (rejected,) = first.rejected
    assert (rejected.number, rejected.code) == ("ZZ-12345-?", "-18019903")
    assert "carrier" in rejected.reason
    assert [(a.number, a.already) for a in again.accepted] == [(numbers[3], True), (numbers[84], True)]
    assert again.rejected == ()
    assert control.options("17track", ACCOUNT)["quota_used"] == 85


def test_quota_and_its_exhaustion(connect: Any, control: Control) -> None:
    control.options("17track", ACCOUNT, quota_total=45)
    provider = connect()

    before = provider.quota()
    result = provider.register([Registration(china_post(n)) for n in range(50)])
    after = provider.quota()

    assert (before.total, before.used, before.remaining) == (45, 0, 45)
    assert len(result.accepted) == 45
    assert [r.code for r in result.rejected] == ["-18019908"] * 5
    assert (after.total, after.used, after.remaining) == (45, 45, 0)


def test_stop_poll_of_unregistered_and_stopped_numbers(connect: Any) -> None:
    provider = connect()
    provider.register([Registration(china_post(1)), Registration(china_post(2))])

    stopped = provider.stop([china_post(1), china_post(9)])
    again = provider.stop([china_post(1)])
    polled = provider.poll_result([china_post(1), china_post(2), china_post(9)])

    assert [(a.number, a.already) for a in stopped.accepted] == [(china_post(1), False)]
    assert [(r.number, r.code) for r in stopped.rejected] == [(china_post(9), "-18019902")]
    assert [(a.number, a.already) for a in again.accepted] == [(china_post(1), True)]
    assert [(t.number, t.status, t.carrier_name) for t in polled.tracked] == [
        (china_post(1), T.NOT_FOUND, "China Post"),
        (china_post(2), T.NOT_FOUND, "China Post"),
    ]
    assert [(r.number, r.code) for r in polled.rejected] == [(china_post(9), "-18019902")]
    assert provider.poll([china_post(9)]) == []


# --- Every status the simulated carriers produce --------------------------------------------

# Each fate's journey (sandbox/sim/carriers.py) from a Chinese carrier to the US: what the
# sandbox produces, and what we must make of each (main status, sub-status).
EXPECTED = {
    ("InfoReceived", "InfoReceived"): T.INFO_RECEIVED,
    ("InTransit", "InTransit_PickedUp"): T.IN_TRANSIT,
    ("InTransit", "InTransit_Departure"): T.IN_TRANSIT,
    ("InTransit", "InTransit_Other"): T.IN_TRANSIT,
    ("InTransit", "InTransit_Arrival"): T.IN_TRANSIT,
    ("InTransit", "InTransit_CustomsProcessing"): T.IN_TRANSIT,
    ("InTransit", "InTransit_CustomsReleased"): T.IN_TRANSIT,
    ("OutForDelivery", "OutForDelivery_Other"): T.OUT_FOR_DELIVERY,
    ("DeliveryFailure", "DeliveryFailure_NoBody"): T.DELIVERY_FAILURE,
    ("AvailableForPickup", "AvailableForPickup_Other"): T.AVAILABLE_FOR_PICKUP,
    ("Delivered", "Delivered_Other"): T.DELIVERED,
    ("Exception", "Exception_Returning"): T.EXCEPTION,
    ("Exception", "Exception_Returned"): T.EXCEPTION,
    ("Exception", "Exception_Lost"): T.EXCEPTION,
    ("Exception", "Exception_Damage"): T.EXCEPTION,
    ("Expired", "Expired_Other"): T.EXPIRED,
}


def journeys(start: datetime) -> dict[str, str]:
    """Numbers (YunExpress) whose planned journeys together pass through every EXPECTED sub-status,
    with their fate: found by planning (carriers.itinerary is pure), not by luck."""
    carrier = carriers.CARRIERS["yunexpress"]
    rng = random.Random(17)
    chosen: dict[str, str] = {}
    covered: set[str] = set()
    wanted = {sub for _, sub in EXPECTED}
    for _ in range(500):
        for kind in ("delivered", "pickup", "failed_attempt", "exception", "silent"):
            number = carriers.tracking_number_draw(carrier, rng)
            fate = f"{kind}@US"
            subs = {step.sub_status for step in carriers.itinerary(number, fate, start, carrier.key)}
            if subs - covered:
                chosen[number], covered = fate, covered | subs
        if covered >= wanted:
            return chosen
    raise AssertionError(f"no journeys through {sorted(wanted - covered)}")


def test_poll_follows_parcels_through_every_status_as_the_clock_moves(connect: Any, control: Control) -> None:
    start = sim_now()
    planned = journeys(start)
    carrier = carriers.CARRIERS["yunexpress"]
    for number, fate in planned.items():
        Parcel.objects.create(
            number=number,
            carrier_code=carrier.key,
            carrier_name=carrier.name,
            fate=fate,
            created_at=start,
            updated_at=start,
        )
    provider = connect()
    unknown = china_post(7)  # a number no carrier issued: NotFound for ever
    registered = provider.register([Registration(number) for number in [*planned, unknown]])
    assert len(registered.accepted) == len(planned) + 1

    step_times = sorted(
        {step.at for number, fate in planned.items() for step in carriers.itinerary(number, fate, start, carrier.key)}
    )
    seen: dict[tuple[str, str], set[TrackingStatus]] = {}
    history: dict[str, list[str]] = {number: [] for number in planned}
    first = provider.poll([unknown, *planned])
    assert {(i.provider_status, i.status) for i in first} == {("NotFound", T.NOT_FOUND)}
    for at in step_times:
        control.clock(advance_seconds=max(0.0, (at - sim_now()).total_seconds()) + 1)
        world_tick()
        for info in provider.poll([unknown, *planned]):
            seen.setdefault((info.provider_status, info.provider_sub_status), set()).add(info.status)
            moved = info.provider_status != "NotFound"
            if info.number in history and moved and history[info.number][-1:] != [info.provider_sub_status]:
                history[info.number].append(info.provider_sub_status)
            if info.events:
                assert info.latest_event_at == info.events[-1].time
                assert [e.time for e in info.events] == sorted(e.time for e in info.events)
                assert all(e.status == EXPECTED[(e.provider_status, e.provider_sub_status)] for e in info.events)

    produced = {key: statuses for key, statuses in seen.items() if key[0] != "NotFound"}
    assert produced == {key: {status} for key, status in EXPECTED.items()}
    assert seen[("NotFound", "NotFound_Other")] == {T.NOT_FOUND}
    for number, fate in planned.items():  # every parcel went through its journey, step by step, in order
        journey = [s.sub_status for s in carriers.itinerary(number, fate, start, carrier.key)]
        assert history[number] == [sub for i, sub in enumerate(journey) if i == 0 or journey[i - 1] != sub]
    assert calls(provider, "gettrackinfo") == len(step_times) + 1  # fewer than 40 numbers: one call a poll


def test_a_signed_push_from_the_sandbox_is_verified_and_read(
    connect: Any, control: Control, account: dict[str, Any], webhook_receiver: Any
) -> None:
    start = sim_now()
    parcel = carriers.parcel_create(
        carrier=carriers.CARRIERS["yunexpress"], country_code="US", now=start, rng=random.Random(4)
    )
    control.webhook("17track", ACCOUNT, webhook_receiver.url + "/17track")
    connect().register([Registration(parcel.number, tag="order-1001")])

    world_tick(now=start + timedelta(days=2))
    deliveries_send_due()
    (received,) = webhook_receiver.wait_for(1)

    key = account["credentials"]["token"]
    assert push_verify(received.body, key, received.headers["sign"])
    assert not push_verify(received.body, f"X{key}", received.headers["sign"])
    assert not push_verify(received.body + b" ", key, received.headers["sign"])
    (info,) = push_parse(received.body)
    parcel.refresh_from_db()
    assert (info.number, info.tag, info.provider_status, info.provider_sub_status) == (
        parcel.number,
        "order-1001",
        parcel.status,
        parcel.sub_status,
    )
    assert [e.description for e in info.events] == [e["description"] for e in parcel.events]


# --- Failures, typed -------------------------------------------------------------------------


def test_a_429_is_rate_limited_at_once(connect: Any, control: Control) -> None:
    control.faults({"17track": {"http_429": 1.0}})
    provider = connect()

    with pytest.raises(RateLimited) as caught:
        provider.poll([china_post(1)])

    assert caught.value.retry_after == 1.0
    assert caught.value.retryable
    assert calls(provider, "gettrackinfo") == 1  # not retried here: the task waits


def test_a_rate_limited_batch_stops_the_call(connect: Any, control: Control) -> None:
    provider = connect()
    provider.register([Registration(china_post(n)) for n in range(45)])
    control.faults({"17track": {"http_429": 1.0}})

    with pytest.raises(RateLimited):
        provider.register([Registration(china_post(n)) for n in range(45)])
    assert calls(provider, "register") == 3  # the first call's 2 batches, then the refused one: no more


def test_5xx_is_retried_then_retryable(connect: Any, control: Control) -> None:
    control.faults({"17track": {"http_5xx": 1.0}})
    provider = connect(max_attempts=3)

    with pytest.raises(ProviderError) as caught:
        provider.register([Registration(china_post(1))])

    assert caught.value.retryable
    assert not isinstance(caught.value, RateLimited)
    assert calls(provider, "register") == 3
    assert {a.status for a in provider.client.attempts} <= {502, 503}


def test_a_body_cut_short_is_a_malformed_payload(connect: Any, control: Control) -> None:
    provider = connect()
    provider.register([Registration(china_post(1))])
    control.faults({"17track": {"malformed": 1.0}})

    with pytest.raises(MalformedPayload, match="not valid JSON"):
        provider.poll([china_post(1)])
    with pytest.raises(MalformedPayload):
        provider.quota()


def test_a_bad_or_missing_key(connect: Any) -> None:
    bad = connect(api_key="NOT-THE-KEY")
    missing = connect(api_key="")

    with pytest.raises(CredentialsError, match="security key"):
        bad.poll([china_post(1)])
    with pytest.raises(CredentialsError, match="TRACK17_API_KEY"):
        missing.register([Registration(china_post(1))])
    assert calls(bad, "gettrackinfo") == 1
    assert missing.client.attempts == []
    assert all("NOT-THE-KEY" not in attempt.error for attempt in bad.client.attempts)  # never recorded
