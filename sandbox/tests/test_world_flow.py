"""One purchase through the whole simulated world, seen through each provider's API (Django test client).

TikTok order → placed and paid at AliExpress → shipped by the supplier → tracked by 17TRACK →
pushed back to TikTok with the tracking number → delivered by the carrier → TikTok DELIVERED.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from sandbox.clock import clock_set, sim_now
from sandbox.models import ChannelOrder, Parcel, SimAccount
from sandbox.providers.tiktok import orders as tiktok_orders
from sandbox.registry import PROVIDERS
from sandbox.world import world_tick

ADDRESS = {
    "address": "1 Main St",
    "city": "Austin",
    "province": "Texas",
    "country": "US",
    "zip": "78701",
    "full_name": "A B",
}


def _account(provider: str, name: str) -> SimAccount:
    return SimAccount.objects.create(
        provider=provider, name=name, credentials=PROVIDERS[provider].make_credentials(name)
    )


def _ae(client: Client, account: SimAccount, method: str, **business: Any) -> dict[str, Any]:
    creds = account.credentials
    params = {
        "method": method,
        "app_key": creds["app_key"],
        "timestamp": str(int(time.time() * 1000)),
        "sign_method": "sha256",
        "access_token": creds["access_token"],
        **{k: json.dumps(v) if not isinstance(v, str) else v for k, v in business.items()},
    }
    text = "".join(f"{k}{params[k]}" for k in sorted(params))
    params["sign"] = hmac.new(creds["app_secret"].encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    body = client.post("/sandbox/aliexpress/sync", params).json()
    return body[method.replace(".", "_") + "_response"]["result"]


def _tiktok(client: Client, account: SimAccount, method: str, path: str, body: Any = None, **params: Any) -> Any:
    creds = account.credentials
    query = {"app_key": creds["app_key"], "timestamp": str(int(time.time())), "shop_cipher": creds["shop_cipher"]}
    query.update({k: str(v) for k, v in params.items()})
    raw = json.dumps(body) if body is not None else ""
    text = creds["app_secret"] + path + "".join(f"{k}{query[k]}" for k in sorted(query)) + raw + creds["app_secret"]
    query["sign"] = hmac.new(creds["app_secret"].encode(), text.encode(), hashlib.sha256).hexdigest()
    url = "/sandbox/tiktok" + path + "?" + "&".join(f"{k}={v}" for k, v in query.items())
    headers = {"x-tts-access-token": creds["access_token"]}
    if method == "GET":
        return client.get(url, headers=headers).json()["data"]
    return client.post(url, raw, content_type="application/json", headers=headers).json()


@pytest.mark.django_db
def test_a_purchase_travels_from_tiktok_through_aliexpress_and_17track_back_to_tiktok() -> None:
    clock_set(seed=11)
    client = Client()
    shop, buyer, tracker = (
        _account("tiktok", "flow-shop"),
        _account("aliexpress", "flow-ae"),
        _account("17track", "flow-17"),
    )
    shop.options = {"orders_per_hour": 0}  # only the one purchase below
    shop.save()
    (tiktok_id,) = tiktok_orders.create_orders(shop, count=1, seed=1)
    placed = []
    for n in range(6):  # a few orders, so at least one parcel reaches its buyer
        request = {
            "out_order_id": f"FLOW-{n}",
            "logistics_address": ADDRESS,
            "product_items": [{"product_id": 100 + n, "product_count": 1}],
        }
        extend = {"payment": {"pay_currency": "USD", "try_to_pay": "true"}}
        result = _ae(
            client,
            buyer,
            "aliexpress.ds.order.create",
            param_place_order_request4_open_api_d_t_o=request,
            ds_extend_request=extend,
        )
        placed.append(result["order_list"]["number"][0])
    start = sim_now()

    for half_day in range(15):
        world_tick(now=start + timedelta(hours=12 * half_day))
    shipped = [
        (order_id, got)
        for order_id in placed
        if (got := _ae(client, buyer, "aliexpress.trade.ds.order.get", single_order_query={"order_id": order_id}))[
            "logistics_info_list"
        ]
    ]
    order_id, got = shipped[0]
    number = got["logistics_info_list"][0]["logistics_no"]
    register = client.post(
        "/sandbox/17track/track/v2.2/register",
        [{"number": number}],
        content_type="application/json",
        headers={"17token": tracker.credentials["token"]},
    )
    package_id = _tiktok(client, shop, "GET", "/order/202309/orders", ids=tiktok_id)["orders"][0]["packages"][0]["id"]
    cainiao = "7129736293314135814"
    ship = _tiktok(
        client,
        shop,
        "POST",
        f"/fulfillment/202309/packages/{package_id}/ship",
        {"self_shipment": {"tracking_number": number, "shipping_provider_id": cainiao}},
    )
    for day in range(8, 40, 2):
        world_tick(now=start + timedelta(days=day))

    assert got["order_status"] in ("WAIT_BUYER_ACCEPT_GOODS", "SELLER_PART_SEND_GOODS")
    assert register.json()["data"]["accepted"][0]["number"] == number
    assert ship["code"] == 0
    parcel = Parcel.objects.get(number=number)
    tracking = _ae(client, buyer, "aliexpress.ds.order.tracking.get", ae_order_id=str(order_id))
    (line,) = [line for line in tracking["data"]["tracking_detail_line_list"] if line["mail_no"] == number]
    assert len(line["detail_node_list"]) == len(parcel.events) > 0
    info = client.post(
        "/sandbox/17track/track/v2.2/gettrackinfo",
        [{"number": number}],
        content_type="application/json",
        headers={"17token": tracker.credentials["token"]},
    )
    track_info = info.json()["data"]["accepted"][0]["track_info"]
    assert track_info["latest_status"]["status"] == parcel.status
    assert len(track_info["tracking"]["providers"][0]["events"]) == len(parcel.events)
    tiktok = ChannelOrder.objects.get(external_id=tiktok_id)
    expected = {"Delivered": "DELIVERED"}.get(parcel.status, "IN_TRANSIT")
    assert tiktok.status in (expected, "COMPLETED")
    events = _tiktok(client, shop, "GET", f"/fulfillment/202309/orders/{tiktok_id}/tracking")["tracking"]
    assert [e["description"] for e in events] == [e["description"] for e in reversed(parcel.events)]


@pytest.mark.django_db
def test_tiktok_buyers_pay_wait_out_the_hold_hour_and_sometimes_cancel() -> None:
    clock_set(seed=5)
    shop = _account("tiktok", "busy-shop")
    shop.options = {"orders_per_hour": 20, "cancel_rate": 0.3}
    shop.save()
    start = sim_now()

    PROVIDERS["tiktok"].tick(now=start, rng=random.Random(1))
    PROVIDERS["tiktok"].tick(now=start + timedelta(hours=2), rng=random.Random(2))
    PROVIDERS["tiktok"].tick(now=start + timedelta(hours=30), rng=random.Random(3))

    statuses = [o.status for o in shop.channel_orders.all()]
    assert len(statuses) >= 20
    assert set(statuses) <= {"ON_HOLD", "AWAITING_SHIPMENT", "CANCELLED", "UNPAID"}
    assert "AWAITING_SHIPMENT" in statuses
    assert "CANCELLED" in statuses
    first_batch = shop.channel_orders.filter(created_at=start + timedelta(hours=2))
    assert all(o.status in ("AWAITING_SHIPMENT", "CANCELLED") for o in first_batch)
