"""The review's findings on the polling flow, each proved against a scripted 17TRACK over real
HTTP (``scripted17``): one bad timestamp or one crashing batch never stops every poll (1), a
refusal or 17TRACK down stops the run (4)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from integrations.errors import MalformedPayload
from integrations.fields import iso_datetime
from tests.factories import StoreFactory
from tracking.enums import RegistrationState, TrackingMessageState
from tracking.models import Shipment, ShipmentOrder, TrackingMessage
from tracking.providers.track17.payload import track_info_of
from tracking.services import messages, polling
from tracking.services.handover import shipment_handover
from tracking.services.merge import RETRY_STOP, track_infos_merge
from tracking.services.messages import tracking_message_process, tracking_messages_requeue
from tracking.services.polling import shipments_poll_due
from tracking.services.provider import tracking_provider
from tracking.services.registration import shipments_register
from tracking.tests.conftest import control, sandbox_url  # noqa: F401 - fixtures
from tracking.tests.flow import SIM_ACCOUNT, hand_over, paid_order, provider, track17  # noqa: F401
from tracking.tests.scripted17 import Scripted17, event, ok, scripted17, track_info  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def registered(count: int, *, prefix: str, due_before: int = 0, account: str = "") -> list[int]:
    """``count`` registered shipments due now, the first ones due earliest."""
    store = StoreFactory(account=Account.objects.create(name=account or f"Review {prefix}"))
    order = paid_order(store.account)
    now = timezone.now()
    rows = [
        Shipment(
            account_id=store.account_id,
            order=order,
            tracking_number=f"{prefix}{n:012d}",
            carrier="Cainiao",
            registration_state=RegistrationState.REGISTERED,
            registered_at=now - timedelta(days=1),
            next_poll_at=now - timedelta(minutes=count - n + due_before),
        )
        for n in range(count)
    ]
    return [row.pk for row in Shipment.objects.bulk_create(rows)]


def test_a_year_one_time_with_an_offset_is_a_malformed_payload_not_an_overflow() -> None:
    with pytest.raises(MalformedPayload, match="out of range"):
        iso_datetime({"t": "0001-01-01T00:00:00+08:00"}, "t", "event")
    with pytest.raises(MalformedPayload, match="out of range"):
        iso_datetime({"t": "9999-12-31T23:59:59-08:00"}, "t", "event")
    assert iso_datetime({"t": "2026-12-01T08:00:00+08:00"}, "t", "event") == datetime(2026, 12, 1, tzinfo=UTC)


def test_an_event_with_a_year_one_time_is_left_out_and_every_item_merges(
    scripted17: Scripted17,  # noqa: F811
) -> None:
    bad, good = registered(2, prefix="RFA")
    numbers = dict(Shipment.objects.values_list("id", "tracking_number"))

    def answer(items: list[Any]) -> tuple[int, Any]:
        return ok(
            {
                "accepted": [
                    track_info(numbers[bad], event("0001-01-01T00:00:00+08:00")),
                    track_info(numbers[good], event("2026-11-30T10:00:00Z")),
                ],
                "rejected": [],
            }
        )

    scripted17.answers["gettrackinfo"] = answer
    outcome = shipments_poll_due(provider=provider())

    assert (outcome.errors, outcome.failed, outcome.polled) == (0, 0, 2)
    rows = {row.pk: row for row in Shipment.objects.all()}
    assert rows[good].last_event_at == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert rows[good].read_error == ""
    assert "out of range" in rows[bad].read_error
    assert rows[bad].events.count() == 0
    assert {(row.poll_failures, row.poll_claimed_until) for row in rows.values()} == {(0, None)}


@pytest.fixture
def poisoned_events() -> Any:
    """A database that refuses one event (a trigger): a deterministic error inside the merge."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION review_poison() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'poisoned event'; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER review_poison BEFORE INSERT ON tracking_trackingevent FOR EACH ROW "
            "WHEN (NEW.description = 'poison') EXECUTE FUNCTION review_poison()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS review_poison ON tracking_trackingevent")
        cursor.execute("DROP FUNCTION IF EXISTS review_poison()")


