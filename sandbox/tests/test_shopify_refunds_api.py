"""The simulated Shopify's refunds over raw HTTP, REST and GraphQL side by side: the same
transactions in both (a pending one included), ``first``/``after``/``pageInfo`` on a refund's lines
and ``first`` on an order's refunds, a refund found by its gid, a multi-currency order's money in
shop and presentment currency, and the requested cost as the order center counts it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import requests

from sandbox.models import ChannelOrder, SimAccount
from sandbox.providers.shopify.orders import orders_create
from sandbox.tests.conftest import SANDBOX_LIVE_DB, Control

pytestmark = SANDBOX_LIVE_DB

SHOP = "refund-api-shop"

REFUNDS = """
query Refunds($id: ID!, $first: Int, $lines: Int!, $after: String) {
  order(id: $id) {
    presentmentCurrencyCode
    totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
    refunds(first: $first) {
      id
      totalRefundedSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
      refundLineItems(first: $lines, after: $after) {
        nodes { quantity lineItem { id } subtotalSet { shopMoney { amount currencyCode } } }
        pageInfo { hasNextPage endCursor }
      }
      transactions(first: 5) { nodes { kind status amountSet { presentmentMoney { amount currencyCode } } } }
    }
  }
}
"""

REFUND_LINES = """
query RefundLines($id: ID!, $after: String) {
  node(id: $id) {
    ... on Refund { refundLineItems(first: 1, after: $after) { nodes { quantity } pageInfo { hasNextPage endCursor } } }
  }
}
"""


@pytest.fixture
def shop(control: Control) -> dict[str, Any]:
    return control.account("shopify", SHOP)


@pytest.fixture
def api(shop: dict[str, Any]) -> requests.Session:
    session = requests.Session()
    session.headers["X-Shopify-Access-Token"] = shop["credentials"]["access_token"]
    return session


def url(shop: dict[str, Any], path: str) -> str:
    return f"{shop['base_url']}/admin/api/2024-10/{path}"


def graphql(api: requests.Session, shop: dict[str, Any], query: str, **variables: Any) -> dict[str, Any]:
    response = api.post(url(shop, "graphql.json"), json={"query": query, "variables": variables}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body


def order_with_lines(control: Control, count: int, **fields: Any) -> ChannelOrder:
    for seed in range(1, 500):
        order_id = control.create_orders("shopify", SHOP, count=1, seed=seed, **fields)[0]
        order = ChannelOrder.objects.get(account__name=SHOP, external_id=order_id)
        if len(order.lines) == count:
            return order
    raise AssertionError(f"no sandbox order with {count} lines")


def test_rest_and_graphql_render_the_same_refund_transactions_a_pending_one_included(
    control: Control, shop: dict[str, Any], api: requests.Session
) -> None:
    order = order_with_lines(control, 1)
    line = order.lines[0]
    control.refund_order("shopify", SHOP, order.external_id, lines=[{"line_id": line["id"], "quantity": 1}])
    control.refund_order("shopify", SHOP, order.external_id, amount="1.00", status="pending")

    rest = api.get(url(shop, f"orders/{order.external_id}.json"), timeout=10).json()["order"]["refunds"]
    data = graphql(api, shop, REFUNDS, id=f"gid://shopify/Order/{order.external_id}", lines=5)["data"]["order"]

    assert [[(t["kind"], t["status"]) for t in refund["transactions"]] for refund in rest] == [
        [("refund", "success")],
        [("refund", "pending")],
    ]
    assert [[(t["kind"], t["status"]) for t in r["transactions"]["nodes"]] for r in data["refunds"]] == [
        [("REFUND", "SUCCESS")],
        [("REFUND", "PENDING")],
    ]
    # what was returned: the successful refund's money, nothing yet of the pending one
    totals = [refund["totalRefundedSet"]["shopMoney"]["amount"] for refund in data["refunds"]]
    assert totals == [f"{Decimal(line['price']):.2f}", "0.00"]


def test_a_bad_refund_status_is_refused(control: Control, shop: dict[str, Any]) -> None:
    order = order_with_lines(control, 1)
    response = requests.post(
        f"{control.base}/shopify/{SHOP}/orders/{order.external_id}/refund",
        json={"amount": "1.00", "status": "maybe"},
        timeout=10,
    )
    assert response.status_code == 409
    assert "status must be one of" in response.json()["error"]


def test_refund_lines_page_by_first_and_after_and_a_refund_is_found_by_its_gid(
    control: Control, shop: dict[str, Any], api: requests.Session
) -> None:
    order = order_with_lines(control, 3)
    lines = [{"line_id": line["id"], "quantity": 1} for line in order.lines]
    control.refund_order("shopify", SHOP, order.external_id, lines=lines)
    control.refund_order("shopify", SHOP, order.external_id, amount="1.00")
    gid = f"gid://shopify/Order/{order.external_id}"

    # Order.refunds honours first (a list: no cursor), refundLineItems first and pageInfo
    [refund] = graphql(api, shop, REFUNDS, id=gid, first=1, lines=2)["data"]["order"]["refunds"]
    page = refund["refundLineItems"]
    assert len(page["nodes"]) == 2
    assert page["pageInfo"]["hasNextPage"] is True

    # the rest, by the refund's gid and the page's cursor
    body = graphql(api, shop, REFUND_LINES, id=refund["id"], after=page["pageInfo"]["endCursor"])
    rest = body["data"]["node"]["refundLineItems"]
    assert (len(rest["nodes"]), rest["pageInfo"]["hasNextPage"]) == (1, False)
    # the requested cost as Shopify counts it: node 1 + connection 2 + 1 × item 1
    assert body["extensions"]["cost"]["requestedQueryCost"] == 4
    assert graphql(api, shop, REFUND_LINES, id="gid://shopify/Refund/1")["data"]["node"] is None


def test_a_multi_currency_order_has_its_refunds_in_shop_and_presentment_money(
    control: Control, shop: dict[str, Any], api: requests.Session
) -> None:
    order = order_with_lines(control, 1, presentment_currency="EUR", presentment_rate="0.9")
    line = order.lines[0]
    control.refund_order("shopify", SHOP, order.external_id, lines=[{"line_id": line["id"], "quantity": 1}])
    price = Decimal(line["price"])
    customer_price = (price * Decimal("0.9")).quantize(Decimal("0.01"))

    rest = api.get(url(shop, f"orders/{order.external_id}.json"), timeout=10).json()["order"]
    assert (rest["currency"], rest["presentment_currency"]) == ("USD", "EUR")
    [refund] = rest["refunds"]
    assert (refund["transactions"][0]["currency"], refund["transactions"][0]["amount"]) == ("EUR", f"{customer_price}")
    assert refund["refund_line_items"][0]["subtotal_set"] == {
        "shop_money": {"amount": f"{price:.2f}", "currency_code": "USD"},
        "presentment_money": {"amount": f"{customer_price}", "currency_code": "EUR"},
    }

    data = graphql(api, shop, REFUNDS, id=f"gid://shopify/Order/{order.external_id}", lines=5)["data"]["order"]
    assert data["presentmentCurrencyCode"] == "EUR"
    [node] = data["refunds"]
    assert node["totalRefundedSet"] == {
        "shopMoney": {"amount": f"{price:.2f}", "currencyCode": "USD"},
        "presentmentMoney": {"amount": f"{customer_price}", "currencyCode": "EUR"},
    }


def test_an_order_of_the_shop_s_own_currency_is_unchanged(control: Control, shop: dict[str, Any]) -> None:
    order = order_with_lines(control, 1)
    assert "presentment_currency" not in order.extra


def test_a_bad_presentment_currency_is_refused(control: Control, shop: dict[str, Any]) -> None:
    account = SimAccount.objects.get(name=SHOP)
    with pytest.raises(ValueError, match="presentment_currency must be three capital letters"):
        orders_create(account, count=1, seed=1, presentment_currency="euro")
