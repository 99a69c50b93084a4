"""Installing the operator's Shopify app from /stores/, against the sandbox over real HTTP: the
install page, the signed callback, the code exchange and the connect check; every tampered or
replayed callback refused with nothing stored; Cancel leaves nothing behind."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from django.test import Client

from channels_sync.enums import AuthKind, AuthorizationState, StoreStatus
from channels_sync.models import ChannelAuthorization, Store, WebhookDelivery
from channels_sync.providers.shopify.oauth import ShopNameInvalid, callback_hmac, shop_domain_clean
from orders.models import Order
from sandbox.models import SimAuthCode, SimGrant
from sandbox.models import WebhookDelivery as SimDelivery
from sandbox.tests.conftest import Control
from sandbox.webhooks import deliveries_send_due

from .conftest import LIVE_DB
from .shopify_app import CLIENT_SECRET, approve, install, local, messages_of, query_of, start_install

pytestmark = [LIVE_DB, pytest.mark.postgres]


def callback(client: Client, url: str) -> Any:
    return client.get(local(url), follow=True)


def signed(query: dict[str, str], **changes: str) -> str:
    """A callback query changed, then signed with the app's secret (as only Shopify could)."""
    changed = {key: value for key, value in {**query, **changes}.items() if key != "hmac"}
    changed["hmac"] = callback_hmac(changed, CLIENT_SECRET)
    return "/stores/shopify/callback/?" + urlencode(changed)


def test_installing_the_app_connects_the_shop_and_imports_its_orders(
    owner_client: Client, control: Control, shopify_app: Any, account: Any
) -> None:
    # given a shop with orders
    control.account("shopify", "install-shop")
    control.create_orders("shopify", "install-shop", count=4, seed=3)

    # when the merchant gives the bare shop name, approves on the install page and comes back
    authorize = start_install(owner_client, name="My Shopify", shop="Install-Shop")
    assert authorize.startswith(f"{shopify_app.redirect_uris[0]}sandbox/shopify/install-shop/admin/oauth/authorize?")
    asked = query_of(authorize)
    assert (asked["client_id"], asked["redirect_uri"]) == (
        "zopi-test-shopify",
        f"{shopify_app.redirect_uris[0]}stores/shopify/callback/",
    )
    assert "grant_options[]" not in asked  # offline access (the default)
    page = owner_client.get(local(authorize))
    assert b"Install Zopi order center (dev)?" in page.content
    assert b"read_orders" in page.content
    back = approve(owner_client, authorize)
    assert sorted(query_of(back)) == ["code", "hmac", "host", "shop", "state", "timestamp"]
    assert (
        query_of(back)["host"] == "YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvaW5zdGFsbC1zaG9w"
    )  # admin.shopify.com/store/install-shop
    response = callback(owner_client, back)

    # then the store is connected as the app, with expiring tokens, and its orders are imported
    assert response.redirect_chain[-1][0] == "/stores/"
    assert any("Shopify approved the install" in message for message in messages_of(response))
    store = Store.objects.get(account=account)
    assert (store.name, store.status, store.auth_kind, store.domain) == (
        "My Shopify",
        StoreStatus.ACTIVE,
        AuthKind.APP,
        "install-shop.myshopify.com",
    )
    assert sorted(store.credentials) == ["access_token", "refresh_token"]
    assert store.webhook_secret == ""  # its webhooks are signed with the app's secret: the settings'
    assert store.token_expires_at is not None
    assert store.refresh_expires_at is not None
    assert Order.objects.filter(store=store).count() == 4
    authorization = ChannelAuthorization.objects.get()
    assert (authorization.state, authorization.grant, authorization.used_at is not None) == (
        AuthorizationState.APPROVED,
        {},
        True,
    )
    grant = SimGrant.objects.get()
    assert (grant.access_token, grant.access_expires_at is not None) == (store.credentials["access_token"], True)
    # no secret of the store reaches the page
    page = owner_client.get("/stores/").content.decode()
    assert store.credentials["access_token"] not in page
    assert store.credentials["refresh_token"] not in page
    assert CLIENT_SECRET not in page


ROTATED_SECRET = "zopi-test-shopify-rotated"  # noqa: S105 (the sandbox app's new secret)


