"""Pull sync: the safety net that makes the result complete whatever webhooks were lost.

A pull pages through the orders updated since the store's cursor (minus an overlap) and
upserts each page. It is bounded. After every page it saves where it is (the channel's token
for the next page, the ``updated_since`` that token belongs to, the newest update stored:
``Store.pull_resume_*``); it stops by itself after ``SYNC_PULL_TIME_BUDGET`` and its task
queues the next run, which goes on from the saved page. A run killed at the time limit, or
whose worker is lost, keeps that progress too, and counts as a failed pull (it backs off).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import Case, F, PositiveIntegerField, Q, Value, When
from django.utils import timezone

from channels_sync.enums import StoreStatus
from channels_sync.models import Store
from channels_sync.providers.base import ChannelProvider, OrderPage
from channels_sync.services.prefetch import prefetched
from channels_sync.services.stores import store_provider
from integrations.errors import CredentialsError, MalformedPayload, ProviderError
from orders.models import Order
from orders.services import orders_upsert_from_channel

__all__ = ["PullResult", "order_resync", "prefetched", "pull_due", "pulls_record_lost", "store_pull"]

logger = logging.getLogger(__name__)

PULLABLE = (StoreStatus.ACTIVE, StoreStatus.ERROR)
LOST_PULL = (
    "The last sync stopped before it finished (its worker was lost or ran past the time limit); "
    "the next one goes on from its last saved page."
)
TIME_LIMIT = "The sync ran past its time limit; the next one goes on from its last saved page."
SUPERSEDED = "This sync run outlived its lock and was counted lost; another run has the store."


@dataclass
class PullResult:
    skipped: bool = False  # another pull holds the store, it is not due (beat), or paused / disconnected
    stopped: bool = False  # its time budget ran out with pages left: the next run goes on from there
    runs: int = 0  # runs of this pull so far, this one included
    pages: int = 0
    orders: int = 0
    created: int = 0
    updated: int = 0
    error: str = ""
    cursor: datetime | None = None
    order_ids: list[int] = field(default_factory=list)


def pull_due(now: datetime) -> Q:
    """Stores beat pulls now: syncing, with an unfinished pull or none for SYNC_PULL_INTERVAL,
    and not backing off after failures."""
    waited = (
        Q(last_pull_at__isnull=True) | Q(last_pull_at__lt=now - settings.SYNC_PULL_INTERVAL) | ~Q(pull_resume_page="")
    )
    not_backing_off = Q(next_pull_at__isnull=True) | Q(next_pull_at__lte=now)
    return waited & not_backing_off & Q(status__in=PULLABLE)


def _backoff(failures: int) -> timedelta:
    # The exponent is capped first: a timedelta overflows long before the failures stop.
    return min(settings.SYNC_PULL_INTERVAL * 2 ** min(failures - 1, 16), settings.SYNC_PULL_BACKOFF_MAX)


def _fail(
    store_id: int, *, failures: int, error: str, now: datetime | None = None, claimed_at: datetime | None = None
) -> None:
    """A failed pull: say why, release the store, back off (beat waits; a merchant's Resync does
    not). Its saved page stays: the next pull goes on from there. ``claimed_at``: only while the
    run that failed still holds the store (one counted lost meanwhile leaves the store alone)."""
    now = now or timezone.now()
    run = Store.objects.filter(pk=store_id)
    if claimed_at is not None:
        run = run.filter(pull_started_at=claimed_at)
    if not run.update(
        last_error=error[:2000],
        sync_lock_until=None,
        pull_started_at=None,
        pull_failures=failures,
        next_pull_at=now + _backoff(failures),
    ):
        return
    # A store paused or disconnected meanwhile keeps that status.
    Store.objects.filter(pk=store_id, status=StoreStatus.ACTIVE).update(status=StoreStatus.ERROR)


def pulls_record_lost(*, now: datetime | None = None, store_id: int | None = None) -> list[int]:
    """Pulls whose lock ran out never ended (a live pull renews it every page, and it outlasts
    the task's hard time limit): their worker was lost or killed. Each counts as a failed pull
    and backs off, instead of being taken again at once forever."""
    now = now or timezone.now()
    lost = Store.objects.filter(sync_lock_until__lt=now)
    if store_id is not None:
        lost = lost.filter(pk=store_id)
    recorded = []
    for pk, lock, failures in lost.values_list("pk", "sync_lock_until", "pull_failures"):
        # Only while that lock is still there: a concurrent claim or sweep counts it once.
        if Store.objects.filter(pk=pk, sync_lock_until=lock).update(sync_lock_until=now):
            _fail(pk, failures=failures + 1, error=LOST_PULL, now=now)
            logger.warning("store %s: its pull was lost (lock ran out at %s)", pk, lock)
            recorded.append(pk)
    return recorded


def _claim(store_id: int, now: datetime, *, due_only: bool) -> Store | None:
    """Take the store for one run with one conditional UPDATE: two workers never both get it.

    ``due_only`` (beat's pulls and continuations): only if the store is still due, so a task that
    waited in the queue does not pull again a store pulled meanwhile. A run of an unfinished
    pull keeps its count of orders; a new pull starts it again.
    """
    pulls_record_lost(now=now, store_id=store_id)
    claimable = Store.objects.filter(pk=store_id, sync_lock_until__isnull=True, status__in=PULLABLE)
    if due_only:
        claimable = claimable.filter(pull_due(now))
    fresh = Q(pull_resume_page="")
    claimed = claimable.update(
        sync_lock_until=now + settings.SYNC_PULL_LOCK,
        pull_started_at=now,
        pull_queued_at=None,
        pull_runs=Case(When(fresh, then=Value(1)), default=F("pull_runs") + 1, output_field=PositiveIntegerField()),
        pull_orders=Case(When(fresh, then=Value(0)), default=F("pull_orders"), output_field=PositiveIntegerField()),
    )
    if not claimed:
        return None
    return Store.objects.select_related("account").get(pk=store_id)


def _listing(
    provider: ChannelProvider, *, since: datetime | None, resume: str, stored_up_to: datetime | None
) -> Iterator[tuple[datetime | None, OrderPage]]:
    """(``updated_since`` of the listing, page) from the saved page on; runs in the prefetch thread
    (HTTP and mapping only).

    A saved token the channel refuses (an expired page cursor) is not an error: the listing starts
    again from the newest update stored when it runs oldest update first (every older order is
    stored), else from the pull's own ``since``. Upserts are idempotent: a page read twice costs
    time, never an order.
    """
    size = settings.SYNC_PULL_PAGE_SIZE
    pages = provider.iter_order_pages(updated_since=since, page_size=size, resume=resume)
    if resume:
        try:
            first = next(pages, None)
        except CredentialsError:
            raise
        except ProviderError as error:
            if error.retryable:
                raise
            if provider.listing_by_update and stored_up_to is not None:
                since = stored_up_to
            logger.info("saved page refused (%s): listing again from %s", error, since)
            pages = provider.iter_order_pages(updated_since=since, page_size=size)
        else:
            if first is None:
                return
            yield since, first
    for page in pages:
        yield since, page


def store_pull(
    *,
    store_id: int,
    since: datetime | None = None,
    due_only: bool = False,
    progress: Callable[[PullResult], None] | None = None,
    provider_of: Callable[[Store], ChannelProvider] = store_provider,
) -> PullResult:
    """One run of a pull: from its saved page (an unfinished pull), else from ``since``, the
    cursor minus the overlap, or the first import's window; each page upserted and saved.

    The cursor moves when the last page is stored. A failure records the error on the store and
    backs off; the next pull goes on from the last saved page. ``provider_of`` makes the store's
    provider (``bench_ingest`` and the pacing test keep the one it made, to read what it spent).
    """
    result = PullResult()
    started = time.monotonic()
    store = _claim(store_id, timezone.now(), due_only=due_only)
    if store is None:
        # This task is done with it: beat may queue the store again when it is due.
        Store.objects.filter(pk=store_id).update(pull_queued_at=None)
        result.skipped = True
        return result
    result.runs = store.pull_runs
    resume = store.pull_resume_page if since is None else ""  # an explicit since starts over
    stored_up_to = store.pull_resume_newest if resume else None
    if resume:
        since = store.pull_resume_since
    elif since is None:
        since = store.pull_cursor - settings.SYNC_PULL_OVERLAP if store.pull_cursor else store.import_since
    orders_before = store.pull_orders
    # Every write of this run is bound to its claim: a run that outlived its lock was counted lost
    # and the store may have been claimed again; what it writes then would clobber that run.
    claimed_at = store.pull_started_at
    mine = Store.objects.filter(pk=store.pk, pull_started_at=claimed_at)
    try:
        provider = provider_of(store)
        listing = _listing(provider, since=since, resume=resume, stored_up_to=stored_up_to)
        # Closed on the way out, error or not: the fetching thread stops then, not when the
        # traceback that still holds this frame is let go.
        with closing(prefetched(listing)) as pages:
            for listed_since, page in pages:
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
                    stored_up_to = page_newest if stored_up_to is None else max(stored_up_to, page_newest)
                # Saved after the page is stored (a run stopped in between reads it again), with
                # the lock renewed; the stores page shows the count.
                saved = mine.update(
                    sync_lock_until=timezone.now() + settings.SYNC_PULL_LOCK,
                    pull_orders=orders_before + result.orders,
                    pull_resume_page=page.resume,
                    pull_resume_since=listed_since,
                    pull_resume_newest=stored_up_to,
                )
                if not saved:  # no longer this run's store: stop, write nothing more
                    result.error = SUPERSEDED
                    logger.warning(
                        "store %s: pull run of %s stopped, the store was claimed again", store.pk, claimed_at
                    )
                    return result
                if progress is not None:
                    progress(result)
                if page.resume and time.monotonic() - started >= settings.SYNC_PULL_TIME_BUDGET.total_seconds():
                    result.stopped = True
                    break
    except SoftTimeLimitExceeded:
        # The budget should have stopped it first (one page took too long): kept, backed off.
        result.error = TIME_LIMIT
        _fail(store.pk, failures=store.pull_failures + 1, error=result.error, claimed_at=claimed_at)
        return result
    except (ProviderError, MalformedPayload, ValueError) as error:
        result.error = str(error) or type(error).__name__
        _fail(store.pk, failures=store.pull_failures + 1, error=result.error, claimed_at=claimed_at)
        return result
    # Anything else (a bug, a hostile answer we did not foresee): counted and backed off like any
    # failure, then raised, its traceback logged by the worker. Not pulled again every interval.
    except Exception as error:
        result.error = f"internal error: {type(error).__name__}"
        _fail(store.pk, failures=store.pull_failures + 1, error=result.error, claimed_at=claimed_at)
        raise
    except BaseException:  # the worker is stopping: released, not counted
        mine.update(sync_lock_until=None, pull_started_at=None)
        raise
    if result.stopped:
        # Healthy, with more to read: released, due at once for its next run.
        mine.update(sync_lock_until=None, pull_started_at=None, next_pull_at=None)
        return result
    result.cursor = max(filter(None, (store.pull_cursor, stored_up_to)), default=None)
    # Success: a store paused or disconnected meanwhile keeps that status.
    finished = mine.update(
        pull_cursor=result.cursor,
        last_pull_at=timezone.now(),
        last_error="",
        sync_lock_until=None,
        pull_started_at=None,
        pull_failures=0,
        next_pull_at=None,
        pull_resume_page="",
        pull_resume_since=None,
        pull_resume_newest=None,
    )
    if not finished:
        result.error = SUPERSEDED
        return result
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
