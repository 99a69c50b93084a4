"""WooCommerce as a ``ChannelProvider``: credentials ``consumer_key``, ``consumer_secret`` and
``webhook_secret``; ``base_url`` is the site URL (the API lives under ``/wp-json/wc/v3/``).

When a webhook is saved WooCommerce POSTs a ping to its address: a form body ``webhook_id=N``,
no signature, no topic. It carries no data: ``is_unsigned_ping`` tells it apart, and the intake
answers it 200 (a refusal would make saving the webhook fail) without storing anything or
queueing a task. Anyone can send one, so nothing about it is kept or trusted.

Every delivery carries ``X-WC-Webhook-Source``, the site's home URL with a trailing slash
(``home_url('/')``): the same site the REST API is under, so ``site_identity`` of it must be
the store's (``shop_identity``, from the site URL the merchant connected).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from channels_sync.providers.base import ChannelOrder, ChannelProvider, OrderPage, WebhookEvent, register
from channels_sync.providers.woocommerce.client import MAX_PER_PAGE, ORDER_TOPICS, WooCommerceClient
from channels_sync.providers.woocommerce.mapping import (
    lists_refunds,
    order_from_json,
    orders_from_json,
    refunds_from_json,
)
from integrations.fields import body_sha256, json_object
from integrations.http import Attempt, header
from integrations.signing import hmac_sha256_base64, signature_matches
from orders.enums import Channel

PING_BODY = re.compile(rb"webhook_id=\d+")
PING_TOPIC = "ping"
ORDER_BODY_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})


def wc_signature(secret: str, body: bytes) -> str:
    """X-WC-Webhook-Signature: base64 HMAC-SHA256 of the raw body keyed with the webhook secret."""
    return hmac_sha256_base64(secret, body)


def site_identity(url: str) -> str:
    """A WordPress site address as compared: host without ``www.``, a port other than 80/443, and
    the path without its trailing slash; no scheme ("" for something that is not a URL)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").removeprefix("www.")
    if not host:
        return ""
    netloc = f"{host}:{port}" if port and port not in (80, 443) else host
    return f"{netloc}{parts.path.rstrip('/')}"


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    return (
        PING_BODY.fullmatch(body.strip()) is not None
        and not header(headers, "X-WC-Webhook-Signature")
        and not header(headers, "X-WC-Webhook-Topic")
    )


@register
class WooCommerceProvider(ChannelProvider):
    channel = Channel.WOOCOMMERCE

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        credentials = self.credentials
        self.client = WooCommerceClient(
            self.base_url,
            consumer_key=credentials.get("consumer_key", ""),
            consumer_secret=credentials.get("consumer_secret", ""),
            **self.client_options,
        )

    @property
    def attempts(self) -> list[Attempt]:
        return self.client.attempts

    def check_credentials(self) -> str:
        self.client.orders_probe()
        parts = urlsplit(self.base_url)
        return f"{parts.hostname or ''}{parts.path}".rstrip("/")

    def shop_identity(self) -> str:
        return site_identity(self.base_url)

    def iter_order_pages(
        self, *, updated_since: datetime | None, page_size: int = 100, resume: str = ""
    ) -> Iterator[OrderPage]:
        """The resume token is the next page number: sorted by id, with the same ``modified_after``,
        a page keeps its orders (new orders come last; an order modified meanwhile stays in place)."""
        page = int(resume) if resume.isdigit() and int(resume) > 0 else 1
        for body, has_more in self.client.order_pages(updated_since=updated_since, per_page=page_size, page=page):
            orders = self._with_refunds(body, orders_from_json(body))
            yield OrderPage(orders=orders, has_more=has_more, resume=str(page + 1) if has_more else "")
            page += 1

    def fetch_orders(self, order_ids: list[str]) -> list[ChannelOrder]:
        found: list[ChannelOrder] = []
        for start in range(0, len(order_ids), MAX_PER_PAGE):
            body = self.client.orders_by_ids(order_ids[start : start + MAX_PER_PAGE])
            found += self._with_refunds(body, orders_from_json(body))
        return found

    def _with_refunds(self, bodies: list[Any], orders: list[ChannelOrder]) -> list[ChannelOrder]:
        """Orders that list refunds get them, read with GET orders/<id>/refunds (one call per such
        order: most orders have none)."""
        return [
            replace(order, refunds=refunds_from_json(self.client.order_refunds(order.data.channel_order_id), body))
            if lists_refunds(body)
            else order
            for body, order in zip(bodies, orders, strict=True)
        ]

    def register_webhooks(self, *, address: str) -> list[str]:
        """Create the order webhooks not there yet, signed with ``webhook_secret``."""
        have = {(hook.topic, hook.address) for hook in self.client.webhooks() if hook.active}
        for topic in ORDER_TOPICS:
            if (topic, address) not in have:
                self.client.webhook_create(
                    topic=topic, address=address, secret=self.credentials.get("webhook_secret", "")
                )
        return list(ORDER_TOPICS)

    def unregister_webhooks(self, *, address: str) -> int:
        ours = [hook.id for hook in self.client.webhooks() if hook.address == address]
        for webhook_id in ours:
            self.client.webhook_delete(webhook_id)
        return len(ours)

    @classmethod
    def is_unsigned_ping(cls, *, headers: Mapping[str, str], body: bytes) -> bool:
        return is_ping(headers, body)

    @classmethod
    def webhook_shop(cls, *, headers: Mapping[str, str], body: bytes) -> str:
        return site_identity(header(headers, "X-WC-Webhook-Source") or "")

    @classmethod
    def verify_webhook(cls, *, headers: Mapping[str, str], body: bytes, credentials: Mapping[str, str]) -> bool:
        given, secret = header(headers, "X-WC-Webhook-Signature"), credentials.get("webhook_secret", "")
        return bool(secret) and signature_matches(wc_signature(secret, body), given)

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        if is_ping(headers, body):  # never stored now; rows kept from before still parse
            webhook_id = body.strip().partition(b"=")[2].decode()
            return WebhookEvent(f"ping:{body_sha256(body)}", PING_TOPIC, extra={"webhook_id": webhook_id})
        topic = header(headers, "X-WC-Webhook-Topic") or ""
        payload = json_object(body, "WooCommerce webhook body")
        dedupe_key = header(headers, "X-WC-Webhook-Delivery-ID") or body_sha256(body)
        extra = {
            "source": header(headers, "X-WC-Webhook-Source") or "",
            "webhook_id": header(headers, "X-WC-Webhook-ID") or "",
        }
        if topic in ORDER_BODY_TOPICS:
            order = order_from_json(payload)
            if lists_refunds(payload):  # its refunds' details are read with the order, fresh
                return WebhookEvent(dedupe_key, topic, order.data.channel_order_id, None, extra)
            return WebhookEvent(dedupe_key, topic, order.data.channel_order_id, order, extra)
        order_id = payload.get("id") if topic.startswith("order.") else None
        return WebhookEvent(dedupe_key, topic or "unknown", str(order_id) if order_id else None, None, extra)
