"""The simulated Shopify Admin API over raw HTTP: auth, the leaky bucket, pagination rules, filters, errors."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from sandbox.models import ChannelOrder
from sandbox.tests.conftest import SANDBOX_LIVE_DB, Control

pytestmark = SANDBOX_LIVE_DB

INVALID_TOKEN = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


@pytest.fixture
def shop(control: Control) -> dict[str, Any]:
    return control.account("shopify", "api-shop")


@pytest.fixture
def api(shop: dict[str, Any]) -> requests.Session:
    session = requests.Session()
    session.headers["X-Shopify-Access-Token"] = shop["credentials"]["access_token"]
    return session


def url(shop: dict[str, Any], path: str) -> str:
    return f"{shop['base_url']}/admin/api/2024-10/{path}"


def next_page_info(response: requests.Response) -> str:
    return parse_qs(urlparse(response.links["next"]["url"]).query)["page_info"][0]


def test_a_bad_token_gets_shopifys_401(shop: dict[str, Any]) -> None:
    response = requests.get(url(shop, "orders.json"), headers={"X-Shopify-Access-Token": "shpat_wrong"}, timeout=5)

    assert (response.status_code, response.json()) == (401, INVALID_TOKEN)
    assert "X-Shopify-Shop-Api-Call-Limit" not in response.headers


def test_a_missing_token_gets_shopifys_401(shop: dict[str, Any]) -> None:
    response = requests.get(url(shop, "orders.json"), timeout=5)

    assert (response.status_code, response.json()) == (401, INVALID_TOKEN)


def test_shop_json_names_the_shop_as_its_webhooks_do(shop: dict[str, Any], api: requests.Session) -> None:
    """``myshopify_domain`` is what every webhook's X-Shopify-Shop-Domain carries."""
    response = api.get(url(shop, "shop.json"), timeout=5)

    assert response.status_code == 200
    body = response.json()["shop"]
    assert (body["name"], body["myshopify_domain"]) == ("api-shop", "api-shop.myshopify.com")
    assert "X-Shopify-Shop-Api-Call-Limit" in response.headers


def test_a_burst_fills_the_leaky_bucket_then_gets_429(
    control: Control, shop: dict[str, Any], api: requests.Session
) -> None:
    control.options("shopify", "api-shop", bucket_size=4, leak_rate=0.1)

    responses = [api.get(url(shop, "orders/count.json"), timeout=5) for _ in range(5)]

    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    assert [r.headers["X-Shopify-Shop-Api-Call-Limit"] for r in responses] == ["1/4", "2/4", "3/4", "4/4", "4/4"]
    assert responses[-1].headers["Retry-After"] == "2.0"
    assert responses[-1].json() == {
        "errors": "Exceeded 0.1 calls per second for api client. Reduce request rates to resume uninterrupted service."
    }


# Concurrent requests need a database with real concurrent transactions: the live server's
# threads share one in-memory SQLite connection, so this runs on PostgreSQL (CI requires it).
@pytest.mark.postgres
def test_concurrent_requests_share_one_bucket(control: Control, shop: dict[str, Any], api: requests.Session) -> None:
    control.options("shopify", "api-shop", bucket_size=5, leak_rate=0.01)
    headers = {"X-Shopify-Access-Token": shop["credentials"]["access_token"]}

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda _: requests.get(url(shop, "orders/count.json"), headers=headers, timeout=10).status_code,
                range(8),
            )
        )

    assert sorted(statuses) == [200] * 5 + [429] * 3  # the shop's row lock serialises the bucket


def test_the_bucket_leaks_over_time(control: Control, shop: dict[str, Any], api: requests.Session) -> None:
    control.options("shopify", "api-shop", bucket_size=2, leak_rate=20)
    assert [api.get(url(shop, "orders/count.json"), timeout=5).status_code for _ in range(2)] == [200, 200]

    time.sleep(0.2)  # 20 calls/s leak: the bucket is empty again

    assert api.get(url(shop, "orders/count.json"), timeout=5).headers["X-Shopify-Shop-Api-Call-Limit"] == "1/2"


