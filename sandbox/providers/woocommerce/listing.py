"""GET wc/v3/orders: WordPress REST parameter validation, filters and page/per_page pagination."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.db.models import BigIntegerField, Q, QuerySet
from django.db.models.functions import Cast
from django.http import QueryDict

from sandbox.models import ChannelOrder, SimAccount
from sandbox.providers.woocommerce.orders import WooError
from sandbox.providers.woocommerce.render import STATUSES

ORDERBY = ("date", "id", "include", "title", "slug", "modified")
STATUS_FILTERS = ("any", "trash", *STATUSES)
DATE_PARAMS = {
    "after": ("created_at", "gt"),
    "before": ("created_at", "lt"),
    "modified_after": ("updated_at", "gt"),
    "modified_before": ("updated_at", "lt"),
}
AUTH_PARAMS = {"consumer_key", "consumer_secret", "oauth_consumer_key", "oauth_timestamp", "oauth_nonce"}
AUTH_PARAMS |= {"oauth_signature", "oauth_signature_method", "oauth_version"}


@dataclass(frozen=True)
class OrderPage:
    orders: list[ChannelOrder]
    total: int
    total_pages: int
    page: int


def _invalid(param: str, message: str, code: str = "rest_invalid_param") -> WooError:
    return WooError(
        "rest_invalid_param",
        f"Invalid parameter(s): {param}",
        params={param: message},
        details={param: {"code": code, "message": message, "data": None}},
    )


def _integer(params: QueryDict, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, f"{name} is not of type integer.", "rest_invalid_type") from None
    if value < low or (high is not None and value > high):
        message = (
            f"{name} must be between {low} (inclusive) and {high} (inclusive)"
            if high is not None
            else f"{name} must be greater than or equal to {low}"
        )
        raise _invalid(name, message, "rest_out_of_bounds")
    return value


def _list(params: QueryDict, name: str) -> list[str]:
    values = params.getlist(name) + params.getlist(f"{name}[]")
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _date(params: QueryDict, name: str, tz: ZoneInfo, gmt: bool) -> datetime | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "+"))
    except ValueError:
        raise _invalid(name, "Invalid date.", "rest_invalid_date") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC if gmt else tz)


def orders_page(account: SimAccount, params: QueryDict, tz: ZoneInfo) -> OrderPage:
    per_page = _integer(params, "per_page", 10, 1, 100)
    page = _integer(params, "page", 1, 1)
    offset = _integer(params, "offset", 0, 0)
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise _invalid("order", "order is not one of asc and desc.", "rest_not_in_enum")
    orderby = params.get("orderby", "date")
    if orderby not in ORDERBY:
        raise _invalid(
            "orderby", f"orderby is not one of {', '.join(ORDERBY[:-1])}, and {ORDERBY[-1]}.", "rest_not_in_enum"
        )
    statuses = _list(params, "status") or ["any"]
    for index, status in enumerate(statuses):
        if status not in STATUS_FILTERS:
            message = f"status[{index}] is not one of {', '.join(STATUS_FILTERS[:-1])}, and {STATUS_FILTERS[-1]}."
            raise _invalid("status", message, "rest_not_in_enum")
    gmt = params.get("dates_are_gmt", "false").lower() in {"1", "true"}
    qs: QuerySet[ChannelOrder] = ChannelOrder.objects.filter(account=account).annotate(
        num_id=Cast("external_id", BigIntegerField())
    )
    if "any" not in statuses:
        qs = qs.filter(status__in=statuses)
    for name, (field, lookup) in DATE_PARAMS.items():
        value = _date(params, name, tz, gmt)
        if value is not None:
            qs = qs.filter(**{f"{field}__{lookup}": value})
    for name, negate in (("include", False), ("exclude", True)):
        ids = _list(params, name)
        if ids:
            if not all(part.isdigit() for part in ids):
                raise _invalid(name, f"{name}[0] is not of type integer.", "rest_invalid_type")
            condition = Q(num_id__in=[int(part) for part in ids])
            qs = qs.exclude(condition) if negate else qs.filter(condition)
    search = params.get("search", "").strip()
    if search:
        qs = qs.filter(Q(customer__name__icontains=search) | Q(customer__email__icontains=search) | Q(number=search))
    field = {"id": "num_id", "modified": "updated_at", "include": "num_id", "title": "num_id", "slug": "num_id"}.get(
        orderby, "created_at"
    )
    sign = "-" if order == "desc" else ""
    total = qs.count()
    start = offset + (page - 1) * per_page
    rows = list(qs.order_by(f"{sign}{field}", f"{sign}num_id")[start : start + per_page])
    return OrderPage(orders=rows, total=total, total_pages=math.ceil(total / per_page) if total else 0, page=page)


def link_header(base: str, params: QueryDict, page: OrderPage) -> str | None:
    """WordPress's ``Link`` header: rel="prev" and rel="next" with the request's own query."""
    query: list[tuple[str, Any]] = [(k, v) for k, v in params.items() if k not in AUTH_PARAMS and k != "page"]
    links = []
    if page.page > 1:
        prev_page = min(page.page - 1, max(page.total_pages, 1))
        links.append(f'<{base}?{urlencode([*query, ("page", prev_page)])}>; rel="prev"')
    if page.page < page.total_pages:
        links.append(f'<{base}?{urlencode([*query, ("page", page.page + 1)])}>; rel="next"')
    return ", ".join(links) or None
