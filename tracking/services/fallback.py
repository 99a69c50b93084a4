"""The supplier's own tracking as a fallback while the tracking provider has nothing (docs/tracking.md,
"Supplier tracking fallback").

Asking (``shipments_fallback_ask``, after a poll): a registered shipment still ``NOT_FOUND`` with
no provider event ``TRACKING_FALLBACK_AFTER_HOURS`` after its handover, with a supplier order, is
asked of its supplier by name (``settings.SUPPLIER_TRACKING_FALLBACK_TASK``, args
``(supplier_order_id,)``, kwargs ``shipment_id``, ``tracking_number``), after commit, at most once
per ``TRACKING_FALLBACK_EVERY_HOURS`` (``Shipment.fallback_asked_at``, claimed under a row lock: two
pollers never both ask). Once the provider has an event, nothing is asked again.

Merging (``supplier_events_merge``, task ``tracking.supplier_events_merge``): the kwargs come from
another app through the broker and are checked as hostile input; an event that cannot be read is
dropped (counted), the rest are stored as ``TrackingEvent(source=SUPPLIER)``. They fill the
timeline and the latest event's words while the provider has nothing; they never set the
shipment's status, its provider status or ``last_event_at`` (which orders the provider's own
answers and the expiry), and are not stored at all once the provider has events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from integrations.http import sanitize
from orders.enums import TrackingStatus
from orders.services.cancel_hook import BROKER_ERRORS
from tracking.enums import EventSource, RegistrationState
from tracking.models import Shipment, TrackingEvent
from tracking.services.merge import description_hash

logger = logging.getLogger(__name__)

MAX_ID = 2**63 - 1
MAX_EVENTS = 200  # per message: more are dropped
MAX_TIME_TEXT = 40
MAX_DESCRIPTION_IN = 2000  # longer is not a scan's description: dropped, not cut
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)  # a carrier's clock a little ahead, not a date to come


def _hours(name: str, default: float) -> timedelta:
    return timedelta(hours=float(getattr(settings, name, default)))


def _provider_events(shipment_ref: Any) -> Exists:
    return Exists(TrackingEvent.objects.filter(shipment_id=shipment_ref, source=EventSource.PROVIDER))


def shipments_fallback_ask(*, shipment_ids: Sequence[int], now: datetime | None = None) -> list[int]:
    """Ask the supplier's tracking for those of ``shipment_ids`` that are due (module docstring);
    the shipments asked for. Three statements whatever the number of ids, then one send each."""
    task = str(getattr(settings, "SUPPLIER_TRACKING_FALLBACK_TASK", "") or "")
    if not task or not shipment_ids:
        return []
    now = now or timezone.now()
    every = _hours("TRACKING_FALLBACK_EVERY_HOURS", 12)
    due = (
        Shipment.objects.filter(
            pk__in=list(shipment_ids),
            registration_state=RegistrationState.REGISTERED,
            tracking_status=TrackingStatus.NOT_FOUND,
            supplier_order__isnull=False,
            created_at__lte=now - _hours("TRACKING_FALLBACK_AFTER_HOURS", 6),
        )
        .filter(Q(fallback_asked_at__isnull=True) | Q(fallback_asked_at__lte=now - every))
        .exclude(_provider_events(OuterRef("pk")))
    )
    with transaction.atomic():
        rows = list(
            due.select_for_update(skip_locked=True, of=("self",))
            .order_by("id")
            .values_list("id", "supplier_order_id", "tracking_number")
        )
        if not rows:
            return []
        Shipment.objects.filter(pk__in=[row[0] for row in rows]).update(fallback_asked_at=now)
        transaction.on_commit(partial(_ask, task, rows))
    return [row[0] for row in rows]


def _ask(task: str, rows: list[tuple[int, int, str]]) -> None:
    for shipment_id, supplier_order_id, number in rows:
        try:
            current_app.send_task(
                task, args=(supplier_order_id,), kwargs={"shipment_id": shipment_id, "tracking_number": number}
            )
        except BROKER_ERRORS:  # asked again after TRACKING_FALLBACK_EVERY_HOURS
            logger.exception("asking the supplier's tracking of shipment %s failed", shipment_id)


@dataclass(frozen=True)
class SupplierEvents:
    inserted: int = 0
    dropped: int = 0  # events that could not be read
    ignored: str = ""  # why nothing was stored ("" when the events were taken)


@dataclass(frozen=True)
class _Scan:
    time: datetime
    description: str
    location: str


def _time(value: Any, now: datetime) -> datetime | None:
    if not isinstance(value, str) or not value or len(value) > MAX_TIME_TEXT:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None  # a time without its offset is no time we can place
    moment = moment.astimezone(UTC)
    return moment if EARLIEST <= moment <= now + FUTURE_SLACK else None


def scan_of(event: Any, now: datetime) -> _Scan | None:
    """One event of the message, checked, or None."""
    if not isinstance(event, dict):
        return None
    moment = _time(event.get("time"), now)
    description, location = event.get("description"), event.get("location", "")
    if location is None:
        location = ""
    if moment is None or not isinstance(description, str) or not isinstance(location, str):
        return None
    if len(description) > MAX_DESCRIPTION_IN or len(location) > MAX_DESCRIPTION_IN:
        return None
    description, location = sanitize(description, 500), sanitize(location, 200)
    if not description:
        return None
    return _Scan(time=moment, description=description, location=location)


def supplier_events_merge(
    *, shipment_id: Any, tracking_number: Any, events: Any, now: datetime | None = None
) -> SupplierEvents:
    """Store the supplier's scans of one shipment (see the module docstring)."""
    now = now or timezone.now()
    if not isinstance(shipment_id, int) or isinstance(shipment_id, bool) or not 1 <= shipment_id <= MAX_ID:
        return SupplierEvents(ignored="shipment_id is not an id")
    if not isinstance(tracking_number, str) or not 1 <= len(tracking_number) <= 64:
        return SupplierEvents(ignored="tracking_number is not a tracking number")
    if not isinstance(events, list):
        return SupplierEvents(ignored="events is not a list")
    scans = [scan_of(event, now) for event in events[:MAX_EVENTS]]
    kept = sorted((scan for scan in scans if scan is not None), key=lambda scan: scan.time)
    dropped = len(events) - len(kept)
    if not kept:
        return SupplierEvents(dropped=dropped, ignored="no event could be read")
    with transaction.atomic():
        shipment = (
            Shipment.objects.select_for_update(of=("self",))
            .filter(pk=shipment_id, tracking_number=tracking_number.strip().upper())
            .annotate(provider_has_events=_provider_events(OuterRef("pk")))
            .first()
        )
        if shipment is None:
            return SupplierEvents(dropped=dropped, ignored="no shipment with that id and number")
        if shipment.provider_has_events or shipment.tracking_status != TrackingStatus.NOT_FOUND:
            return SupplierEvents(dropped=dropped, ignored="the tracking provider has news of this parcel")
        rows = [
            TrackingEvent(
                shipment_id=shipment.pk,
                occurred_at=scan.time,
                description=scan.description,
                description_hash=description_hash(scan.description, scan.location),
                location=scan.location,
                # Not a provider status: the parcel's own (Not found) is kept; the source says whose.
                status=TrackingStatus.NOT_FOUND,
                source=EventSource.SUPPLIER,
            )
            for scan in kept
        ]
        of_shipment = TrackingEvent.objects.filter(shipment_id=shipment.pk)
        before = of_shipment.count()
        TrackingEvent.objects.bulk_create(rows, ignore_conflicts=True)
        inserted = of_shipment.count() - before
        # The newest of all its supplier scans (an earlier message may have had newer ones).
        latest = of_shipment.order_by("-occurred_at", "-id").values_list("description", "location").first()
        description, location = latest or ("", "")
        Shipment.objects.filter(pk=shipment.pk).update(
            last_event_description=description,
            last_event_location=location,
            updated_at=now,
        )
    return SupplierEvents(inserted=inserted, dropped=dropped)
