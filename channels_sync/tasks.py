"""Thin tasks (queue "sync"; fulfillment push-back on "push"): load by id, call one service."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from channels_sync.enums import DeliveryState
from channels_sync.models import ComplianceRequest, FulfillmentPush, WebhookDelivery
from channels_sync.services import (
    ConnectError,
    attempts_prune,
    deliveries_prune,
    deliveries_requeue_stuck,
    delivery_process,
    order_resync,
    pulls_queue_due,
    store_connect_check,
    store_pull,
    store_pull_enqueue,
)
from channels_sync.services import push as push_services
from channels_sync.services.compliance import (
    compliance_request_fail,
    compliance_request_process,
    compliance_requests_stuck,
)
from channels_sync.services.install import authorizations_prune
from channels_sync.services.processing import MAX_ATTEMPTS, delivery_retry_schedule
from channels_sync.services.pull import PullResult
from channels_sync.services.push_input import PushInputError
from channels_sync.services.tokens import store_token_refresh, stores_due_for_refresh
from integrations.errors import ProviderError
from integrations.oauth import GrantRefused

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
        countdown = retry_countdown(retries=self.request.retries, retry_after=outcome.retry_after)
        delivery_retry_schedule(delivery_id=delivery_id, countdown=countdown)
        raise self.retry(countdown=countdown)
    return outcome.state


@shared_task(name="channels_sync.connect_store")
def connect_store(store_id: int) -> str:
    """Check a store's new details with the channel and apply them; the reason stays on the store."""
    try:
        result = store_connect_check(store_id=store_id)
    except ConnectError:
        return "failed"
    return "connected" if result is not None else "nothing to check"


@shared_task(name="channels_sync.pull_store")
def pull_store(store_id: int, due_only: bool = False) -> dict[str, Any]:
    """One run of a store's pull; ``due_only`` (beat, continuations): only if it is still due."""
    result: PullResult = store_pull(store_id=store_id, due_only=due_only)
    if result.stopped:  # its time budget ran out with pages left: the next run goes on from there
        store_pull_enqueue(store_id=store_id, due_only=True)
    return {"skipped": result.skipped, "stopped": result.stopped, "orders": result.orders, "error": result.error}


@shared_task(name="channels_sync.pull_due_stores")
def pull_due_stores() -> int:
    """Beat: one pull task per due store not queued yet; each task claims its store, so a store
    never pulls twice at once."""
    return len(pulls_queue_due())


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


@shared_task(name="channels_sync.prune_authorizations")
def prune_authorizations() -> int:
    """Beat, hourly: expired approvals drop the grants they hold; those older than a week go."""
    return authorizations_prune()


@shared_task(name="channels_sync.refresh_due_tokens")
def refresh_due_tokens() -> int:
    """Beat: a refresh task per app-connected store whose access token expires soon."""
    due = stores_due_for_refresh()
    for store_id in due:
        refresh_store_token.delay(store_id)
    return len(due)


@shared_task(name="channels_sync.refresh_store_token", bind=True, max_retries=3)
def refresh_store_token(self: Any, store_id: int) -> str:
    """Refresh one store's expiring token ahead of expiry (under the store's refresh claim)."""
    try:
        return "fresh" if store_token_refresh(store_id=store_id) else "not in use"
    except GrantRefused:
        return "needs reconnecting"
    except ProviderError as error:
        if error.retryable:
            countdown = retry_countdown(retries=self.request.retries, retry_after=error.retry_after, base=2)
            raise self.retry(countdown=countdown) from error
        logger.warning("store %s: token refresh failed: %s", store_id, error)
        return "failed"


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


# A compliance request not processed within this long lost its task: beat queues it again.
COMPLIANCE_STUCK_AFTER = timedelta(minutes=5)


@shared_task(name="channels_sync.process_compliance_request")
def process_compliance_request(request_id: int) -> str:
    """Do what one of Shopify's compliance webhooks asks (erase, or note what we hold)."""
    try:
        return compliance_request_process(request_id=request_id)
    except ComplianceRequest.DoesNotExist:
        return "missing"
    except Exception as error:  # a bug must not lose the request: kept failed, with its body, for replay
        logger.exception("compliance request %s failed", request_id)
        compliance_request_fail(request_id=request_id, error=f"internal error: {type(error).__name__}: {error}")
        return "failed"


@shared_task(name="channels_sync.requeue_stuck_compliance_requests")
def requeue_stuck_compliance_requests() -> int:
    """Beat: compliance requests stored while the broker was away (or whose task died) get a task again."""
    stuck = compliance_requests_stuck(older_than=COMPLIANCE_STUCK_AFTER)
    for request_id in stuck:
        process_compliance_request.delay(request_id)
    return len(stuck)


# Fulfillment push-back (queue "push": CELERY_TASK_ROUTES "channels_sync.fulfillment_*") ------


@shared_task(name="channels_sync.fulfillment_push_request")
def fulfillment_push_request(
    *,
    order_id: Any = None,
    shipment_id: Any = None,
    tracking_number: Any = None,
    carrier: Any = "",
    lines: Any = None,
    tracking_url: Any = "",
    **unknown: Any,
) -> str:
    """Contract 2: tracking hands a parcel over (kwargs checked as hostile input by the service)."""
    if unknown:
        logger.warning("fulfillment push request dropped: unknown kwargs %s", sorted(unknown)[:5])
        return f"dropped: unknown kwargs {', '.join(sorted(unknown)[:5])}"
    try:
        push = push_services.fulfillment_push_request(
            order_id=order_id,
            shipment_id=shipment_id,
            tracking_number=tracking_number,
            carrier=carrier,
            lines=[] if lines is None else lines,
            tracking_url=tracking_url,
        )
    except PushInputError as error:
        logger.warning("fulfillment push request dropped: %s", error)
        return f"dropped: {error}"
    return str(push.state)


@shared_task(name="channels_sync.fulfillment_push_run")
def fulfillment_push_run(push_id: Any, lease: Any = None) -> str:
    """One try of one push (claimed by the service; a push not due or held elsewhere is left alone).
    ``lease``: the sweep's (ISO time), when the sweep sent it."""
    if isinstance(push_id, bool) or not isinstance(push_id, int) or push_id <= 0:
        return "dropped: push_id must be a positive whole number"
    leased = None
    if isinstance(lease, str) and len(lease) <= 40:
        try:
            leased = datetime.fromisoformat(lease)
        except ValueError:
            leased = None
    try:
        return push_services.fulfillment_push_run(
            push_id=push_id, lease=leased if leased is not None and leased.tzinfo is not None else None
        )
    except FulfillmentPush.DoesNotExist:
        return "missing"


@shared_task(name="channels_sync.fulfillment_pushes_due")
def fulfillment_pushes_due() -> int:
    """Beat: a run task per due push (waiting, retrying, or held past their time by a dead worker),
    each leased for ``SWEEP_LEASE`` so the next sweep does not send it again while it waits."""
    lease = timezone.now() + push_services.SWEEP_LEASE
    due = push_services.fulfillment_pushes_due(lease=lease)
    for push_id in due:
        fulfillment_push_run.delay(push_id, lease.isoformat())
    return len(due)
