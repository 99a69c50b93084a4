"""GraphQL answers of the wrong shape, from a real local server: every read and write of the
Shopify client raises a clear ProviderError (kept with its reason), never an AttributeError or
TypeError that would be logged as a bug of ours."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from channels_sync.providers.shopify.client import ShopifyClient
from channels_sync.providers.shopify.provider import ShopifyProvider
from integrations.errors import ProviderError
from integrations.tests.servers import answer, serving

# An order whose lines go on past the first page: its other lines are asked for.
MORE_LINES = {
    "id": "gid://shopify/Order/1",
    "lineItems": {"nodes": [], "pageInfo": {"hasNextPage": True, "endCursor": "c1"}},
}


def call_of(client: ShopifyClient, name: str) -> Callable[[], Any]:
    calls: dict[str, Callable[[], Any]] = {
        "complete_lines": lambda: client.complete_lines([json.loads(json.dumps(MORE_LINES))]),
        "fulfillment_orders": lambda: client.fulfillment_orders("1"),
        "orders_by_ids": lambda: client.orders_by_ids(["1"]),
        "fulfillment_create": lambda: client.fulfillment_create(
            fulfillment_order_id="gid://shopify/FulfillmentOrder/1", tracking_number="T1"
        ),
        "webhook_subscribe": lambda: client.webhook_subscribe(topic="orders/create", address="https://x.example/h"),
        "webhook_delete": lambda: client.webhook_delete("1"),
    }
    return calls[name]


# (the call, its answer's data, what the error names)
SHAPES = [
    ("complete_lines", {"order": []}, "an order that is not an object"),
    ("complete_lines", {"order": {"lineItems": [1]}}, "an order's lines that is not an object"),
    ("complete_lines", {"order": {"lineItems": {"nodes": 5}}}, "an order's lines that is not a list"),
    ("fulfillment_orders", {"order": []}, "an order that is not an object"),
    ("fulfillment_orders", {"order": {"fulfillmentOrders": []}}, "fulfillment orders that is not an object"),
    ("fulfillment_orders", {"order": {"fulfillmentOrders": {"nodes": 7}}}, "fulfillment orders that is not a list"),
    ("orders_by_ids", {"nodes": 3}, "an orders list that is not a list"),
    ("orders_by_ids", {"nodes": {"id": 1}}, "an orders list that is not a list"),
    ("fulfillment_create", {"fulfillmentCreate": []}, "a fulfillmentCreate result that is not an object"),
    ("fulfillment_create", {"fulfillmentCreate": {"userErrors": 1}}, "fulfillmentCreate.userErrors that is not a list"),
    (
        "webhook_subscribe",
        {"webhookSubscriptionCreate": {"userErrors": {"message": "taken"}}},
        "webhook subscription list that cannot be read",  # refused: it looks whether it exists
    ),
    ("webhook_delete", {"webhookSubscriptionDelete": ["gone"]}, "a webhookSubscriptionDelete result"),
    ("webhook_delete", {"webhookSubscriptionDelete": {"userErrors": 2}}, "webhookSubscriptionDelete.userErrors"),
]


@pytest.mark.parametrize(("call", "data", "said"), SHAPES)
def test_an_answer_of_the_wrong_shape_is_a_provider_error(call: str, data: dict[str, Any], said: str) -> None:
    with serving(answer(200, json.dumps({"data": data}).encode())) as server:
        client = ShopifyClient(server.url, access_token="shpat_x", max_attempts=1)
        with pytest.raises(ProviderError, match=said):
            call_of(client, call)()
    assert len(server.requests) >= 1


def test_user_errors_that_are_not_objects_still_refuse_the_write() -> None:
    # a list of strings is a refusal too, not a success with nothing readable in it
    body = json.dumps({"data": {"fulfillmentCreate": {"fulfillment": None, "userErrors": ["no such line"]}}})
    with serving(answer(200, body.encode())) as server:
        client = ShopifyClient(server.url, access_token="shpat_x", max_attempts=1)
        with pytest.raises(ProviderError, match="Shopify refused it: no such line"):
            call_of(client, "fulfillment_create")()


def test_an_orders_page_whose_nodes_are_not_a_list_is_a_provider_error() -> None:
    body = {"data": {"orders": {"nodes": 4, "pageInfo": {"hasNextPage": False}}}}
    with serving(answer(200, json.dumps(body).encode())) as server:
        provider = ShopifyProvider(base_url=server.url, credentials={"access_token": "shpat_x"}, max_attempts=1)
        with pytest.raises(ProviderError, match="an orders page that is not a list"):
            list(provider.iter_order_pages(updated_since=None))


def test_a_missing_order_is_still_said_as_such() -> None:
    with serving(answer(200, json.dumps({"data": {"order": None}}).encode())) as server:
        client = ShopifyClient(server.url, access_token="shpat_x", max_attempts=1)
        with pytest.raises(ProviderError, match="Shopify has no order 1"):
            client.fulfillment_orders("1")


def test_lines_whose_cursor_does_not_move_on_are_not_asked_for_forever() -> None:
    same = {"order": {"lineItems": {"nodes": [], "pageInfo": {"hasNextPage": True, "endCursor": "c1"}}}}
    with serving(*[answer(200, json.dumps({"data": same}).encode())] * 3) as server:
        client = ShopifyClient(server.url, access_token="shpat_x", max_attempts=1)
        with pytest.raises(ProviderError, match="does not move on"):
            call_of(client, "complete_lines")()
    assert len(server.requests) == 1


def test_refund_lines_whose_cursor_does_not_move_on_are_not_asked_for_forever() -> None:
    # a refund whose lines go on past the first page, and a server that answers the same page again
    refund = {
        "id": "gid://shopify/Refund/1",
        "refundLineItems": {"nodes": [], "pageInfo": {"hasNextPage": True, "endCursor": "c1"}},
    }
    same = {"node": {"refundLineItems": {"nodes": [], "pageInfo": {"hasNextPage": True, "endCursor": "c1"}}}}
    with serving(*[answer(200, json.dumps({"data": same}).encode())] * 3) as server:
        client = ShopifyClient(server.url, access_token="shpat_x", max_attempts=1)
        with pytest.raises(ProviderError, match="a refund's lines with a page cursor that does not move on"):
            client.complete_refund_lines(refund)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"node": None}, "a refund that is not an object"),
        ({"node": {"refundLineItems": {"nodes": 3}}}, "a refund's lines that is not a list"),
    ],
)
def test_a_refund_lines_page_of_the_wrong_shape_is_a_provider_error(data: dict[str, Any], said: str) -> None:
    refund = {
        "id": "gid://shopify/Refund/1",
        "refundLineItems": {"nodes": [], "pageInfo": {"hasNextPage": True, "endCursor": "c1"}},
    }
    with serving(answer(200, json.dumps({"data": data}).encode())) as server:
        client = ShopifyClient(server.url, access_token="shpat_x", max_attempts=1)
        with pytest.raises(ProviderError, match=said):
            client.complete_refund_lines(refund)
