"""Shopify's signatures against the operator's app secrets: the install callback's ``hmac`` as
Shopify (and its official Python library) computes it, a padded base64 ``host`` included; webhooks
and compliance webhooks of app stores under the current and, while rotating, the previous secret."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import shopify

from channels_sync.providers.shopify.oauth import app_secrets, callback_signed
from channels_sync.providers.shopify.provider import ShopifyProvider, shopify_hmac
from sandbox.providers.shopify.oauth import callback_hmac as sandbox_callback_hmac

SECRET, OLD_SECRET = "shpss_current", "shpss_previous"  # noqa: S105 (test values)
# A shop whose admin host ends in "=" padding, which form encoding writes as %3D, unlike Shopify's
# rule; the state adds "+", "/" and a space (a shop name's base64 never holds "+" or "/").
SHOP = "my-shop"
HOST = base64.b64encode(f"admin.shopify.com/store/{SHOP}".encode()).decode()


@pytest.fixture
def library_secret() -> Iterator[None]:
    """The official library's Session keyed with the app's secret (a class setting: put back after)."""
    before = shopify.Session.secret
    shopify.Session.setup(api_key="zopi", secret=SECRET)
    yield
    shopify.Session.secret = before


def callback_query(**changes: str) -> dict[str, str]:
    query = {
        "code": "0907a61c0c8d55e99db179b68161bc00",
        "host": HOST,
        "shop": f"{SHOP}.myshopify.com",
        "state": "st+at/e=1 2",
        "timestamp": "1337178173",
    }
    return {**query, **changes}


def test_the_vectors_hold_what_form_encoding_changes() -> None:
    assert HOST.endswith("==")
    assert {"+", "/", "=", " "} <= set(callback_query()["state"])


def test_a_callback_signed_by_shopifys_python_library_is_accepted(library_secret: None) -> None:
    query = callback_query()
    query["hmac"] = shopify.Session.calculate_hmac(query)

    assert callback_signed(query, [SECRET])
    assert callback_signed(query, [OLD_SECRET, SECRET])  # signed with the new one while rotating


@pytest.mark.parametrize(
    "tampered",
    [{"host": base64.b64encode(b"admin.shopify.com/store/other").decode()}, {"shop": "other.myshopify.com"}],
)
def test_a_tampered_callback_is_refused(library_secret: None, tampered: dict[str, str]) -> None:
    query = callback_query()
    query["hmac"] = shopify.Session.calculate_hmac(query)

    assert not callback_signed({**query, **tampered}, [SECRET])
    assert not callback_signed(query, [OLD_SECRET])
    assert not callback_signed(query, [])
    assert not callback_signed({**query, "hmac": ""}, [SECRET])


def test_pairs_cannot_pass_for_others(library_secret: None) -> None:
    # "&" and "=" inside a value or name are escaped: one pair cannot be read as two
    query = {"a": "1&b=2", "timestamp": "1"}
    query["hmac"] = shopify.Session.calculate_hmac(query)

    assert callback_signed(query, [SECRET])
    assert not callback_signed({"a": "1", "b": "2", "timestamp": "1", "hmac": query["hmac"]}, [SECRET])


def test_the_sandbox_signs_as_shopifys_library_does(library_secret: None) -> None:
    query = callback_query()

    assert sandbox_callback_hmac(query, SECRET) == shopify.Session.calculate_hmac(query)


def test_app_secrets_are_the_current_then_the_previous(settings: Any) -> None:
    settings.SHOPIFY_CLIENT_SECRET, settings.SHOPIFY_PREVIOUS_CLIENT_SECRET = SECRET, OLD_SECRET
    assert app_secrets() == (SECRET, OLD_SECRET)
    settings.SHOPIFY_PREVIOUS_CLIENT_SECRET = ""
    assert app_secrets() == (SECRET,)
    settings.SHOPIFY_CLIENT_SECRET, settings.SHOPIFY_PREVIOUS_CLIENT_SECRET = "", OLD_SECRET
    assert app_secrets() == ()  # no app: nothing is accepted


def signed_webhook(secret: str, body: bytes = b'{"id": 1}') -> dict[str, Any]:
    return {"headers": {"X-Shopify-Hmac-Sha256": shopify_hmac(secret, body)}, "body": body}


def test_an_app_stores_webhooks_verify_under_both_secrets_while_rotating(settings: Any) -> None:
    # given the operator rotated the app's secret and keeps the old one for the overlap
    settings.SHOPIFY_CLIENT_SECRET, settings.SHOPIFY_PREVIOUS_CLIENT_SECRET = SECRET, OLD_SECRET
    app_store: dict[str, str] = {"access_token": "shpat_x"}  # no webhook secret of its own

    assert ShopifyProvider.verify_webhook(**signed_webhook(SECRET), credentials=app_store)
    assert ShopifyProvider.verify_webhook(**signed_webhook(OLD_SECRET), credentials=app_store)
    assert not ShopifyProvider.verify_webhook(**signed_webhook("another"), credentials=app_store)

    # when the old secret is revoked (the setting emptied), it no longer verifies
    settings.SHOPIFY_PREVIOUS_CLIENT_SECRET = ""
    assert not ShopifyProvider.verify_webhook(**signed_webhook(OLD_SECRET), credentials=app_store)
    assert ShopifyProvider.verify_webhook(**signed_webhook(SECRET), credentials=app_store)


def test_a_custom_app_stores_webhooks_verify_with_its_own_secret_only(settings: Any) -> None:
    settings.SHOPIFY_CLIENT_SECRET, settings.SHOPIFY_PREVIOUS_CLIENT_SECRET = SECRET, OLD_SECRET
    custom = {"access_token": "shpat_x", "webhook_secret": "shpss_custom"}

    assert ShopifyProvider.verify_webhook(**signed_webhook("shpss_custom"), credentials=custom)
    assert not ShopifyProvider.verify_webhook(**signed_webhook(SECRET), credentials=custom)
    assert not ShopifyProvider.verify_webhook(**signed_webhook(OLD_SECRET), credentials=custom)
