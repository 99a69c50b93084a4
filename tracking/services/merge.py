"""What the tracking provider says of parcels (a poll answer or a webhook push) merged into our
shipments, their timelines and their orders' status, in bulk.

``track_infos_merge`` takes any number of ``TrackInfo`` and, in one transaction and a constant
number of statements however many infos and events there are:

- inserts the new events in one statement per 2,000 (``bulk_create(ignore_conflicts=True)`` on the
  unique (shipment, time, description hash)): a repeated poll or push inserts nothing;
- updates each shipment's summary only when the info is not older than what we have (an
  out-of-order push never moves a parcel back), and its next poll (``next_poll_at``, pure);
- recomputes the orders of the shipments whose status moved (``orders`` services: one batch).

A number followed in several accounts has one row per account: each row gets the info. The same
number at two carriers is two parcels: when the row and the info both have a carrier code, they
must match (``_info_for``); a row without one takes the newest info of its number. A status
we do not know is kept as received, mapped to ``TrackingStatus.UNKNOWN`` and counted.
Stopping terminal numbers at the provider is a network call: the caller does it after the
transaction (``shipments_stop``) with ``MergeResult.to_stop``. Until a stop succeeds a terminal
row stays REGISTERED and due again in ``RETRY_STOP`` (polled, stopped again): a stop lost to a
dead worker or a failed call never leaves it unpolled and unstopped for ever.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from accounts.models import Account
from integrations.errors import CredentialsError, MalformedPayload, ProviderError
from orders.derivation import ShipmentFact, shipment_stage
from orders.enums import TrackingStatus
from orders.models import Order
from orders.services.recompute import orders_derived_status
from orders.services.rows import rows_update
from orders.services.status_write import status_writes
from tracking.enums import RegistrationState
from tracking.models import Shipment, ShipmentOrder, TrackingEvent
from tracking.providers.base import TrackInfo, TrackingProvider
from tracking.providers.track17 import mapping

logger = logging.getLogger(__name__)

POLL, WEBHOOK = "poll", "webhook"
EVENT_BATCH = 2000
SUMMARY_FIELDS = (
    "tracking_status",
    "provider_status",
    "provider_sub_status",
    "sub_status",
    "last_event_at",
    "last_event_description",
    "last_event_location",
    "carrier_name",
    "carrier_code",
    "next_poll_at",
    "last_pushed_at",
    "registration_state",
    "read_error",
    "updated_at",
)

# The adaptive poll (``next_poll_at``).
SOON = timedelta(hours=1)  # out for delivery, waiting at a pickup point, a failed attempt
JUST_REGISTERED = timedelta(hours=2)  # no scan yet, registered less than a day ago
MOVING = timedelta(hours=6)  # a scan in the last day
QUIET = timedelta(hours=12)  # nothing for a day or more
WEBHOOK_FACTOR = 4  # the provider pushes changes: polls are only a safety net
LONGEST = timedelta(hours=48)
NEAR_THE_DOOR = frozenset(
    {TrackingStatus.OUT_FOR_DELIVERY, TrackingStatus.AVAILABLE_FOR_PICKUP, TrackingStatus.DELIVERY_FAILURE}
)
NOT_REGISTERED = "-18019902"  # the provider does not follow the number (any more)
RETRY_STOP = timedelta(hours=1)  # a terminal number the provider did not stop: polled again, stopped again


def _word(value: str, limit: int = 64) -> str:
    """A provider's status word as received, minus NUL (PostgreSQL text cannot hold it)."""
    return value.replace("\x00", "")[:limit]


def description_hash(description: str, location: str) -> str:
    return hashlib.sha256(f"{description}\x00{location}".encode()).hexdigest()


def next_poll_at(
    *,
    status: TrackingStatus,
    terminal: bool,
    now: datetime,
    source: str,
    registered_at: datetime | None,
    last_event_at: datetime | None,
) -> datetime | None:
    """When to ask the provider again: None at a terminal state; sooner near the door or just
    registered, later when quiet, much later when the provider pushes (a webhook came)."""
    if terminal:
        return None
    if status in NEAR_THE_DOOR:
        every = SOON
    elif last_event_at is None and registered_at is not None and now - registered_at < timedelta(days=1):
        every = JUST_REGISTERED
    elif last_event_at is not None and now - last_event_at < timedelta(days=1):
        every = MOVING
    else:
        every = QUIET
    if source == WEBHOOK:
        every = min(every * WEBHOOK_FACTOR, LONGEST)
    return now + every


@dataclass
class MergeResult:
    shipments: int = 0  # rows the infos matched
    updated: int = 0  # rows whose summary took the info
    stale: int = 0  # infos older than what a row had (kept out of the summary)
    events_inserted: int = 0
    unknown_statuses: int = 0
    orders_moved: int = 0
    unmatched: list[str] = field(default_factory=list)  # numbers we do not follow
    to_stop: list[str] = field(default_factory=list)  # terminal numbers to stop at the provider


