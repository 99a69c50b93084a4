"""Polling due shipments: the claim (constant queries for 10 or 1,000 due, through the partial
index; two pollers at once never take one shipment), 429 → the batch waits and the run stops,
a 5xx → back off, a number 17TRACK no longer knows → registered again, the pacer's spacing."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from celery import current_app
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account
from tests.factories import StoreFactory
from tests.workers import running_worker, wait_for
from tracking.enums import RegistrationState
from tracking.models import Shipment
from tracking.services.polling import (
    BACKOFF_BASE,
    HOLD,
    poll_backoff,
    shipments_claim_due,
    shipments_poll_due,
)
from tracking.services.provider import Track17Pacer
from tracking.services.registration import shipments_register
from tracking.tests.conftest import control, sandbox_url  # noqa: F401 - fixtures
from tracking.tests.flow import hand_over, paid_order, provider, track17  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def due_shipments(count: int, *, prefix: str = "LP") -> list[int]:
    """``count`` registered shipments due now (rows made in bulk: the claim is what is measured)."""
    store = StoreFactory(account=Account.objects.create(name=f"Poll {prefix}"))
    order = paid_order(store.account)
    now = timezone.now()
    rows = [
        Shipment(
            account_id=store.account_id,
            order=order,
            tracking_number=f"{prefix}{n:014d}",
            carrier="Cainiao",
            registration_state=RegistrationState.REGISTERED,
            next_poll_at=now - timedelta(seconds=n % 50),
        )
        for n in range(count)
    ]
    return [row.pk for row in Shipment.objects.bulk_create(rows)]


def test_the_claim_goes_through_the_partial_index_not_a_scan_of_every_shipment() -> None:
    """The plan PostgreSQL picks by itself (no enable_seqscan=off) on a table where most parcels
    are not due (delivered, stopped: next_poll_at NULL, outside the partial index) is an index
    scan of ``shipment_poll_due_idx``: the claim does not read the shipments that are not due."""
    due_shipments(10, prefix="LA")
    with CaptureQueriesContext(connection) as ten:
        first = shipments_claim_due()
    due_shipments(1000, prefix="LB")
    done = due_shipments(20000, prefix="LX")
    Shipment.objects.filter(pk__in=done).update(registration_state=RegistrationState.STOPPED, next_poll_at=None)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tracking_shipment")
    with CaptureQueriesContext(connection) as thousand:
        second = shipments_claim_due()

    assert (len(first), len(second)) == (10, 40)
    assert len(ten.captured_queries) == len(thousand.captured_queries)
    select = next(q["sql"] for q in thousand.captured_queries if q["sql"].startswith("SELECT"))
    assert "FOR UPDATE SKIP LOCKED" in select
    assert "LIMIT 40" in select
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + select)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "shipment_poll_due_idx" in plan, plan
    assert "Seq Scan" not in plan, plan
    held = Shipment.objects.filter(pk__in=second).values_list("poll_claimed_until", flat=True)
    assert all(until is not None and until > timezone.now() + HOLD - timedelta(minutes=1) for until in held)
    assert not set(first) & set(shipments_claim_due(limit=1000))  # held rows are not claimed again


def test_two_pollers_at_once_never_claim_one_shipment_twice() -> None:
    ids = due_shipments(200, prefix="LC")
    start = threading.Barrier(5)
    claimed: list[list[int]] = []
    errors: list[BaseException] = []

    def poller() -> None:
        try:
            start.wait()
            mine: list[int] = []
            while batch := shipments_claim_due():
                mine.extend(batch)
            claimed.append(mine)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=poller) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors
    every = [pk for mine in claimed for pk in mine]
    assert sorted(every) == sorted(ids)  # each exactly once


def test_a_row_locked_by_another_poller_is_skipped_not_waited_for() -> None:
    ids = due_shipments(3, prefix="LD")
    got: list[list[int]] = []
    locked, done = threading.Event(), threading.Event()

    def holder() -> None:
        with transaction.atomic():
            list(Shipment.objects.select_for_update().filter(pk=ids[0]))
            locked.set()
            done.wait(20)
        connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    assert locked.wait(20)
    try:
        got.append(shipments_claim_due())
    finally:
        done.set()
        thread.join(20)
    assert sorted(got[0]) == sorted(ids[1:])


def shipped(track17_account: dict[str, Any], count: int) -> list[Shipment]:
    shipments = [hand_over(paid_order(name=f"Poller {n}"), f"LP{n:014d}", carrier="Cainiao") for n in range(count)]
    assert shipments_register(provider=provider()).registered == count
    Shipment.objects.update(next_poll_at=timezone.now())
    return shipments


def test_a_429_releases_the_batch_until_retry_after_and_stops_the_run(
    track17: dict[str, Any],  # noqa: F811
    control: Any,  # noqa: F811
) -> None:
    shipped(track17, 45)
    control.faults({"17track": {"http_429": 1.0}})
    p = provider()

    before = timezone.now()
    outcome = shipments_poll_due(provider=p)

    assert outcome.rate_limited == 1.0
    assert (len(outcome.claimed), outcome.polled) == (40, 0)  # one batch claimed, then the run stopped
    assert sum(1 for a in p.client.attempts if a.path.endswith("/gettrackinfo")) == 1
    rows = Shipment.objects.filter(pk__in=outcome.claimed)
    assert not rows.exclude(poll_claimed_until=None).exists()
    for at in rows.values_list("next_poll_at", flat=True):
        assert at is not None
        assert before + timedelta(seconds=1) <= at <= timezone.now() + timedelta(seconds=1)
    assert Shipment.objects.filter(poll_failures=0).count() == 45
    control.faults({"17track": {}})
    Shipment.objects.update(next_poll_at=timezone.now())
    again = shipments_poll_due(provider=provider())
    assert (again.rate_limited, again.polled, again.batches) == (None, 45, 2)


def test_a_server_error_backs_off(track17: dict[str, Any], control: Any) -> None:  # noqa: F811
    shipped(track17, 2)
    control.faults({"17track": {"http_5xx": 1.0}})

    before = timezone.now()
    outcome = shipments_poll_due(provider=provider(max_attempts=2))

    assert (outcome.failed, outcome.polled) == (2, 0)
    for row in Shipment.objects.all():
        assert row.poll_failures == 1
        assert row.poll_claimed_until is None
        assert row.next_poll_at is not None
        assert row.next_poll_at >= before + BACKOFF_BASE
    assert poll_backoff(1) < poll_backoff(3) <= poll_backoff(30) == timedelta(hours=12)


def test_a_number_the_provider_no_longer_knows_is_registered_again(track17: dict[str, Any]) -> None:  # noqa: F811
    known, forgotten = shipped(track17, 1)[0], hand_over(paid_order(name="Forgotten"), "LP99999999999999", carrier="X")
    Shipment.objects.filter(pk=forgotten.pk).update(
        registration_state=RegistrationState.REGISTERED, next_poll_at=timezone.now()
    )

    outcome = shipments_poll_due(provider=provider())

    forgotten.refresh_from_db()
    known.refresh_from_db()
    assert outcome.reregister == 1
    assert (forgotten.registration_state, forgotten.next_poll_at) == (RegistrationState.PENDING, None)
    assert known.last_polled_at is not None
    assert known.provider_status == "NotFound"
    assert shipments_register(provider=provider()).registered == 1
    forgotten.refresh_from_db()
    assert forgotten.registration_state == RegistrationState.REGISTERED


def test_registration_rejects_visibly_and_a_retryable_failure_leaves_it_pending(
    track17: dict[str, Any],  # noqa: F811
    control: Any,  # noqa: F811
) -> None:
    good = hand_over(paid_order(name="Good"), "LP00000000000001", carrier="Cainiao")
    odd = hand_over(paid_order(name="Odd"), "ZZ-12345", carrier="Nobody")
    control.faults({"17track": {"http_5xx": 1.0}})

    failed = shipments_register(provider=provider(max_attempts=1))

    assert failed.registered == 0
    assert failed.stopped_by
    assert set(Shipment.objects.values_list("registration_state", flat=True)) == {RegistrationState.PENDING}
    control.faults({"17track": {}})
    done = shipments_register(provider=provider())
    good.refresh_from_db()
    odd.refresh_from_db()
    assert (done.registered, done.rejected) == (1, 1)
    assert good.registration_state == RegistrationState.REGISTERED
    assert good.next_poll_at is not None
    assert good.carrier_code == "190271"
    assert odd.registration_state == RegistrationState.REJECTED
    assert odd.registration_error.startswith("-18019903")
    assert shipments_register(provider=provider()).calls == 0  # not retried for ever


def test_the_pacer_spaces_our_calls_under_17tracks_rate(settings: Any) -> None:
    from tracking.services import provider as pacing

    pacing._local_next.clear()
    for redis_url in (settings.REDIS_URL, ""):
        settings.REDIS_URL = redis_url
        pacer = Track17Pacer(per_second=2)
        first = pacer.reserve("/gettrackinfo", max_wait=0)
        second = pacer.reserve("/register", max_wait=0)  # one bucket for every endpoint
        assert first[0] is True
        assert second[0] is False
        assert 0 < second[1] <= 0.5
        assert pacer.reserve("/register", max_wait=2)[0] is True
    assert 0 < settings.TRACK17_CALLS_PER_SECOND <= 3  # the default stays under 17TRACK's 3 a second


@pytest.mark.redis
@pytest.mark.celery_worker
def test_the_beat_tasks_register_and_poll_in_a_worker(track17: dict[str, Any]) -> None:  # noqa: F811
    shipment = hand_over(paid_order(name="Beat"), "LP00000000000500", carrier="Cainiao")
    with running_worker(["tracking"]) as ran:
        current_app.send_task("tracking.register_due")
        assert wait_for(lambda: Shipment.objects.filter(registration_state=RegistrationState.REGISTERED).exists())
        Shipment.objects.update(next_poll_at=timezone.now())
        current_app.send_task("tracking.poll_due")
        assert wait_for(lambda: Shipment.objects.exclude(last_polled_at=None).exists()), ran
    shipment.refresh_from_db()
    assert shipment.provider_status == "NotFound"
    assert shipment.next_poll_at is not None
    assert shipment.poll_claimed_until is None
    assert [name for name, _ in ran] == ["tracking.register_due", "tracking.poll_due"]
