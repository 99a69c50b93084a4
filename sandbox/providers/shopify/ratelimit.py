"""Shopify's REST leaky bucket, per shop, shared by every process serving the sandbox.

Each request adds one to the bucket; it leaks ``leak_rate`` per second (real time, not sim
time); a request that would overflow it gets 429 and adds nothing. The level and the time of
the last leak live in the shop's ``options["bucket"]`` and are read and written under the
shop's row lock (``options_update``), so concurrent requests from any number of threads or
processes see one consistent bucket. Configure per shop: options ``bucket_size`` (default 40)
and ``leak_rate`` (requests per second, default 2).
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