def _is_fresh(info: TrackInfo, row: Shipment) -> bool:
    """The info is not older than what the row has (equal: the same scans, a status may move on,
    except away from a terminal one)."""
    if row.last_event_at is None:
        return True
    if info.latest_event_at is None or info.latest_event_at < row.last_event_at:
        return False
    if info.latest_event_at == row.last_event_at and mapping.is_terminal(row.provider_status, row.provider_sub_status):
        return mapping.is_terminal(info.provider_status, info.provider_sub_status)
    return True


def track_infos_merge(infos: Sequence[TrackInfo], *, source: str, now: datetime | None = None) -> MergeResult:
    """Merge ``infos`` (see the module docstring). ``source``: ``POLL`` or ``WEBHOOK``."""
    now = now or timezone.now()
    result = MergeResult()
    by_number: dict[str, dict[int | None, TrackInfo]] = {}
    for info in infos:  # the same number and carrier twice in one answer: the newest wins
        if "\x00" in info.number:  # no number of ours (and PostgreSQL text cannot hold it)
            result.unmatched.append(info.number.replace("\x00", "?"))
            continue
        of_number = by_number.setdefault(info.number, {})
        kept = of_number.get(info.carrier_code)
        if kept is None or (info.latest_event_at or now) >= (kept.latest_event_at or now):
            of_number[info.carrier_code] = info
    if not by_number:
        return result
    with transaction.atomic():
        rows = list(
            Shipment.objects.filter(tracking_number__in=list(by_number))
            .exclude(registration_state=RegistrationState.REJECTED)
            .order_by("id")
            .select_for_update(of=("self",))
        )
        infos_of: dict[int, TrackInfo] = {}
        for row in rows:
            found = _info_for(row, by_number[row.tracking_number])
            if found is not None:  # another carrier's parcel with the same number: not this row's
                infos_of[row.pk] = found
        rows = [row for row in rows if row.pk in infos_of]
        matched = {row.tracking_number for row in rows}
        result.unmatched += [number for number in by_number if number not in matched]
        result.shipments = len(rows)
        if not rows:
            return result
        expire = dict(
            Account.objects.filter(pk__in={row.account_id for row in rows}).values_list("id", "expire_after_days")
        )
        events: list[TrackingEvent] = []
        changed: list[Shipment] = []
        moved_shipments: list[int] = []
        to_stop: set[str] = set()
        for row in rows:
            info = infos_of[row.pk]
            for event in info.events:
                events.append(
                    TrackingEvent(
                        shipment_id=row.pk,
                        occurred_at=event.time,
                        description=event.description,
                        description_hash=description_hash(event.description, event.location),
                        location=event.location,
                        status=event.status,
                        provider_sub_status=_word(event.provider_sub_status),
                    )
                )
            fresh = _is_fresh(info, row)
            row.read_error = _dropped(info)
            if info.status == TrackingStatus.UNKNOWN:
                result.unknown_statuses += 1
            if fresh:
                before = (row.tracking_status, row.last_event_at)
                _summary_apply(row, info, now=now, expire_after=timedelta(days=expire[row.account_id]))
                result.updated += 1
                if (row.tracking_status, row.last_event_at) != before:
                    moved_shipments.append(row.pk)
            else:
                result.stale += 1
            if source == WEBHOOK:
                row.last_pushed_at = now
            terminal = info.stopped or mapping.is_terminal(row.provider_status, row.provider_sub_status)
            if info.stopped:
                row.registration_state = RegistrationState.STOPPED
            elif terminal and row.registration_state == RegistrationState.REGISTERED:
                to_stop.add(row.tracking_number)
            if terminal and row.registration_state == RegistrationState.REGISTERED:
                row.next_poll_at = now + RETRY_STOP  # a safety net: the stop after commit marks it STOPPED
            elif row.registration_state == RegistrationState.REGISTERED:
                row.next_poll_at = next_poll_at(
                    status=TrackingStatus(row.tracking_status),
                    terminal=terminal,
                    now=now,
                    source=source,
                    registered_at=row.registered_at,
                    last_event_at=row.last_event_at,
                )
            else:
                row.next_poll_at = None
            row.updated_at = now
            changed.append(row)
        if events:
            result.events_inserted = events_insert(events, shipment_ids=[row.pk for row in rows])
        rows_update(changed, SUMMARY_FIELDS)  # one UPDATE … FROM VALUES (bulk_update's CASEs cost ~1 ms a row)
        result.orders_moved = orders_recompute(shipment_ids=moved_shipments, now=now)
        result.to_stop = sorted(to_stop)
    return result


