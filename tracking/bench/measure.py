"""The measured parts of ``bench_tracking``: the claim, the poll against the sandbox, the merge,
and the fulfillment push runner against the sandbox channel. Each runs the real service."""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.enums import TrackingStatus
from sandbox.sim import carriers
from tracking.bench.seed import CARRIER, journey_of
from tracking.models import Shipment, TrackingEvent
from tracking.providers.base import BATCH_SIZE, TrackEvent, TrackInfo
from tracking.providers.track17 import mapping
from tracking.services.merge import POLL, track_infos_merge
from tracking.services.polling import shipments_claim_due, shipments_poll_due
from tracking.services.provider import tracking_provider

REPEAT_INFOS = 2_000  # infos merged a second time (nothing to insert)


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)], 3)


def _indexes(plan: Any) -> set[str]:
    """The indexes a JSON plan reads ("Seq Scan" when it reads a table whole)."""
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Index Name" in plan:
            found.add(str(plan["Index Name"]))
        elif plan.get("Node Type") == "Seq Scan":
            found.add(f"Seq Scan on {plan.get('Relation Name')}")
        for value in plan.values():
            found |= _indexes(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= _indexes(value)
    return found


def claim_measure(*, repeats: int, now: datetime) -> dict[str, Any]:
    """``shipments_claim_due`` ``repeats`` times, each rolled back (nothing stays held): ms median
    and p95, rows claimed, its queries, and the index its SELECT … FOR UPDATE uses."""
    samples, claimed, queries, plan_indexes = [], 0, 0, set()
    for k in range(repeats + 1):
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            ids = shipments_claim_due(now=now)
            elapsed = (time.perf_counter() - began) * 1000
            transaction.set_rollback(True)
        if k == 0:  # the first one warms the caches
            select = next(q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT"))
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (FORMAT JSON) {select}")
                plan = cursor.fetchone()[0] if connection.vendor == "postgresql" else None
                plan_indexes = _indexes(json.loads(plan) if isinstance(plan, str) else plan)
            queries = len([q for q in captured.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))])
            continue
        samples.append(elapsed)
        claimed = len(ids)
    due = Shipment.objects.filter(next_poll_at__lte=now).count()
    return {
        "repeats": repeats,
        "median_ms": round(statistics.median(samples), 3),
        "p95_ms": _pct(samples, 95),
        "claimed_per_claim": claimed,
        "queries_per_claim": queries,
        "due_shipments": due,
        "plan_indexes": sorted(plan_indexes),
    }


def infos_for(shipment_rows: list[tuple[str, datetime]], now: datetime) -> list[TrackInfo]:
    """What 17TRACK would say of each number now: its journey so far (the sandbox's itinerary)."""
    infos = []
    for number, _created in shipment_rows:
        i = int(number[2:]) - 9_000_000_000_000_000
        fate, begun = journey_of(i, now)
        steps = [s for s in carriers.itinerary(number, fate, begun, CARRIER.key) if s.at <= now]
        events = tuple(
            TrackEvent(
                time=s.at,
                description=s.description,
                location=s.location,
                provider_status=s.status,
                provider_sub_status=s.sub_status,
                status=mapping.status_of(s.status, s.sub_status),
            )
            for s in steps
            if s.description
        )
        last = steps[-1] if steps else None
        infos.append(
            TrackInfo(
                number=number,
                carrier_code=CARRIER.key,
                carrier_name=CARRIER.name,
                provider_status=last.status if last else "NotFound",
                provider_sub_status=last.sub_status if last else "NotFound_Other",
                status=mapping.status_of(last.status, last.sub_status) if last else TrackingStatus.NOT_FOUND,
                latest_event_at=events[-1].time if events else None,
                events=events,
            )
        )
    return infos


