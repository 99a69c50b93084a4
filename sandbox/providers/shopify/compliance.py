"""The simulated Shopify's side of uninstalling an app and of the mandatory compliance webhooks.

- Uninstall: every grant the app holds for the shop is revoked (``SimGrant.revoked_at``, sim time)
  and ``app/uninstalled`` (body: the shop, as shop.json renders it) is delivered to the shop's
  subscriptions of that topic, signed with the app's client secret.
- Compliance: ``customers/data_request``, ``customers/redact`` and ``shop/redact`` go to the app's
  one compliance address (``SimApp.options["compliance_url"]``, default
  ``<SITE_URL>/webhooks/shopify/compliance/``), signed with the app's client secret, with the
  payloads of shopify.dev's "Privacy law compliance" page, through the outbox
  (``sandbox/webhooks.py``: retried as Shopify retries).

Control API (JSON in, JSON out; ``client_id`` optional when the sandbox has one Shopify app):
    POST /sandbox/_control/shopify/<name>/uninstall  {"client_id"?} → 200 {"revoked": n, "queued": n}
    POST /sandbox/_control/shopify/<name>/compliance
         {"topic", "client_id"?, "email"?, "orders"?: [order id, …]} → 200 {"queued": n, "payload": {...}}
      (``email``: the customer; ``orders`` default to all of that customer's orders in the shop)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sandbox.clock import sim_now
from sandbox.enums import Provider
from sandbox.http import json_response, parse_json_body
from sandbox.models import SimAccount, SimApp
from sandbox.providers.shopify.hooks import MAX_ATTEMPTS, shopify_hmac
from sandbox.providers.shopify.render import API_VERSION, customer_id, shop_domain, shop_json
from sandbox.webhooks import webhook_enqueue

COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
COMPLIANCE_PATH = "/webhooks/shopify/compliance/"


def compliance_url(app: SimApp) -> str:
    return str(app.options.get("compliance_url") or f"{settings.SITE_URL}{COMPLIANCE_PATH}")


def _signed_headers(*, app: SimApp, account: SimAccount, topic: str, body: str) -> dict[str, str]:
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": shopify_hmac(app.client_secret, body.encode()),
        "X-Shopify-Shop-Domain": shop_domain(account),
        "X-Shopify-API-Version": API_VERSION,
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }


def _send(*, app: SimApp, account: SimAccount, topic: str, url: str, payload: dict[str, Any]) -> None:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    headers = _signed_headers(app=app, account=account, topic=topic, body=body)
    webhook_enqueue(account=account, topic=topic, url=url, body=body, headers=headers, max_attempts=MAX_ATTEMPTS)


def app_uninstall(*, app: SimApp, account: SimAccount) -> tuple[int, int]:
    """Uninstall ``app`` from the shop: (grants revoked, app/uninstalled deliveries queued)."""
    revoked = app.grants.filter(account=account, revoked_at__isnull=True).update(revoked_at=sim_now())
    addresses = list(account.webhook_subscriptions.filter(topic="app/uninstalled").values_list("address", flat=True))
    for address in addresses:
        _send(app=app, account=account, topic="app/uninstalled", url=address, payload=shop_json(account))
    return revoked, len(addresses)


def compliance_payload(
    *, account: SimAccount, topic: str, email: str = "", orders: list[str] | None = None
) -> dict[str, Any]:
    """The body Shopify sends for ``topic`` about the customer ``email`` of the shop."""
    shop = {"shop_id": 54_000_000_000 + account.pk, "shop_domain": shop_domain(account)}
    if topic == "shop/redact":
        return shop
    if orders is None:
        orders = list(
            account.channel_orders.filter(customer__email=email).order_by("id").values_list("external_id", flat=True)
        )
    phone = next((o.customer.get("phone") for o in account.channel_orders.filter(customer__email=email)[:1]), None)
    customer = {"id": customer_id(email) if email else None, "email": email or None, "phone": phone}
    order_ids = [int(order_id) for order_id in orders]
    if topic == "customers/redact":
        return {**shop, "customer": customer, "orders_to_redact": order_ids}
    request_id = 9_000_000 + account.pk
    return {**shop, "orders_requested": order_ids, "customer": customer, "data_request": {"id": request_id}}


def compliance_send(
    *, app: SimApp, account: SimAccount, topic: str, email: str = "", orders: list[str] | None = None
) -> dict[str, Any]:
    """Queue one compliance webhook for the app's compliance address; the payload sent."""
    payload = compliance_payload(account=account, topic=topic, email=email, orders=orders)
    _send(app=app, account=account, topic=topic, url=compliance_url(app), payload=payload)
    return payload


# --- Control API ---------------------------------------------------------------------------------


def _error(message: str, status: int = 400) -> JsonResponse:
    return json_response({"error": message}, status=status)


def _request_of(request: HttpRequest, name: str) -> tuple[SimApp, SimAccount, dict[str, Any]]:
    """The app, the shop and the JSON body of a control call; ValueError / LookupError otherwise."""
    body = parse_json_body(request)
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    account = SimAccount.objects.filter(provider=Provider.SHOPIFY, name=name).first()
    if account is None:
        raise LookupError(f"no shopify account named {name}")
    apps = SimApp.objects.filter(provider=Provider.SHOPIFY)
    client_id = body.get("client_id")
    if client_id is not None:
        apps = apps.filter(client_id=str(client_id))
    found = list(apps[:2])
    if len(found) != 1:
        raise LookupError("no such Shopify app" if not found else "several Shopify apps: give client_id")
    return found[0], account, body


# A control call: (app, shop, body) → the answer; ValueError (400) when the body is refused.
ControlCall = Callable[[SimApp, SimAccount, dict[str, Any]], dict[str, Any]]


def _control_view(call: ControlCall) -> Callable[..., JsonResponse]:
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest, name: str) -> JsonResponse:
        try:
            app, account, body = _request_of(request, name)
            return json_response(call(app, account, body))
        except ValueError as exc:
            return _error(str(exc))
        except LookupError as exc:
            return _error(str(exc), status=404)

    return view


def _uninstall(app: SimApp, account: SimAccount, body: dict[str, Any]) -> dict[str, Any]:
    revoked, queued = app_uninstall(app=app, account=account)
    return {"revoked": revoked, "queued": queued}


def _compliance(app: SimApp, account: SimAccount, body: dict[str, Any]) -> dict[str, Any]:
    topic, email, orders = body.get("topic"), body.get("email", ""), body.get("orders")
    if topic not in COMPLIANCE_TOPICS:
        raise ValueError(f"topic must be one of {list(COMPLIANCE_TOPICS)}")
    if not isinstance(email, str) or len(email) > 254:
        raise ValueError("email must be a string")
    if orders is not None and (
        not isinstance(orders, list) or not all(str(order).isdigit() and len(str(order)) < 20 for order in orders)
    ):
        raise ValueError("orders must be a list of order ids")
    listed = None if orders is None else [str(order) for order in orders]
    payload = compliance_send(app=app, account=account, topic=topic, email=email, orders=listed)
    return {"queued": 1, "payload": payload}


control_urlpatterns = [
    path("<str:name>/uninstall", _control_view(_uninstall), name="sandbox-shopify-uninstall"),
    path("<str:name>/compliance", _control_view(_compliance), name="sandbox-shopify-compliance"),
]
