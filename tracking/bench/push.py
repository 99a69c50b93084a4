"""Pushes per second: the real push runner (``channels_sync.services.push``) against the
sandbox's Shopify shop for a sample of parcels: orders made in the shop, pulled by our pull,
each given a shipment, then handed to ``fulfillment_push_request`` one after the other (what the
``push`` queue's worker does per task)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from accounts.models import Account
from channels_sync.enums import PushState
from channels_sync.models import FulfillmentPush
from channels_sync.services import store_connect, store_pull
from channels_sync.services.push import fulfillment_push_request, fulfillment_push_run, fulfillment_pushes_due
from orders.models import OrderLine
from tracking.bench import server
from tracking.bench.seed import CARRIER, PREFIX, tracking_number
from tracking.enums import RegistrationState
from tracking.models import Shipment

SHOP = "bench-tracking-shop"
NUMBER_OFFSET = 900_000_000  # push parcels' numbers, clear of the seeded ones
REFILL = 20.0  # seconds for the sandbox shop's GraphQL bucket (2,000 points, 100 a second) to fill again
RETRY_WINDOW = 120  # seconds (plus one per parcel) the retries may take before the bench stops waiting


def _retries_run(account: Account, *, deadline: float) -> int:
    """What the push queue's countdowns and the beat sweep do: each push waiting for a retry (the
    channel's rate limit said when) is run again when due, until none waits (bounded in time)."""
    runs = 0
    waiting = FulfillmentPush.objects.filter(account=account, state__in=(PushState.PENDING, PushState.RETRYING))
    while time.monotonic() < deadline:
        first = waiting.order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
        if first is None:
            break
        time.sleep(min(5.0, max(0.0, (first - timezone.now()).total_seconds())))
        mine = set(waiting.values_list("pk", flat=True))
        for push_id in fulfillment_pushes_due(limit=len(mine) or 1):
            if push_id in mine:
                fulfillment_push_run(push_id=push_id)
                runs += 1
    return runs


def push_measure(
    *, base_url: str, count: int, cpu_of_server: Callable[[], float | None], tracking_url: str, refill: float = REFILL
) -> dict[str, Any]:
    sim = server.control(base_url, "POST", "accounts", {"provider": "shopify", "name": SHOP})
    made = server.control(base_url, "POST", f"shopify/{SHOP}/orders", {"count": count, "seed": 11})
    account = Account.objects.create(name=f"{PREFIX} pushes")
    store = store_connect(
        account=account, channel="shopify", name=SHOP, base_url=sim["base_url"], credentials=sim["credentials"]
    ).store
    pulled = store_pull(store_id=store.pk)
    if pulled.error:
        raise RuntimeError(f"the bench shop's pull failed: {pulled.error}")
    wanted = {str(order_id) for order_id in made["created"]}
    orders = list(store.orders.filter(channel_order_id__in=wanted).order_by("id"))
    lines: dict[int, list[dict[str, int]]] = {}
    for line in OrderLine.objects.filter(order__in=orders).order_by("id"):
        lines.setdefault(line.order_id, []).append({"order_line_id": line.pk, "quantity": line.quantity})
    shipments = Shipment.objects.bulk_create(
        Shipment(
            account_id=account.pk,
            order_id=order.pk,
            tracking_number=tracking_number(NUMBER_OFFSET + k),
            carrier=CARRIER.name,
            lines=lines[order.pk],
            registration_state=RegistrationState.REGISTERED,
        )
        for k, order in enumerate(orders)
    )
    time.sleep(refill)  # untimed: the pull emptied the shop's cost bucket; pushes start from a full one
    server_before = cpu_of_server()
    cpu, began = time.process_time(), time.perf_counter()
    states: Counter[str] = Counter()
    for shipment in shipments:
        push = fulfillment_push_request(
            order_id=shipment.order_id,
            shipment_id=shipment.pk,
            tracking_number=shipment.tracking_number,
            carrier=shipment.carrier,
            lines=shipment.lines,
            tracking_url=tracking_url,
        )
        states[push.state] += 1
    retries = _retries_run(account, deadline=time.monotonic() + RETRY_WINDOW + count)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    final = Counter(FulfillmentPush.objects.filter(account=account).values_list("state", flat=True))
    server_after = cpu_of_server()
    attempts = FulfillmentPush.objects.filter(account=account).values_list("attempts", flat=True)
    return {
        "parcels": len(shipments),
        "first_try_states": dict(states),
        "states": {str(state): n for state, n in final.items()},
        "retries_run": retries,
        "attempts_per_push": round(sum(attempts) / max(1, len(shipments)), 3),
        "elapsed_seconds": round(elapsed, 2),
        "pushes_per_second": round(len(shipments) / elapsed, 2) if elapsed else None,
        "our_cpu_ms_per_push": round(cpu * 1000 / max(1, len(shipments)), 2),
        "sandbox_cpu_ms_per_push": (
            round((server_after - server_before) * 1000 / max(1, len(shipments)), 2)
            if server_after is not None and server_before is not None
            else None
        ),
    }
