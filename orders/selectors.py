"""Reads for the order center. Every function takes the account: no query crosses tenants."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import BooleanField, Prefetch, QuerySet, Sum
from django.db.models.expressions import RawSQL
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Account
from orders.enums import ARCHIVE_TAB, TAB_STATUSES
from orders.models import Order, OrderCount, OrderEvent, OrderLine


@dataclass(frozen=True)
class OrderFilter:
    """What the order center shows; built from the URL by ``orders.forms.OrderCenterForm``."""

    tab: str  # an OrderStatus of TAB_STATUSES, or "archive"
    sub_status: str | None = None
    store_id: int | None = None
    q: str = ""
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class Cursor:
    """Keyset position: the (placed_at, id) of the last row shown."""

    placed_at: datetime
    id: int


@dataclass(frozen=True)
class TabCounts:
    tabs: dict[str, int]
    sub_statuses: dict[tuple[str, str], int]


def order_tab_counts(*, account: Account, store_id: int | None = None) -> TabCounts:
    """Exact counts per tab and pill from the counters, in one query of a few rows."""
    rows = OrderCount.objects.filter(account=account)
    if store_id is not None:
        rows = rows.filter(store_id=store_id)
    tabs: dict[str, int] = dict.fromkeys([*TAB_STATUSES, ARCHIVE_TAB], 0)
    sub_statuses: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows.values("status", "sub_status", "archived").annotate(n=Sum("count")):
        if row["archived"]:
            tabs[ARCHIVE_TAB] += row["n"]
        elif row["status"] in tabs:
            tabs[row["status"]] += row["n"]
            sub_statuses[(row["status"], row["sub_status"])] += row["n"]
    return TabCounts(tabs=tabs, sub_statuses=dict(sub_statuses))


def _filtered_orders(*, account: Account, order_filter: OrderFilter) -> QuerySet[Order]:
    orders = Order.objects.filter(account=account)
    if order_filter.tab == ARCHIVE_TAB:
        orders = orders.filter(archived=True)
    else:
        orders = orders.filter(archived=False, status=order_filter.tab)
        if order_filter.sub_status is not None:
            orders = orders.filter(sub_status=order_filter.sub_status)
    if order_filter.store_id is not None:
        orders = orders.filter(store_id=order_filter.store_id)
    if order_filter.q:
        orders = orders.filter(search_text__contains=order_filter.q.lower())
    tz = timezone.get_current_timezone()
    if order_filter.date_from:
        orders = orders.filter(placed_at__gte=datetime.combine(order_filter.date_from, time.min, tzinfo=tz))
    if order_filter.date_to:
        end = datetime.combine(order_filter.date_to + timedelta(days=1), time.min, tzinfo=tz)
        orders = orders.filter(placed_at__lt=end)
    return orders


def order_center_page(
    *, account: Account, order_filter: OrderFilter, cursor: Cursor | None, page_size: int
) -> tuple[list[Order], Cursor | None]:
    """One keyset page, newest first, with lines prefetched; and the cursor of the next page.

    Rows are compared as a row value ``(placed_at, id) < (…)``, which PostgreSQL answers
    from the page indexes without reading the rows before the cursor (no OFFSET).
    """
    orders = _filtered_orders(account=account, order_filter=order_filter)
    if cursor is not None:
        table = Order._meta.db_table
        orders = orders.filter(
            RawSQL(
                f'("{table}"."placed_at", "{table}"."id") < (%s, %s)',
                (cursor.placed_at, cursor.id),
                output_field=BooleanField(),
            )
        )
    rows = list(
        orders.select_related("store")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")))
        .order_by("-placed_at", "-id")[: page_size + 1]
    )
    next_cursor = None
    if len(rows) > page_size:
        rows = rows[:page_size]
        next_cursor = Cursor(placed_at=rows[-1].placed_at, id=rows[-1].pk)
    return rows, next_cursor


def order_get(*, account: Account, order_id: int) -> Order:
    """One order of the account with everything the drawer shows; 404 for any other id."""
    return get_object_or_404(
        Order.objects.filter(account=account)
        .select_related("store")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
            "supplier_orders",
            "shipments__events",
            "refunds",
            Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("created_at", "id")),
        ),
        pk=order_id,
    )


def stores_for_account(*, account: Account) -> QuerySet:  # type: ignore[type-arg]
    return account.stores.order_by("name", "id")  # type: ignore[attr-defined]


def orders_by_ids(*, account: Account, order_ids: list[int]) -> list[Order]:
    return list(Order.objects.filter(account=account, pk__in=order_ids).select_related("store").order_by("-placed_at"))
