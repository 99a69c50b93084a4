"""Per-account state kept in ``SimAccount.options``, always changed under the account's row lock.

Every writer of ``options`` (rate-limit bucket, counters, webhook metadata, world bookkeeping,
the control API) goes through ``options_update`` so concurrent requests, in one process or
several, never lose each other's writes: the row is locked, re-read, changed and saved in one
short transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db import transaction

from sandbox.models import SimAccount

T = TypeVar("T")


def options_update(account: SimAccount, mutate: Callable[[dict[str, Any]], T]) -> T:
    """Run ``mutate`` on the freshly locked options, save them, and return what it returned."""
    with transaction.atomic():
        locked = SimAccount.objects.select_for_update().get(pk=account.pk)
        result = mutate(locked.options)
        locked.save(update_fields=["options"])
    account.options = locked.options
    return result


def counter_take(account: SimAccount, key: str, *, start: int, count: int = 1) -> int:
    """Reserve ``count`` consecutive numbers of the account's counter ``key``; returns the first."""

    def take(options: dict[str, Any]) -> int:
        first = int(options.get(key, start))
        options[key] = first + count
        return first

    return options_update(account, take)
