"""Injected faults come out in each provider's own shape; webhooks and token endpoints of the suppliers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from sandbox.models import FaultConfig, SimAccount, WebhookDelivery
from sandbox.providers.aliexpress import methods as ae_methods
from sandbox.providers.aliexpress.signing import webhook_signature
from sandbox.registry import PROVIDERS

# (provider, test-client method, path) of one endpoint per provider
ENDPOINTS: list[tuple[str, str, str]] = [
    ("tiktok", "post", "/sandbox/tiktok/order/202309/orders/search"),
    ("aliexpress", "post", "/sandbox/aliexpress/sync"),
    ("cj", "post", "/sandbox/cj/api2.0/v1/shopping/order/createOrderV2"),
    ("temu", "post", "/sandbox/temu/v1/orders"),
    ("17track", "post", "/sandbox/17track/track/v2.2/register"),
]
SERVER_ERROR_CODES = {"tiktok": 36009001, "aliexpress": "isp.service-unavailable", "cj": 1600500, "17track": -18010003}
RATE_LIMIT = {
    "tiktok": (429, 36009003),
    "aliexpress": (200, "ApiCallLimit"),
    "cj": (429, 1600200),
    "temu": (429, "rate_limited"),
    "17track": (429, 429),
}


def _code(provider: str, body: dict[str, Any]) -> Any:
    if provider == "aliexpress":
        return body["error_response"]["code"]
    if provider == "temu":
        return body["error"]["code"]
    return body["code"]


@pytest.mark.django_db
@pytest.mark.parametrize(("provider", "method", "path"), ENDPOINTS)
def test_faults_are_rendered_in_the_providers_shape(provider: str, method: str, path: str) -> None:
    client = Client()

    FaultConfig.objects.create(provider=provider, rates={"http_5xx": 1.0})
    server_error = getattr(client, method)(path, "[]", content_type="application/json")
    FaultConfig.objects.filter(provider=provider).update(rates={"http_429": 1.0})
    rate_limited = getattr(client, method)(path, "[]", content_type="application/json")
    FaultConfig.objects.filter(provider=provider).update(rates={"malformed": 1.0})
    malformed = getattr(client, method)(path, "[]", content_type="application/json")

    assert server_error.status_code in (502, 503)
    if provider == "temu":
        assert server_error.json()["error"]["type"] == "api_error"
    else:
        assert _code(provider, server_error.json()) == SERVER_ERROR_CODES[provider]
    assert (rate_limited.status_code, _code(provider, rate_limited.json())) == RATE_LIMIT[provider]
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.content)


@pytest.mark.django_db
def test_aliexpress_pushes_order_status_messages_with_the_simulated_signature() -> None:
    credentials = PROVIDERS["aliexpress"].make_credentials("hooked")
    account = SimAccount.objects.create(
        provider="aliexpress", name="hooked", credentials=credentials, options={"webhook_url": "http://127.0.0.1:9/ae"}
    )
    request = {
        "out_order_id": "HOOK-1",
        "logistics_address": {
            "address": "1 Main St",
            "city": "Austin",
            "province": "Texas",
            "country": "US",
            "zip": "78701",
            "full_name": "A B",
        },
        "product_items": [{"product_id": 1005, "product_count": 1}],
    }
    params = {
        ae_methods.PLACE_PARAM: json.dumps(request),
        "ds_extend_request": json.dumps({"payment": {"try_to_pay": "true"}}),
    }

    ae_methods.order_create(account, params)

    deliveries = list(WebhookDelivery.objects.filter(account=account).order_by("id"))
    bodies = [json.loads(d.body) for d in deliveries]
    assert [b["data"]["orderStatus"] for b in bodies] == ["OrderCreated", "PaymentAuthorized"]
    assert {b["message_type"] for b in bodies} == {53}
    for delivery in deliveries:
        expected = webhook_signature(
            app_key=credentials["app_key"], app_secret=credentials["app_secret"], body=delivery.body.encode()
        )
        assert delivery.headers == {"Authorization": expected}
    assert account.charges.get().amount > Decimal("0")


@pytest.mark.django_db
def test_tiktok_token_endpoints_check_the_app_and_the_code() -> None:
    client = Client()
    credentials = PROVIDERS["tiktok"].make_credentials("tokens")
    SimAccount.objects.create(provider="tiktok", name="tokens", credentials=credentials)
    app = {"app_key": credentials["app_key"], "app_secret": credentials["app_secret"]}

    granted = client.get(
        "/sandbox/tiktok/api/v2/token/get",
        {**app, "auth_code": credentials["auth_code"], "grant_type": "authorized_code"},
    ).json()
    refused = client.get(
        "/sandbox/tiktok/api/v2/token/get", {**app, "auth_code": "nope", "grant_type": "authorized_code"}
    ).json()
    refreshed = client.get(
        "/sandbox/tiktok/api/v2/token/refresh",
        {**app, "refresh_token": credentials["refresh_token"], "grant_type": "refresh_token"},
    ).json()

    assert (granted["code"], granted["data"]["access_token"]) == (0, credentials["access_token"])
    assert (refused["code"], refused["data"]) == (36004005, None)
    assert (refreshed["code"], refreshed["data"]["refresh_token"]) == (0, credentials["refresh_token"])
