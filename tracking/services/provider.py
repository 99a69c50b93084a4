"""The tracking provider our services call, paced under its rate limit.

17TRACK answers HTTP 429 above its call rate (about 3 requests a second, external-apis.md
section 5): every process calling it takes a slot first from one shared bucket, spaced
``1 / TRACK17_CALLS_PER_SECOND`` apart (GCRA, as ``suppliers.ratelimit``, which tracking may not
import). The bucket lives in Redis when ``REDIS_URL`` is set (one Lua script per slot, on Redis's
clock, so every worker counts against the same limit); without Redis (the embedded default) it
is per process.
"""

from __future__ import annotations

import threading
import time

import redis
from django.conf import settings

from tracking.providers.track17 import Track17Provider

BUCKET = "zopi:ratelimit:track17"

# {1, wait} when the next slot is at most ARGV[2] seconds away (reserved), else {0, wait}.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - now
if wait > max_wait then return {0, tostring(wait)} end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil((tat + interval - now) * 1000) + 1000)
return {1, tostring(wait)}
"""

_lock = threading.Lock()
_scripts: dict[str, redis.commands.core.Script] = {}
_local_next: dict[str, float] = {}


class Track17Pacer:
    """``integrations.http.Pacer`` for every 17TRACK call (one bucket for all endpoints)."""

    def __init__(self, per_second: float | None = None) -> None:
        rate = settings.TRACK17_CALLS_PER_SECOND if per_second is None else per_second
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.reserved = 0

    def reserve(self, operation: str, *, max_wait: float) -> tuple[bool, float]:
        if self.interval <= 0:
            return True, 0.0
        if settings.REDIS_URL:
            granted, wait = _script()(keys=[BUCKET], args=[self.interval, max_wait])
            ok, seconds = bool(int(granted)), float(wait)
        else:
            ok, seconds = self._reserve_local(max_wait)
        self.reserved += ok
        return ok, seconds

    def _reserve_local(self, max_wait: float) -> tuple[bool, float]:
        with _lock:
            now = time.monotonic()
            at = max(_local_next.get(BUCKET, 0.0), now)
            if at - now > max_wait:
                return False, at - now
            _local_next[BUCKET] = at + self.interval
            return True, at - now


def _script() -> redis.commands.core.Script:
    url = settings.REDIS_URL
    with _lock:
        script = _scripts.get(url)
        if script is None:
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            script = _scripts[url] = client.register_script(_SCRIPT)
    return script


def tracking_provider() -> Track17Provider:
    """The configured provider (``TRACK17_API_URL`` / ``TRACK17_API_KEY``), paced."""
    return Track17Provider(pacer=Track17Pacer())
