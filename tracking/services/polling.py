"""Polling due shipments (beat: ``tracking.poll_due``).

The dispatcher claims due shipments (``next_poll_at <= now``, not held or the hold expired) in
batches of 40 with ``select_for_update(skip_locked=True)`` through the partial index
``shipment_poll_due_idx`` (the claim's cost does not grow with the number of shipments), marks
them held (``poll_claimed_until``) and commits; then it polls the batch OUTSIDE any transaction
(one provider call), merges the answer (``track_infos_merge``) and releases the rows.

- ``RateLimited`` (429): the batch is released with ``next_poll_at = now + retry_after`` and the
  run stops (the next beat goes on);
- ``CredentialsError`` or a refusal that will not pass by itself (not retryable): the batch is
  released as it was (no failure counted: the shipments are not at fault) and the run stops;
- another retryable failure (5xx, timeout) or an unreadable answer: the batch backs off
  (``poll_failures``, doubling, capped); ``MAX_FAILED_BATCHES`` such batches in a row stop the run
  (a circuit breaker: 17TRACK is down, the next beat tries again);
- an unexpected error in a batch (a bug, bad data): the batch is logged and backs off, the run
  goes on with the next batch (one bad batch never stops every poll);
- the run stops after ``BUDGET`` seconds, well inside ``CELERY_TASK_TIME_LIMIT``;
- a number the provider no longer knows (``-18019902``): PENDING again (re-registered by beat);
- an item it could not read: that shipment backs off, the others are merged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from redis.exceptions import RedisError

from integrations.errors import CredentialsError, MalformedPayload, ProviderError, RateLimited
from tracking.enums import RegistrationState
from tracking.models import Shipment
from tracking.providers.base import BATCH_SIZE, TrackingProvider
from tracking.services.fallback import shipments_fallback_ask
from tracking.services.merge import POLL, shipments_stop, track_infos_merge

logger = logging.getLogger(__name__)

HOLD = timedelta(minutes=10)  # more than one batch's call and merge take
BACKOFF_BASE = timedelta(minutes=10)
BACKOFF_MAX = timedelta(hours=12)
NOT_REGISTERED = "-18019902"
MAX_BATCHES = 50  # per dispatcher run (2,000 numbers): the next beat goes on
MAX_FAILED_BATCHES = 2  # retryable failures in a row that stop a run (the circuit breaker)
BUDGET = 60.0  # seconds a dispatcher run may start batches for (the task's time limit is larger)
GO, STOP, FAILED = "go", "stop", "failed"  # what one batch tells the dispatcher


def poll_backoff(failures: int) -> timedelta:
    """The wait after ``failures`` failed polls in a row (10 min, doubling, at most 12 h)."""
    return min(BACKOFF_BASE * (2 ** max(0, min(failures, 16) - 1)), BACKOFF_MAX)


def shipments_claim_due(*, now: datetime | None = None, limit: int = BATCH_SIZE) -> list[int]:
    """Hold up to ``limit`` due shipments for this poller and commit; their ids. Another poller at
    the same time skips the locked rows and the held ones: no shipment is polled twice."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            Shipment.objects.select_for_update(skip_locked=True)
            .filter(next_poll_at__lte=now)
            .filter(Q(poll_claimed_until__isnull=True) | Q(poll_claimed_until__lt=now))
            .order_by("next_poll_at")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            Shipment.objects.filter(pk__in=ids).update(poll_claimed_until=now + HOLD)
    return ids


@dataclass
class PollOutcome:
    batches: int = 0
    polled: int = 0
    events_inserted: int = 0
    reregister: int = 0
    failed: int = 0
    rate_limited: float | None = None  # the retry_after that stopped the run
    errors: int = 0  # batches an unexpected error backed off
    stopped_by: str = ""  # why the run stopped before nothing was due ("" when it did not)
    claimed: list[int] = field(default_factory=list)


def _lock_in_order(ids: Sequence[int]) -> list[int]:
    """Lock the rows in id order (inside the caller's transaction), as the merge does: two
    multi-row updates never wait on each other in a cycle (no deadlock)."""
    return list(
        Shipment.objects.select_for_update().filter(pk__in=list(ids)).order_by("id").values_list("id", flat=True)
    )


def _release(ids: Sequence[int], **fields: object) -> None:
    if not ids:
        return
    with transaction.atomic():
        locked = _lock_in_order(ids)
        Shipment.objects.filter(pk__in=locked).update(poll_claimed_until=None, updated_at=timezone.now(), **fields)


def _back_off(ids: Sequence[int], now: datetime) -> None:
    """Each shipment's next poll after one more failure (one statement per failure count)."""
    if not ids:
        return
    with transaction.atomic():
        rows = Shipment.objects.filter(pk__in=_lock_in_order(ids))
        for failures in set(rows.values_list("poll_failures", flat=True)):
            rows.filter(poll_failures=failures).update(
                poll_failures=F("poll_failures") + 1,
                next_poll_at=now + poll_backoff(failures + 1),
                poll_claimed_until=None,
                updated_at=now,
            )


