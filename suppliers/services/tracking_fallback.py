"""The supplier's own tracking as a fallback (task ``suppliers.tracking_fallback_fetch``, sent by
tracking by name while the tracking provider knows nothing of a parcel: docs/tracking.md,
"Supplier tracking fallback").

AliExpress only (``aliexpress.ds.order.tracking.get``): for any other supplier nothing is asked.
The read goes through the account's provider (its signing, pacing and attempts, like every
supplier call); the scans of the parcel with the asked number are sent back to tracking by name
(``settings.SUPPLIER_EVENTS_MERGE_TASK``, ``tracking.supplier_events_merge``) with
``{"shipment_id", "tracking_number", "events": [{"time": ISO-8601 UTC, "description",
"location"}]}``. A failed read is not retried here: tracking asks again later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.conf import settings

from integrations.errors import MalformedPayload, ProviderError
from integrations.http import sanitize
from orders.services.cancel_hook import BROKER_ERRORS
from suppliers.enums import SupplierProvider
from suppliers.models import SupplierOrder
from suppliers.providers.aliexpress.provider import AliExpressProvider
from suppliers.services.connection import provider_for

logger = logging.getLogger(__name__)

MAX_ID = 2**63 - 1


class FallbackOutcome:
    SENT = "sent"  # the scans were sent back to tracking
    NO_EVENTS = "no events"  # the supplier has nothing for that number (yet)
    NOT_SUPPORTED = "not supported"  # a supplier without its own tracking read: nothing asked
    NOT_CONNECTED = "not connected"
    REFUSED = "refused"  # bad arguments: nothing asked
    FAILED = "failed"  # the supplier did not answer usefully (tracking asks again later)


@dataclass(frozen=True)
class FallbackResult:
    outcome: str
    events: int = 0
    note: str = ""


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID else None


def supplier_tracking_fallback(*, supplier_order_id: Any, shipment_id: Any, tracking_number: Any) -> FallbackResult:
    """Read the supplier's tracking of ``supplier_order_id`` and send the scans of the parcel
    ``tracking_number`` back to tracking's ``shipment_id`` (see the module docstring)."""
    order_pk, shipment_pk = _positive(supplier_order_id), _positive(shipment_id)
    number = tracking_number.strip().upper() if isinstance(tracking_number, str) else ""
    if order_pk is None or shipment_pk is None or not number or len(number) > 64:
        return FallbackResult(FallbackOutcome.REFUSED, note="supplier_order_id, shipment_id or tracking_number is bad")
    supplier_order = SupplierOrder.objects.select_related("source_account").filter(pk=order_pk).first()
    if supplier_order is None:
        return FallbackResult(FallbackOutcome.REFUSED, note="no such supplier order")
    if supplier_order.provider != SupplierProvider.ALIEXPRESS:
        return FallbackResult(FallbackOutcome.NOT_SUPPORTED)
    source = supplier_order.source_account
    if source is None or not source.is_current or not supplier_order.external_order_id.strip(", "):
        return FallbackResult(FallbackOutcome.NOT_CONNECTED)
    provider = provider_for(source)
    if not isinstance(provider, AliExpressProvider):  # the registry's class for "aliexpress"
        return FallbackResult(FallbackOutcome.NOT_SUPPORTED)
    try:
        parcels = provider.tracking(supplier_order.external_order_id)
    except (ProviderError, MalformedPayload) as error:
        logger.info("supplier order %s: tracking fallback read failed: %s", order_pk, sanitize(str(error), 300))
        return FallbackResult(FallbackOutcome.FAILED, note=sanitize(str(error), 300))
    parcel = next((parcel for parcel in parcels if parcel.number == number), None)
    if parcel is None or not parcel.events:
        return FallbackResult(FallbackOutcome.NO_EVENTS)
    events = [
        {
            "time": scan.time.isoformat().replace("+00:00", "Z"),
            "description": scan.description,
            "location": scan.location,
        }
        for scan in parcel.events
    ]
    task = str(getattr(settings, "SUPPLIER_EVENTS_MERGE_TASK", "") or "")
    if not task:
        return FallbackResult(FallbackOutcome.NO_EVENTS, note="SUPPLIER_EVENTS_MERGE_TASK is empty")
    try:
        current_app.send_task(task, kwargs={"shipment_id": shipment_pk, "tracking_number": number, "events": events})
    except BROKER_ERRORS:  # tracking asks again later
        logger.exception("supplier order %s: sending the supplier's scans failed", order_pk)
        return FallbackResult(FallbackOutcome.FAILED, note="broker unavailable")
    return FallbackResult(FallbackOutcome.SENT, events=len(events))