def test_a_batch_that_crashes_backs_off_and_the_run_goes_on_with_the_next(
    scripted17: Scripted17,  # noqa: F811
    poisoned_events: None,
) -> None:
    """A deterministic error in the first (earliest due) batch: before the fix it was released
    without moving next_poll_at and re-raised, so every beat crashed on the same batch."""
    first = registered(40, prefix="RFB", due_before=100)  # due earliest: claimed first
    second = registered(10, prefix="RFC")
    poisoned = Shipment.objects.get(pk=first[0]).tracking_number

    def answer(items: list[Any]) -> tuple[int, Any]:
        infos = [
            track_info(item["number"], event("2026-11-30T10:00:00Z", "poison" if item["number"] == poisoned else "ok"))
            for item in items
        ]
        return ok({"accepted": infos, "rejected": []})

    scripted17.answers["gettrackinfo"] = answer
    before = timezone.now()
    outcome = shipments_poll_due(provider=provider())

    assert outcome.errors == 1
    assert outcome.polled == 10  # the next batch was polled
    for row in Shipment.objects.filter(pk__in=first):
        assert row.poll_claimed_until is None
        assert row.poll_failures == 1
        assert row.next_poll_at is not None
        assert row.next_poll_at >= before + polling.BACKOFF_BASE
    assert set(Shipment.objects.filter(pk__in=second).values_list("poll_failures", flat=True)) == {0}
    again = shipments_poll_due(provider=provider())  # the next beat: nothing due, nothing raised
    assert (again.errors, again.claimed) == (0, [])


def test_bad_credentials_stop_the_run_and_release_the_batch_without_a_failure(
    scripted17: Scripted17,  # noqa: F811
) -> None:
    ids = registered(45, prefix="RFD")
    due = dict(Shipment.objects.values_list("id", "next_poll_at"))
    scripted17.answers["gettrackinfo"] = lambda items: (401, {"code": -18010002, "data": {}})

    outcome = shipments_poll_due(provider=provider(max_attempts=1))

    assert len(scripted17.called("gettrackinfo")) == 1  # the run stopped at once
    assert outcome.stopped_by
    assert outcome.failed == 0
    for row in Shipment.objects.filter(pk__in=ids):
        assert (row.poll_failures, row.poll_claimed_until, row.next_poll_at) == (0, None, due[row.pk])


def test_a_refusal_stops_the_run_without_counting_a_failure(scripted17: Scripted17) -> None:  # noqa: F811
    registered(45, prefix="RFE")
    scripted17.answers["gettrackinfo"] = lambda items: (
        200,
        {"code": -18010013, "data": {"errors": [{"code": -18010013, "message": "invalid data"}]}},
    )

    outcome = shipments_poll_due(provider=provider(max_attempts=1))

    assert len(scripted17.called("gettrackinfo")) == 1
    assert "-18010013" in outcome.stopped_by
    assert set(Shipment.objects.values_list("poll_failures", "poll_claimed_until")) == {(0, None)}


def test_17track_down_opens_the_circuit_after_two_failed_batches(scripted17: Scripted17) -> None:  # noqa: F811
    registered(200, prefix="RFF")
    scripted17.answers["gettrackinfo"] = lambda items: (503, {"code": -18010003, "data": {}})

    outcome = shipments_poll_due(provider=provider(max_attempts=1))

    assert len(scripted17.called("gettrackinfo")) == polling.MAX_FAILED_BATCHES == 2
    assert outcome.failed == 80
    assert "failed batches" in outcome.stopped_by
    assert Shipment.objects.filter(poll_failures=0, poll_claimed_until=None).count() == 120  # never claimed


def test_a_run_stops_when_its_time_budget_is_spent(scripted17: Scripted17, settings: Any) -> None:  # noqa: F811
    registered(200, prefix="RFG")
    now = [0.0]

    def clock() -> float:  # every look at the clock: 25 s later (a slow 17TRACK)
        now[0] += 25.0
        return now[0]

    outcome = shipments_poll_due(provider=provider(), clock=clock)

    assert outcome.batches == 2  # 25 s, 50 s: started; 75 s: over the 60 s budget
    assert "budget" in outcome.stopped_by
    assert polling.BUDGET < settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT


def pending(count: int, *, prefix: str) -> list[int]:
    ids = registered(count, prefix=prefix)
    Shipment.objects.filter(pk__in=ids).update(registration_state=RegistrationState.PENDING, next_poll_at=None)
    return ids


