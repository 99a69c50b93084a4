"""TikTok Shop connected by seller authorization, end to end against the sandbox over real HTTP:
Connect → TikTok Shop's page → callback → pick shops → stores importing; tampered callbacks and
Cancel store nothing; tokens expiring every few minutes keep a store syncing for an hour of
sandbox time; a revoked authorization shows "Reconnect", which mends the store in place."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from channels_sync.enums import AuthKind, AuthorizationState, DeliveryState, StoreStatus
from channels_sync.models import ChannelAuthorization, ProviderAttempt, Store, WebhookDelivery
from channels_sync.providers.tiktok.provider import webhook_authorization
from channels_sync.services import delivery_process, store_pull
from channels_sync.services.tokens import StoreTokens
from channels_sync.tasks import refresh_due_tokens
from orders.models import Order
from sandbox.models import SimGrant

from .conftest import LIVE_DB
from .tiktok_helpers import operator_app, seller_answers

pytestmark = [LIVE_DB, pytest.mark.postgres]

SELLER = "acme-seller"


@pytest.fixture
def app(settings: Any, live_server: Any) -> Any:
    return operator_app(settings, live_server.url, token_lifetime=240)


@pytest.fixture
def shops(control: Any, app: Any) -> list[dict[str, Any]]:
    """Two shops of one seller, with orders; and another seller's shop."""
    made = []
    for name, count in (("acme-us", 3), ("acme-uk", 2)):
        made.append(control.account("tiktok", name))
        control.options("tiktok", name, seller=SELLER)
        control.create_orders("tiktok", name, count=count, seed=7)
    control.account("tiktok", "other-seller-shop")
    return made


def authorize(client: Client, *, seller: str = SELLER, action: str = "authorize") -> dict[str, str]:
    response = client.post("/stores/tiktok/authorize/")
    assert response.status_code == 302
    assert "service_id=7100000000000000042" in response["Location"]
    assert "state=" in response["Location"]
    return seller_answers(response["Location"], seller=seller, action=action)


def connect_all(client: Client, shop_ids: list[str]) -> Any:
    back = client.get("/stores/tiktok/callback/", authorize(client))
    assert back.status_code == 302
    assert "/stores/tiktok/shops/" in back["Location"]
    page = client.get(back["Location"])
    assert page.status_code == 200
    return client.post(back["Location"], {"shop": shop_ids}, follow=True)


def test_connect_picks_shops_of_the_seller_and_imports_their_orders(
    owner_client: Client, shops: list[dict[str, Any]], account: Any
) -> None:
    response = owner_client.post("/stores/tiktok/authorize/")
    answer = seller_answers(response["Location"], seller=SELLER)
    back = owner_client.get("/stores/tiktok/callback/", answer)
    page = owner_client.get(back["Location"])
    assert b"acme-us" in page.content
    assert b"acme-uk" in page.content
    assert b"other-seller-shop" not in page.content
    assert shops[0]["credentials"]["shop_cipher"].encode() not in page.content  # ciphers are never shown

    ids = [shop["credentials"]["shop_id"] for shop in shops]
    done = owner_client.post(back["Location"], {"shop": ids}, follow=True)

    assert done.redirect_chain[-1][0] == "/stores/"
    assert b"Connecting acme-us, acme-uk" in done.content
    stores = {store.name: store for store in Store.objects.filter(account=account)}
    assert sorted(stores) == ["acme-uk", "acme-us"]
    for store in stores.values():
        assert (store.status, store.auth_kind, store.base_url) == (
            StoreStatus.ACTIVE,
            AuthKind.APP,
            f"{shops[0]['base_url']}",
        )
        assert "app_key" not in store.credentials
        assert store.token_expires_at is not None
    assert Order.objects.filter(store=stores["acme-us"]).count() == 3  # the first import ran (eager tasks)
    assert Order.objects.filter(store=stores["acme-uk"]).count() == 2
    assert ChannelAuthorization.objects.get().state == AuthorizationState.APPROVED
    assert ChannelAuthorization.objects.get().grant_token == ""  # the grant lives on the stores only


