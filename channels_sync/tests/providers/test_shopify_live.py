"""The Shopify provider against the sandbox over real HTTP: pages, filters, faults, the bucket, webhooks."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
import requests

from channels_sync.providers.base import provider_for
from channels_sync.providers.shopify.client import ShopifyClient
from channels_sync.providers.shopify.provider import ShopifyProvider
from integrations.errors import CredentialsError
from sandbox.tests.conftest import SANDBOX_LIVE_DB
from sandbox.webhooks import deliveries_send_due

pytestmark = SANDBOX_LIVE_DB

SHOP = "prov-shop"


class Sleeps:
    """An injectable sleep: records what was asked; sleeps at most ``cap`` for real."""

    def __init__(self, cap: float = 0.0) -> None:
        self.cap = cap
        self.asked: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        if self.cap:
            time.sleep(min(seconds, self.cap))


@pytest.fixture
def shop(control: Any) -> dict[str, Any]:
    return control.account("shopify", SHOP)


@pytest.fixture
def provider(shop: dict[str, Any]) -> ShopifyProvider:
    made = provider_for("shopify", base_url=shop["base_url"], credentials=shop["credentials"])
    assert isinstance(made, ShopifyProvider)
    made.client.sleep = Sleeps()
    return made


def test_pull_pages_through_every_order_once(control: Any, provider: ShopifyProvider) -> None:
    created = control.create_orders("shopify", SHOP, count=7, seed=11)

    pages = list(provider.iter_order_pages(updated_since=None, page_size=3))

    assert [(len(page.orders), page.has_more) for page in pages] == [(3, True), (3, True), (1, False)]
    assert sorted(order.data.channel_order_id for page in pages for order in page.orders) == sorted(created)
    assert [a.path.rsplit("/", 1)[-1] for a in provider.attempts] == ["orders.json"] * 3


def test_pull_honors_updated_since(control: Any, provider: ShopifyProvider) -> None:
    old = control.create_orders("shopify", SHOP, count=3, seed=12)
    since = datetime.fromisoformat(control.clock(advance_seconds=600))
    control.update_order("shopify", SHOP, old[0], note="gift wrap")
    new = control.create_orders("shopify", SHOP, count=2, seed=13)

    pages = list(provider.iter_order_pages(updated_since=since, page_size=250))

    assert sorted(o.data.channel_order_id for page in pages for o in page.orders) == sorted([old[0], *new])


def test_fetch_orders_by_id(control: Any, provider: ShopifyProvider) -> None:
    created = control.create_orders("shopify", SHOP, count=3, seed=14)

    fetched = provider.fetch_orders([created[0], created[2]])

    assert sorted(o.data.channel_order_id for o in fetched) == sorted([created[0], created[2]])


def test_5xx_and_429_faults_are_retried_until_every_order_is_read(control: Any, provider: ShopifyProvider) -> None:
    created = control.create_orders("shopify", SHOP, count=7, seed=15)
    control.clock(seed=1)  # the fault draws of this seed: 503, ok, 502, 429, ok, ok
    control.faults({"shopify": {"http_5xx": 0.4, "http_429": 0.2}})

    orders = [o for page in provider.iter_order_pages(updated_since=None, page_size=3) for o in page.orders]

    assert sorted(o.data.channel_order_id for o in orders) == sorted(created)
    statuses = [a.status for a in provider.attempts]
    assert statuses == [503, 200, 502, 429, 200, 200]
    assert all(a.error for a in provider.attempts if a.status != 200)
    sleeps = provider.client.sleep.asked  # type: ignore[attr-defined]
    assert len(sleeps) == 3
    assert sleeps[2] == 2.0  # the 429's Retry-After; the 5xx waits are jittered backoff
    assert 0 <= sleeps[0] <= 0.5
    assert 0 <= sleeps[1] <= 0.5


def test_burst_on_a_small_bucket_is_absorbed_by_the_call_limit_header(control: Any, shop: dict[str, Any]) -> None:
    control.options("shopify", SHOP, bucket_size=4, leak_rate=5)
    sleeps = Sleeps(cap=1.0)
    client = ShopifyClient(
        shop["base_url"], access_token=shop["credentials"]["access_token"], leak_rate=5, sleep=sleeps
    )

    answers = [client.orders_count() for _ in range(10)]

    assert answers == [{"count": 0}] * 10
    assert [a.status for a in client.attempts] == [200] * 10  # waited before the bucket overflowed: no 429
    assert sleeps.asked  # 10 calls in well under 2 s cannot all fit in a bucket of 4 leaking 5/s
    assert all(0 < s <= 0.4 for s in sleeps.asked)  # just enough for one or two calls to leak


def test_a_full_bucket_answers_429_and_retry_after_is_honored(control: Any, shop: dict[str, Any]) -> None:
    control.options("shopify", SHOP, bucket_size=4, leak_rate=1)
    url = f"{shop['base_url']}/admin/api/2024-10/orders/count.json"
    token = {"X-Shopify-Access-Token": shop["credentials"]["access_token"]}
    with requests.Session() as other_app:  # another app of the shop empties the bucket
        filled = [other_app.get(url, headers=token, timeout=10).status_code for _ in range(5)]
    sleeps = Sleeps(cap=1.1)  # 1.1 s leaks one call at 1/s; Shopify asked for 2.0
    client = ShopifyClient(shop["base_url"], access_token=shop["credentials"]["access_token"], sleep=sleeps)

    answer = client.orders_count()

    assert filled[-1] == 429
    assert answer == {"count": 0}
    assert [a.status for a in client.attempts] == [429, 200]
    assert sleeps.asked == [2.0]


def test_a_wrong_token_is_a_readable_credentials_error_without_retries(shop: dict[str, Any]) -> None:
    provider = ShopifyProvider(
        base_url=shop["base_url"], credentials={**shop["credentials"], "access_token": "shpat_wrong"}
    )

    with pytest.raises(CredentialsError) as caught:
        provider.check_credentials()

    assert str(caught.value) == (
        "Shopify refused the access token (401): check it in your Shopify admin → Apps → Develop apps "
        "(Admin API access token)"
    )
    assert caught.value.status == 401
    assert caught.value.retryable is False
    assert [(a.status, a.path.endswith("orders/count.json")) for a in provider.attempts] == [(401, True)]


def test_check_credentials_names_the_shop(provider: ShopifyProvider) -> None:
    assert provider.check_credentials() == SHOP


def test_registered_webhooks_deliver_orders_that_verify_and_parse(
    control: Any, shop: dict[str, Any], provider: ShopifyProvider, webhook_receiver: Any
) -> None:
    address = f"{webhook_receiver.url}/webhooks/shopify/x/"
    topics = provider.register_webhooks(address=address)
    again = provider.register_webhooks(address=address)  # a repeat subscribes nothing twice

    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=16)
    deliveries_send_due()
    received = webhook_receiver.wait_for(2)

    assert topics == again == ["orders/create", "orders/updated", "orders/paid", "orders/cancelled"]
    assert len(received) == 2
    events = []
    for delivery in received:
        assert ShopifyProvider.verify_webhook(
            headers=delivery.headers, body=delivery.body, credentials=shop["credentials"]
        )
        events.append(ShopifyProvider.parse_webhook(headers=delivery.headers, body=delivery.body))
    assert sorted(e.topic for e in events) == ["orders/create", "orders/paid"]
    assert {(e.order_id, e.order.data.paid if e.order else None) for e in events} == {(order_id, True)}
    assert len({e.dedupe_key for e in events}) == 2
    assert not ShopifyProvider.verify_webhook(
        headers=received[0].headers, body=received[0].body, credentials={"webhook_secret": "another shop's secret"}
    )