def test_a_quota_refusal_leaves_the_number_pending_visibly_and_stops_the_run(
    scripted17: Scripted17,  # noqa: F811
) -> None:
    """Review 2: before the fix -18019908 (quota insufficient) made the shipment REJECTED for good
    (and the merge ignores REJECTED rows: its webhooks too)."""
    ids = pending(45, prefix="RFH")
    numbers = dict(Shipment.objects.values_list("id", "tracking_number"))
    quota, no_carrier, bad_number, internal = (numbers[pk] for pk in ids[:4])
    codes = {quota: -18019908, no_carrier: -18019903, bad_number: -18010011, internal: -18010003}

    def answer(items: list[Any]) -> tuple[int, Any]:
        return ok(
            {
                "accepted": [{"number": i["number"], "carrier": 190271} for i in items if i["number"] not in codes],
                "rejected": [
                    {"number": i["number"], "error": {"code": codes[i["number"]], "message": "no"}}
                    for i in items
                    if i["number"] in codes
                ],
            }
        )

    scripted17.answers["register"] = answer
    outcome = shipments_register(provider=provider())

    assert len(scripted17.called("register")) == 1  # the quota is out: the run stopped
    assert "quota" in outcome.stopped_by
    assert (outcome.registered, outcome.rejected, outcome.deferred) == (36, 2, 2)
    rows = {row.tracking_number: row for row in Shipment.objects.all()}
    for number in (quota, internal):
        assert rows[number].registration_state == RegistrationState.PENDING
        assert rows[number].registration_error.startswith(str(codes[number]))
    for number in (no_carrier, bad_number):
        assert rows[number].registration_state == RegistrationState.REJECTED
    left = [numbers[pk] for pk in ids[40:]]
    assert {(rows[n].registration_state, rows[n].registration_error) for n in left} == {(RegistrationState.PENDING, "")}

    scripted17.answers["register"] = lambda items: ok(
        {"accepted": [{"number": i["number"], "carrier": 190271} for i in items], "rejected": []}
    )
    again = shipments_register(provider=provider())  # the quota topped up: the next beat
    assert again.registered == 7
    assert rows[quota].pk in Shipment.objects.filter(
        registration_state=RegistrationState.REGISTERED, registration_error=""
    ).values_list("id", flat=True)


def test_the_sandboxs_used_up_quota_leaves_the_rest_pending(track17: dict[str, Any], control: Any) -> None:  # noqa: F811
    """The same against the sandbox's 17TRACK: 2 numbers of quota left for 3 parcels."""
    shipments = [hand_over(paid_order(name=f"Quota {n}"), f"LP{n:014d}", carrier="Cainiao") for n in range(3)]
    control.options("17track", SIM_ACCOUNT, quota_total=2, quota_used=0)

    outcome = shipments_register(provider=provider())

    assert (outcome.registered, outcome.rejected, outcome.deferred) == (2, 0, 1)
    assert "quota" in outcome.stopped_by
    last = Shipment.objects.get(pk=shipments[-1].pk)
    assert last.registration_state == RegistrationState.PENDING
    assert last.registration_error.startswith("-18019908")
    control.options("17track", SIM_ACCOUNT, quota_total=10)
    assert shipments_register(provider=provider()).registered == 1


def delivered(items: list[Any]) -> tuple[int, Any]:
    infos = [
        track_info(item["number"], event("2026-11-30T10:00:00Z", "Delivered", "Delivered_Other"), status="Delivered")
        for item in items
    ]
    return ok({"accepted": infos, "rejected": []})


