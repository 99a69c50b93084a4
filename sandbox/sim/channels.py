"""The channels part of the simulated world (see sandbox/world.py): customers ordering and cancelling.

``tick`` asks every channel provider whose ``ProviderSpec.tick`` is set to move its shops,
each with its own random stream derived from the tick's (so adding a provider does not
change another's history). ``shops_tick`` is the customer behaviour the Shopify and
WooCommerce simulators share:

- each shop receives paid orders at ``options["orders_per_hour"]`` per sim hour (default 3;
  a Poisson draw over the sim time since the shop's previous tick, at most 200 a tick);
- a share ``options["cancel_rate"]`` (default 0.05) of those orders is cancelled by the buyer
  10 minutes to 6 hours later, if it is still unfulfilled by then.

``customer_refunds_tick`` runs for every channel whose spec has a ``customer_refund``: a share
``options["refund_rate"]`` (default 0: none) of a shop's fulfilled orders has its customer refunded
one unit of the first line 2 to 15 sim minutes after the order is first seen fulfilled (a customer
who reported a damaged item; the demo shops set it).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef

from sandbox.enums import CHANNEL_PROVIDERS
from sandbox.models import ChannelOrder, Fulfillment, SimAccount
from sandbox.providers._state import options_update
from sandbox.registry import PROVIDERS

DEFAULT_ORDERS_PER_HOUR = 3.0
DEFAULT_CANCEL_RATE = 0.05
MAX_ORDERS_PER_TICK = 200
CANCEL_DELAY_SECONDS = (600, 6 * 3600)
REFUND_DELAY_SECONDS = (120, 900)
MAX_REFUND_DRAWS_PER_TICK = 200
CUSTOMER_REFUND_NOTE = "The customer reported a damaged item"


def tick(*, now: datetime, rng: random.Random) -> dict[str, int]:
    """Move this part of the world to ``now``; returns counts of what happened."""
    base = rng.getrandbits(64)
    happened: dict[str, int] = {}
    for provider in sorted(CHANNEL_PROVIDERS):
        spec = PROVIDERS.get(provider)
        if spec is None or spec.tick is None:
            continue
        for kind, count in spec.tick(now=now, rng=random.Random(f"{base}:{provider}")).items():
            happened[kind] = happened.get(kind, 0) + count
        if spec.customer_refund is not None:
            rng_refunds = random.Random(f"{base}:{provider}:refunds")
            refunded = customer_refunds_tick(provider=provider, now=now, rng=rng_refunds, refund=spec.customer_refund)
            if refunded:
                happened[f"{provider}_customers_refunded"] = refunded
    return happened


def customer_refunds_tick(
    *, provider: str, now: datetime, rng: random.Random, refund: Callable[[ChannelOrder, dict[str, Any]], object]
) -> int:
    """Customers refunded by their shop (see the module docstring); returns how many."""
    refunded = 0
    for account in SimAccount.objects.filter(provider=provider).order_by("pk"):
        rate = float(account.options.get("refund_rate") or 0)
        if rate <= 0:
            continue
        fulfilled = Fulfillment.objects.filter(order=OuterRef("pk"))
        fresh = (
            account.channel_orders.filter(Exists(fulfilled))
            .exclude(extra__has_key="refund_drawn")
            .order_by("pk")[:MAX_REFUND_DRAWS_PER_TICK]
        )
        for order in fresh:
            order.extra["refund_drawn"] = True
            if rng.random() < rate:
                order.extra["customer_refund_at"] = (
                    now + timedelta(seconds=rng.uniform(*REFUND_DELAY_SECONDS))
                ).isoformat()
            order.save(update_fields=["extra"])
        for order in account.channel_orders.filter(extra__has_key="customer_refund_at").order_by("pk"):
            if datetime.fromisoformat(order.extra["customer_refund_at"]) > now:
                continue
            order.extra.pop("customer_refund_at")
            order.save(update_fields=["extra"])
            first = order.lines[0] if order.lines else None
            if not isinstance(first, dict) or "id" not in first:
                continue
            try:
                refund(order, {"lines": [{"line_id": str(first["id"]), "quantity": 1}], "note": CUSTOMER_REFUND_NOTE})
            except ValueError:
                continue  # canceled or refunded meanwhile
            refunded += 1
    return refunded


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:  # normal approximation; exactness does not matter at that rate
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _since_last_tick(account: SimAccount, now: datetime) -> float:
    """Sim seconds since the shop's previous tick (0 on its first), recording ``now``."""

    def step(options: dict[str, Any]) -> float:
        previous = options.get("world_at")
        options["world_at"] = now.isoformat()
        return max(0.0, (now - datetime.fromisoformat(previous)).total_seconds()) if previous else 0.0

    return options_update(account, step)


def shops_tick(
    *,
    provider: str,
    now: datetime,
    rng: random.Random,
    create: Callable[..., list[str]],
    buyer_cancel: Callable[[ChannelOrder], object],
) -> dict[str, int]:
    """New orders and buyer cancellations for every shop of ``provider`` (see the module docstring).

    ``create(account, count=, seed=)`` is the provider's ``create_orders``; ``buyer_cancel(order)``
    cancels an order as its buyer would, raising ``ValueError`` when it cannot (already shipped,
    already canceled) — the same callable the control API's buyer-cancel route uses.
    """
    created = cancelled = 0
    for account in SimAccount.objects.filter(provider=provider).order_by("pk"):
        elapsed = _since_last_tick(account, now)
        rate = float(account.options.get("orders_per_hour", DEFAULT_ORDERS_PER_HOUR))
        count = min(MAX_ORDERS_PER_TICK, poisson(rng, rate * elapsed / 3600))
        seed = rng.getrandbits(31)
        if count:
            cancel_rate = float(account.options.get("cancel_rate", DEFAULT_CANCEL_RATE))
            ids = create(account, count=count, seed=seed)
            for order in account.channel_orders.filter(external_id__in=ids).order_by("pk"):
                if rng.random() < cancel_rate:
                    delay = rng.uniform(*CANCEL_DELAY_SECONDS)
                    order.extra["buyer_cancel_at"] = (now + timedelta(seconds=delay)).isoformat()
                    order.save(update_fields=["extra"])
            created += count
        due = account.channel_orders.filter(canceled_at__isnull=True, extra__has_key="buyer_cancel_at").order_by("pk")
        for order in due:
            if datetime.fromisoformat(order.extra["buyer_cancel_at"]) > now:
                continue
            order.extra.pop("buyer_cancel_at")
            order.save(update_fields=["extra"])
            try:
                buyer_cancel(order)
            except ValueError:
                continue  # shipped or canceled meanwhile: the buyer is too late
            cancelled += 1
    return {f"{provider}_orders_created": created, f"{provider}_orders_cancelled_by_buyer": cancelled}
