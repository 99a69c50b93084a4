"""Editing an order's shipping address on the order (the drawer's Edit address): saved only when
complete, written with ``ship_edited_at`` and an ``address_edited`` event, an address placement
issue cleared; a later channel update leaves it alone; another tenant's order is a 404; no CSRF
token, no change; once a supplier has the address it is not editable; erasure erases it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orders.enums import OrderEventType, SupplierOrderState
from orders.models import Order, OrderEvent
from orders.services import AddressData, OrderData, orders_upsert_from_channel
from orders.services.redact import orders_erase_customer
from tests.factories import OrderFactory, SupplierOrderFactory, line

pytestmark = pytest.mark.django_db

# As TikTok sends a seller-shipped order once it shipped: the phone masked.
MASKED = AddressData(
    name="Bob Norman",
    phone="+1 502-***-2181",
    address1="Chestnut Street 92",
    city="Louisville",
    province="Kentucky",
    zip="4020",
    country_code="US",
)
FIXED = {
    "name": "Bob Norman",
    "phone": "(502) 459-2181",
    "address1": "Chestnut Street 92",
    "address2": "Apt 4",
    "city": "Louisville",
    "province": "kentucky",
    "zip": "40202",
    "country_code": "us",
    "tax_id": "",
}


@dataclass(frozen=True)
class ChannelUpdate:
    """A channel order as a provider hands it to the upsert (``orders.services.ChannelOrderLike``)."""

    data: OrderData
    updated_at: datetime
    purchase_ids: tuple[str, ...] = field(default_factory=tuple)


def _order(store: Any, **fields: Any) -> Order:
    order = OrderFactory(store=store, number="#1001", ship=MASKED, lines=(line(),), **fields)
    return Order.objects.get(pk=order.pk)


def _url(order: Order) -> str:
    return reverse("orders:address_edit", args=[order.pk])


def _update(order: Order, ship: AddressData, *, minutes: int = 1) -> None:
    data = OrderData(
        channel_order_id=order.channel_order_id,
        number="#1001",
        placed_at=order.placed_at,
        total=order.total,
        lines=(line(),),
        customer_name=order.customer_name,
        customer_email=order.customer_email,
        ship=ship,
    )
    orders_upsert_from_channel(
        account=order.account,
        store_id=order.store_id,
        channel=order.channel,
        orders=[ChannelUpdate(data=data, updated_at=timezone.now() + timedelta(minutes=minutes))],
    )


def test_the_drawer_shows_the_address_what_stops_it_and_an_edit_button(member_client: Client, store: Any) -> None:
    order = _order(store)
    page = member_client.get(reverse("orders:detail", args=[order.pk]), HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Chestnut Street 92" in html
    assert 'data-problem="zip_invalid"' in html
    assert 'data-problem="phone_masked"' in html
    assert 'data-action="edit-address"' in html


def test_saving_a_complete_address_writes_it_with_the_event_and_clears_the_address_issue(
    member_client: Client, store: Any, user: Any
) -> None:
    # given an order whose placement stopped on its address
    order = _order(store)
    fix = {"view": "orders:address_edit", "args": [order.pk], "query": ""}
    Order.objects.filter(pk=order.pk).update(
        placement_issue="address_zip_invalid", placement_issue_message="ZIP", placement_issue_fix=fix
    )
    form = member_client.get(_url(order))
    assert form.status_code == 200
    assert 'value="Chestnut Street 92"' in form.content.decode()
    # when the merchant saves the corrected address
    response = member_client.post(_url(order), FIXED)
    # then it is stored normalized, marked as edited, the issue is gone, and the timeline says so
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:detail", args=[order.pk])
    order.refresh_from_db()
    assert (order.ship_phone, order.ship_province, order.ship_province_code) == ("+15024592181", "Kentucky", "KY")
    assert (order.ship_zip, order.ship_country_code, order.ship_address2) == ("40202", "US", "Apt 4")
    assert order.ship_edited_at is not None
    assert (order.placement_issue, order.placement_issue_message, order.placement_issue_fix) == ("", "", None)
    event = OrderEvent.objects.get(order=order, type=OrderEventType.ADDRESS_EDITED)
    assert event.actor == user
    assert set(event.parameters["fields"]) == {
        "ship_phone", "ship_address2", "ship_province_code", "ship_zip",
    }  # fmt: skip
    assert "40202" not in str(event.parameters)  # names, not values
    detail = member_client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert "Address edited" in detail
    assert "data-address-problems" not in detail
    # and saving the same address again changes nothing
    assert member_client.post(_url(order), FIXED).status_code == 302
    assert OrderEvent.objects.filter(order=order, type=OrderEventType.ADDRESS_EDITED).count() == 1


def test_a_suppliers_refusal_of_the_address_is_cleared_too(member_client: Client, store: Any) -> None:
    # as suppliers.services.protocol stores AliExpress's address refusal, its fix the address form
    order = _order(store)
    fix = {"view": "orders:address_edit", "args": [order.pk], "query": ""}
    Order.objects.filter(pk=order.pk).update(
        placement_issue="refused_B_DROPSHIPPER_DELIVERY_A",
        placement_issue_message="Please enter a City",
        placement_issue_fix=fix,
    )
    assert member_client.post(_url(order), FIXED).status_code == 302
    order.refresh_from_db()
    assert (order.placement_issue, order.placement_issue_message, order.placement_issue_fix) == ("", "", None)


def test_a_placement_issue_that_is_not_the_address_stays(member_client: Client, store: Any) -> None:
    order = _order(store)
    fix = {"view": "suppliers:links", "args": [], "query": "unavailable=1"}
    Order.objects.filter(pk=order.pk).update(placement_issue="refused_INVENTORY_HOLD_ERROR", placement_issue_fix=fix)
    assert member_client.post(_url(order), FIXED).status_code == 302
    order.refresh_from_db()
    assert (order.placement_issue, order.placement_issue_fix) == ("refused_INVENTORY_HOLD_ERROR", fix)


@pytest.mark.parametrize(
    ("changes", "field_name", "words"),
    [
        ({"zip": "4020"}, "zip", "is not a ZIP / postal code of US"),
        ({"phone": "(+1)502-***-2181"}, "phone", "hid part of the phone number"),
        ({"phone": "12"}, "phone", "not a valid phone number for US"),
        ({"province": "Atlantis"}, "province", "not a state / province of US"),
        ({"country_code": "ZZ"}, "country_code", "two-letter code"),
        ({"country_code": "BR", "province": "SP", "zip": "01310-200", "phone": "+55 11 91234-5678"}, "tax_id", "CPF"),
        ({"name": ""}, "name", "required"),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
    ],
)
def test_an_incomplete_address_is_refused_with_the_problem_on_its_field(
    member_client: Client, store: Any, changes: dict[str, str], field_name: str, words: str
) -> None:
    order = _order(store)
    before = Order.objects.values().get(pk=order.pk)
    response = member_client.post(_url(order), {**FIXED, **changes})
    assert response.status_code == 422
    form = response.context["form"]
    assert any(words in str(error) for error in form.errors[field_name]), form.errors
    assert Order.objects.values().get(pk=order.pk) == before
    assert not OrderEvent.objects.filter(order=order, type=OrderEventType.ADDRESS_EDITED).exists()


def test_in_the_drawer_the_form_swaps_in_place_and_a_save_returns_the_drawer(member_client: Client, store: Any) -> None:
    order = _order(store)
    form = member_client.get(_url(order), HTTP_HX_REQUEST="true")
    assert form.status_code == 200
    html = form.content.decode()
    assert "<html" not in html
    assert f'hx-post="{_url(order)}"' in html
    refused = member_client.post(_url(order), {**FIXED, "zip": "1"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 422  # htmx swaps 422 (base.html's responseHandling)
    assert "error-text" in refused.content.decode()
    saved = member_client.post(_url(order), FIXED, HTTP_HX_REQUEST="true")
    assert saved.status_code == 200
    assert (saved["HX-Retarget"], saved["HX-Reswap"]) == ("#drawer", "innerHTML")
    assert "toast" in saved["HX-Trigger"]
    assert "data-order-detail" in saved.content.decode()


def test_another_accounts_order_is_not_found_and_not_changed(member_client: Client, other_store: Any) -> None:
    foreign = _order(other_store)
    assert member_client.get(_url(foreign)).status_code == 404
    assert member_client.post(_url(foreign), FIXED).status_code == 404
    foreign.refresh_from_db()
    assert foreign.ship_zip == "4020"
    assert foreign.ship_edited_at is None


def test_a_post_without_the_csrf_token_changes_nothing(user: Any, store: Any) -> None:
    order = _order(store)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(_url(order), FIXED).status_code == 403
    order.refresh_from_db()
    assert order.ship_edited_at is None


def test_signed_out_is_sent_to_sign_in(client: Client, store: Any) -> None:
    order = _order(store)
    response = client.post(_url(order), FIXED)
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
    order.refresh_from_db()
    assert order.ship_edited_at is None


@pytest.mark.parametrize(
    "state", [SupplierOrderState.PLACING, SupplierOrderState.PAYMENT_FAILED, SupplierOrderState.PAID]
)
def test_once_a_supplier_has_the_address_it_is_not_editable(member_client: Client, store: Any, state: str) -> None:
    order = _order(store)
    SupplierOrderFactory(order=order, state=state)
    drawer = member_client.get(reverse("orders:detail", args=[order.pk])).content.decode()
    assert "data-address-locked" in drawer
    assert 'data-action="edit-address"' not in drawer
    assert "data-address-locked" in member_client.get(_url(order)).content.decode()
    response = member_client.post(_url(order), FIXED)
    assert response.status_code == 422
    order.refresh_from_db()
    assert order.ship_zip == "4020"


@pytest.mark.parametrize("state", [SupplierOrderState.CANCELED, SupplierOrderState.REPLACED])
def test_a_canceled_or_replaced_supplier_order_does_not_lock_it(member_client: Client, store: Any, state: str) -> None:
    order = _order(store)
    SupplierOrderFactory(order=order, state=state)
    assert member_client.post(_url(order), FIXED).status_code == 302


def test_a_later_channel_update_keeps_the_merchants_address_and_otherwise_takes_the_channels(
    member_client: Client, store: Any
) -> None:
    edited, untouched = _order(store), OrderFactory(store=store, number="#1002", ship=MASKED)
    assert member_client.post(_url(edited), FIXED).status_code == 302
    moved = AddressData(
        name="Bob Norman", phone="+1 502-***-2181", address1="1 New Street", city="Lexington",
        province="Kentucky", zip="40507", country_code="US",
    )  # fmt: skip
    _update(edited, moved)
    _update(Order.objects.get(pk=untouched.pk), moved)
    edited.refresh_from_db()
    untouched.refresh_from_db()
    assert (edited.ship_address1, edited.ship_zip, edited.ship_phone) == ("Chestnut Street 92", "40202", "+15024592181")
    assert (untouched.ship_address1, untouched.ship_city, untouched.ship_zip) == ("1 New Street", "Lexington", "40507")
    changed = OrderEvent.objects.get(order=untouched, type=OrderEventType.CHANNEL_UPDATED)
    assert changed.parameters["changes"] == ["address"]


def test_an_order_stored_without_an_address_gets_it_without_a_change_event(store: Any) -> None:
    order = OrderFactory(store=store, number="#1003")  # stored before addresses were kept
    _update(Order.objects.get(pk=order.pk), MASKED)
    order.refresh_from_db()
    assert order.ship_address1 == "Chestnut Street 92"
    assert not OrderEvent.objects.filter(order=order, type=OrderEventType.CHANNEL_UPDATED).exists()


def test_erasing_the_customer_erases_the_address_the_merchant_entered_too(member_client: Client, store: Any) -> None:
    order = _order(store)
    assert member_client.post(_url(order), {**FIXED, "tax_id": "529.982.247-25"}).status_code == 302
    orders_erase_customer(order_ids=[order.pk], channel="Shopify")
    order.refresh_from_db()
    assert [getattr(order, f"ship_{name}") for name in ("name", "phone", "address1", "address2", "city")] == [""] * 5
    assert [getattr(order, f"ship_{name}") for name in ("province", "province_code", "zip", "tax_id")] == [""] * 4
    assert (order.ship_country_code, order.ship_edited_at) == ("", None)
    # and the channel cannot send it back
    _update(order, MASKED)
    order.refresh_from_db()
    assert order.ship_address1 == ""
    assert order.total == Decimal("14.99")


def test_on_the_orders_own_page_a_save_reloads_the_page(member_client: Client, store: Any) -> None:
    order = _order(store)
    page = f"http://testserver{reverse('orders:detail', args=[order.pk])}"
    form = member_client.get(_url(order), HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=page).content.decode()
    assert 'hx-select="#order-address"' in form  # Cancel puts the panel back, wherever it is
    saved = member_client.post(_url(order), FIXED, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=page)
    assert (saved.status_code, saved["HX-Refresh"]) == (200, "true")
    order.refresh_from_db()
    assert order.ship_edited_at is not None


def test_a_channel_address_change_after_a_supplier_has_the_address_is_noted_not_applied(store: Any) -> None:
    from tests.factories import SupplierOrderFactory

    order = OrderFactory(store=store, number="#1004", ship=MASKED)
    SupplierOrderFactory(order=order, state="paid")
    moved = AddressData(
        name="Bob Norman", phone="+1 502-***-2181", address1="1 New Street", city="Lexington",
        province="Kentucky", zip="40507", country_code="US",
    )  # fmt: skip
    _update(Order.objects.get(pk=order.pk), moved)

    order.refresh_from_db()
    assert order.ship_address1 == "Chestnut Street 92"  # what the supplier has
    note = OrderEvent.objects.get(order=order, type=OrderEventType.NOTE)
    assert note.parameters["code"] == "address_changed_after_sent"
