"""Bounded pulls against the sandbox over HTTP: a pull saves where it is after every page, stops
by itself at its time budget and goes on in its next run; a run killed at the time limit or
with its worker counts as a failure and backs off, keeping its progress; a refused resume token
falls back safely; the first import covers the configured window."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from billiard.pool import soft_timeout_sighandler
from celery import current_app
from django.db import connection
from django.utils import timezone

from channels_sync.enums import StoreStatus
from channels_sync.models import Store
from channels_sync.services import pulls_queue_due, store_connect, store_pull, stores_due_for_pull
from channels_sync.services.pull import LOST_PULL, SUPERSEDED, TIME_LIMIT, pulls_record_lost
from channels_sync.tasks import pull_store
from orders.enums import OrderEventType
from orders.models import Order, OrderEvent
from orders.services.counts import order_counts_from_rows, order_counts_stored
from tests.factories import StoreFactory
from tests.workers import running_worker, wait_for

from .conftest import LIVE_DB
from .test_delivery_cap import SilentChannel, run_in_a_worker, wait_until

pytestmark = LIVE_DB
CHANNELS = ["shopify", "woocommerce", "tiktok"]


def connect(control: Any, account: Any, channel: str, shop_name: str) -> Store:
    shop = control.account(channel, shop_name)
    return store_connect(
        account=account, channel=channel, name=shop_name, base_url=shop["base_url"], credentials=shop["credentials"]
    ).store


def assert_every_order_once(store: Store, ids: list[str]) -> None:
    stored = list(Order.objects.filter(store=store).values_list("channel_order_id", flat=True))
    assert sorted(stored) == sorted(map(str, ids))
    assert not OrderEvent.objects.filter(type=OrderEventType.RENUMBERED).exists()
    numbers = list(Order.objects.filter(store=store).values_list("number", flat=True))
    assert all("-" not in number for number in numbers)  # none renumbered
    assert order_counts_stored(account=store.account) == order_counts_from_rows(account=store.account)


@pytest.fixture
def silent_channel() -> Iterator[SilentChannel]:
    channel = SilentChannel()
    yield channel
    channel.close()


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_pull_stopped_by_its_budget_goes_on_from_its_saved_page(
    control: Any, site_url: str, account: Any, settings: Any, channel: str
) -> None:
    # given a shop of 14 orders, pages of 3 (a new run's first Shopify page asks for no more until
    # it has seen the shop's cost bucket), and a budget that stops a run after every page
    settings.SYNC_PULL_PAGE_SIZE = 3
    settings.SYNC_PULL_TIME_BUDGET = timedelta(microseconds=1)
    store = connect(control, account, channel, f"resume-{channel}")
    ids = control.create_orders(channel, f"resume-{channel}", count=14, seed=3)

    # when runs follow each other until the pull ends
    runs = []
    while not runs or runs[-1].stopped:
        runs.append(store_pull(store_id=store.pk))
        row = Store.objects.get(pk=store.pk)
        if runs[-1].stopped:  # released, its page saved, due at once for its next run
            assert row.pull_resume_page
            assert row.sync_lock_until is None
            assert row.pull_orders == 3 * len(runs)
            assert row.pk in stores_due_for_pull()

    # then five runs of one page each stored every order once, and the cursor moved at the end
    assert [(run.pages, run.orders, run.runs, run.error) for run in runs] == [
        (1, 3, 1, ""),
        (1, 3, 2, ""),
        (1, 3, 3, ""),
        (1, 3, 4, ""),
        (1, 2, 5, ""),
    ]
    store.refresh_from_db()
    assert (store.pull_resume_page, store.pull_resume_since, store.pull_runs) == ("", None, 5)
    assert store.pull_cursor is not None
    assert store.last_pull_at is not None
    assert_every_order_once(store, ids)


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_large_import_completes_over_several_runs_of_the_task(
    control: Any, site_url: str, account: Any, settings: Any
) -> None:
    """The CI size of docs/benchmarks.md's 200,000-order import: the task re-queues itself when
    its budget runs out and a worker runs each next run (a real one: an eager task would start the
    next run inside the previous one, a level deeper each time, until Python's recursion limit)."""
    settings.SYNC_PULL_TIME_BUDGET = timedelta(seconds=0.25)
    control.account("shopify", "big-import")
    control.options("shopify", "big-import", bucket_size=1_000_000, leak_rate=100_000, graphql_restore_rate=1_000_000)
    # before the store subscribes its webhooks (none to send), in calls the control API answers quickly
    ids = [order for seed in range(6) for order in control.create_orders("shopify", "big-import", count=500, seed=seed)]
    store = connect(control, account, "shopify", "big-import")

    current_app.conf.task_always_eager = False  # (the autouse fixture puts it back)
    with running_worker(["sync"]) as ran:
        pull_store.delay(store.pk)
        assert wait_for(lambda: _imported(store.pk), timeout=180)

    store.refresh_from_db()
    assert store.pull_runs >= 3
    assert [name for name, _thread in ran].count("channels_sync.pull_store") == store.pull_runs
    assert (store.pull_resume_page, store.last_error, store.status) == ("", "", StoreStatus.ACTIVE)
    assert_every_order_once(store, ids)
    numbers = dict(Order.objects.filter(store=store).values_list("channel_order_id", "number"))
    # and a later pull changes no number
    assert not store_pull(store_id=store.pk).error
    assert dict(Order.objects.filter(store=store).values_list("channel_order_id", "number")) == numbers


@pytest.mark.parametrize("channel", ["shopify", "tiktok"])
def test_a_resume_token_the_channel_refuses_falls_back_to_the_newest_update_stored(
    control: Any, site_url: str, account: Any, settings: Any, channel: str
) -> None:
    settings.SYNC_PULL_PAGE_SIZE = 4
    settings.SYNC_PULL_TIME_BUDGET = timedelta(microseconds=1)
    store = connect(control, account, channel, f"expired-{channel}")
    batches = []  # three batches of 4 orders, a minute apart (each batch shares its update time)
    for seed in range(3):
        batches.append(control.create_orders(channel, f"expired-{channel}", count=4, seed=seed))
        control.clock(advance_seconds=60)
    assert store_pull(store_id=store.pk).stopped
    assert store_pull(store_id=store.pk).stopped  # the first two batches stored
    # the saved page cursor expires at the channel
    Store.objects.filter(pk=store.pk).update(pull_resume_page="eyJleHBpcmVkIjp0cnVlfQ")

    settings.SYNC_PULL_TIME_BUDGET = timedelta(minutes=5)
    result = store_pull(store_id=store.pk)

    # the listing started again from the newest update stored (the second batch's, read again),
    # not from the beginning
    assert (result.error, result.stopped, result.orders) == ("", False, 8)
    assert_every_order_once(store, [order for batch in batches for order in batch])


def test_a_pull_killed_at_the_time_limit_keeps_its_pages_and_backs_off(
    control: Any, site_url: str, account: Any, settings: Any
) -> None:
    # given a shop of 40 orders read 4 a page, whose API stalls after the second page
    settings.SYNC_PULL_PAGE_SIZE = 4
    store = connect(control, account, "shopify", "slow-shop")
    ids = control.create_orders("shopify", "slow-shop", count=40, seed=6)

    def stall_and_arm_the_soft_limit(result: Any) -> None:
        if result.pages == 2:
            control.faults({"shopify": {"timeout": 1.0}})  # every later call stalls 3 s
            signal.setitimer(signal.ITIMER_REAL, 0.6)  # Celery's soft time limit, as billiard raises it

    before = signal.signal(signal.SIGALRM, soft_timeout_sighandler)
    try:
        result = store_pull(store_id=store.pk, progress=stall_and_arm_the_soft_limit)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
    control.faults({"shopify": {}})

    # then the pages stored are kept, the store is released, and the pull counts as failed
    assert result.error == TIME_LIMIT
    store.refresh_from_db()
    stored = Order.objects.filter(store=store).count()
    assert stored >= 8
    assert (store.sync_lock_until, store.pull_failures, store.status) == (None, 1, StoreStatus.ERROR)
    assert store.last_error == TIME_LIMIT
    assert store.pull_resume_page
    assert store.pull_orders == stored
    assert store.next_pull_at > timezone.now()
    assert store.pk not in stores_due_for_pull()  # beat waits
    # and a merchant's Resync goes on from the saved page at once
    again = store_pull(store_id=store.pk)
    assert (again.error, again.runs, again.orders) == ("", 2, 40 - stored)
    store.refresh_from_db()
    assert (store.status, store.pull_failures, store.pull_resume_page) == (StoreStatus.ACTIVE, 0, "")
    assert_every_order_once(store, ids)


def test_a_pull_whose_worker_is_lost_counts_as_failed_and_backs_off(
    account: Any, settings: Any, silent_channel: SilentChannel
) -> None:
    # given a store whose pull task is killed while it waits on the channel
    store = StoreFactory(account=account, channel="shopify", base_url=silent_channel.url)
    store.credentials = {"access_token": "shpat_x"}
    store.save()
    pid = run_in_a_worker(lambda: pull_store.apply(args=[store.pk]))
    assert wait_until(lambda: len(silent_channel.connections) >= 1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    store.refresh_from_db()
    assert store.sync_lock_until is not None  # never released

    # while its lock lasts nobody takes the store; once it ran out, beat counts the loss
    assert pulls_queue_due() == []
    later = store.sync_lock_until + timedelta(seconds=1)
    assert pulls_queue_due(now=later) == []
    store.refresh_from_db()
    assert (store.sync_lock_until, store.pull_failures, store.status) == (None, 1, StoreStatus.ERROR)
    assert store.last_error == LOST_PULL
    assert store.next_pull_at == later + settings.SYNC_PULL_INTERVAL
    assert store.pk not in stores_due_for_pull(now=later)
    assert store.pk in stores_due_for_pull(now=store.next_pull_at)
    assert len(silent_channel.connections) == 1


def test_the_first_import_covers_the_window_and_the_page_says_so(
    control: Any, site_url: str, account: Any, settings: Any, owner_client: Any
) -> None:
    # given a shop with orders from long ago and from lately
    control.account("shopify", "window-shop")
    old = control.create_orders("shopify", "window-shop", count=2, seed=1)
    control.clock(advance_seconds=3 * 86_400)
    recent = control.create_orders("shopify", "window-shop", count=3, seed=2)

    # when it is connected (a 60-day window by default) and imported
    store = connect(control, account, "shopify", "window-shop")
    store.refresh_from_db()
    assert abs(store.import_since - (timezone.now() - timedelta(days=60))) < timedelta(minutes=1)
    html = owner_client.get("/stores/").content.decode()
    assert "Importing orders since" in html
    # the window starts between the two batches (the sandbox's clock ran three days ahead)
    Store.objects.filter(pk=store.pk).update(import_since=timezone.now() + timedelta(days=1))
    result = store_pull(store_id=store.pk)

    # then only the orders inside it came in
    assert (result.error, result.orders) == ("", 3)
    stored = set(Order.objects.filter(store=store).values_list("channel_order_id", flat=True))
    assert (stored, stored & set(old)) == (set(recent), set())
    assert "Importing orders since" not in owner_client.get("/stores/").content.decode()


def test_a_run_that_outlived_its_lock_leaves_the_store_to_the_run_that_claimed_it(
    control: Any, site_url: str, account: Any, settings: Any
) -> None:
    # given a shop of 15 orders in pages of 5, and a first run that stops after its first page
    # long enough for its lock to run out (a worker that seemed lost: beat counts it)
    settings.SYNC_PULL_PAGE_SIZE = 5
    store = connect(control, account, "shopify", "outlived")
    ids = control.create_orders("shopify", "outlived", count=15, seed=4)
    second_claimed, let_second_go = threading.Event(), threading.Event()
    second: list[Any] = []

    def hold_the_second(result: Any) -> None:  # the second run, after its first page: holds the store
        second_claimed.set()
        let_second_go.wait(timeout=30)

    def run_the_second() -> None:
        try:
            second.append(store_pull(store_id=store.pk, progress=hold_the_second))
        finally:
            connection.close()

    thread = threading.Thread(target=run_the_second)

    def after_the_first_page(result: Any) -> None:
        if thread.is_alive() or second:
            return
        row = Store.objects.get(pk=store.pk)
        assert pulls_record_lost(now=row.sync_lock_until + timedelta(seconds=1)) == [store.pk]
        thread.start()  # a merchant's Resync: a new run claims the store
        assert second_claimed.wait(timeout=30)

    # when the first run goes on while the second holds the store
    first = store_pull(store_id=store.pk, progress=after_the_first_page)
    held = Store.objects.get(pk=store.pk)
    let_second_go.set()
    thread.join(timeout=60)

    # then the first stopped at its next save and wrote nothing over the second's claim
    assert first.error == SUPERSEDED
    assert held.sync_lock_until is not None
    assert held.pull_started_at is not None
    # and the second finished the pull: every order once, the store healthy again
    assert second[0].error == ""
    store.refresh_from_db()
    assert (store.pull_resume_page, store.sync_lock_until, store.pull_failures, store.last_error) == ("", None, 0, "")
    assert_every_order_once(store, ids)


def _imported(store_id: int) -> bool:
    """The store's pull ended: no page left to resume, released, and its cursor moved."""
    row = Store.objects.get(pk=store_id)
    return row.pull_resume_page == "" and row.sync_lock_until is None and row.last_pull_at is not None