def test_a_shop_connected_again_is_updated_in_place(
    owner_client: Client, shops: list[dict[str, Any]], account: Any
) -> None:
    shop_id = shops[0]["credentials"]["shop_id"]
    connect_all(owner_client, [shop_id])
    first = Store.objects.get(account=account)

    connect_all(owner_client, [shop_id])

    assert list(Store.objects.filter(account=account).values_list("pk", flat=True)) == [first.pk]


def test_wrong_reused_or_foreign_state_is_refused_and_nothing_is_stored(
    owner_client: Client, owner: Any, shops: list[dict[str, Any]], account: Any
) -> None:
    answer = authorize(owner_client)
    wrong = owner_client.get("/stores/tiktok/callback/", {**answer, "state": "not-ours"}, follow=True)
    assert b"not one we asked for" in wrong.content

    other_session = Client()
    other_session.force_login(owner)
    foreign = other_session.get("/stores/tiktok/callback/", answer, follow=True)
    assert b"another browser session" in foreign.content

    assert owner_client.get("/stores/tiktok/callback/", answer).status_code == 302  # the real one
    reused = owner_client.get("/stores/tiktok/callback/", answer, follow=True)
    assert b"used already" in reused.content

    hostile = owner_client.get("/stores/tiktok/callback/", {"state": "x" * 5000, "code": "y"}, follow=True)
    assert hostile.status_code == 200
    assert b"without a valid approval" in hostile.content
    assert not Store.objects.exists()
    assert SimGrant.objects.count() == 1  # only the real callback exchanged its code


def test_cancel_on_tiktok_page_says_so_and_stores_nothing(owner_client: Client, shops: list[dict[str, Any]]) -> None:
    answer = authorize(owner_client, action="cancel")
    assert "code" not in answer
    assert answer["error"] == "access_denied"

    back = owner_client.get("/stores/tiktok/callback/", answer, follow=True)

    assert b"TikTok Shop was not authorized: nothing was connected." in back.content
    assert not Store.objects.exists()
    assert not SimGrant.objects.exists()
    assert ChannelAuthorization.objects.get().state == AuthorizationState.CANCELED


def test_tokens_expiring_every_four_minutes_keep_a_store_syncing_for_an_hour(
    owner_client: Client, shops: list[dict[str, Any]], account: Any, control: Any, settings: Any
) -> None:
    connect_all(owner_client, [shops[0]["credentials"]["shop_id"]])
    store = Store.objects.get(account=account)
    expected = Order.objects.filter(store=store).count()
    for step in range(12):  # 12 × 5 sandbox minutes: every step finds the token expired at TikTok
        control.clock(advance_seconds=300)
        control.create_orders("tiktok", "acme-us", count=1, seed=100 + step)
        # Half the hour beat refreshes ahead of expiry; the other half the pull meets TikTok's
        # expired-token answer and refreshes once.
        settings.TOKEN_REFRESH_AHEAD = timedelta(minutes=10) if step % 2 else timedelta(seconds=0)
        refresh_due_tokens()
        result = store_pull(store_id=store.pk)
        expected += 1
        assert result.error == "", f"step {step}: {result.error}"
        assert Order.objects.filter(store=store).count() == expected
    store.refresh_from_db()
    assert store.status == StoreStatus.ACTIVE
    assert SimGrant.objects.filter(parent__isnull=False).count() >= 12  # a new access token per step


