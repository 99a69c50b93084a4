"""The runner's hold on a push (``FulfillmentPush``), every time read from the database's clock.

- ``push_claim``: take a due push for this worker with one conditional UPDATE, under a per-order
  advisory lock (``pg_advisory_xact_lock``) so two parcels of one order never run at once: the
  claim is refused while another push of the same order holds a live claim, and the refused one
  waits ``BUSY_WAIT`` (no attempt counted). A push due again with its tries used up (its workers
  kept dying, or something escaped the attempt every time) is FAILED here, never taken forever.
- ``push_still_ours``: right before each write the channel cannot take twice, the hold is still
  this worker's and not run out.
- ``pushes_due``: the sweep's batch, its rows' ``next_attempt_at`` moved on by ``SWEEP_LEASE`` in
  the same transaction, so a run task already queued is not queued again each minute; the run
  task carries the lease, and a push whose ``next_attempt_at`` is that lease is due for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Now
from django.utils.translation import gettext as _

from channels_sync.enums import PushState
from channels_sync.models import FulfillmentPush
from orders.enums import OrderEventType
from orders.models import OrderEvent

MAX_PUSH_ATTEMPTS = 8  # tries (retryable failures) before the push is FAILED; Retry starts again
CLAIM_FOR = timedelta(minutes=5)  # a worker's hold on a push; past it, the sweep takes it again
CLAIM_MARGIN = timedelta(seconds=45)  # the channel calls end this long before the hold does
BUSY_WAIT = timedelta(seconds=30)  # another parcel of the order is being pushed: try again then
SWEEP_LEASE = timedelta(minutes=2)  # a swept push's run task has this long before the sweep sends another
ACTIVE = (PushState.PENDING, PushState.RETRYING, PushState.PUSHING)
ORDER_LOCK_SPACE = 0x2F11  # pg_advisory_xact_lock(space, order id): the pushes of one order
EVENT_FAILED = "fulfillment_push_failed"


@dataclass(frozen=True)
class Claim:
    """What a claim got: the hold (None: not taken) and, when not taken, why."""

    until: datetime | None
    reason: str = ""


def _due(push_id: int, lease: datetime | None) -> Q:
    due = Q(next_attempt_at__lte=Now())
    if lease is not None:
        due |= Q(next_attempt_at=lease)
    return Q(pk=push_id, state__in=ACTIVE) & due & (Q(claimed_until__isnull=True) | Q(claimed_until__lte=Now()))


def push_claim(*, push_id: int, lease: datetime | None = None) -> Claim:
    """Take the push (see the module docstring). ``FulfillmentPush.DoesNotExist`` for an unknown id."""
    order_id = FulfillmentPush.objects.filter(pk=push_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise FulfillmentPush.DoesNotExist(push_id)
    with transaction.atomic():
        if connection.vendor == "postgresql":  # SQLite (make run) serializes writers already
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ORDER_LOCK_SPACE, order_id % 2**31])
        due = FulfillmentPush.objects.filter(_due(push_id, lease))
        if _stop_if_spent(due, push_id, order_id):
            return Claim(None, "failed: it kept stopping mid-way")
        sibling = FulfillmentPush.objects.filter(
            order_id=OuterRef("order_id"), state=PushState.PUSHING, claimed_until__gt=Now()
        ).exclude(pk=OuterRef("pk"))
        taken = due.filter(~Exists(sibling)).update(
            state=PushState.PUSHING,
            claimed_until=Now() + CLAIM_FOR,
            next_attempt_at=Now() + CLAIM_FOR,  # the sweep finds it again here if this worker dies
            attempts=F("attempts") + 1,
            updated_at=Now(),
        )
        if taken:
            until = FulfillmentPush.objects.filter(pk=push_id).values_list("claimed_until", flat=True)[0]
            return Claim(until)
        if due.update(next_attempt_at=Now() + BUSY_WAIT):  # due, but another parcel of the order runs
            return Claim(None, "order busy")
    return Claim(None, "not due")


def _stop_if_spent(due: QuerySet[FulfillmentPush], push_id: int, order_id: int) -> bool:
    """FAILED, with an order event, when the due push has used its tries (inside the claim's transaction)."""
    message = _("the push kept stopping mid-way (tried %(n)s times): retry it, or fulfil it in the channel") % {
        "n": MAX_PUSH_ATTEMPTS
    }
    spent = due.filter(attempts__gte=MAX_PUSH_ATTEMPTS).update(
        state=PushState.FAILED,
        claimed_until=None,
        next_attempt_at=None,
        error_code="kept_stopping",
        last_error=message,
        updated_at=Now(),
    )
    if spent:
        number = FulfillmentPush.objects.filter(pk=push_id).values_list("tracking_number", flat=True)[0]
        text = _("Fulfillment of %(number)s could not be sent to the channel: %(error)s") % {
            "number": number,
            "error": message,
        }
        OrderEvent.objects.create(
            order_id=order_id,
            type=OrderEventType.NOTE,
            parameters={"text": text, "code": EVENT_FAILED, "push_id": push_id},
        )
    return bool(spent)


def push_still_ours(*, push_id: int, until: datetime) -> bool:
    """The hold taken at ``until`` is still this worker's, and has not run out."""
    return FulfillmentPush.objects.filter(
        pk=push_id, state=PushState.PUSHING, claimed_until=until, claimed_until__gt=Now()
    ).exists()


def pushes_due(*, limit: int, lease: datetime) -> list[int]:
    """The pushes to run now (waiting and due, or held past their time), oldest first, their
    ``next_attempt_at`` set to ``lease``; rows another sweep is reading are skipped."""
    with transaction.atomic():
        due = list(
            FulfillmentPush.objects.select_for_update(skip_locked=True)
            .filter(state__in=ACTIVE, next_attempt_at__lte=Now())
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        if due:
            FulfillmentPush.objects.filter(pk__in=due).update(next_attempt_at=lease)
        return due
