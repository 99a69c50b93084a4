"""Thin tasks (queue "sync"): load by id, call one service."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

from channels_sync.enums import DeliveryState
from channels_sync.models import WebhookDelivery
from channels_sync.services import (
    attempts_prune,
    deliveries_prune,
    deliveries_requeue_stuck,
    delivery_process,
    order_resync,
    store_pull,
    stores_due_for_pull,
)
from channels_sync.services.processing import MAX_ATTEMPTS
from channels_sync.services.pull import PullResult
from integrations.errors import ProviderError

logger = logging.getLogger(__name__)

MAX_RETRIES = MAX_ATTEMPTS - 1
MAX_COUNTDOWN = 3600  # seconds: a provider asking for longer is asked again after an hour


def retry_countdown(*, retries: int, retry_after: float | None, base: int = 1, cap: int = 300) -> int:
    """Seconds before a task's next try: exponential from ``base`` (capped at ``cap``), or the
    provider's own wait (``ProviderError.retry_after``: Retry-After, a full bucket) when longer.
    The wait is a countdown, never a sleep in the worker."""
    backoff = min(base * 2 ** (retries + 1), cap)
    wanted = 0 if retry_after is None else min(retry_after, MAX_COUNTDOWN)
    return max(backoff, int(wanted + 0.999))


@shared_task(name="channels_sync.process_webhook_delivery", bind=True, max_retries=MAX_RETRIES)
def process_webhook_delivery(self: Any, delivery_id: int) -> str:
    final = self.request.retries >= MAX_RETRIES
    try:
        outcome = delivery_process(delivery_id=delivery_id, final_attempt=final)
    except WebhookDelivery.DoesNotExist:
        return "missing"
    except Exception as error:  # a bug must not lose the delivery: kept failed, with the reason, for replay
        logger.exception("webhook delivery %s failed", delivery_id)
        # Only if still waiting: another task (a batch that took it along) may have finished it.
        WebhookDelivery.objects.filter(pk=delivery_id, state=DeliveryState.RECEIVED).update(
            state=DeliveryState.FAILED, error=f"internal error: {type(error).__name__}: {error}"[:2000]
        )
        return DeliveryState.FAILED
    if outcome.retry:
        raise self.retry(countdown=retry_countdown(retries=self.request.retries, retry_after=outcome.retry_after))
    return outcome.state


@shared_task(name="channels_sync.pull_store")
def pull_store(store_id: int) -> dict[str, Any]:
    result: PullResult = store_pull(store_id=store_id)
    return {"skipped": result.skipped, "orders": result.orders, "error": result.error}


@shared_task(name="channels_sync.pull_due_stores")
def pull_due_stores() -> int:
    """Beat: one pull task per due store; each task claims its store, so a store never pulls twice at once."""
    due = stores_due_for_pull()
    for store_id in due:
        pull_store.delay(store_id)
    return len(due)


@shared_task(name="channels_sync.requeue_stuck_deliveries")
def requeue_stuck_deliveries() -> int:
    """Beat: deliveries stored while the broker was away (or whose task died) get a task again."""
    return len(deliveries_requeue_stuck())


@shared_task(name="channels_sync.prune_deliveries")
def prune_deliveries() -> int:
    """Beat, daily: processed and ignored deliveries older than WEBHOOK_RETENTION_DAYS go."""
    return deliveries_prune(older_than=settings.WEBHOOK_RETENTION)


@shared_task(name="channels_sync.prune_provider_attempts")
def prune_provider_attempts() -> int:
    """Beat, daily: provider attempts older than PROVIDER_ATTEMPT_RETENTION_DAYS go."""
    return attempts_prune(older_than=settings.PROVIDER_ATTEMPT_RETENTION)


@shared_task(name="channels_sync.resync_order", bind=True, max_retries=3)
def resync_order(self: Any, order_id: int) -> list[int]:
    try:
        return order_resync(order_id=order_id)
    except ProviderError as error:
        if error.retryable:
            countdown = retry_countdown(retries=self.request.retries, retry_after=error.retry_after, base=2)
            raise self.retry(countdown=countdown) from error
        logger.warning("resync of order %s failed: %s", order_id, error)
        return []
