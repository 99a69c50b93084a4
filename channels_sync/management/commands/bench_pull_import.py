"""``manage.py bench_pull_import --orders N --time-limit S``: a store too big for one task, imported
by a real Celery worker whose tasks are killed after ``S`` seconds; prints one JSON object.

A sandbox Shopify shop with N orders (over HTTP, ``bench_ingest``'s gunicorn and shop helpers),
a fresh store on it, then one ``channels_sync.pull_store`` task through the broker to a worker
subprocess started with ``--time-limit S --soft-time-limit S-5`` and ``SYNC_PULL_TIME_BUDGET_SECONDS``
at ``--budget`` (default S-15). The pull stops at its budget and re-queues itself; the command
waits until the import is complete, then checks every order is stored once and none was
renumbered, and reports runs, time and orders per second. See docs/benchmarks.md,
"Resumable import".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from channels_sync.management.commands.bench_ingest import Command as IngestCommand
from channels_sync.models import Store
from channels_sync.tasks import pull_store
from orders.enums import OrderEventType
from orders.models import Order, OrderEvent

WORKER_READY_SECONDS = 60


class Command(BaseCommand):
    help = "Import a big sandbox shop through a real worker with a short task time limit; print JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=200_000, help="Orders in the sandbox shop.")
        parser.add_argument("--time-limit", type=int, default=60, help="The worker's hard task time limit, s.")
        parser.add_argument("--budget", type=float, default=0, help="The pull's time budget, s (default S-15).")
        parser.add_argument("--timeout", type=int, default=3_600, help="Give up after this many seconds.")

    def handle(self, *args: Any, **options: Any) -> None:
        n, limit = options["orders"], options["time_limit"]
        budget = options["budget"] or limit - 15
        if n < 1 or limit < 20 or not 0 < budget < limit - 5:
            raise CommandError("--orders ≥ 1, --time-limit ≥ 20 and 0 < --budget < time limit − 5 s.")
        if not settings.CELERY_BROKER_URL.startswith("redis://"):
            raise CommandError("needs REDIS_URL: the worker is another process")
        ingest = IngestCommand()
        result: dict[str, Any] = {"orders": n, "time_limit": limit, "budget": budget, **ingest.machine()}
        with ingest.gunicorn({"workers": 2, "threads": 4}) as base_url:
            began = time.perf_counter()
            shop = ingest.sandbox_shop(base_url, n)
            result["shop_seconds"] = round(time.perf_counter() - began, 1)
            store = ingest.fresh_store(shop)
            worker = self.worker(limit=limit, budget=budget)
            try:
                result |= self.run(store, n=n, timeout=options["timeout"])
            finally:
                worker.terminate()
                worker.wait(timeout=30)
        self.stdout.write(json.dumps(result, indent=2))

    def worker(self, *, limit: int, budget: float) -> subprocess.Popen[bytes]:
        env = {**os.environ, "SYNC_PULL_TIME_BUDGET_SECONDS": str(budget), "SANDBOX_ENABLED": "1"}
        command = [sys.executable, "-m", "celery", "-A", "zopi", "worker", "-Q", "sync", "-c", "1", "-P", "prefork"]
        command += ["--time-limit", str(limit), "--soft-time-limit", str(limit - 5), "-l", "warning"]
        command += ["--without-gossip", "--without-mingle", "-n", f"bench-import-{os.getpid()}@%h"]
        with pull_store.app.connection_for_write() as conn:
            conn.default_channel.queue_purge("sync")  # type: ignore[attr-defined]
        return subprocess.Popen(command, cwd=settings.BASE_DIR, env=env)  # noqa: S603

    def run(self, store: Store, *, n: int, timeout: int) -> dict[str, Any]:
        began = time.perf_counter()
        pull_store.delay(store.pk)
        samples = []
        while True:
            time.sleep(2)
            row = Store.objects.get(pk=store.pk)
            samples.append((round(time.perf_counter() - began), row.pull_runs, row.pull_orders))
            if row.last_pull_at is not None and not row.pull_resume_page:
                break
            if time.perf_counter() - began > timeout:
                raise CommandError(f"not imported after {timeout} s: {samples[-1]}, last error {row.last_error!r}")
        seconds = time.perf_counter() - began
        orders = Order.objects.filter(store=store)
        stored = orders.count()
        distinct = orders.values("channel_order_id").distinct().count()
        twice = orders.values("channel_order_id").annotate(n=Count("id")).filter(n__gt=1).count()
        renumbered = orders.filter(number__contains="-").count()
        renumbered_events = OrderEvent.objects.filter(order__store=store, type=OrderEventType.RENUMBERED).count()
        if (stored, distinct, twice, renumbered, renumbered_events) != (n, n, 0, 0, 0):
            raise CommandError(f"stored {stored}, distinct {distinct}, twice {twice}, renumbered {renumbered} of {n}")
        return {
            "runs": row.pull_runs,
            "stored": stored,
            "distinct_orders": distinct,
            "renumbered": renumbered,
            "last_error": row.last_error,
            "pull_failures": row.pull_failures,
            "import_seconds": round(seconds, 1),
            "orders_per_second": round(n / seconds),
            "progress": samples[:: max(1, len(samples) // 20)],
        }