def test_a_follow_up_page_request_may_not_carry_filters(
    control: Control, shop: dict[str, Any], api: requests.Session
) -> None:
    control.create_orders("shopify", "api-shop", count=3, seed=1)
    first = api.get(url(shop, "orders.json"), params={"limit": 2, "status": "any"}, timeout=5)

    response = api.get(
        url(shop, "orders.json"), params={"page_info": next_page_info(first), "status": "any"}, timeout=5
    )

    assert response.status_code == 400
    assert response.json() == {
        "errors": {
            "status": "status cannot be passed when page_info is present. "
            "See https://shopify.dev/api/usage/pagination-rest for more information."
        }
    }


def test_page_info_keeps_the_first_requests_filters(
    control: Control, shop: dict[str, Any], api: requests.Session
) -> None:
    ids = control.create_orders("shopify", "api-shop", count=5, seed=2)
    control.cancel_order("shopify", "api-shop", ids[0])
    first = api.get(url(shop, "orders.json"), params={"limit": 2, "status": "any", "fields": "id,name"}, timeout=5)

    second = api.get(url(shop, "orders.json"), params={"limit": 2, "page_info": next_page_info(first)}, timeout=5)
    third = api.get(first.links["next"]["url"].replace(next_page_info(first), next_page_info(second)), timeout=5)

    listed = [o["id"] for r in (first, second, third) for o in r.json()["orders"]]
    assert listed == sorted((int(i) for i in ids), reverse=True)  # the cancelled one too: status=any held
    assert first.json()["orders"][0].keys() == {"id", "name"}
    assert "next" not in third.links
    assert "previous" in third.links


def test_a_tampered_page_info_is_an_invalid_value(shop: dict[str, Any], api: requests.Session) -> None:
    response = api.get(url(shop, "orders.json"), params={"page_info": "not-a-cursor"}, timeout=5)

    assert (response.status_code, response.json()) == (400, {"errors": {"page_info": "Invalid value."}})


def test_filters_status_since_id_and_updated_at(control: Control, shop: dict[str, Any], api: requests.Session) -> None:
    ids = control.create_orders("shopify", "api-shop", count=4, seed=3)
    control.cancel_order("shopify", "api-shop", ids[1])
    ChannelOrder.objects.filter(external_id=ids[3]).update(updated_at="2030-01-01T00:00:00Z")

    def listed(**params: Any) -> list[str]:
        response = api.get(url(shop, "orders.json"), params=params, timeout=5)
        assert response.status_code == 200, response.text
        return [str(o["id"]) for o in response.json()["orders"]]

    assert listed() == [ids[3], ids[2], ids[0]]  # open by default, newest first
    assert listed(status="cancelled") == [ids[1]]
    assert listed(status="any", since_id=ids[1]) == [ids[2], ids[3]]  # since_id: by id ascending
    assert listed(status="any", updated_at_min="2029-12-31T19:00:00-05:00") == [ids[3]]
    assert listed(status="any", financial_status="refunded") == [ids[1]]
    count = api.get(url(shop, "orders/count.json"), params={"status": "any"}, timeout=5)
    assert count.json() == {"count": 4}


def test_limit_over_250_is_capped_and_a_bad_limit_is_refused(shop: dict[str, Any], api: requests.Session) -> None:
    assert api.get(url(shop, "orders.json"), params={"limit": 999}, timeout=5).status_code == 200

    response = api.get(url(shop, "orders.json"), params={"limit": "many"}, timeout=5)

    assert (response.status_code, response.json()) == (400, {"errors": {"limit": "Invalid value."}})


def test_unknown_order_shop_and_endpoint_get_shopifys_404(shop: dict[str, Any], api: requests.Session) -> None:
    unknown_order = api.get(url(shop, "orders/12345.json"), timeout=5)
    unknown_endpoint = api.get(url(shop, "nothing-here.json"), timeout=5)
    unknown_shop = api.get(url(shop, "orders.json").replace("api-shop", "no-such-shop"), timeout=5)

    assert [(r.status_code, r.json()) for r in (unknown_order, unknown_endpoint, unknown_shop)] == [
        (404, {"errors": "Not Found"})
    ] * 3


