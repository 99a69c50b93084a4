"""``manage.py bench_placement --orders N``: placing and paying orders under the supplier's rate limit, as JSON.

A bench merchant with one connected supplier account (``--supplier``: CJ by default, AliExpress)
and N orders in New, each one line linked to the sandbox's product, is placed and paid by the
code a bulk placement's tasks run (``bulk.placement_chunk_run`` per chunk of ``bulk.CHUNK`` orders,
pay with the order), from ``--concurrency`` threads of this process, each with its own database
connection, as that many workers would. The sandbox enforces the account's call rate (``--rate-limit`` calls a second,
its per-account option: CJ's 429 "QPS limit", AliExpress's ApiCallLimit) and our pacing is set
to the same rate (``SUPPLIER_RATE_LIMITS``): the goal is to run at 90% of it or more, never above
it (no 429), with at most 3 supplier calls and a constant number of queries per order.

Measured: orders placed and paid per second; supplier calls per order (what the sandbox saw for
the account, admitted and refused); queries per order (counted on each thread's connection: all of
them over N, and the queries of each full chunk none of whose orders was deferred, which are the
same for every such chunk whatever N); our CPU per order (this process's CPU time over the run, threads included: the
sandbox runs in a separate process, so its CPU is not counted; with ``--base-url`` pointing at a
server inside this process, it would be, and the JSON says so); the sandbox server's own CPU
(from /proc, when this command started it). A placement our pacing deferred (its slot further
than the inline wait) is slept out and resent, as its task's countdown would.

By default the command starts ``gunicorn zopi.wsgi`` (sandbox on) on a free port of 127.0.0.1
and stops it at the end; ``--base-url`` uses a running server (the tests pass their live
server). See docs/benchmarks.md, "Placement".
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import django
import requests
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import Account
from orders.enums import Channel, OrderStatus
from orders.models import Order
from orders.services.counts import order_counts_from_rows, order_counts_stored
from orders.services.intake import LineData, OrderData, order_create
from suppliers.enums import PaymentMode, PlacementOutcome, SupplierProvider
from suppliers.models import PlacementBatch, PlacementResult, ProductLink, SourceAccount, SupplierOrder
from suppliers.providers.cj import CjProvider
from suppliers.services.bulk import CHUNK, placement_chunk_run

ACCOUNT = "Zopi bench placement"
SKU = "BENCH-1"
# One product the sandbox sells per supplier (AliExpress product id + sku_attr; CJ vid).
PRODUCTS = {SupplierProvider.ALIEXPRESS: ("1005006454451334", "14:193#Black"), SupplierProvider.CJ: ("VID-1001", "")}
ADDRESS = {
    "ship_name": "Ana Souza",
    "ship_phone": "+1 512 555 0100",
    "ship_address1": "1 Main St",
    "ship_city": "Austin",
    "ship_province": "Texas",
    "ship_province_code": "TX",
    "ship_zip": "78701",
    "ship_country_code": "US",
}
HTTP_TIMEOUT = 60
WARMUP = 4  # orders placed before the clock starts: connections, imports, first queries
MAX_CALLS_PER_ORDER = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pids: list[int]) -> float | None:
    """utime + stime of the processes (from /proc), or None where /proc is not there."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        for pid in pids:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    except (OSError, IndexError, ValueError):
        return None
    return total


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


