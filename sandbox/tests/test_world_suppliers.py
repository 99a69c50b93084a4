"""The simulated supplier and carrier world: deterministic from the seed, realistic in what it does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sandbox.clock import clock_set
from sandbox.models import Charge, Parcel, Refund, SimAccount, SupplierOrder
from sandbox.registry import PROVIDERS
from sandbox.sim import carriers, suppliers
from sandbox.sim.suppliers import Phase
from sandbox.world import world_tick

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
SERVICES = ("CAINIAO_STANDARD", "YANWEN_JYT", "CPAM", "4PX_RM")


def _account(provider: str, **options: Any) -> SimAccount:
    credentials = PROVIDERS[provider].make_credentials(provider)
    return SimAccount.objects.create(
        provider=provider, name=f"{provider}-world", credentials=credentials, options=options
    )


def _order(account: SimAccount, n: int, *, pay: bool = True) -> SupplierOrder:
    item = {"product_id": 1005000000000 + n, "product_count": 1 + n % 3, "logistics_service_name": SERVICES[n % 4]}
    payload = {"request": {"product_items": [item]}, "logisticName": "CJPacket Ordinary", "items": [{"sku_id": n}]}
    order, _ = suppliers.supplier_order_open(
        account=account,
        idempotency_key=f"K-{account.provider}-{n}",
        external_id=f"{n:016d}",
        amount=Decimal("10.00") + n,
        payload=payload,
        country_code=("US", "US", "GB", "DE", "BR")[n % 5],
        items=item["product_count"],
        now=T0,
    )
    if pay:
        suppliers.supplier_order_pay(order_id=order.pk, now=T0)
    return order


def _run_world(seed: int) -> list[tuple[Any, ...]]:
    """A fresh world from ``seed``: 3 suppliers × 7 orders, ticked every 1.5 sim days for 36 days."""
    for model in (Refund, Charge, SupplierOrder, Parcel, SimAccount):
        model.objects.all().delete()
    clock_set(seed=seed)
    for provider in ("aliexpress", "cj", "temu"):
        account = _account(provider)
        for n in range(7):
            _order(account, n, pay=n != 6)
    for step in range(1, 25):
        world_tick(now=T0 + timedelta(hours=36 * step))
    history = []
    for order in SupplierOrder.objects.order_by("idempotency_key"):
        numbers = suppliers.sim_state(order).get("parcels", [])
        parcels = [
            (p.number, p.carrier_name, p.status, p.sub_status, p.events)
            for p in Parcel.objects.filter(number__in=numbers).order_by("number")
        ]
        refunds = [(r.status, str(r.amount), r.reason) for r in order.refunds.order_by("requested_at")]
        history.append((order.idempotency_key, order.status, order.failure_reason, order.updated_at, parcels, refunds))
    return history


@pytest.mark.django_db
def test_same_seed_and_clock_give_the_same_history() -> None:
    first = _run_world(seed=42)
    second = _run_world(seed=42)
    other = _run_world(seed=43)

    assert first == second
    assert first != other
    parcels = [p for row in first for p in row[4]]
    statuses = {p[2] for p in parcels}
    assert len(parcels) >= 10
    assert "Delivered" in statuses
    assert len(statuses) >= 2
    assert len({p[1] for p in parcels}) >= 3  # several carriers (Cainiao, Yanwen, 4PX, YunExpress, …)
    assert all(events == sorted(events, key=lambda e: e["time_utc"]) for *_, events in parcels)
    statuses_by_provider = {(row[0].split("-")[1], row[1]) for row in first}
    assert ("aliexpress", "FINISH") in statuses_by_provider
    assert ("cj", "DELIVERED") in statuses_by_provider


@pytest.mark.django_db
def test_unpaid_orders_close_and_canceled_paid_orders_are_refunded() -> None:
    clock_set(seed=7)
    account = _account("aliexpress")
    unpaid = _order(account, 1, pay=False)
    paid = [_order(account, n) for n in range(2, 40)]

    for step in range(1, 13):
        world_tick(now=T0 + timedelta(hours=12 * step))

    unpaid.refresh_from_db()
    assert (unpaid.status, unpaid.failure_reason, suppliers.phase_of(unpaid)) == (
        "FINISH",
        "Not paid in time",
        Phase.CANCELED,
    )
    canceled = [
        o for o in SupplierOrder.objects.filter(pk__in=[o.pk for o in paid]) if suppliers.phase_of(o) == Phase.CANCELED
    ]
    assert canceled, "some paid orders are canceled by the supplier (out of stock, risk control)"
    for order in canceled:
        assert [(r.status, r.amount) for r in order.refunds.all()] == [("refunded", order.amount)]


@pytest.mark.django_db
def test_refunds_are_reviewed_within_a_day_and_paid_the_day_after() -> None:
    clock_set(seed=3)
    account = _account("cj", balance="1000.00")
    orders = [_order(account, n) for n in range(20)]
    requested = T0 + timedelta(hours=1)
    for order in orders:
        assert isinstance(suppliers.refund_request(order=order, reason="Damaged", amount=None, now=requested), Refund)

    world_tick(now=requested + timedelta(minutes=5))
    world_tick(now=requested + timedelta(days=1))
    decided = {r.status for r in Refund.objects.all() if suppliers.phase_of(r.supplier_order) != Phase.CANCELED}
    world_tick(now=requested + timedelta(days=3))

    # Requests on orders the supplier canceled meanwhile are settled by the cancellation instead.
    refunds = [r for r in Refund.objects.all() if suppliers.phase_of(r.supplier_order) != Phase.CANCELED]
    assert decided <= {"approved", "rejected"}
    assert "approved" in decided
    assert {r.status for r in refunds} <= {"refunded", "rejected"}
    assert "rejected" in {r.status for r in refunds}
    for refund in refunds:
        assert refund.decided_at is not None
        assert refund.decided_at - requested <= timedelta(days=1)
        if refund.status == "refunded":
            assert refund.refunded_at == refund.decided_at + timedelta(days=1)
    account.refresh_from_db()
    refunded = sum(r.amount for r in Refund.objects.all() if r.status == "refunded")
    assert Decimal(account.options["balance"]) == Decimal("1000.00") - sum(o.amount for o in orders) + refunded


@pytest.mark.django_db
def test_a_demo_paced_supplier_ships_and_its_parcels_travel_that_many_times_quicker() -> None:
    # given a supplier account with make run's demo pace, and one without
    clock_set(seed=7)
    paced = _account("cj", demo_pace=240)
    order = _order(paced, 1)
    normal = _order(SimAccount.objects.create(provider="temu", name="temu-normal", credentials={}), 2)
    # when the world runs two sim hours: the paced order shipped (24-120 h ÷ 240: 6-30 min), the other not
    for minutes in range(10, 130, 10):
        world_tick(now=T0 + timedelta(minutes=minutes))
    order.refresh_from_db()
    normal.refresh_from_db()
    assert order.tracking_number
    assert not normal.tracking_number
    parcel = Parcel.objects.get(number=order.tracking_number)
    assert parcel.fate.endswith("~240")
    # then its whole journey (days for a real parcel) ends within hours, in the same order of stages
    steps = carriers.itinerary(parcel.number, parcel.fate, parcel.created_at, parcel.carrier_code)
    real = carriers.itinerary(parcel.number, parcel.fate.removesuffix("~240"), parcel.created_at, parcel.carrier_code)
    assert steps[-1].at - parcel.created_at < timedelta(hours=3)
    assert real[-1].at - parcel.created_at > timedelta(days=4)
    assert carriers.destination_and_pace(parcel.fate.split("@", 1)[1])[0] in {"US", "GB", "DE", "BR"}
    assert [step.status for step in steps][:3] == ["InfoReceived", "InTransit", "InTransit"]
