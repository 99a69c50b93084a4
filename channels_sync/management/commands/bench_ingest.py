"""``manage.py bench_ingest --orders N``: how fast channel orders come in, printed as one JSON object.

1. **Ingest**: a sandbox Shopify shop with N orders, a bench store connected to it, then
   ``store_pull`` (the real pull path: provider pages → ``orders_upsert_from_channel`` batches),
   against the time to only fetch and parse the same pages (the provider's iteration alone).
2. **GraphQL pull under the cost bucket** (first, on its own fresh store): the same shop with a
   cost bucket that is the bottleneck (``--graphql-bucket-size`` points restoring
   ``--graphql-restore-rate`` per second), pulled by ``store_pull`` run after run until done;
   the points its providers spent (``actualQueryCost`` summed) per second against the restore
   rate, THROTTLED answers, waits, countdowns (runs stopped by a wait above the inline cap).
3. **Webhook intake**: correctly signed, distinct ``orders/updated`` deliveries POSTed to
   ``/webhooks/shopify/<public id>/``: the capacity (``--concurrency`` threads sending back to
   back), then p50/p99 latency at an offered rate (``--rate`` per second, open loop), and the
   deliveries stored afterwards (none may be lost). Processing is not measured.

The sandbox is driven over HTTP only (``channels_sync`` may not import it): by default the
command starts ``gunicorn zopi.wsgi`` on a free port of 127.0.0.1 with ``SANDBOX_ENABLED=1`` and
stops it at the end; ``--base-url`` uses a server already running (the tests pass their live
server). See docs/benchmarks.md, "Channel ingest".
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import django
import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test.utils import override_settings
from django.urls import reverse

from accounts.models import Account
from channels_sync.enums import DeliveryState
from channels_sync.models import Store, WebhookDelivery
from channels_sync.providers.base import ChannelProvider
from channels_sync.providers.shopify.provider import ShopifyProvider, shopify_hmac
from channels_sync.services.processing import delivery_process
from channels_sync.services.pull import store_pull
from channels_sync.services.stores import store_provider
from orders.enums import Channel
from orders.models import Order

ACCOUNT = "Zopi bench ingest"
CREATE_CHUNK = 10_000  # the sandbox creates at most this many orders per control call
HTTP_TIMEOUT = 600  # seconds: creating 10,000 sandbox orders is one long call
BUCKET = {"bucket_size": 1_000_000, "leak_rate": 100_000, "graphql_restore_rate": 1_000_000}  # not what we measure
# The GraphQL section's bucket: Shopify Plus's documented 1000 points/s (5,000 orders in about
# 75 s: Standard's 100/s would take over 12 minutes) in a bucket of 2000 points.
GRAPHQL_RESTORE_RATE, GRAPHQL_BUCKET_SIZE = 1000.0, 2000.0
MAX_PULL_RUNS = 1000  # a pull that needs more runs than this is reported as a failure
# The intake limit stays on (its check is part of a delivery's cost), far above the bench's rate.
INTAKE_LIMIT = {"WEBHOOK_RATE_PER_SECOND": "100000", "WEBHOOK_RATE_BURST": "10000000"}


def _pct(samples: list[float], q: int) -> float:
    return round(statistics.quantiles(samples, n=100, method="inclusive")[q - 1], 2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Command(BaseCommand):
    help = "Time channel ingest (sandbox pages → orders) and webhook intake, print JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=5_000, help="Orders in the sandbox shop, pulled once.")
        parser.add_argument(
            "--page-size", type=int, default=250, help="Orders per page (Shopify: capped by the single-query cost, 25)."
        )
        parser.add_argument("--webhooks", type=int, default=2_000, help="Timed webhook deliveries.")
        parser.add_argument("--concurrency", type=int, default=16, help="Client threads, capacity run (closed loop).")
        parser.add_argument("--rate", type=float, default=300, help="Webhooks/s offered in the latency run (0: skip).")
        parser.add_argument("--rate-threads", type=int, default=32, help="Client threads for the latency run.")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (-w).")
        parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker.")
        parser.add_argument("--base-url", default="", help="Use this running server (sandbox on) instead of gunicorn.")
        parser.add_argument(
            "--graphql-restore-rate",
            type=float,
            default=GRAPHQL_RESTORE_RATE,
            help="Points/s the GraphQL section's cost bucket restores (0: skip the section).",
        )
        parser.add_argument(
            "--graphql-bucket-size", type=float, default=GRAPHQL_BUCKET_SIZE, help="Points the cost bucket holds."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        n: int = options["orders"]
        if n < 1 or options["webhooks"] < 1 or options["concurrency"] < 1 or options["rate_threads"] < 1:
            raise CommandError("--orders, --webhooks, --concurrency and --rate-threads must be at least 1.")
        if options["rate"] < 0:
            raise CommandError("--rate must not be negative.")
        if options["graphql_restore_rate"] < 0 or options["graphql_bucket_size"] < 1:
            raise CommandError("--graphql-restore-rate must not be negative, --graphql-bucket-size at least 1.")
        result: dict[str, Any] = {"orders": n, **self.machine()}
        server = self.gunicorn(options) if not options["base_url"] else self.running(options["base_url"])
        with server as base_url:
            result["server"] = (
                f"gunicorn -w {options['workers']} --threads {options['threads']}"
                if not options["base_url"]
                else base_url
            )
            shop = self.sandbox_shop(base_url, n)
            if options["graphql_restore_rate"] > 0:
                result["graphql_pull"] = self.graphql_pull(
                    base_url,
                    shop,
                    n=n,
                    page_size=options["page_size"],
                    restore_rate=options["graphql_restore_rate"],
                    bucket_size=options["graphql_bucket_size"],
                )
            store = self.fresh_store(shop)
            result["ingest"] = self.ingest(store, n=n, page_size=options["page_size"])
            result["webhooks"] = self.webhooks(base_url, store, options)
        result["processing"] = self.processing(store)
        self.stdout.write(json.dumps(result, indent=2))

    # Machine and server ---------------------------------------------------------------------

    def machine(self) -> dict[str, Any]:
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        info: dict[str, Any] = {"cpu_count": os.cpu_count(), "memory_gib": memory, "python": platform.python_version()}
        info.update(load_avg_1m=round(os.getloadavg()[0], 2), django=django.get_version(), database=connection.vendor)
        info["broker"] = settings.CELERY_BROKER_URL.split("://", 1)[0]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('server_version'), current_setting('shared_buffers')")
                info["postgres_version"], info["shared_buffers"] = cursor.fetchone()
        return info

    @contextmanager
    def running(self, base_url: str) -> Iterator[str]:
        yield base_url.rstrip("/")

    @contextmanager
    def gunicorn(self, options: dict[str, Any]) -> Iterator[str]:
        """gunicorn serving zopi.wsgi (sandbox on) with this process's environment, stopped at the end."""
        port = _free_port()
        hosts = os.environ.get("ALLOWED_HOSTS", "")
        env = {**INTAKE_LIMIT, **os.environ, "SANDBOX_ENABLED": "1"}
        env["ALLOWED_HOSTS"] = ",".join(filter(None, [hosts, "127.0.0.1"]))
        command = [sys.executable, "-m", "gunicorn", "zopi.wsgi", "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
        command += ["-w", str(options["workers"]), "--threads", str(options["threads"])]
        process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env)  # noqa: S603
        base_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise CommandError(f"gunicorn exited with {process.returncode}")
                try:
                    if requests.get(f"{base_url}/sandbox/_control/faults", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise CommandError("gunicorn did not answer /sandbox/_control/faults within 60 s")
                time.sleep(0.2)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    # Set up ----------------------------------------------------------------------------------

    @staticmethod
    def control(base_url: str, method: str, path: str, body: Any) -> Any:
        """One call of the sandbox's control API (``/sandbox/_control/<path>``)."""
        response = requests.request(method, f"{base_url}/sandbox/_control/{path}", json=body, timeout=HTTP_TIMEOUT)
        if response.status_code not in (200, 201):
            raise CommandError(f"sandbox {method} {path} → {response.status_code}: {response.text[:300]}")
        return response.json()

    def sandbox_shop(self, base_url: str, n: int) -> dict[str, Any]:
        """A sandbox shop with exactly n orders (reused when it has them) and a bucket that never fills."""

        def call(method: str, path: str, body: Any) -> Any:
            return self.control(base_url, method, path, body)

        name = f"bench-ingest-{n}"
        shop: dict[str, Any] = call("POST", "accounts", {"provider": "shopify", "name": name})
        call("PUT", f"shopify/{name}/options", BUCKET)
        have = int(
            self.sandbox_rest(shop["base_url"], shop["credentials"]["access_token"], "orders/count.json")["count"]
        )
        if have > n:
            raise CommandError(f"sandbox shop {name} has {have} orders, more than {n}")
        while have < n:  # distinct seeds: distinct customers and lines
            count = min(CREATE_CHUNK, n - have)
            have += len(call("POST", f"shopify/{name}/orders", {"count": count, "seed": 1000 + have})["created"])
        return {**shop, "name": name}

    @staticmethod
    def sandbox_rest(base_url: str, token: str, path: str) -> Any:
        """A GET of the sandbox shop's REST Admin API (bench set-up only; production reads GraphQL)."""
        response = requests.get(
            f"{base_url}/admin/api/2024-10/{path}", headers={"X-Shopify-Access-Token": token}, timeout=HTTP_TIMEOUT
        )
        if response.status_code != 200:
            raise CommandError(f"sandbox GET {path} → {response.status_code}: {response.text[:300]}")
        return response.json()

    def drop(self) -> None:
        accounts = Account.objects.filter(name=ACCOUNT)
        Order.objects.filter(account__in=accounts).delete()
        accounts.delete()  # its stores and their webhook deliveries go with it

    def fresh_store(self, shop: dict[str, Any]) -> Store:
        """A new bench account and Shopify store on the shop (no orders yet, never pulled)."""
        self.drop()
        store = Store(
            account=Account.objects.create(name=ACCOUNT),
            channel=Channel.SHOPIFY,
            name=f"Bench {shop['name']}",
            domain=f"{shop['name']}.myshopify.com",
            shop_id=f"{shop['name']}.myshopify.com",  # what its deliveries' X-Shopify-Shop-Domain says
            base_url=shop["base_url"],
        )
        store.credentials = {"access_token": shop["credentials"]["access_token"]}
        store.webhook_secret = shop["credentials"]["webhook_secret"]
        store.save()
        return store

    # Measurements ----------------------------------------------------------------------------

    def ingest(self, store: Store, *, n: int, page_size: int) -> dict[str, Any]:
        provider: Any = store_provider(store)
        began = time.perf_counter()
        pages = fetched = 0
        for page in provider.iter_order_pages(updated_since=None, page_size=page_size):
            pages, fetched = pages + 1, fetched + len(page.orders)
        fetch = time.perf_counter() - began
        http = sum(attempt.duration for attempt in provider.attempts)

        sql = [0.0]

        def timed(execute: Any, sql_text: str, params: Any, many: bool, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return execute(sql_text, params, many, context)
            finally:
                sql[0] += time.perf_counter() - started

        with override_settings(SYNC_PULL_PAGE_SIZE=page_size), connection.execute_wrapper(timed):
            began = time.perf_counter()
            pulled = store_pull(store_id=store.pk)
            ingest = time.perf_counter() - began
        stored = Order.objects.filter(store_id=store.pk).count()
        if pulled.error or fetched != n or pulled.orders != n or stored != n:
            raise CommandError(f"fetched {fetched}, pulled {pulled.orders}, stored {stored} of {n}: {pulled.error}")
        return {
            "page_size": page_size,
            "pages": pages,
            "orders_stored": stored,
            "ingest_seconds": round(ingest, 2),
            "ingest_orders_per_second": round(n / ingest),
            "ingest_sql_seconds": round(sql[0], 2),
            "fetch_parse_seconds": round(fetch, 2),
            "fetch_http_seconds": round(http, 2),
            "fetch_orders_per_second": round(n / fetch),
            "ingest_over_fetch": round(ingest / fetch, 2),
        }

    def graphql_pull(
        self,
        base_url: str,
        shop: dict[str, Any],
        *,
        n: int,
        page_size: int,
        restore_rate: float,
        bucket_size: float,
    ) -> dict[str, Any]:
        """``store_pull`` of the whole shop into a fresh store under a cost bucket that is the
        bottleneck, run after run until done (a run stopped by its budget or by a wait above the
        inline cap is followed by the next, as its task would be).

        The points are what the providers the pull made were charged (``actualQueryCost``); the
        bucket starts full, so ``ratio`` credits its content, ``restored_ratio`` only what the
        bucket restored meanwhile (points spent beyond what it held at the start and at the end).
        """
        options = f"shopify/{shop['name']}/options"
        full = {"available": bucket_size, "at": time.time()}
        bucket = {"graphql_bucket_size": bucket_size, "graphql_restore_rate": restore_rate}
        self.control(base_url, "PUT", options, {**bucket, "cost_bucket": full})
        store = self.fresh_store(shop)
        made: list[ChannelProvider] = []

        def keep(store: Store) -> ChannelProvider:
            made.append(store_provider(store))
            return made[-1]

        runs, countdowns, orders = 0, 0, 0
        began = time.perf_counter()
        with override_settings(SYNC_PULL_PAGE_SIZE=page_size):
            while runs < MAX_PULL_RUNS:
                runs += 1
                pulled = store_pull(store_id=store.pk, provider_of=keep)
                orders += pulled.orders
                if pulled.error:
                    countdowns += 1  # in a worker: the pull backs off, its next run resumes here
                    time.sleep(settings.OUTBOUND_MAX_INLINE_WAIT)
                elif not pulled.stopped:
                    break
        elapsed = time.perf_counter() - began
        left = self.control(base_url, "GET", options, None)["options"].get("cost_bucket", {})
        self.control(base_url, "PUT", options, {**BUCKET, "graphql_bucket_size": None, "cost_bucket": None})
        stored = Order.objects.filter(store_id=store.pk).count()
        if stored != n:
            raise CommandError(f"GraphQL pull: stored {stored} of {n} in {runs} runs ({countdowns} failed)")
        ledgers = [provider.client.ledger for provider in made if isinstance(provider, ShopifyProvider)]
        points = sum(ledger.points for ledger in ledgers)
        waits = [wait for ledger in ledgers for wait in ledger.waits]
        sizes = sorted(size for ledger in ledgers for size in ledger.page_sizes)
        restored = points - bucket_size + float(left.get("available", bucket_size))
        return {
            "restore_rate": restore_rate,
            "bucket_size": bucket_size,
            "orders_stored": stored,
            "runs": runs,
            "countdowns": countdowns,
            "queries": sum(ledger.calls for ledger in ledgers),
            "throttled": sum(ledger.throttled for ledger in ledgers),
            "waits": len(waits),
            "wait_seconds": round(sum(waits), 2),
            "max_wait_seconds": round(max(waits, default=0.0), 3),
            "page_sizes": {"min": sizes[0], "median": sizes[len(sizes) // 2], "max": sizes[-1]} if sizes else {},
            "points_spent": points,
            "elapsed_seconds": round(elapsed, 2),
            "points_per_second": round(points / elapsed, 1),
            "ratio": round(points / elapsed / restore_rate, 3),
            "restored_ratio": round(restored / elapsed / restore_rate, 3),
            "orders_per_second": round(n / elapsed, 1),
        }

    def webhooks(self, base_url: str, store: Store, options: dict[str, Any]) -> dict[str, Any]:
        """Signed, distinct orders/updated deliveries: capacity (closed loop), then latency at a rate.

        *Capacity*: ``--concurrency`` threads each send the next delivery as soon as the last one
        was answered. *At rate*: deliveries are scheduled every 1/``--rate`` s (open loop) and
        handed to a pool of threads; latency counts from the scheduled time, so a server that
        falls behind is charged for the wait (no coordinated omission). Then the deliveries
        stored are counted: none may be lost.
        """
        # Webhook bodies are REST-shaped order JSON even for GraphQL apps: read them from the
        # sandbox's REST endpoint (kept for this and for the official REST client's checks).
        orders = self.sandbox_rest(store.base_url, store.credentials["access_token"], "orders.json?limit=250")["orders"]
        concurrency, count, rate = options["concurrency"], options["webhooks"], options["rate"]
        warmup = 2 * concurrency
        secret, run = store.webhook_secret, uuid.uuid4().hex[:12]
        # One body per delivery (the intake keeps one delivery per body): the page's orders over
        # and over, each with its own note. Signed before anything is timed.
        bodies = [
            json.dumps({**orders[i % len(orders)], "note": f"bench {run} {i}"}, separators=(",", ":")).encode()
            for i in range(warmup + count + (count if rate > 0 else 0))
        ]
        signatures = [shopify_hmac(secret, body) for body in bodies]
        path = reverse("channels_sync:webhook", kwargs={"channel": Channel.SHOPIFY.value, "public_id": store.public_id})
        sender = _Sender(base_url, path)
        next_index = iter(range(10**9))

        def delivery() -> tuple[bytes, dict[str, str]]:
            i = next(next_index)  # one interpreter-level step: safe across threads
            return bodies[i], {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/updated",
                "X-Shopify-Hmac-Sha256": signatures[i],
                "X-Shopify-Shop-Domain": store.domain,
                "X-Shopify-API-Version": "2024-10",
                "X-Shopify-Webhook-Id": f"bench-{run}-{i}",
            }

        sender.closed_loop(delivery, total=warmup, threads=concurrency)  # connections, imports, first queries
        capacity_samples, capacity_wall = sender.closed_loop(delivery, total=count, threads=concurrency)
        at_rate: dict[str, Any] = {}
        sent = warmup + count
        if rate > 0:
            rate_samples, rate_wall = sender.open_loop(
                delivery, total=count, rate=rate, threads=options["rate_threads"]
            )
            at_rate = {"offered_per_second": rate, **_summary(rate_samples, rate_wall)}
            sent += count
        stored = WebhookDelivery.objects.filter(store=store).count()
        return {
            "sent": sent,
            "warmup": warmup,
            "capacity": {"concurrency": concurrency, **_summary(capacity_samples, capacity_wall)},
            "at_rate": at_rate,
            "stored": stored,
            "lost": sent - stored,
            "processed": "below, in this process (no worker runs; the queued tasks are left in the broker)",
        }

    def processing(self, store: Store) -> dict[str, Any]:
        """The stored deliveries turned into orders here, one ``delivery_process`` call per delivery
        in arrival order, as the ``sync`` queue's tasks would call it (Celery's own cost aside)."""
        ids = list(
            WebhookDelivery.objects.filter(store=store, state=DeliveryState.RECEIVED)
            .order_by("id")
            .values_list("id", flat=True)
        )
        began = time.perf_counter()
        for delivery_id in ids:
            delivery_process(delivery_id=delivery_id)
        seconds = time.perf_counter() - began
        states = Counter(WebhookDelivery.objects.filter(pk__in=ids).values_list("state", flat=True))
        return {
            "deliveries": len(ids),
            "seconds": round(seconds, 2),
            "deliveries_per_second": round(len(ids) / seconds) if seconds else None,
            "states": dict(sorted(states.items())),
        }


def _summary(samples: list[tuple[int, float]], wall: float) -> dict[str, Any]:
    statuses = Counter(status for status, _ in samples)
    latencies = [ms for _, ms in samples]
    return {
        "statuses": {str(status): n for status, n in sorted(statuses.items())},
        "seconds": round(wall, 2),
        "requests_per_second": round(len(samples) / wall),
        "p50_ms": _pct(latencies, 50),
        "p99_ms": _pct(latencies, 99),
        "max_ms": round(max(latencies), 2),
    }


class _Sender:
    """POSTs over keep-alive ``http.client`` connections, one per thread: the client's own CPU
    (it shares the machine with the server) stays well below what ``requests`` would take."""

    def __init__(self, base_url: str, path: str) -> None:
        parts = urlsplit(base_url)
        self.https = parts.scheme == "https"
        self.host, self.path = parts.hostname or "127.0.0.1", path
        self.port = parts.port or (443 if self.https else 80)
        self.local = threading.local()

    def post(self, body: bytes, headers: dict[str, str]) -> int:
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: reconnect once
            connection_ = getattr(self.local, "connection", None)
            if connection_ is None:
                kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
                connection_ = self.local.connection = kind(self.host, self.port, timeout=30)
            try:
                connection_.request("POST", self.path, body=body, headers=headers)
                response = connection_.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    connection_.close()
                    self.local.connection = None
                return response.status
            except (OSError, http.client.HTTPException):
                connection_.close()
                self.local.connection = None
                if attempt == 2:
                    return 0
        return 0

    def closed_loop(
        self, delivery: Callable[[], tuple[bytes, dict[str, str]]], *, total: int, threads: int
    ) -> tuple[list[tuple[int, float]], float]:
        outs: list[list[tuple[int, float]]] = [[] for _ in range(threads)]

        def work(k: int) -> None:
            for _ in range(k, total, threads):
                body, headers = delivery()
                started = time.perf_counter()
                status = self.post(body, headers)
                outs[k].append((status, (time.perf_counter() - started) * 1000))

        wall = self._run(work, threads)
        return [sample for out in outs for sample in out], wall

    def open_loop(
        self, delivery: Callable[[], tuple[bytes, dict[str, str]]], *, total: int, rate: float, threads: int
    ) -> tuple[list[tuple[int, float]], float]:
        outs: list[list[tuple[int, float]]] = [[] for _ in range(threads)]
        slots = iter(range(total))
        began = time.perf_counter() + 0.05

        def work(k: int) -> None:
            for slot in slots:  # the next scheduled send, whichever thread is free
                due = began + slot / rate
                time.sleep(max(0.0, due - time.perf_counter()))
                body, headers = delivery()
                status = self.post(body, headers)
                outs[k].append((status, (time.perf_counter() - due) * 1000))

        wall = self._run(work, threads)
        return [sample for out in outs for sample in out], wall

    @staticmethod
    def _run(work: Callable[[int], None], threads: int) -> float:
        pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
        began = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        return time.perf_counter() - began
