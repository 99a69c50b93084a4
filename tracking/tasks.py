"""Thin tasks (queue "tracking"): load by id, call one service. Safe to run twice."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


# --- Expired, stalled (trackedge) -------------------------------------------------------------
from celery import shared_task  # noqa: E402 - this block is appended; the module's own imports are above

from tracking.services.stalled import EXPIRE_AND_STALLED_TASK, tracking_expire_and_flag_stalled  # noqa: E402


@shared_task(name=EXPIRE_AND_STALLED_TASK)
def expire_and_flag_stalled(account_id: int | None = None) -> dict[str, int | bool]:
    """Beat, daily (and for one account after its settings change): parcels silent too long turn
    Expired, stalled orders are flagged and cleared. One run at a time; safe to run twice."""
    result = tracking_expire_and_flag_stalled(account_id=account_id)
    return {"ran": result.ran, "expired": result.expired, "stalled": result.stalled, "cleared": result.cleared}
