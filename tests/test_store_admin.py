"""Support's store admin: a store's account, channel, base URL and domain are read-only (changing
one would send its token elsewhere or split it between tenants), and stores cannot be added
there (merchants connect them)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from channels_sync.models import Store
from tests.factories import StoreFactory, UserFactory
from tests.pages import tags, text

pytestmark = pytest.mark.django_db

STORES = "/admin/channels_sync/store/"


@pytest.fixture
def support(client: Client) -> Client:
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    return client


def test_posting_another_base_url_or_account_changes_neither(support: Client, store: Any, other_account: Any) -> None:
    # given a store reached at its own address
    Store.objects.filter(pk=store.pk).update(base_url="https://a-shopify.myshopify.com")
    page = support.get(f"{STORES}{store.pk}/change/")
    assert page.status_code == 200
    inputs = {tag.attrs.get("name") for tag in tags(page) if tag.name in {"input", "select", "textarea"}}
    assert {"base_url", "account", "channel", "domain"}.isdisjoint(inputs)
    assert {"name", "status"} <= inputs
    # when support posts the form with another address, account, channel and domain
    response = support.post(
        f"{STORES}{store.pk}/change/",
        {
            "name": "Renamed",
            "status": "active",
            "base_url": "http://169.254.169.254/",
            "account": other_account.pk,
            "channel": "woocommerce",
            "domain": "evil.example",
            "_save": "Save",
        },
    )
    # then only what support may change changed
    assert response.status_code == 302, text(response)
    saved = Store.objects.get(pk=store.pk)
    assert (saved.name, saved.base_url, saved.account_id, saved.channel, saved.domain) == (
        "Renamed",
        "https://a-shopify.myshopify.com",
        store.account_id,
        "shopify",
        store.domain,
    )


def test_stores_cannot_be_added_in_the_admin(support: Client, account: Any) -> None:
    before = Store.objects.count()
    assert support.get(f"{STORES}add/").status_code == 403
    response = support.post(
        f"{STORES}add/",
        {"account": account.pk, "channel": "shopify", "name": "X", "domain": "x", "base_url": "http://127.0.0.1:1/"},
    )
    assert response.status_code == 403
    assert Store.objects.count() == before
    assert f'href="{STORES}add/"' not in text(support.get(STORES))


def test_the_store_list_still_loads(support: Client) -> None:
    StoreFactory(name="Listed shop")
    assert "Listed shop" in text(support.get(STORES))


def test_renaming_a_store_to_a_name_its_account_uses_is_a_form_error(support: Client, store: Any) -> None:
    # given a second store of the same account
    StoreFactory(account=store.account, name="Second shop")
    # when support renames the first to the second's name
    response = support.post(f"{STORES}{store.pk}/change/", {"name": "Second shop", "status": "active", "_save": "Save"})
    # then the form says so (no 500) and nothing changed
    assert response.status_code == 200
    assert "already has a store with this name" in text(response)
    assert Store.objects.get(pk=store.pk).name == store.name