def shipments_poll(*, shipment_ids: Sequence[int], provider: TrackingProvider, outcome: PollOutcome) -> str:
    """Poll one claimed batch and merge it: ``GO`` on, ``STOP`` the run (a 429, bad credentials,
    a refusal), or ``FAILED`` (a retryable failure: the batch backed off)."""
    now = timezone.now()
    numbers = dict(Shipment.objects.filter(pk__in=list(shipment_ids)).values_list("id", "tracking_number"))
    ids_of: dict[str, list[int]] = {}
    for pk, number in numbers.items():
        ids_of.setdefault(number, []).append(pk)
    try:
        result = provider.poll_result(list(ids_of))
    except RateLimited as error:
        wait = error.retry_after if error.retry_after is not None else 1.0
        outcome.rate_limited = wait
        outcome.stopped_by = f"rate limited ({wait} s)"
        _release(shipment_ids, next_poll_at=now + timedelta(seconds=wait))
        return STOP
    except ProviderError as error:
        if isinstance(error, CredentialsError) or not error.retryable:
            logger.error("17TRACK refused the poll of %s numbers: %s (run stopped)", len(ids_of), error)
            outcome.stopped_by = str(error)[:200]
            _release(shipment_ids)
            return STOP
        logger.warning("17TRACK poll of %s numbers failed: %s", len(ids_of), error)
        outcome.failed += len(shipment_ids)
        _back_off(shipment_ids, now)
        return FAILED
    except RedisError as error:  # the pacer's bucket is away: nobody's fault, try at the next beat
        logger.warning("17TRACK pacer unavailable, poll run stopped: %s", error)
        outcome.stopped_by = f"pacer unavailable: {error}"[:200]
        _release(shipment_ids)
        return STOP
    except MalformedPayload as error:
        logger.warning("17TRACK poll answer for %s numbers unreadable: %s", len(ids_of), error)
        outcome.failed += len(shipment_ids)
        _back_off(shipment_ids, now)
        return FAILED
    outcome.batches += 1
    merged = track_infos_merge(list(result.tracked), source=POLL, now=now)
    outcome.polled += len(result.tracked)
    outcome.events_inserted += merged.events_inserted
    gone = [pk for item in result.rejected if item.code == NOT_REGISTERED for pk in ids_of.get(item.number, [])]
    unreadable = [pk for item in result.rejected if item.code != NOT_REGISTERED for pk in ids_of.get(item.number, [])]
    if gone:
        outcome.reregister += len(gone)
        with transaction.atomic():
            Shipment.objects.filter(pk__in=_lock_in_order(gone)).update(
                registration_state=RegistrationState.PENDING,
                next_poll_at=None,
                poll_claimed_until=None,
                updated_at=now,
            )
    if unreadable:
        outcome.failed += len(unreadable)
        _back_off(unreadable, now)
        for item in result.rejected:  # at most a batch: why each could not be read, shown
            if item.code != NOT_REGISTERED and item.number in ids_of:
                said = f"{item.code}: {item.reason}" if item.reason else item.code
                Shipment.objects.filter(pk__in=ids_of[item.number]).update(read_error=said.replace("\x00", "")[:255])
    answered = [pk for info in result.tracked for pk in ids_of.get(info.number, [])]
    _release(answered, poll_failures=0, last_polled_at=now)
    shipments_fallback_ask(shipment_ids=answered, now=now)  # still nothing: the supplier's own tracking
    left = set(shipment_ids) - set(answered) - set(gone) - set(unreadable)
    if left:  # not in the answer at all: polled again later
        _back_off(list(left), now)
    shipments_stop(numbers=merged.to_stop, provider=provider)
    return GO


def shipments_poll_due(
    *,
    provider: TrackingProvider | None = None,
    max_batches: int = MAX_BATCHES,
    budget: float = BUDGET,
    clock: Callable[[], float] = time.monotonic,
) -> PollOutcome:
    """The dispatcher: claim a batch, poll it, until nothing is due, the run is stopped (a 429, a
    refusal, ``MAX_FAILED_BATCHES`` failures in a row), ``budget`` seconds or ``max_batches``."""
    outcome = PollOutcome()
    own = provider is None
    if provider is None:
        from tracking.services.provider import tracking_provider

        provider = tracking_provider()
    deadline = clock() + budget
    failed_in_a_row = 0
    try:
        for _ in range(max_batches):
            if clock() >= deadline:
                outcome.stopped_by = f"time budget ({budget:g} s) spent"
                break
            ids = shipments_claim_due()
            if not ids:
                break
            outcome.claimed.extend(ids)
            try:
                verdict = shipments_poll(shipment_ids=ids, provider=provider, outcome=outcome)
            except Exception:  # a bug or bad data in this batch: it waits, the others go on
                logger.exception("polling a batch of %s shipments failed: backed off", len(ids))
                outcome.errors += 1
                outcome.failed += len(ids)
                _back_off(ids, timezone.now())
                continue
            if verdict == STOP:
                break
            failed_in_a_row = failed_in_a_row + 1 if verdict == FAILED else 0
            if failed_in_a_row >= MAX_FAILED_BATCHES:
                outcome.stopped_by = f"{failed_in_a_row} failed batches in a row"
                break
    finally:
        if own:
            provider.close()
    return outcome
