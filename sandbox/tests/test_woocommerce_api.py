"""The simulated WooCommerce REST API over raw HTTP: both auth schemes, WordPress errors, filters."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from sandbox.models import ChannelOrder
from sandbox.providers.woocommerce.auth import oauth_signature
from sandbox.tests.conftest import SANDBOX_LIVE_DB, Control

pytestmark = SANDBOX_LIVE_DB

HTTPS = {"X-Forwarded-Proto": "https"}  # what a TLS-terminating proxy in front of the site sends


@pytest.fixture
def site(control: Control) -> dict[str, Any]:
    return control.account("woocommerce", "api-store")


def url(site: dict[str, Any], path: str) -> str:
    return f"{site['base_url']}/wp-json/wc/v3/{path}"


def keys(site: dict[str, Any]) -> tuple[str, str]:
    return site["credentials"]["consumer_key"], site["credentials"]["consumer_secret"]


def oauth_get(
    site: dict[str, Any], path: str, secret: str | None = None, method: str = "HMAC-SHA256", **extra: str
) -> requests.Response:
    key, real_secret = keys(site)
    params = {
        **extra,
        "oauth_consumer_key": key,
        "oauth_timestamp": str(int(time.time())),
        "oauth_nonce": f"nonce{time.monotonic_ns()}",
        "oauth_signature_method": method,
    }
    params["oauth_signature"] = oauth_signature(
        method="GET", url=url(site, path), params=params, consumer_secret=secret or real_secret, signature_method=method
    )
    return requests.get(f"{url(site, path)}?{urlencode(params)}", timeout=5)


def test_basic_auth_over_https_is_accepted(control: Control, site: dict[str, Any]) -> None:
    control.create_orders("woocommerce", "api-store", count=2, seed=1)

    response = requests.get(url(site, "orders"), auth=keys(site), headers=HTTPS, timeout=5)

    assert response.status_code == 200
    assert len(response.json()) == 2


def test_query_string_keys_over_https_are_accepted(site: dict[str, Any]) -> None:
    key, secret = keys(site)

    response = requests.get(
        url(site, "orders"), params={"consumer_key": key, "consumer_secret": secret}, headers=HTTPS, timeout=5
    )

    assert (response.status_code, response.json()) == (200, [])


def test_basic_auth_with_a_wrong_secret_is_refused(site: dict[str, Any]) -> None:
    response = requests.get(url(site, "orders"), auth=(keys(site)[0], "cs_wrong"), headers=HTTPS, timeout=5)

    assert (response.status_code, response.json()) == (
        401,
        {
            "code": "woocommerce_rest_authentication_error",
            "message": "Consumer secret is invalid.",
            "data": {"status": 401},
        },
    )


def test_basic_auth_over_plain_http_is_not_authentication(site: dict[str, Any]) -> None:
    listing = requests.get(url(site, "orders"), auth=keys(site), timeout=5)
    edit = requests.put(url(site, "orders/1201"), auth=keys(site), json={"status": "completed"}, timeout=5)

    assert (listing.status_code, listing.json()) == (
        401,
        {
            "code": "woocommerce_rest_cannot_view",
            "message": "Sorry, you cannot list resources.",
            "data": {"status": 401},
        },
    )
    assert (edit.status_code, edit.json()["code"]) == (401, "woocommerce_rest_cannot_edit")


def test_oauth_with_sha1_is_accepted_and_a_wrong_signature_refused(site: dict[str, Any]) -> None:
    sha1 = oauth_get(site, "orders", method="HMAC-SHA1", per_page="5")
    wrong = oauth_get(site, "orders", secret="cs_wrong", per_page="5")

    assert sha1.status_code == 200
    assert (wrong.status_code, wrong.json()) == (
        401,
        {
            "code": "woocommerce_rest_authentication_error",
            "message": "Invalid signature - provided signature does not match.",
            "data": {"status": 401},
        },
    )


def test_oauth_refuses_a_reused_nonce_an_unknown_key_and_missing_parameters(site: dict[str, Any]) -> None:
    first = oauth_get(site, "orders")
    replay = requests.get(first.url, timeout=5)
    unknown_key = requests.get(first.url.replace(keys(site)[0], "ck_unknown"), timeout=5)
    missing = requests.get(url(site, "orders"), params={"oauth_consumer_key": keys(site)[0]}, timeout=5)

    assert first.status_code == 200
    assert (replay.status_code, replay.json()["message"]) == (401, "Invalid nonce - nonce has already been used.")
    assert (unknown_key.status_code, unknown_key.json()["message"]) == (401, "Consumer key is invalid.")
    assert (missing.status_code, missing.json()["code"], missing.json()["message"]) == (
        401,
        "woocommerce_rest_authentication_missing_parameter",
        "Missing OAuth parameters oauth_timestamp, oauth_nonce, oauth_signature, oauth_signature_method",
    )


def test_per_page_over_100_and_bad_params_get_rest_invalid_param(site: dict[str, Any]) -> None:
    def get(**params: str) -> requests.Response:
        return requests.get(url(site, "orders"), params=params, auth=keys(site), headers=HTTPS, timeout=5)

    too_many, bad_status, bad_date = get(per_page="101"), get(status="shipped"), get(modified_after="yesterday")

    assert too_many.status_code == 400
    assert too_many.json()["code"] == "rest_invalid_param"
    assert too_many.json()["message"] == "Invalid parameter(s): per_page"
    assert too_many.json()["data"]["params"] == {
        "per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"
    }
    assert (bad_status.status_code, bad_status.json()["message"]) == (400, "Invalid parameter(s): status")
    assert (bad_date.status_code, bad_date.json()["data"]["params"]) == (400, {"modified_after": "Invalid date."})


def test_status_and_modified_after_filters(control: Control, site: dict[str, Any]) -> None:
    ids = control.create_orders("woocommerce", "api-store", count=3, seed=2)
    ChannelOrder.objects.filter(external_id=ids[0]).update(status="completed", updated_at="2030-06-01T12:00:00Z")

    def listed(**params: str) -> list[str]:
        response = requests.get(url(site, "orders"), params=params, auth=keys(site), headers=HTTPS, timeout=5)
        assert response.status_code == 200, response.text
        return [str(o["id"]) for o in response.json()]

    assert listed(status="processing") == [ids[2], ids[1]]
    assert listed(status="processing,completed", order="asc") == ids
    assert listed(modified_after="2030-06-01T00:00:00", dates_are_gmt="true") == [ids[0]]
    assert listed(modified_after="2030-06-01T08:00:00") == []  # site-local (UTC-5) 08:00 = 13:00 GMT


def test_bad_bodies_and_unknown_ids_get_wordpress_errors(control: Control, site: dict[str, Any]) -> None:
    [order_id] = control.create_orders("woocommerce", "api-store", count=1, seed=3)

    def send(method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, url(site, path), auth=keys(site), headers=HTTPS, timeout=5, **kwargs)

    malformed = send("PUT", f"orders/{order_id}", data=b'{"status": ')
    bad_status = send("PUT", f"orders/{order_id}", json={"status": "shipped"})
    no_note = send("POST", f"orders/{order_id}/notes", json={"customer_note": True})
    unknown_order = send("GET", "orders/999999")
    unknown_route = send("GET", "nothing")

    assert (malformed.status_code, malformed.json()["code"], malformed.json()["message"]) == (
        400,
        "rest_invalid_json",
        "Invalid JSON body passed.",
    )
    assert (bad_status.status_code, bad_status.json()["code"]) == (400, "rest_invalid_param")
    assert (no_note.status_code, no_note.json()) == (
        400,
        {
            "code": "rest_missing_callback_param",
            "message": "Missing parameter(s): note",
            "data": {"status": 400, "params": ["note"]},
        },
    )
    assert (unknown_order.status_code, unknown_order.json()) == (
        404,
        {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.", "data": {"status": 404}},
    )
    assert (unknown_route.status_code, unknown_route.json()["code"]) == (404, "rest_no_route")
    assert ChannelOrder.objects.get(external_id=order_id).status == "processing"


def test_shipment_tracking_extension_records_a_fulfillment(control: Control, site: dict[str, Any]) -> None:
    [order_id] = control.create_orders("woocommerce", "api-store", count=1, seed=4)
    tracking_url = f"{site['base_url']}/wp-json/wc-shipment-tracking/v3/orders/{order_id}/shipment-trackings"
    body = {"tracking_provider": "USPS", "tracking_number": "9400111899560000000000", "date_shipped": "2026-07-10"}

    created = requests.post(tracking_url, json=body, auth=keys(site), headers=HTTPS, timeout=5)
    listed = requests.get(tracking_url, auth=keys(site), headers=HTTPS, timeout=5)

    assert created.status_code == 201
    assert {k: created.json()[k] for k in ("tracking_provider", "tracking_number", "date_shipped")} == body
    assert listed.json() == [created.json()]
    assert [(f["tracking_number"], f["tracking_company"]) for f in control.fulfillments()] == [
        ("9400111899560000000000", "USPS")
    ]
