"""Reads for the order center. Every function takes the account: no query crosses tenants."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db import connections
from django.db.models import BooleanField, Count, F, Model, Prefetch, Q, QuerySet, Sum, Value, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber, StrIndex
from django.utils import timezone

from accounts.models import Account
from orders.enums import ARCHIVE_TAB, TAB_STATUSES
from orders.errors import OrdersNotFound
from orders.models import Order, OrderCount, OrderEvent, OrderLine, Refund, RefundLine


@dataclass(frozen=True)
class OrderFilter:
    """What the order center shows; built from the URL by ``orders.forms.OrderCenterForm``."""

    tab: str  # an OrderStatus of TAB_STATUSES, or "archive"
    sub_status: str | None = None
    store_id: int | None = None
    q: str = ""
    date_from: date | None = None
    date_to: date | None = None
    stalled: bool = False  # only the orders flagged as stalled (``Order.stalled``)
    overdue: bool = False  # only the orders whose supplier is late on a refund (``Order.refund_overdue``)


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


# A stalled order: the condition of the partial index ``order_stalled_idx``, written the same way
# so PostgreSQL answers the filter and the count from that index (only the few stalled orders).
STALLED = ~Q(stalled="")


def order_stalled_counts(*, account: Account, store_id: int | None = None) -> dict[str, int]:
    """Stalled orders per tab (the archive as one), in one COUNT over ``order_stalled_idx``: it holds
    only the stalled orders, so the count never reads a tab."""
    rows = Order.objects.filter(STALLED, account=account)
    if store_id is not None:
        rows = rows.filter(store_id=store_id)
    counts: dict[str, int] = dict.fromkeys([*TAB_STATUSES, ARCHIVE_TAB], 0)
    for row in rows.values("archived", "status").annotate(n=Count("pk")).order_by():
        tab = ARCHIVE_TAB if row["archived"] else row["status"]
        if tab in counts:
            counts[tab] += row["n"]
    return counts


# A refund the supplier is late on: the condition of the partial index ``order_refund_overdue_idx``,
# written the same way so the filter and its count read only the few flagged orders.
REFUND_OVERDUE = ~Q(refund_overdue="")


def order_refund_overdue_counts(*, account: Account, store_id: int | None = None) -> dict[str, int]:
    """Orders with an overdue refund per tab (the archive as one) under the tab's name, and per
    tab and sub-status under ``"<tab>/<sub_status>"`` (what the Overdue filter lists with a pill
    chosen), in one COUNT over ``order_refund_overdue_idx`` (like ``order_stalled_counts``)."""
    rows = Order.objects.filter(REFUND_OVERDUE, account=account)
    if store_id is not None:
        rows = rows.filter(store_id=store_id)
    counts: dict[str, int] = dict.fromkeys([*TAB_STATUSES, ARCHIVE_TAB], 0)
    for row in rows.values("archived", "status", "sub_status").annotate(n=Count("pk")).order_by():
        tab = ARCHIVE_TAB if row["archived"] else row["status"]
        if tab in counts:
            counts[tab] += row["n"]
            if row["sub_status"]:
                key = f"{tab}/{row['sub_status']}"
                counts[key] = counts.get(key, 0) + row["n"]
    return counts


_WORD = re.compile(r"[^\W_]+")  # what pg_trgm counts as a word: runs of letters and digits


def _search_probe(term: str) -> str:
    """The part of a search term the trigram index looks up: the term, or its identifier word.

    pg_trgm reads the posting list of every trigram of every word of the term, and an e-mail
    domain or a first name is in a large share of orders: at a million orders
    "ana.schmidt240259@orange.fr" reads ~1,300 index pages (25 ms). A word with four or more
    digits (the number in an e-mail, a tracking or order number) is nearly unique on its own;
    looking up only that word reads ~230 pages (5 ms), and the whole term is then checked on the
    few rows found, so the result is the same.
    """
    words = _WORD.findall(term)
    identifiers = [word for word in words if sum(char.isdigit() for char in word) >= 4]
    return max(identifiers, key=len) if identifiers and len(words) > 1 else term


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
    if order_filter.stalled:
        orders = orders.filter(STALLED)
    if order_filter.overdue:
        orders = orders.filter(REFUND_OVERDUE)
    if order_filter.q:
        term = order_filter.q.lower()
        probe = _search_probe(term)
        if probe == term:
            orders = orders.filter(search_text__contains=term)
        else:  # the index finds the rows with the identifier; the whole term is checked on those few
            orders = orders.alias(term_at=StrIndex("search_text", Value(term))).filter(
                search_text__contains=probe, term_at__gt=0
            )
    if order_filter.date_from and (start := _midnight(order_filter.date_from)) is not None:
        orders = orders.filter(placed_at__gte=start)
    if order_filter.date_to and order_filter.date_to < date.max:  # up to 9999-12-31: every order
        orders = orders.filter(placed_at__lt=_midnight(order_filter.date_to + timedelta(days=1)))
    return orders


def _midnight(day: date) -> datetime | None:
    """The start of ``day`` in the current time zone, in UTC; None before the first UTC instant.

    Midnight of 0001-01-01 east of UTC has no UTC time (``OverflowError``): every stored time is
    after it, so it bounds nothing. No other day is that close to the edge of the calendar
    (offsets are under a day, and the day after 9999-12-31 is never asked for).
    """
    try:
        return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone()).astimezone(UTC)
    except OverflowError:
        return None


def _supplier_orders_prefetch() -> Prefetch:
    """The order's supplier orders with their supplier account in one query. The model is found
    through the relation, not imported: ``orders`` imports no other app (import-linter)."""
    supplier_order = Order._meta.get_field("supplier_orders").related_model
    assert not isinstance(supplier_order, str)  # a resolved model once the apps are loaded
    return Prefetch("supplier_orders", queryset=supplier_order._default_manager.select_related("source_account"))


def _related_model(name: str) -> type[Model]:
    """The model of one of Order's reverse relations, found through it, not imported: ``orders``
    imports no other app (import-linter)."""
    model = Order._meta.get_field(name).related_model
    assert model is not None  # a relation to a model
    assert not isinstance(model, str)  # resolved once the apps are loaded
    return model


# The drawer shows a parcel's newest scans, and how many earlier ones it left out.
DRAWER_EVENTS = 50


def _events_prefetch() -> Prefetch:
    """Each parcel's ``DRAWER_EVENTS`` newest scans in the one prefetch query (a window per parcel),
    each carrying its parcel's scan count (``scans_total``)."""
    event = _related_model("shipments")._meta.get_field("events").related_model
    assert event is not None
    assert not isinstance(event, str)
    newest_first = [F("occurred_at").desc(), F("id").desc()]
    scans = (
        event._default_manager.annotate(
            scan_rank=Window(RowNumber(), partition_by=[F("shipment_id")], order_by=newest_first),
            scans_total=Window(Count("id"), partition_by=[F("shipment_id")]),
        )
        .filter(scan_rank__lte=DRAWER_EVENTS)
        .order_by(*newest_first)
    )
    return Prefetch("events", queryset=scans)


