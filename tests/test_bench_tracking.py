"""The tracking benchmark runs end to end at a tiny size against the live server (the sandbox's
17TRACK and Shopify): its JSON has every figure, each computed from what happened (rows, calls
the sandbox answered, the simulated policy), and the goals follow from the numbers, not a timer."""

from __future__ import annotations

import json
import math
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sandbox.models import Fulfillment, TrackingRegistration
from tracking.bench.journeys import journeys_simulate
from tracking.models import Shipment, TrackingEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

N, COMPARE, SAMPLE, MERGED, PUSHES = 200, 100, 60, 100, 4


def test_bench_tracking_reports_every_figure_and_computes_its_goals(live_server: Any) -> None:
    out = StringIO()
    call_command(
        "bench_tracking",
        shipments=N,
        compare=COMPARE,
        poll_sample=SAMPLE,
        merge_shipments=MERGED,
        claims=5,
        journeys=100,
        pushes=PUSHES,
        base_url=live_server.url,
        stdout=out,
    )
    report = json.loads(out.getvalue())

    assert set(report) >= {"claim", "claim_at_compare", "claim_ratio", "merge", "poll", "calls_per_day", "push"}
    assert report["sandbox_in_this_process"] is True
    # seeded: N registered shipments with us, the same numbers registered in the sandbox's 17TRACK
    assert report["active_shipments"] == N
    numbers = set(Shipment.objects.filter(account__name__startswith="Zopi bench tracking 1").values_list(
        "tracking_number", flat=True))  # fmt: skip
    assert TrackingRegistration.objects.filter(parcel__number__in=numbers).count() == len(numbers) > 0

    claim, small = report["claim"], report["claim_at_compare"]
    assert small["shipments"] == COMPARE
    assert 0 < claim["claimed_per_claim"] <= 40
    assert claim["queries_per_claim"] == small["queries_per_claim"] == 2
    assert claim["median_ms"] <= claim["p95_ms"]
    assert report["claim_ratio"] == round(claim["median_ms"] / small["median_ms"], 3)
    assert claim["plan_indexes"]  # the plan was read (at this size PostgreSQL may prefer a Seq Scan)
    # the claims were rolled back: nothing is left held
    assert not Shipment.objects.filter(poll_claimed_until__isnull=False).exists()

    merge = report["merge"]
    assert merge["shipments"] == MERGED
    assert merge["events_inserted"] == merge["events_given"] > 0  # fresh parcels: every scan is new
    assert merge["repeat_events_inserted"] == 0  # the same infos again insert nothing
    assert len(merge["queries_per_merge"]) == 1  # the same statements for each batch of 40
    assert merge["events_merged_per_second"] > 0

    poll = report["poll"]
    assert poll["polled"] == poll["sample"] == SAMPLE
    assert poll["calls"]["gettrackinfo"] == math.ceil(SAMPLE / 40) == poll["batches"]
    assert poll["http_429"] == 0
    assert poll["rate_used"] <= 1.05
    assert poll["configured_calls_per_second"] > 0
    assert poll["events_inserted"] > 0
    polled = Shipment.objects.filter(last_polled_at__isnull=False)
    assert polled.count() == SAMPLE
    assert TrackingEvent.objects.filter(shipment__in=polled).count() >= poll["events_inserted"]

    calls = report["calls_per_day"]
    off, on, cycle = calls["webhook_off"], calls["webhook_on"], calls["cycle"]
    assert on["webhook_pushes_per_shipment"] > 0 == off["webhook_pushes_per_shipment"]
    assert 0 < on["polls_per_shipment_per_day"] < off["polls_per_shipment_per_day"]  # pushes space polls out
    worst = max(off["provider_calls_per_shipment_per_day"], on["provider_calls_per_shipment_per_day"])
    assert cycle["calls_needed_per_day"] == round(N * worst)
    polls = max(off["polls_per_shipment_per_day"], on["polls_per_shipment_per_day"])
    assert cycle["calls_needed_per_day_upper_bound"] == round(N * worst + N * polls / 40)
    assert cycle["our_limit_per_day"] == round(cycle["our_rate_per_second"] * 86_400)

    push = report["push"]
    assert push["states"] == {"pushed": PUSHES}
    assert push["attempts_per_push"] >= 1.0
    assert Fulfillment.objects.filter(order__account__name="bench-tracking-shop").count() == PUSHES

    goals = report["goals"]
    assert goals == {
        "poll_cycle_within_rate_limit": cycle["calls_needed_per_day"]
        <= cycle["our_limit_per_day"]
        <= cycle["provider_limit_per_day"],
        "poll_never_above_the_rate": poll["http_429"] == 0 and poll["rate_used"] <= 1.05,
        "events_merged_at_least_5000_per_second": merge["events_merged_per_second"] >= 5000,
        "claim_uses_the_poll_due_index": "shipment_poll_due_idx" in claim["plan_indexes"],
        "claim_time_independent_of_n": report["claim_ratio"] <= 1.5,
    }


def test_the_journeys_end_and_webhooks_save_polls() -> None:
    from datetime import timedelta

    off = journeys_simulate(count=50, webhook=False, expire_after=timedelta(days=30))
    on = journeys_simulate(count=50, webhook=True, expire_after=timedelta(days=30))
    assert off.journeys == on.journeys == 50
    assert 0 < on.polls < off.polls
    assert on.pushes > 0 == off.pushes
    assert 5 < off.active_days / 50 <= 30  # a journey of days, never past the expiry
    assert off.stops > 0  # delivered parcels are stopped at the provider


@pytest.mark.parametrize("options", [{"shipments": 0}, {"shipments": 10, "compare": 10}, {"pushes": 0}])
def test_bad_options_are_refused_before_anything_is_written(options: dict[str, Any]) -> None:
    with pytest.raises(CommandError):
        call_command("bench_tracking", base_url="http://127.0.0.1:9", stdout=StringIO(), **options)
    assert not Shipment.objects.exists()
