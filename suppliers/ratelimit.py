"""Our own pacing of supplier calls: a rate limit shared by every process calling one supplier account.

The suppliers limit their callers (see docs/suppliers.md, "Never twice (for support)", pacing): CJdropshipping per
CJ account (1, 2, 4 or 6 requests a second by the account's level, a 429 "QPS limit is 1
time/1second" above it), AliExpress per app key and per API (``aliexpress.ds.order.create`` 150
a second, ``aliexpress.trade.ds.order.get`` 1000, …; ApiCallLimit above it). A 429 is harmless
(refused unseen) but wastes a call and a wait, and a supplier may ban a caller that keeps going
over, so every web process and worker takes a slot here before each attempt.

The limit is GCRA (a token bucket kept as one number, the "theoretical arrival time"): calls are
spaced ``1 / rate`` apart, with up to ``burst`` at once after a quiet spell. A caller reserves the
next slot and sleeps until it when it is at most the inline wait away (``OUTBOUND_MAX_INLINE_WAIT``,
2 s); further away, nothing is reserved and ``integrations.errors.RateLimited`` tells the task when
to come back (a countdown) instead of holding a worker asleep. Where the state lives:

- Redis (``REDIS_URL`` set: production, CI): one Lua script per slot, atomic, on Redis's own clock
  (every process compares against the same time);
- the database otherwise (the embedded default, whose workers are separate processes too):
  one ``RateSlot`` row per bucket, updated under its row lock in a transaction of its own, with no
  other lock held and no network call inside it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import transaction

from suppliers.models import RateSlot, SourceAccount

# Per-operation limits of AliExpress's documented QPS table (calls a second per app key); "*":
# any other method. CJ has one limit per account for every authenticated endpoint.
ANY = "*"

_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, tolerance, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if wait > max_wait then return {0, tostring(wait)} end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, tostring(wait)}
"""


@dataclass(frozen=True)
class Rate:
    per_second: float  # 0: not paced
    burst: int = 1  # calls at once after a quiet spell (1: evenly spaced, always)

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.interval


def slot_reserve(key: str, rate: Rate, *, max_wait: float, now: float | None = None) -> tuple[bool, float]:
    """Reserve the next slot of bucket ``key`` (see ``integrations.http.Pacer.reserve``)."""
    if rate.per_second <= 0:
        return True, 0.0
    if settings.REDIS_URL and now is None:
        granted, wait = _script()(keys=[f"zopi:ratelimit:{key}"], args=[rate.interval, rate.tolerance, max_wait])
        return bool(int(granted)), float(wait)
    return _slot_reserve_db(key, rate, max_wait=max_wait, now=time.time() if now is None else now)


def _slot_reserve_db(key: str, rate: Rate, *, max_wait: float, now: float) -> tuple[bool, float]:
    RateSlot.objects.bulk_create([RateSlot(key=key, next_at=0.0)], ignore_conflicts=True)
    with transaction.atomic():
        slot = RateSlot.objects.select_for_update().get(key=key)
        tat = max(slot.next_at, now)
        wait = max(0.0, tat - rate.tolerance - now)
        if wait > max_wait:
            return False, wait
        RateSlot.objects.filter(key=key).update(next_at=tat + rate.interval)
    return True, wait


_scripts: dict[str, redis.commands.core.Script] = {}
_scripts_lock = threading.Lock()


def _script() -> redis.commands.core.Script:
    """The registered Lua script on a client of ``REDIS_URL`` (one pool per process)."""
    url = settings.REDIS_URL
    with _scripts_lock:
        script = _scripts.get(url)
        if script is None:
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            script = _scripts[url] = client.register_script(_SCRIPT)
    return script


class SupplierPacer:
    """The ``Pacer`` of one supplier account: buckets named ``<scope>:<operation>``.

    ``rates`` maps an operation to its rate (``ANY`` for the others); a scope with ``shared``
    counts every operation against one bucket (CJ's per-account limit)."""

    def __init__(self, scope: str, rates: Mapping[str, Rate], *, shared: bool = False, skip: tuple[str, ...] = ()):
        self.scope, self.rates, self.shared, self.skip = scope, dict(rates), shared, skip
        self.reserved = 0  # slots this pacer took (the bench counts them)

    def rate_of(self, operation: str) -> Rate | None:
        if any(part in operation for part in self.skip):
            return None
        return self.rates.get(operation) or self.rates.get(ANY)

    def reserve(self, operation: str, *, max_wait: float) -> tuple[bool, float]:
        rate = self.rate_of(operation)
        if rate is None or rate.per_second <= 0:
            return True, 0.0
        key = self.scope if self.shared else f"{self.scope}:{operation}"
        granted, wait = slot_reserve(key, rate, max_wait=max_wait)
        self.reserved += int(granted)
        return granted, wait


def _rate(value: object, burst: int) -> Rate:
    return Rate(per_second=float(value), burst=burst)  # type: ignore[arg-type]


def supplier_pacer_for(
    source_account: SourceAccount, *, credentials: Mapping[str, str] | None = None
) -> SupplierPacer | None:
    """The pacer for calls made with ``source_account`` (None: its supplier is not paced).

    CJ: one bucket per CJ account (its API key's digest: two connections of one CJ account share
    it), the authentication endpoints aside (CJ limits those separately, see ``CjProvider``).
    AliExpress: one bucket per app key (the operator's, in ``credentials``) and method.
    ``SUPPLIER_RATE_LIMITS`` sets the rates."""
    limits = getattr(settings, "SUPPLIER_RATE_LIMITS", {}).get(source_account.provider)
    if not limits:
        return None
    burst = int(getattr(settings, "SUPPLIER_RATE_BURST", 1))
    credentials = source_account.credentials if credentials is None else credentials
    if source_account.provider == "cj":
        identity = str(credentials.get("api_key") or credentials.get("access_token") or source_account.pk)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:20]
        return SupplierPacer(f"cj:{digest}", {ANY: _rate(limits, burst)}, shared=True, skip=("/authentication/",))
    if source_account.provider == "aliexpress":
        app_key = str(credentials.get("app_key") or source_account.pk)
        table = limits if isinstance(limits, Mapping) else {ANY: limits}
        rates = {operation: _rate(value, burst) for operation, value in table.items()}
        return SupplierPacer(f"aliexpress:{app_key}", rates, skip=("/rest/auth/",))
    return SupplierPacer(f"{source_account.provider}:{source_account.pk}", {ANY: _rate(limits, burst)}, shared=True)
