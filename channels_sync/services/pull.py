"""Pull sync: the safety net that makes the result complete whatever webhooks were lost."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from channels_sync.enums import StoreStatus
from channels_sync.models import Store
from channels_sync.services.stores import store_provider
from integrations.errors import MalformedPayload, ProviderError
from orders.models import Order
from orders.services import orders_upsert_from_channel

PULLABLE = (StoreStatus.ACTIVE, StoreStatus.ERROR)

T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterable[T]) -> Generator[T, None, None]:
    """``items`` with the next one fetched in a thread while the caller works on the current one.

    A pull waits on the channel (HTTP) and on the database in turn; overlapping the two makes a
    pull take about the longer of them instead of their sum. The thread does no database work
    (a provider page is HTTP and mapping only). An exception in the thread is raised here, in
    order; when the caller stops early (an upsert failed), the thread stops after its fetch.
    """
    handoff: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: object, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                handoff.put((item, error), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    return
            hand_over(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            hand_over(_DONE, error)

    threading.Thread(target=produce, name="pull-prefetch", daemon=True).start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()  # a fetch under way finishes on its own; nothing more is fetched


@dataclass
class PullResult:
    skipped: bool = False  # another pull holds the store, or it is paused / disconnected
    pages: int = 0
    orders: int = 0
    created: int = 0
    updated: int = 0
    error: str = ""
    cursor: datetime | None = None
    order_ids: list[int] = field(default_factory=list)


def _lock_free(now: datetime) -> Q:
    return Q(sync_lock_until__isnull=True) | Q(sync_lock_until__lt=now)


def stores_due_for_pull(*, now: datetime | None = None) -> list[int]:
    """Stores to pull now: syncing, not pulled for SYNC_PULL_INTERVAL, not held by a pull."""
    now = now or timezone.now()
    due = Q(last_pull_at__isnull=True) | Q(last_pull_at__lt=now - settings.SYNC_PULL_INTERVAL)
    not_backing_off = Q(next_pull_at__isnull=True) | Q(next_pull_at__lte=now)
    return list(
        Store.objects.filter(due, not_backing_off, _lock_free(now), status__in=PULLABLE)
        .order_by("last_pull_at", "id")
        .values_list("id", flat=True)
    )


def _claim(store_id: int, now: datetime) -> bool:
    """Take the store for one pull with one conditional UPDATE: two workers never both get it."""
    return (
        Store.objects.filter(_lock_free(now), pk=store_id, status__in=PULLABLE).update(
            sync_lock_until=now + settings.SYNC_PULL_LOCK, pull_started_at=now, pull_orders=0
        )
        == 1
    )


def store_pull_enqueue(*, store_id: int) -> None:
    """Queue a pull now (connect, resume, "Resync"); the stores page shows it as coming until a
    worker takes it. A pull already running keeps its progress."""
    from channels_sync import tasks  # tasks import this module

    now = timezone.now()
    # A paused or disconnected store is not pulled: nothing to announce then.
    Store.objects.filter(_lock_free(now), pk=store_id, status__in=PULLABLE).update(pull_started_at=now, pull_orders=0)
    transaction.on_commit(partial(tasks.pull_store.delay, store_id))


def store_pull(
    *, store_id: int, since: datetime | None = None, progress: Callable[[PullResult], None] | None = None
) -> PullResult:
    """Page through the orders updated since the cursor (minus the overlap) and upsert each page.

    The cursor moves only after every page was stored; a failed pull records the error on the
    store and the next one starts from the same place (upserts are idempotent).
    """
    result = PullResult()
    if not _claim(store_id, timezone.now()):
        result.skipped = True
        return result
    store = Store.objects.select_related("account").get(pk=store_id)
    try:
        if since is None and store.pull_cursor is not None:
            since = store.pull_cursor - settings.SYNC_PULL_OVERLAP
        newest = store.pull_cursor
        provider = store_provider(store)
        pages = provider.iter_order_pages(updated_since=since, page_size=settings.SYNC_PULL_PAGE_SIZE)
        # Closed on the way out, error or not: the fetching thread stops then, not when the
        # traceback that still holds this frame is let go.
        with closing(prefetched(pages)) as prefetched_pages:
            for page in prefetched_pages:
                result.pages += 1
                if page.orders:
                    upserted = orders_upsert_from_channel(
                        account=store.account, store_id=store.pk, channel=store.channel, orders=page.orders
                    )
                    result.orders += len(page.orders)
                    result.created += len(upserted.created)
                    result.updated += len(upserted.updated)
                    result.order_ids += upserted.order_ids
                    page_newest = max(order.updated_at for order in page.orders)
                    newest = page_newest if newest is None else max(newest, page_newest)
                # Still alive: keep the store claimed for a long pull; the stores page shows the count.
                Store.objects.filter(pk=store.pk).update(
                    sync_lock_until=timezone.now() + settings.SYNC_PULL_LOCK, pull_orders=result.orders
                )
                if progress is not None:
                    progress(result)
    except (ProviderError, MalformedPayload, ValueError) as error:
        result.error = str(error) or type(error).__name__
        failures = store.pull_failures + 1
        # The exponent is capped first: a timedelta overflows long before the failures stop.
        backoff = min(settings.SYNC_PULL_INTERVAL * 2 ** min(failures - 1, 16), settings.SYNC_PULL_BACKOFF_MAX)
        Store.objects.filter(pk=store.pk).update(
            last_error=result.error[:2000],
            sync_lock_until=None,
            pull_started_at=None,
            pull_failures=failures,
            next_pull_at=timezone.now() + backoff,  # beat waits; a merchant's Resync does not
        )
        # A store paused or disconnected meanwhile keeps that status.
        Store.objects.filter(pk=store.pk, status=StoreStatus.ACTIVE).update(status=StoreStatus.ERROR)
        return result
    except BaseException:
        Store.objects.filter(pk=store.pk).update(sync_lock_until=None, pull_started_at=None)
        raise
    result.cursor = newest
    # Success: a store paused or disconnected meanwhile keeps that status.
    Store.objects.filter(pk=store.pk).update(
        pull_cursor=newest,
        last_pull_at=timezone.now(),
        last_error="",
        sync_lock_until=None,
        pull_started_at=None,
        pull_failures=0,
        next_pull_at=None,
    )
    Store.objects.filter(pk=store.pk, status=StoreStatus.ERROR).update(status=StoreStatus.ACTIVE)
    return result


def order_resync(*, order_id: int) -> list[int]:
    """Fetch one order from its channel again and upsert it (the "Resync" action)."""
    order = Order.objects.select_related("account").get(pk=order_id)
    store = Store.objects.get(pk=order.store_id)
    if store.status == StoreStatus.DISCONNECTED:
        return []
    channel_orders = store_provider(store).fetch_orders([order.channel_order_id])
    if not channel_orders:
        return []
    result = orders_upsert_from_channel(
        account=order.account, store_id=store.pk, channel=store.channel, orders=channel_orders
    )
    return result.order_ids
