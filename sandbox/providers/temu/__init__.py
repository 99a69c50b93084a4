"""SIMULATED Temu buyer API (no public one exists): orders with an Idempotency-Key, pay, refunds."""

from __future__ import annotations

import random
import secrets

from django.http import HttpRequest
from django.urls import reverse

from sandbox.enums import Provider
from sandbox.models import SupplierOrder
from sandbox.registry import ProviderSpec, register
from sandbox.sim import suppliers
from sandbox.sim.suppliers import Phase, SupplierHooks

STATUSES = {
    Phase.UNPAID: "pending_payment",
    Phase.PAYING: "paid",
    Phase.RISK: "on_hold",
    Phase.AWAITING_SHIPMENT: "processing",
    Phase.PART_SHIPPED: "partially_shipped",
    Phase.SHIPPED: "shipped",
    Phase.DELIVERED: "delivered",
    Phase.FINISHED: "completed",
    Phase.CANCELING: "cancelled",
    Phase.CANCELED: "cancelled",
}


def carrier_for(order: SupplierOrder, rng: random.Random) -> str:
    return rng.choice(("yunexpress", "yunexpress", "4px", "cainiao", "yanwen"))


def make_credentials(name: str) -> dict[str, str]:
    return {"api_key": "tk_live_" + secrets.token_urlsafe(32)}


def base_url(request: HttpRequest, name: str) -> str:
    return request.build_absolute_uri(reverse("temu-orders")[: -len("/orders")])


suppliers.register(Provider.TEMU, SupplierHooks(statuses=STATUSES, carrier_for=carrier_for, risk_rate=0.03))
SPEC = register(ProviderSpec(provider=Provider.TEMU, make_credentials=make_credentials, base_url=base_url))
