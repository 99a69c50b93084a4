"""The daily job's "stalled" flags (``tracking.services.stalled.orders_flag_stalled``) against real
PostgreSQL: flagged after the account's days and not before, cleared when no longer true (a number
arrived, an event came, the order left the state), per account, set-based (the same number of
queries for 10 and 200 orders), and one run at a time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.enums import OrderStatus, SubStatus, SupplierOrderState, TrackingStatus
from orders.models import Order
from orders.services import order_recompute_status, orders_archive
from tests.factories import AccountFactory, OrderFactory, ShipmentFactory, StoreFactory, SupplierOrderFactory
from tracking.enums import StalledReason
from tracking.models import ShipmentOrder
from tracking.services.stalled import LOCK_KEY, orders_flag_stalled, tracking_expire_and_flag_stalled

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NOW = timezone.now()


@pytest.fixture(autouse=True)
def _no_lock_left() -> None:
    cache.delete(LOCK_KEY)


@pytest.fixture
def store() -> Any:
    # Defaults: 7 days without a number after payment, 5 days without an event in transit.
    return StoreFactory(account=AccountFactory(name="Edge A"), name="Edge A Shopify")


def paid_order(store: Any, *, paid_days_ago: float) -> Order:
    """An order whose supplier order was paid ``paid_days_ago`` and has no parcel yet."""
    order = OrderFactory(store=store)
    SupplierOrderFactory(order=order, state=SupplierOrderState.PAID, paid_at=NOW - timedelta(days=paid_days_ago))
    return order_recompute_status(order_id=order.pk, now=NOW)


def shipped_order(store: Any, *, silent_days: float, status: TrackingStatus = TrackingStatus.IN_TRANSIT) -> Order:
    """An order in Shipment whose one parcel's last event was ``silent_days`` ago."""
    order = OrderFactory(store=store)
    supplier_order = SupplierOrderFactory(order=order, paid_at=NOW - timedelta(days=silent_days + 3))
    at = NOW - timedelta(days=silent_days)
    ShipmentFactory(order=order, supplier_order=supplier_order, tracking_status=status, last_event_at=at, created_at=at)
    return order_recompute_status(order_id=order.pk, now=NOW)


def flags(*orders: Order) -> list[tuple[str, datetime | None]]:
    by_id = dict(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("pk", "stalled"))
    return [by_id[o.pk] for o in orders]


def test_no_tracking_after_the_accounts_days_and_not_before(store: Any) -> None:
    # given orders paid 8 days ago (past the 7), 6 days ago, and 8 days ago but shipped
    late = paid_order(store, paid_days_ago=8)
    recent = paid_order(store, paid_days_ago=6)
    shipped = shipped_order(store, silent_days=1)
    assert (late.status, late.sub_status) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)
    # when the job flags
    flagged, cleared = orders_flag_stalled(now=NOW)
    # then only the late one is stalled, since now
    assert (flagged, cleared) == (1, 0)
    assert flags(late, recent, shipped) == [StalledReason.NO_TRACKING, "", ""]
    assert Order.objects.get(pk=late.pk).stalled_since == NOW


def test_no_tracking_is_cleared_when_a_number_arrives(store: Any) -> None:
    order = paid_order(store, paid_days_ago=10)
    orders_flag_stalled(now=NOW)
    assert flags(order) == [StalledReason.NO_TRACKING]
    # when the supplier's parcel arrives (today) and the job runs again
    ShipmentFactory(order=order, supplier_order=order.supplier_orders.get(), tracking_status=TrackingStatus.NOT_FOUND)
    order_recompute_status(order_id=order.pk, now=NOW)
    flagged, cleared = orders_flag_stalled(now=NOW)
    # then the flag is gone
    assert (flagged, cleared) == (0, 1)
    assert list(Order.objects.filter(pk=order.pk).values_list("stalled", "stalled_since")) == [("", None)]


