"""Shopify as a ``ChannelProvider`` on the GraphQL Admin API: credentials ``access_token`` (and, for
a custom app connected with its token, ``webhook_secret``); ``base_url`` is the shop URL
(``https://<shop>.myshopify.com``) under which ``/admin/api/<SHOPIFY_API_VERSION>/graphql.json``
lives. An app-connected store's token comes from its ``token_source`` (refreshed on expiry)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from channels_sync.providers.base import ChannelOrder, ChannelProvider, OrderPage, WebhookEvent, register
from channels_sync.providers.shopify import queries
from channels_sync.providers.shopify.client import (
    APP_TOPICS,
    ORDER_TOPICS,
    REFUND_TOPICS,
    ShopifyClient,
    answer_list,
    next_cursor,
)
from channels_sync.providers.shopify.mapping import order_from_graphql, order_from_json, refunds_in_presentment
from channels_sync.providers.shopify.oauth import app_secrets, grant_refresh
from integrations.errors import MalformedPayload, ProviderError
from integrations.fields import body_sha256, json_object
from integrations.http import Attempt, AttemptRecorder, header
from integrations.oauth import TokenGrant
from integrations.signing import hmac_sha256_base64, signature_matches
from orders.enums import Channel


def shopify_hmac(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64 HMAC-SHA256 of the raw body keyed with the app secret."""
    return hmac_sha256_base64(secret, body)


def shopify_signed(body: bytes, given: str | None, secrets: Iterable[str]) -> bool:
    """``given`` is the body's X-Shopify-Hmac-Sha256 under one of ``secrets`` (each compared in
    constant time; an empty secret signs nothing)."""
    return any(signature_matches(shopify_hmac(secret, body), given) for secret in secrets if secret)


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
        self.client.shop()
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        return host if host.endswith(".myshopify.com") else parts.path.rstrip("/").rsplit("/", 1)[-1] or host

    def shop_identity(self) -> str:
        """``shop.myshopifyDomain``: what X-Shopify-Shop-Domain carries, whatever domain the merchant
        typed or the shop's storefront uses."""
        shop = self.client.shop()
        domain = shop.get("myshopifyDomain") if isinstance(shop, dict) else None
        if not isinstance(domain, str) or not domain.strip():
            raise ProviderError("Shopify did not say which shop this is (shop has no myshopifyDomain)")
        return domain.strip().lower()

    def iter_order_pages(
        self, *, updated_since: datetime | None, page_size: int = 100, resume: str = ""
    ) -> Iterator[OrderPage]:
        """``page_size`` is the most a page asks for: each page is sized by the client to the cost
        bucket (under the single-query limit, and small enough that the wait for the next one is
        slept: ``pacing.orders_page_size``); ``resume`` is a page's ``endCursor``."""
        pages = self.client.order_pages(updated_since=updated_since, first=page_size, after=resume)
        for connection in pages:
            cursor = next_cursor(connection)
            orders = [order_from_graphql(node) for node in answer_list(connection.get("nodes"), "an orders page")]
            yield OrderPage(orders=orders, has_more=cursor is not None, resume=cursor or "")

    def fetch_orders(self, order_ids: list[str]) -> list[ChannelOrder]:
        """By id, in batches as large as the single-query cost limit allows (25 orders, not 250)."""
        found: list[ChannelOrder] = []
        batch = queries.orders_per_query(queries.MAX_PAGE, overhead=0)
        for start in range(0, len(order_ids), batch):
            found += [order_from_graphql(node) for node in self.client.orders_by_ids(order_ids[start : start + batch])]
        return found

    def fulfillment_orders(self, order_id: str) -> list[Any]:
        """The order's fulfillment orders (``FulfillmentOrder`` nodes: id, status, lines)."""
        return self.client.fulfillment_orders(order_id)

    def fulfillment_create(self, **tracking: Any) -> dict[str, Any]:
        """One fulfillment with tracking (``ShopifyClient.fulfillment_create``'s arguments)."""
        return self.client.fulfillment_create(**tracking)

    def register_webhooks(self, *, address: str) -> list[str]:
        """Subscribe the order topics and app/uninstalled not subscribed yet (a repeat is not an
        error); returns them in the names deliveries carry ("orders/create", …)."""
        have = {(hook.topic, hook.address) for hook in self.client.webhook_subscriptions()}
        topics = [*ORDER_TOPICS, *REFUND_TOPICS, *APP_TOPICS]
        for topic in topics:
            if (topic, address) not in have:
                self.client.webhook_subscribe(topic=topic, address=address)
        return topics

    def unregister_webhooks(self, *, address: str) -> int:
        ours = [hook.id for hook in self.client.webhook_subscriptions() if hook.address == address]
        for webhook_id in ours:
            self.client.webhook_delete(webhook_id)
        return len(ours)

    @classmethod
    def verify_webhook(cls, *, headers: Mapping[str, str], body: bytes, credentials: Mapping[str, str]) -> bool:
        """Signed with the custom app's secret (``webhook_secret``, the token path) or, for a store
        connected as the operator's app (no webhook_secret of its own), the app's client secret:
        the current one or, while it is rotated, the previous one (``app_secrets``)."""
        own = credentials.get("webhook_secret", "")
        return shopify_signed(body, header(headers, "X-Shopify-Hmac-Sha256"), (own,) if own else app_secrets())

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
            if refunds_in_presentment(payload):
                # A multi-currency order's refunds: the body has them in the customer's currency
                # only, so the order is read by GraphQL, its refunds in the shop's money.
                return WebhookEvent(dedupe_key, topic, order.data.channel_order_id, None, extra)
            return WebhookEvent(dedupe_key, topic, order.data.channel_order_id, order, extra)
        order_id = payload.get("order_id")
        return WebhookEvent(dedupe_key, topic, str(order_id) if order_id else None, None, extra)

    @classmethod
    def refresh_grant(
        cls, *, base_url: str, credentials: Mapping[str, str], recorder: AttemptRecorder | None = None
    ) -> TokenGrant:
        """The store's expiring offline token renewed with its refresh token (``oauth.grant_refresh``)."""
        return grant_refresh(base_url=base_url, refresh_token=credentials.get("refresh_token", ""), recorder=recorder)
