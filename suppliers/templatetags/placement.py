"""Template tags the order center's templates use for placement (``{% load placement %}``).

The order center lives in ``orders``, which imports no other app: its templates reach the
suppliers' data through these tags (rows already prefetched by ``orders.selectors``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode, urlsplit

from django import template
from django.conf import settings
from django.http import QueryDict
from django.utils.formats import number_format

from orders.models import Order
from suppliers import presentation, selectors
from suppliers.models import SupplierOrder

# The order center's filters a "Place the whole tab" carries (the views read the same names).
FILTER_FIELDS = ("status", "sub_status", "store", "q", "date_from", "date_to")
# "Place the whole filtered tab" takes at most this many orders in one batch (PLACEMENT_MAX_BATCH).
DEFAULT_MAX_BATCH = 5_000


def max_batch() -> int:
    return int(getattr(settings, "PLACEMENT_MAX_BATCH", DEFAULT_MAX_BATCH))


register = template.Library()


@register.simple_tag
def placement_row(order: Order) -> presentation.PlacementRow:
    """``{% placement_row order as p %}``: the row's placement facts (no query: prefetched)."""
    return presentation.placement_row(order)


@register.filter
def placement_fix_url(order: Order) -> str:
    """The link that fixes the order's placement problem, or "" (see ``presentation.placement_fix_url``)."""
    return presentation.placement_fix_url(order.placement_issue_fix)


@register.filter
def placement_fix_label(order: Order) -> str:
    return presentation.placement_fix_label(order.placement_issue_fix)


@register.filter
def order_margin(order: Order) -> Decimal | None:
    return presentation.margin(order)


@register.filter
def supplier_order_url(supplier_order: SupplierOrder) -> str:
    return presentation.supplier_order_url(supplier_order)


@register.simple_tag
def placement_tab_vals(current_url: str) -> str:
    """The order center's filters of ``current_url`` as htmx values for "Place the whole tab"."""
    query = QueryDict(urlsplit(current_url).query)
    values = {name: query[name] for name in FILTER_FIELDS if query.get(name)}
    return json.dumps({"scope": "filtered", **values, "next": current_url})


@register.simple_tag
def placement_tab_query(current_url: str) -> str:
    """The same as a query string, for the link that works without JavaScript."""
    query = QueryDict(urlsplit(current_url).query)
    values = {name: query[name] for name in FILTER_FIELDS if query.get(name)}
    return urlencode({"scope": "filtered", **values, "next": current_url})


@register.simple_tag
def placement_max_batch() -> str:
    """The most orders one "Place all in this tab" takes, formatted for the page's language."""
    return number_format(max_batch(), force_grouping=True)


@register.inclusion_tag("suppliers/_placement_batches.html", takes_context=True)
def placement_batches(context: dict[str, Any]) -> dict[str, Any]:
    """The user's running (or just finished) placements, at the top of the order center: one query."""
    request = context["request"]
    account = getattr(request, "account", None)
    batches = (
        selectors.placement_batches_showing(account=account, user=request.user)
        if account is not None and request.user.is_authenticated
        else []
    )
    # Each polls its own progress (and results) a second later: the page renders the counts only.
    entries = [{"batch": batch, "polling": batch.finished_at is None, "results": []} for batch in batches]
    return {"batches": entries, "request": request}


@register.inclusion_tag("suppliers/_supplier_orders_panel.html", takes_context=True)
def supplier_orders_panel(context: dict[str, Any], order: Order) -> dict[str, Any]:
    """The drawer's supplier orders (history included), with lines, amounts and transitions."""
    request = context.get("request")
    account = getattr(request, "account", None)
    supplier_orders = selectors.supplier_orders_of_order(account=account, order=order) if account else []
    return {
        "order": order,
        "supplier_orders": supplier_orders,
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