def merge_measure(*, shipment_ids: list[int], batch: int, now: datetime) -> dict[str, Any]:
    """``track_infos_merge`` on generated infos for ``shipment_ids`` (``batch`` at a time, as a
    poll answer): events merged per second, then the same infos again (a repeat inserts nothing)."""
    chosen = Shipment.objects.filter(pk__in=shipment_ids).order_by("id")
    rows = list(chosen.values_list("tracking_number", "created_at"))
    infos = infos_for(rows, now)
    events_given = sum(len(info.events) for info in infos)
    batches = [infos[k : k + batch] for k in range(0, len(infos), batch)]
    before = TrackingEvent.objects.count()
    inserted = moved = 0
    queries: list[int] = []
    cpu, began = time.process_time(), time.perf_counter()
    for part in batches:
        with CaptureQueriesContext(connection) as captured:
            merged = track_infos_merge(part, source=POLL, now=now)
        queries.append(len(captured))
        inserted += merged.events_inserted
        moved += merged.orders_moved
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    again = batches[: max(1, REPEAT_INFOS // batch)]  # a sample: the repeat costs as much as the first time
    repeat_began = time.perf_counter()
    repeated = sum(track_infos_merge(part, source=POLL, now=now).events_inserted for part in again)
    repeat_elapsed = time.perf_counter() - repeat_began
    repeat_infos = sum(len(part) for part in again)
    return {
        "shipments": len(infos),
        "infos_per_merge": batch,
        "events_given": events_given,
        "events_inserted": inserted,
        "events_in_table_after": before + inserted,
        "orders_moved": moved,
        "elapsed_seconds": round(elapsed, 2),
        "events_merged_per_second": round(inserted / elapsed, 1) if elapsed else None,
        "infos_merged_per_second": round(len(infos) / elapsed, 1) if elapsed else None,
        "our_cpu_share": round(cpu / elapsed, 2) if elapsed else None,
        "queries_per_merge": sorted(set(queries)),
        "repeat_infos": repeat_infos,
        "repeat_events_inserted": repeated,
        "repeat_infos_per_second": round(repeat_infos / repeat_elapsed, 1) if repeat_elapsed else None,
    }


def poll_measure(*, sample_ids: list[int], cpu_of_server: Callable[[], float | None]) -> dict[str, Any]:
    """The dispatcher (``shipments_poll_due``) over ``sample_ids`` made due (everything else later),
    against the sandbox over HTTP, paced by our pacer at ``TRACK17_CALLS_PER_SECOND``."""
    now = timezone.now()
    Shipment.objects.exclude(pk__in=sample_ids).filter(next_poll_at__isnull=False).update(
        next_poll_at=now + timedelta(days=1)
    )
    Shipment.objects.filter(pk__in=sample_ids).update(next_poll_at=now - timedelta(seconds=1), poll_claimed_until=None)
    provider = tracking_provider()
    polled = events = batches = 0
    rate_limited: list[float] = []
    server_before = cpu_of_server()
    cpu, began = time.process_time(), time.perf_counter()
    try:
        for _ in range(10 * (len(sample_ids) // BATCH_SIZE + 2)):  # bounded: a 429 ends a run early
            outcome = shipments_poll_due(provider=provider, max_batches=len(sample_ids) // BATCH_SIZE + 1)
            polled, batches = polled + outcome.polled, batches + outcome.batches
            events += outcome.events_inserted
            if outcome.rate_limited is not None:
                rate_limited.append(outcome.rate_limited)
                time.sleep(outcome.rate_limited)
                continue
            if not outcome.claimed:
                break
    finally:
        provider.close()
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    server_after = cpu_of_server()
    attempts = provider.client.attempts
    calls = [a for a in attempts if a.path.endswith("/gettrackinfo")]
    refused = [a for a in attempts if a.status == 429]
    rate = settings.TRACK17_CALLS_PER_SECOND
    return {
        "sample": len(sample_ids),
        "polled": polled,
        "batches": batches,
        "events_inserted": events,
        "elapsed_seconds": round(elapsed, 2),
        "shipments_polled_per_second": round(polled / elapsed, 2) if elapsed else None,
        "calls": {"gettrackinfo": len(calls), "stoptrack": len([a for a in attempts if a.path.endswith("/stoptrack")])},
        "calls_per_second": round(len(attempts) / elapsed, 3) if elapsed else None,
        "configured_calls_per_second": rate,
        # the first call takes its slot at once: n calls paced at r need (n - 1) / r seconds
        "rate_used": round((len(attempts) - 1) / elapsed / rate, 3) if elapsed and rate else None,
        "http_429": len(refused),
        "rate_limited_runs": len(rate_limited),
        "our_cpu_ms_per_shipment": round(cpu * 1000 / max(1, polled), 3),
        "sandbox_cpu_ms_per_shipment": (
            round((server_after - server_before) * 1000 / max(1, polled), 3)
            if server_after is not None and server_before is not None
            else None
        ),
    }
