"""WooCommerce REST v3 endpoints: orders, order notes, webhooks; Shipment Tracking extension v3."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from sandbox.models import ChannelOrder, SimAccount
from sandbox.providers._refunds import refunds_of
from sandbox.providers.woocommerce import hooks, listing, render
from sandbox.providers.woocommerce.api import json_body, woo_api
from sandbox.providers.woocommerce.orders import WooError, note_add, order_update, tracking_add, tracking_items

API_AUTHOR = "shop-manager"  # display name of the user the API keys belong to


def _order(account: SimAccount, order_id: int) -> ChannelOrder:
    order = account.channel_orders.filter(external_id=str(order_id)).first()
    if order is None:
        raise WooError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
    return order


@woo_api("GET", collection=True)
def orders(request: HttpRequest, account: SimAccount) -> HttpResponse:
    page = listing.orders_page(account, request.GET, render.site_tz(account))
    headers = {"X-WP-Total": str(page.total), "X-WP-TotalPages": str(page.total_pages)}
    link = listing.link_header(request.build_absolute_uri(request.path), request.GET, page)
    if link:
        headers["Link"] = link
    return render.wp_response([render.order_json(order, account) for order in page.orders], headers=headers)


@woo_api("GET", "PUT", "POST", "PATCH", collection=False)
def order(request: HttpRequest, account: SimAccount, order_id: int) -> HttpResponse:
    row = _order(account, order_id)
    if request.method != "GET":  # WordPress routes POST and PATCH to the edit handler too
        row = order_update(order=row, data=json_body(request), author=API_AUTHOR)
    return render.wp_response(render.order_json(row, account))


@woo_api("GET", "POST", collection=True)
def notes(request: HttpRequest, account: SimAccount, order_id: int) -> HttpResponse:
    row = _order(account, order_id)
    if request.method == "GET":
        kind = request.GET.get("type", "any")
        found = [
            n
            for n in reversed(row.extra.get("notes", []))
            if kind == "any" or (kind == "customer") == n["customer_note"]
        ]
        return render.wp_response([render.note_json(n, row, account) for n in found])
    body = json_body(request)
    text = body.get("note")
    if not isinstance(text, str) or not text:
        raise WooError("rest_missing_callback_param", "Missing parameter(s): note", params=["note"])
    added = note_add(order=row, note=text, customer_note=bool(body.get("customer_note", False)), author=API_AUTHOR)
    return render.wp_response(render.note_json(added, row, account), status=201)


@woo_api("GET", collection=True)
def refunds(request: HttpRequest, account: SimAccount, order_id: int) -> HttpResponse:
    """GET orders/<id>/refunds: the order's refunds, newest first."""
    row = _order(account, order_id)
    return render.wp_response([render.refund_json(row, refund, account) for refund in reversed(refunds_of(row))])


@woo_api("GET", collection=False)
def note(request: HttpRequest, account: SimAccount, order_id: int, note_id: int) -> HttpResponse:
    row = _order(account, order_id)
    found = next((n for n in row.extra.get("notes", []) if n["id"] == note_id), None)
    if found is None:
        raise WooError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
    return render.wp_response(render.note_json(found, row, account))


@woo_api("GET", "POST", collection=True)
def webhooks(request: HttpRequest, account: SimAccount) -> HttpResponse:
    if request.method == "GET":
        rows = account.webhook_subscriptions.order_by("-id")
        return render.wp_response([hooks.webhook_json(account, row) for row in rows])
    body = json_body(request)
    missing = [name for name in ("topic", "delivery_url") if not body.get(name)]
    if missing:
        raise WooError("rest_missing_callback_param", f"Missing parameter(s): {', '.join(missing)}", params=missing)
    topic, url = body["topic"], body["delivery_url"]
    if topic not in hooks.TOPICS:
        raise WooError("woocommerce_rest_webhook_invalid_topic", "Webhook topic is required and must be valid.")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise WooError(
            "rest_invalid_param", "Invalid parameter(s): delivery_url", params={"delivery_url": "Invalid URL."}
        )
    status = body.get("status", "active")
    if status not in hooks.STATUSES:
        message = "status is not one of active, paused, and disabled."
        raise WooError("rest_invalid_param", "Invalid parameter(s): status", params={"status": message})
    row = account.webhook_subscriptions.create(topic=topic, address=url)
    meta: dict[str, Any] = {
        "name": str(body.get("name") or f"Webhook created on {row.created_at:%b %d, %Y @ %I:%M %p}")
    }
    meta |= {"status": status, "secret": str(body.get("secret") or "")}
    hooks.webhook_meta_set(account, row, meta)
    return render.wp_response(hooks.webhook_json(account, row), status=201)


@woo_api("GET", "DELETE", collection=False)
def webhook(request: HttpRequest, account: SimAccount, webhook_id: int) -> HttpResponse:
    row = account.webhook_subscriptions.filter(pk=webhook_id).first()
    if row is None:
        raise WooError("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404)
    data = hooks.webhook_json(account, row)
    if request.method == "DELETE":
        if request.GET.get("force", "").lower() not in {"1", "true"}:
            raise WooError("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501)
        row.delete()
    return render.wp_response(data)


@woo_api("GET", "POST", collection=True)
def shipment_trackings(request: HttpRequest, account: SimAccount, order_id: int) -> HttpResponse:
    row = _order(account, order_id)
    if request.method == "GET":
        return render.wp_response(tracking_items(row))
    return render.wp_response(tracking_add(order=row, data=json_body(request)), status=201)


def site_root(request: HttpRequest, site: str) -> HttpResponse:
    """The site's front page: not an API; clients are only given its URL."""
    return HttpResponse(format_html("<html><body><h1>{}</h1><p>A simulated WooCommerce site.</p></body></html>", site))
