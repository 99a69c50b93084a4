"""WooCommerce connected by its authorization endpoint, against the sandbox over real HTTP: the
Connect panel sends the owner to the site's approval page; Approve makes the site post a key pair
to our callback, which connects the store as the operator's app (its webhooks made with a secret
we generated) and imports its orders; Deny comes back with a message and nothing stored. Every
tampered callback is refused and stores nothing."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from channels_sync.enums import AuthKind, AuthorizationState, StoreStatus
from channels_sync.models import ChannelAuthorization, Store
from channels_sync.services import store_pull
from channels_sync.tests.conftest import LIVE_DB
from orders.models import Order
from sandbox.models import SimAccount
from sandbox.tests.conftest import Control
from tests.factories import StoreFactory

pytestmark = [pytest.mark.postgres, LIVE_DB]

CALLBACK = "/stores/woocommerce/callback/"
APPROVE_LINK = re.compile(r'href="([^"]+)" class="button button-primary wc-auth-approve"')
DENY_LINK = re.compile(r'href="([^"]+)" class="button wc-auth-deny"')


def start(client: Client, *, name: str, site_url: str) -> Any:
    data = {"woocommerce-app-name": name, "woocommerce-app-base_url": site_url}
    return client.post(reverse("channels_sync:woocommerce_authorize"), data)


def approval_page(client: Client, *, name: str, site_url: str) -> tuple[str, str]:
    """(the approval page's HTML, its URL) after the owner pressed Connect."""
    response = start(client, name=name, site_url=site_url)
    assert response.status_code == 302, response.content[:500]
    page = requests.get(response["Location"], timeout=10)
    assert page.status_code == 200, page.text
    return page.text, response["Location"]


def link(pattern: re.Pattern[str], html: str) -> str:
    found = pattern.search(html)
    assert found, html
    return unescape(found.group(1))


def come_back(client: Client, url: str, query: dict[str, str] | None = None) -> list[str]:
    """Open our return URL as the browser would (following to the Stores page): the messages shown."""
    response = client.get(url, query, follow=True)
    assert response.redirect_chain == [("/stores/", 302)]
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


def key_body(state: str, **changes: Any) -> bytes:
    body = {
        "key_id": 7,
        "user_id": state,
        "consumer_key": "ck_" + "a" * 40,
        "consumer_secret": "cs_" + "b" * 40,
        "key_permissions": "read_write",
        **changes,
    }
    return json.dumps(body).encode()


def pending_state(client: Client, *, site_url: str, name: str = "Woo shop") -> str:
    """Press Connect; the user_id the approval page was given (the authorization's state)."""
    response = start(client, name=name, site_url=site_url)
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["user_id"][0]


def post_keys(client: Client, body: bytes, content_type: str = "application/json;charset=UTF-8") -> Any:
    return client.post(CALLBACK, body, content_type=content_type)


@pytest.fixture
def site(control: Control, site_url: str) -> dict[str, Any]:
    account = control.account("woocommerce", "approving-site")
    control.create_orders("woocommerce", "approving-site", count=3, seed=9)
    return account


def test_approve_connects_the_store_as_the_app_with_its_own_keys_and_imports_its_orders(
    owner_client: Client, site: dict[str, Any], site_url: str, control: Control
) -> None:
    html, url = approval_page(owner_client, name="Woo shop", site_url=site["base_url"])
    # The site is asked for our app, read_write, with our return and callback addresses
    asked = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(f"{site['base_url'].rstrip('/')}/wc-auth/v1/authorize?")
    assert asked["app_name"] == "Zopi order center"
    assert asked["scope"] == "read_write"
    assert asked["return_url"] == f"{site_url}/stores/woocommerce/return/"
    assert asked["callback_url"] == f"{site_url}/stores/woocommerce/callback/"
    authorization = ChannelAuthorization.objects.get()
    assert authorization.state == AuthorizationState.PENDING
    assert authorization.shop == site["base_url"].rstrip("/")
    assert "Zopi order center would like to connect to your store" in html
    assert "View and manage orders and sales reports" in html

    # Approve: the site posts the keys to our callback, then sends the browser back
    answer = requests.get(link(APPROVE_LINK, html), allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert parse_qs(back.query) == {"success": ["1"], "user_id": [asked["user_id"]]}
    shown = come_back(owner_client, f"{back.path}?{back.query}")
    assert shown == ["Connecting Woo shop: checking it with WooCommerce…"]

    # The store is the app's, with the key pair the site made (not the control API's), and a
    # webhook secret of ours; the connect task (eager here) checked it and imported its orders
    store = Store.objects.get(name="Woo shop")
    keys = SimAccount.objects.get(name="approving-site").options["api_keys"]
    assert len(keys) == 1
    assert store.auth_kind == AuthKind.APP
    assert store.status == StoreStatus.ACTIVE
    assert store.credentials == {"consumer_key": keys[0]["consumer_key"], "consumer_secret": keys[0]["consumer_secret"]}
    assert store.credentials["consumer_key"] != site["credentials"]["consumer_key"]
    assert len(store.webhook_secret) >= 40
    assert store.token_expires_at is None
    authorization.refresh_from_db()
    assert authorization.state == AuthorizationState.APPROVED
    assert authorization.grant == {}
    hooks = SimAccount.objects.get(name="approving-site").options["wc_webhooks"]
    assert sorted(hook["secret"] for hook in hooks.values()) == [store.webhook_secret] * 2
    assert Order.objects.filter(store=store).count() == 3  # the first import ran after the connect check


def test_deny_comes_back_with_a_message_and_nothing_stored(
    owner_client: Client, site: dict[str, Any], control: Control
) -> None:
    html, _ = approval_page(owner_client, name="Woo shop", site_url=site["base_url"])
    deny = urlsplit(link(DENY_LINK, html))
    assert parse_qs(deny.query)["success"] == ["0"]
    assert come_back(owner_client, f"{deny.path}?{deny.query}") == [
        f"You did not approve the connection on {site['base_url'].rstrip('/')}: nothing was connected. "
        "Connect again when ready."
    ]
    assert not Store.objects.exists()
    assert ChannelAuthorization.objects.get().state == AuthorizationState.CANCELED
    assert "api_keys" not in SimAccount.objects.get(name="approving-site").options
    # Coming back again with the same answer changes nothing
    assert come_back(owner_client, f"{deny.path}?{deny.query}") == [
        "This approval was used already: connect again if the store is not connected."
    ]


def test_an_approve_link_sending_the_keys_elsewhere_is_refused_before_any_key_is_made(
    owner_client: Client, site: dict[str, Any], settings: Any, webhook_receiver: Any
) -> None:
    html, _ = approval_page(owner_client, name="Woo shop", site_url=site["base_url"])
    approve = link(APPROVE_LINK, html)
    ours = f"{settings.SITE_URL}/stores/woocommerce/callback/"
    approve = approve.replace(requests.utils.quote(ours, safe=""), requests.utils.quote(webhook_receiver.url, safe=""))
    answer = requests.get(approve, allow_redirects=False, timeout=30)
    # the nonce covers the callback address: a changed one is refused before any key is made
    assert answer.status_code == 401
    assert "Invalid nonce verification" in answer.text
    assert SimAccount.objects.get(name="approving-site").options.get("api_keys", []) == []
    assert not Store.objects.exists()


def test_a_callback_that_does_not_answer_200_makes_the_site_delete_the_key(
    owner_client: Client, site: dict[str, Any]
) -> None:
    html, _ = approval_page(owner_client, name="Woo shop", site_url=site["base_url"])
    ChannelAuthorization.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = requests.get(link(APPROVE_LINK, html), allow_redirects=False, timeout=30)
    assert answer.status_code == 401
    assert "Error: An error occurred in the request and at the time were unable to send the consumer data." in (
        answer.text
    )
    assert SimAccount.objects.get(name="approving-site").options.get("api_keys") == []
    assert not Store.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"key_id=1&user_id=x", "application/x-www-form-urlencoded", 415, "must be JSON"),
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"[1, 2]", "application/json", 400, "a JSON object"),
        (b"[" * 2000 + b"]" * 2000, "application/json", 400, "not valid JSON"),  # nested too deep to parse
        (b"[" * 3000 + b"]" * 3000, "application/json", 413, "at most 4096 bytes"),
        (b'{"user_id": "' + b"x" * 5000 + b'"}', "application/json", 413, "at most 4096 bytes"),
    ],
    ids=["form", "not-json", "array", "deep", "huge-nesting", "huge-string"],
)
def test_a_callback_that_is_not_a_small_json_object_is_refused(
    owner_client: Client, site: dict[str, Any], body: bytes, content_type: str, status: int, says: str
) -> None:
    pending_state(owner_client, site_url=site["base_url"])
    response = post_keys(Client(), body, content_type)
    assert response.status_code == status
    assert says in response.json()["error"]
    assert not Store.objects.exists()
    assert ChannelAuthorization.objects.get().used_at is None


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"key_permissions": "read"}, "key_permissions must be read_write"),
        ({"key_permissions": "write"}, "key_permissions must be read_write"),
        ({"consumer_key": "ck_short"}, "consumer_key is not a WooCommerce key"),
        ({"consumer_secret": "cs_" + "Z" * 40}, "consumer_secret is not a WooCommerce key"),
        ({"consumer_key": ["ck_" + "a" * 40]}, "consumer_key is not a WooCommerce key"),
        ({"key_id": True}, "key_id must be a positive integer"),
        ({"key_id": "7"}, "key_id must be a positive integer"),
        ({"user_id": 123}, "user_id is missing"),
    ],
)
def test_a_callback_with_fields_of_the_wrong_kind_is_refused_and_leaves_the_request_pending(
    owner_client: Client, site: dict[str, Any], changes: dict[str, Any], says: str
) -> None:
    state = pending_state(owner_client, site_url=site["base_url"])
    response = post_keys(Client(), key_body(state, **changes))
    assert response.status_code == 400
    assert response.json() == {"error": says}
    assert not Store.objects.exists()
    authorization = ChannelAuthorization.objects.get()
    assert (authorization.used_at, authorization.state) == (None, AuthorizationState.PENDING)