def events_insert(events: Sequence[TrackingEvent], *, shipment_ids: Sequence[int]) -> int:
    """Insert the events a parcel does not have yet (the unique (shipment, time, description hash)
    drops repeats); how many were new. On PostgreSQL one ``INSERT … ON CONFLICT DO NOTHING
    RETURNING`` per batch, the values sent as they are (Django's compiled insert cost more than the
    rest of a merge); elsewhere ``bulk_create`` with counts before and after."""
    if connection.vendor != "postgresql":
        of_rows = TrackingEvent.objects.filter(shipment_id__in=shipment_ids)
        before = of_rows.count()
        TrackingEvent.objects.bulk_create(events, ignore_conflicts=True, batch_size=EVENT_BATCH)
        return of_rows.count() - before
    meta = TrackingEvent._meta
    columns = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in columns)}) VALUES "  # noqa: S608 - names from the model, values bound
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    inserted = 0
    with connection.cursor() as cursor:
        for start in range(0, len(events), EVENT_BATCH):
            part = events[start : start + EVENT_BATCH]
            params = [getattr(event, field.attname) for event in part for field in columns]
            cursor.execute(head + ", ".join([row_sql] * len(part)) + " ON CONFLICT DO NOTHING RETURNING 1", params)
            inserted += len(cursor.fetchall())
    return inserted


def _info_for(row: Shipment, infos: dict[int | None, TrackInfo]) -> TrackInfo | None:
    """The info of ``row`` among its number's (one per carrier code): the one of its carrier when
    the row has a code (None when no info has it, unless one has no code); else the newest."""
    if row.carrier_code.isdigit():
        code = int(row.carrier_code)
        if code in infos:
            return infos[code]
        return infos.get(None)
    newest = sorted(infos.values(), key=lambda info: info.latest_event_at or datetime.min.replace(tzinfo=UTC))
    return newest[-1] if newest else None


def _dropped(info: TrackInfo) -> str:
    """What the info left out (its unreadable events), for the row's ``read_error``."""
    if not info.dropped_events:
        return ""
    said = f"{info.dropped_events} unreadable event(s) left out: {info.dropped_reason}"
    return said.replace("\x00", "")[:255]


def _summary_apply(row: Shipment, info: TrackInfo, *, now: datetime, expire_after: timedelta) -> None:
    row.tracking_status = info.status
    row.provider_status = _word(info.provider_status)
    row.provider_sub_status = _word(info.provider_sub_status)
    if info.latest_event_at is not None:
        row.last_event_at = info.latest_event_at
    if info.events:
        latest = info.events[-1]
        row.last_event_description = latest.description[:500]
        row.last_event_location = latest.location[:200]
    if info.carrier_name:
        row.carrier_name = info.carrier_name[:100]
    if info.carrier_code:
        row.carrier_code = str(info.carrier_code)[:32]
    fact = ShipmentFact(tracking_status=info.status, created_at=row.created_at, last_event_at=row.last_event_at)
    row.sub_status = shipment_stage(fact, now=now, expire_after=expire_after)[1]


def orders_recompute(*, shipment_ids: Iterable[int], now: datetime | None = None) -> int:
    """Re-derive and store the status of the orders of ``shipment_ids`` (their own and the orders
    sharing their number), in one batch; how many moved. Inside the caller's transaction."""
    ids = list(shipment_ids)
    if not ids:
        return 0
    # Two indexed reads in one statement (an OR across the join would scan every order).
    order_ids = set(
        Shipment.objects.filter(pk__in=ids)
        .order_by()  # SQLite (make run) refuses ORDER BY inside a UNION's parts (the models' ordering)
        .values_list("order_id", flat=True)
        .union(ShipmentOrder.objects.filter(shipment_id__in=ids).order_by().values_list("order_id", flat=True))
    )
    orders = list(
        Order.objects.select_for_update(of=("self",)).select_related("account").filter(pk__in=order_ids).order_by("pk")
    )
    derived = orders_derived_status(orders=orders, now=now)
    moved = [(order, derived[order.pk]) for order in orders if (order.status, order.sub_status) != derived[order.pk]]
    with status_writes() as writes:
        return writes.store_many(moved)


def shipments_stop(*, numbers: Sequence[str], provider: TrackingProvider) -> int:
    """Stop terminal numbers at the provider (batched; outside any transaction) and mark their
    rows STOPPED (not polled any more); a number the provider does not know (``-18019902``) is
    stopped too. A failure leaves them due in ``RETRY_STOP`` (the merge set it): stopped then."""
    if not numbers:
        return 0
    try:
        result = provider.stop(numbers)
    except (ProviderError, CredentialsError, MalformedPayload, RedisError) as error:
        logger.warning("stopping %s tracking numbers failed: %s", len(numbers), error)
        return 0
    stopped = list(result.accepted_numbers)
    stopped += [item.number for item in result.rejected if item.code == NOT_REGISTERED]
    if not stopped:
        return 0
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Shipment.objects.select_for_update()
            .filter(tracking_number__in=stopped, registration_state=RegistrationState.REGISTERED)
            .order_by("id")
            .values_list("id", flat=True)
        )
        return Shipment.objects.filter(pk__in=ids).update(
            registration_state=RegistrationState.STOPPED, next_poll_at=None, poll_claimed_until=None, updated_at=now
        )
