"""The TikTok Shop provider against the sandbox over real HTTP: signed calls, pages, twins, webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from channels_sync.providers.base import provider_for
from channels_sync.providers.shopify.provider import ShopifyProvider
from channels_sync.providers.tiktok.client import RETURNS_PATH, SEARCH_PATH
from channels_sync.providers.tiktok.provider import TikTokProvider
from integrations.errors import CredentialsError, NotSupported
from sandbox.tests.conftest import SANDBOX_LIVE_DB
from sandbox.webhooks import deliveries_send_due

pytestmark = SANDBOX_LIVE_DB

SHOP = "prov-tt"


@pytest.fixture
def shop(control: Any) -> dict[str, Any]:
    return control.account("tiktok", SHOP)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def provider(shop: dict[str, Any], sleeps: list[float]) -> TikTokProvider:
    made = provider_for("tiktok", base_url=shop["base_url"], credentials=shop["credentials"])
    assert isinstance(made, TikTokProvider)
    made.client.sleep = sleeps.append
    return made


def test_signed_search_pages_through_every_order_once(control: Any, provider: TikTokProvider) -> None:
    created = control.create_orders("tiktok", SHOP, count=7, seed=31)

    pages = list(provider.iter_order_pages(updated_since=None, page_size=3))

    assert [(len(page.orders), page.has_more) for page in pages] == [(3, True), (3, True), (1, False)]
    orders = [o for page in pages for o in page.orders]
    assert sorted(o.data.channel_order_id for o in orders) == sorted(created)
    assert all(
        o.purchase_ids == (o.data.channel_order_id,) and o.data.number == o.data.channel_order_id for o in orders
    )
    # each page only: its paid orders await shipment with no cancel signal, so returns/search is not
    # asked about them (returns.order_may_have_returns)
    assert [(a.status, a.path.removeprefix("/sandbox/tiktok")) for a in provider.attempts] == [
        (200, SEARCH_PATH) for _ in pages
    ]
    assert RETURNS_PATH not in {a.path.removeprefix("/sandbox/tiktok") for a in provider.attempts}


def test_search_honors_updated_since(control: Any, provider: TikTokProvider) -> None:
    old = control.create_orders("tiktok", SHOP, count=3, seed=32)
    since = datetime.fromisoformat(control.clock(advance_seconds=600))
    control.cancel_order("tiktok", SHOP, old[2], reason="Changed my mind")
    new = control.create_orders("tiktok", SHOP, count=2, seed=33, status="UNPAID")

    orders = [o for page in provider.iter_order_pages(updated_since=since, page_size=100) for o in page.orders]

    assert sorted((o.data.channel_order_id, o.data.paid, o.data.canceled) for o in orders) == sorted(
        [(old[2], True, True), (new[0], False, False), (new[1], False, False)]
    )


def test_fetch_orders_by_id(control: Any, provider: TikTokProvider) -> None:
    created = control.create_orders("tiktok", SHOP, count=3, seed=34)

    fetched = provider.fetch_orders([created[1], "576000000000000000"])

    assert [o.data.channel_order_id for o in fetched] == [created[1]]


def test_a_shopify_twin_carries_the_tiktok_id(control: Any, provider: TikTokProvider) -> None:
    twin_shop = control.account("shopify", "prov-twin-shop")
    tiktok_ids = control.create_orders("tiktok", SHOP, count=2, seed=35, also_in_shopify="prov-twin-shop")
    shopify = ShopifyProvider(base_url=twin_shop["base_url"], credentials=twin_shop["credentials"])

    twins = [o for page in shopify.iter_order_pages(updated_since=None) for o in page.orders]
    tiktok = provider.fetch_orders(tiktok_ids)

    assert sorted(twin.purchase_ids for twin in twins) == sorted((i,) for i in tiktok_ids)
    assert sorted(o.purchase_ids for o in tiktok) == sorted((i,) for i in tiktok_ids)


def test_rate_limit_and_5xx_envelopes_are_retried(control: Any, provider: TikTokProvider, sleeps: list[float]) -> None:
    created = control.create_orders("tiktok", SHOP, count=4, seed=36)
    control.clock(seed=1)
    control.faults({"tiktok": {"http_5xx": 0.3, "http_429": 0.3}})

    orders = [o for page in provider.iter_order_pages(updated_since=None, page_size=2) for o in page.orders]

    assert sorted(o.data.channel_order_id for o in orders) == sorted(created)
    statuses = [a.status for a in provider.attempts]
    assert statuses.count(200) == 2  # two pages (orders awaiting shipment: no returns/search)
    assert len(statuses) > 2
    assert {s for s in statuses if s != 200} <= {429, 502, 503}
    assert len(sleeps) == len(statuses) - 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"access_token": "wrong"},
            "TikTok Shop refused the access token: reconnect the shop (authorize the app again in TikTok Shop)",
        ),
        (
            {"app_secret": "wrong"},
            "TikTok Shop rejected the request signature: check the app secret of the TikTok Shop app",
        ),
    ],
)
def test_refused_credentials_are_readable_and_not_retried(
    shop: dict[str, Any], change: dict[str, str], message: str
) -> None:
    provider = TikTokProvider(base_url=shop["base_url"], credentials={**shop["credentials"], **change})

    with pytest.raises(CredentialsError) as caught:
        next(provider.iter_order_pages(updated_since=None))

    assert str(caught.value) == message
    assert [a.status for a in provider.attempts] == [401]


def test_an_expired_token_says_to_reconnect(control: Any, provider: TikTokProvider) -> None:
    control.options("tiktok", SHOP, access_token_expired=True)

    with pytest.raises(CredentialsError, match="access token expired: reconnect the shop"):
        provider.check_credentials()


def test_check_credentials_names_the_shop(provider: TikTokProvider) -> None:
    assert provider.check_credentials() == SHOP


def test_webhooks_are_set_up_in_the_dashboard(provider: TikTokProvider) -> None:
    with pytest.raises(NotSupported):
        provider.register_webhooks(address="https://zopi.example/webhooks/tiktok/x/")


def test_a_real_delivery_verifies_parses_and_names_an_order_to_fetch(
    control: Any, shop: dict[str, Any], provider: TikTokProvider, webhook_receiver: Any
) -> None:
    control._call("POST", f"tiktok/{SHOP}/webhook", (200,), {"url": f"{webhook_receiver.url}/webhooks/tiktok/x/"})
    (order_id,) = control.create_orders("tiktok", SHOP, count=1, seed=37)
    deliveries_send_due()
    (delivery,) = webhook_receiver.wait_for(1)

    verified = TikTokProvider.verify_webhook(
        headers=delivery.headers, body=delivery.body, credentials=shop["credentials"]
    )
    event = TikTokProvider.parse_webhook(headers=delivery.headers, body=delivery.body)
    (order,) = provider.fetch_orders([event.order_id or ""])

    assert verified is True
    assert (event.topic, event.order_id, event.order, event.extra["order_status"]) == (
        "ORDER_STATUS_CHANGE",
        order_id,
        None,
        "AWAITING_SHIPMENT",
    )
    assert event.dedupe_key.isdigit()
    assert (order.data.channel_order_id, order.data.paid) == (order_id, True)
    assert not TikTokProvider.verify_webhook(
        headers=delivery.headers, body=delivery.body, credentials={**shop["credentials"], "app_secret": "other"}
    )