def test_a_key_callback_for_no_pending_request_is_refused(owner_client: Client, site: dict[str, Any]) -> None:
    pending_state(owner_client, site_url=site["base_url"])
    response = post_keys(Client(), key_body("a-state-we-never-gave-out"))
    assert response.status_code == 403
    assert response.json() == {"error": "This approval is not one we asked for: connect again from the Stores page."}
    assert not Store.objects.exists()


def test_a_key_callback_for_a_request_used_already_or_expired_is_refused(
    owner_client: Client, site: dict[str, Any]
) -> None:
    used = pending_state(owner_client, site_url=site["base_url"], name="First")
    first = post_keys(Client(), key_body(used, consumer_key=site["credentials"]["consumer_key"]))
    assert first.status_code == 200, first.content
    assert list(Store.objects.values_list("name", flat=True)) == ["First"]
    again = post_keys(Client(), key_body(used))
    assert again.status_code == 403
    assert again.json()["error"] == "This approval was used already: connect again if the store is not connected."

    expired = pending_state(owner_client, site_url=site["base_url"], name="Second")
    ChannelAuthorization.objects.filter(store_name="Second").update(expires_at=timezone.now() - timedelta(seconds=1))
    late = post_keys(Client(), key_body(expired))
    assert late.status_code == 403
    assert late.json()["error"] == "This approval took too long and expired: connect again."
    assert list(Store.objects.values_list("name", flat=True)) == ["First"]


