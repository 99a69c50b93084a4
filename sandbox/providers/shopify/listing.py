"""GET orders.json / orders/count.json: filters and cursor pagination as Shopify does them.

The first request carries the filters; its ``Link`` header carries opaque ``page_info``
cursors (base64 JSON of the filters, sort and last row). A follow-up request may carry only
``page_info``, ``limit`` and ``fields``; anything else is a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import BigIntegerField, BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.http import QueryDict

from sandbox.models import ChannelOrder, SimAccount
from sandbox.providers.shopify.orders import ShopifyError

DEFAULT_LIMIT, MAX_LIMIT = 50, 250
PAGE_PARAMS = {"page_info", "limit", "fields"}
DATE_FILTERS = {
    "created_at_min": ("created_at", "gte"),
    "created_at_max": ("created_at", "lte"),
    "updated_at_min": ("updated_at", "gte"),
    "updated_at_max": ("updated_at", "lte"),
    "processed_at_min": ("created_at", "gte"),
    "processed_at_max": ("created_at", "lte"),
}
FILTER_PARAMS = {*DATE_FILTERS, "ids", "since_id", "status", "financial_status", "fulfillment_status", "order"}
STATUSES = {"open": ["open"], "closed": ["closed", "cancelled"], "cancelled": ["cancelled"]}
FINANCIAL = {"authorized", "pending", "paid", "partially_paid", "refunded", "voided", "partially_refunded"}
FULFILLMENT = {
    "shipped": ["fulfilled"],
    "partial": ["partial"],
    "unshipped": ["unfulfilled"],
    "unfulfilled": ["unfulfilled", "partial"],
}
SORT_FIELDS = {"created_at", "updated_at", "processed_at", "id"}


def _invalid(param: str) -> ShopifyError:
    return ShopifyError(400, {param: "Invalid value."})


@dataclass(frozen=True)
class Page:
    orders: list[ChannelOrder]
    next_cursor: str | None
    previous_cursor: str | None
    limit: int


def parse_limit(params: QueryDict) -> int:
    raw = params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise _invalid("limit") from None
    if limit < 1:
        raise _invalid("limit")
    return min(limit, MAX_LIMIT)


def parse_fields(params: QueryDict) -> list[str] | None:
    raw = params.get("fields")
    fields = [name.strip() for name in raw.split(",") if name.strip()] if raw else []
    return fields or None


def _parse_time(param: str, raw: str, tz: ZoneInfo) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        raise _invalid(param) from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


def filters_from(params: QueryDict, tz: ZoneInfo) -> dict[str, str]:
    """The filter parameters of a first request, validated; returned as given (they go in cursors)."""
    filters = {key: str(params.get(key)) for key in FILTER_PARAMS if params.get(key) not in (None, "")}
    for key in ("since_id",):
        if key in filters and not filters[key].isdigit():
            raise _invalid(key)
    if "ids" in filters and not all(part.strip().isdigit() for part in filters["ids"].split(",")):
        raise _invalid("ids")
    if filters.get("status", "open") not in {*STATUSES, "any"}:
        raise _invalid("status")
    if filters.get("financial_status", "any") not in {*FINANCIAL, "any", "unpaid"}:
        raise _invalid("financial_status")
    if filters.get("fulfillment_status", "any") not in {*FULFILLMENT, "any"}:
        raise _invalid("fulfillment_status")
    if "order" in filters:
        field, _, direction = filters["order"].partition(" ")
        if field not in SORT_FIELDS or direction.lower() not in {"", "asc", "desc"}:
            raise _invalid("order")
    for key in DATE_FILTERS:
        if key in filters:
            _parse_time(key, filters[key], tz)
    return filters


def filtered(account: SimAccount, filters: dict[str, str], tz: ZoneInfo) -> QuerySet[ChannelOrder]:
    qs = ChannelOrder.objects.filter(account=account).annotate(num_id=Cast("external_id", BigIntegerField()))
    status = filters.get("status", "open")
    if status != "any":
        qs = qs.filter(status__in=STATUSES[status])
    financial = filters.get("financial_status", "any")
    if financial == "unpaid":
        qs = qs.filter(financial_status__in=["authorized", "pending", "partially_paid"])
    elif financial != "any":
        qs = qs.filter(financial_status=financial)
    fulfillment = filters.get("fulfillment_status", "any")
    if fulfillment != "any":
        qs = qs.filter(extra__fulfillment__in=FULFILLMENT[fulfillment])
    if "ids" in filters:
        qs = qs.filter(num_id__in=[int(part) for part in filters["ids"].split(",")])
    if "since_id" in filters:
        qs = qs.filter(num_id__gt=int(filters["since_id"]))
    for key, (field, lookup) in DATE_FILTERS.items():
        if key in filters:
            qs = qs.filter(**{f"{field}__{lookup}": _parse_time(key, filters[key], tz)})
    return qs


def _sort(filters: dict[str, str]) -> tuple[str, bool]:
    """(model field, descending). since_id lists by id ascending, as Shopify does."""
    if "order" in filters:
        field, _, direction = filters["order"].partition(" ")
        field = {"processed_at": "created_at", "id": "num_id"}.get(field, field)
        return field, direction.lower() != "asc"
    if "since_id" in filters:
        return "num_id", False
    return "created_at", True


def cursor_encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def cursor_decode(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _invalid("page_info") from None
    if not isinstance(data, dict) or data.get("direction") not in {"next", "prev"} or "last_id" not in data:
        raise _invalid("page_info")
    if not isinstance(data.get("filters"), dict):
        raise _invalid("page_info")
    return data


def _sort_value(order: ChannelOrder, field: str) -> Any:
    value = getattr(order, field)
    return value.isoformat() if isinstance(value, datetime) else value


def rows_after(field: str, descending: bool, value: Any, last_id: int) -> Q | RawSQL:
    """Rows strictly after (value, last_id) in the listing order.

    A row comparison, which the (account, created_at, numeric id) index takes as its range: a
    shop's orders often share one created_at (made together), so a bound on the time alone
    would leave every later page scanning and sorting the rest of the shop.
    """
    if field != "num_id" and isinstance(value, str):
        value = datetime.fromisoformat(value)
    op = "lt" if descending else "gt"
    if field == "num_id":
        return Q(**{f"num_id__{op}": last_id})
    quote, table = connection.ops.quote_name, ChannelOrder._meta.db_table
    column, external_id = f"{quote(table)}.{quote(field)}", f"{quote(table)}.{quote('external_id')}"  # no db_column
    sign = "<" if descending else ">"
    return RawSQL(  # noqa: S611 - column names from the model, values as parameters
        f"({column}, CAST({external_id} AS bigint)) {sign} (%s, %s)",
        [connection.ops.adapt_datetimefield_value(value), last_id],
        output_field=BooleanField(),
    )


def page_get(account: SimAccount, params: QueryDict, tz: ZoneInfo) -> Page:
    """One page of orders for a list request (first request or page_info follow-up)."""
    limit = parse_limit(params)
    if "page_info" in params:
        extra = sorted(key for key in params if key not in PAGE_PARAMS)
        if extra:
            raise ShopifyError(
                400,
                {
                    extra[0]: f"{extra[0]} cannot be passed when page_info is present. "
                    "See https://shopify.dev/api/usage/pagination-rest for more information."
                },
            )
        cursor = cursor_decode(str(params.get("page_info")))
        filters = {str(k): str(v) for k, v in cursor["filters"].items()}
    else:
        cursor, filters = None, filters_from(params, tz)
    field, descending = _sort(filters)
    qs = filtered(account, filters, tz).prefetch_related("fulfillments")
    forward = [f"-{field}", "-num_id"] if descending else [field, "num_id"]
    backward = [name.lstrip("-") if name.startswith("-") else f"-{name}" for name in forward]
    if cursor is None:
        rows = list(qs.order_by(*forward)[: limit + 1])
        has_more_after, has_before = len(rows) > limit, False
        rows = rows[:limit]
    elif cursor["direction"] == "next":
        rows = list(
            qs.filter(rows_after(field, descending, cursor["last_value"], cursor["last_id"])).order_by(*forward)[
                : limit + 1
            ]
        )
        has_more_after, has_before = len(rows) > limit, True
        rows = rows[:limit]
    else:
        rows = list(
            qs.filter(rows_after(field, not descending, cursor["last_value"], cursor["last_id"])).order_by(*backward)[
                : limit + 1
            ]
        )
        has_before, has_more_after = len(rows) > limit, True
        rows = list(reversed(rows[:limit]))

    def make(direction: str, row: ChannelOrder) -> str:
        return cursor_encode(
            {"direction": direction, "last_id": row.num_id, "last_value": _sort_value(row, field), "filters": filters}  # type: ignore[attr-defined]
        )

    return Page(
        orders=rows,
        next_cursor=make("next", rows[-1]) if rows and has_more_after else None,
        previous_cursor=make("prev", rows[0]) if rows and has_before else None,
        limit=limit,
    )