def test_a_shared_number_counts_as_the_supplier_orders_parcel(store: Any) -> None:
    # given an order paid 10 days ago whose number is another order's parcel (ShipmentOrder)
    order = paid_order(store, paid_days_ago=10)
    other = shipped_order(store, silent_days=1)
    ShipmentOrder.objects.create(
        shipment=other.shipments.get(), order=order, supplier_order=order.supplier_orders.get()
    )
    order_recompute_status(order_id=order.pk, now=NOW)
    # then it has its parcel: not stalled
    assert orders_flag_stalled(now=NOW) == (0, 0)
    assert flags(order) == [""]


def test_no_event_in_transit_and_awaiting_shipment_not_delivered(store: Any) -> None:
    # given parcels silent 6 days (past the 5): in transit, awaiting a scan, delivered; and one silent 4 days
    in_transit = shipped_order(store, silent_days=6)
    awaiting = shipped_order(store, silent_days=6, status=TrackingStatus.INFO_RECEIVED)
    delivered = shipped_order(store, silent_days=6, status=TrackingStatus.DELIVERED)
    recent = shipped_order(store, silent_days=4)
    assert awaiting.sub_status == SubStatus.AWAITING_SHIPMENT
    # when
    orders_flag_stalled(now=NOW)
    # then
    assert flags(in_transit, awaiting, delivered, recent) == [StalledReason.NO_EVENT, StalledReason.NO_EVENT, "", ""]


def test_no_event_is_cleared_by_an_event_and_by_leaving_the_state(store: Any) -> None:
    moved = shipped_order(store, silent_days=6)
    delivered = shipped_order(store, silent_days=6)
    archived = shipped_order(store, silent_days=6)
    orders_flag_stalled(now=NOW)
    assert flags(moved, delivered, archived) == [StalledReason.NO_EVENT] * 3
    # when an event comes for one, another is delivered, the third archived
    moved.shipments.update(last_event_at=NOW - timedelta(hours=2))
    delivered.shipments.update(tracking_status=TrackingStatus.DELIVERED, last_event_at=NOW)
    order_recompute_status(order_id=delivered.pk, now=NOW)
    orders_archive(account=archived.account, order_ids=[archived.pk])
    # then the delivered one's flag went with its status write, at once
    assert flags(moved, delivered, archived) == [StalledReason.NO_EVENT, "", StalledReason.NO_EVENT]
    flagged, cleared = orders_flag_stalled(now=NOW)
    # and the job clears the other two
    assert (flagged, cleared) == (0, 2)
    assert flags(moved, delivered, archived) == ["", "", ""]


def test_no_tracking_wins_and_replaces_no_event(store: Any) -> None:
    # given an order in transit flagged no_event, then a second supplier order paid long ago without a parcel
    order = shipped_order(store, silent_days=6)
    orders_flag_stalled(now=NOW - timedelta(hours=1))
    assert flags(order) == [StalledReason.NO_EVENT]
    SupplierOrderFactory(order=order, provider="cj", paid_at=NOW - timedelta(days=9))
    order = order_recompute_status(order_id=order.pk, now=NOW)
    assert order.sub_status == SubStatus.AWAITING_FULFILLMENT
    # when
    orders_flag_stalled(now=NOW)
    # then the reason changed, and its time with it
    assert list(Order.objects.filter(pk=order.pk).values_list("stalled", "stalled_since")) == [
        (StalledReason.NO_TRACKING, NOW)
    ]


def test_each_account_its_own_days(store: Any) -> None:
    patient = StoreFactory(account=AccountFactory(name="Edge B"), name="Edge B Shopify")
    patient.account.stalled_no_tracking_days = 20
    patient.account.stalled_no_event_days = 10
    patient.account.save()
    # given the same facts in both accounts
    mine = [paid_order(store, paid_days_ago=8), shipped_order(store, silent_days=6)]
    theirs = [paid_order(patient, paid_days_ago=8), shipped_order(patient, silent_days=6)]
    # when
    orders_flag_stalled(now=NOW)
    # then only the default account's orders are stalled
    assert flags(*mine) == [StalledReason.NO_TRACKING, StalledReason.NO_EVENT]
    assert flags(*theirs) == ["", ""]
    # and a run for the other account alone leaves the first one alone
    Order.objects.filter(pk=mine[0].pk).update(stalled="")
    orders_flag_stalled(now=NOW, account_id=patient.account_id)
    assert flags(*mine) == ["", StalledReason.NO_EVENT]


