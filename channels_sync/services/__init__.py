"""Writes of channel sync: connecting stores, webhook intake and processing, pulls."""

from __future__ import annotations

from channels_sync.services.connect import (
    ConnectError,
    ConnectResult,
    ConnectStart,
    store_connect,
    store_connect_check,
    store_connect_start,
    store_discard,
)
from channels_sync.services.intake import webhook_receive
from channels_sync.services.maintenance import (
    attempts_prune,
    deliveries_prune,
    deliveries_replay,
    deliveries_requeue_stuck,
)
from channels_sync.services.processing import ProcessOutcome, delivery_process
from channels_sync.services.pull import PullResult, order_resync, pulls_record_lost, store_pull
from channels_sync.services.pull_queue import pulls_queue_due, store_pull_enqueue, stores_due_for_pull
from channels_sync.services.stores import (
    store_disconnect,
    store_provider,
    store_set_paused,
    webhook_url_for,
)

__all__ = [
    "ConnectError",
    "attempts_prune",
    "ConnectResult",
    "ConnectStart",
    "ProcessOutcome",
    "PullResult",
    "deliveries_prune",
    "deliveries_replay",
    "deliveries_requeue_stuck",
    "delivery_process",
    "order_resync",
    "pulls_queue_due",
    "pulls_record_lost",
    "store_connect",
    "store_connect_check",
    "store_connect_start",
    "store_discard",
    "store_disconnect",
    "store_provider",
    "store_pull",
    "store_pull_enqueue",
    "store_set_paused",
    "stores_due_for_pull",
    "webhook_receive",
    "webhook_url_for",
]
