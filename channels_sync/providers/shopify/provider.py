"""Shopify as a ``ChannelProvider``: credentials ``access_token`` and ``webhook_secret``; ``base_url``
is the shop URL (``https://<shop>.myshopify.com``) under which ``/admin/api/2024-10/`` lives."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from channels_sync.providers.base import ChannelOrder, ChannelProvider, OrderPage, WebhookEvent, register
from channels_sync.providers.shopify.client import MAX_LIMIT, ORDER_TOPICS, ShopifyClient
from channels_sync.providers.shopify.mapping import order_from_json, orders_from_json
from channels_sync.providers.shopify.oauth import grant_refresh
from integrations.errors import MalformedPayload, ProviderError
from integrations.fields import body_sha256, json_object
from integrations.http import Attempt, AttemptRecorder, header
from integrations.oauth import TokenGrant
from integrations.signing import hmac_sha256_base64, signature_matches
from orders.enums import Channel


def shopify_hmac(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body keyed with the app secret."""
    return hmac_sha256_base64(secret, body)


@register
class ShopifyProvider(ChannelProvider):
    channel = Channel.SHOPIFY
    listing_by_update = True

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        credentials = self.credentials
        self.client = ShopifyClient(
            self.base_url, access_token=credentials.get("access_token", ""), **self.client_options
        )

    @property
    def attempts(self) -> list[Attempt]:
        return self.client.attempts

    def check_credentials(self) -> str:
        self.client.orders_count()
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        return host if host.endswith(".myshopify.com") else parts.path.rstrip("/").rsplit("/", 1)[-1] or host

    def shop_identity(self) -> str:
        """``myshopify_domain`` of shop.json: what X-Shopify-Shop-Domain carries, whatever domain
        the merchant typed or the shop's storefront uses."""
        body = self.client.shop()
        shop = body.get("shop") if isinstance(body, dict) else None
        domain = shop.get("myshopify_domain") if isinstance(shop, dict) else None
        if not isinstance(domain, str) or not domain.strip():
            raise ProviderError("Shopify did not say which shop this is (shop.json has no myshopify_domain)")
        return domain.strip().lower()

    def iter_order_pages(
        self, *, updated_since: datetime | None, page_size: int = 100, resume: str = ""
    ) -> Iterator[OrderPage]:
        pages = self.client.order_pages(updated_since=updated_since, limit=page_size, page_info=resume)
        for body, next_info in pages:
            yield OrderPage(orders=orders_from_json(body), has_more=bool(next_info), resume=next_info)

    def fetch_orders(self, order_ids: list[str]) -> list[ChannelOrder]:
        found: list[ChannelOrder] = []
        for start in range(0, len(order_ids), MAX_LIMIT):
            found += orders_from_json(self.client.orders_by_ids(order_ids[start : start + MAX_LIMIT]))
        return found

    def register_webhooks(self, *, address: str) -> list[str]:
        """Subscribe the order topics not subscribed yet (a repeat is not an error)."""
        have = {(hook.topic, hook.address) for hook in self.client.webhook_subscriptions()}
        for topic in ORDER_TOPICS:
            if (topic, address) not in have:
                self.client.webhook_subscribe(topic=topic, address=address)
        return list(ORDER_TOPICS)

    def unregister_webhooks(self, *, address: str) -> int:
        ours = [hook.id for hook in self.client.webhook_subscriptions() if hook.address == address]
        for webhook_id in ours:
            self.client.webhook_delete(webhook_id)
        return len(ours)

    @classmethod
    def verify_webhook(cls, *, headers: Mapping[str, str], body: bytes, credentials: Mapping[str, str]) -> bool:
        given, secret = header(headers, "X-Shopify-Hmac-Sha256"), credentials.get("webhook_secret", "")
        return bool(secret) and signature_matches(shopify_hmac(secret, body), given)

    @classmethod
    def webhook_shop(cls, *, headers: Mapping[str, str], body: bytes) -> str:
        return (header(headers, "X-Shopify-Shop-Domain") or "").strip().lower()

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        topic = header(headers, "X-Shopify-Topic")
        if not topic:
            raise MalformedPayload("Shopify webhook without an X-Shopify-Topic header")
        payload = json_object(body, "Shopify webhook body")
        dedupe_key = header(headers, "X-Shopify-Webhook-Id") or body_sha256(body)
        extra: dict[str, Any] = {"shop_domain": header(headers, "X-Shopify-Shop-Domain") or ""}
        if topic.startswith("orders/"):
            order = order_from_json(payload)
            return WebhookEvent(dedupe_key, topic, order.data.channel_order_id, order, extra)
        order_id = payload.get("order_id")
        return WebhookEvent(dedupe_key, topic, str(order_id) if order_id else None, None, extra)

    @classmethod
    def refresh_grant(
        cls, *, base_url: str, credentials: Mapping[str, str], recorder: AttemptRecorder | None = None
    ) -> TokenGrant:
        """The store's expiring offline token renewed with its refresh token (``oauth.grant_refresh``)."""
        return grant_refresh(base_url=base_url, refresh_token=credentials.get("refresh_token", ""), recorder=recorder)