def _queries_for(count: int) -> int:
    store = StoreFactory(account=AccountFactory(name=f"Edge {count}"), name=f"Edge {count} Shopify")
    for n in range(count):
        if n % 2:
            paid_order(store, paid_days_ago=8)
        else:
            shipped_order(store, silent_days=6)
    with CaptureQueriesContext(connection) as queries:
        flagged, _ = orders_flag_stalled(now=NOW)
    assert flagged == count
    return len(queries)


def test_the_same_queries_for_10_and_200_orders() -> None:
    # (over every account: the second call's account is one more with the same settings)
    assert _queries_for(10) == _queries_for(200) == 4


def test_four_statements_whatever_the_distinct_settings() -> None:
    # given accounts with five distinct no-tracking and no-event settings, each with a late and a recent order
    late, recent = [], []
    for days in (3, 5, 7, 9, 11):
        store = StoreFactory(account=AccountFactory(name=f"Edge days {days}"), name=f"Edge days {days} Shopify")
        store.account.stalled_no_tracking_days = days
        store.account.stalled_no_event_days = days + 1
        store.account.save()
        late += [paid_order(store, paid_days_ago=days + 0.5), shipped_order(store, silent_days=days + 1.5)]
        recent += [paid_order(store, paid_days_ago=days - 0.5), shipped_order(store, silent_days=days + 0.5)]
    # when the job flags over every account
    with CaptureQueriesContext(connection) as queries:
        flagged, cleared = orders_flag_stalled(now=NOW)
    # then each order met its own account's days, in four statements
    assert len(queries) == 4
    assert all(query["sql"].startswith("UPDATE") for query in queries.captured_queries)
    assert (flagged, cleared) == (10, 0)
    assert flags(*late) == [StalledReason.NO_TRACKING, StalledReason.NO_EVENT] * 5
    assert flags(*recent) == ["", ""] * 5


def test_an_expired_order_is_not_stalled(store: Any) -> None:
    # given an order in transit flagged no_event, whose parcel then stays silent past the 30 days
    order = shipped_order(store, silent_days=6)
    orders_flag_stalled(now=NOW)
    assert flags(order) == [StalledReason.NO_EVENT]
    order.shipments.update(
        last_event_at=NOW - timedelta(days=31), created_at=NOW - timedelta(days=31), sub_status=SubStatus.IN_TRANSIT
    )
    # when the daily job runs (the parcel was never registered: nothing to stop at the provider)
    result = tracking_expire_and_flag_stalled(now=NOW)
    # then the order is Expired, and Expired replaces the warning (its status write cleared it)
    assert (result.expired, result.cleared) == (1, 0)
    assert Order.objects.values_list("sub_status", "stalled").get(pk=order.pk) == (SubStatus.EXPIRED, "")


def test_an_expired_parcel_does_not_keep_an_order_flagged(store: Any) -> None:
    # given an order with a parcel the job expired (its tracking status still says in transit), whose
    # account then gave parcels longer (60 days: the derivation no longer calls it expired)
    store.account.expire_after_days = 60
    store.account.save()
    order = shipped_order(store, silent_days=40)
    order.shipments.update(sub_status=SubStatus.EXPIRED)
    order = order_recompute_status(order_id=order.pk, now=NOW)
    assert order.sub_status in (SubStatus.IN_TRANSIT, SubStatus.AWAITING_SHIPMENT)
    # when the job flags
    orders_flag_stalled(now=NOW)
    # then the expired parcel's silence is not the order's
    assert flags(order) == [""]


def test_no_tracking_only_in_the_stages_that_show_it(store: Any) -> None:
    # given an order paid to one supplier 10 days ago (no parcel) whose other supplier order failed
    # to pay: it shows Payment Failed, which says more than "stalled"
    order = paid_order(store, paid_days_ago=10)
    SupplierOrderFactory(order=order, provider="cj", state=SupplierOrderState.PAYMENT_FAILED)
    order = order_recompute_status(order_id=order.pk, now=NOW)
    assert order.sub_status == SubStatus.PAYMENT_FAILED
    # then the job does not flag it
    assert orders_flag_stalled(now=NOW) == (0, 0)
    assert flags(order) == [""]
