"""Per-account state kept in ``SimAccount.options``, always changed under the account's row lock.

Every writer of ``options`` (rate-limit bucket, counters, webhook metadata, world bookkeeping,
the control API) goes through ``options_update`` so concurrent requests, in one process or
several, never lose each other's writes: the row is locked, re-read, changed and saved in one
short transaction.
"""

from __future__ import annotations

import time
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


def rate_admit(account: SimAccount, scope: str = "") -> bool:
    """One call against the account's documented call rate limit, when the option turns it on.

    Options: ``rate_limit_per_second`` (0 or absent: no limit) and ``rate_limit_burst`` (calls at
    once, default one second's worth: "N requests per second"); a token bucket per ``scope`` (CJ:
    the whole account; AliExpress: each method) on the real clock, not the simulated one. Calls
    refused are counted in the ``rate_limited`` option (the benchmark reads it).
    """
    rate = float(account.options.get("rate_limit_per_second") or 0)
    if rate <= 0:
        return True
    burst = float(account.options.get("rate_limit_burst") or max(1.0, rate))

    def take(options: dict[str, Any]) -> bool:
        now = time.time()
        buckets = options.setdefault("rate_buckets", {})
        bucket = buckets.get(scope) or {"tokens": burst, "at": now}
        tokens = min(burst, float(bucket["tokens"]) + max(0.0, now - float(bucket["at"])) * rate)
        admitted = tokens >= 1
        buckets[scope] = {"tokens": tokens - 1 if admitted else tokens, "at": now}
        options["rate_admitted"] = int(options.get("rate_admitted", 0)) + int(admitted)
        options["rate_limited"] = int(options.get("rate_limited", 0)) + int(not admitted)
        return admitted

    return options_update(account, take)
