"""Webhook deliveries over time: support's replay, beat's sweep for lost tasks, retention (and the
retention of provider attempts, ``attempts_prune``)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models.functions import Greatest
from django.utils import timezone

from channels_sync.enums import DeliveryState
from channels_sync.models import ProviderAttempt, WebhookDelivery
from channels_sync.services.processing import MAX_ATTEMPTS, gave_up_reason

logger = logging.getLogger(__name__)


def deliveries_replay(*, delivery_ids: list[int]) -> list[int]:
    """Support's "replay": put failed (or stuck) deliveries back in the queue; returns the ids queued."""
    from channels_sync import tasks  # tasks import this module

    ids = list(
        WebhookDelivery.objects.filter(pk__in=delivery_ids)
        .exclude(state=DeliveryState.PROCESSED)
        .values_list("id", flat=True)
    )
    # A replay starts over: the whole retry budget again (the channel may be back, or the bug fixed).
    WebhookDelivery.objects.filter(pk__in=ids).update(
        state=DeliveryState.RECEIVED,
        error="",
        processed_at=None,
        attempts=0,
        last_attempt_at=None,
        next_attempt_at=None,
    )
    for delivery_id in ids:
        transaction.on_commit(partial(tasks.process_webhook_delivery.delay, delivery_id))
    return ids


# A delivery still "received" with no attempt this long after it arrived lost its task (the
# broker was away when it was stored, or the queue lost it); one attempted but not tried again
# this long after its retry was due (``next_attempt_at``: a countdown, up to an hour when the
# channel asks for it; the last attempt when none was scheduled) lost its retry.
STUCK_AFTER = timedelta(minutes=10)
STUCK_AFTER_ATTEMPT = timedelta(minutes=15)


def deliveries_requeue_stuck(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Beat's safety net for intake: queue again the deliveries no task will process.

    Never attempted ones first and on their own limit, so a backlog of retried ones never hides
    them. A delivery queued twice costs a little work: the first task to claim it finishes it,
    the other finds it done; the attempt cap holds across tasks. One that used every attempt and
    is still waiting lost its last one with its worker: it is failed here, never queued again.
    """
    from channels_sync import tasks  # tasks import this module

    now = now or timezone.now()
    waiting = WebhookDelivery.objects.filter(state=DeliveryState.RECEIVED)
    stale = now - STUCK_AFTER_ATTEMPT
    gave_up = waiting.filter(attempts__gte=MAX_ATTEMPTS, last_attempt_at__lt=stale)
    for attempts in sorted(set(gave_up.values_list("attempts", flat=True))):
        failed = gave_up.filter(attempts=attempts).update(
            state=DeliveryState.FAILED, error=gave_up_reason(attempts), processed_at=now
        )
        logger.warning("%s webhook deliveries failed: %s", failed, gave_up_reason(attempts))
    never = waiting.filter(attempts=0, received_at__lt=now - STUCK_AFTER).order_by("received_at")
    # GREATEST skips NULL on PostgreSQL: the retry's due time, or the last attempt when none is set.
    dropped = (
        waiting.filter(attempts__gt=0, attempts__lt=MAX_ATTEMPTS)
        .alias(due=Greatest("next_attempt_at", "last_attempt_at"))
        .filter(due__lt=stale)
        .order_by("due")
    )
    ids = [*never.values_list("id", flat=True)[:limit], *dropped.values_list("id", flat=True)[:limit]]
    for delivery_id in ids:
        tasks.process_webhook_delivery.delay(delivery_id)
    if ids:
        logger.warning("queued %s webhook deliveries again that no task was processing", len(ids))
    return ids


def deliveries_prune(*, older_than: timedelta, now: datetime | None = None, chunk: int = 5_000) -> int:
    """Delete processed and ignored deliveries received before ``older_than`` ago (failed and
    waiting ones stay for support); in chunks, so no statement holds the table long."""
    cutoff = (now or timezone.now()) - older_than
    done = (DeliveryState.PROCESSED, DeliveryState.IGNORED)
    deleted = 0
    while True:
        ids = list(
            WebhookDelivery.objects.filter(state__in=done, received_at__lt=cutoff).values_list("id", flat=True)[:chunk]
        )
        if not ids:
            return deleted
        deleted += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]


def attempts_prune(*, older_than: timedelta, now: datetime | None = None, chunk: int = 5_000) -> int:
    """Delete provider attempts recorded before ``older_than`` ago, in chunks, like deliveries."""
    cutoff = (now or timezone.now()) - older_than
    deleted = 0
    while True:
        ids = list(ProviderAttempt.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[:chunk])
        if not ids:
            return deleted
        deleted += ProviderAttempt.objects.filter(pk__in=ids).delete()[0]
