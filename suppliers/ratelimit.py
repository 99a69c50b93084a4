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
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import transaction

from suppliers.models import RateSlot, SourceAccount

BOOK_MAX = 10  # slots a pacer reserves at once
LATE = 0.1  # of an interval: a reserved slot come to later than this is given up

# Per-operation limits of AliExpress's documented QPS table (calls a second per app key); "*":
# any other method. CJ has one limit per account for every authenticated endpoint.
ANY = "*"

# Up to ARGV[4] consecutive slots at most ``max_wait`` away: {granted, wait of each granted slot}
# ({0, wait of the next slot} when none is).
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval, tolerance, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local count = tonumber(ARGV[4] or '1')
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local waits = {}
for i = 1, count do
  local wait = tat - tolerance - now
  if wait < 0 then wait = 0 end
  if wait > max_wait then
    if i == 1 then return {0, tostring(wait)} end
    break
  end
  waits[#waits + 1] = tostring(wait)
  tat = tat + interval
end
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
return {#waits, unpack(waits)}
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
    waits, refused_wait = slots_reserve(key, rate, count=1, max_wait=max_wait, now=now)
    return (True, waits[0]) if waits else (False, refused_wait)


def slots_reserve(
    key: str, rate: Rate, *, count: int, max_wait: float, now: float | None = None
) -> tuple[list[float], float]:
    """Reserve up to ``count`` consecutive slots of bucket ``key``, each at most ``max_wait``
    seconds away: the wait before each, and when none was that near (nothing was reserved), the
    wait before the next slot."""
    if rate.per_second <= 0:
        return [0.0] * count, 0.0
    if settings.REDIS_URL and now is None:
        granted, *waits = _script()(
            keys=[f"zopi:ratelimit:{key}"], args=[rate.interval, rate.tolerance, max_wait, count]
        )
        if not int(granted):
            return [], float(waits[0])
        return [float(wait) for wait in waits], 0.0
    return _slots_reserve_db(key, rate, count=count, max_wait=max_wait, now=time.time() if now is None else now)


def _slots_reserve_db(key: str, rate: Rate, *, count: int, max_wait: float, now: float) -> tuple[list[float], float]:
    RateSlot.objects.bulk_create([RateSlot(key=key, next_at=0.0)], ignore_conflicts=True)
    waits: list[float] = []
    with transaction.atomic():
        slot = RateSlot.objects.select_for_update().get(key=key)
        tat = max(slot.next_at, now)
        for _ in range(count):
            wait = max(0.0, tat - rate.tolerance - now)
            if wait > max_wait:
                if not waits:
                    return [], wait
                break
            waits.append(wait)
            tat += rate.interval
        RateSlot.objects.filter(key=key).update(next_at=tat)
    return waits, 0.0


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

    def __init__(
        self,
        scope: str,
        rates: Mapping[str, Rate],
        *,
        shared: bool = False,
        skip: tuple[str, ...] = (),
        ahead: float = 0.0,
    ):
        self.scope, self.rates, self.shared, self.skip = scope, dict(rates), shared, skip
        self.reserved = 0  # slots this pacer took (the bench counts them)
        self.round_trips = 0  # reservations made (one per slot, or one for several booked ahead)
        # ``ahead`` seconds: a pacer that makes a run of calls (a bulk placement's chunk) reserves
        # the slots of that many seconds at once while its calls are quicker than the rate's spacing
        # (one round trip for several calls, at most BOOK_MAX); a slot its run comes to late is
        # given up, never used to crowd the next.
        self.ahead = ahead
        self.booked: dict[str, deque[float]] = {}
        self.busy: float | None = None  # seconds from a slot to this pacer's next reservation: a call's time
        self.slot_at: float | None = None  # the last slot it granted

    def rate_of(self, operation: str) -> Rate | None:
        if any(part in operation for part in self.skip):
            return None
        return self.rates.get(operation) or self.rates.get(ANY)

    def reserve(self, operation: str, *, max_wait: float) -> tuple[bool, float]:
        rate = self.rate_of(operation)
        if rate is None or rate.per_second <= 0:
            return True, 0.0
        key = self.scope if self.shared else f"{self.scope}:{operation}"
        now = time.monotonic()
        if self.slot_at is not None and now >= self.slot_at:
            took = now - self.slot_at
            self.busy = took if self.busy is None else (self.busy + took) / 2
        booked = self.booked.get(key)
        while booked:
            at = booked[0]
            if at > now + max_wait:  # further than this caller may wait: kept for the next one
                return False, at - now
            booked.popleft()
            if at >= now - rate.interval * LATE:
                self.slot_at = max(at, now)
                return True, max(0.0, at - now)
        waits, refused_wait = slots_reserve(key, rate, count=self._count(rate), max_wait=max_wait)
        self.round_trips += 1
        if not waits:
            return False, refused_wait
        self.reserved += len(waits)
        after = time.monotonic()  # (the slots are relative to the reservation: never earlier than it)
        if len(waits) > 1:
            self.booked[key] = deque(after + wait for wait in waits[1:])
        self.slot_at = after + waits[0]
        return True, waits[0]

    def _count(self, rate: Rate) -> int:
        """Slots to reserve at once: those of the next ``ahead`` seconds while this pacer's calls
        take less than the rate's spacing (each comes back before its next slot and waits for it);
        one while a call takes longer (it would reach each booked slot later than the last, and give
        it up) or before the calls' time is known."""
        if not self.ahead or self.busy is None or self.busy > rate.interval:
            return 1
        return max(1, min(BOOK_MAX, int(self.ahead / rate.interval)))


def _rate(value: object, burst: int) -> Rate:
    return Rate(per_second=float(value), burst=burst)  # type: ignore[arg-type]


def supplier_pacer_for(
    source_account: SourceAccount, *, credentials: Mapping[str, str] | None = None, ahead: float = 0.0
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
        return SupplierPacer(
            f"cj:{digest}", {ANY: _rate(limits, burst)}, shared=True, skip=("/authentication/",), ahead=ahead
        )
    if source_account.provider == "aliexpress":
        app_key = str(credentials.get("app_key") or source_account.pk)
        table = limits if isinstance(limits, Mapping) else {ANY: limits}
        rates = {operation: _rate(value, burst) for operation, value in table.items()}
        return SupplierPacer(f"aliexpress:{app_key}", rates, skip=("/rest/auth/",), ahead=ahead)
    return SupplierPacer(
        f"{source_account.provider}:{source_account.pk}", {ANY: _rate(limits, burst)}, shared=True, ahead=ahead
    )


def calls_per_second(source_account: SourceAccount) -> float | None:
    """The slowest rate our pacing keeps ``source_account``'s calls to (None: not paced)."""
    pacer = supplier_pacer_for(source_account)
    rates = [rate.per_second for rate in pacer.rates.values() if rate.per_second > 0] if pacer else []
    return min(rates) if rates else None
