"""Writes to orders. Views, tasks and other apps call these; nothing else writes orders."""

from __future__ import annotations

from orders.errors import OrdersNotFound
from orders.services.archive import orders_archive, orders_restore, orders_set_archived
from orders.services.counts import order_counts_rebuild
from orders.services.duplicates import order_confirm_duplicate
from orders.services.intake import AddressData, LineData, OrderData, order_add_search_terms, order_create
from orders.services.recompute import order_facts, order_recompute_status, orders_due_for_expiry
from orders.services.upsert import ChannelOrderLike, UpsertResult, orders_upsert_from_channel

__all__ = [
    "AddressData",
    "ChannelOrderLike",
    "LineData",
    "OrderData",
    "OrdersNotFound",
    "UpsertResult",
    "order_add_search_terms",
    "order_confirm_duplicate",
    "order_counts_rebuild",
    "order_create",
    "order_facts",
    "order_recompute_status",
    "orders_archive",
    "orders_due_for_expiry",
    "orders_restore",
    "orders_set_archived",
    "orders_upsert_from_channel",
]