class Command(BaseCommand):
    help = "Place and pay N orders against the sandbox under its call rate limit; print JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=2_000, help="Orders placed and paid (timed).")
        parser.add_argument("--supplier", choices=["cj", "aliexpress"], default="cj")
        parser.add_argument(
            "--rate-limit", type=float, default=10.0, help="Calls/s the sandbox allows the account (and we pace to)."
        )
        parser.add_argument("--concurrency", type=int, default=6, help="Placing threads (as many workers).")
        parser.add_argument("--chunk", type=int, default=CHUNK, help="Orders per task (the bulk action's chunk).")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers serving the sandbox (-w).")
        parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker.")
        parser.add_argument("--base-url", default="", help="Use this running server (sandbox on) instead of gunicorn.")

    def handle(self, *args: Any, **options: Any) -> None:
        n, rate, concurrency = options["orders"], options["rate_limit"], options["concurrency"]
        self.chunk = options["chunk"]
        if n < 1 or concurrency < 1 or self.chunk < 1 or not rate > 0:
            raise CommandError("--orders, --concurrency and --chunk must be at least 1, --rate-limit above 0.")
        provider = SupplierProvider(options["supplier"])
        result: dict[str, Any] = {"orders": n, "supplier": provider.value, **self.machine()}
        limits = self.our_limits(provider, rate)
        server = self.gunicorn(options) if not options["base_url"] else self.running(options["base_url"])
        with server as (base_url, server_pids), override_settings(SUPPLIER_RATE_LIMITS=limits):
            result["server"] = (
                f"gunicorn -w {options['workers']} --threads {options['threads']}"
                if not options["base_url"]
                else base_url
            )
            result["sandbox_in_this_process"] = bool(options["base_url"])
            sim = self.sandbox_account(base_url, provider, rate)
            account, source = self.merchant(sim, provider)
            self.orders(account, WARMUP, start=0)
            self.place(account, concurrency=concurrency)  # warm-up, not counted
            self.counters_reset(base_url, provider, sim["name"])
            order_ids = self.orders(account, n, start=WARMUP)
            server_cpu_before = _cpu_seconds(server_pids)
            timed = self.place(account, concurrency=concurrency, order_ids=order_ids)
            server_cpu = _cpu_seconds(server_pids)
            seen = self.control(base_url, "GET", f"{provider}/{sim['name']}/options", None)["options"]
        calls, refused = int(seen.get("rate_admitted", 0)), int(seen.get("rate_limited", 0))
        elapsed = timed["elapsed"]
        paid = SupplierOrder.objects.filter(order_id__in=order_ids, state="paid").count()
        chunks = timed["chunks"]
        full = sorted({queries for queries, size, was_deferred in chunks if size == self.chunk and not was_deferred})
        result.update(
            {
                "rate_limit_per_second": rate,
                "our_pacing": {"per_second": rate, "burst": settings.SUPPLIER_RATE_BURST},
                "concurrency": concurrency,
                "elapsed_seconds": round(elapsed, 2),
                "orders_paid": paid,
                "outcomes": timed["outcomes"],
                "deferred_resends": timed["deferred"],
                "orders_placed_and_paid_per_second": round(paid / elapsed, 2),
                "supplier_calls": calls + refused,
                "supplier_calls_per_second": round((calls + refused) / elapsed, 2),
                "rate_used": round((calls + refused) / elapsed / rate, 3),
                "http_429": refused,
                "supplier_calls_per_order": round((calls + refused) / n, 3),
                "chunk_orders": self.chunk,
                "queries_per_order": round(sum(queries for queries, _, _ in chunks) / n, 2),
                "queries_per_full_chunk": full,  # chunks of CHUNK orders none of which was deferred
                "our_cpu_ms_per_order": round(timed["cpu"] * 1000 / n, 2),
                "our_cpu_seconds": round(timed["cpu"], 2),
                "sandbox_cpu_ms_per_order": (
                    round((server_cpu - server_cpu_before) * 1000 / n, 2)
                    if server_cpu is not None and server_cpu_before is not None and server_pids
                    else None
                ),
                "tab_counts_exact": order_counts_stored(account=account) == order_counts_from_rows(account=account),
            }
        )
        result["goals"] = {
            "rate_at_least_90_percent": result["rate_used"] >= 0.9,
            "never_above_the_limit": refused == 0 and result["rate_used"] <= 1.0,
            "calls_per_order_at_most_3": result["supplier_calls_per_order"] <= MAX_CALLS_PER_ORDER,
            "queries_per_order_constant": len(full) == 1,
            "cpu_per_order_at_most_5_ms": result["our_cpu_ms_per_order"] <= 5,
        }
        self.stdout.write(json.dumps(result, indent=2))

    # Machine and server ---------------------------------------------------------------------

    def machine(self) -> dict[str, Any]:
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        info: dict[str, Any] = {"cpu_count": os.cpu_count(), "memory_gib": memory, "python": platform.python_version()}
        info.update(load_avg_1m=round(os.getloadavg()[0], 2), django=django.get_version(), database=connection.vendor)
        info["rate_limit_store"] = "redis" if settings.REDIS_URL else "database"
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('server_version')")
                info["postgres_version"] = cursor.fetchone()[0]
        return info

    @staticmethod
    def our_limits(provider: SupplierProvider, rate: float) -> dict[str, object]:
        """Our pacing at the sandbox's rate: CJ per account, AliExpress per method (``*``: all)."""
        if provider == SupplierProvider.CJ:
            return {"cj": rate}
        return {"aliexpress": {"*": rate}}

    @contextmanager
    def running(self, base_url: str) -> Iterator[tuple[str, list[int]]]:
        yield base_url.rstrip("/"), []

    @contextmanager
    def gunicorn(self, options: dict[str, Any]) -> Iterator[tuple[str, list[int]]]:
        """gunicorn serving zopi.wsgi (sandbox on) with this process's environment, stopped at the end."""
        port = _free_port()
        hosts = os.environ.get("ALLOWED_HOSTS", "")
        env = {**os.environ, "SANDBOX_ENABLED": "1"}
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
                except requests.RequestException:  # not up yet (refused, or a worker still starting)
                    pass
                if time.monotonic() > deadline:
                    raise CommandError("gunicorn did not answer /sandbox/_control/faults within 60 s")
                time.sleep(0.2)
            yield base_url, [process.pid, *_children(process.pid)]
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
        response = requests.request(method, f"{base_url}/sandbox/_control/{path}", json=body, timeout=HTTP_TIMEOUT)
        if response.status_code not in (200, 201):
            raise CommandError(f"sandbox {method} {path} → {response.status_code}: {response.text[:300]}")
        return response.json()

    def sandbox_account(self, base_url: str, provider: SupplierProvider, rate: float) -> dict[str, Any]:
        """The sandbox's supplier account, enforcing ``rate`` (one second's worth at once at most)."""
        name = f"bench-placement-{provider}"
        sim: dict[str, Any] = self.control(base_url, "POST", "accounts", {"provider": provider, "name": name})
        limit = {"rate_limit_per_second": rate, "rate_limit_burst": max(1.0, rate), "payment_failure": ""}
        self.control(base_url, "PUT", f"{provider}/{name}/options", {**limit, "balance": None})
        self.control(base_url, "PUT", "faults", {provider: {}})
        return {**sim, "name": name}

    def counters_reset(self, base_url: str, provider: str, name: str) -> None:
        self.control(base_url, "PUT", f"{provider}/{name}/options", {"rate_admitted": 0, "rate_limited": 0})

    def merchant(self, sim: dict[str, Any], provider: SupplierProvider) -> tuple[Account, SourceAccount]:
        """A fresh bench account: one store, the supplier account connected, the SKU linked."""
        self.drop()
        account = Account.objects.create(name=ACCOUNT)
        # Set-up only: the bench needs a store row for its orders (suppliers imports no channel code).
        store = apps.get_model("channels_sync", "Store").objects.create(
            account=account, channel=Channel.SHOPIFY, name="Bench placement", domain="bench-placement.myshopify.com"
        )
        self.store_id = store.pk
        credentials = dict(sim["credentials"])
        if provider == SupplierProvider.CJ:
            credentials.update(
                CjProvider.token_get(base_url=sim["base_url"], api_key=credentials["api_key"]).credentials()
            )
        source = SourceAccount(
            account=account,
            provider=provider,
            name=sim["name"],
            external_id=sim["name"],
            base_url=sim["base_url"],
            payment_mode=PaymentMode.WITH_ORDER,
            connected_at=timezone.now(),
        )
        source.credentials = credentials
        source.save()
        product_id, sku = PRODUCTS[provider]
        ProductLink.objects.create(
            account=account,
            sku=SKU,
            provider=provider,
            supplier_product_id=product_id,
            supplier_sku=sku,
            unit_cost=Decimal("4.00"),
        )
        return account, source

    def drop(self) -> None:
        accounts = Account.objects.filter(name=ACCOUNT)
        SupplierOrder.objects.filter(account__in=accounts).delete()
        PlacementBatch.objects.filter(account__in=accounts).delete()
        Order.objects.filter(account__in=accounts).delete()
        apps.get_model("channels_sync", "Store").objects.filter(account__in=accounts).delete()
        accounts.delete()

    def orders(self, account: Account, n: int, *, start: int) -> list[int]:
        """``n`` paid orders in New, one line of the linked SKU, with a complete US address."""
        ids = []
        for i in range(start, start + n):
            order = order_create(
                account=account,
                store_id=self.store_id,
                channel=Channel.SHOPIFY,
                data=OrderData(
                    channel_order_id=str(7_000_000_000 + i),
                    number=f"#B{i}",
                    placed_at=timezone.now(),
                    total=Decimal("29.99"),
                    lines=(LineData(title="Bench earbuds", unit_price=Decimal("29.99"), quantity=1, sku=SKU),),
                    customer_name="Ana Souza",
                    customer_email=f"bench{i}@example.com",
                ),
            )
            ids.append(order.pk)
        Order.objects.filter(pk__in=ids).update(**ADDRESS)
        if Order.objects.filter(pk__in=ids, status=OrderStatus.NEW).count() != n:
            raise CommandError("the bench orders are not all in New")
        return ids

    # The run ---------------------------------------------------------------------------------

    def place(self, account: Account, *, concurrency: int, order_ids: list[int] | None = None) -> dict[str, Any]:
        """One batch of ``order_ids`` (else every order in New), its chunks run from threads."""
        wanted = order_ids or list(
            Order.objects.filter(account=account, status=OrderStatus.NEW).values_list("pk", flat=True)
        )
        batch = PlacementBatch.objects.create(account=account, pay=True, total=len(wanted))
        results = PlacementResult.objects.bulk_create(PlacementResult(batch=batch, order_id=pk) for pk in wanted)
        ids = [result.pk for result in results]
        pending = iter([ids[start : start + self.chunk] for start in range(0, len(ids), self.chunk)])
        lock = threading.Lock()
        chunks: list[tuple[int, int, bool]] = []  # queries, orders, deferred
        outcomes: dict[str, int] = {}
        deferred = [0]

        def work() -> None:
            count = [0]

            def counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
                count[0] += 1
                return execute(sql, params, many, context)

            try:
                with connection.execute_wrapper(counted):
                    while True:
                        with lock:
                            chunk = next(pending, None)
                        if chunk is None:
                            return
                        count[0] = 0
                        placed = placement_chunk_run(result_ids=chunk)
                        waiting = [pk for pk, result in placed.items() if result.outcome == PlacementOutcome.DEFERRED]
                        was_deferred = bool(waiting)
                        while waiting:  # the task's countdown
                            with lock:
                                deferred[0] += len(waiting)
                            time.sleep(max(placed[pk].retry_after or 0.0 for pk in waiting))
                            placed.update(placement_chunk_run(result_ids=waiting))
                            waiting = [pk for pk in waiting if placed[pk].outcome == PlacementOutcome.DEFERRED]
                        with lock:
                            chunks.append((count[0], len(chunk), was_deferred))
                            for result in placed.values():
                                outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
            finally:
                if concurrency > 1:
                    connection.close()

        threads = [threading.Thread(target=work) for _ in range(concurrency)]
        cpu, began = time.process_time(), time.perf_counter()
        if concurrency == 1:  # in this thread (a profiler sees it)
            work()
        else:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        return {
            "elapsed": elapsed,
            "cpu": cpu,
            "chunks": chunks,
            "outcomes": outcomes,
            "deferred": deferred[0],
        }
