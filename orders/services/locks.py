"""Transaction-scoped advisory locks, and the one spelling of each lock key.

Intake (``order_create``) and the channel upsert take the same keys, so an order arriving by
either path queues behind the other for the same number or purchase.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection


def number_lock_key(*, account_id: int, base_number: str) -> str:
    """Held while an order takes a display number derived from ``base_number`` (``#1001``, ``#1001-2``)."""
    return f"order-number:{account_id}:{base_number}"


def purchase_lock_key(*, account_id: int, purchase_id: str) -> str:
    """Held while orders of one purchase (a TikTok order id) are linked as possible duplicates."""
    return f"purchase:{account_id}:{purchase_id}"


def advisory_locks(keys: Iterable[str]) -> None:
    """Take a lock on each key until the transaction ends, in sorted order, in one statement.

    Sorted so two transactions with overlapping keys never wait on each other in a circle.
    Locking rows is not enough for numbering: a waiter does not see a row inserted while it
    waited, and with no order of a number yet there is no row to lock. SQLite serializes
    writers already (IMMEDIATE transactions), so there is nothing to take there.
    """
    ordered = sorted(set(keys))
    if connection.vendor != "postgresql" or not ordered:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(t.key, 0)) "
            "FROM unnest(%s::text[]) WITH ORDINALITY AS t(key, position) ORDER BY t.position",
            [ordered],
        )
