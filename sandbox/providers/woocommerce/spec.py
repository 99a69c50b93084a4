"""The WooCommerce ProviderSpec: credentials, site URL, checkouts, buyer cancellations, world tick."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from sandbox.enums import Provider
from sandbox.http import token
from sandbox.models import ChannelOrder
from sandbox.providers.woocommerce.api import site_url_remember
from sandbox.providers.woocommerce.orders import order_refund, order_update, orders_create
from sandbox.registry import ProviderSpec, register
from sandbox.sim.channels import shops_tick


def make_credentials(name: str) -> dict[str, str]:
    return {"consumer_key": token("ck_", 20), "consumer_secret": token("cs_", 20), "webhook_secret": token()}


def base_url(request: HttpRequest, name: str) -> str:
    url = request.build_absolute_uri(reverse("sandbox-woocommerce-site", kwargs={"site": name}))
    site_url_remember(name, url)
    return url


def buyer_cancel(order: ChannelOrder, body: dict[str, Any] | None = None) -> ChannelOrder:
    """The buyer asks to cancel; the shop manager sets the order to cancelled (order.updated)."""
    if order.status in {"completed", "cancelled", "refunded"}:
        raise ValueError(f"order {order.external_id} is {order.status}")
    reason = str((body or {}).get("reason") or "customer")
    return order_update(order=order, data={"status": "cancelled", "_cancel_reason": reason})


def merchant_refund(order: ChannelOrder, body: dict[str, Any]) -> ChannelOrder:
    return order_refund(order=order, body=body)


def merchant_update(order: ChannelOrder, body: dict[str, Any]) -> ChannelOrder:
    data: dict[str, Any] = {"meta_data": [{"key": "_zopi_sandbox_touch", "value": body.get("note", "")}]}
    if isinstance(body.get("note"), str):
        data["customer_note"] = body["note"]
    return order_update(order=order, data=data)


def woocommerce_tick(*, now: datetime, rng: random.Random) -> dict[str, int]:
    return shops_tick(provider=Provider.WOOCOMMERCE, now=now, rng=rng, create=orders_create, buyer_cancel=buyer_cancel)


SPEC = register(
    ProviderSpec(
        provider=Provider.WOOCOMMERCE,
        make_credentials=make_credentials,
        base_url=base_url,
        create_orders=orders_create,
        customer_refund=merchant_refund,
        tick=woocommerce_tick,
    )
)