def test_coming_back_with_success_but_no_keys_sent_stores_nothing(owner_client: Client, site: dict[str, Any]) -> None:
    state = pending_state(owner_client, site_url=site["base_url"])
    assert come_back(owner_client, "/stores/woocommerce/return/", {"success": "1", "user_id": state}) == [
        f"WooCommerce did not send us the keys for {site['base_url'].rstrip('/')}: connect again."
    ]
    assert not Store.objects.exists()
    assert ChannelAuthorization.objects.get().state == AuthorizationState.PENDING


@pytest.mark.parametrize(
    "query",
    [{}, {"success": "2", "user_id": "x"}, {"success": "1"}, {"success": "0", "user_id": "x" * 300}],
)
def test_a_hostile_return_is_told_what_to_do(owner_client: Client, site: dict[str, Any], query: dict[str, str]) -> None:
    pending_state(owner_client, site_url=site["base_url"])
    assert come_back(owner_client, "/stores/woocommerce/return/", query) == [
        "WooCommerce sent you back without a valid answer: connect again."
    ]
    assert ChannelAuthorization.objects.get().state == AuthorizationState.PENDING


def test_a_return_in_another_browser_session_is_refused(owner_client: Client, owner: Any, site: dict[str, Any]) -> None:
    state = pending_state(owner_client, site_url=site["base_url"])
    other = Client()
    other.force_login(owner)
    assert come_back(other, "/stores/woocommerce/return/", {"success": "0", "user_id": state}) == [
        "This approval is not one we asked for: connect again from the Stores page."
    ]
    assert ChannelAuthorization.objects.get().state == AuthorizationState.PENDING


