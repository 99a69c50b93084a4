"""Thin tasks (queue "tracking"): load by id, call one service. Safe to run twice."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from tracking.services.fallback import supplier_events_merge as events_merge_service
from tracking.services.handover import shipment_handover as handover_service
from tracking.services.messages import tracking_message_process, tracking_messages_requeue
from tracking.services.polling import shipments_poll_due
from tracking.services.registration import shipments_register
from tracking.services.stalled import EXPIRE_AND_STALLED_TASK, tracking_expire_and_flag_stalled

logger = logging.getLogger(__name__)


@shared_task(name="tracking.shipment_handover")
def shipment_handover(
    supplier_order_id: Any = None,
    *,
    order_id: Any = None,
    account_id: Any = None,
    tracking_number: Any = None,
    carrier: Any = None,
    lines: Any = None,
    **unexpected: Any,
) -> str:
    """A supplier's tracking number (contract 1): the kwargs are checked by the service; a bad
    handover is dropped with its reason, never raised or retried."""
    if unexpected:
        logger.warning("tracking handover: unexpected arguments %s ignored", sorted(unexpected)[:10])
    result = handover_service(
        supplier_order_id=supplier_order_id,
        order_id=order_id,
        account_id=account_id,
        tracking_number=tracking_number,
        carrier=carrier,
        lines=lines,
    )
    return result.dropped or f"shipment {result.shipment_id}"


@shared_task(name="tracking.register_due")
def register_due() -> int:
    return shipments_register().registered


@shared_task(name="tracking.poll_due")
def poll_due() -> int:
    return shipments_poll_due().polled


@shared_task(name="tracking.process_tracking_message")
def process_tracking_message(message_id: int) -> str:
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        logger.warning("tracking message id %r is not an id", str(message_id)[:40])
        return ""
    return tracking_message_process(message_id=message_id)


@shared_task(name="tracking.requeue_tracking_messages")
def requeue_tracking_messages() -> int:
    return len(tracking_messages_requeue())


@shared_task(name=EXPIRE_AND_STALLED_TASK)
def expire_and_flag_stalled(account_id: int | None = None) -> dict[str, int | bool]:
    """Beat, daily (and for one account after its settings change): parcels silent too long turn
    Expired, stalled orders are flagged and cleared. One run at a time; safe to run twice."""
    result = tracking_expire_and_flag_stalled(account_id=account_id)
    return {"ran": result.ran, "expired": result.expired, "stalled": result.stalled, "cleared": result.cleared}


@shared_task(name="tracking.supplier_events_merge")
def supplier_events_merge(
    *, shipment_id: Any = None, tracking_number: Any = None, events: Any = None, **unexpected: Any
) -> str:
    """The supplier's own scans of a parcel the provider has nothing for (sent by suppliers by
    name): checked as hostile input, stored as supplier events; never raised or retried."""
    if unexpected:
        logger.warning("supplier events: unexpected arguments %s ignored", sorted(unexpected)[:10])
    result = events_merge_service(shipment_id=shipment_id, tracking_number=tracking_number, events=events)
    return result.ignored or f"{result.inserted} inserted, {result.dropped} dropped"
