"""``manage.py bench_ingest --orders N``: how fast channel orders come in, printed as one JSON object.

1. **Ingest**: a sandbox Shopify shop with N orders, a bench store connected to it, then
   ``store_pull`` (the real pull path: provider pages → ``orders_upsert_from_channel`` batches),
   against the time to only fetch and parse the same pages (the provider's iteration alone).
2. **Webhook intake**: correctly signed, distinct ``orders/updated`` deliveries POSTed to
   ``/webhooks/shopify/<public id>/`` by concurrent threads; requests per second, p50/p99
   latency, and the deliveries stored afterwards (none may be lost). Processing is not measured.

The sandbox is driven over HTTP only (``channels_sync`` may not import it): by default the
command starts ``gunicorn zopi.wsgi`` on a free port of 127.0.0.1 with ``SANDBOX_ENABLED=1`` and
stops it at the end; ``--base-url`` uses a server already running (the tests pass their live
server). See docs/benchmarks.md, "Channel ingest".
"""

from __future__ import annotations

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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django
import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test.utils import override_settings
from django.urls import reverse

from accounts.models import Account
from channels_sync.models import Store, WebhookDelivery
from channels_sync.providers.shopify.client import MAX_LIMIT, ShopifyClient
from channels_sync.providers.shopify.provider import shopify_hmac
from channels_sync.services.pull import store_pull
from channels_sync.services.stores import store_provider
from orders.enums import Channel
from orders.models import Order

ACCOUNT = "Zopi bench ingest"
CREATE_CHUNK = 10_000  # the sandbox creates at most this many orders per control call
HTTP_TIMEOUT = 600  # seconds: creating 10,000 sandbox orders is one long call
BUCKET = {"bucket_size": 1_000_000, "leak_rate": 100_000}  # rate limiting must not be what we measure


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
        parser.add_argument("--page-size", type=int, default=MAX_LIMIT, help="Orders per page (Shopify max 250).")
        parser.add_argument("--webhooks", type=int, default=2_000, help="Timed webhook deliveries.")
        parser.add_argument("--concurrency", type=int, default=16, help="Client threads sending webhooks.")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (-w).")
        parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker.")
        parser.add_argument("--base-url", default="", help="Use this running server (sandbox on) instead of gunicorn.")

    def handle(self, *args: Any, **options: Any) -> None:
        n: int = options["orders"]
        if n < 1 or options["webhooks"] < 1 or options["concurrency"] < 1:
            raise CommandError("--orders, --webhooks and --concurrency must be at least 1.")
        result: dict[str, Any] = {"orders": n, **self.machine()}
        server = self.gunicorn(options) if not options["base_url"] else self.running(options["base_url"])
        with server as base_url:
            result["server"] = (
                f"gunicorn -w {options['workers']} --threads {options['threads']}"
                if not options["base_url"]
                else base_url
            )
            shop = self.sandbox_shop(base_url, n)
            store = self.fresh_store(shop)
            result["ingest"] = self.ingest(store, n=n, page_size=options["page_size"])
            result["webhooks"] = self.webhooks(base_url, store, options)
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
        env = {**os.environ, "SANDBOX_ENABLED": "1", "ALLOWED_HOSTS": ",".join(filter(None, [hosts, "127.0.0.1"]))}
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

    def sandbox_shop(self, base_url: str, n: int) -> dict[str, Any]:
        """A sandbox shop with exactly n orders (reused when it has them) and a bucket that never fills."""
        http = requests.Session()
        control = f"{base_url}/sandbox/_control"

        def call(method: str, path: str, body: Any) -> Any:
            response = http.request(method, f"{control}/{path}", json=body, timeout=HTTP_TIMEOUT)
            if response.status_code not in (200, 201):
                raise CommandError(f"sandbox {method} {path} → {response.status_code}: {response.text[:300]}")
            return response.json()

        name = f"bench-ingest-{n}"
        shop: dict[str, Any] = call("POST", "accounts", {"provider": "shopify", "name": name})
        call("PUT", f"shopify/{name}/options", BUCKET)
        client = ShopifyClient(shop["base_url"], access_token=shop["credentials"]["access_token"])
        have = int(client.orders_count()["count"])
        if have > n:
            raise CommandError(f"sandbox shop {name} has {have} orders, more than {n}")
        while have < n:  # distinct seeds: distinct customers and lines
            count = min(CREATE_CHUNK, n - have)
            have += len(call("POST", f"shopify/{name}/orders", {"count": count, "seed": 1000 + have})["created"])
        return {**shop, "name": name}

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

    def webhooks(self, base_url: str, store: Store, options: dict[str, Any]) -> dict[str, Any]:
        """Signed, distinct orders/updated deliveries from concurrent threads; then count what was stored."""
        client = ShopifyClient(store.base_url, access_token=store.credentials["access_token"])
        orders = next(client.order_pages(updated_since=None, limit=MAX_LIMIT))[0]["orders"]
        bodies = [json.dumps(order, separators=(",", ":")).encode() for order in orders]
        path = reverse("channels_sync:webhook", kwargs={"channel": Channel.SHOPIFY.value, "public_id": store.public_id})
        url, secret, run = f"{base_url}{path}", store.webhook_secret, uuid.uuid4().hex[:12]
        signatures = [shopify_hmac(secret, body) for body in bodies]
        concurrency, count = options["concurrency"], options["webhooks"]
        warmup = 2 * concurrency

        def headers(i: int) -> dict[str, str]:
            return {
                "Content-Type": "application/json",
                "X-Shopify-Topic": "orders/updated",
                "X-Shopify-Hmac-Sha256": signatures[i % len(bodies)],
                "X-Shopify-Shop-Domain": store.domain,
                "X-Shopify-API-Version": "2024-10",
                "X-Shopify-Webhook-Id": f"bench-{run}-{i}",
            }

        def send(indexes: range, out: list[tuple[int, float]]) -> None:
            session = requests.Session()
            for i in indexes:
                started = time.perf_counter()
                try:
                    status = session.post(url, data=bodies[i % len(bodies)], headers=headers(i), timeout=30).status_code
                except requests.RequestException:
                    status = 0
                out.append((status, (time.perf_counter() - started) * 1000))

        def blast(first: int, total: int) -> tuple[list[tuple[int, float]], float]:
            outs: list[list[tuple[int, float]]] = [[] for _ in range(concurrency)]
            threads = [
                threading.Thread(target=send, args=(range(first + k, first + total, concurrency), outs[k]))
                for k in range(concurrency)
            ]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return [sample for out in outs for sample in out], time.perf_counter() - began

        blast(0, warmup)  # connections, worker imports, first queries
        samples, wall = blast(warmup, count)
        statuses = Counter(status for status, _ in samples)
        latencies = [ms for _, ms in samples]
        stored = WebhookDelivery.objects.filter(store=store).count()
        return {
            "sent": count,
            "warmup": warmup,
            "concurrency": concurrency,
            "statuses": {str(status): n for status, n in sorted(statuses.items())},
            "seconds": round(wall, 2),
            "requests_per_second": round(count / wall),
            "p50_ms": _pct(latencies, 50),
            "p99_ms": _pct(latencies, 99),
            "max_ms": round(max(latencies), 2),
            "stored": stored,
            "lost": warmup + count - stored,
            "processed": "not measured (the intake enqueues a task on commit; no worker runs)",
        }
