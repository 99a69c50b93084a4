"""An order canceled in its sales channel: the supplier side is told, by task name.

``orders`` imports no other app of ours, so the suppliers' task is sent by its name
(``celery.current_app.send_task``) after the transaction that recorded the cancellation
commits: a rolled-back upsert announces nothing. The suppliers task cancels unpaid supplier
orders at the supplier, or notes that a paid one needs a refund (docs/suppliers.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError

logger = logging.getLogger(__name__)

CHANNEL_CANCELED_TASK = "suppliers.order_channel_canceled"
# What sending a task raises when the broker cannot take it (Celery's publish retries are spent):
# the caller's sweep sends it again later.
BROKER_ERRORS = (KombuOperationalError, OSError)


def _send(order_id: int) -> None:
    try:
        current_app.send_task(CHANNEL_CANCELED_TASK, args=(order_id,))
    except BROKER_ERRORS:  # the suppliers' sweep finds the order later
        logger.warning("order %s: channel cancellation not announced (broker unavailable)", order_id, exc_info=True)


def orders_channel_canceled_announce(*, order_ids: Iterable[int]) -> None:
    """After commit, one ``suppliers.order_channel_canceled`` task per order just canceled."""
    for order_id in sorted(set(order_ids)):
        transaction.on_commit(partial(_send, order_id))
