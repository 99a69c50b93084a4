"""Chaos: N orders over Shopify, WooCommerce and TikTok Shop with faults on every channel API
(5xx, 429, timeouts), every webhook delivered twice and some held back so later ones overtake
them, some buyers cancelling. After the webhooks and one pull per store, every order is in the
order center exactly once with the channel's lines, total and status, and no delivery is left
unprocessed without a reason.

``CHAOS_ORDERS`` sets N (default 150 so CI stays under a minute; the issue's 3,000 run is
recorded in docs/channel-sync.md). ``CHAOS_TIMEOUT_RATE`` sets the timeout fault rate.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from channels_sync.enums import DeliveryState
from channels_sync.models import Store, WebhookDelivery
from channels_sync.services import store_connect, store_provider, store_pull
from integrations.http import ProviderHttpClient
from orders.enums import OrderStatus
from orders.models import Order
from orders.services.counts import order_counts_from_rows, order_counts_stored
from sandbox.models import WebhookDelivery as SandboxDelivery
from sandbox.webhooks import deliveries_send_due
from tests.service_gate import postgres_available, require_or_skip

from .conftest import LIVE_DB

pytestmark = [LIVE_DB, pytest.mark.postgres]

N = int(os.environ.get("CHAOS_ORDERS", "150"))
TIMEOUT_RATE = float(os.environ.get("CHAOS_TIMEOUT_RATE", "0.05"))
CHANNELS = ("shopify", "woocommerce", "tiktok")


@pytest.fixture
def fast_clients(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """Channel calls time out sooner than the sandbox's stall (the providers' own timeout setting),
    and retry waits are capped (Retry-After honored up to 50 ms) so the run fits in CI."""
    settings.SYNC_PROVIDER_TIMEOUT = 0.6
    original = ProviderHttpClient.__init__

    def init(self: ProviderHttpClient, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("sleep", lambda seconds: time.sleep(min(seconds, 0.05)))
        original(self, *args, **kwargs)

    monkeypatch.setattr(ProviderHttpClient, "__init__", init)


def deliver_everything(timeout: float = 60.0) -> None:
    """Send due deliveries until none is pending (held-back ones come due 2 s later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = deliveries_send_due(limit=500)
        if not SandboxDelivery.objects.filter(state="pending").exists():
            return
        if not sent:
            time.sleep(0.2)
    raise AssertionError("sandbox deliveries still pending")


def channel_truth(store: Store) -> Iterator[Any]:
    for page in store_provider(store).iter_order_pages(updated_since=None):
        yield from page.orders


def test_every_order_exactly_once_despite_faults(control: Any, site_url: str, account: Any, fast_clients: None) -> None:
    require_or_skip(*postgres_available())
    started = time.monotonic()
    stores: dict[str, Store] = {}
    for channel in CHANNELS:
        shop = control.account(channel, f"chaos-{channel}")
        stores[channel] = store_connect(
            account=account,
            channel=channel,
            name=f"Chaos {channel}",
            base_url=shop["base_url"],
            credentials=shop["credentials"],
        ).store
    control.http.post(
        f"{control.base}/tiktok/chaos-tiktok/webhook", json={"url": _webhook_url(stores["tiktok"])}, timeout=10
    )
    faults = {"http_5xx": 0.2, "http_429": 0.1, "timeout": TIMEOUT_RATE}
    control.faults({c: {**faults, "webhook_duplicate": 1.0, "webhook_out_of_order": 0.1} for c in CHANNELS})
    control.clock(seed=42)

    created: dict[str, list[str]] = {}
    for index, channel in enumerate(CHANNELS):
        count = N // 3 + (1 if index < N % 3 else 0)
        created[channel] = [str(i) for i in control.create_orders(channel, f"chaos-{channel}", count=count, seed=index)]
    for channel in CHANNELS:  # 5% of buyers cancel
        for order_id in created[channel][::20]:
            control.cancel_order(channel, f"chaos-{channel}", order_id)
    deliver_everything(timeout=60 + N * 0.2)

    for store in stores.values():  # the safety net: one pull per store (beat retries a failed one)
        for _ in range(3):
            if not store_pull(store_id=store.pk, since=None).error:
                break
        else:
            pytest.fail(f"{store} could not be pulled")

    control.faults({c: {} for c in CHANNELS})
    for channel, store in stores.items():
        truth = {order.data.channel_order_id: order for order in channel_truth(store)}
        assert set(truth) == set(created[channel])
        ours = {order.channel_order_id: order for order in Order.objects.filter(store=store).prefetch_related("lines")}
        assert set(ours) == set(truth), channel  # exactly once: (store, channel id) is unique
        for order_id, channel_order in truth.items():
            order, data = ours[order_id], channel_order.data
            assert order.total == data.total, order_id
            lines = sorted((line.channel_line_id, line.quantity, line.unit_price) for line in order.lines.all())
            expected = sorted((line.channel_line_id, line.quantity, Decimal(line.unit_price)) for line in data.lines)
            assert lines == expected, order_id
            wanted = OrderStatus.CANCELED if data.canceled else OrderStatus.NEW if data.paid else OrderStatus.UNPAID
            assert order.status == wanted, order_id
    assert Order.objects.filter(account=account).count() == N
    assert order_counts_stored(account=account) == order_counts_from_rows(account=account)
    left = WebhookDelivery.objects.exclude(state__in=[DeliveryState.PROCESSED, DeliveryState.IGNORED])
    assert not left.filter(error="").exists()
    print(f"chaos: {N} orders in {time.monotonic() - started:.1f}s; deliveries left with a reason: {left.count()}")  # noqa: T201


def _webhook_url(store: Store) -> str:
    from channels_sync.services import webhook_url_for

    return webhook_url_for(channel=store.channel, public_id=store.public_id)
