"""A per-store limit on webhook intake, so one tenant's flood cannot fill the shared workers.

Fixed windows counted in the cache (Redis in production, the local-memory cache in the embedded
default): a store's address takes ``WEBHOOK_RATE_BURST`` requests in each window of
``WEBHOOK_RATE_BURST / WEBHOOK_RATE_PER_SECOND`` seconds, so its average stays at the rate and a
burst up to ``BURST`` passes at once. Past it the intake answers 429 with Retry-After (the end
of the window) before anything else: no database query, no signature check, nothing stored.
The channel sends the delivery again later, and the pull keeps the orders complete meanwhile.

Every request to the address counts, signed or not: the check is the cheapest thing the
intake does and so comes first. The price: someone who knows a store's address can use up its
allowance with junk; rotating the address (``webhook_address``) ends that.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntakeLimit:
    per_second: float  # sustained deliveries per second per store; 0 turns the limit off
    burst: int  # deliveries per window, all at once if they come so

    @classmethod
    def from_settings(cls) -> IntakeLimit:
        return cls(per_second=settings.WEBHOOK_RATE_PER_SECOND, burst=settings.WEBHOOK_RATE_BURST)

    @property
    def window(self) -> float:
        return self.burst / self.per_second


def intake_admit(*, address: str, limit: IntakeLimit | None = None, now: float | None = None) -> int:
    """Count one request to ``address``; 0 when it may come in, else the seconds to wait.

    ``incr`` first (the common case: the window's counter exists), ``add`` for the first request
    of a window; two requests that both find no counter are settled by ``add`` (one wins, the
    other increments). With the cache unreachable the request is let in: the intake still
    stores it, as it does with the broker away.
    """
    limit = limit or IntakeLimit.from_settings()
    if limit.per_second <= 0:
        return 0
    now = time.time() if now is None else now
    slot = math.floor(now / limit.window)
    key = f"webhook-intake:{address}:{slot}"
    try:
        try:
            count = cache.incr(key)
        except ValueError:  # no counter yet in this window
            # Kept a little past the window's end, then the cache drops it.
            count = 1 if cache.add(key, 1, timeout=math.ceil(limit.window) + 1) else cache.incr(key)
    except RedisError as error:
        logger.warning("webhook intake limit not applied (cache unreachable): %s", error)
        return 0
    if count <= limit.burst:
        return 0
    return max(1, math.ceil((slot + 1) * limit.window - now))
