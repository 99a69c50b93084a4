"""Faults set through the control API are rendered in each provider's own shape."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests

from sandbox import faults
from sandbox.tests.conftest import SANDBOX_LIVE_DB, Control

pytestmark = SANDBOX_LIVE_DB

HTTPS = {"X-Forwarded-Proto": "https"}


@pytest.fixture
def shop(control: Control) -> dict[str, Any]:
    control.account("woocommerce", "fault-store")
    return control.account("shopify", "fault-shop")


def shopify_get(shop: dict[str, Any], timeout: float = 5) -> requests.Response:
    return requests.get(
        f"{shop['base_url']}/admin/api/2024-10/orders.json",
        headers={"X-Shopify-Access-Token": shop["credentials"]["access_token"]},
        timeout=timeout,
    )


def woo_get(control: Control) -> requests.Response:
    site = control.account("woocommerce", "fault-store")
    credentials = site["credentials"]
    auth = (credentials["consumer_key"], credentials["consumer_secret"])
    return requests.get(f"{site['base_url']}/wp-json/wc/v3/orders", auth=auth, headers=HTTPS, timeout=5)


def test_http_5xx_faults(control: Control, shop: dict[str, Any]) -> None:
    faults.reseed(1)  # the draws are one process-wide sequence: what ran before must not decide the coins
    control.faults({"shopify": {"http_5xx": 1.0}, "woocommerce": {"http_5xx": 1.0}})

    shopify_answers = [shopify_get(shop) for _ in range(6)]
    woo = woo_get(control)

    assert {r.status_code for r in shopify_answers} == {502, 503}  # a seeded coin picks which
    for response in shopify_answers:
        if response.status_code == 503:
            assert response.json() == {"errors": "Service Unavailable"}
        else:
            assert response.headers["Content-Type"].startswith("text/html")
    assert woo.status_code in (502, 503)
    assert "<center>nginx</center>" in woo.text


def test_http_429_fault(control: Control, shop: dict[str, Any]) -> None:
    control.faults({"shopify": {"http_429": 1.0}, "woocommerce": {"http_429": 1.0}})

    shopify_answer, woo = shopify_get(shop), woo_get(control)

    assert (shopify_answer.status_code, shopify_answer.headers["Retry-After"]) == (429, "2.0")
    assert shopify_answer.json()["errors"].startswith("Exceeded 2 calls per second")
    assert (woo.status_code, woo.headers["Retry-After"]) == (429, "5")


def test_malformed_fault_truncates_the_json(control: Control, shop: dict[str, Any]) -> None:
    control.create_orders("shopify", "fault-shop", count=1, seed=1)
    control.faults({"shopify": {"malformed": 1.0}})

    response = shopify_get(shop)

    assert response.status_code == 200
    assert response.text.startswith('{"orders":[')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_timeout_fault_stalls_past_the_clients_timeout(
    control: Control, shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(faults, "TIMEOUT_STALL_SECONDS", 1.0)
    control.faults({"shopify": {"timeout": 1.0}})

    with pytest.raises(requests.Timeout):
        shopify_get(shop, timeout=0.3)

    time.sleep(1.0)  # let the stalled request finish before the database is flushed


def test_faults_are_per_provider_and_can_be_cleared(control: Control, shop: dict[str, Any]) -> None:
    control.faults({"woocommerce": {"http_5xx": 1.0}})
    assert shopify_get(shop).status_code == 200

    control.faults({"woocommerce": {}})

    assert woo_get(control).status_code == 200