def test_the_panel_refuses_a_name_taken_by_another_shop_and_an_address_the_host_policy_refuses(
    owner_client: Client, account: Any, site: dict[str, Any]
) -> None:
    StoreFactory(account=account, name="Taken", status=StoreStatus.ACTIVE)
    taken = start(owner_client, name="Taken", site_url=site["base_url"])
    assert taken.status_code == 422
    assert "A store named “Taken” is already in this account: choose another name." in taken.content.decode()
    refused = start(owner_client, name="Woo shop", site_url="http://169.254.169.254/")
    assert refused.status_code == 422
    assert "169.254.169.254: a link-local address" in refused.content.decode()
    assert not ChannelAuthorization.objects.exists()


def test_a_store_whose_keys_were_revoked_reconnects_through_the_approval_page(
    owner_client: Client, site: dict[str, Any], control: Control
) -> None:
    html, _ = approval_page(owner_client, name="Woo shop", site_url=site["base_url"])
    requests.get(link(APPROVE_LINK, html), allow_redirects=False, timeout=30)
    store = Store.objects.get(name="Woo shop")
    first_keys = store.credentials
    # The merchant revokes our key on their site: the next pull is refused
    control.options("woocommerce", "approving-site", api_keys=None)
    store_pull(store_id=store.pk)
    store.refresh_from_db()
    assert store.status == StoreStatus.ERROR
    assert "WooCommerce refused the API keys" in store.last_error
    page = owner_client.get("/stores/").content.decode()
    assert reverse("channels_sync:woocommerce_reconnect", args=[store.pk]) in page

    # Reconnect: the same site's approval page; Approve gives the same row new keys
    response = owner_client.post(reverse("channels_sync:woocommerce_reconnect", args=[store.pk]))
    assert response["Location"].startswith(f"{site['base_url'].rstrip('/')}/wc-auth/v1/authorize?")
    html = requests.get(response["Location"], timeout=10).text
    assert requests.get(link(APPROVE_LINK, html), allow_redirects=False, timeout=30).status_code == 302
    store.refresh_from_db()
    assert Store.objects.count() == 1
    assert store.status == StoreStatus.ACTIVE
    assert store.credentials != first_keys
    assert store_pull(store_id=store.pk).orders >= 0
    store.refresh_from_db()
    assert store.status == StoreStatus.ACTIVE