def test_an_app_stores_webhooks_still_verify_after_the_operator_rotates_the_app_secret(
    owner_client: Client, control: Control, shopify_app: Any, settings: Any, account: Any
) -> None:
    # given a shop (its admin host padded base64) installed as the app
    back = install(owner_client, control, name="Rotating", shop="rotate-shop")
    assert query_of(back)["host"].endswith("=")
    callback(owner_client, back)
    store = Store.objects.get(account=account)
    assert store.status == StoreStatus.ACTIVE

    # when the operator rotates the app's secret: Shopify signs with the new one, the old one is
    # kept for the overlap, then revoked
    shopify_app.client_secret = ROTATED_SECRET
    shopify_app.save()
    settings.SHOPIFY_CLIENT_SECRET, settings.SHOPIFY_PREVIOUS_CLIENT_SECRET = ROTATED_SECRET, CLIENT_SECRET
    control.create_orders("shopify", "rotate-shop", count=1, seed=5)
    deliveries_send_due()
    settings.SHOPIFY_PREVIOUS_CLIENT_SECRET = ""
    control.create_orders("shopify", "rotate-shop", count=1, seed=6)
    deliveries_send_due()

    # then every webhook of the store was taken
    sent = SimDelivery.objects.filter(topic="orders/create")
    assert [delivery.last_status for delivery in sent] == [200, 200]
    assert WebhookDelivery.objects.filter(store=store, topic="orders/create").count() == 2


def local_url(query: dict[str, str], *, drop: str = "", **changes: str) -> str:
    """A callback query as a merchant's browser would send it, some values changed (not re-signed)."""
    kept = {key: value for key, value in {**query, **changes}.items() if key != drop}
    return "/stores/shopify/callback/?" + urlencode(kept)


def flipped(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


# (how the callback is tampered with, what the merchant reads)
TAMPERED = {
    "a bad hmac": (lambda query: local_url(query, hmac=flipped(query["hmac"])), "not signed by Shopify"),
    "no hmac": (lambda query: local_url(query, drop="hmac"), "not signed by Shopify"),
    "a changed code": (lambda query: local_url(query, code="f" * 32), "not signed by Shopify"),
    "a wrong state": (lambda query: signed(query, state="not-the-state"), "not one we asked for"),
    "a shop outside myshopify.com": (
        lambda query: signed(query, shop="tamper-shop.example.com"),
        "not a Shopify shop name",
    ),
    "another shop than asked": (lambda query: signed(query, shop="someone-else.myshopify.com"), "another shop"),
    "a parameter twice": (lambda query: local_url(query) + "&shop=tamper-shop.myshopify.com", "not one Shopify sends"),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERED))
def test_a_tampered_callback_is_refused_and_nothing_is_stored(
    tamper: str, owner_client: Client, control: Control, shopify_app: Any
) -> None:
    back = install(owner_client, control, name="Tampered", shop="tamper-shop")
    tampered, said = TAMPERED[tamper]
    response = callback(owner_client, tampered(query_of(back)))
    assert response.redirect_chain[-1][0] == "/stores/"
    assert said in " ".join(messages_of(response))
    assert not Store.objects.exists()
    assert not SimGrant.objects.exists()  # the code was never exchanged
    assert SimAuthCode.objects.get().used_at is None


def test_a_replayed_callback_is_refused_and_the_store_is_not_touched(
    owner_client: Client, control: Control, shopify_app: Any
) -> None:
    back = install(owner_client, control, name="Replayed", shop="replay-shop")
    callback(owner_client, back)
    store = Store.objects.get()
    credentials = store.credentials
    response = callback(owner_client, back)
    assert any("used already" in message for message in messages_of(response))
    store.refresh_from_db()
    assert (Store.objects.count(), store.credentials, SimGrant.objects.count()) == (1, credentials, 1)


def test_a_callback_in_another_browser_session_is_refused(
    owner_client: Client, owner: Any, control: Control, shopify_app: Any
) -> None:
    back = install(owner_client, control, name="Elsewhere", shop="session-shop")
    other = Client()
    other.force_login(owner)  # the same owner, another browser (or a victim sent the attacker's link)
    response = callback(other, back)
    assert any("another browser session" in message for message in messages_of(response))
    assert not Store.objects.exists()
    assert not SimGrant.objects.exists()
    # and the approval is still the first browser's to finish
    callback(owner_client, back)
    assert Store.objects.get().status == StoreStatus.ACTIVE


