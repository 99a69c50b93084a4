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
from weakref import WeakKeyDictionary

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis import Redis
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

    With the cache unreachable the request is let in: the intake still stores it, as it does
    with the broker away.
    """
    limit = limit or IntakeLimit.from_settings()
    if limit.per_second <= 0:
        return 0
    now = time.time() if now is None else now
    slot = math.floor(now / limit.window)
    # Kept a little past the window's end, then the cache drops it.
    ttl = math.ceil(limit.window) + 1
    try:
        count = _window_count(f"webhook-intake:{address}:{slot}", ttl=ttl)
    except RedisError as error:
        logger.warning("webhook intake limit not applied (cache unreachable): %s", error)
        return 0
    if count <= limit.burst:
        return 0
    return max(1, math.ceil((slot + 1) * limit.window - now))


def _window_count(key: str, *, ttl: int) -> int:
    """Add one to the window's counter and return it.

    On Redis, one round trip: INCR and EXPIRE in one pipeline, through the cache's own client
    and pool (Django's ``incr`` costs two, EXISTS then INCRBY, and sets no expiry; it was a
    fifth of the intake's CPU). Elsewhere (the local-memory cache) ``incr``, and ``add`` for
    the first request of a window: two requests that both find no counter are settled by
    ``add`` (one creates it, the other increments).
    """
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        pipeline = _redis_client(backend).pipeline(transaction=False)
        pipeline.incr(full_key)
        pipeline.expire(full_key, ttl)
        count, _ = pipeline.execute()
        return int(count)
    try:
        return int(backend.incr(key))
    except ValueError:  # no counter yet in this window
        return 1 if backend.add(key, 1, timeout=ttl) else int(backend.incr(key))


# One redis-py client per cache backend (backends are per thread; the pool is the cache's own).
# Django builds a new client on every call, and redis-py's constructor fills its ~170 response
# callbacks each time: most of the check's CPU, measured.
_redis_clients: WeakKeyDictionary[RedisCache, Redis] = WeakKeyDictionary()


def _redis_client(backend: RedisCache) -> Redis:
    client = _redis_clients.get(backend)
    if client is None:
        # Django has no public INCR with an expiry; this is the client the cache itself uses.
        client = backend._cache.get_client(None, write=True)  # type: ignore[attr-defined]  # noqa: SLF001
        _redis_clients[backend] = client
    return client
