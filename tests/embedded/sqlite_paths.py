"""The code paths ``make run`` takes on its embedded SQLite, where PostgreSQL's advisory locks and
interval arithmetic do not exist and a UNION's parts take no ORDER BY: the push runner's claim, the
sweep, the daily expire-and-stalled job, the merge's order recompute and a customer refund's
``INSERT … ON CONFLICT DO NOTHING RETURNING``. Not collected by the suite
(the name is not ``test_*``): ``tests/test_embedded_sqlite.py`` runs this file in a fresh
interpreter with no ``DATABASE_URL``, so it runs on SQLite whatever the suite's database is (found
running the demo: pushes failed with ``no such function: pg_advisory_xact_lock``)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from channels_sync.enums import PushState
from channels_sync.models import FulfillmentPush
from channels_sync.services.push_claim import push_claim, push_still_ours, pushes_due
from orders.enums import SubStatus, SupplierOrderState, TrackingStatus
from orders.models import CustomerRefund, Order
from orders.services import LineData, order_recompute_status
from orders.services.customer_refunds import CustomerRefundData, RefundLineData, customer_refunds_upsert
from tests.factories import AccountFactory, OrderFactory, ShipmentFactory, StoreFactory, SupplierOrderFactory
from tracking.enums import RegistrationState, StalledReason
from tracking.models import Shipment
from tracking.services.merge import orders_recompute
from tracking.services.stalled import tracking_expire_and_flag_stalled

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def test_the_database_is_sqlite() -> None:
    assert connection.vendor == "sqlite"


def push(order: Order, shipment_id: int, **fields: object) -> FulfillmentPush:
    values = {"state": PushState.PENDING, "next_attempt_at": timezone.now() - timedelta(seconds=1), **fields}
    return FulfillmentPush.objects.create(
        account_id=order.account_id,
        store_id=order.store_id,
        order=order,
        shipment_id=shipment_id,
        tracking_number=f"SQ{shipment_id:010d}CN",
        carrier="Yun Express",
        lines=[],
        **values,
    )


def test_a_push_is_claimed_held_and_a_sibling_waits() -> None:
    order = OrderFactory()
    first, second = push(order, 1), push(order, 2)

    claim = push_claim(push_id=first.pk)

    assert claim.until is not None
    assert timedelta(minutes=4) < claim.until - timezone.now() <= timedelta(minutes=5, seconds=5)
    assert push_still_ours(push_id=first.pk, until=claim.until)
    first.refresh_from_db()
    assert (first.state, first.attempts) == (PushState.PUSHING, 1)
    # the order's other parcel waits while the first is held, no attempt counted
    assert push_claim(push_id=second.pk).reason == "order busy"
    second.refresh_from_db()
    assert (second.state, second.attempts) == (PushState.PENDING, 0)
    # a claim already taken is not taken twice
    assert push_claim(push_id=first.pk).until is None


def test_the_sweep_leases_what_is_due() -> None:
    order = OrderFactory()
    due, later = push(order, 1), push(order, 2, next_attempt_at=timezone.now() + timedelta(hours=1))
    lease = timezone.now() + timedelta(minutes=2)

    assert pushes_due(limit=10, lease=lease) == [due.pk]
    assert pushes_due(limit=10, lease=lease) == []  # leased: not queued again at once
    assert push_claim(push_id=due.pk, lease=lease).until is not None
    later.refresh_from_db()
    assert later.state == PushState.PENDING


def test_the_daily_job_expires_and_flags_stalled_per_account(settings: object) -> None:
    settings.TRACK17_API_URL = "http://127.0.0.1:9/"  # type: ignore[attr-defined]  # nothing listens: the stop fails
    store = StoreFactory(account=AccountFactory(name="Embedded"))
    # no tracking number 8 days after payment (the default is 7)
    waiting = OrderFactory(store=store)
    SupplierOrderFactory(order=waiting, state=SupplierOrderState.PAID, paid_at=NOW - timedelta(days=8))
    order_recompute_status(order_id=waiting.pk, now=NOW)
    # in transit, no event for 6 days (the default is 5)
    quiet = OrderFactory(store=store)
    at = NOW - timedelta(days=6)
    paid = SupplierOrderFactory(order=quiet, paid_at=at)
    ShipmentFactory(order=quiet, supplier_order=paid, last_event_at=at, created_at=at)
    order_recompute_status(order_id=quiet.pk, now=NOW)
    # silent for 31 days (the default is 30): expires
    silent = OrderFactory(store=store)
    old = NOW - timedelta(days=31)
    parcel = ShipmentFactory(
        order=silent,
        supplier_order=SupplierOrderFactory(order=silent, paid_at=old),
        registration_state=RegistrationState.REGISTERED,
        tracking_status=TrackingStatus.IN_TRANSIT,
        sub_status=SubStatus.IN_TRANSIT,
        last_event_at=old,
        created_at=old,
    )
    order_recompute_status(order_id=silent.pk, now=NOW)

    result = tracking_expire_and_flag_stalled(now=NOW)

    assert result.ran
    assert (result.expired, result.stop_failures) == (1, 1)
    parcel.refresh_from_db()
    assert parcel.sub_status == SubStatus.EXPIRED
    stalled = dict(Order.objects.filter(store=store).values_list("pk", "stalled"))
    assert stalled[waiting.pk] == StalledReason.NO_TRACKING
    assert stalled[quiet.pk] == StalledReason.NO_EVENT
    assert Order.objects.get(pk=silent.pk).sub_status == SubStatus.EXPIRED
    assert Shipment.objects.get(pk=parcel.pk).next_poll_at is None


def test_the_merge_recomputes_the_orders_of_its_parcels_and_of_a_shared_number() -> None:
    # found running the demo: every poll failed with "ORDER BY not allowed in subqueries of compound statements"
    order = OrderFactory()
    paid = SupplierOrderFactory(order=order)
    parcel = ShipmentFactory(order=order, supplier_order=paid, tracking_status=TrackingStatus.DELIVERED)
    Order.objects.filter(pk=order.pk).update(status="payment", sub_status="paid")

    assert orders_recompute(shipment_ids=[parcel.pk]) == 1
    assert Order.objects.get(pk=order.pk).sub_status == SubStatus.DELIVERED


def test_a_customer_refund_is_stored_once_and_its_repeat_changes_nothing() -> None:
    order = OrderFactory(
        lines=(LineData(title="Earbuds", unit_price=Decimal("10.00"), quantity=2, channel_line_id="L1"),),
        total=Decimal("20.00"),
        currency="USD",
    )
    refund = CustomerRefundData(
        channel_refund_id="R1",
        amount=Decimal("10.00"),
        currency="USD",
        refunded_at=NOW,
        reason="damaged",
        status="success",
        lines=(RefundLineData("L1", 1, Decimal("10.00")),),
    )

    assert customer_refunds_upsert(store=order.store, order=order, refunds=[refund]) == 1
    assert customer_refunds_upsert(store=order.store, order=order, refunds=[refund]) == 0
    assert list(CustomerRefund.objects.filter(order=order).values_list("channel_refund_id", "amount")) == [
        ("R1", Decimal("10.00"))
    ]