def test_a_revoked_authorization_shows_reconnect_which_mends_the_store_in_place(
    owner_client: Client, shops: list[dict[str, Any]], account: Any, control: Any
) -> None:
    connect_all(owner_client, [shops[0]["credentials"]["shop_id"]])
    store = Store.objects.get(account=account)
    control._call("POST", "tiktok/acme-us/revoke", (200,))  # the seller deauthorized the app
    control.clock(advance_seconds=300)

    result = store_pull(store_id=store.pk)

    store.refresh_from_db()
    assert result.error
    assert store.status == StoreStatus.RECONNECT
    assert "access_token" not in store.credentials
    assert "refresh_token" not in store.credentials
    page = owner_client.get("/stores/")
    assert f'action="/stores/{store.pk}/tiktok/reconnect/"'.encode() in page.content

    again = owner_client.post(f"/stores/{store.pk}/tiktok/reconnect/")
    answer = seller_answers(again["Location"], seller=SELLER)
    back = owner_client.get("/stores/tiktok/callback/", answer, follow=True)

    assert b"acme-us is reconnected" in back.content
    store.refresh_from_db()
    assert store.status == StoreStatus.ACTIVE
    assert Store.objects.filter(account=account).count() == 1
    control.create_orders("tiktok", "acme-us", count=1, seed=99)
    assert store_pull(store_id=store.pk).error == ""


def test_the_shops_of_one_authorization_refresh_as_one_group_spending_the_refresh_token_once(
    owner_client: Client, shops: list[dict[str, Any]], account: Any, settings: Any
) -> None:
    settings.TOKEN_REFRESH_AHEAD = timedelta(seconds=30)  # the 4-minute tokens are not refreshed at every use
    connect_all(owner_client, [shop["credentials"]["shop_id"] for shop in shops])
    refreshes = SimGrant.objects.filter(parent__isnull=False).count()
    first, second = Store.objects.filter(account=account).order_by("pk")
    assert first.token_group == second.token_group != ""
    stale = first.credentials["access_token"]
    assert second.credentials["access_token"] == stale
    barrier = threading.Barrier(2)
    got: list[str] = []
    failed: list[BaseException] = []

    def worker(store_id: int) -> None:
        try:
            barrier.wait()
            got.append(StoreTokens(store_id).refreshed(stale))  # both shops met the same expired token
        except BaseException as error:  # the assertion below reports it
            failed.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(store.pk,)) for store in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failed == []
    first.refresh_from_db()
    second.refresh_from_db()
    assert SimGrant.objects.filter(parent__isnull=False).count() == refreshes + 1  # one refresh for the two shops
    assert got == [first.credentials["access_token"]] * 2 != [stale] * 2
    assert second.credentials["access_token"] == first.credentials["access_token"]
    assert second.credentials["shop_cipher"] != first.credentials["shop_cipher"]  # each keeps its own shop
    assert (first.token_refreshing_until, second.token_refreshing_until) == (None, None)
    for store in (first, second):
        assert store_pull(store_id=store.pk).error == ""


def test_a_seller_deauthorization_webhook_marks_the_shops_of_the_authorization_for_reconnecting(
    owner_client: Client, client: Client, shops: list[dict[str, Any]], account: Any, settings: Any
) -> None:
    connect_all(owner_client, [shop["credentials"]["shop_id"] for shop in shops])
    first, second = Store.objects.filter(account=account).order_by("pk")
    body = json.dumps(
        {"type": 6, "tts_notification_id": "n-1", "shop_id": first.shop_id, "timestamp": 1, "data": {}}
    ).encode()
    signature = webhook_authorization(app_key=settings.TIKTOK_APP_KEY, app_secret=settings.TIKTOK_APP_SECRET, body=body)

    answer = client.post(
        f"/webhooks/tiktok/{first.public_id}/", body, content_type="application/json", HTTP_AUTHORIZATION=signature
    )

    assert answer.status_code == 200
    delivery = WebhookDelivery.objects.get(store=first)
    assert delivery_process(delivery_id=delivery.pk).state == DeliveryState.PROCESSED
    for store in (first, second):  # the two shops shared the withdrawn authorization
        store.refresh_from_db()
        assert store.status == StoreStatus.RECONNECT
        assert "access_token" not in store.credentials
    attempts = ProviderAttempt.objects.count()
    assert store_pull(store_id=first.pk).skipped
    assert ProviderAttempt.objects.count() == attempts  # nothing calls the shop until it is reconnected