def _parcels_prefetch(*, timelines: bool) -> list[Prefetch | str]:
    """The order's parcels: its own (``tracking.Shipment``) and the ones whose number it shares
    (``tracking.ShipmentOrder`` → shipment), of the order's own account only (a wrongly written
    link to another tenant's parcel never shows). For the drawer also each parcel's newest scans
    and the other orders that carry the number, and the fulfillment pushes: a fixed number of
    queries."""
    shipment = _related_model("shipments")
    link = _related_model("shared_shipments")
    own = shipment._default_manager.filter(account_id=F("order__account_id"))
    links = link._default_manager.filter(shipment__account_id=F("order__account_id"))
    if not timelines:
        return [
            Prefetch("shipments", queryset=own.order_by("id")),
            Prefetch("shared_shipments", queryset=links.select_related("shipment")),
        ]
    others = Prefetch("other_orders", queryset=link._default_manager.select_related("order"))
    parcels = shipment._default_manager.select_related("order").prefetch_related(_events_prefetch(), others)
    return [
        Prefetch("shipments", queryset=parcels.filter(account_id=F("order__account_id")).order_by("id")),
        Prefetch("shared_shipments", queryset=links.prefetch_related(Prefetch("shipment", queryset=parcels))),
        "fulfillment_pushes",
    ]


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
            RawSQL(  # noqa: S611 - the table name is ours, the values are parameters
                f'("{table}"."placed_at", "{table}"."id") < (%s, %s)',
                # Adapted as the ORM stores it: SQLite keeps datetimes as naive UTC text.
                (connections[orders.db].ops.adapt_datetimefield_value(cursor.placed_at), cursor.id),
                output_field=BooleanField(),
            )
        )
    rows = list(
        orders.select_related("store")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
            # The row's placement column (state, "no longer synced"): the suppliers' rows read
            # through our reverse relation, one query whatever the page holds.
            _supplier_orders_prefetch(),
            # The row's parcel column: two queries whatever the page holds.
            *_parcels_prefetch(timelines=False),
            # The row's margin counts refunds both ways: two queries whatever the page holds.
            "refunds",
            "customer_refunds",
        )
        .order_by("-placed_at", "-id")[: page_size + 1]
    )
    next_cursor = None
    if len(rows) > page_size:
        rows = rows[:page_size]
        next_cursor = Cursor(placed_at=rows[-1].placed_at, id=rows[-1].pk)
    return rows, next_cursor


def order_ids_matching(*, account: Account, order_filter: OrderFilter, limit: int) -> list[int]:
    """The ids of the orders ``order_filter`` shows (a whole filtered tab), newest first, at most
    ``limit`` of them: the caller asks for one more than it accepts to know the filter is too wide."""
    orders = _filtered_orders(account=account, order_filter=order_filter).order_by("-placed_at", "-id")
    return list(orders.values_list("pk", flat=True)[:limit])


def _refund_lines_prefetch() -> Prefetch:
    return Prefetch("lines", queryset=RefundLine.objects.select_related("order_line").order_by("id"))


def order_get(*, account: Account, order_id: int) -> Order:
    """One order of the account with everything the drawer shows; ``OrdersNotFound`` for any other id."""
    order = (
        Order.objects.filter(account=account, pk=order_id)
        .select_related("store", "duplicate_of")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
            "supplier_orders",
            *_parcels_prefetch(timelines=True),
            Prefetch("refunds", queryset=Refund.objects.prefetch_related(_refund_lines_prefetch())),
            "customer_refunds",
            Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("created_at", "id")),
        )
        .first()
    )
    if order is None:
        raise OrdersNotFound([order_id])
    return order


def stores_for_account(*, account: Account) -> QuerySet:
    return account.stores.order_by("name", "id")


def orders_by_ids(*, account: Account, order_ids: list[int]) -> list[Order]:
    return list(Order.objects.filter(account=account, pk__in=order_ids).select_related("store").order_by("-placed_at"))
