from __future__ import annotations

import logging

from celery import shared_task

from orders.services import order_recompute_status, orders_due_for_expiry

logger = logging.getLogger(__name__)


@shared_task(name="orders.refresh_time_based_statuses")
def refresh_time_based_statuses() -> int:
    """Beat: move orders whose parcels went silent too long to Expired. Safe to run twice."""
    moved = 0
    for order_id in orders_due_for_expiry():
        order = order_recompute_status(order_id=order_id)
        moved += order.sub_status == "expired"
    logger.info("expired %s orders", moved)
    return moved
