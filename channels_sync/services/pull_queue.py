"""Queueing pulls: beat's due stores (each queued once), a merchant's Resync, a pull's next run."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from channels_sync.models import Store
from channels_sync.services.pull import PULLABLE, pull_due, pulls_record_lost


def _not_queued(now: datetime) -> Q:
    return Q(pull_queued_at__isnull=True) | Q(pull_queued_at__lt=now - settings.SYNC_PULL_QUEUED_EXPIRY)


def _due_unqueued(now: datetime) -> Q:
    return pull_due(now) & _not_queued(now) & Q(sync_lock_until__isnull=True)


def stores_due_for_pull(*, now: datetime | None = None) -> list[int]:
    """Stores beat would queue now: due, no pull running, none queued and not taken yet."""
    now = now or timezone.now()
    return list(
        Store.objects.filter(_due_unqueued(now))
        .order_by(F("last_pull_at").asc(nulls_first=True), "id")
        .values_list("id", flat=True)
    )


def pulls_queue_due(*, now: datetime | None = None, limit: int = 1_000) -> list[int]:
    """Beat: count lost pulls as failed, then queue one pull per due store not queued yet.

    Marked queued in the transaction that picks them (rows another beat holds are skipped), so a
    store is never queued twice while its pull waits for a worker. The task runs only if the
    store is still due when a worker takes it.
    """
    from channels_sync import tasks  # tasks import this module

    now = now or timezone.now()
    pulls_record_lost(now=now)
    with transaction.atomic():
        ids = list(
            Store.objects.select_for_update(skip_locked=True)
            .filter(_due_unqueued(now))
            .order_by(F("last_pull_at").asc(nulls_first=True), "id")
            .values_list("id", flat=True)[:limit]
        )
        Store.objects.filter(pk__in=ids).update(pull_queued_at=now)
        for store_id in ids:
            transaction.on_commit(partial(tasks.pull_store.delay, store_id, due_only=True))
    return ids


def store_pull_enqueue(*, store_id: int, due_only: bool = False) -> None:
    """Queue a pull: at once whatever the backoff (connect, resume, "Resync"), or, for a pull's
    next run (``due_only``), when the store is still due. The stores page shows it as coming until
    a worker takes it; beat does not queue another meanwhile. A pull already running keeps going."""
    from channels_sync import tasks  # tasks import this module

    # A paused or disconnected store is not pulled: nothing to announce then.
    Store.objects.filter(pk=store_id, status__in=PULLABLE).update(pull_queued_at=timezone.now())
    transaction.on_commit(partial(tasks.pull_store.delay, store_id, due_only=due_only))
