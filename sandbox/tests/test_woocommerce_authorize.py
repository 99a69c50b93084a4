"""The simulated site's application authentication endpoint (``/wc-auth/v1/authorize``) over real
HTTP, as ``WC_Auth`` behaves: its parameter checks and error page, the Approve / Deny links, the
key pair posted as JSON to the callback (kept only when the callback answers 200), and that pair
working with the official ``woocommerce`` client next to the site's own keys, within its permissions."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from woocommerce import API

from sandbox.models import SimAccount
from sandbox.tests.conftest import SANDBOX_LIVE_DB, Control, WebhookReceiver

pytestmark = SANDBOX_LIVE_DB

APPROVE = re.compile(r'href="([^"]+)" class="button button-primary wc-auth-approve"')
DENY = re.compile(r'href="([^"]+)" class="button wc-auth-deny"')
KEY = re.compile(r"ck_[0-9a-f]{40}")
SECRET = re.compile(r"cs_[0-9a-f]{40}")


@pytest.fixture
def site(control: Control) -> dict[str, Any]:
    return control.account("woocommerce", "auth-site")


def authorize(site: dict[str, Any], **params: str) -> requests.Response:
    return requests.get(f"{site['base_url'].rstrip('/')}/wc-auth/v1/authorize?{urlencode(params)}", timeout=10)


def params_for(receiver: WebhookReceiver, **more: str) -> dict[str, str]:
    return {
        "app_name": "Test App",
        "scope": "read_write",
        "user_id": "our-user-42",
        "return_url": "https://app.example.com/back?from=woo",
        "callback_url": f"{receiver.url}/keys",
        **more,
    }


def link(pattern: re.Pattern[str], html: str) -> str:
    found = pattern.search(html)
    assert found, html
    return unescape(found.group(1))


def client_for(site: dict[str, Any], keys: dict[str, Any]) -> API:
    """The official client, as WooCommerce's docs build it, with a key pair."""
    key, secret = keys["consumer_key"], keys["consumer_secret"]
    return API(url=site["base_url"], consumer_key=key, consumer_secret=secret, version="wc/v3", timeout=10)


def approve(site: dict[str, Any], receiver: WebhookReceiver, **changes: str) -> tuple[requests.Response, Any]:
    """Open the approval page and press Approve: (the site's answer, the JSON the callback got)."""
    page = authorize(site, **params_for(receiver, **changes))
    answer = requests.get(link(APPROVE, page.text), allow_redirects=False, timeout=30)
    return answer, json.loads(receiver.wait_for(1)[0].body)


def new_keys(site: dict[str, Any]) -> list[dict[str, Any]]:
    return list(SimAccount.objects.get(name=site["name"]).options.get("api_keys", []))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"app_name": ""}, "Missing parameter app_name"),
        ({"user_id": ""}, "Missing parameter user_id"),
        ({"callback_url": ""}, "Missing parameter callback_url"),
        ({"scope": "admin"}, "Invalid scope admin"),
        ({"return_url": "http://"}, "The http:// is not a valid URL"),
        ({"callback_url": "http://app.example.com/keys"}, "The callback_url needs to be over SSL"),
    ],
)
def test_the_page_refuses_what_woocommerce_refuses(
    site: dict[str, Any], webhook_receiver: WebhookReceiver, changes: dict[str, str], message: str
) -> None:
    answer = authorize(site, **params_for(webhook_receiver, **changes))
    assert answer.status_code == 401
    assert "<title>Access denied</title>" in answer.text
    assert f"Error: {message}" in unescape(answer.text)
    assert new_keys(site) == []


