"""Registering new shipments' numbers with the tracking provider (beat: ``tracking.register_due``).

PENDING shipments (partial index ``shipment_unregistered_idx``) are claimed first (``skip_locked``,
held with ``poll_claimed_until`` for ``HOLD`` and committed: the handover's immediate registration
and beat's never send one number twice), then go in batches of at most 40, one provider call
each, outside any transaction: accepted → REGISTERED with ``registered_at``, the
provider's carrier code and a first poll in a few minutes; rejected for good (the carrier
cannot be detected, the number is invalid: any code but the transient ones) → REJECTED with the
provider's code and reason (``registration_error``, shown; not retried); rejected for now (the
quota is used up, an internal error: ``TRANSIENT_CODES``) → stays PENDING with the reason shown,
registered by a later beat, and a used-up quota stops the run; a rate limit or a retryable
failure stops the run and leaves the rest PENDING for the next beat.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import RedisError

from integrations.errors import CredentialsError, MalformedPayload, ProviderError, RateLimited
from tracking.enums import RegistrationState
from tracking.models import Shipment
from tracking.providers.base import BATCH_SIZE, Registration, TrackingProvider, batches

logger = logging.getLogger(__name__)

FIRST_POLL = timedelta(minutes=5)
HOLD = timedelta(minutes=10)  # more than a run's calls take
DUE_LIMIT = 400  # numbers a beat run registers at most (10 calls)
QUOTA_USED_UP = "-18019908"  # 17TRACK: the account's tracking quota is insufficient
INTERNAL_ERROR = "-18010003"
TRANSIENT_CODES = frozenset({QUOTA_USED_UP, INTERNAL_ERROR})  # an item refused for now, not for good


@dataclass
class RegisterOutcome:
    registered: int = 0
    rejected: int = 0
    deferred: int = 0  # refused for now (quota, internal): left PENDING with the reason
    calls: int = 0
    stopped_by: str = ""  # why the run stopped early ("" when it did not)


def shipments_register(
    *, shipment_ids: Sequence[int] | None = None, limit: int = DUE_LIMIT, provider: TrackingProvider | None = None
) -> RegisterOutcome:
    """Register PENDING shipments (``shipment_ids``, or the oldest due ones) not held by another run."""
    rows = _claim_pending(shipment_ids, limit)
    outcome = RegisterOutcome()
    if not rows:
        return outcome
    try:
        _register(rows, provider, outcome)
    finally:
        Shipment.objects.filter(pk__in=[row[0] for row in rows]).update(poll_claimed_until=None)
    return outcome


def _claim_pending(shipment_ids: Sequence[int] | None, limit: int) -> list[tuple[int, str, int, str]]:
    now = timezone.now()
    with transaction.atomic():
        pending = Shipment.objects.select_for_update(skip_locked=True).filter(
            Q(poll_claimed_until__isnull=True) | Q(poll_claimed_until__lt=now),
            registration_state=RegistrationState.PENDING,
        )
        if shipment_ids is not None:
            pending = pending.filter(pk__in=list(shipment_ids))
        rows = list(pending.order_by("id").values_list("id", "tracking_number", "order_id", "carrier_code")[:limit])
        if rows:
            Shipment.objects.filter(pk__in=[row[0] for row in rows]).update(poll_claimed_until=now + HOLD)
    return rows


def _register(
    rows: list[tuple[int, str, int, str]], provider: TrackingProvider | None, outcome: RegisterOutcome
) -> None:
    ids_of: dict[str, list[int]] = defaultdict(list)
    order_of: dict[str, int] = {}
    carrier_of: dict[str, int] = {}  # the provider's carrier code once known (registered again)
    for pk, number, order_id, carrier_code in rows:
        ids_of[number].append(pk)
        order_of.setdefault(number, order_id)
        if carrier_code.isdigit():
            carrier_of.setdefault(number, int(carrier_code))
    own = provider is None
    if provider is None:
        from tracking.services.provider import tracking_provider

        provider = tracking_provider()
    try:
        for batch in batches(list(ids_of), BATCH_SIZE):
            try:
                result = provider.register(
                    [
                        Registration(number, carrier_code=carrier_of.get(number), tag=f"order-{order_of[number]}")
                        for number in batch
                    ]
                )
            except RateLimited as error:
                outcome.stopped_by = f"rate limited ({error.retry_after} s)"
                break
            except (ProviderError, CredentialsError, MalformedPayload, RedisError) as error:
                # RedisError: the pacer's bucket is away; try later
                logger.warning("17TRACK registration of %s numbers failed: %s", len(batch), error)
                outcome.stopped_by = str(error)[:200]
                break
            outcome.calls += 1
            now = timezone.now()
            by_carrier: dict[str, list[int]] = defaultdict(list)
            for accepted in result.accepted:
                code = str(accepted.carrier_code) if accepted.carrier_code else ""
                by_carrier[code].extend(ids_of.get(accepted.number, []))
            for code, ids in by_carrier.items():
                fields = {
                    "registration_state": RegistrationState.REGISTERED,
                    "registered_at": now,
                    "registration_error": "",
                    "next_poll_at": now + FIRST_POLL,
                    "updated_at": now,
                }
                if code:
                    fields["carrier_code"] = code
                outcome.registered += Shipment.objects.filter(
                    pk__in=ids, registration_state=RegistrationState.PENDING
                ).update(**fields)
            by_reason: dict[tuple[bool, str], list[int]] = defaultdict(list)
            for rejected in result.rejected:
                reason = f"{rejected.code}: {rejected.reason}" if rejected.reason else rejected.code
                by_reason[(rejected.code in TRANSIENT_CODES, reason[:255])].extend(ids_of.get(rejected.number, []))
            for (transient, reason), ids in by_reason.items():
                refused = Shipment.objects.filter(pk__in=ids, registration_state=RegistrationState.PENDING)
                if transient:  # stays PENDING: a later beat registers it
                    outcome.deferred += refused.update(registration_error=reason, updated_at=now)
                else:
                    outcome.rejected += refused.update(
                        registration_state=RegistrationState.REJECTED, registration_error=reason, updated_at=now
                    )
            if any(rejected.code == QUOTA_USED_UP for rejected in result.rejected):
                outcome.stopped_by = "17TRACK's tracking quota is used up"
                break
    finally:
        if own:
            provider.close()
