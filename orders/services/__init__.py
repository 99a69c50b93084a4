"""Writes to orders. Views, tasks and other apps call these; nothing else writes orders."""

from __future__ import annotations

from orders.errors import AddressLocked, OrdersNotFound
from orders.services.address_edit import order_address_locked, order_edit_address
from orders.services.archive import orders_archive, orders_restore, orders_set_archived
from orders.services.counts import order_counts_rebuild
from orders.services.duplicates import order_confirm_duplicate
from orders.services.intake import AddressData, LineData, OrderData, order_add_search_terms, order_create
from orders.services.recompute import order_facts, order_recompute_status, orders_due_for_expiry
from orders.services.upsert import ChannelOrderLike, UpsertResult, orders_upsert_from_channel

__all__ = [
    "AddressData",
    "AddressLocked",
    "ChannelOrderLike",
    "LineData",
    "OrderData",
    "OrdersNotFound",
    "UpsertResult",
    "order_add_search_terms",
    "order_address_locked",
    "order_confirm_duplicate",
    "order_counts_rebuild",
    "order_create",
    "order_edit_address",
    "order_facts",
    "order_recompute_status",
    "orders_archive",
    "orders_due_for_expiry",
    "orders_restore",
    "orders_set_archived",
    "orders_upsert_from_channel",
]
