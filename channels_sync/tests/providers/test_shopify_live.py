"""The Shopify provider (GraphQL Admin API) against the sandbox over real HTTP: pages, filters, faults,
the cost bucket, webhooks, fulfillments, and one order read by GraphQL and by its REST webhook body."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
import requests
from django.conf import settings

from channels_sync.providers.base import provider_for
from channels_sync.providers.shopify import queries
from channels_sync.providers.shopify.client import ShopifyClient
from channels_sync.providers.shopify.mapping import order_from_json
from channels_sync.providers.shopify.provider import ShopifyProvider
from integrations.errors import CredentialsError, ProviderError
from sandbox.models import ChannelOrder as SimOrder
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
    assert [a.path.rsplit("/", 1)[-1] for a in provider.attempts] == ["graphql.json"] * 3
    assert provider.attempts[0].path == f"/sandbox/shopify/{SHOP}/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"


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


def test_a_pull_under_a_small_cost_bucket_waits_instead_of_being_throttled(control: Any, shop: dict[str, Any]) -> None:
    """Pacing: before each page the client waits just until the projected points cover the page's
    requested cost, so no answer is THROTTLED. The first page, before the bucket is known, is
    small; the others are as large as the single-query cap allows (this bucket restores fast)."""
    control.options("shopify", SHOP, graphql_bucket_size=1000, graphql_restore_rate=500)
    created = control.create_orders("shopify", SHOP, count=150, seed=21)
    client = ShopifyClient(shop["base_url"], access_token=shop["credentials"]["access_token"])

    pages = list(client.order_pages(updated_since=None, first=250))

    # 3: what 3/4 of Standard's 2 s restore pays at 39 points an order; 25: the most under the 1000 cap
    assert [len(page["nodes"]) for page in pages] == [3, 25, 25, 25, 25, 25, 22]
    assert sorted(gid.rsplit("/", 1)[1] for page in pages for gid in (n["id"] for n in page["nodes"])) == sorted(
        created
    )
    ledger = client.ledger
    assert (ledger.calls, ledger.throttled) == (7, 0)
    assert all(a.status == 200 and not a.error for a in client.attempts)
    assert [spend.requested for spend in ledger.spends] == [2 + 3 * 39] + [977] * 6
    assert ledger.waits  # the bucket ran low: it waited rather than be throttled
    assert max(ledger.waits) <= settings.OUTBOUND_MAX_INLINE_WAIT
    assert sum(ledger.waits) * 500 <= ledger.points  # never longer than restoring what was spent
    assert (client.bucket.maximum, client.bucket.restore_rate) == (1000, 500)


def test_a_throttled_answer_is_retried_after_the_wait_its_bucket_implies(control: Any, shop: dict[str, Any]) -> None:
    control.options("shopify", SHOP, graphql_bucket_size=1000, graphql_restore_rate=100)
    # another worker of the same app has just spent the whole bucket
    control.options("shopify", SHOP, cost_bucket={"available": 0, "at": time.time()})
    sleeps = Sleeps(cap=2.0)
    # this worker has not seen the bucket: it sends its first (small) page at once
    client = ShopifyClient(shop["base_url"], access_token=shop["credentials"]["access_token"], sleep=sleeps)

    page = next(client.order_pages(updated_since=None, first=25))

    assert page["nodes"] == []
    assert [a.status for a in client.attempts] == [200, 200]
    assert "throttled" in client.attempts[0].error.lower()
    assert client.ledger.throttled == 1
    assert len(sleeps.asked) == 1
    # At most (119 requested for 3 orders - 0) / 100 per second; less by what was restored while
    # the first answer came back (real time: a slow machine restores more meanwhile, so no lower
    # bound but above zero).
    assert 0 < sleeps.asked[0] <= 1.19


def test_a_query_above_the_single_query_cap_is_a_clear_error(shop: dict[str, Any]) -> None:
    client = ShopifyClient(shop["base_url"], access_token=shop["credentials"]["access_token"])

    with pytest.raises(ProviderError) as caught:
        client.query(queries.ORDERS_PAGE, {"first": 26})  # 2 + 26 × 39 = 1016

    assert str(caught.value) == (
        "Shopify refused the request: Query cost is 1016, which exceeds the single query max cost limit (1000)."
    )
    assert caught.value.retryable is False
    assert len(client.attempts) == 1


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
    assert [(a.status, a.path.endswith("/graphql.json")) for a in provider.attempts] == [(401, True)]


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

    assert (
        topics
        == again
        == [
            "orders/create",
            "orders/updated",
            "orders/paid",
            "orders/cancelled",
            "refunds/create",
            "app/uninstalled",
        ]
    )
    assert len(provider.client.webhook_subscriptions()) == 6
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


def test_one_order_read_by_graphql_and_by_its_rest_body_maps_to_the_same_order(
    control: Any, shop: dict[str, Any], provider: ShopifyProvider
) -> None:
    """A pulled order (GraphQL) and the same order's webhook body (REST JSON) give equal OrderData."""
    attributes = [{"name": "TikTok Order ID", "value": "576460752303423999"}]
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=17, note_attributes=attributes, tags="a, b")
    control.cancel_order("shopify", SHOP, order_id)
    rest = requests.get(
        f"{shop['base_url']}/admin/api/2024-10/orders/{order_id}.json",
        headers={"X-Shopify-Access-Token": shop["credentials"]["access_token"]},
        timeout=10,
    ).json()["order"]

    (pulled,) = provider.fetch_orders([order_id])

    assert pulled == order_from_json(rest)
    assert (pulled.purchase_ids, pulled.data.canceled, pulled.data.paid) == (("576460752303423999",), True, True)


