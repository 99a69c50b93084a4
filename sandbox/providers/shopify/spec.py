"""The Shopify ProviderSpec: credentials, base URL, order creation, buyer cancellations, world tick."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from sandbox.enums import Provider
from sandbox.http import token
from sandbox.models import ChannelOrder
from sandbox.providers.shopify.orders import ShopifyError, order_cancel, order_refund, order_touch, orders_create
from sandbox.registry import ProviderSpec, register
from sandbox.sim.channels import shops_tick


def make_credentials(name: str) -> dict[str, str]:
    return {"access_token": token("shpat_"), "webhook_secret": token()}


def base_url(request: HttpRequest, name: str) -> str:
    return request.build_absolute_uri(reverse("sandbox-shopify-shop", kwargs={"shop": name}))


def buyer_cancel(order: ChannelOrder, body: dict[str, Any] | None = None) -> ChannelOrder:
    """The buyer asks to cancel; the merchant cancels and refunds (orders/cancelled, orders/updated)."""
    try:
        return order_cancel(order=order, reason=str((body or {}).get("reason") or "customer"), refund=True)
    except ShopifyError as exc:
        raise ValueError(str(exc.errors)) from exc


def merchant_update(order: ChannelOrder, body: dict[str, Any]) -> ChannelOrder:
    return order_touch(order=order, note=body.get("note"), tags=body.get("tags"))


def merchant_refund(order: ChannelOrder, body: dict[str, Any]) -> ChannelOrder:
    return order_refund(order=order, body=body)


def shopify_tick(*, now: datetime, rng: random.Random) -> dict[str, int]:
    return shops_tick(provider=Provider.SHOPIFY, now=now, rng=rng, create=orders_create, buyer_cancel=buyer_cancel)


SPEC = register(
    ProviderSpec(
        provider=Provider.SHOPIFY,
        make_credentials=make_credentials,
        base_url=base_url,
        create_orders=orders_create,
        customer_refund=merchant_refund,
        tick=shopify_tick,
    )
)
