"""Thin tasks (queue "suppliers"): load by id, call one service.

Every task is safe to run twice (a retried task, a redelivery after a killed worker: acks_late
and reject-on-worker-lost): the services hold each supplier call under a lease and record once.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction

from integrations.errors import ProviderError
from integrations.oauth import GrantRefused
from suppliers.enums import PlacementOutcome
from suppliers.services.accounts import supplier_authorizations_prune
from suppliers.services.attempts import supplier_attempts_prune
from suppliers.services.batches import placement_result_run, placement_results_requeue
from suppliers.services.bulk import placement_chunk_run
from suppliers.services.payment import supplier_order_pay, supplier_order_reconcile, supplier_orders_to_reconcile
from suppliers.services.protocol import RECONCILE_DELAY, Result
from suppliers.services.rules import auto_order_rules_run, order_place_by_rule, supplier_order_pay_by_rule
from suppliers.services.tokens import source_account_token_refresh, source_accounts_due_for_refresh

logger = logging.getLogger(__name__)

MAX_COUNTDOWN = 900

# A placement our pacing did not send (the supplier's call rate limit is used up for longer than
# a call may sleep inline: docs/suppliers.md, "Never twice (for support)") comes back when its
# slot is free, plus a little spread so the tasks deferred together do not all wake at once; at
# most this many times, then the order stays in New with the reason (beat's sweep of unfinished
# batches queues a bulk placement again).
DEFERRED_RETRIES = 50
DEFERRED_SPREAD = 0.5  # seconds


def _again(task: Task, result: Result, *args: object) -> None:
    """Retry ``task`` with ``args`` after a DEFERRED result's wait (raises ``Retry``)."""
    if result.outcome == PlacementOutcome.DEFERRED:
        countdown = (result.retry_after or 0.0) + random.random() * DEFERRED_SPREAD  # noqa: S311 - spread only
        raise task.retry(args=args, kwargs={}, countdown=countdown, max_retries=DEFERRED_RETRIES)


@shared_task(name="suppliers.place_batch_order", bind=True)
def place_batch_order(self: Task, result_id: int, pay: bool | None = None) -> str:
    result = placement_result_run(result_id=result_id, pay=pay)
    _again(self, result, result_id, pay)
    return result.outcome


@shared_task(name="suppliers.place_batch_orders", bind=True)
def place_batch_orders(self: Task, result_ids: list[int], pay: bool | None = None) -> dict[str, int]:
    """A chunk of a bulk placement; the results our pacing deferred come back after their wait."""
    outcomes = placement_chunk_run(result_ids=result_ids, pay=pay)
    deferred = [result_id for result_id, result in outcomes.items() if result.outcome == PlacementOutcome.DEFERRED]
    if deferred:
        wait = max(outcomes[result_id].retry_after or 0.0 for result_id in deferred)
        _again(self, Result(PlacementOutcome.DEFERRED, retry_after=wait), deferred, pay)
    counted: dict[str, int] = {}
    for result in outcomes.values():
        counted[result.outcome] = counted.get(result.outcome, 0) + 1
    return counted


@shared_task(name="suppliers.requeue_placement_results")
def requeue_placement_results() -> int:
    """Beat: placements of unfinished batches whose task was lost are queued again."""
    return placement_results_requeue()


@shared_task(name="suppliers.pay_supplier_order")
def pay_supplier_order(supplier_order_id: int) -> str:
    return supplier_order_pay(supplier_order_id=supplier_order_id).outcome


@shared_task(name="suppliers.reconcile_supplier_order")
def reconcile_supplier_order(supplier_order_id: int) -> str:
    return supplier_order_reconcile(supplier_order_id=supplier_order_id).outcome


@shared_task(name="suppliers.reconcile_in_flight")
def reconcile_in_flight() -> int:
    """Beat: every in-flight supplier order whose lease has passed gets a reconcile task."""
    due = supplier_orders_to_reconcile()
    for supplier_order_id in due:
        reconcile_supplier_order.delay(supplier_order_id)
    return len(due)


@shared_task(name="suppliers.run_auto_order_rules")
def run_auto_order_rules() -> int:
    """Beat: queue what every enabled auto-order rule places or pays now."""
    return auto_order_rules_run()


@shared_task(name="suppliers.place_by_rule", bind=True)
def place_by_rule(self: Task, order_id: int, rule_id: int) -> str:
    result = order_place_by_rule(order_id=order_id, rule_id=rule_id)
    _again(self, result, order_id, rule_id)
    return result.outcome


@shared_task(name="suppliers.pay_by_rule")
def pay_by_rule(supplier_order_id: int, rule_id: int) -> str:
    return supplier_order_pay_by_rule(supplier_order_id=supplier_order_id, rule_id=rule_id).outcome


def reconcile_soon(supplier_order_id: int, *, countdown: int = RECONCILE_DELAY) -> None:
    """After the current transaction commits: ask the supplier what became of a call."""
    transaction.on_commit(lambda: reconcile_supplier_order.apply_async((supplier_order_id,), countdown=countdown))


@shared_task(name="suppliers.refresh_due_tokens")
def refresh_due_tokens() -> int:
    """Beat, every minute: a refresh task per AliExpress / CJ account whose token expires soon."""
    due = source_accounts_due_for_refresh()
    for source_account_id in due:
        refresh_source_account_token.delay(source_account_id)
    return len(due)