def test_cancel_on_the_install_page_says_so_and_stores_nothing(
    owner_client: Client, control: Control, shopify_app: Any
) -> None:
    control.account("shopify", "cancel-shop")
    back = approve(owner_client, start_install(owner_client, name="Canceled", shop="cancel-shop"), decision="cancel")
    assert query_of(back) == {"error": "access_denied", "state": query_of(back)["state"]}
    response = callback(owner_client, back)
    assert any(message.startswith("You canceled the install") for message in messages_of(response))
    assert (Store.objects.count(), SimAuthCode.objects.count(), SimGrant.objects.count()) == (0, 0, 0)
    assert ChannelAuthorization.objects.get().state == AuthorizationState.CANCELED


def test_the_install_form_refuses_a_shop_name_that_is_not_shopifys(owner_client: Client, shopify_app: Any) -> None:
    for typed in ("evil.example.com", "-shop", "shop name", "a.myshopify.com.evil.com", "x" * 80):
        response = owner_client.post(
            "/stores/shopify/install/", {"shopify-app-name": "Bad", "shopify-app-shop": typed}, follow=True
        )
        assert any("e.g. my-shop.myshopify.com" in message for message in messages_of(response)), typed
    assert not ChannelAuthorization.objects.exists()


def test_shop_names_are_completed_and_checked() -> None:
    assert shop_domain_clean("my-shop") == "my-shop.myshopify.com"
    assert shop_domain_clean(" https://My-Shop.myshopify.com/ ") == "my-shop.myshopify.com"
    for typed in ("", "my_shop", "my-shop.myshopify.com/admin", "my-shop.shopify.com", "-a.myshopify.com"):
        with pytest.raises(ShopNameInvalid):
            shop_domain_clean(typed)


def test_the_install_page_refuses_an_unknown_app_or_an_unregistered_redirect(
    client: Client, control: Control, shopify_app: Any
) -> None:
    control.account("shopify", "page-shop")
    base = "/sandbox/shopify/page-shop/admin/oauth/authorize"
    unknown = client.get(base, {"client_id": "nobody", "redirect_uri": shopify_app.redirect_uris[0], "state": "s"})
    assert (unknown.status_code, b"the client_id is not an app" in unknown.content) == (400, True)
    elsewhere = client.get(base, {"client_id": shopify_app.client_id, "redirect_uri": "https://evil.example/cb"})
    assert (elsewhere.status_code, b"redirect_uri is not whitelisted" in elsewhere.content) == (400, True)
    nowhere = client.get(base.replace("page-shop", "no-such-shop"), {"client_id": shopify_app.client_id})
    assert nowhere.status_code == 404


def test_a_code_works_once_and_not_after_it_expired(
    owner_client: Client, control: Control, shopify_app: Any, site_url: str
) -> None:
    token_url = f"{site_url}/sandbox/shopify/code-shop/admin/oauth/access_token"
    base = {"client_id": shopify_app.client_id, "client_secret": CLIENT_SECRET, "expiring": 1}
    first = query_of(install(owner_client, control, name="Codes", shop="code-shop"))["code"]
    answer = requests.post(token_url, json={**base, "code": first}, timeout=10)
    assert answer.status_code == 200
    assert sorted(answer.json()) == ["access_token", "expires_in", "refresh_token", "refresh_token_expires_in", "scope"]
    assert answer.json()["expires_in"] <= 300
    again = requests.post(token_url, json={**base, "code": first}, timeout=10)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_request")
    wrong_secret = requests.post(token_url, json={**base, "client_secret": "nope", "code": first}, timeout=10)
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    second = query_of(approve(owner_client, start_install(owner_client, name="Codes 2", shop="code-shop")))["code"]
    control.clock(advance_seconds=61)  # codes live 60 sim seconds
    late = requests.post(token_url, data={**base, "code": second}, timeout=10)  # a form body is taken too
    assert (late.status_code, late.json()["error"]) == (400, "invalid_request")


def test_an_htmx_post_of_the_panel_is_sent_to_shopify_as_a_full_page(owner_client: Client, shopify_app: Any) -> None:
    form = {"shopify-app-name": "Htmx", "shopify-app-shop": "htmx-shop"}
    response = owner_client.post("/stores/shopify/install/", form, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "/sandbox/shopify/htmx-shop/admin/oauth/authorize?" in response["HX-Redirect"]
