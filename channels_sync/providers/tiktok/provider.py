"""TikTok Shop as a ``ChannelProvider``: credentials ``access_token`` and ``shop_cipher``, plus
``app_key`` and ``app_secret`` for a store connected with pasted keys (advanced); a store connected
as the operator's app keeps no app key and signs with ``settings.TIKTOK_APP_KEY`` / ``_SECRET``,
its expiring token refreshed through ``refresh_grant``. ``base_url`` is the API host
(``https://open-api.tiktokglobalshop.com``).

Webhooks are subscribed in the TikTok Shop app dashboard (``register_webhooks`` is not supported)
and carry no full order: the event names the order and the core fetches it (``fetch_orders``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.conf import settings

from channels_sync.providers.base import ChannelOrder, ChannelProvider, OrderPage, WebhookEvent, register
from channels_sync.providers.tiktok.auth import operator_auth_client
from channels_sync.providers.tiktok.client import MAX_IDS, TikTokClient
from channels_sync.providers.tiktok.mapping import orders_from_data
from channels_sync.providers.tiktok.returns import order_may_have_returns, refunds_from_returns, returns_by_order
from integrations.errors import CredentialsError, MalformedPayload, ProviderError
from integrations.fields import body_sha256, json_object, obj
from integrations.http import Attempt, AttemptRecorder, header
from integrations.oauth import GrantRefused, TokenGrant
from integrations.signing import hmac_sha256_hex, signature_matches
from orders.enums import Channel

logger = logging.getLogger(__name__)

# Webhook ``type`` → topic (TikTok Shop's event names).
WEBHOOK_TOPICS = {
    1: "ORDER_STATUS_CHANGE",
    2: "REVERSE_ORDER_STATUS_UPDATE",
    3: "RECIPIENT_ADDRESS_UPDATE",
    4: "PACKAGE_UPDATE",
    5: "PRODUCT_STATUS_CHANGE",
    6: "SELLER_DEAUTHORIZATION",
    7: "UPCOMING_AUTHORIZATION_EXPIRATION",
    11: "CANCELLATION_STATUS_CHANGE",
    12: "RETURN_STATUS_CHANGE",
    15: "PRODUCT_INFORMATION_CHANGE",
    16: "PRODUCT_CREATION",
}


def app_credentials(credentials: Mapping[str, str]) -> tuple[str, str]:
    """(app key, app secret) a store signs with: its own app's when the merchant pasted them
    (advanced), else the operator's app (an app-connected store keeps no app key)."""
    if credentials.get("app_key"):
        return credentials["app_key"], credentials.get("app_secret", "")
    return settings.TIKTOK_APP_KEY, settings.TIKTOK_APP_SECRET


def webhook_authorization(*, app_key: str, app_secret: str, body: bytes) -> str:
    """The webhook ``Authorization`` header: lower hex HMAC-SHA256(app_secret, app_key + raw body)."""
    return hmac_sha256_hex(app_secret, app_key.encode() + body)