def test_an_order_with_more_lines_than_one_query_asks_for_gets_them_all(
    control: Any, provider: ShopifyProvider
) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=18)
    row = SimOrder.objects.get(external_id=order_id)  # the sandbox draws 1-3 lines: widen this one to 23
    row.lines = [{**row.lines[0], "id": row.lines[0]["id"] * 100 + n, "sku": f"ZP-{n}"} for n in range(23)]
    row.save(update_fields=["lines"])

    (page,) = list(provider.iter_order_pages(updated_since=None))
    (fetched,) = provider.fetch_orders([order_id])

    assert [line.sku for line in page.orders[0].data.lines] == [f"ZP-{n}" for n in range(23)]
    assert fetched == page.orders[0]
    assert len(provider.attempts) == 4  # each read: the orders, then the 13 lines left in one more query


def test_fulfillment_orders_and_a_fulfillment_with_tracking(control: Any, provider: ShopifyProvider) -> None:
    (order_id,) = control.create_orders("shopify", SHOP, count=1, seed=19)

    (fulfillment_order,) = provider.fulfillment_orders(order_id)
    made = provider.fulfillment_create(
        fulfillment_order_id=fulfillment_order["id"], tracking_number="1Z999", tracking_company="UPS"
    )
    (after,) = provider.fulfillment_orders(order_id)

    assert fulfillment_order["status"] == "OPEN"
    assert made["status"] == "SUCCESS"
    assert made["trackingInfo"] == [
        {
            "company": "UPS",
            "number": "1Z999",
            "url": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z999",
        }
    ]
    assert after["status"] == "CLOSED"
    assert [f["tracking_number"] for f in control.fulfillments()] == ["1Z999"]  # the row REST lists too
    with pytest.raises(ProviderError, match="has an unfulfillable status= closed"):
        provider.fulfillment_create(fulfillment_order_id=fulfillment_order["id"], tracking_number="1Z000")
    with pytest.raises(ProviderError, match="Fulfillment order does not exist"):
        provider.fulfillment_create(fulfillment_order_id="gid://shopify/FulfillmentOrder/1", tracking_number="1Z000")
    assert len(control.fulfillments()) == 1
