"""Shopify webhooks: subscriptions (webhooks.json) and deliveries signed as Shopify signs them.

Body: the topic's REST resource JSON, not wrapped. Headers: X-Shopify-Topic,
X-Shopify-Hmac-Sha256 (base64 HMAC-SHA256 of the raw body, key = the app's secret, here the
shop's ``webhook_secret``), X-Shopify-Shop-Domain, X-Shopify-API-Version, X-Shopify-Webhook-Id
(one per delivery; a redelivery repeats it), X-Shopify-Event-Id (one per event, shared by its
subscriptions), X-Shopify-Triggered-At. Retried 8 times (sandbox/webhooks.py backoff).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction

from sandbox.grants import installed_app_secret
from sandbox.models import ChannelOrder, SimAccount, WebhookSubscription
from sandbox.providers.shopify.errors import ShopifyError
from sandbox.providers.shopify.render import API_VERSION, order_json, shop_domain
from sandbox.webhooks import webhook_enqueue

TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/partially_fulfilled",
    "fulfillments/create",
    "fulfillments/update",
    "refunds/create",
    "app/uninstalled",
)
MAX_ATTEMPTS = 8
WEBHOOK_ID_OFFSET = 1_047_000_000  # subscription id = offset + row id


def shopify_hmac(secret: str, body: bytes) -> str:
    """The X-Shopify-Hmac-Sha256 value: base64 of HMAC-SHA256(raw body, secret)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_json(subscription: WebhookSubscription) -> dict[str, Any]:
    created = subscription.created_at.astimezone(UTC).isoformat(timespec="seconds")
    return {
        "id": WEBHOOK_ID_OFFSET + subscription.pk,
        "address": subscription.address,
        "topic": subscription.topic,
        "created_at": created,
        "updated_at": created,
        "format": "json",
        "fields": [],
        "metafield_namespaces": [],
        "api_version": API_VERSION,
        "private_metafield_namespaces": [],
    }


def subscription_create(
    *, account: SimAccount, topic: object, address: object, data_format: object
) -> WebhookSubscription:
    """A new subscription (REST ``POST webhooks.json`` and GraphQL ``webhookSubscriptionCreate``
    share it, and their refusals): ShopifyError(422, {field: [message]}) when refused."""
    if not isinstance(topic, str) or topic not in TOPICS:
        raise ShopifyError(422, {"topic": [f"Invalid topic specified: {topic}. Topics allowed: {', '.join(TOPICS)}"]})
    if not isinstance(address, str) or not address.startswith(("http://", "https://")):
        raise ShopifyError(422, {"address": ["is invalid"]})
    if data_format != "json":
        raise ShopifyError(422, {"format": ["is not included in the list"]})
    if account.webhook_subscriptions.filter(topic=topic, address=address).exists():
        raise ShopifyError(422, {"address": ["for this topic has already been taken"]})
    try:
        with transaction.atomic():
            return account.webhook_subscriptions.create(topic=topic, address=address)
    except IntegrityError:
        raise ShopifyError(422, {"address": ["is invalid"]}) from None


def webhook_emit(*, account: SimAccount, topic: str, payload: dict[str, Any]) -> int:
    """Queue ``payload`` for every subscription to ``topic``; returns how many were queued."""
    subscriptions = list(account.webhook_subscriptions.filter(topic=topic).order_by("id"))
    if not subscriptions:
        return 0
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    event_id = str(uuid.uuid4())
    triggered_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    # An app installed on the shop signs with its client secret (Shopify); a custom app with the shop's.
    signature = shopify_hmac(installed_app_secret(account) or account.credentials["webhook_secret"], body.encode())
    for subscription in subscriptions:
        webhook_enqueue(
            account=account,
            topic=topic,
            url=subscription.address,
            body=body,
            headers={
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": signature,
                "X-Shopify-Shop-Domain": shop_domain(account),
                "X-Shopify-API-Version": API_VERSION,
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": triggered_at,
            },
            max_attempts=MAX_ATTEMPTS,
        )
    return len(subscriptions)


def order_webhooks_emit(*, account: SimAccount, order: ChannelOrder, topics: tuple[str, ...]) -> int:
    if not account.webhook_subscriptions.filter(topic__in=topics).exists():
        return 0
    payload = order_json(order, account)
    return sum(webhook_emit(account=account, topic=topic, payload=payload) for topic in topics)
