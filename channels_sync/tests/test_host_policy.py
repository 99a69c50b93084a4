"""The outbound host policy where merchants type addresses (the connect forms) and where workers
call them (a store already stored): refused with a clear message, and the host that stands in
for the target — a real listener on 127.0.0.1 — receives nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from channels_sync.models import ProviderAttempt, Store
from channels_sync.services import store_pull
from integrations.tests.servers import Server, answer, serving
from tests.factories import StoreFactory

WOO = {"name": "Shop", "consumer_key": "ck_1", "consumer_secret": "cs_1", "webhook_secret": "whsec"}
SHOPIFY = {"name": "Shop", "access_token": "shpat_1", "webhook_secret": "whsec"}
TIKTOK = {"name": "Shop", "app_key": "k", "app_secret": "s", "access_token": "t", "shop_cipher": "c"}


@pytest.fixture
def listener() -> Iterator[Server]:
    """Stands in for the address under test: it would answer, so a test can see it was never asked."""
    with serving(answer(200, b"[]")) as server:
        yield server


def connect(client: Client, channel: str, fields: dict[str, str]) -> Any:
    data = {f"{channel}-{key}": value for key, value in fields.items()}
    return client.post(reverse("channels_sync:connect", kwargs={"channel": channel}), data)


CASES = [
    # (channel, fields, loopback allowed, resolve, what the message says)
    ("woocommerce", {**WOO, "base_url": "http://127.0.0.1:{port}/"}, False, {}, "127.0.0.1: a loopback address"),
    ("woocommerce", {**WOO, "base_url": "http://169.254.169.254/"}, False, {}, "169.254.169.254: a link-local address"),
    (
        "woocommerce",
        {**WOO, "base_url": "https://shop.example.com/"},
        False,
        {"shop.example.com": ["10.0.0.7"]},
        "shop.example.com → 10.0.0.7: a private address",
    ),
    (
        "woocommerce",
        {**WOO, "base_url": "https://shop.example.com:{port}/"},
        False,
        {"shop.example.com": ["127.0.0.1"]},
        "shop.example.com → 127.0.0.1: a loopback address",
    ),
    ("woocommerce", {**WOO, "base_url": "http://127.0.0.1:{port}/wp?"}, True, {}, "a query or fragment"),
    ("woocommerce", {**WOO, "base_url": "http://127.0.0.1:{port}/#"}, True, {}, "a query or fragment"),
    ("shopify", {**SHOPIFY, "domain": "127.0.0.1:{port}"}, False, {}, "Allowed: https://<shop>.myshopify.com."),
    (
        "shopify",
        {**SHOPIFY, "domain": "evil.example.com"},
        False,
        {"evil.example.com": ["93.184.215.14"]},
        "evil.example.com is not this provider's host. Allowed: https://<shop>.myshopify.com.",
    ),
    ("shopify", {**SHOPIFY, "base_url": "http://127.0.0.1:{port}/s?"}, True, {}, "a query or fragment"),
    ("tiktok", {**TIKTOK, "base_url": "http://127.0.0.1:{port}/"}, False, {}, "127.0.0.1: a loopback address"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("channel", "fields", "loopback", "resolve", "message"), CASES)
def test_connect_forms_refuse_what_the_host_policy_refuses_and_call_nothing(
    owner_client: Client,
    listener: Server,
    settings: Any,
    channel: str,
    fields: dict[str, str],
    loopback: bool,
    resolve: dict[str, list[str]],
    message: str,
) -> None:
    settings.OUTBOUND_ALLOW_LOOPBACK = loopback
    settings.OUTBOUND_RESOLVE = resolve
    typed = {key: value.replace("{port}", str(listener.port)) for key, value in fields.items()}

    response = connect(owner_client, channel, typed)

    assert response.status_code == 422
    assert escape(message) in response.content.decode()
    assert "is refused" in response.content.decode()
    assert (listener.connections, Store.objects.count(), ProviderAttempt.objects.count()) == (0, 0, 0)


@pytest.mark.django_db
def test_a_channel_answer_redirecting_to_another_host_is_refused_at_connect(
    owner_client: Client, listener: Server, django_capture_on_commit_callbacks: Any
) -> None:
    """The loopback setting is on (the sandbox's): the site answers, with a redirect elsewhere.
    The channel is called by the connect task (eager here), not in the request."""
    with (
        serving(answer(302, b"", {"Location": f"{listener.url}/wp-json/wc/v3/orders"})) as site,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = connect(owner_client, "woocommerce", {**WOO, "base_url": site.url})

    assert response.status_code == 302
    page = owner_client.get(reverse("channels_sync:stores")).content.decode()
    # the message is ours (shown in the reader's language), its values marked as data: read without tags
    assert escape("WooCommerce answered with a redirect (302), which is not followed") in re.sub(r"<[^>]+>", "", page)
    store = Store.objects.get()  # the row that says why it did not connect
    assert (len(site.requests), listener.connections, store.status, store.credentials) == (1, 0, "not_connected", {})
    attempt = ProviderAttempt.objects.get()
    assert (attempt.store, attempt.status, attempt.path) == (store, 302, "/wp-json/wc/v3/orders")


@pytest.mark.django_db(transaction=True)  # the pull's fetching thread writes its attempts on its own connection
def test_a_stored_address_the_policy_refuses_is_never_called_by_the_pull(
    account: Any, listener: Server, settings: Any
) -> None:
    """A base URL already in the database (typed before the policy, or by support): the client
    itself refuses it on every request."""
    settings.OUTBOUND_ALLOW_LOOPBACK = False
    store = StoreFactory(account=account, channel="woocommerce", base_url=listener.url)
    store.credentials = {"consumer_key": "ck_1", "consumer_secret": "cs_1"}
    store.save()

    result = store_pull(store_id=store.pk)

    assert "127.0.0.1: a loopback address" in result.error
    assert listener.connections == 0
    store.refresh_from_db()
    assert (store.status, "is refused" in store.last_error) == ("error", True)
    attempt = ProviderAttempt.objects.get()
    assert (attempt.store_id, attempt.provider, attempt.status) == (store.pk, "woocommerce", None)
    assert "is refused" in attempt.error
