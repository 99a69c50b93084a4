"""The channels part of the world tick: customers order at each shop's rate; some buyers cancel."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from sandbox.clock import sim_now
from sandbox.models import ChannelOrder, SimAccount, WebhookDelivery
from sandbox.providers.shopify.spec import make_credentials as shopify_credentials
from sandbox.providers.woocommerce.spec import make_credentials as woo_credentials
from sandbox.sim import channels

pytestmark = pytest.mark.django_db


def _shops(options: dict[str, object]) -> None:
    SimAccount.objects.create(
        provider="shopify", name="world-shop", credentials=shopify_credentials("x"), options=options
    )
    SimAccount.objects.create(
        provider="woocommerce", name="world-store", credentials=woo_credentials("x"), options=options
    )


def _history(seed: int) -> tuple[list[dict[str, int]], list[tuple[str, str, str]]]:
    """Three ticks over 9 sim hours; the orders as (shop, number, status)."""
    start = sim_now()
    counts = [channels.tick(now=start + timedelta(hours=h), rng=random.Random(f"{seed}:{h}")) for h in (0, 1)]
    SimAccount.objects.update(
        options={"orders_per_hour": 0, "cancel_rate": 1.0, "world_at": (start + timedelta(hours=1)).isoformat()}
    )
    counts.append(channels.tick(now=start + timedelta(hours=9), rng=random.Random(f"{seed}:9")))
    orders = ChannelOrder.objects.order_by("account__provider", "id")
    return counts, [(o.account.name, o.number, o.status) for o in orders]


def test_customers_order_at_the_shops_rate_and_buyers_cancel_later() -> None:
    _shops({"orders_per_hour": 20, "cancel_rate": 1.0})

    counts, orders = _history(seed=1)

    assert counts[0] == dict.fromkeys(counts[0], 0)  # the first tick only starts each shop's clock
    created = counts[1]["shopify_orders_created"]
    assert 5 <= created <= 40
    assert counts[1]["woocommerce_orders_created"] > 0
    assert counts[2]["shopify_orders_cancelled_by_buyer"] == created  # cancel_rate 1: every one, within 6 h
    assert {status for _, _, status in orders} == {"cancelled"}
    assert "orders/cancelled" not in WebhookDelivery.objects.values_list("topic", flat=True)  # nobody subscribed


def test_the_same_seed_gives_the_same_history() -> None:
    _shops({"orders_per_hour": 20, "cancel_rate": 0.5})
    first = _history(seed=7)
    SimAccount.objects.all().delete()
    _shops({"orders_per_hour": 20, "cancel_rate": 0.5})

    second = _history(seed=7)

    assert first == second
