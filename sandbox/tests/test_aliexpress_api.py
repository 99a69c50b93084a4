"""Simulated AliExpress DS gateway over real HTTP: IOP signatures, errors, idempotent place-and-pay."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import requests

from sandbox.providers.aliexpress.signing import request_sign

ADDRESS = {
    "address": "1 Main Street",
    "city": "Vineland",
    "province": "New Jersey",
    "country": "US",
    "zip": "08360",
    "full_name": "Ada Lovelace",
    "mobile_no": "5551234567",
    "phone_country": "+1",
}
ITEM = {
    "product_id": 1005006454451334,
    "product_count": 2,
    "sku_attr": "14:193#Black",
    "logistics_service_name": "CAINIAO_STANDARD",
}


def test_request_sign_matches_the_fixed_vector() -> None:
    params = {
        "method": "aliexpress.trade.ds.order.get",
        "app_key": "501234",
        "timestamp": "1700000000000",
        "sign_method": "sha256",
        "access_token": "50000tok",
        "single_order_query": '{"order_id":8190439416163295}',
        "sign": "ignored",
    }

    assert request_sign(app_secret="ae-secret", params=params) == (
        "0A911F5427FE555E59DEB496BDB9802F808E8EE464CFB094267B2D3538DEA6E1"
    )


class AliExpress:
    """A minimal IOP client (sorted key+value, HMAC-SHA256, upper hex), independent of the sandbox."""

    def __init__(self, account: dict[str, Any]) -> None:
        self.url, self.credentials = account["base_url"] + "/sync", account["credentials"]

    def call(self, method: str, sign: str | None = None, token: str | None = None, **business: Any) -> dict[str, Any]:
        creds = self.credentials
        params = {
            "method": method,
            "app_key": creds["app_key"],
            "timestamp": str(int(time.time() * 1000)),
            "sign_method": "sha256",
            "access_token": token or creds["access_token"],
            **{k: v if isinstance(v, str) else json.dumps(v) for k, v in business.items()},
        }
        text = "".join(f"{k}{params[k]}" for k in sorted(params))
        params["sign"] = (
            sign or hmac.new(creds["app_secret"].encode(), text.encode(), hashlib.sha256).hexdigest().upper()
        )
        response = requests.post(self.url, data=params, timeout=10)
        assert response.status_code == 200
        return response.json()

    def place(self, out_order_id: str, *, address: dict[str, Any] = ADDRESS, pay: bool = True) -> dict[str, Any]:
        request = {"out_order_id": out_order_id, "logistics_address": address, "product_items": [ITEM]}
        extend = {"payment": {"pay_currency": "USD", "try_to_pay": "true" if pay else "false"}}
        body = self.call(
            "aliexpress.ds.order.create", param_place_order_request4_open_api_d_t_o=request, ds_extend_request=extend
        )
        return body["aliexpress_ds_order_create_response"]["result"]


@pytest.fixture
def ae(control: Any) -> AliExpress:
    return AliExpress(control.account("aliexpress", "ae-buyer"))


def test_repeating_an_out_order_id_returns_the_same_order_and_charges_once(control: Any, ae: AliExpress) -> None:
    first = ae.place("ZOPI-1001")
    second = ae.place("ZOPI-1001")

    assert first["is_success"] is True
    assert first["error_msg"] is None
    assert second["order_list"] == first["order_list"]
    (order_id,) = first["order_list"]["number"]
    charges = control.ledger()
    assert [(c["provider"], c["idempotency_key"], c["supplier_order_id"]) for c in charges] == [
        ("aliexpress", "ZOPI-1001", str(order_id))
    ]
    got = ae.call("aliexpress.trade.ds.order.get", single_order_query={"order_id": order_id})
    result = got["aliexpress_trade_ds_order_get_response"]["result"]
    assert result["order_status"] == "PAYMENT_PROCESSING"
    assert result["order_amount"]["currency_code"] == "USD"
    assert result["order_amount"]["amount"] == charges[0]["amount"]
    tracking = ae.call("aliexpress.ds.order.tracking.get", ae_order_id=str(order_id), language="en_US")
    assert tracking["aliexpress_ds_order_tracking_get_response"]["result"]["ret"] is False  # not shipped yet


def test_created_but_auto_pay_failed_when_the_wallet_is_short(control: Any, ae: AliExpress) -> None:
    control.options("aliexpress", "ae-buyer", balance="1.00")

    result = ae.place("ZOPI-1002")

    assert result["is_success"] is True
    assert result["error_msg"] == "OrderCreated, autoPay fail:APIPayFail"
    assert len(result["order_list"]["number"]) == 1
    assert control.ledger() == []
    (order_id,) = result["order_list"]["number"]
    got = ae.call("aliexpress.trade.ds.order.get", single_order_query={"order_id": order_id})
    assert got["aliexpress_trade_ds_order_get_response"]["result"]["order_status"] == "PLACE_ORDER_SUCCESS"


def test_address_validation_fails_the_create_and_places_nothing(control: Any, ae: AliExpress) -> None:
    cases = [
        (
            {**ADDRESS, "province": ""},
            "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL",
            "Please select a State/Province/County",
        ),
        ({**ADDRESS, "city": ""}, "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", "Please enter a City"),
        (
            {**ADDRESS, "country": "BR", "province": "Parana", "cpf": "123"},
            "B_DROPSHIPPER_DELIVERY_ADDRESS_CPF_CN_INVALID",
            None,
        ),
    ]
    for address, code, message in cases:
        result = ae.place("ZOPI-BAD", address=address)

        assert result["is_success"] is False
        assert result["error_code"] == code
        assert message is None or result["error_msg"] == message
        assert "order_list" not in result
    assert control.ledger() == []
    valid_cpf = {**ADDRESS, "country": "BR", "province": "Parana", "cpf": "529.982.247-25"}
    assert ae.place("ZOPI-BR", address=valid_cpf)["is_success"] is True


def test_bad_credentials_and_params_get_error_responses(ae: AliExpress) -> None:
    bad_sign = ae.call("aliexpress.trade.ds.order.get", sign="0" * 64, single_order_query={"order_id": 1})
    bad_token = ae.call("aliexpress.trade.ds.order.get", token="50000nope", single_order_query={"order_id": 1})
    missing = ae.call("aliexpress.ds.order.create")
    malformed = ae.call("aliexpress.ds.order.create", param_place_order_request4_open_api_d_t_o='{"out_order_id": ')
    unknown = ae.call("aliexpress.ds.nothing.here")

    assert bad_sign["error_response"]["code"] == "IncompleteSignature"
    assert bad_sign["error_response"]["request_id"]
    assert bad_token["error_response"]["code"] == "IllegalAccessToken"
    assert missing["error_response"]["code"] == "MissingParameter"
    assert malformed["error_response"]["code"] == "InvalidParameter"
    assert unknown["error_response"]["code"] == "InvalidApiPath"
