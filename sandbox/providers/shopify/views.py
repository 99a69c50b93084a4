"""Shopify Admin REST endpoints (2024-10): orders, fulfillment orders, fulfillments, webhooks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse

from sandbox.http import json_response, parse_json_body
from sandbox.models import ChannelOrder, SimAccount
from sandbox.providers.shopify import hooks, listing, render
from sandbox.providers.shopify.api import body_object, shopify_api
from sandbox.providers.shopify.orders import ShopifyError, fulfillment_create, order_cancel


def _only(data: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key in fields} if fields else data


def _order(account: SimAccount, order_id: int) -> ChannelOrder:
    order = account.channel_orders.prefetch_related("fulfillments").filter(external_id=str(order_id)).first()
    if order is None:
        raise ShopifyError(404, "Not Found")
    return order


@shopify_api("GET")
def orders_list(request: HttpRequest, account: SimAccount, version: str) -> HttpResponse:
    tz = render.shop_tz(account)
    page = listing.page_get(account, request.GET, tz)
    fields = listing.parse_fields(request.GET)
    body = {"orders": [_only(render.order_json(order, account), fields) for order in page.orders]}
    links = []
    base = request.build_absolute_uri(request.path)
    for rel, cursor in (("previous", page.previous_cursor), ("next", page.next_cursor)):
        if cursor:
            query = {"limit": page.limit, **({"fields": request.GET["fields"]} if fields else {}), "page_info": cursor}
            links.append(f'<{base}?{urlencode(query)}>; rel="{rel}"')
    return json_response(body, headers={"Link": ", ".join(links)} if links else None)


@shopify_api("GET")
def shop_detail(request: HttpRequest, account: SimAccount, version: str) -> HttpResponse:
    return json_response({"shop": render.shop_json(account)})


@shopify_api("GET")
def orders_count(request: HttpRequest, account: SimAccount, version: str) -> HttpResponse:
    tz = render.shop_tz(account)
    return json_response({"count": listing.filtered(account, listing.filters_from(request.GET, tz), tz).count()})


@shopify_api("GET")
def order_detail(request: HttpRequest, account: SimAccount, version: str, order_id: int) -> HttpResponse:
    order = _order(account, order_id)
    return json_response({"order": _only(render.order_json(order, account), listing.parse_fields(request.GET))})


@shopify_api("POST")
def order_cancel_view(request: HttpRequest, account: SimAccount, version: str, order_id: int) -> HttpResponse:
    order = _order(account, order_id)
    try:
        body = parse_json_body(request)
    except ValueError:
        raise ShopifyError(400, {"order": "Required parameter missing or invalid"}) from None
    # Rails merges query and body parameters: the official library sends them in the query.
    params = {**request.GET.dict(), **(body if isinstance(body, dict) else {})}
    refund = params.get("refund", False)
    refund = refund.lower() in {"1", "true"} if isinstance(refund, str) else bool(refund)
    order = order_cancel(order=order, reason=str(params.get("reason") or "other"), refund=refund)
    return json_response({"order": render.order_json(order, account)})


@shopify_api("GET")
def fulfillment_orders(request: HttpRequest, account: SimAccount, version: str, order_id: int) -> HttpResponse:
    order = _order(account, order_id)
    return json_response({"fulfillment_orders": [render.fulfillment_order_json(order, account)]})


@shopify_api("GET")
def order_fulfillments(request: HttpRequest, account: SimAccount, version: str, order_id: int) -> HttpResponse:
    order = _order(account, order_id)
    tz = render.shop_tz(account)
    rows = sorted(order.fulfillments.all(), key=lambda row: row.pk)
    return json_response({"fulfillments": [render.fulfillment_json(row, tz) for row in rows]})


@shopify_api("POST")
def fulfillments_create(request: HttpRequest, account: SimAccount, version: str) -> HttpResponse:
    row = fulfillment_create(account=account, data=body_object(request, "fulfillment"))
    return json_response({"fulfillment": render.fulfillment_json(row, render.shop_tz(account))}, status=201)


@shopify_api("GET", "POST")
def webhooks(request: HttpRequest, account: SimAccount, version: str) -> HttpResponse:
    if request.method == "GET":
        rows = account.webhook_subscriptions.order_by("id")
        if request.GET.get("topic"):
            rows = rows.filter(topic=request.GET["topic"])
        return json_response({"webhooks": [hooks.webhook_json(row) for row in rows]})
    data = body_object(request, "webhook")
    row = hooks.subscription_create(
        account=account, topic=data.get("topic"), address=data.get("address"), data_format=data.get("format", "json")
    )
    return json_response({"webhook": hooks.webhook_json(row)}, status=201)


@shopify_api("GET", "DELETE")
def webhook_detail(request: HttpRequest, account: SimAccount, version: str, webhook_id: int) -> HttpResponse:
    row = account.webhook_subscriptions.filter(pk=webhook_id - hooks.WEBHOOK_ID_OFFSET).first()
    if row is None:
        raise ShopifyError(404, "Not Found")
    if request.method == "DELETE":
        row.delete()
        return json_response({})
    return json_response({"webhook": hooks.webhook_json(row)})


@shopify_api("GET", "POST", "PUT", "DELETE")
def unknown_endpoint(request: HttpRequest, account: SimAccount, version: str, rest: str = "") -> HttpResponse:
    raise ShopifyError(404, "Not Found")
