"""The stores page: health, connect, pause/resume/disconnect, resync; the order actions that
reach the channel (resync) and the duplicate confirmation. Tenant isolation and query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from channels_sync.enums import StoreStatus
from channels_sync.models import Store
from orders.enums import OrderEventType
from orders.models import Order, OrderEvent
from orders.services import LineData, OrderData, orders_upsert_from_channel
from tests.factories import OrderFactory, StoreFactory

pytestmark = pytest.mark.django_db


def secret_store(account: Any, name: str) -> Store:
    store = StoreFactory(account=account, name=name, base_url="https://shop.example")
    store.credentials = {"access_token": "shpat_TOPSECRET"}
    store.webhook_secret = "whsec_TOPSECRET"
    store.save()
    return store


def test_the_stores_page_lists_health_and_never_renders_secrets(owner_client: Client, account: Any) -> None:
    store = secret_store(account, "Main shop")
    OrderFactory(store=store)
    Store.objects.filter(pk=store.pk).update(
        status="error", last_error="Shopify answered 401: bad token", next_pull_at=timezone.now()
    )
    response = owner_client.get("/stores/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Main shop" in html
    assert "Shopify answered 401: bad token" in html
    assert "Next automatic try at" in html
    assert f"/webhooks/shopify/{store.public_id}/" in html
    assert "TOPSECRET" not in html
    # at rest too: the columns hold Fernet tokens, not the secrets
    row = Store.objects.filter(pk=store.pk).values("credentials_token", "webhook_secret_token").get()
    assert "TOPSECRET" not in row["credentials_token"] + row["webhook_secret_token"]
    assert store.credentials == {"access_token": "shpat_TOPSECRET"}


def test_store_health_counts_the_orders_placed_in_the_last_24_hours(account: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from channels_sync.selectors import stores_with_health

    busy = secret_store(account, "Busy")
    secret_store(account, "Quiet")
    now = timezone.now()
    for hours_ago, archived in ((1, False), (23, False), (2, True), (25, False), (24 * 30, False)):
        OrderFactory(store=busy, placed_at=now - timedelta(hours=hours_ago), archived=archived)
    counts = {store.name: store.orders_24h for store in stores_with_health(account=account)}
    assert counts == {"Busy": 3, "Quiet": 0}  # archived ones too: health is about what arrived


def test_a_running_pull_shows_its_progress_and_the_table_polls_until_it_ends(
    owner_client: Client, account: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    store = secret_store(account, "Big shop")
    now = timezone.now()
    Store.objects.filter(pk=store.pk).update(
        pull_started_at=now, sync_lock_until=now + timedelta(minutes=15), pull_orders=2500
    )
    html = owner_client.get("/stores/").content.decode()
    assert "Syncing… 2500 orders so far" in html
    assert 'hx-trigger="every 3s [document.visibilityState' in html
    # the poll asks for the table only: the connect forms (maybe half filled in) are left alone
    table = owner_client.get("/stores/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="store-table").content.decode()
    assert 'id="store-table"' in table
    assert "Syncing… 2500 orders so far" in table
    assert "Connect a store" not in table
    # ended: the last pull again, and no more polling
    Store.objects.filter(pk=store.pk).update(pull_started_at=None, sync_lock_until=None, last_pull_at=now)
    table = owner_client.get("/stores/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="store-table").content.decode()
    assert "Syncing" not in table
    assert "every 3s" not in table


def test_resync_shows_the_pull_as_starting_until_a_worker_takes_it(
    owner_client: Client, account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    store = secret_store(account, "Main shop")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = owner_client.post(f"/stores/{store.pk}/resync/", HTTP_HX_REQUEST="true")
    assert len(callbacks) == 1  # the pull task, queued on commit
    assert "Sync starting…" in response.content.decode()
    assert 'hx-trigger="every 3s [document.visibilityState' in response.content.decode()
    # no worker took it for minutes (broker down): the page stops announcing it
    Store.objects.filter(pk=store.pk).update(pull_queued_at=timezone.now() - timedelta(minutes=3))
    html = owner_client.get("/stores/").content.decode()
    assert "Sync starting…" not in html
    assert "every 3s" not in html


def test_the_admin_shows_only_that_a_secret_is_set(client: Client, account: Any) -> None:
    from tests.factories import UserFactory

    store = secret_store(account, "Main shop")
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    html = client.get(f"/admin/channels_sync/store/{store.pk}/change/").content.decode()
    assert "•••• set" in html
    assert "TOPSECRET" not in html
    assert "gAAAA" not in html


def test_the_stores_page_takes_the_same_queries_for_1_or_10_stores(owner_client: Client, account: Any) -> None:
    secret_store(account, "S0")
    owner_client.get("/stores/")
    with CaptureQueriesContext(connection) as one:
        assert owner_client.get("/stores/").status_code == 200
    for n in range(1, 10):
        OrderFactory(store=secret_store(account, f"S{n}"))
    with CaptureQueriesContext(connection) as ten:
        assert owner_client.get("/stores/").status_code == 200
    assert len(ten) == len(one)


def test_pause_resume_disconnect_keep_the_orders(
    owner_client: Client, account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    store = secret_store(account, "Main shop")
    order = OrderFactory(store=store)
    owner_client.post(f"/stores/{store.pk}/pause/")
    store.refresh_from_db()
    assert store.status == StoreStatus.PAUSED
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        owner_client.post(f"/stores/{store.pk}/resume/")
    store.refresh_from_db()
    assert store.status == StoreStatus.ACTIVE
    assert len(callbacks) == 1  # a pull is enqueued
    response = owner_client.post(f"/stores/{store.pk}/disconnect/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "HX-Trigger" in response
    store.refresh_from_db()
    assert (store.status, store.credentials_token, store.webhook_secret_token) == (StoreStatus.DISCONNECTED, "", "")
    assert Order.objects.filter(pk=order.pk).exists()


def test_a_connect_form_error_says_what_is_wrong_and_creates_nothing(owner_client: Client) -> None:
    response = owner_client.post(
        "/stores/connect/shopify/", {"shopify-name": "New shop", "shopify-access_token": "shpat_SECRET"}
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "Give the shop domain or the shop URL." in html
    assert "shpat_SECRET" not in html  # a secret is not echoed back
    assert not Store.objects.exists()


def test_connect_requires_csrf(account: Any, user: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/stores/connect/shopify/", {"shopify-name": "x"}).status_code == 403


def _flagged_pair(account: Any) -> tuple[Order, Order]:
    from datetime import UTC, datetime
    from decimal import Decimal

    from channels_sync.providers.base import ChannelOrder

    at = datetime(2026, 11, 1, tzinfo=UTC)
    orders = []
    for store, channel_id, number in (
        (StoreFactory(account=account, name="TT", channel="tiktok"), "5764", "5764"),
        (StoreFactory(account=account, name="SH"), "9001", "#1001"),
    ):
        data = OrderData(
            channel_order_id=channel_id,
            number=number,
            placed_at=at,
            total=Decimal("10"),
            lines=(LineData(title="Earbuds", unit_price=Decimal("10")),),
        )
        result = orders_upsert_from_channel(
            account=account,
            store_id=store.pk,
            channel=store.channel,
            orders=[ChannelOrder(data=data, updated_at=at, purchase_ids=("5764",))],
        )
        orders.append(Order.objects.get(pk=result.created[0]))
    return orders[0], orders[1]


def test_a_flagged_order_shows_the_badge_and_can_be_confirmed(owner_client: Client, account: Any) -> None:
    first, twin = _flagged_pair(account)
    center = owner_client.get("/orders/").content.decode()
    assert center.count("data-duplicate") == 1
    assert 'data-action="archive-duplicate"' in center
    drawer = owner_client.get(f"/orders/{twin.pk}/").content.decode()
    assert "Possible duplicate" in drawer
    assert first.number in drawer
    response = owner_client.post(reverse("orders:confirm_duplicate", args=[twin.pk]))
    assert response.status_code == 302
    twin.refresh_from_db()
    assert twin.duplicate_confirmed
    assert "data-duplicate" not in owner_client.get("/orders/").content.decode()


def test_archive_duplicate_is_the_archive_action(owner_client: Client, account: Any) -> None:
    _, twin = _flagged_pair(account)
    owner_client.post("/orders/archive/", {"ids": [twin.pk], "next": "/orders/"})
    twin.refresh_from_db()
    assert twin.archived


def test_order_resync_enqueues_a_fetch(
    owner_client: Client, account: Any, django_capture_on_commit_callbacks: Any
) -> None:
    order = OrderFactory(store=secret_store(account, "Main"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = owner_client.post(reverse("channels_sync:order_resync", args=[order.pk]))
    assert response.status_code == 302
    assert len(callbacks) == 1


# --- Tenant isolation: another account's ids are 404 and change nothing ----------------------


@pytest.mark.parametrize(
    "path",
    [
        "/stores/{store}/pause/",
        "/stores/{store}/resume/",
        "/stores/{store}/disconnect/",
        "/stores/{store}/resync/",
        "/stores/orders/{order}/resync/",
        "/orders/{twin}/confirm-duplicate/",
    ],
)
def test_another_accounts_stores_and_orders_are_not_found(
    owner_client: Client, other_account: Any, path: str, django_capture_on_commit_callbacks: Any
) -> None:
    theirs = secret_store(other_account, "Their shop")
    order = OrderFactory(store=theirs)
    _, twin = _flagged_pair(other_account)
    before = (
        list(Store.objects.order_by("pk").values_list("pk", "status", "credentials_token")),
        list(Order.objects.order_by("pk").values_list("pk", "duplicate_confirmed", "archived")),
        OrderEvent.objects.count(),
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = owner_client.post(path.format(store=theirs.pk, order=order.pk, twin=twin.pk))
    assert response.status_code == 404
    assert "Their shop" not in response.content.decode()
    assert callbacks == []
    after = (
        list(Store.objects.order_by("pk").values_list("pk", "status", "credentials_token")),
        list(Order.objects.order_by("pk").values_list("pk", "duplicate_confirmed", "archived")),
        OrderEvent.objects.count(),
    )
    assert after == before
    assert not OrderEvent.objects.filter(type=OrderEventType.DUPLICATE_CONFIRMED).exists()


def test_the_stores_page_lists_only_the_accounts_stores(owner_client: Client, account: Any, other_account: Any) -> None:
    secret_store(account, "Mine")
    secret_store(other_account, "Theirs")
    html = owner_client.get("/stores/").content.decode()
    assert "Mine" in html
    assert "Theirs" not in html


def test_the_stores_page_needs_a_login(client: Client) -> None:
    assert client.get("/stores/").status_code == 302


@pytest.mark.parametrize("status", [StoreStatus.NOT_CONNECTED, StoreStatus.CONNECTING, StoreStatus.DISCONNECTED])
def test_resuming_or_pausing_a_store_that_is_not_connected_changes_nothing(
    owner_client: Client, account: Any, status: str
) -> None:
    # given a store whose connect failed, is being checked, or was disconnected (no credentials to sync with)
    store = secret_store(account, "Never connected")
    Store.objects.filter(pk=store.pk).update(status=status)
    # when the owner posts resume, then pause
    for action in ("resume", "pause"):
        assert owner_client.post(f"/stores/{store.pk}/{action}/").status_code == 302
        # then it keeps its status: resuming would have made it "active" with nothing to sync
        store.refresh_from_db()
        assert store.status == status
