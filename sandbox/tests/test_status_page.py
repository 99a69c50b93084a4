"""The status page at /sandbox/ shows the simulated world to a person running ``make run``."""

from __future__ import annotations

import pytest
from django.test import Client

from sandbox.models import FaultConfig, SimAccount, WebhookSubscription
from sandbox.providers.shopify.orders import order_cancel, orders_create
from sandbox.providers.shopify.spec import make_credentials

pytestmark = pytest.mark.django_db


def test_the_status_page_lists_accounts_orders_deliveries_and_faults(client: Client) -> None:
    shop = SimAccount.objects.create(provider="shopify", name="status-shop", credentials=make_credentials("x"))
    WebhookSubscription.objects.create(account=shop, topic="orders/create", address="http://127.0.0.1:9/hook")
    [first, second] = orders_create(shop, count=2, seed=1)
    order_cancel(order=shop.channel_orders.get(external_id=second), reason="customer", refund=True)
    FaultConfig.objects.create(provider="shopify", rates={"http_429": 0.25})

    response = client.get("/sandbox/")

    assert response.status_code == 200
    page = response.content.decode()
    assert '<meta http-equiv="refresh" content="5">' in page
    assert "status-shop" in page
    assert "http://testserver/sandbox/shopify/status-shop" in page
    assert "#1001" in page
    assert "#1002" in page
    assert "cancelled (customer)" in page
    assert "orders/create" in page
    assert "http://127.0.0.1:9/hook" in page
    assert "http_429 0.25" in page


def test_the_status_page_can_stop_refreshing(client: Client) -> None:
    response = client.get("/sandbox/?refresh=0")

    assert response.status_code == 200
    assert "http-equiv" not in response.content.decode()
