"""Erasing a customer from their orders (orders.services.redact): name, e-mail and their search
terms go; numbers, amounts, lines and statuses stay; the order center still lists the orders and
its search no longer finds them by the customer; the channel cannot bring the data back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.test import Client
from django.utils import timezone

from channels_sync.providers.base import ChannelOrder
from orders.enums import OrderEventType
from orders.models import Order, OrderEvent
from orders.services import OrderData, order_add_search_terms, orders_upsert_from_channel
from orders.services.redact import orders_erase_customer
from tests.factories import OrderFactory, ShipmentFactory, SupplierOrderFactory, line
from tests.pages import center, order_numbers


def _olivia(store: Any) -> Order:
    order = OrderFactory(
        store=store,
        number="#1001",
        customer_name="Olivia Martin",
        customer_email="olivia.martin@example.com",
        total=Decimal("31.50"),
        lines=(line("Yoga Mat", sku="YM-183-PUR"), line("Martin Strap", sku="martin")),
    )
    ShipmentFactory(order=order, tracking_number="LP00987654321CN")
    order_add_search_terms(order=order, terms=["LP00987654321CN", "old.olivia@example.net"])
    return Order.objects.get(pk=order.pk)


def test_erasing_keeps_the_order_and_drops_the_customer(store: Any) -> None:
    # given an order with a customer, SKUs, a tracking number and an e-mail the customer had before
    order = _olivia(store)
    other = OrderFactory(store=store, number="#1002", customer_name="Liam Johnson")
    # when
    erased = orders_erase_customer(order_ids=[order.pk], channel="Shopify")
    # then the customer is gone, everything else stays
    order.refresh_from_db()
    assert erased.numbers == ("#1001",)
    assert (order.customer_name, order.customer_email) == ("", "")
    assert order.customer_erased_at is not None
    assert order.search_text == "#1001 ym-183-pur martin lp00987654321cn"
    assert (order.number, order.total, order.status) == ("#1001", Decimal("31.50"), "new")
    assert [(li.sku, li.title) for li in order.lines.all()] == [("YM-183-PUR", "Yoga Mat"), ("martin", "Martin Strap")]
    event = OrderEvent.objects.get(order=order, type=OrderEventType.CUSTOMER_ERASED)
    assert event.parameters == {"channel": "Shopify"}
    other.refresh_from_db()
    assert other.customer_name == "Liam Johnson"


def test_erasing_again_erases_nothing_more_and_writes_no_second_event(store: Any) -> None:
    order = _olivia(store)
    orders_erase_customer(order_ids=[order.pk], channel="Shopify")
    # when
    again = orders_erase_customer(order_ids=[order.pk], channel="Shopify")
    # then
    assert again.order_ids == ()
    assert OrderEvent.objects.filter(order=order, type=OrderEventType.CUSTOMER_ERASED).count() == 1


def test_the_order_center_lists_the_erased_order_and_search_no_longer_finds_the_customer(
    member_client: Client, store: Any
) -> None:
    order = _olivia(store)
    orders_erase_customer(order_ids=[order.pk], channel="Shopify")
    # then the order is listed, without its customer
    page = center(member_client, status="new")
    assert order_numbers(page) == ["#1001"]
    assert b"olivia" not in page.content.lower()
    # and search finds it by number, SKU and tracking number, not by the customer
    for query in ("olivia", "martin@example.com", "Olivia Martin", "old.olivia@example.net", "example.com"):
        assert order_numbers(center(member_client, status="new", q=query)) == [], query
    for query in ("#1001", "ym-183", "LP00987654321CN"):
        assert order_numbers(center(member_client, status="new", q=query)) == ["#1001"], query
    # and the drawer says what happened, without personal data
    detail = member_client.get(f"/orders/{order.pk}/")
    assert detail.status_code == 200
    assert b"Customer data erased" in detail.content
    assert b"olivia" not in detail.content.lower()


def test_a_later_update_from_the_channel_does_not_bring_the_customer_back(store: Any) -> None:
    order = _olivia(store)
    orders_erase_customer(order_ids=[order.pk], channel="Shopify")
    update = OrderData(
        channel_order_id=order.channel_order_id,
        number="#1001",
        placed_at=order.placed_at,
        total=Decimal("31.50"),
        lines=(line("Yoga Mat", sku="YM-183-PUR"),),
        customer_name="Olivia Martin",
        customer_email="olivia.martin@example.com",
        canceled=True,
    )
    # when the channel sends a newer state of the order with the customer in it
    orders_upsert_from_channel(
        account=store.account,
        store_id=store.pk,
        channel=store.channel,
        orders=[ChannelOrder(data=update, updated_at=timezone.now() + timedelta(minutes=1))],
    )
    # then the cancellation is applied and the customer stays erased
    order.refresh_from_db()
    assert order.channel_canceled is True
    assert (order.customer_name, order.customer_email) == ("", "")
    assert "olivia" not in order.search_text


def test_erasing_leaves_no_word_of_any_former_customer_and_the_order_findable_by_its_ids(
    member_client: Client, store: Any
) -> None:
    # given an order whose customer changed name and e-mail since it arrived (the search text
    # keeps both), a TikTok purchase id, a supplier order and its parcel
    order = OrderFactory(
        store=store, number="#1001", channel_order_id="4501", customer_name="Jane Doe",
        customer_email="jane@x.com", lines=(line("Mat", sku="SKU1"),),
    )  # fmt: skip
    renamed = OrderData(
        channel_order_id="4501", number="#1001", placed_at=order.placed_at, total=order.total,
        lines=(line("Mat", sku="SKU1"),), customer_name="Jane Roe", customer_email="j.roe@y.org",
        extra_search_terms=("576460000000001001",),
    )  # fmt: skip
    orders_upsert_from_channel(
        account=store.account,
        store_id=store.pk,
        channel=store.channel,
        orders=[
            ChannelOrder(
                data=renamed, updated_at=timezone.now() + timedelta(minutes=1), purchase_ids=("576460000000001001",)
            )
        ],
    )
    supplier_order = SupplierOrderFactory(order=order, external_order_id="8100000000042")
    ShipmentFactory(order=order, supplier_order=supplier_order, tracking_number="LP00987654321CN")
    order.refresh_from_db()
    order_add_search_terms(order=order, terms=["8100000000042", "LP00987654321CN"])
    assert order.search_text == (
        "#1001 jane doe jane@x.com sku1 jane roe j.roe@y.org 576460000000001001 8100000000042 lp00987654321cn"
    )
    # when the channel asks to erase her
    orders_erase_customer(order_ids=[order.pk], channel="Shopify")
    # then the search text is made of the order's own ids only: no word of any of her names
    order.refresh_from_db()
    assert order.search_text == "#1001 sku1 576460000000001001 lp00987654321cn 8100000000042"
    for query in ("jane", "doe", "roe", "x.com", "y.org"):
        assert order_numbers(center(member_client, status="new", q=query)) == [], query
    for query in ("#1001", "sku1", "576460000000001001", "LP00987654321CN", "8100000000042"):
        assert order_numbers(center(member_client, status="new", q=query)) == ["#1001"], query


def test_a_term_appended_through_a_copy_read_before_the_erasure_does_not_bring_the_customer_back(
    store: Any,
) -> None:
    # given a copy of the order read (by the tracking side, say) before its customer is erased
    order = _olivia(store)
    stale = Order.objects.get(pk=order.pk)
    orders_erase_customer(order_ids=[order.pk], channel="Shopify")
    # when a tracking number is appended through that copy
    ShipmentFactory(order=order, tracking_number="LP00000000002CN")
    order_add_search_terms(order=stale, terms=["LP00000000002CN"])
    # then it is appended to the stored text, not to the copy's
    order.refresh_from_db()
    assert order.search_text == "#1001 ym-183-pur martin lp00987654321cn lp00000000002cn"
    assert stale.search_text == order.search_text
