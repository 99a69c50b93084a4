"""Fault injection per provider, set through the control API (PUT /sandbox/_control/faults).

Each provider view asks ``fault_for(provider)`` once per request and renders the fault in
the provider's own shape (a 5xx page, a 429 with Retry-After, a stall past the client's
timeout, or a truncated body). Draws come from one seeded RNG so a run is repeatable.
"""

from __future__ import annotations

import random
import threading
from typing import Literal

from sandbox.models import FaultConfig

Fault = Literal["http_5xx", "http_429", "timeout", "malformed"]
REQUEST_FAULTS: tuple[Fault, ...] = ("http_5xx", "http_429", "timeout", "malformed")
WEBHOOK_FAULTS = ("webhook_duplicate", "webhook_out_of_order")
ALL_FAULTS = (*REQUEST_FAULTS, *WEBHOOK_FAULTS)

# Seconds a "timeout" fault stalls: longer than the product's client timeouts in tests.
TIMEOUT_STALL_SECONDS = 3.0

_rng = random.Random(1)
_lock = threading.Lock()


def reseed(seed: int) -> None:
    with _lock:
        _rng.seed(seed)


def rates_for(provider: str) -> dict[str, float]:
    config = FaultConfig.objects.filter(provider=provider).first()
    return dict(config.rates) if config else {}


def draw(rate: float) -> bool:
    with _lock:
        return rate > 0 and _rng.random() < rate


def fault_for(provider: str) -> Fault | None:
    """At most one request fault for this request, by the provider's configured rates."""
    rates = rates_for(provider)
    if not rates:
        return None
    with _lock:
        roll = _rng.random()
    threshold = 0.0
    for fault in REQUEST_FAULTS:
        threshold += float(rates.get(fault, 0.0))
        if roll < threshold:
            return fault
    return None