def test_malformed_or_incomplete_fulfillment_bodies_get_400(shop: dict[str, Any], api: requests.Session) -> None:
    expected = (400, {"errors": {"fulfillment": "Required parameter missing or invalid"}})
    malformed = api.post(url(shop, "fulfillments.json"), data=b'{"fulfillment": {', timeout=5)
    missing_root = api.post(url(shop, "fulfillments.json"), json={"tracking_info": {}}, timeout=5)
    missing_lines = api.post(url(shop, "fulfillments.json"), json={"fulfillment": {"tracking_info": {}}}, timeout=5)

    assert [(r.status_code, r.json()) for r in (malformed, missing_root, missing_lines)] == [expected] * 3


def test_fulfilling_an_unknown_fulfillment_order_is_404(shop: dict[str, Any], api: requests.Session) -> None:
    body = {"fulfillment": {"line_items_by_fulfillment_order": [{"fulfillment_order_id": 99}]}}

    response = api.post(url(shop, "fulfillments.json"), json=body, timeout=5)

    assert (response.status_code, response.json()) == (404, {"errors": "Not Found"})
    assert not ChannelOrder.objects.filter(fulfillments__isnull=False).exists()


def test_a_partial_fulfillment_then_the_rest(control: Control, shop: dict[str, Any], api: requests.Session) -> None:
    [order_id] = control.create_orders("shopify", "api-shop", count=1, seed=21)  # seed 21: two lines
    [fo] = api.get(url(shop, f"orders/{order_id}/fulfillment_orders.json"), timeout=5).json()["fulfillment_orders"]
    assert len(fo["line_items"]) >= 2
    first_line = fo["line_items"][0]
    body = {
        "line_items_by_fulfillment_order": [
            {
                "fulfillment_order_id": fo["id"],
                "fulfillment_order_line_items": [{"id": first_line["id"], "quantity": 1}],
            }
        ],
        "tracking_info": {"number": "LP00123456789CN", "company": "Cainiao"},
    }

    partial = api.post(url(shop, "fulfillments.json"), json={"fulfillment": body}, timeout=5)
    too_many = api.post(url(shop, "fulfillments.json"), json={"fulfillment": {**body, "tracking_info": {}}}, timeout=5)
    rest = {"line_items_by_fulfillment_order": [{"fulfillment_order_id": fo["id"]}], "tracking_info": {"number": "YT1"}}
    if first_line["quantity"] == 1:
        too_many = api.post(url(shop, "fulfillments.json"), json={"fulfillment": body}, timeout=5)
    complete = api.post(url(shop, "fulfillments.json"), json={"fulfillment": rest}, timeout=5)
    again = api.post(url(shop, "fulfillments.json"), json={"fulfillment": rest}, timeout=5)

    assert partial.status_code == 201
    assert partial.json()["fulfillment"]["name"].endswith(".1")
    assert too_many.status_code in (201, 422)
    assert complete.status_code == 201
    assert (again.status_code, again.json()) == (
        422,
        {"errors": [f"Fulfillment order {fo['id']} has an unfulfillable status= closed."]},
    )
    order = api.get(url(shop, f"orders/{order_id}.json"), timeout=5).json()["order"]
    assert order["fulfillment_status"] == "fulfilled"
    assert all(line["fulfillable_quantity"] == 0 for line in order["line_items"])


def test_cancelling_twice_is_refused(control: Control, shop: dict[str, Any], api: requests.Session) -> None:
    [order_id] = control.create_orders("shopify", "api-shop", count=1, seed=4)

    first = api.post(
        url(shop, f"orders/{order_id}/cancel.json"), json={"reason": "inventory", "refund": True}, timeout=5
    )
    second = api.post(url(shop, f"orders/{order_id}/cancel.json"), timeout=5)

    assert first.status_code == 200
    order = first.json()["order"]
    assert (order["cancel_reason"], order["financial_status"], order["closed_at"] is not None) == (
        "inventory",
        "refunded",
        True,
    )
    assert (second.status_code, second.json()) == (422, {"errors": {"base": ["Order has already been cancelled"]}})
