"""The WooCommerce provider against the sandbox over real HTTP (OAuth 1.0a, since it is plain HTTP)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from channels_sync.providers.base import provider_for
from channels_sync.providers.woocommerce.client import WooCommerceClient
from channels_sync.providers.woocommerce.provider import WooCommerceProvider
from integrations.errors import CredentialsError, ProviderError
from sandbox.tests.conftest import SANDBOX_LIVE_DB
from sandbox.webhooks import deliveries_send_due

pytestmark = SANDBOX_LIVE_DB

SITE = "prov-site"


@pytest.fixture
def site(control: Any) -> dict[str, Any]:
    return control.account("woocommerce", SITE)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(site: dict[str, Any], sleeps: list[float]) -> WooCommerceProvider:
    made = provider_for("woocommerce", base_url=site["base_url"], credentials=site["credentials"])
    assert isinstance(made, WooCommerceProvider)
    made.client.sleep = sleeps.append
    return made


def test_pull_pages_through_every_order_once(control: Any, provider: WooCommerceProvider) -> None:
    created = control.create_orders("woocommerce", SITE, count=7, seed=21)

    pages = list(provider.iter_order_pages(updated_since=None, page_size=3))

    assert [(len(page.orders), page.has_more) for page in pages] == [(3, True), (3, True), (1, False)]
    assert [o.data.channel_order_id for page in pages for o in page.orders] == sorted(created, key=int)


def test_pull_honors_updated_since(control: Any, provider: WooCommerceProvider) -> None:
    old = control.create_orders("woocommerce", SITE, count=3, seed=22)
    since = datetime.fromisoformat(control.clock(advance_seconds=600))
    control.cancel_order("woocommerce", SITE, old[1])
    new = control.create_orders("woocommerce", SITE, count=2, seed=23)

    orders = [o for page in provider.iter_order_pages(updated_since=since, page_size=100) for o in page.orders]

    assert [(o.data.channel_order_id, o.data.canceled) for o in orders] == [
        (old[1], True),
        (new[0], False),
        (new[1], False),
    ]


def test_fetch_orders_by_id(control: Any, provider: WooCommerceProvider) -> None:
    created = control.create_orders("woocommerce", SITE, count=3, seed=24)

    fetched = provider.fetch_orders([created[2], created[0]])

    assert sorted(o.data.channel_order_id for o in fetched) == sorted([created[0], created[2]])


def test_5xx_faults_are_retried_with_a_fresh_signature(
    control: Any, provider: WooCommerceProvider, sleeps: list[float]
) -> None:
    created = control.create_orders("woocommerce", SITE, count=7, seed=25)
    control.clock(seed=1)
    control.faults({"woocommerce": {"http_5xx": 0.5}})

    orders = [o for page in provider.iter_order_pages(updated_since=None, page_size=3) for o in page.orders]

    assert sorted(o.data.channel_order_id for o in orders) == sorted(created)
    statuses = [a.status for a in provider.attempts]
    assert statuses.count(200) == 3
    assert {s for s in statuses if s != 200} <= {502, 503}
    assert len(statuses) > 3
    assert len(sleeps) == len(statuses) - 3


def test_a_wrong_secret_is_a_readable_credentials_error_without_retries(site: dict[str, Any]) -> None:
    provider = WooCommerceProvider(
        base_url=site["base_url"], credentials={**site["credentials"], "consumer_secret": "cs_wrong"}
    )

    with pytest.raises(CredentialsError) as caught:
        provider.check_credentials()

    assert str(caught.value) == (
        "WooCommerce refused the API keys (Invalid signature - provided signature does not match.): check the "
        "consumer key and secret in WordPress → WooCommerce → Settings → Advanced → REST API (the key needs "
        "Read/Write permission)"
    )
    assert [a.status for a in provider.attempts] == [401]


def test_check_credentials_names_the_site(provider: WooCommerceProvider, site: dict[str, Any]) -> None:
    assert provider.check_credentials().endswith(f"/sandbox/woocommerce/{SITE}")


def test_https_uses_basic_auth() -> None:
    client = WooCommerceClient("https://shop.example.com", consumer_key="ck_1", consumer_secret="cs_2")

    params, headers = client.prepare("GET", client.url("orders"), {"page": "1"}, b"")

    assert (params, headers) == ({"page": "1"}, {"Accept": "application/json", "Authorization": "Basic Y2tfMTpjc18y"})


def test_registered_webhooks_deliver_orders_that_verify_and_parse(
    control: Any, site: dict[str, Any], provider: WooCommerceProvider, webhook_receiver: Any
) -> None:
    address = f"{webhook_receiver.url}/webhooks/woocommerce/x/"
    topics = provider.register_webhooks(address=address)
    provider.register_webhooks(address=address)

    (order_id,) = control.create_orders("woocommerce", SITE, count=1, seed=26)
    control.cancel_order("woocommerce", SITE, order_id)
    deliveries_send_due()
    received = webhook_receiver.wait_for(2)

    assert topics == ["order.created", "order.updated"]
    assert len(received) == 2
    events = []
    for delivery in received:
        assert WooCommerceProvider.verify_webhook(
            headers=delivery.headers, body=delivery.body, credentials=site["credentials"]
        )
        events.append(WooCommerceProvider.parse_webhook(headers=delivery.headers, body=delivery.body))
    by_topic = {e.topic: e for e in events}
    assert sorted(by_topic) == ["order.created", "order.updated"]
    assert by_topic["order.created"].order is not None
    assert by_topic["order.updated"].order is not None
    assert (by_topic["order.created"].order_id, by_topic["order.created"].order.data.canceled) == (order_id, False)
    assert (by_topic["order.updated"].order_id, by_topic["order.updated"].order.data.canceled) == (order_id, True)
    assert {e.dedupe_key for e in events} == {d.headers["x-wc-webhook-delivery-id"] for d in received}


def test_a_body_cut_in_half_is_a_retryable_error(control: Any, provider: WooCommerceProvider) -> None:
    control.create_orders("woocommerce", SITE, count=2, seed=27)
    control.faults({"woocommerce": {"malformed": 1.0}})

    with pytest.raises(ProviderError, match="WooCommerce sent a body that is not valid JSON") as caught:
        list(provider.iter_order_pages(updated_since=None))

    assert caught.value.retryable is True
    assert [a.status for a in provider.attempts] == [200]
