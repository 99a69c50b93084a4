"""Polling due shipments (beat: ``tracking.poll_due``).

The dispatcher claims due shipments (``next_poll_at <= now``, not held or the hold expired) in
batches of 40 with ``select_for_update(skip_locked=True)`` through the partial index
``shipment_poll_due_idx`` (the claim's cost does not grow with the number of shipments), marks
them held (``poll_claimed_until``) and commits; then it polls the batch OUTSIDE any transaction
(one provider call), merges the answer (``track_infos_merge``) and releases the rows.

- ``RateLimited`` (429): the batch is released with ``next_poll_at = now + retry_after`` and the
  run stops (the next beat goes on);
- another retryable failure: the batch backs off (``poll_failures``, doubling, capped);
- a number the provider no longer knows (``-18019902``): PENDING again (re-registered by beat);
- an item it could not read: that shipment backs off, the others are merged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

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
    claimed: list[int] = field(default_factory=list)


def _release(ids: Sequence[int], **fields: object) -> None:
    Shipment.objects.filter(pk__in=list(ids)).update(poll_claimed_until=None, updated_at=timezone.now(), **fields)


def _back_off(ids: Sequence[int], now: datetime) -> None:
    """Each shipment's next poll after one more failure (one statement per failure count)."""
    rows = Shipment.objects.filter(pk__in=list(ids))
    for failures in set(rows.values_list("poll_failures", flat=True)):
        rows.filter(poll_failures=failures).update(
            poll_failures=F("poll_failures") + 1,
            next_poll_at=now + poll_backoff(failures + 1),
            poll_claimed_until=None,
            updated_at=now,
        )


def shipments_poll(*, shipment_ids: Sequence[int], provider: TrackingProvider, outcome: PollOutcome) -> bool:
    """Poll one claimed batch and merge it; False when the provider rate limits us (stop)."""
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
        _release(shipment_ids, next_poll_at=now + timedelta(seconds=wait))
        return False
    except (ProviderError, CredentialsError, MalformedPayload) as error:
        logger.warning("17TRACK poll of %s numbers failed: %s", len(ids_of), error)
        outcome.failed += len(shipment_ids)
        _back_off(shipment_ids, now)
        return True
    outcome.batches += 1
    merged = track_infos_merge(list(result.tracked), source=POLL, now=now)
    outcome.polled += len(result.tracked)
    outcome.events_inserted += merged.events_inserted
    gone = [pk for item in result.rejected if item.code == NOT_REGISTERED for pk in ids_of.get(item.number, [])]
    unreadable = [pk for item in result.rejected if item.code != NOT_REGISTERED for pk in ids_of.get(item.number, [])]
    if gone:
        outcome.reregister += len(gone)
        Shipment.objects.filter(pk__in=gone).update(
            registration_state=RegistrationState.PENDING,
            next_poll_at=None,
            poll_claimed_until=None,
            updated_at=now,
        )
    if unreadable:
        outcome.failed += len(unreadable)
        _back_off(unreadable, now)
    answered = [pk for info in result.tracked for pk in ids_of.get(info.number, [])]
    _release(answered, poll_failures=0, last_polled_at=now)
    shipments_fallback_ask(shipment_ids=answered, now=now)  # still nothing: the supplier's own tracking
    left = set(shipment_ids) - set(answered) - set(gone) - set(unreadable)
    if left:  # not in the answer at all: polled again later
        _back_off(list(left), now)
    shipments_stop(numbers=merged.to_stop, provider=provider)
    return True


def shipments_poll_due(*, provider: TrackingProvider | None = None, max_batches: int = MAX_BATCHES) -> PollOutcome:
    """The dispatcher: claim a batch, poll it, until nothing is due, a 429, or ``max_batches``."""
    outcome = PollOutcome()
    own = provider is None
    if provider is None:
        from tracking.services.provider import tracking_provider

        provider = tracking_provider()
    try:
        for _ in range(max_batches):
            ids = shipments_claim_due()
            if not ids:
                break
            outcome.claimed.extend(ids)
            try:
                going_on = shipments_poll(shipment_ids=ids, provider=provider, outcome=outcome)
            except Exception:
                _release(ids)  # a bug: the hold is given back, the next beat tries again
                raise
            if not going_on:
                break
    finally:
        if own:
            provider.close()
    return outcome
