"""Simulated TikTok Shop over real HTTP: signatures, envelopes, pagination, shipping, webhooks, twins.

The client below signs requests with its own few lines (not the sandbox's function), as a real
client would; the fixed vectors pin the sandbox's signing functions to independently computed values.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import requests

from sandbox.models import ChannelOrder
from sandbox.providers.tiktok.signing import request_sign, webhook_authorization
from sandbox.webhooks import deliveries_send_due


def test_request_sign_matches_the_fixed_vector() -> None:
    params = {
        "app_key": "6a1b2c3d4e5f6",
        "timestamp": "1700000000",
        "shop_cipher": "ROW_abc",
        "page_size": "10",
        "sign": "ignored",
        "access_token": "ignored",
    }

    sign = request_sign(
        app_secret="tt-secret",
        path="/order/202309/orders/search",
        params=params,
        body='{"order_status":"AWAITING_SHIPMENT"}',
    )

    assert sign == "d29351920e08f612570a166b3bb4c628f9790b451d9e25cc5b651cfd9acdfad1"


def test_webhook_authorization_matches_the_fixed_vector() -> None:
    body = b'{"type":1,"data":{"order_id":"576461413038785752","order_status":"AWAITING_SHIPMENT"}}'

    signature = webhook_authorization(app_key="6a1b2c3d4e5f6", app_secret="tt-secret", body=body)

    assert signature == "afcdb1346f1aee07bdcbff21798f18fa03607ef7dd4b1869e488aaaada8babb1"


class TikTok:
    """A minimal signed client, written from the reference, independent of the sandbox."""

    def __init__(self, account: dict[str, Any]) -> None:
        self.base, self.credentials = account["base_url"], account["credentials"]

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None, **tweak: Any) -> Any:
        creds = self.credentials
        query = {"app_key": creds["app_key"], "timestamp": str(int(time.time())), "shop_cipher": creds["shop_cipher"]}
        query.update({k: str(v) for k, v in (params or {}).items()})
        raw = tweak.get("raw", json.dumps(body) if body is not None else "")
        secret = creds["app_secret"]
        text = secret + path + "".join(f"{k}{query[k]}" for k in sorted(query)) + raw + secret
        query["sign"] = tweak.get("sign", hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest())
        headers = {"Content-Type": "application/json", "x-tts-access-token": tweak.get("token", creds["access_token"])}
        response = requests.request(
            method, self.base + path, params=query, data=raw or None, headers=headers, timeout=10
        )
        return response.status_code, response.json()


@pytest.fixture
def shop(control: Any) -> dict[str, Any]:
    return control.account("tiktok", "tt-shop")


def test_order_search_pages_with_tokens_and_uses_tiktok_types(control: Any, shop: dict[str, Any]) -> None:
    created = control.create_orders("tiktok", "tt-shop", count=5, seed=7)
    client = TikTok(shop)

    pages, token = [], ""
    while True:
        params = {
            "page_size": 2,
            "sort_field": "create_time",
            "sort_order": "ASC",
            **({"page_token": token} if token else {}),
        }
        status, body = client.call("POST", "/order/202309/orders/search", params, {"order_status": "AWAITING_SHIPMENT"})
        assert (status, body["code"], body["message"]) == (200, 0, "Success")
        pages.append(body["data"])
        token = body["data"]["next_page_token"]
        if not token:
            break

    assert [len(p["orders"]) for p in pages] == [2, 2, 1]
    assert {p["total_count"] for p in pages} == {5}
    assert sorted(o["id"] for p in pages for o in p["orders"]) == sorted(created)
    order = pages[0]["orders"][0]
    assert isinstance(order["id"], str)
    assert isinstance(order["create_time"], int)
    assert isinstance(order["payment"]["total_amount"], str)
    assert order["status"] == "AWAITING_SHIPMENT"
    assert all("quantity" not in line and isinstance(line["sale_price"], str) for line in order["line_items"])
    row = ChannelOrder.objects.get(external_id=order["id"])
    assert len(order["line_items"]) == sum(line["quantity"] for line in row.lines)
    _, detail = client.call("GET", "/order/202309/orders", {"ids": ",".join(created[:2])})
    assert [o["id"] for o in detail["data"]["orders"]] == created[:2]


@pytest.mark.parametrize(
    ("tweak", "status", "code"),
    [({"sign": "0" * 64}, 401, 106001), ({"token": "ROW_wrong"}, 401, 105001)],
)
def test_bad_sign_or_token_gets_tiktoks_error(
    shop: dict[str, Any], tweak: dict[str, str], status: int, code: int
) -> None:
    got_status, body = TikTok(shop).call("POST", "/order/202309/orders/search", {"page_size": 10}, {}, **tweak)

    assert got_status == status
    assert body["code"] == code
    assert body["data"] is None
    assert body["request_id"]
    assert body["message"]


def test_bad_input_and_faults_get_tiktoks_error_shape(control: Any, shop: dict[str, Any]) -> None:
    client = TikTok(shop)
    bad_key = TikTok({**shop, "credentials": {**shop["credentials"], "app_key": "6nope"}})

    status_key, body_key = bad_key.call("POST", "/order/202309/orders/search", {"page_size": 10}, {})
    status_json, body_json = client.call(
        "POST", "/order/202309/orders/search", {"page_size": 10}, raw='{"order_status": '
    )
    status_size, body_size = client.call("POST", "/order/202309/orders/search", {}, {})
    control.faults({"tiktok": {"http_429": 1.0}})
    status_429, body_429 = client.call("POST", "/order/202309/orders/search", {"page_size": 10}, {})

    assert (status_key, body_key["code"]) == (400, 36009004)
    assert (status_json, body_json["code"]) == (400, 36009004)
    assert (status_size, body_size["code"]) == (400, 36009004)
    assert (status_429, body_429["code"], body_429["data"]) == (429, 36009003, None)


def test_ship_package_moves_order_in_transit_and_records_the_fulfillment(control: Any, shop: dict[str, Any]) -> None:
    (order_id,) = control.create_orders("tiktok", "tt-shop", count=1, seed=11)
    client = TikTok(shop)
    _, detail = client.call("GET", "/order/202309/orders", {"ids": order_id})
    package_id = detail["data"]["orders"][0]["packages"][0]["id"]
    _, providers = client.call("GET", "/logistics/202309/delivery_options/7091146663229654785/shipping_providers")
    usps = next(p["id"] for p in providers["data"]["shipping_providers"] if p["name"] == "USPS")
    ship = {"self_shipment": {"tracking_number": "9400111899223197428490", "shipping_provider_id": usps}}

    status, body = client.call("POST", f"/fulfillment/202309/packages/{package_id}/ship", body=ship)
    _, again = client.call("POST", f"/fulfillment/202309/packages/{package_id}/ship", body=ship)
    _, after = client.call("GET", "/order/202309/orders", {"ids": order_id})

    assert (status, body["code"]) == (200, 0)
    assert again["code"] == 21011002
    shipped = after["data"]["orders"][0]
    assert shipped["status"] == "IN_TRANSIT"
    assert shipped["tracking_number"] == "9400111899223197428490"
    assert [(f["order_id"], f["tracking_number"], f["tracking_company"]) for f in control.fulfillments()] == [
        (order_id, "9400111899223197428490", "USPS")
    ]


def test_a_cancelled_orders_package_is_not_shippable(control: Any, shop: dict[str, Any]) -> None:
    (order_id,) = control.create_orders("tiktok", "tt-shop", count=1, seed=12)
    client = TikTok(shop)
    _, detail = client.call("GET", "/order/202309/orders", {"ids": order_id})
    package_id = detail["data"]["orders"][0]["packages"][0]["id"]
    control.cancel_order("tiktok", "tt-shop", order_id, reason="Changed my mind")
    ship = {
        "self_shipment": {"tracking_number": "9400111899223197428491", "shipping_provider_id": "6617675021119438849"}
    }

    _, body = client.call("POST", f"/fulfillment/202309/packages/{package_id}/ship", body=ship)

    assert (body["code"], body["message"]) == (21011003, "The order status CANCELLED does not allow shipping.")
    assert control.fulfillments() == []


def test_status_change_webhook_is_signed_like_tiktok(control: Any, shop: dict[str, Any], webhook_receiver: Any) -> None:
    control._call("POST", "tiktok/tt-shop/webhook", (200,), {"url": webhook_receiver.url + "/tiktok"})

    (order_id,) = control.create_orders("tiktok", "tt-shop", count=1, seed=5)
    cancelled = control.cancel_order("tiktok", "tt-shop", order_id, reason="Changed my mind")
    deliveries_send_due()

    received = webhook_receiver.wait_for(2)
    creds = shop["credentials"]
    for delivery in received:
        expected = hmac.new(creds["app_secret"].encode(), creds["app_key"].encode() + delivery.body, hashlib.sha256)
        assert delivery.headers["authorization"] == expected.hexdigest()
    payloads = sorted((json.loads(d.body) for d in received), key=lambda p: p["data"]["order_status"])
    assert [p["data"]["order_status"] for p in payloads] == ["AWAITING_SHIPMENT", "CANCELLED"]
    assert {(p["type"], p["shop_id"], p["data"]["order_id"]) for p in payloads} == {(1, creds["shop_id"], order_id)}
    assert cancelled["status"] == "CANCELLED"


def test_orders_can_also_appear_in_a_linked_shopify_shop(control: Any, shop: dict[str, Any]) -> None:
    control.account("shopify", "twin-shop")

    ids = control.create_orders("tiktok", "tt-shop", count=2, seed=9, also_in_shopify="twin-shop")

    twins = ChannelOrder.objects.filter(account__provider="shopify", account__name="twin-shop").order_by("id")
    assert [t.linked_purchase_id for t in twins] == ids
    assert [t.extra["note_attributes"] for t in twins] == [[{"name": "tiktok_order_id", "value": i}] for i in ids]
    tiktok = {o.external_id: o for o in ChannelOrder.objects.filter(external_id__in=ids)}
    for twin in twins:
        source = tiktok[twin.linked_purchase_id]
        assert (twin.total, twin.address, twin.extra["source_name"]) == (source.total, source.address, "tiktok")
