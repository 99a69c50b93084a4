"""Simulated AliExpress Dropshipping API (IOP gateway /sync), its order world and its order webhooks."""

from __future__ import annotations

import json
import random
import secrets
from datetime import datetime

from django.http import HttpRequest
from django.urls import reverse

from sandbox.enums import Provider
from sandbox.models import SupplierOrder
from sandbox.providers.aliexpress import methods  # noqa: F401  (registers the methods)
from sandbox.providers.aliexpress.signing import webhook_signature
from sandbox.registry import ProviderSpec, register
from sandbox.sim import suppliers
from sandbox.sim.suppliers import Phase, SupplierHooks
from sandbox.webhooks import webhook_enqueue

STATUSES = {
    Phase.UNPAID: "PLACE_ORDER_SUCCESS",
    Phase.PAYING: "PAYMENT_PROCESSING",
    Phase.RISK: "RISK_CONTROL",
    Phase.AWAITING_SHIPMENT: "WAIT_SELLER_SEND_GOODS",
    Phase.PART_SHIPPED: "SELLER_PART_SEND_GOODS",
    Phase.SHIPPED: "WAIT_BUYER_ACCEPT_GOODS",
    Phase.DELIVERED: "WAIT_BUYER_ACCEPT_GOODS",
    Phase.FINISHED: "FINISH",
    Phase.CANCELING: "IN_CANCEL",
    Phase.CANCELED: "FINISH",
}
# Sandbox events → the orderStatus of a DROPSHIPPER_ORDER_STATUS_UPDATE message (message_type 53).
WEBHOOK_EVENTS = {
    "created": "OrderCreated",
    "payment_failed": "paymentFailedEvent",
    "paid": "PaymentAuthorized",
    "part_shipped": "OrderShipped",
    "shipped": "OrderShipped",
    "finished": "OrderConfirmed",
    "canceled": "OrderClosed",
}
# logistics_service_name → carrier (CAINIAO_STANDARD, YANWEN_JYT, CPAM, 4PX_RM, YUNEXPRESS…)
SERVICE_CARRIERS: tuple[tuple[str, str], ...] = (
    ("CAINIAO", "cainiao"),
    ("YANWEN", "yanwen"),
    ("CPAM", "china_post"),
    ("CHINA_POST", "china_post"),
    ("4PX", "4px"),
    ("FOURPX", "4px"),
    ("YUN", "yunexpress"),
)


def carrier_for(order: SupplierOrder, rng: random.Random) -> str:
    items = order.request.get("payload", {}).get("request", {}).get("product_items", [])
    service = str(items[0].get("logistics_service_name") or "").upper() if items else ""
    match = next((slug for prefix, slug in SERVICE_CARRIERS if prefix in service), None)
    return match or rng.choice(("cainiao", "cainiao", "yanwen", "4px", "china_post", "yunexpress"))


def on_change(order: SupplierOrder, event: str, when: datetime) -> None:
    """Push a DROPSHIPPER_ORDER_STATUS_UPDATE message to the app's webhook address, if one is set."""
    account = order.account
    url, status = account.options.get("webhook_url"), WEBHOOK_EVENTS.get(event)
    if not url or not status:
        return
    credentials = account.credentials
    payload = {
        "data": {"buyerId": int(credentials["buyer_id"]), "orderId": int(order.external_id), "orderStatus": status},
        "message_type": 53,
        "seller_id": credentials["seller_id"],
        "site": "ae_global",
        "timestamp": int(when.timestamp()),
    }
    body = json.dumps(payload, separators=(",", ":"))
    # Signed with the app the buyer authorized (the operator's app, one for every merchant);
    # an account never authorized through an app (older tests) signs with its own key.
    code = account.auth_codes.filter(used_at__isnull=False).select_related("app").order_by("-used_at").first()
    app_key, app_secret = (
        (code.app.client_id, code.app.client_secret) if code else (credentials["app_key"], credentials["app_secret"])
    )
    signature = webhook_signature(app_key=app_key, app_secret=app_secret, body=body.encode())
    webhook_enqueue(
        account=account,
        topic="DROPSHIPPER_ORDER_STATUS_UPDATE",
        url=url,
        body=body,
        headers={"Authorization": signature},
    )


def make_credentials(name: str) -> dict[str, str]:
    return {
        "app_key": str(500000 + secrets.randbelow(499999)),
        "app_secret": secrets.token_hex(16),
        "access_token": "50000" + secrets.token_hex(24),
        "refresh_token": "50001" + secrets.token_hex(24),
        "buyer_id": str(1800000000 + secrets.randbelow(99999999)),
        "seller_id": str(2000000000 + secrets.randbelow(99999999)),
    }


def base_url(request: HttpRequest, name: str) -> str:
    """The gateway; clients post to base + "/sync"."""
    return request.build_absolute_uri(reverse("aliexpress-sync")[: -len("/sync")])


suppliers.register(
    Provider.ALIEXPRESS,
    SupplierHooks(statuses=STATUSES, carrier_for=carrier_for, on_change=on_change, risk_rate=0.05),
)
SPEC = register(ProviderSpec(provider=Provider.ALIEXPRESS, make_credentials=make_credentials, base_url=base_url))
