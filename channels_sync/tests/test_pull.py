"""Pull sync against the sandbox over HTTP: pages, cursor, one pull per store, renumbering
across stores, duplicates across channels, and the two management commands."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from channels_sync.enums import StoreStatus
from channels_sync.models import Store
from channels_sync.services import store_connect, store_pull, stores_due_for_pull
from channels_sync.tasks import pull_due_stores
from orders.enums import OrderEventType, OrderStatus
from orders.models import Order, OrderEvent
from orders.services.counts import order_counts_from_rows, order_counts_stored

from .conftest import LIVE_DB

pytestmark = LIVE_DB


def connect(control: Any, account: Any, channel: str, shop_name: str, name: str | None = None) -> Store:
    shop = control.account(channel, shop_name)
    return store_connect(
        account=account,
        channel=channel,
        name=name or shop_name,
        base_url=shop["base_url"],
        credentials=shop["credentials"],
    ).store


@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "tiktok"])
def test_a_pull_pages_through_every_order_and_moves_the_cursor(
    control: Any, site_url: str, account: Any, settings: Any, channel: str
) -> None:
    # 3 a page: Shopify's first page asks for no more until it has seen the shop's cost bucket
    settings.SYNC_PULL_PAGE_SIZE = 3
    store = connect(control, account, channel, f"pull-{channel}")
    ids = control.create_orders(channel, f"pull-{channel}", count=10, seed=11)
    pages: list[int] = []
    seen: list[tuple[str, int]] = []  # what the stores page would show after each page

    def progress(r: Any) -> None:
        pages.append(r.pages)
        row = Store.objects.get(pk=store.pk)
        seen.append((row.pull_state(timezone.now()), row.pull_orders))

    result = store_pull(store_id=store.pk, progress=progress)
    assert (result.error, result.pages, result.orders, result.created) == ("", 4, 10, 10)
    assert pages == [1, 2, 3, 4]
    assert seen == [("running", 3), ("running", 6), ("running", 9), ("running", 10)]
    assert set(Order.objects.filter(store=store).values_list("channel_order_id", flat=True)) == set(map(str, ids))
    store.refresh_from_db()
    assert store.pull_cursor is not None
    assert store.last_pull_at is not None
    assert store.sync_lock_until is None
    assert store.pull_state(timezone.now()) == ""  # done: the page shows the last pull again
    # a second pull re-reads only the overlap window and changes nothing
    again = store_pull(store_id=store.pk)
    assert (again.error, again.created, again.updated) == ("", 0, 0)
    assert order_counts_stored(account=account) == order_counts_from_rows(account=account)


def test_one_pull_at_a_time_per_store(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "shopify", "lock-shop")
    Store.objects.filter(pk=store.pk).update(sync_lock_until=timezone.now() + timedelta(minutes=5))
    assert store_pull(store_id=store.pk).skipped
    assert store.pk not in stores_due_for_pull()
    Store.objects.filter(pk=store.pk).update(sync_lock_until=None)
    assert store.pk in stores_due_for_pull()
    assert pull_due_stores() >= 1  # eager: the pull ran
    store.refresh_from_db()
    assert store.last_pull_at is not None
    assert store.pk not in stores_due_for_pull()


def test_a_failed_pull_keeps_the_cursor_and_says_why(control: Any, site_url: str, account: Any) -> None:
    store = connect(control, account, "shopify", "broken-shop")
    store.credentials = {"access_token": "shpat_wrong"}
    store.save()
    result = store_pull(store_id=store.pk)
    store.refresh_from_db()
    assert result.error
    assert store.status == StoreStatus.ERROR
    assert store.last_error == result.error
    assert (store.pull_cursor, store.last_pull_at, store.sync_lock_until) == (None, None, None)


def test_a_failing_store_is_retried_by_beat_less_and_less_often_but_resync_goes_at_once(
    control: Any, site_url: str, account: Any, settings: Any
) -> None:
    store = connect(control, account, "shopify", "revoked-shop")
    good = store.credentials
    store.credentials = {"access_token": "shpat_revoked"}
    store.save()
    waits = []
    for _ in range(4):
        before = timezone.now()
        assert store_pull(store_id=store.pk).error
        store.refresh_from_db()
        waits.append(round((store.next_pull_at - before) / settings.SYNC_PULL_INTERVAL))
        assert store.pk not in stores_due_for_pull()  # not every minute
        assert store.pk in stores_due_for_pull(now=store.next_pull_at + timedelta(seconds=1))
    assert waits == [1, 2, 4, 8]
    assert store.pull_failures == 4
    settings.SYNC_PULL_BACKOFF_MAX = timedelta(minutes=30)
    store_pull(store_id=store.pk)
    store.refresh_from_db()
    assert store.next_pull_at - timezone.now() <= timedelta(minutes=30)  # capped
    Store.objects.filter(pk=store.pk).update(pull_failures=500)  # weeks of failing: no overflow
    assert store_pull(store_id=store.pk).error
    store.refresh_from_db()
    assert (store.pull_failures, store.sync_lock_until) == (501, None)
    assert store.next_pull_at - timezone.now() <= timedelta(minutes=30)
    # the merchant fixes the token and presses Resync: it runs now, and all is forgotten
    store.credentials = good
    store.save()
    result = store_pull(store_id=store.pk)
    assert not result.error
    assert not result.skipped
    store.refresh_from_db()
    assert (store.status, store.pull_failures, store.next_pull_at) == (StoreStatus.ACTIVE, 0, None)


def test_two_stores_with_the_same_numbers_are_renumbered(control: Any, site_url: str, account: Any) -> None:
    one = connect(control, account, "shopify", "renum-one")
    two = connect(control, account, "shopify", "renum-two")
    control.create_orders("shopify", "renum-one", count=1, seed=1)
    control.create_orders("shopify", "renum-two", count=1, seed=2)
    store_pull(store_id=one.pk)
    store_pull(store_id=two.pk)
    numbers = dict(Order.objects.values_list("store_id", "number"))
    base = Order.objects.get(store=one).base_number
    assert numbers == {one.pk: f"{base}-1", two.pk: f"{base}-2"}
    assert OrderEvent.objects.filter(type=OrderEventType.RENUMBERED).count() == 1


def test_a_tiktok_order_also_in_shopify_is_flagged_as_a_duplicate(control: Any, site_url: str, account: Any) -> None:
    tiktok = connect(control, account, "tiktok", "dup-tt")
    shopify = connect(control, account, "shopify", "dup-shop")
    (tiktok_id,) = control.create_orders("tiktok", "dup-tt", count=1, seed=5, also_in_shopify="dup-shop")
    store_pull(store_id=tiktok.pk)
    store_pull(store_id=shopify.pk)
    first = Order.objects.get(store=tiktok)
    twin = Order.objects.get(store=shopify)
    assert first.channel_order_id == str(tiktok_id)
    assert (first.possible_duplicate, twin.possible_duplicate, twin.duplicate_of_id) == (False, True, first.pk)
    assert twin.status == OrderStatus.NEW  # listed, but not placeable until confirmed
    assert twin.awaiting_duplicate_confirmation


def test_connect_store_command_prints_the_webhook_url(control: Any, site_url: str, account: Any) -> None:
    shop = control.account("shopify", "cmd-shop")
    out = StringIO()
    call_command(
        "connect_store",
        "--account",
        account.name,
        "--channel",
        "shopify",
        "--name",
        "Cmd shop",
        "--base-url",
        shop["base_url"],
        "--credentials",
        json.dumps(shop["credentials"]),
        stdout=out,
    )
    printed = json.loads(out.getvalue())
    store = Store.objects.get(pk=printed["id"])
    assert printed["webhook_url"] == f"{site_url}/webhooks/shopify/{store.public_id}/"
    # the same command with a wrong token says why and creates nothing
    with pytest.raises(CommandError, match="refused these credentials"):
        call_command(
            "connect_store",
            *("--account", account.name, "--channel", "shopify", "--name", "Other", "--base-url", shop["base_url"]),
            *("--credentials", json.dumps({"access_token": "shpat_wrong", "webhook_secret": "x"})),
            stdout=StringIO(),
        )
    assert not Store.objects.filter(name="Other").exists()
    # and sync_store pulls it in the foreground with a progress bar
    control.create_orders("shopify", "cmd-shop", count=2, seed=9)
    out = StringIO()
    call_command("sync_store", str(store.pk), "--since", "2000-01-01T00:00:00Z", stdout=out)
    assert "done: 1 pages, 2 orders (2 new, 0 updated)" in out.getvalue()
    assert Order.objects.filter(store=store).count() == 2
