"""Benchmark the order center list page at a given size; prints one JSON object.

``manage.py bench_order_center --orders N`` builds N orders for one bench account (two stores)
plus 10% more in three other accounts with bulk writes (COPY on PostgreSQL, ``bulk_create``
elsewhere), fills ``OrderCount`` from the rows, times the real view through Django's test
client, and checks the tab counts against a real GROUP BY. A bench account with the same N is
reused; ``--rebuild`` builds again, ``--reset`` drops the bench data. See docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import time
import unicodedata
from bisect import bisect
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import accumulate, islice
from typing import Any
from urllib.parse import urlencode

import django
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, reset_queries, transaction
from django.db.models import Count, Max, Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Membership
from orders.enums import ARCHIVE_TAB, TAB_STATUSES, Channel, OrderStatus, SubStatus
from orders.forms import encode_cursor
from orders.models import Order, OrderCount, OrderEvent, OrderLine
from orders.search_text import search_text_for
from orders.selectors import Cursor, TabCounts, order_tab_counts
from orders.services import orders_set_archived
from orders.services.counts import counts_apply, order_counts_from_rows

PREFIX, USERNAME, CHUNK = "Zopi bench ", "zopi-bench", 20_000
MAIN = f"{PREFIX}main"
St, S = OrderStatus, SubStatus
MIX = [  # (status, sub_status, weight %): mostly shipped and delivered, as in real life
    (status.value, sub.value, weight)
    for status, sub, weight in [
        (St.UNPAID, S.NONE, 0.5), (St.NEW, S.NONE, 3), (St.PAYMENT, S.PAYMENT_FAILED, 1),
        (St.PAYMENT, S.AWAITING_FULFILLMENT, 4), (St.SHIPMENT, S.AWAITING_SHIPMENT, 4),
        (St.SHIPMENT, S.IN_TRANSIT, 12), (St.SHIPMENT, S.PICKUP, 1.5), (St.SHIPMENT, S.DELIVERED, 62.5),
        (St.SHIPMENT, S.EXPIRED, 2), (St.SHIPMENT, S.FAILED, 1.5), (St.CANCELED, S.CHANNEL_CANCELED, 3),
        (St.CANCELED, S.SOURCE_CANCELED, 1), (St.REFUND, S.REFUND_IN_REVIEW, 0.5),
        (St.REFUND, S.REFUND_APPROVED, 0.5), (St.REFUND, S.REFUNDED, 2.5), (St.REFUND, S.REFUND_REJECTED, 0.5),
    ]
]  # fmt: skip
CUM = list(accumulate(weight for _, _, weight in MIX))
FIRST = """Olivia Liam Sofia Lucas Emma Noah Chloé Wei Amelia Mateo Ava Hugo Léa Yuki Omar Fatima Jonas Lena Diego
Ana Grace Ethan Mia Leon Zoe Arjun Priya Kenji Ingrid Sven Aisha Tomás Giulia Pierre Maja Anton Chen Nora Felix Ines"""
LAST = """Martin Johnson Rossi Silva Müller Williams Dubois Zhang Smith Brown García Lopez Schmidt Bernard Costa Nowak
Tanaka Nguyen Khan Patel Fischer Moreau Yilmaz Jansen Kowalski Romano Santos Larsen Novak Murphy Weber Kim Hansen
Ferreira Dupont Lindqvist Okafor Haddad Ivanova Bianchi de_Vries O'Brien"""
FIRSTS, LASTS = FIRST.split(), [name.replace("_", " ") for name in LAST.split()]
DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "gmx.de", "orange.fr", "uol.com.br"]
CATALOG = [  # (title, sku stem, variants, price in cents)
    ("Wireless Earbuds Pro", "EB-PRO", "BLK WHT BLU", 2990), ("LED Strip 5m", "LED-5M", "RGB WW CW", 1950),
    ("Yoga Mat", "YM-183", "PUR BLK GRN PNK", 3400), ("Phone Case", "PC-IP15", "CLR BLK RED BLU", 1299),
    ("Smart Watch S8", "SW-S8", "SLV BLK GLD", 5900), ("Pet Hair Remover", "PHR-01", "STD", 1595),
    ("Posture Corrector", "PCR", "S M L XL", 2490), ("Car Phone Mount", "CPM-MAG", "BLK SLV", 1790),
    ("Mini Projector", "MPJ-720", "WHT", 8900), ("Silicone Baking Mat", "SBM-2P", "RED GRY", 1390),
]  # fmt: skip
SKUS = [(title, f"{stem}-{v}", v, price) for title, stem, variants, price in CATALOG for v in variants.split()]
ORDER_COLS = [
    "id", "account_id", "store_id", "channel", "channel_order_id", "number", "base_number", "customer_name",
    "customer_email", "currency", "total", "supplier_cost", "channel_paid", "channel_canceled", "placed_at", "status",
    "sub_status", "archived", "archived_at", "search_text", "created_at", "updated_at", "channel_updated_at",
    "possible_duplicate", "duplicate_confirmed",
]  # fmt: skip
LINE_COLS = ["order_id", "channel_line_id", "sku", "title", "variant_title", "quantity", "unit_price"]
Row = tuple[Any, ...]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(char for char in ascii_text.lower() if char.isalnum())


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def generate(
    rng: random.Random, *, account_id: int, stores: list[tuple[int, str]], n: int, first_id: int, now: datetime
) -> Iterator[tuple[Row, list[Row]]]:
    """N orders of one account and their lines, oldest first over two years (ids follow time)."""
    start, step, customers = now - timedelta(days=730), 730 * 86400 / n, max(20, n // 2)
    for i in range(n):
        order_id, number = first_id + i, f"#{1001 + i}"
        store_id, channel = stores[0] if len(stores) == 1 or rng.random() < 0.6 else stores[1]
        c = rng.randrange(customers)  # a customer orders twice on average
        first, last = FIRSTS[c % len(FIRSTS)], LASTS[(c // len(FIRSTS)) % len(LASTS)]
        name, email = f"{first} {last}", f"{_slug(first)}.{_slug(last)}{c}@{DOMAINS[(c * 7 + c // 13) % 8]}"
        status, sub_status, _ = MIX[bisect(CUM, rng.random() * CUM[-1])]
        placed_at = start + timedelta(seconds=(i + rng.random()) * step)
        lines, cents = [], 499
        for k in range(rng.choice((1, 1, 1, 2, 2, 3))):
            title, sku, variant, price = rng.choice(SKUS)
            quantity = rng.choice((1, 1, 1, 2, 3))
            cents += quantity * price
            lines.append((order_id, f"{order_id}{k}", sku, title, variant, quantity, _money(price)))
        terms = [line[2] for line in lines]
        if status == St.SHIPMENT or (status == St.REFUND and rng.random() < 0.7):  # the tracking number
            terms.append(rng.choice(("LP00", "YT", "UJ")) + str(rng.randrange(10**11, 10**12)))
        placed = status not in (St.UNPAID, St.NEW) and sub_status != S.CHANNEL_CANCELED
        archived = rng.random() < 0.03
        yield (
            order_id, account_id, store_id, channel, str(4_000_000_000_000 + order_id), number, number, name, email,
            "USD", _money(cents), _money(cents * 2 // 5) if placed else None, status != St.UNPAID,
            sub_status == S.CHANNEL_CANCELED, placed_at, status, sub_status, archived,
            placed_at + timedelta(days=45) if archived else None,
            search_text_for(number=number, customer_name=name, customer_email=email, terms=terms),
            placed_at + timedelta(minutes=2), placed_at + timedelta(days=3), placed_at + timedelta(days=3),
            False, False,
        ), lines  # fmt: skip


def fold(rows: list[dict[str, Any]]) -> TabCounts:
    """(status, sub_status, archived, n) rows into tab and pill counts, read as the counters are."""
    tabs: dict[str, int] = dict.fromkeys([*TAB_STATUSES, ARCHIVE_TAB], 0)
    subs: Counter[tuple[str, str]] = Counter()
    for row in rows:
        if row["archived"]:
            tabs[ARCHIVE_TAB] += row["n"]
        elif row["status"] in tabs:
            tabs[row["status"]] += row["n"]
            subs[(row["status"], row["sub_status"])] += row["n"]
    return TabCounts(tabs=tabs, sub_statuses=dict(subs))


def _pct(samples: list[float], q: int) -> float:
    return round(statistics.quantiles(samples, n=100, method="inclusive")[q - 1], 2)


class Command(BaseCommand):
    help = "Build N bench orders (reused if present), time the order center list page, print JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=10_000, help="Orders in the bench account.")
        parser.add_argument("--requests", type=int, default=50, help="Timed requests per scenario.")
        parser.add_argument("--warmup", type=int, default=5, help="Untimed requests per scenario first.")
        parser.add_argument("--rebuild", action="store_true", help="Build again even if the same N exists.")
        parser.add_argument("--reset", action="store_true", help="Drop the bench data and exit.")
        parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the order queries to stderr.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reset"]:
            self.drop()
            return
        n: int = options["orders"]
        if n < 100:
            raise CommandError("Use at least 100 orders.")
        main = Account.objects.filter(name=MAIN).first()
        built = OrderCount.objects.filter(account=main).aggregate(n=Sum("count"))["n"] if main else None
        reused = main is not None and built == n and not options["rebuild"]
        started = time.perf_counter()
        if not reused:
            self.drop()
            main = self.build(n, random.Random(42))
        assert main is not None
        result = {"orders": n, "other_orders": n // 10, **self.machine(), "reused": reused}
        result["build_seconds"] = None if reused else round(time.perf_counter() - started, 1)
        result.update(self.measure(main, options))
        result.update(self.check_counts(main))
        self.stdout.write(json.dumps(result, indent=2))

    def machine(self) -> dict[str, Any]:
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        info: dict[str, Any] = {"cpu_count": os.cpu_count(), "memory_gib": memory, "python": platform.python_version()}
        info.update(load_avg_1m=round(os.getloadavg()[0], 2), django=django.get_version(), database=connection.vendor)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('server_version'), current_setting('shared_buffers')")
                info["postgres_version"], info["shared_buffers"] = cursor.fetchone()
        return info

    def drop(self) -> None:
        """Delete the bench accounts with raw deletes (the ORM would load a million orders first)."""
        ids = list(Account.objects.filter(name__startswith=PREFIX).values_list("pk", flat=True))
        if ids:
            marks = ", ".join(["%s"] * len(ids))
            order_ids = f"SELECT id FROM {Order._meta.db_table} WHERE account_id IN ({marks})"  # noqa: S608
            with transaction.atomic(), connection.cursor() as cursor:
                for table in (OrderLine._meta.db_table, OrderEvent._meta.db_table):
                    cursor.execute(f"DELETE FROM {table} WHERE order_id IN ({order_ids})", ids)  # noqa: S608
                for table in (OrderCount._meta.db_table, Order._meta.db_table):
                    cursor.execute(f"DELETE FROM {table} WHERE account_id IN ({marks})", ids)  # noqa: S608
                Account.objects.filter(pk__in=ids).delete()
        get_user_model().objects.filter(username=USERNAME).delete()

    def build(self, n: int, rng: random.Random) -> Account:
        store_model: Any = Order._meta.get_field("store").related_model  # orders does not import channels_sync
        now = timezone.now().replace(minute=0, second=0, microsecond=0)
        plan = [(MAIN, n, [Channel.SHOPIFY, Channel.WOOCOMMERCE])]
        plan += [(f"{PREFIX}other {k}", n // 30 + (k == 1) * (n // 10 % 3), [Channel.TIKTOK]) for k in (1, 2, 3)]
        accounts = []
        for name, size, channels in plan:
            account = Account.objects.create(name=name)
            stores = [
                (store_model.objects.create(account=account, channel=ch, name=f"{name} {ch.label}",
                                            domain=f"{_slug(name)}-{ch.value}.example.com").pk, ch.value)
                for ch in channels
            ]  # fmt: skip
            rows = generate(rng, account_id=account.pk, stores=stores, n=size, first_id=self.reserve_ids(size), now=now)
            while chunk := list(islice(rows, CHUNK)):
                self.write([order for order, _ in chunk], [line for _, lines in chunk for line in lines])
            with transaction.atomic():  # the counters, computed from the rows themselves
                counts_apply(Counter(order_counts_from_rows(account=account)))
            accounts.append(account)
        Membership.objects.create(user=get_user_model().objects.create(username=USERNAME), account=accounts[0])
        with connection.cursor() as cursor:
            tables = ", ".join(model._meta.db_table for model in (Order, OrderLine, OrderCount))
            cursor.execute(f"VACUUM (ANALYZE) {tables}" if connection.vendor == "postgresql" else "ANALYZE")
        return accounts[0]

    def reserve_ids(self, n: int) -> int:
        """The first of n order ids nobody else will take, so lines can point at them before insert."""
        if connection.vendor != "postgresql":
            return (Order.objects.aggregate(m=Max("id"))["m"] or 0) + 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [Order._meta.db_table])
            sequence = cursor.fetchone()[0]
            cursor.execute("SELECT setval(%s, nextval(%s) + %s - 1)", [sequence, sequence, n])
            return int(cursor.fetchone()[0]) - n + 1

    def write(self, orders: list[Row], lines: list[Row]) -> None:
        with transaction.atomic():
            if connection.vendor != "postgresql":
                Order.objects.bulk_create([Order(**dict(zip(ORDER_COLS, row, strict=True))) for row in orders])
                OrderLine.objects.bulk_create([OrderLine(**dict(zip(LINE_COLS, row, strict=True))) for row in lines])
                return
            with connection.cursor() as cursor:  # trigrams queue in the GIN pending list, merged in big batches
                cursor.execute("SET LOCAL gin_pending_list_limit = '64MB'; SET LOCAL work_mem = '256MB'")
                for model, columns, rows in ((Order, ORDER_COLS, orders), (OrderLine, LINE_COLS, lines)):
                    with cursor.cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)

    def scenarios(self, main: Account) -> dict[str, str]:
        tab = Order.objects.filter(account=main, archived=False, status=St.SHIPMENT).order_by("-placed_at", "-id")
        size = order_tab_counts(account=main).tabs[St.SHIPMENT]
        placed_at, deep_id = tab.values_list("placed_at", "id")[int(size * 0.7)]  # an OFFSET, but untimed
        middle = tab[size // 2]
        store = main.stores.order_by("id").values_list("id", flat=True)[1]

        def url(**params: object) -> str:
            return f"{reverse('orders:center')}?{urlencode({'status': St.SHIPMENT.value, **params})}"

        return {
            "first_page": url(),
            "deep_page_70pct": url(cursor=encode_cursor(Cursor(placed_at=placed_at, id=deep_id))),
            "sub_status": url(sub_status=S.IN_TRANSIT.value),
            "store": url(store=store),
            "store_sub_status": url(store=store, sub_status=S.DELIVERED.value),
            "archive": url(status=ARCHIVE_TAB),
            "search_email": url(q=middle.customer_email),
            "search_number": url(q=middle.number),
            "search_name": url(q=middle.customer_name),
            "search_common": url(q="gmail"),
        }

    def measure(self, main: Account, options: dict[str, Any]) -> dict[str, Any]:
        client = Client()
        client.force_login(get_user_model().objects.get(username=USERNAME))

        def get(url: str) -> bytes:
            response = client.get(url, secure=True)
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}")
            return response.content

        scenarios, results = self.scenarios(main), {}
        samples: dict[str, tuple[list[float], list[float], list[float]]] = {name: ([], [], []) for name in scenarios}
        spent = [0.0]  # ms in the database during the current request

        def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            began = time.perf_counter()
            result = execute(sql, params, many, context)
            spent[0] += (time.perf_counter() - began) * 1000
            return result

        # As in production: no query logging, no template debug; the test client's host allowed.
        with override_settings(DEBUG=False, ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
            for name, url in scenarios.items():
                for _ in range(options["warmup"]):
                    get(url)
                reset_queries()
                with CaptureQueriesContext(connection) as captured:
                    content = get(url)
                results[name] = {"queries": len(captured), "rows": content.count(b"data-order-id="), "url": url}
                if options["explain"]:
                    self.explain(name, captured.captured_queries)
            with connection.execute_wrapper(timed):  # round robin: a slow moment of the machine hits all alike
                for _ in range(options["requests"]):
                    for name, url in scenarios.items():
                        spent[0], began, began_cpu = 0.0, time.perf_counter(), time.process_time()
                        get(url)
                        wall, cpu, sql = samples[name]
                        wall.append((time.perf_counter() - began) * 1000)
                        cpu.append((time.process_time() - began_cpu) * 1000)
                        sql.append(spent[0])
        for name, (wall, cpu, sql) in samples.items():
            results[name] = {
                "p50_ms": _pct(wall, 50), "p95_ms": _pct(wall, 95), "max_ms": round(max(wall), 2),
                "python_cpu_p50_ms": _pct(cpu, 50), "sql_p50_ms": _pct(sql, 50), **results[name],
            }  # fmt: skip
        return {"page_size": settings.ORDER_CENTER_PAGE_SIZE, "requests": options["requests"], "scenarios": results}

    def explain(self, name: str, queries: list[dict[str, str]]) -> None:
        for query in queries:
            if query["sql"].startswith("SELECT") and f'FROM "{Order._meta.db_table}"' in query["sql"]:
                with connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
                    plan = "\n".join(row[0] for row in cursor.fetchall())
                self.stderr.write(f"--- {name}\n{query['sql']}\n{plan}\n")

    def check_counts(self, main: Account) -> dict[str, Any]:
        """The counters against a real GROUP BY, also while orders are archived through the service."""

        def real(store_id: int | None = None) -> TabCounts:
            rows = Order.objects.filter(account=main)
            rows = rows.filter(store_id=store_id) if store_id else rows
            return fold(list(rows.values("status", "sub_status", "archived").annotate(n=Count("id"))))

        def same(a: TabCounts, b: TabCounts) -> bool:  # a pill whose counter row went to 0 reads as 0
            return a.tabs == b.tabs and {k: v for k, v in a.sub_statuses.items() if v} == b.sub_statuses

        def exact() -> bool:
            scopes = [None, *main.stores.values_list("id", flat=True)]
            return all(same(order_tab_counts(account=main, store_id=store), real(store)) for store in scopes)

        began = time.perf_counter()
        real()
        group_by_ms = round((time.perf_counter() - began) * 1000, 1)
        some = list(Order.objects.filter(account=main, archived=False, status=St.NEW).values_list("id", flat=True)[:25])
        checks = [exact()]
        for archived in (True, False):  # moves through the service keep them exact
            orders_set_archived(account=main, order_ids=some, archived=archived)
            checks.append(exact())
        return {
            "counts_exact": all(checks),
            "group_by_count_ms": group_by_ms,
            "tabs": order_tab_counts(account=main).tabs,
        }
