"""Expiring Shopify tokens of an app-connected store, against the sandbox over real HTTP and real
PostgreSQL: tokens living five sandbox minutes keep a store pulling for a sandbox hour; two workers
refreshing at once spend the refresh token once; a refresh whose answer is lost is recovered; a
revoked refresh token makes the store "needs reconnecting", and Reconnect brings it back in place."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from channels_sync.enums import AuthKind, StoreStatus
from channels_sync.models import ProviderAttempt, Store
from channels_sync.services import store_pull
from channels_sync.services.tokens import StoreTokens
from integrations.oauth import GrantRefused
from orders.models import Order
from sandbox.tests.conftest import Control

from .conftest import LIVE_DB
from .shopify_app import TOKEN_LIFETIME, approve, install, local, messages_of

pytestmark = [LIVE_DB, pytest.mark.postgres]


def grants(control: Control, shop: str) -> list[dict[str, Any]]:
    return control._call("GET", f"shopify/{shop}/grants", (200,))["grants"]


def installed(client: Client, control: Control, shop: str, *, orders: int = 2) -> Store:
    """A shop with ``orders`` orders, installed as the app from /stores/ (imported at once)."""
    control.account("shopify", shop)
    if orders:
        control.create_orders("shopify", shop, count=orders, seed=11)
    client.get(local(install(client, control, name=f"Store {shop}", shop=shop)))
    store = Store.objects.get(domain=f"{shop}.myshopify.com")
    assert (store.status, store.auth_kind) == (StoreStatus.ACTIVE, AuthKind.APP)
    return store


def test_a_store_keeps_pulling_for_an_hour_of_sandbox_time(
    owner_client: Client, control: Control, shopify_app: Any
) -> None:
    store = installed(owner_client, control, "hour-shop")
    seen = Order.objects.filter(store=store).count()
    for step in range(12):  # 12 × 5 minutes: every pull finds its token expired in the sandbox
        control.clock(advance_seconds=TOKEN_LIFETIME)
        control.create_orders("shopify", "hour-shop", count=1, seed=100 + step)
        result = store_pull(store_id=store.pk)
        assert result.error in (None, ""), result.error
        seen += 1
        assert Order.objects.filter(store=store).count() == seen
    store.refresh_from_db()
    assert store.status == StoreStatus.ACTIVE
    chain = grants(control, "hour-shop")
    # one grant from the install, then one child per expired token: a line, never a fork
    assert len(chain) == 13
    assert [grant["parent"] for grant in chain[1:]] == [grant["id"] for grant in chain[:-1]]
    assert not any(grant["revoked"] for grant in chain)


def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(
    owner_client: Client, control: Control, shopify_app: Any
) -> None:
    store = installed(owner_client, control, "race-shop", orders=0)
    stale = store.credentials["access_token"]
    barrier = threading.Barrier(2)
    got: list[str] = []
    failed: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            got.append(StoreTokens(store.pk).refreshed(stale))  # both saw the same 401
        except BaseException as error:  # the assertion below reports it
            failed.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failed == []
    store.refresh_from_db()
    assert got == [store.credentials["access_token"]] * 2
    assert got[0] != stale
    root, *children = grants(control, "race-shop")
    assert [child["parent"] for child in children] == [root["id"]]  # one refresh, one child
    assert store.token_refreshing_until is None


def test_a_lost_refresh_answer_is_recovered(
    owner_client: Client, control: Control, shopify_app: Any, settings: Any
) -> None:
    store = installed(owner_client, control, "lost-shop", orders=1)
    settings.SYNC_PROVIDER_TIMEOUT = 1.0  # our read timeout; the sandbox holds the answer 2 s
    control._call("POST", "shopify/lost-shop/grants/lose-next-refresh", (200,), {"hold_seconds": 2})
    control.clock(advance_seconds=TOKEN_LIFETIME)
    control.create_orders("shopify", "lost-shop", count=1, seed=42)

    result = store_pull(store_id=store.pk)

    assert result.error in (None, ""), result.error
    assert Order.objects.filter(store=store).count() == 2
    root, lost, kept = grants(control, "lost-shop")
    # the refresh was done but its answer never came: the same refresh token was spent again
    assert (lost["parent"], lost["revoked"], lost["used"]) == (root["id"], True, False)
    assert (kept["parent"], kept["revoked"], kept["used"]) == (root["id"], False, True)
    tries = ProviderAttempt.objects.filter(store=store, path__endswith="/admin/oauth/access_token").order_by("pk")
    assert [attempt.status for attempt in tries] == [None, 200]  # the first timed out


def test_a_revoked_refresh_token_shows_reconnect_and_reconnecting_restores_the_store_in_place(
    owner_client: Client, control: Control, shopify_app: Any
) -> None:
    store = installed(owner_client, control, "revoked-shop", orders=2)
    control._call("POST", "shopify/revoked-shop/grants/revoke", (200,))  # the merchant removed the app
    control.clock(advance_seconds=TOKEN_LIFETIME)

    # the next pull finds the token refused, the refresh refused for good
    result = store_pull(store_id=store.pk)
    assert result.error
    store.refresh_from_db()
    assert (store.status, "access_token" in store.credentials, "refresh_token" in store.credentials) == (
        StoreStatus.RECONNECT,
        False,
        False,
    )
    with pytest.raises(GrantRefused):
        StoreTokens(store.pk).refreshed("")

    # the Stores page shows Reconnect; one click goes back through the install for that shop
    page = owner_client.get("/stores/").content.decode()
    reconnect = f'action="/stores/{store.pk}/shopify/reconnect/"'
    assert reconnect in page
    response = owner_client.post(f"/stores/{store.pk}/shopify/reconnect/")
    assert response.status_code == 302
    assert "/sandbox/shopify/revoked-shop/admin/oauth/authorize?" in response["Location"]
    control.create_orders("shopify", "revoked-shop", count=1, seed=77)
    back = owner_client.get(local(approve(owner_client, response["Location"])), follow=True)

    # then it is the same store, active again with new tokens, its orders kept and new ones imported
    assert any("Shopify approved the install" in message for message in messages_of(back))
    again = Store.objects.get()
    assert (again.pk, again.public_id, again.status, again.auth_kind) == (
        store.pk,
        store.public_id,
        StoreStatus.ACTIVE,
        AuthKind.APP,
    )
    assert sorted(again.credentials) == ["access_token", "refresh_token"]
    assert Order.objects.filter(store=again).count() == 3
    assert reconnect not in owner_client.get("/stores/").content.decode()