def test_approve_posts_a_new_key_pair_as_json_then_sends_the_browser_back(
    site: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    page = authorize(site, **params_for(webhook_receiver))
    assert page.status_code == 200
    assert "Test App would like to connect to your store" in page.text
    assert "Read/Write" in page.text
    assert "Create webhooks" in page.text

    back = requests.get(link(APPROVE, page.text), allow_redirects=False, timeout=30)
    assert back.status_code == 302
    assert back.headers["Location"] == "https://app.example.com/back?from=woo&success=1&user_id=our-user-42"
    [posted] = webhook_receiver.wait_for(1)
    assert posted.path == "/keys"
    assert posted.headers["content-type"] == "application/json;charset=UTF-8"
    body = json.loads(posted.body)
    assert sorted(body) == ["consumer_key", "consumer_secret", "key_id", "key_permissions", "user_id"]
    assert (body["key_id"], body["user_id"], body["key_permissions"]) == (2, "our-user-42", "read_write")
    assert KEY.fullmatch(body["consumer_key"])
    assert SECRET.fullmatch(body["consumer_secret"])
    [kept] = new_keys(site)
    assert (kept["consumer_key"], kept["truncated_key"]) == (body["consumer_key"], body["consumer_key"][-7:])
    assert kept["description"].startswith("Test App - API (")

    # The new pair works with the official client, next to the site's own pair
    assert client_for(site, body).get("orders").status_code == 200
    assert client_for(site, site["credentials"]).get("orders").status_code == 200


def test_a_read_key_may_read_but_not_write(site: dict[str, Any], webhook_receiver: WebhookReceiver) -> None:
    _, body = approve(site, webhook_receiver, scope="read")
    assert body["key_permissions"] == "read"
    wcapi = client_for(site, body)
    assert wcapi.get("orders").status_code == 200
    refused = wcapi.post("webhooks", {"topic": "order.created", "delivery_url": "https://app.example.com/hook"})
    assert refused.status_code == 401
    assert refused.json()["message"] == "The API key provided does not have write permissions."


def test_a_callback_that_does_not_answer_200_gets_the_error_page_and_the_key_is_deleted(
    site: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.status = 201  # WooCommerce wants exactly 200
    answer, body = approve(site, webhook_receiver)
    assert answer.status_code == 401
    assert "unable to send the consumer data" in answer.text
    assert new_keys(site) == []
    wcapi = client_for(site, body)
    assert wcapi.get("orders").status_code == 401


def test_deny_goes_back_with_success_0_and_nothing_is_made(
    site: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    page = authorize(site, **params_for(webhook_receiver))
    deny = urlsplit(link(DENY, page.text))
    assert (deny.scheme, deny.netloc, deny.path) == ("https", "app.example.com", "/back")
    assert parse_qs(deny.query) == {"from": ["woo"], "success": ["0"], "user_id": ["our-user-42"]}
    assert webhook_receiver.received == []
    assert new_keys(site) == []


def test_an_approve_link_with_a_changed_parameter_is_refused(
    site: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    page = authorize(site, **params_for(webhook_receiver))
    tampered = link(APPROVE, page.text).replace("scope=read_write", "scope=read")
    answer = requests.get(tampered, allow_redirects=False, timeout=30)
    assert answer.status_code == 401
    assert "Error: Invalid nonce verification." in answer.text
    assert webhook_receiver.received == []
    assert new_keys(site) == []


def test_revoking_the_apps_keys_from_the_control_api_leaves_the_sites_own(
    site: dict[str, Any], webhook_receiver: WebhookReceiver, control: Control
) -> None:
    _, body = approve(site, webhook_receiver)
    control.options("woocommerce", "auth-site", api_keys=None)
    revoked = API(url=site["base_url"], consumer_key=body["consumer_key"], consumer_secret=body["consumer_secret"])
    assert revoked.get("orders").status_code == 401
    own = site["credentials"]
    assert (
        API(url=site["base_url"], consumer_key=own["consumer_key"], consumer_secret=own["consumer_secret"])
        .get("orders")
        .status_code
        == 200
    )


def test_an_unknown_site_or_route_is_refused(site: dict[str, Any], sandbox_url: str) -> None:
    assert requests.get(f"{sandbox_url}/woocommerce/no-such-site/wc-auth/v1/authorize", timeout=10).status_code == 404
    other = requests.get(f"{site['base_url'].rstrip('/')}/wc-auth/v1/login?{urlencode(params_for_any())}", timeout=10)
    assert other.status_code == 401
    assert "You do not have permission to access this page" in unescape(other.text)


def params_for_any() -> dict[str, str]:
    return {
        "app_name": "A",
        "scope": "read",
        "user_id": "1",
        "return_url": "https://a.example.com",
        "callback_url": "https://a.example.com/cb",
    }
