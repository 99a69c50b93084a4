"""Bulk placement: one batch per "Place" click, one result per order, progress that survives a reload.

The batch is written first (one row per order of the account in New, others dropped), then one
task per chunk of ``bulk.CHUNK`` results is enqueued after the commit; each places its orders
together (``bulk.placement_chunk_run``) and writes each result once. A task run twice (a retried
or redelivered task) finds its results written and does nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from orders.enums import OrderStatus
from orders.models import Order
from orders.services.cancel_hook import BROKER_ERRORS
from suppliers.enums import PlacementOutcome
from suppliers.models import AutoOrderRule, PlacementBatch, PlacementResult
from suppliers.services.bulk import CHUNK, results_write
from suppliers.services.placement import Result, order_place_reported

logger = logging.getLogger(__name__)


def placement_batch_create(
    *, account: Account, order_ids: Iterable[int], actor: AbstractBaseUser | None, pay: bool | None = None
) -> PlacementBatch:
    """A batch for those of ``order_ids`` that are the account's and in New (others ignored)."""
    wanted = sorted(set(order_ids))
    placeable = list(
        Order.objects.filter(account=account, pk__in=wanted, archived=False, status=OrderStatus.NEW)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    with transaction.atomic():
        batch = PlacementBatch.objects.create(
            account=account,
            created_by_id=actor.pk if actor is not None else None,
            pay=pay is not False,
            total=len(placeable),
        )
        results = PlacementResult.objects.bulk_create(PlacementResult(batch=batch, order_id=pk) for pk in placeable)
        result_ids = [result.pk for result in results]
        transaction.on_commit(lambda: chunks_enqueue(result_ids, pay))
        if not placeable:
            PlacementBatch.objects.filter(pk=batch.pk).update(finished_at=timezone.now())
    return batch


def chunks_enqueue(result_ids: list[int], pay: bool | None) -> None:
    """One task per ``CHUNK`` results; a failure to send one does not stop the others (beat's
    sweep ``placement_results_requeue`` sends what is still waiting)."""
    from suppliers.tasks import place_batch_orders  # the task module imports the services

    for start in range(0, len(result_ids), CHUNK):
        chunk = result_ids[start : start + CHUNK]
        try:
            place_batch_orders.delay(chunk, pay)
        except BROKER_ERRORS:  # the broker refused this one: the sweep sends it again
            logger.exception("placement results %s… could not be queued", chunk[0])


def placement_results_requeue(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Beat: results of unfinished batches not done after a while (a task lost with its broker or
    worker) are queued again; running one twice writes its outcome once."""
    waiting = list(
        PlacementResult.objects.filter(
            outcome="", batch__finished_at=None, batch__created_at__lt=timezone.now() - older_than
        )
        .order_by("pk")
        .values_list("pk", "batch__pay")[:1000]
    )
    by_pay: dict[bool, list[int]] = defaultdict(list)
    for result_id, pay in waiting:
        by_pay[pay].append(result_id)
    for pay, result_ids in by_pay.items():
        chunks_enqueue(result_ids, pay)
    return len(waiting)


def placement_result_run(*, result_id: int, pay: bool | None = None, rule: AutoOrderRule | None = None) -> Result:
    """Place the result's order and write the outcome once (a second run: nothing). A DEFERRED
    placement (the supplier's call rate limit) is not written: the task comes back for it."""
    result = PlacementResult.objects.select_related("batch", "batch__account", "batch__created_by").get(pk=result_id)
    if result.outcome:
        return Result(PlacementOutcome(result.outcome), result.message)
    batch = result.batch
    placed = order_place_reported(
        account=batch.account, order_id=result.order_id, actor=batch.created_by, rule=rule, pay=pay
    )
    results_write(batch_id=batch.pk, outcomes={result_id: placed})
    return placed


def placement_batch_of(*, account: Account, public_id: str) -> PlacementBatch:
    """The account's batch (``PlacementBatch.DoesNotExist`` for another's or a malformed id)."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise PlacementBatch.DoesNotExist from None
    return PlacementBatch.objects.get(account=account, public_id=key)
