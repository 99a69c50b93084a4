"""Webhooks end to end with nothing eager: the sandbox's Shopify signs and POSTs to our endpoint
on the live server, the intake stores each delivery and publishes its task to Redis, and a real
worker on the ``sync`` queue turns it into an order. Then a delivery whose task was lost (the
broker was away at intake) is found by beat's sweep, sent through the broker too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from channels_sync.enums import DeliveryState
from channels_sync.models import Store, WebhookDelivery
from channels_sync.providers.shopify.provider import shopify_hmac
from channels_sync.services import store_connect, webhook_receive
from channels_sync.tasks import requeue_stuck_deliveries
from orders.enums import OrderStatus
from orders.models import Order
from sandbox.tests.conftest import Control
from sandbox.webhooks import deliveries_send_due
from tests.workers import running_worker, wait_for

# The live server, the worker thread and this test write at once: PostgreSQL.
pytestmark = [
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sync_worker() -> Iterator[list[tuple[str, str]]]:
    with running_worker(["sync"]) as ran:
        yield ran


def test_signed_webhooks_become_orders_through_the_broker_and_a_worker(
    control: Control, live_server: Any, settings: Any, account: Any, sync_worker: list[tuple[str, str]]
) -> None:
    settings.SITE_URL = live_server.url  # where the sandbox delivers the webhooks we register
    shop = control.account("shopify", "worker-shop")
    store = store_connect(
        account=account, channel="shopify", name="Worker", base_url=shop["base_url"], credentials=shop["credentials"]
    ).store

    # when customers order (orders/create, then orders/paid) and the sandbox delivers
    ids = control.create_orders("shopify", "worker-shop", count=3, seed=21)
    assert deliveries_send_due() > 0

    # then the worker, not this thread, stored each order once, paid: in New
    def all_there() -> bool:
        return Order.objects.filter(store=store).count() == 3 and not (
            WebhookDelivery.objects.filter(store=store).exclude(state=DeliveryState.PROCESSED).exists()
        )

    assert wait_for(all_there), "the worker did not process the deliveries"
    orders = Order.objects.filter(store=store)
    assert sorted(orders.values_list("channel_order_id", flat=True)) == sorted(map(str, ids))
    assert set(orders.values_list("status", flat=True)) == {OrderStatus.NEW}
    assert {name for name, _ in sync_worker} == {"channels_sync.process_webhook_delivery"}


def test_a_delivery_stored_without_its_task_is_processed_after_beats_sweep(
    account: Any, sync_worker: list[tuple[str, str]]
) -> None:
    store = Store(account=account, channel="shopify", name="Swept", domain="swept.myshopify.com")
    store.credentials = {"access_token": "shpat_x"}
    store.webhook_secret = "whsec-swept"
    store.save()
    order = json.loads((ROOT / "channels_sync/tests/providers/fixtures/shopify_order.json").read_text())
    body = json.dumps({**order, "id": 7001}).encode()
    headers = {
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Webhook-Id": "lost-in-transit",
        "X-Shopify-Hmac-Sha256": shopify_hmac("whsec-swept", body),
    }
    # stored by the intake, but its task never reached the broker
    receipt = webhook_receive(channel="shopify", public_id=store.public_id, headers=headers, body=body)
    assert (receipt.status, receipt.enqueue) == (200, True)
    WebhookDelivery.objects.filter(pk=receipt.delivery_id).update(received_at=timezone.now() - timedelta(minutes=11))

    # when beat sends the sweep through the broker
    requeue_stuck_deliveries.delay()

    # then the worker runs the sweep, which queues the delivery, which the worker processes
    assert wait_for(lambda: WebhookDelivery.objects.get(pk=receipt.delivery_id).state == DeliveryState.PROCESSED)
    assert Order.objects.filter(store=store, channel_order_id="7001").count() == 1
    assert [name for name, _ in sync_worker] == [
        "channels_sync.requeue_stuck_deliveries",
        "channels_sync.process_webhook_delivery",
    ]