def test_a_terminal_parcel_whose_stop_is_lost_is_polled_again_and_stopped_then(
    scripted17: Scripted17,  # noqa: F811
) -> None:
    """Review 5: before the fix a terminal row whose stop never ran (the worker died after the
    merge's commit) stayed REGISTERED with next_poll_at None: never polled, never stopped."""
    (pk,) = registered(1, prefix="RFI")
    number = Shipment.objects.get(pk=pk).tracking_number
    _, answer = delivered([{"number": number}])
    before = timezone.now()
    merged = track_infos_merge([track_info_of(answer["data"]["accepted"][0])], source="poll")  # no stop after it
    assert merged.to_stop == [number]
    row = Shipment.objects.get(pk=pk)
    assert row.registration_state == RegistrationState.REGISTERED
    assert row.next_poll_at is not None
    assert before + RETRY_STOP <= row.next_poll_at <= timezone.now() + RETRY_STOP

    scripted17.answers["gettrackinfo"] = delivered
    scripted17.answers["stoptrack"] = lambda items: (500, {"code": -18010003, "data": {}})
    Shipment.objects.filter(pk=pk).update(next_poll_at=timezone.now())
    shipments_poll_due(provider=provider(max_attempts=1))  # the stop fails: due again later
    row = Shipment.objects.get(pk=pk)
    assert row.registration_state == RegistrationState.REGISTERED
    assert row.next_poll_at is not None
    assert row.next_poll_at > timezone.now()

    scripted17.answers["stoptrack"] = lambda items: ok(
        {"accepted": [], "rejected": [{"number": i["number"], "error": {"code": -18019902}} for i in items]}
    )
    Shipment.objects.filter(pk=pk).update(next_poll_at=timezone.now())
    shipments_poll_due(provider=provider())  # "not registered" at the stop: stopped all the same
    row = Shipment.objects.get(pk=pk)
    assert (row.registration_state, row.next_poll_at) == (RegistrationState.STOPPED, None)
    assert len(scripted17.called("stoptrack")) == 2


def test_an_unreadable_event_is_left_out_and_said_the_parcel_still_moves(scripted17: Scripted17) -> None:  # noqa: F811
    """Review 7: before the fix one event without a time made the whole item unreadable: the
    parcel backed off for ever, nothing shown."""
    odd, broken = registered(2, prefix="RFJ")
    numbers = dict(Shipment.objects.values_list("id", "tracking_number"))
    no_time = {"description": "Scan without a time", "location": "SZ"}

    def answer(items: list[Any]) -> tuple[int, Any]:
        item = track_info(numbers[odd], event("2026-11-30T10:00:00Z", "Departed"), no_time)
        item["track_info"]["latest_event"] = {"time_utc": 12}
        return ok({"accepted": [item, {"number": numbers[broken], "track_info": "not an object"}], "rejected": []})

    scripted17.answers["gettrackinfo"] = answer
    outcome = shipments_poll_due(provider=provider())

    assert outcome.polled == 1
    row = Shipment.objects.get(pk=odd)
    assert row.last_event_at == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert row.last_event_description == "Departed"
    assert row.poll_failures == 0
    assert row.read_error.startswith("2 unreadable event(s) left out")
    assert "time_utc" in row.read_error
    assert list(row.events.values_list("description", flat=True)) == ["Departed"]
    gone = Shipment.objects.get(pk=broken)
    assert gone.poll_failures == 1
    assert "track_info" in gone.read_error

    scripted17.answers["gettrackinfo"] = lambda items: ok(
        {"accepted": [track_info(i["number"], event("2026-11-30T11:00:00Z", "Arrived")) for i in items], "rejected": []}
    )
    Shipment.objects.update(next_poll_at=timezone.now())
    shipments_poll_due(provider=provider())
    assert set(Shipment.objects.values_list("read_error", flat=True)) == {""}  # read well: cleared


def stored_push(number: str, description: str = "Departed", *, minutes_ago: int = 10) -> TrackingMessage:
    body = json.dumps(
        {"event": "TRACKING_UPDATED", "data": track_info(number, event("2026-11-30T10:00:00Z", description))}
    )
    message = TrackingMessage.objects.create(delivery_key=f"{number}-{description}", body=body.encode())
    TrackingMessage.objects.filter(pk=message.pk).update(received_at=timezone.now() - timedelta(minutes=minutes_ago))
    return message


