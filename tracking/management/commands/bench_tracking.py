"""``manage.py bench_tracking --shipments N``: tracking at N active shipments, as JSON.

Seeds N active shipments in bulk (three bench accounts, one store each, one order of one line
per shipment, registered and due over the next 12 hours, 8 % due now) and registers the same
numbers with the sandbox's 17TRACK account (its Parcel and TrackingRegistration rows, journeys
0-12 days under way), then measures, each with the real service:

- the claim (``shipments_claim_due``) at N: median and p95 over ``--claims`` claims, each rolled
  back, the index of its plan; with ``--compare M``, first at M shipments, then at N, and the ratio;
- events merged per second: ``track_infos_merge`` on generated TrackInfo batches (``--merge-batch``
  infos each, as a poll answer) for ``--merge-shipments`` of the N, then the same again (no insert);
- shipments polled per second: the dispatcher (``shipments_poll_due``) over ``--poll-sample``
  shipments made due, against the sandbox over HTTP, paced at ``TRACK17_CALLS_PER_SECOND``;
- provider calls per shipment per day, from ``merge.next_poll_at`` over ``--journeys`` simulated
  journeys (webhook pushes on and off), and the whole poll cycle for N against the limit per day;
- pushes per second: the push runner (``fulfillment_push_request``) against the sandbox's Shopify
  shop for ``--pushes`` parcels.

By default it starts ``gunicorn zopi.wsgi`` (sandbox on) on a free port of 127.0.0.1 as another
process (its CPU is read from /proc, apart from ours) and stops it at the end; ``--base-url``
uses a running server (the tests pass their live server). See docs/benchmarks.md, "Tracking".
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import Account
from tracking.bench import seed, server
from tracking.bench.journeys import journeys_simulate
from tracking.bench.measure import claim_measure, merge_measure, poll_measure
from tracking.bench.push import push_measure
from tracking.models import Shipment
from tracking.providers.base import BATCH_SIZE

SIM_ACCOUNT = "bench-tracking"
PROVIDER_LIMIT_PER_SECOND = 3.0  # 17TRACK's (external-apis.md section 5)
EVENTS_PER_SECOND_GOAL = 5_000
CLAIM_RATIO_GOAL = 1.5


class Command(BaseCommand):
    help = "Tracking at N active shipments against the sandbox (poll, merge, claim, calls per day, pushes); JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--shipments", type=int, default=10_000, help="Active shipments seeded (N).")
        parser.add_argument("--compare", type=int, default=0, help="Measure the claim at this many first, then at N.")
        parser.add_argument("--poll-sample", type=int, default=2_000, help="Shipments polled over HTTP.")
        parser.add_argument("--merge-shipments", type=int, default=20_000, help="Shipments whose infos are merged.")
        parser.add_argument("--merge-batch", type=int, default=BATCH_SIZE, help="Infos per merge (a poll answer).")
        parser.add_argument("--claims", type=int, default=50, help="Claims timed (each rolled back).")
        parser.add_argument("--journeys", type=int, default=2_000, help="Simulated journeys for calls per day.")
        parser.add_argument("--pushes", type=int, default=200, help="Parcels pushed to the sandbox shop.")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers serving the sandbox (-w).")
        parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker.")
        parser.add_argument("--base-url", default="", help="Use this running server (sandbox on) instead of gunicorn.")

    def handle(self, *args: Any, **options: Any) -> None:
        n, compare = options["shipments"], options["compare"]
        if n < 1 or compare < 0 or compare >= n and compare:
            raise CommandError("--shipments must be at least 1, --compare below it.")
        for name in ("poll_sample", "merge_shipments", "merge_batch", "claims", "journeys", "pushes"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1.")
        result: dict[str, Any] = {"shipments": n, **server.machine()}
        serving = (
            server.running(options["base_url"])
            if options["base_url"]
            else server.gunicorn(workers=options["workers"], threads=options["threads"])
        )
        with serving as (base_url, server_pids):
            gunicorn = f"gunicorn -w {options['workers']} --threads {options['threads']}"
            result["server"] = base_url if options["base_url"] else gunicorn
            result["sandbox_in_this_process"] = bool(options["base_url"])
            sim = server.control(base_url, "POST", "accounts", {"provider": "17track", "name": SIM_ACCOUNT})
            server.control(base_url, "PUT", "faults", {"17track": {}, "shopify": {}})
            wired = override_settings(TRACK17_API_URL=sim["base_url"], TRACK17_API_KEY=sim["credentials"]["token"])
            with wired:
                result.update(self.run(n, compare, options, base_url, server_pids, sim))
        self.stdout.write(json.dumps(result, indent=2))

    def run(
        self, n: int, compare: int, options: dict[str, Any], base_url: str, pids: list[int], sim: dict[str, Any]
    ) -> dict[str, Any]:
        sim_account = seed.sim_account(sim["name"])
        seed.drop(sim_account.pk)
        now = timezone.now()
        began = time.perf_counter()
        stores = seed.merchants()
        out: dict[str, Any] = {}
        ids: list[int] = []
        if compare:
            ids += seed.shipments_seed(stores=stores, sim=sim_account, first=0, count=compare, now=now)
            seed.analyze()
            out["claim_at_compare"] = {"shipments": compare, **claim_measure(repeats=options["claims"], now=now)}
        ids += seed.shipments_seed(stores=stores, sim=sim_account, first=compare, count=n - compare, now=now)
        seed.analyze()
        out["seed_seconds"] = round(time.perf_counter() - began, 1)
        out["active_shipments"] = Shipment.objects.filter(account__name__startswith=seed.PREFIX).count()
        out["claim"] = claim_measure(repeats=options["claims"], now=now)
        if compare:
            small, large = out["claim_at_compare"]["median_ms"], out["claim"]["median_ms"]
            out["claim_ratio"] = round(large / small, 3) if small else None
        sample = ids[: min(options["poll_sample"], n)]
        merged = ids[len(sample) : len(sample) + options["merge_shipments"]] or ids[: options["merge_shipments"]]
        out["merge"] = merge_measure(shipment_ids=merged, batch=options["merge_batch"], now=timezone.now())

        def server_cpu() -> float | None:
            return server.cpu_seconds(pids) if pids else None

        out["poll"] = poll_measure(sample_ids=sample, cpu_of_server=server_cpu)
        out["calls_per_day"] = self.calls_per_day(n, options["journeys"])
        out["push"] = push_measure(
            base_url=base_url,
            count=options["pushes"],
            cpu_of_server=server_cpu,
            tracking_url=f"{settings.SITE_URL}/t/bench/",
        )
        out["goals"] = self.goals(out)
        return out

    @staticmethod
    def calls_per_day(n: int, journeys: int) -> dict[str, Any]:
        """The simulated policy's calls per shipment per day, and N's whole poll cycle per day
        against our configured rate's and the provider's limit per day."""
        expire = timedelta(days=Account._meta.get_field("expire_after_days").get_default())
        runs = {
            "webhook_off": journeys_simulate(count=journeys, webhook=False, expire_after=expire).as_dict(expire),
            "webhook_on": journeys_simulate(count=journeys, webhook=True, expire_after=expire).as_dict(expire),
        }
        rate = settings.TRACK17_CALLS_PER_SECOND
        ours, theirs = (rate or PROVIDER_LIMIT_PER_SECOND) * 86_400, PROVIDER_LIMIT_PER_SECOND * 86_400
        worst = max(float(run["provider_calls_per_shipment_per_day"]) for run in runs.values())  # type: ignore[arg-type]
        needed = n * worst
        # The poller stops the terminal numbers of each polled batch in a call of its own: at most one
        # stop call per poll call (instead of one per 40 stopped numbers), the upper bound.
        polls = max(float(run["polls_per_shipment_per_day"]) for run in runs.values())  # type: ignore[arg-type]
        bound = needed + n * polls / BATCH_SIZE
        return {
            **runs,
            "cycle": {
                "shipments": n,
                "calls_needed_per_day": round(needed),
                "calls_needed_per_second": round(needed / 86_400, 4),
                "calls_needed_per_day_upper_bound": round(bound),
                "our_rate_per_second": rate,
                "our_limit_per_day": round(ours),
                "provider_limit_per_day": round(theirs),
                "share_of_our_limit": round(needed / ours, 4),
                "max_active_shipments_at_our_rate": round(ours / worst) if worst else None,
            },
        }

    @staticmethod
    def goals(out: dict[str, Any]) -> dict[str, Any]:
        cycle = out["calls_per_day"]["cycle"]
        goals: dict[str, Any] = {
            "poll_cycle_within_rate_limit": cycle["calls_needed_per_day_upper_bound"] <= cycle["our_limit_per_day"]
            and cycle["our_limit_per_day"] <= cycle["provider_limit_per_day"],
            "poll_never_above_the_rate": out["poll"]["http_429"] == 0
            and (out["poll"]["rate_used"] is None or out["poll"]["rate_used"] <= 1.05),
            "events_merged_at_least_5000_per_second": (out["merge"]["events_merged_per_second"] or 0)
            >= EVENTS_PER_SECOND_GOAL,
            "claim_uses_the_poll_due_index": "shipment_poll_due_idx" in out["claim"]["plan_indexes"],
        }
        if "claim_ratio" in out:
            goals["claim_time_independent_of_n"] = (out["claim_ratio"] or 0) <= CLAIM_RATIO_GOAL
        return goals
