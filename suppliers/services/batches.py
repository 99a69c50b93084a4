"""Bulk placement: one batch per "Place" click, one result per order, progress that survives a reload.

The batch is written first (one row per order of the account in New, others dropped), then one
task per order is enqueued after the commit; each task places its order and writes its result.
A task run twice (a retried or redelivered task) finds its result written and does nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from orders.enums import OrderStatus
from orders.models import Order
from orders.services.cancel_hook import BROKER_ERRORS
from suppliers.enums import PlacementOutcome
from suppliers.models import AutoOrderRule, PlacementBatch, PlacementResult
from suppliers.services.placement import Result, order_place

logger = logging.getLogger(__name__)

SUCCESS = (PlacementOutcome.PAID, PlacementOutcome.PLACED)


def placement_batch_create(
    *, account: Account, order_ids: Iterable[int], actor: AbstractBaseUser | None, pay: bool | None = None
) -> PlacementBatch:
    """A batch for those of ``order_ids`` that are the account's and in New (others ignored)."""
    from suppliers.tasks import place_batch_order  # the task module imports the services

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
        pay_option = pay
        transaction.on_commit(lambda: [place_batch_order.delay(result.pk, pay_option) for result in results])
        if not placeable:
            PlacementBatch.objects.filter(pk=batch.pk).update(finished_at=timezone.now())
    return batch


def _enqueue(task: Any, result_ids: list[int], pay: bool | None) -> None:
    """One task per result; a failure to send one does not stop the others (beat's sweep
    ``placement_results_requeue`` sends what is still waiting)."""
    for result_id in result_ids:
        try:
            task.delay(result_id, pay)
        except BROKER_ERRORS:  # the broker refused this one: the sweep sends it again
            logger.exception("placement result %s could not be queued", result_id)


def placement_results_requeue(*, older_than: timedelta = timedelta(minutes=5)) -> int:
    """Beat: results of unfinished batches not done after a while (a task lost with its broker or
    worker) are queued again; running one twice writes its outcome once."""
    from suppliers.tasks import place_batch_order

    waiting = list(
        PlacementResult.objects.filter(
            outcome="", batch__finished_at=None, batch__created_at__lt=timezone.now() - older_than
        ).values_list("pk", "batch__pay")[:1000]
    )
    for result_id, pay in waiting:
        place_batch_order.delay(result_id, pay)
    return len(waiting)


def placement_result_run(*, result_id: int, pay: bool | None = None, rule: AutoOrderRule | None = None) -> Result:
    """Place the result's order and write the outcome once (a second run: nothing). A DEFERRED
    placement (the supplier's call rate limit) is not written: the task comes back for it."""
    result = PlacementResult.objects.select_related("batch", "batch__account", "batch__created_by").get(pk=result_id)
    if result.outcome:
        return Result(PlacementOutcome(result.outcome), result.message)
    batch = result.batch
    try:
        placed = order_place(
            account=batch.account, order_id=result.order_id, actor=batch.created_by, rule=rule, pay=pay
        )
    except Order.DoesNotExist:
        placed = Result(PlacementOutcome.SKIPPED, _("The order is gone."))
    except Exception:  # a bug or the database: the supplier order itself stays safe (in flight at worst)
        logger.exception("placing order %s of batch %s failed", result.order_id, batch.pk)
        placed = Result(PlacementOutcome.UNKNOWN, _("Something went wrong on our side; the order is checked again."))
    if placed.outcome == PlacementOutcome.DEFERRED:
        return placed
    outcome, message = placed.outcome, placed.message
    with transaction.atomic():
        written = PlacementResult.objects.filter(pk=result_id, outcome="").update(
            outcome=outcome, message=message[:500], finished_at=timezone.now()
        )
        if written:
            succeeded = 1 if outcome in SUCCESS else 0
            failed = (
                1
                if outcome in (PlacementOutcome.BLOCKED, PlacementOutcome.REFUSED, PlacementOutcome.PAYMENT_FAILED)
                else 0
            )
            PlacementBatch.objects.filter(pk=batch.pk).update(
                done=F("done") + 1, succeeded=F("succeeded") + succeeded, failed=F("failed") + failed
            )
            PlacementBatch.objects.filter(pk=batch.pk, done__gte=F("total"), finished_at=None).update(
                finished_at=timezone.now()
            )
    return placed


def placement_batch_of(*, account: Account, public_id: str) -> PlacementBatch:
    """The account's batch (``PlacementBatch.DoesNotExist`` for another's or a malformed id)."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        raise PlacementBatch.DoesNotExist from None
    return PlacementBatch.objects.get(account=account, public_id=key)
