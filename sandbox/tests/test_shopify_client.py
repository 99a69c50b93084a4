"""The official ShopifyAPI package (shopify_python_api) against the simulated shop, over real HTTP.

An app does ``ShopifyResource.activate_session(Session(shop, version, token))``; the library
then talks to ``https://<shop>.myshopify.com/admin/api/<version>``. Its Session only builds
that URL from a shop *hostname* (protocol https, domain myshopify.com), so it cannot express
``http://127.0.0.1:…/sandbox/shopify/<shop>``. The tests therefore activate the session
exactly as an app does and then replace only the site's base URL (``ShopifyResource.site``,
the library's own setting for it). Token header, paths, pagination and bodies are all the
library's own: unchanged but for the base URL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import shopify
from django.conf import settings

from channels_sync.providers.shopify import queries
from sandbox.tests.conftest import SANDBOX_LIVE_DB, Control

pytestmark = SANDBOX_LIVE_DB

VERSION = "2024-10"


@pytest.fixture
def shop(control: Control) -> dict[str, Any]:
    return control.account("shopify", "demo-shop")


@pytest.fixture
def shopify_app(shop: dict[str, Any]) -> Iterator[None]:
    session = shopify.Session("demo-shop.myshopify.com", VERSION, shop["credentials"]["access_token"])
    shopify.ShopifyResource.activate_session(session)
    shopify.ShopifyResource.site = session.site.replace("https://demo-shop.myshopify.com", shop["base_url"])
    yield
    shopify.ShopifyResource.clear_session()


@pytest.mark.usefixtures("shopify_app")
def test_official_client_lists_every_order_across_cursor_pages(control: Control) -> None:
    created = control.create_orders("shopify", "demo-shop", count=7, seed=11)

    first = shopify.Order.find(limit=3)
    second = first.next_page()
    third = second.next_page()

    pages = [[order.id for order in page] for page in (first, second, third)]
    newest_first = sorted((int(i) for i in created), reverse=True)
    assert pages == [newest_first[:3], newest_first[3:6], newest_first[6:]]
    assert (first.has_previous_page(), first.has_next_page()) == (False, True)
    assert (second.has_previous_page(), second.has_next_page()) == (True, True)
    assert (third.has_previous_page(), third.has_next_page()) == (True, False)
    assert [order.id for order in third.previous_page()] == pages[1]


@pytest.mark.usefixtures("shopify_app")
def test_official_client_reads_an_order_with_real_field_types(control: Control) -> None:
    [order_id] = control.create_orders("shopify", "demo-shop", count=1, seed=3)

    order = shopify.Order.find(int(order_id))

    assert order.id == int(order_id)
    assert (order.name, order.order_number, order.financial_status, order.fulfillment_status) == (
        "#1001",
        1001,
        "paid",
        None,
    )
    assert isinstance(order.total_price, str)
    assert order.created_at.endswith("-05:00") or order.created_at.endswith("-04:00")
    assert all(isinstance(line.id, int) and line.sku.startswith("ZP-") for line in order.line_items)
    assert shopify.Order.count() == 1


@pytest.mark.usefixtures("shopify_app")
def test_official_client_creates_a_fulfillment_with_tracking(control: Control) -> None:
    [order_id] = control.create_orders("shopify", "demo-shop", count=1, seed=5)
    [fulfillment_order] = shopify.FulfillmentOrders.find(order_id=int(order_id))

    # FulfillmentV2 is the library's class for POST /fulfillments.json (fulfillment-order based);
    # its older Fulfillment class posts to orders/<id>/fulfillments.json, gone since 2022-07.
    fulfillment = shopify.FulfillmentV2(
        {
            "message": "Shipped by the supplier",
            "notify_customer": False,
            "tracking_info": {"number": "1Z001985YW99744790", "company": "UPS"},
            "line_items_by_fulfillment_order": [{"fulfillment_order_id": fulfillment_order.id}],
        }
    )

    assert fulfillment.save() is True
    assert (fulfillment.status, fulfillment.tracking_number, fulfillment.tracking_company) == (
        "success",
        "1Z001985YW99744790",
        "UPS",
    )
    assert (
        fulfillment.tracking_url
        == "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z001985YW99744790"
    )
    order = shopify.Order.find(int(order_id))
    assert order.fulfillment_status == "fulfilled"
    assert [f.tracking_number for f in order.fulfillments] == ["1Z001985YW99744790"]
    assert shopify.FulfillmentOrders.find(order_id=int(order_id))[0].status == "closed"
    assert [(f["order_id"], f["tracking_number"], f["tracking_company"]) for f in control.fulfillments()] == [
        (order_id, "1Z001985YW99744790", "UPS")
    ]


@pytest.mark.usefixtures("shopify_app")
def test_official_client_cancels_an_order(control: Control) -> None:
    [order_id] = control.create_orders("shopify", "demo-shop", count=1, seed=8)
    order = shopify.Order.find(int(order_id))

    order.cancel(reason="customer")

    assert (order.cancel_reason, order.cancelled_at is not None) == ("customer", True)
    assert shopify.Order.find(status="open") == []
    assert [o.id for o in shopify.Order.find(status="cancelled")] == [int(order_id)]


@pytest.fixture
def graphql_app(shop: dict[str, Any]) -> Iterator[shopify.GraphQL]:
    """The official GraphQL client of a session at our API version, pointed at the sandbox."""
    session = shopify.Session(
        "demo-shop.myshopify.com", settings.SHOPIFY_API_VERSION, shop["credentials"]["access_token"]
    )
    shopify.ShopifyResource.activate_session(session)
    shopify.ShopifyResource.site = session.site.replace("https://demo-shop.myshopify.com", shop["base_url"])
    yield shopify.GraphQL()
    shopify.ShopifyResource.clear_session()


def test_official_graphql_client_runs_our_orders_queries_unchanged(control: Control, graphql_app: Any) -> None:
    created = control.create_orders("shopify", "demo-shop", count=3, seed=7)

    page = json.loads(graphql_app.execute(queries.ORDERS_PAGE, {"first": 2}))
    rest = json.loads(
        graphql_app.execute(queries.ORDERS_PAGE, {"first": 2, "after": page["data"]["orders"]["pageInfo"]["endCursor"]})
    )
    by_id = json.loads(graphql_app.execute(queries.ORDERS_BY_ID, {"ids": [f"gid://shopify/Order/{created[1]}"]}))

    listed = [node["id"] for answer in (page, rest) for node in answer["data"]["orders"]["nodes"]]
    assert listed == [f"gid://shopify/Order/{order_id}" for order_id in created]
    assert page["data"]["orders"]["pageInfo"]["hasNextPage"] is True
    assert rest["data"]["orders"]["pageInfo"]["hasNextPage"] is False
    assert by_id["data"]["nodes"][0]["name"] == "#1002"
    assert page["extensions"]["cost"]["requestedQueryCost"] == 2 + 2 * queries.ORDER_COST


def test_official_graphql_client_runs_our_fulfillment_queries_unchanged(control: Control, graphql_app: Any) -> None:
    [order_id] = control.create_orders("shopify", "demo-shop", count=1, seed=8)

    orders = json.loads(graphql_app.execute(queries.FULFILLMENT_ORDERS, {"id": f"gid://shopify/Order/{order_id}"}))
    [fulfillment_order] = orders["data"]["order"]["fulfillmentOrders"]["nodes"]
    made = json.loads(
        graphql_app.execute(
            queries.FULFILLMENT_CREATE,
            {
                "fulfillment": {
                    "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fulfillment_order["id"]}],
                    "trackingInfo": {"number": "9400100000000000000000", "company": "USPS"},
                }
            },
        )
    )

    payload = made["data"]["fulfillmentCreate"]
    assert (payload["userErrors"], payload["fulfillment"]["status"]) == ([], "SUCCESS")
    assert payload["fulfillment"]["trackingInfo"][0]["number"] == "9400100000000000000000"
    assert [row["tracking_number"] for row in control.fulfillments()] == ["9400100000000000000000"]