@register
class TikTokProvider(ChannelProvider):
    channel = Channel.TIKTOK
    listing_by_update = True

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        credentials = self.credentials
        app_key, app_secret = app_credentials(credentials)
        self.client = TikTokClient(
            self.base_url,
            app_key=app_key,
            app_secret=app_secret,
            access_token=credentials.get("access_token", ""),
            shop_cipher=credentials.get("shop_cipher", ""),
            **self.client_options,
        )
        self._shop: Mapping[str, Any] | None = None

    @property
    def attempts(self) -> list[Attempt]:
        return self.client.attempts

    def check_credentials(self) -> str:
        shop = self._authorized_shop()
        return str(shop.get("name") or shop.get("id") or self.credentials.get("shop_cipher", ""))

    def shop_identity(self) -> str:
        """The ``id`` of the authorized shop whose cipher the store uses: the ``shop_id`` its
        webhooks carry (the cipher is for API calls only and appears in no webhook)."""
        shop_id = self._authorized_shop().get("id")
        if isinstance(shop_id, bool) or not isinstance(shop_id, str | int) or not str(shop_id).strip():
            raise ProviderError("TikTok Shop lists this shop without an id")
        return str(shop_id).strip()

    def _authorized_shop(self) -> Mapping[str, Any]:
        """This store's entry in the app's authorized shops (asked once per provider)."""
        if self._shop is None:
            data = self.client.shops()
            shops = data.get("shops") if isinstance(data, dict) else None
            cipher = self.credentials.get("shop_cipher", "")
            found = [shop for shop in (shops if isinstance(shops, list) else []) if isinstance(shop, dict)]
            matching = [shop for shop in found if cipher and shop.get("cipher") == cipher]
            if not matching:
                raise CredentialsError(
                    "TikTok Shop does not list this shop for the app (unknown shop_cipher): reconnect the shop"
                )
            self._shop = matching[0]
        return self._shop

    def iter_order_pages(
        self, *, updated_since: datetime | None, page_size: int = 100, resume: str = ""
    ) -> Iterator[OrderPage]:
        pages = self.client.search_pages(updated_since=updated_since, page_size=page_size, page_token=resume)
        for data, token in pages:
            yield OrderPage(orders=self._with_refunds(data, every_paid=False), has_more=bool(token), resume=token)

    def fetch_orders(self, order_ids: list[str]) -> list[ChannelOrder]:
        """The named orders (a webhook's, a resync's) with the returns of every paid one: a
        RETURN_STATUS_CHANGE event names its order and must read it whatever its body shows."""
        found: list[ChannelOrder] = []
        for start in range(0, len(order_ids), MAX_IDS):
            found += self._with_refunds(self.client.orders_by_ids(order_ids[start : start + MAX_IDS]), every_paid=True)
        return found

    def _with_refunds(self, data: Any, *, every_paid: bool) -> list[ChannelOrder]:
        """The orders of ``data`` with their completed refunds: one returns/search per 50 paid orders
        asked about; a pull (``every_paid`` False) asks only about those whose body shows a
        cancel signal or units sent (``returns.order_may_have_returns``: TikTok's order has no
        return field), the others keep ``refunds=None`` (their stored refunds stay as they are).

        Best-effort: the orders flow whatever returns/search answers. A refused or broken returns
        call (an app without the Return and Refund permission gets 401/403) is logged and leaves
        every order of the batch with ``refunds=None`` (their stored refunds stay as they are)."""
        orders = orders_from_data(data)
        bodies = {str(body.get("id")): body for body in (data.get("orders") or []) if isinstance(body, dict)}
        paid = [
            order.data.channel_order_id
            for order in orders
            if order.data.paid and (every_paid or order_may_have_returns(bodies.get(order.data.channel_order_id)))
        ]
        returns: dict[str, list[Any]] = {}
        try:
            for start in range(0, len(paid), MAX_IDS):
                for page in self.client.returns_pages(paid[start : start + MAX_IDS]):
                    for order_id, items in returns_by_order(page).items():
                        returns.setdefault(order_id, []).extend(items)
        except (ProviderError, MalformedPayload) as error:
            logger.warning(
                "TikTok Shop returns/search failed, orders read without their refunds: %s",
                str(error)[:300],
                extra={"store_base_url": self.base_url},
            )
            return orders
        return [
            replace(order, refunds=refunds_from_returns(returns[key], bodies[key]))
            if (key := order.data.channel_order_id) in returns and key in bodies
            else order
            for order in orders
        ]

    @classmethod
    def refresh_grant(
        cls, *, base_url: str, credentials: Mapping[str, str], recorder: AttemptRecorder | None = None
    ) -> TokenGrant:
        """The store's refresh token spent at the auth host (``TIKTOK_AUTH_URL``, not the API host
        ``base_url``) with the operator's app."""
        refresh_token = credentials.get("refresh_token", "")
        if not refresh_token:
            raise GrantRefused("no refresh token is kept for this store")
        return operator_auth_client(recorder=recorder).token_refresh(refresh_token)

    @classmethod
    def verify_webhook(cls, *, headers: Mapping[str, str], body: bytes, credentials: Mapping[str, str]) -> bool:
        """Signed with the app secret: the store's own app's (advanced) or the operator's."""
        given = header(headers, "Authorization")
        app_key, app_secret = app_credentials(credentials)
        if not app_key or not app_secret:
            return False
        expected = webhook_authorization(app_key=app_key, app_secret=app_secret, body=body)
        return signature_matches(expected, given.lower() if given else given)

    @classmethod
    def webhook_shop(cls, *, headers: Mapping[str, str], body: bytes) -> str:
        """The body's top-level ``shop_id`` (a string in TikTok's events; a number is taken too)."""
        try:
            payload = json_object(body, "TikTok Shop webhook body")
        except MalformedPayload:
            return ""
        shop_id = payload.get("shop_id")
        return "" if isinstance(shop_id, bool) or not isinstance(shop_id, str | int) else str(shop_id).strip()

    @classmethod
    def parse_webhook(cls, *, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        payload = json_object(body, "TikTok Shop webhook body")
        kind = payload.get("type")
        if isinstance(kind, bool) or not isinstance(kind, int):
            raise MalformedPayload(f"TikTok Shop webhook: 'type' is not an event number: {kind!r}")
        data = obj(payload, "data", "TikTok Shop webhook", required=False)
        order_id = data.get("order_id")
        notification_id = payload.get("tts_notification_id")
        extra = {
            key: data[key]
            for key in ("order_status", "is_on_hold_order", "update_time", "cancel_status")
            if key in data
        } | {"shop_id": str(payload.get("shop_id") or "")}
        return WebhookEvent(
            dedupe_key=str(notification_id) if notification_id else body_sha256(body),
            topic=WEBHOOK_TOPICS.get(kind, f"TYPE_{kind}"),
            order_id=str(order_id) if order_id else None,
            extra=extra,
        )