@shared_task(name="suppliers.refresh_source_account_token", bind=True, max_retries=3)
def refresh_source_account_token(self: Any, source_account_id: int) -> str:
    """Refresh one supplier account's token ahead of expiry (under its refresh claim)."""
    try:
        return "fresh" if source_account_token_refresh(source_account_id=source_account_id) else "not in use"
    except GrantRefused:
        return "needs reconnecting"
    except ProviderError as error:
        if error.retryable:
            wanted = min(error.retry_after or 0, MAX_COUNTDOWN)
            raise self.retry(countdown=max(2 ** (self.request.retries + 2), int(wanted + 0.999))) from error
        logger.warning("supplier account %s: token refresh failed: %s", source_account_id, error)
        return "failed"


@shared_task(name="suppliers.prune_attempts")
def prune_attempts() -> int:
    """Beat, daily: supplier attempts older than PROVIDER_ATTEMPT_RETENTION_DAYS go."""
    return supplier_attempts_prune(older_than=settings.PROVIDER_ATTEMPT_RETENTION)


@shared_task(name="suppliers.prune_authorizations")
def prune_authorizations() -> int:
    """Beat, daily: supplier authorizations (the AliExpress connect states) older than a week go."""
    return supplier_authorizations_prune()


# Supplier sync, AliExpress messages, channel cancellations ---------------------------------------

# A channel cancellation waiting on an in-flight supplier call (or a supplier that did not
# answer) runs again this much later, up to CHANNEL_CANCEL_RETRIES times (about two hours).
CHANNEL_CANCEL_RETRY_DELAY = 60
CHANNEL_CANCEL_RETRIES = 8


@shared_task(name="suppliers.sync_due_supplier_orders")
def sync_due_supplier_orders() -> int:
    """Beat: claim the due supplier orders and queue one sync task per batch."""
    from suppliers.services.sync import supplier_orders_claim_due, tracking_hand_on_due

    tracking_hand_on_due()
    return sum(len(batch) for batch in supplier_orders_claim_due())


@shared_task(name="suppliers.sync_supplier_orders")
def sync_supplier_orders(supplier_order_ids: list[int]) -> dict[str, int]:
    from suppliers.services.sync import supplier_orders_sync

    return supplier_orders_sync(supplier_order_ids=[int(pk) for pk in supplier_order_ids])


@shared_task(name="suppliers.process_supplier_message")
def process_supplier_message(message_id: int) -> str:
    from suppliers.services.messages import supplier_message_process

    return supplier_message_process(message_id=message_id)


@shared_task(name="suppliers.requeue_pending_messages")
def requeue_pending_messages() -> int:
    """Beat: supplier messages stored while the broker was away get their task."""
    from suppliers.services.messages import supplier_messages_requeue_stuck

    return len(supplier_messages_requeue_stuck())


@shared_task(bind=True, name="suppliers.order_channel_canceled", max_retries=CHANNEL_CANCEL_RETRIES)
def order_channel_canceled(self: Any, order_id: int) -> dict[str, list[int]]:
    """Enqueued by name by orders when a channel order becomes canceled."""
    from suppliers.services.cancel import order_channel_canceled as carry

    result = carry(order_id=order_id)
    if result.retry:  # a supplier order in flight: after it settles (backing off, about two hours in all)
        raise self.retry(countdown=min(CHANNEL_CANCEL_RETRY_DELAY * 2**self.request.retries, 1800))
    return {"canceled": result.canceled, "told_how": result.told_how, "refund_asked": result.refund_asked}


@shared_task(name="suppliers.sweep_channel_cancels")
def sweep_channel_cancels() -> int:
    """Beat: channel cancellations whose supplier orders were not dealt with get their task again."""
    from suppliers.services.cancel import channel_cancels_sweep

    return len(channel_cancels_sweep())


@shared_task(name="suppliers.tracking_fallback_fetch")
def tracking_fallback_fetch(
    supplier_order_id: Any = None, *, shipment_id: Any = None, tracking_number: Any = None, **unexpected: Any
) -> str:
    """Sent by tracking by name while the tracking provider knows nothing of a parcel: the
    supplier's own scans go back to tracking (AliExpress only; docs/tracking.md). Not retried:
    tracking asks again later."""
    from suppliers.services.tracking_fallback import supplier_tracking_fallback

    if unexpected:
        logger.warning("tracking fallback: unexpected arguments %s ignored", sorted(unexpected)[:10])
    result = supplier_tracking_fallback(
        supplier_order_id=supplier_order_id, shipment_id=shipment_id, tracking_number=tracking_number
    )
    return result.outcome


# Refunds asked of suppliers (suppliers/services/refund_send.py) ---------------------------------


@shared_task(name="suppliers.refund_send")
def refund_send(refund_id: int) -> str:
    """Sent by name (``REFUND_SEND_TASK``) after a request commits: the supplier call, once."""
    from suppliers.services.refund_send import refund_send as send

    return send(refund_id=int(refund_id))


@shared_task(name="suppliers.sync_due_refunds")
def sync_due_refunds() -> int:
    """Beat, every 5 minutes: lost sends queued again, sent requests read back."""
    from suppliers.services.refund_send import refunds_sync_due

    return refunds_sync_due()


@shared_task(name="suppliers.flag_refund_overdue")
def flag_refund_overdue() -> int:
    """Beat, every 10 minutes: ``Order.refund_overdue`` from the due times (flagged + cleared)."""
    from django.utils import timezone

    from suppliers.services.refunds import orders_flag_refund_overdue

    flagged, cleared = orders_flag_refund_overdue(now=timezone.now())
    return flagged + cleared
