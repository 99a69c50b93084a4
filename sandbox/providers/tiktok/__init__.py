"""Simulated TikTok Shop (Partner API 202309): orders, fulfillment, logistics, tokens, webhooks."""

from __future__ import annotations

import secrets

from django.http import HttpRequest
from django.urls import reverse

from sandbox.enums import Provider
from sandbox.providers.tiktok.orders import create_orders, customers_tick
from sandbox.providers.tiktok.render import digits_id
from sandbox.providers.tiktok.returns import seller_refund
from sandbox.registry import ProviderSpec, register


def make_credentials(name: str) -> dict[str, str]:
    return {
        "app_key": "6" + secrets.token_hex(6),
        "app_secret": secrets.token_hex(20),
        "access_token": "ROW_" + secrets.token_urlsafe(48),
        "refresh_token": "ROW_" + secrets.token_urlsafe(48),
        "auth_code": "ROW_" + secrets.token_urlsafe(24),
        "shop_cipher": "ROW_" + secrets.token_urlsafe(24),
        "shop_id": digits_id("7494", f"shop:{name}:{secrets.token_hex(4)}", 19),
        "open_id": secrets.token_urlsafe(24),
    }


def base_url(request: HttpRequest, name: str) -> str:
    """The API host; clients append /order/202309/... (and the auth paths /api/v2/token/...)."""
    search = reverse("tiktok-orders-search")
    return request.build_absolute_uri(search[: -len("/order/202309/orders/search")])


SPEC = register(
    ProviderSpec(
        provider=Provider.TIKTOK,
        make_credentials=make_credentials,
        base_url=base_url,
        create_orders=create_orders,
        tick=customers_tick,
        customer_refund=seller_refund,
    )
)
