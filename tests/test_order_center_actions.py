"""Order center actions: CSRF, archive and restore (confirmation page, redirect, htmx), the
order drawer, and the account switcher."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from orders.enums import OrderEventType, SupplierOrderState
from orders.models import Order, OrderEvent
from orders.services import order_recompute_status, orders_archive
from orders.services.counts import order_counts_from_rows, order_counts_stored
from tests.factories import (
    AccountFactory,
    MembershipFactory,
    OrderFactory,
    ShipmentFactory,
    StoreFactory,
    SupplierOrderFactory,
    TrackingEventFactory,
    UserFactory,
    line,
    order_in_state,
)
from tests.pages import HTMX, center, hrefs, is_full_page, order_numbers, tab_counts, tags, text

pytestmark = pytest.mark.django_db


# --- CSRF ----------------------------------------------------------------------------------------


def test_a_post_without_a_csrf_token_is_refused_and_archives_nothing(user: Any, store: Any) -> None:
    # given a browser that enforces CSRF, logged in
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    order = OrderFactory(store=store)
    # when
    responses = [
        client.post("/orders/archive/", {"ids": [order.pk]}),
        client.post("/orders/archive/", {"ids": [order.pk]}, **HTMX),
        client.post("/orders/restore/", {"ids": [order.pk]}),
    ]
    # then
    assert [response.status_code for response in responses] == [403, 403, 403]
    assert Order.objects.get(pk=order.pk).archived is False
    assert list(OrderEvent.objects.filter(order=order).values_list("type", flat=True)) == ["created"]


def test_a_post_with_the_csrf_token_of_the_confirmation_page_archives(user: Any, store: Any) -> None:
    # given the confirmation page, read by a browser that enforces CSRF
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    order = OrderFactory(store=store)
    page = client.get("/orders/archive/", {"ids": order.pk})
    token = text(page).split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    # when
    response = client.post("/orders/archive/", {"ids": [order.pk], "csrfmiddlewaretoken": token})
    # then
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).archived is True


# --- Archive and restore -------------------------------------------------------------------------


def test_archive_get_shows_a_confirmation_listing_the_orders(member_client: Client, store: Any) -> None:
    # given
    first = OrderFactory(store=store, number="#1001", customer_name="Olivia Martin")
    second = OrderFactory(store=store, number="#1002", customer_name="Liam Johnson")
    # when
    response = member_client.get("/orders/archive/", {"ids": [first.pk, second.pk], "next": "/orders/?status=new"})
    # then
    page = text(response)
    assert response.status_code == 200
    assert "Archive 2 orders?" in page
    assert "#1001 · Olivia Martin · A Shopify" in page
    assert "#1002 · Liam Johnson · A Shopify" in page
    inputs = [(tag.attrs.get("name"), tag.attrs.get("value")) for tag in tags(response) if tag.name == "input"]
    assert ("ids", str(first.pk)) in inputs
    assert ("ids", str(second.pk)) in inputs
    assert ("next", "/orders/?status=new") in inputs
    # and nothing was archived by looking
    assert list(Order.objects.filter(archived=True)) == []


def test_archive_post_archives_and_goes_back_to_next(member_client: Client, store: Any) -> None:
    # given
    first, second, kept = (OrderFactory(store=store, number=f"#{n}") for n in (1001, 1002, 1003))
    # when
    response = member_client.post(
        "/orders/archive/", {"ids": [first.pk, second.pk], "next": "/orders/?status=new&q=10"}
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == "/orders/?status=new&q=10"
    assert set(Order.objects.filter(archived=True).values_list("number", flat=True)) == {"#1001", "#1002"}
    assert OrderEvent.objects.filter(type=OrderEventType.ARCHIVED).count() == 2
    assert order_counts_stored(account=store.account) == order_counts_from_rows(account=store.account)
    landing = member_client.get(response["Location"])
    assert "2 orders archived." in text(landing)
    assert order_numbers(landing) == [kept.number]
    # and the archive tab lists them
    archive = center(member_client, status="archive")
    assert order_numbers(archive) == ["#1002", "#1001"]
    assert tab_counts(archive)["archive"] == 2
    assert tab_counts(archive)["new"] == 1


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/phish", "//evil.example/", "javascript:alert(1)", "http://testserver.evil/"]
)
def test_archive_only_follows_a_same_host_next(member_client: Client, store: Any, next_url: str) -> None:
    # given
    order = OrderFactory(store=store)
    # when
    response = member_client.post("/orders/archive/", {"ids": [order.pk], "next": next_url})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/orders/"
    assert Order.objects.get(pk=order.pk).archived is True


def test_an_htmx_archive_returns_the_center_fragment_and_a_toast(member_client: Client, store: Any) -> None:
    # given
    first, second, kept = (OrderFactory(store=store, number=f"#{n}") for n in (1001, 1002, 1003))
    # when
    response = member_client.post(
        "/orders/archive/", {"ids": [first.pk, second.pk], "next": "/orders/?status=new"}, **HTMX
    )
    # then
    assert response.status_code == 200
    assert not is_full_page(response)
    assert json.loads(response["HX-Trigger"]) == {"toast": {"message": "2 orders archived."}}
    assert order_numbers(response) == [kept.number]
    assert tab_counts(response) == {"new": 1, "payment": 0, "shipment": 0, "canceled": 0, "refund": 0, "archive": 2}


def test_restore_brings_an_order_back_to_its_tab(member_client: Client, store: Any) -> None:
    # given an archived in-transit order
    order = order_in_state("in_transit", store=store, number="#1001")
    orders_archive(account=store.account, order_ids=[order.pk])
    assert order_numbers(center(member_client, status="shipment")) == []
    # when restored, through the confirmation page then by htmx
    confirm = member_client.get("/orders/restore/", {"ids": order.pk})
    response = member_client.post("/orders/restore/", {"ids": order.pk, "next": "/orders/?status=archive"}, **HTMX)
    # then
    assert "Restore 1 order?" in text(confirm)
    assert json.loads(response["HX-Trigger"]) == {"toast": {"message": "1 order restored."}}
    assert order_numbers(response) == []
    assert order_numbers(center(member_client, status="shipment", sub_status="in_transit")) == ["#1001"]
    assert list(OrderEvent.objects.filter(order=order).values_list("type", flat=True).order_by("id"))[-2:] == [
        "archived",
        "restored",
    ]
    restored = OrderEvent.objects.get(order=order, type=OrderEventType.RESTORED)
    assert restored.actor.username == "alice"


# --- The drawer ----------------------------------------------------------------------------------


def test_the_drawer_shows_lines_parcels_and_one_timeline(member_client: Client, store: Any) -> None:
    # given a shipped order with two lines and two carrier scans
    order = OrderFactory(
        store=store,
        number="#1001",
        lines=(line("Yoga Mat", sku="YM-183-PUR", price="34.00", quantity=2), line("Phone Case", sku="PC-IP15")),
    )
    supplier_order = SupplierOrderFactory(order=order, state=SupplierOrderState.PAID)
    shipment = ShipmentFactory(
        order=order, supplier_order=supplier_order, tracking_number="LP00123456789CN", carrier="YunExpress"
    )
    TrackingEventFactory(shipment=shipment, description="Departed Shenzhen hub", location="Shenzhen, CN")
    order_recompute_status(order_id=order.pk)
    # when
    full = member_client.get(f"/orders/{order.pk}/", {"next": "/orders/?status=shipment"})
    drawer = member_client.get(f"/orders/{order.pk}/", **HTMX)
    # then
    assert full.status_code == drawer.status_code == 200
    assert is_full_page(full)
    assert not is_full_page(drawer)
    for response in (full, drawer):
        page = text(response)
        assert 'data-order-detail="#1001"' in page
        assert "Yoga Mat" in page
        assert "YM-183-PUR" in page
        assert "Phone Case" in page
        assert 'data-parcel="LP00123456789CN"' in page  # the parcel's own timeline (test_order_center_tracking.py)
        assert "Order received" in page
        assert "New → Shipment – In Transit" in page
        assert "Departed Shenzhen hub" in page
        assert "Shenzhen, CN" in page
    assert "/orders/?status=shipment" in hrefs(full)


def test_the_drawer_back_link_ignores_a_foreign_next(member_client: Client, store: Any) -> None:
    order = OrderFactory(store=store)
    response = member_client.get(f"/orders/{order.pk}/", {"next": "https://evil.example/"})
    assert "/orders/" in hrefs(response)
    assert "https://evil.example/" not in hrefs(response)


# --- Account switcher ----------------------------------------------------------------------------


def test_a_member_of_two_accounts_switches_and_sees_the_other_orders(client: Client, db: None) -> None:
    # given a user in two accounts, with one order each
    first_account = AccountFactory(name="Alpha Shop")
    second_account = AccountFactory(name="Beta Shop")
    user = UserFactory(username="both")
    MembershipFactory(user=user, account=first_account)
    MembershipFactory(user=user, account=second_account)
    OrderFactory(store=StoreFactory(account=first_account), number="#A-1")
    OrderFactory(store=StoreFactory(account=second_account), number="#B-1")
    client.force_login(user)
    before = center(client)
    assert order_numbers(before) == ["#A-1"]
    assert 'id="account-switcher"' in text(before)
    # when
    response = client.post("/accounts/switch/", {"account": second_account.pk})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/orders/"
    assert order_numbers(center(client)) == ["#B-1"]


def test_switching_to_an_account_one_is_not_a_member_of_is_not_found(
    member_client: Client, store: Any, other_store: Any
) -> None:
    # given
    OrderFactory(store=store, number="#A-1")
    OrderFactory(store=other_store, number="#B-1")
    # when
    response = member_client.post("/accounts/switch/", {"account": other_store.account.pk})
    # then
    assert response.status_code == 404
    assert order_numbers(center(member_client)) == ["#A-1"]


@pytest.mark.parametrize("value", ["", "abc", "²", "-1", "99999999999999999999999"])
def test_switching_without_a_valid_account_id_is_a_400(member_client: Client, value: str) -> None:
    response = member_client.post("/accounts/switch/", {"account": value})
    assert response.status_code == 400
    assert "Choose an account to switch to." in text(response)


def test_a_member_who_lost_the_current_account_falls_back_to_another(client: Client, db: None) -> None:
    # given a user working in Beta, then removed from it
    alpha, beta = AccountFactory(name="Alpha Shop"), AccountFactory(name="Beta Shop")
    user = UserFactory(username="moved")
    MembershipFactory(user=user, account=alpha)
    membership = MembershipFactory(user=user, account=beta)
    OrderFactory(store=StoreFactory(account=alpha), number="#A-1")
    OrderFactory(store=StoreFactory(account=beta), number="#B-1")
    client.force_login(user)
    client.post("/accounts/switch/", {"account": beta.pk})
    assert order_numbers(center(client)) == ["#B-1"]
    # when
    membership.delete()
    # then
    assert order_numbers(center(client)) == ["#A-1"]
