"""WooCommerce webhooks: subscriptions (POST/GET wc/v3/webhooks) and signed deliveries.

Body: the resource's REST JSON (wp_json_encode). Headers: X-WC-Webhook-Source (site URL with
a trailing slash), -Topic, -Resource, -Event, -Signature (base64 HMAC-SHA256 of the body keyed
with the webhook's secret), -ID (the webhook id), -Delivery-ID (one per delivery; a redelivery
repeats it). Five attempts (WooCommerce disables a webhook after five failures in a row).

Each webhook's name, secret and status live in the site's ``options["wc_webhooks"][<id>]``;
a webhook created without a secret uses the site's ``webhook_secret`` credential.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from sandbox.models import ChannelOrder, SimAccount, WebhookSubscription
from sandbox.providers._state import options_update
from sandbox.providers.woocommerce.render import order_json, site_tz, site_url, wc_dates, wp_json
from sandbox.webhooks import webhook_enqueue

TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
HOOKS = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post"],
    "order.restored": ["untrashed_post"],
}
STATUSES = ("active", "paused", "disabled")
MAX_ATTEMPTS = 5
META_KEY = "wc_webhooks"


def wc_signature(secret: str, body: bytes) -> str:
    """The X-WC-Webhook-Signature value: base64 of HMAC-SHA256(body, webhook secret)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_meta(account: SimAccount, subscription: WebhookSubscription) -> dict[str, Any]:
    return dict(account.options.get(META_KEY, {}).get(str(subscription.pk), {}))


def webhook_meta_set(account: SimAccount, subscription: WebhookSubscription, meta: dict[str, Any]) -> None:
    def store(options: dict[str, Any]) -> None:
        options.setdefault(META_KEY, {})[str(subscription.pk)] = meta

    options_update(account, store)


def webhook_json(account: SimAccount, subscription: WebhookSubscription) -> dict[str, Any]:
    meta, site, tz = webhook_meta(account, subscription), site_url(account), site_tz(account)
    resource, _, event = subscription.topic.partition(".")
    return {
        "id": subscription.pk,
        "name": meta.get("name", ""),
        "status": meta.get("status", "active"),
        "topic": subscription.topic,
        "resource": resource,
        "event": event,
        "hooks": HOOKS.get(subscription.topic, []),
        "delivery_url": subscription.address,
        **wc_dates("date_created", subscription.created_at, tz),
        **wc_dates("date_modified", subscription.created_at, tz),
        "_links": {
            "self": [{"href": f"{site}/wp-json/wc/v3/webhooks/{subscription.pk}"}],
            "collection": [{"href": f"{site}/wp-json/wc/v3/webhooks"}],
        },
    }


def webhook_emit(*, account: SimAccount, topic: str, payload: dict[str, Any]) -> int:
    """Queue ``payload`` for every active webhook on ``topic``; returns how many were queued."""
    queued = 0
    body = wp_json(payload)
    resource, _, event = topic.partition(".")
    for subscription in account.webhook_subscriptions.filter(topic=topic).order_by("id"):
        meta = webhook_meta(account, subscription)
        if meta.get("status", "active") != "active":
            continue
        secret = str(meta.get("secret") or account.credentials["webhook_secret"])
        webhook_enqueue(
            account=account,
            topic=topic,
            url=subscription.address,
            body=body,
            headers={
                "X-WC-Webhook-Source": f"{site_url(account)}/",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": wc_signature(secret, body.encode()),
                "X-WC-Webhook-ID": str(subscription.pk),
                "X-WC-Webhook-Delivery-ID": secrets.token_hex(16),
                "User-Agent": "WooCommerce/9.3.3 Hookshot (WordPress/6.6.2)",
            },
            max_attempts=MAX_ATTEMPTS,
        )
        queued += 1
    return queued


def order_webhook_emit(*, account: SimAccount, order: ChannelOrder, topic: str) -> int:
    if not account.webhook_subscriptions.filter(topic=topic).exists():
        return 0
    payload = {"id": int(order.external_id)} if topic == "order.deleted" else order_json(order, account)
    return webhook_emit(account=account, topic=topic, payload=payload)
