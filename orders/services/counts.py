"""Exact tab counts, kept in ``OrderCount`` by the same transaction that moves an order.

Every writer calls ``counts_apply`` with the moves it made. Keys are applied in sorted
order so two transactions never take the counter rows' locks in opposite orders.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Count

from accounts.models import Account
from orders.models import Order, OrderCount


class CountKey(NamedTuple):
    account_id: int
    store_id: int
    status: str
    sub_status: str
    archived: bool


def count_key(order: Order) -> CountKey:
    return CountKey(order.account_id, order.store_id, order.status, order.sub_status, order.archived)


# The table name is our own model's, not input; values go through parameters.
_TABLE = OrderCount._meta.db_table
_UPSERT_SQL = (
    f"INSERT INTO {_TABLE} (account_id, store_id, status, sub_status, archived, count) "  # noqa: S608
    "VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (account_id, store_id, status, sub_status, archived) "
    f"DO UPDATE SET count = {_TABLE}.count + excluded.count"
)


def counts_apply(deltas: Counter[CountKey]) -> None:
    """Add ``deltas`` to the counters (must run inside the transaction of the change)."""
    rows = [(*key, delta) for key, delta in sorted(deltas.items()) if delta]
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.executemany(_UPSERT_SQL, rows)


def counts_move(moves: Iterable[tuple[CountKey, CountKey]]) -> None:
    deltas: Counter[CountKey] = Counter()
    for old, new in moves:
        if old != new:
            deltas[old] -= 1
            deltas[new] += 1
    counts_apply(deltas)


def order_counts_from_rows(*, account: Account) -> dict[CountKey, int]:
    """The counts computed the slow way, from the orders themselves (for checks and repair)."""
    rows = (
        Order.objects.filter(account=account)
        .values("store_id", "status", "sub_status", "archived")
        .annotate(n=Count("id"))
    )
    return {
        CountKey(account.pk, row["store_id"], row["status"], row["sub_status"], row["archived"]): row["n"]
        for row in rows
    }


def order_counts_stored(*, account: Account) -> dict[CountKey, int]:
    return {
        CountKey(c.account_id, c.store_id, c.status, c.sub_status, c.archived): c.count
        for c in OrderCount.objects.filter(account=account).exclude(count=0)
    }


@transaction.atomic
def order_counts_rebuild(*, account: Account) -> dict[CountKey, int]:
    """Recount one account from its orders (locks its orders against moves meanwhile)."""
    list(Order.objects.filter(account=account).select_for_update().values_list("id", flat=True))
    OrderCount.objects.filter(account=account).delete()
    counts = order_counts_from_rows(account=account)
    counts_apply(Counter(counts))
    return counts
