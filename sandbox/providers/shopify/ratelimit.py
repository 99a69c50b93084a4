"""Shopify's rate limits per shop, shared by every process serving the sandbox: the REST leaky
bucket (calls) and the GraphQL cost bucket (points).

Each request adds one to the bucket; it leaks ``leak_rate`` per second (real time, not sim
time); a request that would overflow it gets 429 and adds nothing. The level and the time of
the last leak live in the shop's ``options["bucket"]`` and are read and written under the
shop's row lock (``options_update``), so concurrent requests from any number of threads or
processes see one consistent bucket. Configure per shop: options ``bucket_size`` (default 40)
and ``leak_rate`` (requests per second, default 2).

The GraphQL bucket holds ``graphql_bucket_size`` points (default 2000) and restores
``graphql_restore_rate`` points per real second (default 100, Shopify's Standard plan). A query
is run only when its requested cost is available (``cost_take`` takes it); once it ran, the
difference between requested and actual cost is given back (``cost_refund``). State in
``options["cost_bucket"]`` under the same row lock.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from sandbox.models import SimAccount
from sandbox.providers._state import options_update

DEFAULT_BUCKET_SIZE = 40
DEFAULT_LEAK_RATE = 2.0
RETRY_AFTER = "2.0"
DEFAULT_COST_BUCKET_SIZE = 2000.0
DEFAULT_RESTORE_RATE = 100.0


@dataclass(frozen=True)
class BucketCall:
    allowed: bool
    used: int
    size: int
    leak_rate: float

    @property
    def header(self) -> str:
        return f"{self.used}/{self.size}"


def _number(value: Any, default: float) -> float:
    """A knob set through the control API; a value that is not a number means the default."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float(default)


def bucket_take(account: SimAccount, *, now: float | None = None) -> BucketCall:
    """Try to add one call to the shop's bucket; says whether it fitted and how full it is."""
    at = time.time() if now is None else now

    def take(options: dict[str, Any]) -> BucketCall:
        size = max(1, int(_number(options.get("bucket_size"), DEFAULT_BUCKET_SIZE)))
        leak = max(0.0, _number(options.get("leak_rate"), DEFAULT_LEAK_RATE))
        stored = options.get("bucket")
        state: dict[str, Any] = stored if isinstance(stored, dict) else {}
        level = _number(state.get("level"), 0.0)
        elapsed = max(0.0, at - _number(state.get("at"), at))
        level = max(0.0, level - elapsed * leak)
        allowed = level + 1.0 <= size + 1e-9
        if allowed:
            level += 1.0
        options["bucket"] = {"level": round(level, 6), "at": at}
        used = min(size, math.ceil(level - 1e-6)) if allowed else size
        return BucketCall(allowed=allowed, used=used, size=size, leak_rate=leak)

    return options_update(account, take)


@dataclass(frozen=True)
class CostCall:
    """A GraphQL query's claim on the cost bucket: taken or not, and the bucket after it."""

    allowed: bool
    available: float
    maximum: float
    restore_rate: float

    def throttle_status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.available, 1),
            "restoreRate": self.restore_rate,
        }


def _cost_change(account: SimAccount, change: float, *, take: bool, now: float | None) -> CostCall:
    """Restore the bucket for the time passed, then take ``change`` points (when they are all
    there, if ``take``) or give them back (capped at the size)."""
    at = time.time() if now is None else now

    def update(options: dict[str, Any]) -> CostCall:
        size = max(1.0, _number(options.get("graphql_bucket_size"), DEFAULT_COST_BUCKET_SIZE))
        rate = max(0.0, _number(options.get("graphql_restore_rate"), DEFAULT_RESTORE_RATE))
        stored = options.get("cost_bucket")
        state: dict[str, Any] = stored if isinstance(stored, dict) else {}
        available = min(size, _number(state.get("available"), size))
        available = min(size, available + max(0.0, at - _number(state.get("at"), at)) * rate)
        allowed = not take or change <= available + 1e-9
        if allowed:
            available = min(size, available - change) if take else min(size, available + change)
        options["cost_bucket"] = {"available": round(available, 6), "at": at}
        return CostCall(allowed=allowed, available=available, maximum=size, restore_rate=rate)

    return options_update(account, update)


def cost_take(account: SimAccount, requested: int, *, now: float | None = None) -> CostCall:
    return _cost_change(account, float(requested), take=True, now=now)


def cost_refund(account: SimAccount, points: int, *, now: float | None = None) -> CostCall:
    return _cost_change(account, float(max(0, points)), take=False, now=now)
