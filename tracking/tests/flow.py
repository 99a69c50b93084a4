"""Helpers for the tracking flow tests: a 17TRACK account in the sandbox wired into the settings,
paid orders, parcels planned in the simulated world, and a stand-in fulfillment push task."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest
from celery import shared_task

from accounts.models import Account
from orders.models import Order
from sandbox.models import Parcel
from sandbox.sim import carriers
from tests.factories import OrderFactory, StoreFactory
from tracking.models import Shipment
from tracking.providers.track17 import Track17Provider
from tracking.services.handover import shipment_handover

SIM_ACCOUNT = "zopi-tracking"
PUSHED: list[dict[str, Any]] = []  # what the stand-in push task received (in the worker thread)
PUSH_STAND_IN = "tracking.tests.push_stand_in"


@shared_task(name=PUSH_STAND_IN)
def push_stand_in(**kwargs: Any) -> None:
    PUSHED.append(kwargs)


@pytest.fixture
def track17(control: Any, settings: Any) -> dict[str, Any]:
    """The sandbox's 17TRACK account as our configured provider (paced fast for tests)."""
    account: dict[str, Any] = control.account("17track", SIM_ACCOUNT)
    settings.TRACK17_API_URL = account["base_url"]
    settings.TRACK17_API_KEY = account["credentials"]["token"]
    settings.TRACK17_CALLS_PER_SECOND = 0  # not paced here (test_polling checks the pacer)
    settings.FULFILLMENT_PUSH_TASK = PUSH_STAND_IN
    PUSHED.clear()
    return account


def provider(**options: Any) -> Track17Provider:
    options.setdefault("sleep", lambda seconds: None)
    return Track17Provider(**options)


def paid_order(account: Account | None = None, name: str = "Tracking merchant") -> Order:
    store = StoreFactory(account=account or Account.objects.create(name=name))
    return OrderFactory(store=store)


def hand_over(order: Order, number: str, carrier: str = "YunExpress", **more: Any) -> Shipment:
    kwargs: dict[str, Any] = {
        "supplier_order_id": None,
        "order_id": order.pk,
        "account_id": order.account_id,
        "tracking_number": number,
        "carrier": carrier,
        "register_now": False,
    }
    kwargs.update(more)
    if "lines" not in kwargs:
        line = order.lines.get()
        kwargs["lines"] = [{"order_line_id": line.pk, "quantity": line.quantity}]
    result = shipment_handover(**kwargs)
    assert not result.dropped, result.dropped
    return Shipment.objects.get(pk=result.shipment_id)


def planned_parcel(kind: str, *, start: datetime, ends_with: str, seed: int = 1) -> Parcel:
    """A YunExpress parcel in the simulated world whose planned journey (pure) ends with the
    sub-status ``ends_with``: found by planning, not by luck."""
    carrier = carriers.CARRIERS["yunexpress"]
    rng = random.Random(f"{kind}:{ends_with}:{seed}")
    for _ in range(2000):
        number = carriers.tracking_number_draw(carrier, rng)
        steps = carriers.itinerary(number, f"{kind}@US", start, carrier.key)
        if steps and steps[-1].sub_status == ends_with:
            return Parcel.objects.create(
                number=number,
                carrier_code=carrier.key,
                carrier_name=carrier.name,
                fate=f"{kind}@US",
                created_at=start,
                updated_at=start,
            )
    raise AssertionError(f"no {kind} journey ending with {ends_with}")


def journey(parcel: Parcel) -> list[carriers.Step]:
    return carriers.itinerary(parcel.number, parcel.fate, parcel.created_at, parcel.carrier_code)
