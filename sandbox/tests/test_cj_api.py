"""Simulated CJdropshipping API 2.0 over real HTTP: token flow, idempotent orders, pay at most once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

ORDER = {
    "shippingCountryCode": "US",
    "shippingCountry": "United States",
    "shippingProvince": "Texas",
    "shippingCity": "Austin",
    "shippingZip": "78701",
    "shippingAddress": "1 Congress Ave",
    "shippingCustomerName": "Grace Hopper",
    "shippingPhone": "5125550100",
    "logisticName": "CJPacket Ordinary",
    "fromCountryCode": "CN",
    "products": [{"vid": "92511400-C758-4B1B-9A7C-6B2C1C1A0001", "quantity": 2}],
}


class Cj:
    def __init__(self, account: dict[str, Any]) -> None:
        self.base = account["base_url"]
        response = requests.post(
            f"{self.base}/authentication/getAccessToken", json={"apiKey": account["credentials"]["api_key"]}, timeout=10
        )
        self.token = response.json()["data"]["accessToken"]

    def post(self, path: str, body: Any = None, token: str | None = None, raw: str | None = None) -> dict[str, Any]:
        headers = {"CJ-Access-Token": token or self.token, "Content-Type": "application/json"}
        response = requests.post(f"{self.base}/{path}", json=body, data=raw, headers=headers, timeout=10)
        assert response.status_code == 200
        return response.json()

    def get(self, path: str, **params: str) -> dict[str, Any]:
        response = requests.get(
            f"{self.base}/{path}", params=params, headers={"CJ-Access-Token": self.token}, timeout=10
        )
        return response.json()


@pytest.fixture
def cj(control: Any) -> Cj:
    return Cj(control.account("cj", "cj-buyer"))


def test_bad_credentials_and_bad_input_get_cjs_error_shape(control: Any, cj: Cj) -> None:
    base = control.account("cj", "cj-buyer")["base_url"]

    bad_key = requests.post(f"{base}/authentication/getAccessToken", json={"apiKey": "CJ1@api@nope"}, timeout=10).json()
    bad_token = cj.post("shopping/order/createOrderV2", {**ORDER, "orderNumber": "Z-1"}, token="nope")

    malformed = cj.post("shopping/order/createOrderV2", raw='{"orderNumber": ')
    missing = cj.post("shopping/order/createOrderV2", {**ORDER, "orderNumber": "ZOPI-2005", "products": []})
    unknown = cj.get("shopping/order/getOrderDetail", orderId="999")

    for body in (bad_key, bad_token):
        assert (body["code"], body["result"], body["data"]) == (1600001, False, None)
        assert body["requestId"]
    assert (malformed["code"], malformed["result"]) == (1600101, False)
    assert (missing["code"], missing["result"]) == (1600101, False)
    assert (unknown["code"], unknown["result"]) == (1600100, False)
    assert control.ledger() == []


def test_create_then_pay_twice_charges_once(control: Any, cj: Cj) -> None:
    created = cj.post("shopping/order/createOrderV2", {**ORDER, "orderNumber": "ZOPI-2001", "payType": 3})
    again = cj.post("shopping/order/createOrderV2", {**ORDER, "orderNumber": "ZOPI-2001", "payType": 3})
    order_id = created["data"]["orderId"]

    first = cj.post("shopping/pay/payBalance", {"orderId": order_id})
    second = cj.post("shopping/pay/payBalance", {"orderId": order_id})

    assert created["data"]["orderStatus"] == "CREATED"
    assert again["data"]["orderId"] == order_id
    assert (first["code"], second["code"]) == (200, 200)
    assert [(c["idempotency_key"], c["supplier_order_id"]) for c in control.ledger()] == [("ZOPI-2001", order_id)]
    detail = cj.get("shopping/order/getOrderDetail", orderId=order_id)["data"]
    assert (detail["orderNum"], detail["orderStatus"], detail["trackNumber"]) == ("ZOPI-2001", "UNSHIPPED", None)


# Concurrent requests need a database with real concurrent transactions: the live server's
# threads share one in-memory SQLite connection, so this runs on PostgreSQL (CI requires it).
@pytest.mark.postgres
def test_concurrent_pay_requests_charge_once(control: Any, cj: Cj) -> None:
    order_id = cj.post("shopping/order/createOrderV2", {**ORDER, "orderNumber": "ZOPI-2002", "payType": 3})["data"][
        "orderId"
    ]

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: cj.post("shopping/pay/payBalance", {"orderId": order_id}), range(6)))

    assert {a["code"] for a in answers} == {200}
    assert len(control.ledger()) == 1


def test_pay_type_2_pays_at_once_and_a_short_balance_fails_without_charging(control: Any, cj: Cj) -> None:
    paid = cj.post("shopping/order/createOrderV2", {**ORDER, "orderNumber": "ZOPI-2003", "payType": 2})
    control.options("cj", "cj-buyer", balance="0.50")
    unpaid = cj.post("shopping/order/createOrderV2", {**ORDER, "orderNumber": "ZOPI-2004", "payType": 2})
    retry = cj.post("shopping/pay/payBalance", {"orderId": unpaid["data"]["orderId"]})

    assert paid["data"]["orderStatus"] == "UNSHIPPED"
    assert unpaid["result"] is True
    assert unpaid["data"]["orderStatus"] == "CREATED"
    assert "Insufficient balance" in unpaid["message"]
    assert (retry["code"], retry["result"], retry["message"]) == (1602001, False, "Insufficient balance")
    assert [c["idempotency_key"] for c in control.ledger()] == ["ZOPI-2003"]