@pytest.fixture
def deadlocking_events() -> Any:
    """A database that answers one event insert with a deadlock (SQLSTATE 40P01): transient."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION review_deadlock() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER review_deadlock BEFORE INSERT ON tracking_trackingevent FOR EACH ROW "
            "WHEN (NEW.description = 'deadlock') EXECUTE FUNCTION review_deadlock()"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS review_deadlock ON tracking_trackingevent")
        cursor.execute("DROP FUNCTION IF EXISTS review_deadlock()")


def test_a_deadlock_leaves_the_webhook_message_pending_for_the_requeue(deadlocking_events: None) -> None:
    """Review 8: before the fix a transient database error marked the message FAILED for good."""
    (pk,) = registered(1, prefix="RFK")
    number = Shipment.objects.get(pk=pk).tracking_number
    message = stored_push(number, "deadlock")

    assert tracking_message_process(message_id=message.pk) == TrackingMessageState.PENDING
    message.refresh_from_db()
    assert (message.state, message.claimed_until, message.attempts) == (TrackingMessageState.PENDING, None, 1)
    assert "OperationalError" in message.error
    assert tracking_messages_requeue() == [message.pk]  # beat sends it again

    for _ in range(messages.MAX_ATTEMPTS - 1):  # a deadlock every time: FAILED at the cap
        tracking_message_process(message_id=message.pk)
    message.refresh_from_db()
    assert (message.state, message.attempts) == (TrackingMessageState.FAILED, messages.MAX_ATTEMPTS)


def test_a_message_is_claimed_before_it_is_merged_and_the_requeue_skips_a_held_one() -> None:
    """Review 9: before the fix two workers (or the requeue while the queue lagged) processed one
    message twice; now the conditional UPDATE lets one worker in."""
    (pk,) = registered(1, prefix="RFL")
    number = Shipment.objects.get(pk=pk).tracking_number
    held, free, expired = (stored_push(number, name) for name in ("held", "free", "expired"))
    now = timezone.now()
    TrackingMessage.objects.filter(pk=held.pk).update(claimed_until=now + timedelta(minutes=4))
    TrackingMessage.objects.filter(pk=expired.pk).update(claimed_until=now - timedelta(seconds=1))

    assert sorted(tracking_messages_requeue()) == sorted([free.pk, expired.pk])
    assert tracking_message_process(message_id=held.pk) == ""  # another worker holds it
    assert TrackingMessage.objects.get(pk=held.pk).state == TrackingMessageState.PENDING

    start = threading.Barrier(4)
    results: list[str] = []

    def worker() -> None:
        try:
            start.wait()
            results.append(tracking_message_process(message_id=free.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["", "", "", TrackingMessageState.PROCESSED]
    assert TrackingMessage.objects.get(pk=free.pk).attempts == 1


def test_one_number_at_two_carriers_is_two_parcels(scripted17: Scripted17) -> None:  # noqa: F811
    """Review 6: before the fix the info of one carrier's parcel was merged into both rows."""
    (cainiao,) = registered(1, prefix="RFM")
    (yun,) = registered(1, prefix="RFM", account="Another")  # another account, the same number
    Shipment.objects.filter(pk=cainiao).update(carrier_code="190271")
    Shipment.objects.filter(pk=yun).update(carrier_code="190008")
    number = Shipment.objects.get(pk=cainiao).tracking_number

    pushed = track_info_of(track_info(number, event("2026-11-30T10:00:00Z", "Yun scan"), carrier=190008))
    merged = track_infos_merge([pushed], source="webhook")

    assert merged.shipments == 1
    rows = {row.pk: row for row in Shipment.objects.all()}
    assert (rows[yun].last_event_description, rows[cainiao].last_event_description) == ("Yun scan", "")

    both = [
        track_info_of(track_info(number, event("2026-11-30T12:00:00Z", "Cainiao scan"), carrier=190271)),
        track_info_of(track_info(number, event("2026-11-30T11:00:00Z", "Yun again"), carrier=190008)),
    ]
    assert track_infos_merge(both, source="poll").shipments == 2
    rows = {row.pk: row for row in Shipment.objects.all()}
    assert (rows[yun].last_event_description, rows[cainiao].last_event_description) == ("Yun again", "Cainiao scan")

    Shipment.objects.filter(pk=cainiao).update(registration_state=RegistrationState.PENDING)
    shipments_register(provider=provider())  # registered again with the carrier it is known at
    assert scripted17.called("register")[-1] == [
        {"number": number, "carrier": 190271, "tag": f"order-{rows[cainiao].order_id}"}
    ]


def test_a_carrier_named_in_another_case_is_the_same_parcel_and_quantities_are_bounded() -> None:
    order = paid_order(name="Carrier case")
    line = order.lines.get()
    first = hand_over(order, "LP00000000000101", carrier="Cainiao")
    kwargs: dict[str, Any] = {
        "supplier_order_id": None,
        "order_id": order.pk,
        "account_id": order.account_id,
        "tracking_number": "LP00000000000101",
        "carrier": "  CAINIAO ",
        "lines": [{"order_line_id": line.pk, "quantity": line.quantity}],
        "register_now": False,
    }
    again = shipment_handover(**kwargs)
    assert (again.shipment_id, again.created) == (first.pk, False)
    over = shipment_handover(**{**kwargs, "lines": [{"order_line_id": line.pk, "quantity": line.quantity + 1}]})
    assert "more than the order line's" in over.dropped
    assert Shipment.objects.count() == 1


