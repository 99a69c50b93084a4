"""The upsert of channel orders: insert or update on (store, channel order id), stale updates
ignored, lines merged without losing their ids, status, counters and events in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from orders.enums import OrderEventType, OrderStatus, SubStatus
from orders.models import Order, OrderEvent, PurchaseId
from orders.services import LineData, OrderData, order_confirm_duplicate, orders_upsert_from_channel
from orders.services.counts import order_counts_from_rows, order_counts_stored
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Item:
    data: OrderData
    updated_at: datetime
    purchase_ids: tuple[str, ...] = ()


def item(
    channel_order_id: str = "5001",
    *,
    number: str = "#1001",
    updated_at: datetime = T0,
    paid: bool = True,
    canceled: bool = False,
    lines: tuple[LineData, ...] | None = None,
    total: str = "20.00",
    purchase_ids: tuple[str, ...] = (),
) -> Item:
    lines = lines or (
        LineData(title="Earbuds", unit_price=Decimal("10.00"), quantity=2, sku="EB", channel_line_id="L1"),
    )
    data = OrderData(
        channel_order_id=channel_order_id,
        number=number,
        placed_at=T0,
        total=Decimal(total),
        lines=lines,
        customer_name="Olivia Stone",
        customer_email="olivia@example.com",
        paid=paid,
        canceled=canceled,
    )
    return Item(data=data, updated_at=updated_at, purchase_ids=purchase_ids)


def upsert(store: Any, *items: Item) -> Any:
    return orders_upsert_from_channel(account=store.account, store_id=store.pk, channel=store.channel, orders=items)


def assert_counts_exact(account: Any) -> None:
    assert order_counts_stored(account=account) == order_counts_from_rows(account=account)


def test_a_new_paid_order_enters_new_and_a_repeat_changes_nothing(account: Any) -> None:
    store = StoreFactory(account=account)
    first = upsert(store, item())
    again = upsert(store, item())
    order = Order.objects.get()
    assert (order.number, order.status, order.channel_updated_at) == ("#1001", OrderStatus.NEW, T0)
    assert (len(first.created), again.created, again.unchanged) == (1, [], [order.pk])
    assert list(order.events.values_list("type", flat=True)) == [OrderEventType.CREATED]
    assert_counts_exact(account)


def test_unpaid_waits_then_payment_moves_it_to_new(account: Any) -> None:
    store = StoreFactory(account=account)
    upsert(store, item(paid=False))
    assert Order.objects.get().status == OrderStatus.UNPAID
    upsert(store, item(paid=True, updated_at=T0 + timedelta(minutes=5)))
    order = Order.objects.get()
    assert order.status == OrderStatus.NEW
    assert list(order.events.values_list("type", flat=True)) == [  # the cause, then its effect
        OrderEventType.CREATED,
        OrderEventType.CHANNEL_UPDATED,
        OrderEventType.STATUS_CHANGED,
    ]
    assert_counts_exact(account)


def test_an_older_update_never_overwrites_a_newer_one(account: Any) -> None:
    store = StoreFactory(account=account)
    upsert(store, item(canceled=True, updated_at=T0 + timedelta(hours=1)))
    result = upsert(store, item(canceled=False, updated_at=T0))  # arrives late
    order = Order.objects.get()
    assert result.stale == [order.pk]
    assert (order.status, order.sub_status) == (OrderStatus.CANCELED, SubStatus.CHANNEL_CANCELED)
    assert order.channel_updated_at == T0 + timedelta(hours=1)


def test_at_the_same_channel_second_payment_and_cancellation_only_move_forward(account: Any) -> None:
    """created + paid + canceled in one second, delivered in any order: the order ends canceled
    and paid, whatever came last; a later time may still undo them (the channel said so)."""
    store = StoreFactory(account=account)
    upsert(store, item(paid=True, canceled=True))
    upsert(store, item(paid=False, canceled=False))  # "created", overtaken on the way
    order = Order.objects.get()
    assert (order.channel_paid, order.channel_canceled) == (True, True)
    assert (order.status, order.sub_status) == (OrderStatus.CANCELED, SubStatus.CHANNEL_CANCELED)
    upsert(store, item(paid=True, canceled=False, updated_at=T0 + timedelta(minutes=5)))  # re-opened later
    order.refresh_from_db()
    assert (order.channel_canceled, order.status) == (False, OrderStatus.NEW)
    assert_counts_exact(account)


def test_in_one_batch_at_the_same_second_the_further_state_wins_whatever_the_order(account: Any) -> None:
    store = StoreFactory(account=account)
    upsert(store, item(paid=True), item(paid=False))  # paid, then "created" overtaken on the way
    order = Order.objects.get()
    assert (order.channel_paid, order.status) == (True, OrderStatus.NEW)


def test_a_channel_cancellation_moves_the_order_to_channel_canceled(account: Any) -> None:
    store = StoreFactory(account=account)
    upsert(store, item())
    upsert(store, item(canceled=True, updated_at=T0 + timedelta(minutes=1)))
    order = Order.objects.get()
    assert (order.status, order.sub_status) == (OrderStatus.CANCELED, SubStatus.CHANNEL_CANCELED)
    assert_counts_exact(account)


def test_lines_are_merged_on_the_channel_line_id_keeping_their_ids(account: Any) -> None:
    store = StoreFactory(account=account)
    a = LineData(title="Earbuds", unit_price=Decimal("10.00"), sku="EB", channel_line_id="L1")
    b = LineData(title="Case", unit_price=Decimal("5.00"), sku="CS", channel_line_id="L2")
    upsert(store, item(lines=(a, b)))
    ids = dict(Order.objects.get().lines.values_list("channel_line_id", "id"))
    a2 = LineData(title="Earbuds", unit_price=Decimal("10.00"), quantity=3, sku="EB", channel_line_id="L1")
    c = LineData(title="Cable", unit_price=Decimal("2.00"), sku="CB", channel_line_id="L3")
    upsert(store, item(lines=(a2, c), updated_at=T0 + timedelta(minutes=1), total="32.00"))
    order = Order.objects.get()
    lines = {line.channel_line_id: line for line in order.lines.all()}
    assert set(lines) == {"L1", "L3"}
    assert (lines["L1"].pk, lines["L1"].quantity) == (ids["L1"], 3)
    assert order.total == Decimal("32.00")
    assert "cb" in order.search_text


def test_a_batch_is_numbered_by_intake_rules_across_two_stores(account: Any) -> None:
    one, two = StoreFactory(account=account, name="One"), StoreFactory(account=account, name="Two")
    upsert(one, item("1", number="#1001"))
    upsert(two, item("1", number="#1001"))
    assert sorted(Order.objects.values_list("store__name", "number")) == [("One", "#1001-1"), ("Two", "#1001-2")]
    assert_counts_exact(account)


def test_the_same_purchase_twice_is_flagged_linked_and_needs_confirmation(account: Any, user: Any) -> None:
    tiktok = StoreFactory(account=account, name="TikTok", channel="tiktok")
    shopify = StoreFactory(account=account, name="Shopify")
    upsert(tiktok, item("576461", number="576461", purchase_ids=("576461",)))
    upsert(shopify, item("9001", number="#1001", purchase_ids=("576461",)))
    first, later = Order.objects.get(store=tiktok), Order.objects.get(store=shopify)
    assert (first.possible_duplicate, later.possible_duplicate, later.duplicate_of_id) == (False, True, first.pk)
    assert later.awaiting_duplicate_confirmation
    assert OrderEvent.objects.filter(order=later, type=OrderEventType.POSSIBLE_DUPLICATE).count() == 1
    assert PurchaseId.objects.filter(account=account, purchase_id="576461").count() == 2
    # an update of the flagged order does not flag it twice
    upsert(shopify, item("9001", number="#1001", purchase_ids=("576461",), updated_at=T0 + timedelta(minutes=1)))
    assert OrderEvent.objects.filter(order=later, type=OrderEventType.POSSIBLE_DUPLICATE).count() == 1
    # the merchant confirms
    order_confirm_duplicate(account=account, order_id=later.pk, actor=user)
    later.refresh_from_db()
    assert not later.awaiting_duplicate_confirmation
    assert OrderEvent.objects.filter(order=later, type=OrderEventType.DUPLICATE_CONFIRMED, actor=user).count() == 1


def test_purchase_ids_do_not_link_across_accounts(account: Any, other_account: Any) -> None:
    mine, theirs = StoreFactory(account=account), StoreFactory(account=other_account)
    upsert(mine, item("1", purchase_ids=("576461",)))
    upsert(theirs, item("2", purchase_ids=("576461",)))
    assert not Order.objects.filter(possible_duplicate=True).exists()


def test_the_newest_copy_in_one_batch_wins(account: Any) -> None:
    store = StoreFactory(account=account)
    upsert(store, item(canceled=True, updated_at=T0 + timedelta(minutes=2)), item(canceled=False, updated_at=T0))
    assert Order.objects.get().channel_canceled is True
