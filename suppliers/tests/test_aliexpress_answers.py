"""Hostile AliExpress answers (wrong shapes, bad numbers, unknown codes) are ProviderErrors with a
clear message, never an AttributeError; the refusal table says something for every documented code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from integrations.errors import HostNotAllowed, OutcomeUnknown, ProviderError
from integrations.hosts import ALIEXPRESS_API, check_url
from integrations.tests.servers import answer, serving
from suppliers.providers.aliexpress.provider import AliExpressProvider
from suppliers.providers.aliexpress.refusals import REFUSALS, refusal_for
from suppliers.providers.base import PlaceLine, PlaceRequest, ShipTo, SupplierRefused

CREDENTIALS = {"app_key": "500001", "app_secret": "s", "access_token": "t", "refresh_token": "r"}
REQUEST = PlaceRequest(
    idempotency_key="k1",
    lines=(PlaceLine(product_id="1005", sku="", quantity=1),),
    ship_to=ShipTo(name="A", phone="1", address1="x", city="y", country_code="US", zip="1", province="z"),
)
CREATE = "aliexpress_ds_order_create_response"
GET = "aliexpress_trade_ds_order_get_response"


def body(wrapper: str, result: Any) -> bytes:
    return json.dumps({wrapper: {"result": result, "request_id": "1"}}).encode()


HOSTILE_PLACE = [
    b'["a list"]',
    b'{"something_else_response": {}}',
    json.dumps({CREATE: "text"}).encode(),
    body(CREATE, None),
    body(CREATE, []),
    body(CREATE, {"is_success": None}),
    body(CREATE, {"is_success": True}),
    body(CREATE, {"is_success": True, "order_list": {"number": "8100"}}),
    body(CREATE, {"is_success": True, "order_list": {"number": [{"id": 1}]}}),
    body(CREATE, {"is_success": True, "order_list": {"number": ["-1"]}}),
    body(CREATE, {"is_success": True, "order_list": {"number": []}}),
    body(CREATE, {"is_success": True, "order_list": {"number": [True]}}),
]
HOSTILE_GET = [
    body(GET, {"order_status": 5}),
    body(GET, {"order_status": "FINISH", "order_amount": "12"}),
    body(GET, {"order_status": "FINISH", "order_amount": {"amount": "NaN"}}),
    body(GET, {"order_status": "FINISH", "order_amount": {"amount": ["1"]}}),
    body(GET, {"order_status": "FINISH", "child_order_list": {"a": 1}}),
    body(GET, {"order_status": "FINISH", "logistics_info_list": "LP1"}),
    body(GET, {"order_status": "PLACE_ORDER_SUCCESS", "gmt_create": "yesterday", "pay_timeout_second": "9"}),
    body(GET, {"order_status": "FINISH", "child_order_list": [{"product_price": 3, "product_count": 1}]}),
]


def provider(url: str) -> AliExpressProvider:
    return AliExpressProvider(base_url=url, credentials=CREDENTIALS, max_attempts=1)


@pytest.mark.parametrize("hostile", HOSTILE_PLACE)
def test_hostile_place_answers_are_provider_errors(hostile: bytes) -> None:
    with serving(answer(200, hostile)) as server, pytest.raises(ProviderError):
        provider(server.url).place(REQUEST)


@pytest.mark.parametrize("hostile", HOSTILE_GET)
def test_hostile_order_answers_are_provider_errors(hostile: bytes) -> None:
    with serving(answer(200, hostile)) as server, pytest.raises(ProviderError):
        provider(server.url).get("8100")


@pytest.mark.parametrize("bad_id", ["", "81a", "../8", "1" * 21, "８１"])
def test_an_order_id_that_is_not_a_number_is_never_sent(bad_id: str) -> None:
    with serving(answer(200, b"{}")) as server:
        with pytest.raises(ProviderError, match="not an order number"):
            provider(server.url).get(bad_id)
        assert server.requests == []


@pytest.mark.parametrize(
    "hostile",
    [
        b'{"code": "0"}',
        b'{"access_token": "", "refresh_token": "x", "code": "0"}',
        b'{"access_token": "a", "refresh_token": "b", "expires_in": -3}',
    ],
)
def test_hostile_token_answers_are_provider_errors(hostile: bytes) -> None:
    with serving(answer(200, hostile)) as server, pytest.raises(ProviderError):
        AliExpressProvider.refresh_grant(base_url=server.url, credentials=CREDENTIALS)


def test_an_unknown_create_error_keeps_its_words_and_a_gateway_error_is_an_error() -> None:
    refused = body(CREATE, {"is_success": False, "error_code": "NEW_CODE", "error_msg": "<b>Something</b> new"})
    with serving(answer(200, refused)) as server, pytest.raises(SupplierRefused) as raised:
        provider(server.url).place(REQUEST)
    assert (raised.value.refusal.code, raised.value.refusal.message) == ("NEW_CODE", "Something new")
    gateway = b'{"error_response": {"code": "MissingParameter", "msg": "x"}}'
    with serving(answer(200, gateway)) as server, pytest.raises(ProviderError, match="MissingParameter"):
        provider(server.url).get("8100")


def test_a_repeated_order_error_is_an_unknown_outcome_not_a_refusal() -> None:
    repeated = body(CREATE, {"is_success": False, "error_code": "REPEATED_ORDER_ERROR", "error_msg": "repeated"})
    with serving(answer(200, repeated)) as server, pytest.raises(OutcomeUnknown, match="did not say which"):
        provider(server.url).place(REQUEST)


def test_every_documented_code_has_a_message_and_a_fix() -> None:
    for code in REFUSALS:
        refusal = refusal_for(code, "AliExpress's words")
        assert refusal.message
        assert refusal.fix
        assert refusal.code == code


def test_only_the_aliexpress_gateway_is_allowed() -> None:
    assert check_url("https://api-sg.aliexpress.com", ALIEXPRESS_API, resolver=lambda h, p: ["47.246.1.1"]).host
    for url in ("https://evil.example.com", "https://api-sg.aliexpress.com:8443", "http://api-sg.aliexpress.com"):
        with pytest.raises(HostNotAllowed):
            check_url(url, ALIEXPRESS_API, resolver=lambda h, p: ["47.246.1.1"])
