"""Simulated CJdropshipping API 2.0: access tokens, orders paid from the CJ balance, refunds."""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

from django.http import HttpRequest
from django.urls import reverse

from sandbox.enums import Provider
from sandbox.models import SupplierOrder
from sandbox.registry import ProviderSpec, register
from sandbox.sim import suppliers
from sandbox.sim.suppliers import Phase, SupplierHooks

STATUSES = {
    Phase.UNPAID: "CREATED",
    Phase.PAYING: "UNSHIPPED",
    Phase.RISK: "UNSHIPPED",
    Phase.AWAITING_SHIPMENT: "UNSHIPPED",
    Phase.PART_SHIPPED: "SHIPPED",
    Phase.SHIPPED: "SHIPPED",
    Phase.DELIVERED: "DELIVERED",
    Phase.FINISHED: "DELIVERED",
    Phase.CANCELING: "CANCELLED",
    Phase.CANCELED: "CANCELLED",
}
LOGISTIC_CARRIERS = (
    ("USPS", "usps"),
    ("CJPACKET", "yunexpress"),
    ("YUN", "yunexpress"),
    ("4PX", "4px"),
    ("YANWEN", "yanwen"),
)


def carrier_for(order: SupplierOrder, rng: random.Random) -> str:
    name = str(order.request.get("payload", {}).get("logisticName") or "").upper().replace(" ", "")
    return next((slug for prefix, slug in LOGISTIC_CARRIERS if prefix in name), "cainiao")


def make_credentials(name: str) -> dict[str, str]:
    return {"api_key": f"CJ{secrets.randbelow(9_000_000) + 1_000_000}@api@{secrets.token_hex(16)}"}


def base_url(request: HttpRequest, name: str) -> str:
    return request.build_absolute_uri(reverse("cj-get-access-token")[: -len("/authentication/getAccessToken")])


suppliers.register(
    Provider.CJ,
    SupplierHooks(
        statuses=STATUSES,
        carrier_for=carrier_for,
        unpaid_timeout=timedelta(days=7),
        finish_after_delivery=False,
        split_rate=0.0,
    ),
)
SPEC = register(ProviderSpec(provider=Provider.CJ, make_credentials=make_credentials, base_url=base_url))
