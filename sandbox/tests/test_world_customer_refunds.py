"""The simulated shops refund some customers after their parcel left (``refund_rate``): each
fulfilled order is drawn once, a refunded one gets one refund of one unit of its first line
through the channel's own refund (its webhooks sent as for the control API), never a second."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.enums import Provider
from sandbox.models import ChannelOrder, Fulfillment, SimAccount
from sandbox.providers._refunds import refunds_of
from sandbox.providers._state import options_update
from sandbox.registry import PROVIDERS
from sandbox.sim.channels import REFUND_DELAY_SECONDS, customer_refunds_tick

pytestmark = pytest.mark.django_db

CHANNELS = [Provider.SHOPIFY, Provider.WOOCOMMERCE, Provider.TIKTOK]


def shop(provider: str, **options: object) -> SimAccount:
    spec = PROVIDERS[provider]
    account = SimAccount.objects.create(
        provider=provider, name=f"refunding-{provider}", credentials=spec.make_credentials("x")
    )
    options_update(account, lambda current: current.update(options))
    assert spec.create_orders is not None
    spec.create_orders(account, count=4, seed=3)
    return account


def fulfil(order: ChannelOrder) -> None:
    Fulfillment.objects.create(
        order=order, external_id=f"F-{order.pk}", tracking_number="LP1", created_at=timezone.now()
    )


def refund_now(provider: str, when: object) -> int:
    spec = PROVIDERS[provider]
    assert spec.customer_refund is not None
    return customer_refunds_tick(provider=provider, now=when, rng=random.Random(1), refund=spec.customer_refund)  # type: ignore[arg-type]


@pytest.mark.parametrize("provider", CHANNELS)
def test_every_fulfilled_order_of_a_shop_refunding_all_gets_one_refund_once(provider: str) -> None:
    account = shop(provider, refund_rate=1.0)
    orders = list(account.channel_orders.order_by("pk"))
    for order in orders[:2]:
        fulfil(order)
    now = timezone.now()

    assert refund_now(provider, now) == 0  # drawn now, refunded a few minutes later
    later = now + timedelta(seconds=REFUND_DELAY_SECONDS[1] + 1)
    assert refund_now(provider, later) == 2
    assert refund_now(provider, later + timedelta(hours=1)) == 0  # never a second time

    for order in orders:
        order.refresh_from_db()
    [first, second, *unfulfilled] = orders
    for refunded in (first, second):
        [refund] = refunds_of(refunded)
        [part] = refund["lines"]
        assert (str(part["line_id"]), part["quantity"]) == (str(refunded.lines[0]["id"]), 1)
    assert all(refunds_of(order) == [] for order in unfulfilled)


@pytest.mark.parametrize("provider", CHANNELS)
def test_a_shop_without_a_refund_rate_refunds_nobody(provider: str) -> None:
    account = shop(provider)
    for order in account.channel_orders.all():
        fulfil(order)
    later = timezone.now() + timedelta(days=1)
    assert refund_now(provider, timezone.now()) == refund_now(provider, later) == 0
    assert all(refunds_of(order) == [] for order in account.channel_orders.all())
