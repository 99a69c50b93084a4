"""What the push-back runner's tests share: a store connected to the sandbox, an order pulled from it
into our database, and what the sandbox channel says it fulfilled."""

from __future__ import annotations

from typing import Any

from channels_sync.models import Store
from channels_sync.services import store_connect, store_pull
from orders.models import Order
from sandbox.models import ChannelOrder as SimOrder
from sandbox.models import Fulfillment as SimFulfillment

CHANNELS = ["shopify", "woocommerce", "tiktok"]


def connect(control: Any, account: Any, channel: str, shop_name: str) -> Store:
    shop = control.account(channel, shop_name)
    return store_connect(
        account=account, channel=channel, name=shop_name, base_url=shop["base_url"], credentials=shop["credentials"]
    ).store


def pulled(store: Store, channel_order_id: str) -> Order:
    """The order as our pull stored it (with its lines)."""
    result = store_pull(store_id=store.pk)
    assert not result.error, result.error
    return Order.objects.get(store=store, channel_order_id=str(channel_order_id))


def new_order(control: Any, store: Store, shop_name: str, *, seed: int, **fields: Any) -> Order:
    (order_id,) = control.create_orders(store.channel, shop_name, count=1, seed=seed, **fields)
    return pulled(store, order_id)


def multi_line_order(control: Any, store: Store, shop_name: str) -> Order:
    """An order of two lines or more (TikTok Shop: two packages or more)."""
    for seed in range(40, 80):
        extra = {"split_packages": True} if store.channel == "tiktok" else {}
        (order_id,) = control.create_orders(store.channel, shop_name, count=1, seed=seed, **extra)
        sim = SimOrder.objects.get(account__name=shop_name, external_id=order_id)
        if store.channel == "tiktok":
            if len(sim.extra["packages"]) >= 2:
                return pulled(store, order_id)
        elif len(sim.lines) >= 2:
            return pulled(store, order_id)
    raise AssertionError("no seed made an order of two lines")


def made(order: Order) -> list[tuple[str, str]]:
    """The sandbox channel's fulfillments of the order: (tracking number, carrier)."""
    rows = SimFulfillment.objects.filter(
        order__external_id=order.channel_order_id, order__account__provider=order.channel
    ).order_by("id")
    return [(row.tracking_number, row.tracking_company) for row in rows]


def units_fulfilled(order: Order, number: str) -> dict[str, int]:
    """What the channel holds as fulfilled under tracking ``number``: channel line id → units."""
    sim = SimOrder.objects.get(external_id=order.channel_order_id, account__provider=order.channel)
    if order.channel == "shopify":
        row = SimFulfillment.objects.get(order=sim, tracking_number=number)
        return {str(key): int(value) for key, value in row.payload["quantities"].items()}
    if order.channel == "woocommerce":
        meta = {item["key"]: item["value"] for item in sim.extra["meta_data"]}
        return {str(key): int(value) for key, value in meta["_zopi_parcels"][number].items()}
    shipped: dict[str, int] = {}
    for package in sim.extra["packages"]:
        if package.get("tracking_number") == number:
            for line_id in package["line_item_ids"]:
                shipped[str(line_id)] = shipped.get(str(line_id), 0) + 1
    return shipped