def test_two_orders_handing_over_one_number_at_once_make_one_shared_parcel() -> None:
    account = Account.objects.create(name="Two orders racing")
    orders = [paid_order(account) for _ in range(2)]
    start = threading.Barrier(2)
    results: list[Any] = []

    def worker(order: Any) -> None:
        try:
            line = order.lines.get()
            start.wait()
            results.append(
                shipment_handover(
                    supplier_order_id=None,
                    order_id=order.pk,
                    account_id=account.pk,
                    tracking_number="LP00000000000202",
                    carrier="Cainiao",
                    lines=[{"order_line_id": line.pk, "quantity": 1}],
                    register_now=False,
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(order,)) for order in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(results) == 2
    shipment = Shipment.objects.get()
    assert shipment.shared_number
    assert {r.shipment_id for r in results} == {shipment.pk}
    assert sorted(r.shared for r in results) == [False, True]
    (other,) = ShipmentOrder.objects.filter(shipment=shipment)
    assert {other.order_id, shipment.order_id} == {order.pk for order in orders}


def test_the_pacers_redis_away_stops_the_poll_run_without_a_failure(
    scripted17: Scripted17,  # noqa: F811
    settings: Any,
) -> None:
    registered(3, prefix="RFN")
    (waiting,) = pending(1, prefix="RFO")
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.TRACK17_CALLS_PER_SECOND = 3

    outcome = shipments_poll_due(provider=tracking_provider())
    registering = shipments_register(provider=tracking_provider())

    assert "pacer" in outcome.stopped_by
    assert scripted17.called("gettrackinfo") == []
    assert set(Shipment.objects.values_list("poll_failures", "poll_claimed_until")) == {(0, None)}
    assert registering.stopped_by  # try later, nothing raised
    assert scripted17.called("register") == []
    assert Shipment.objects.get(pk=waiting).registration_state == RegistrationState.PENDING


def test_two_registration_runs_at_once_send_each_number_once(scripted17: Scripted17) -> None:  # noqa: F811
    """The low finding: before the claim the handover's immediate registration and beat's (or two
    beats) read the same PENDING rows and registered them twice."""
    ids = pending(120, prefix="RFP")
    (held,) = pending(1, prefix="RFQ")
    Shipment.objects.filter(pk=held).update(poll_claimed_until=timezone.now() + timedelta(minutes=5))
    start = threading.Barrier(3)
    outcomes: list[Any] = []

    def run() -> None:
        try:
            start.wait()
            outcomes.append(shipments_register(provider=provider(), limit=40))
            outcomes.append(shipments_register(provider=provider(), limit=40))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    sent = [item["number"] for items in scripted17.called("register") for item in items]
    assert len(sent) == len(set(sent)) == 120  # each once, the held one not at all
    assert sum(outcome.registered for outcome in outcomes) == 120
    assert Shipment.objects.filter(pk__in=ids, registration_state=RegistrationState.REGISTERED).count() == 120
    assert not Shipment.objects.filter(pk__in=ids).exclude(poll_claimed_until=None).exists()
    assert Shipment.objects.get(pk=held).registration_state == RegistrationState.PENDING


def test_two_poll_runs_at_once_poll_each_shipment_once(scripted17: Scripted17) -> None:  # noqa: F811
    ids = registered(200, prefix="RFR")
    start = threading.Barrier(2)
    outcomes: list[Any] = []

    def run() -> None:
        try:
            start.wait()
            outcomes.append(shipments_poll_due(provider=provider()))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    asked = [item["number"] for items in scripted17.called("gettrackinfo") for item in items]
    assert len(asked) == len(set(asked)) == 200
    assert sorted(pk for outcome in outcomes for pk in outcome.claimed) == sorted(ids)
    assert sum(outcome.polled for outcome in outcomes) == 200
    assert not Shipment.objects.exclude(poll_claimed_until=None).exists()
    assert not Shipment.objects.filter(last_polled_at=None).exists()
