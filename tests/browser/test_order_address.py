"""Editing a shipping address in the order drawer, in a real browser: a demo order whose address
lacks Brazil's CPF shows it, the merchant fixes it with the keyboard (a wrong CPF first), the
drawer shows the address complete and the timeline the edit; at phone width nothing scrolls
sideways; without JavaScript the same form works as a page."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from orders.enums import OrderEventType, OrderStatus
from orders.models import Order, OrderEvent

with contextlib.suppress(ImportError):
    from playwright.sync_api import Page, expect

from .conftest import PHONE, expect_no_sideways_scroll, log_in

pytestmark = pytest.mark.browser


def _brazilian_new_order() -> Order:
    # seed_demo: Lucas Silva's parcels go to São Paulo, without the CPF
    return Order.objects.filter(customer_name="Lucas Silva", status=OrderStatus.NEW).order_by("pk").first()


def _open_drawer(page: Page, order: Order) -> Any:
    page.goto("/orders/?status=new")
    page.locator(f'#order-rows tr[data-order-number="{order.number}"] th a').click()
    drawer = page.locator(f'#drawer [data-order-detail="{order.number}"]')
    expect(drawer).to_be_visible()
    return drawer


def test_the_merchant_adds_the_missing_cpf_in_the_drawer(page: Page, shoot: Any) -> None:
    # Given a New order to Brazil without a CPF
    order = _brazilian_new_order()
    assert order is not None
    drawer = _open_drawer(page, order)
    address = drawer.locator("#order-address")
    expect(address).to_contain_text("Avenida Paulista 1578")
    expect(address.locator('[data-problem="cpf_missing"]')).to_be_visible()
    shoot(page, "address-01-missing-cpf")

    # When Edit address is chosen with the keyboard, the form replaces the panel in the drawer
    address.locator('[data-action="edit-address"]').focus()
    page.keyboard.press("Enter")
    tax_id = page.get_by_label("Tax id")
    expect(tax_id).to_be_visible()
    expect(page.get_by_label("Street address")).to_have_value("Avenida Paulista 1578")

    # A CPF with a wrong check digit is refused on its field, nothing saved
    tax_id.fill("529.982.247-24")
    page.locator('[data-action="save-address"]').click()
    expect(page.locator("#order-address .error-text")).to_contain_text("not a valid CPF")
    order.refresh_from_db()
    assert order.ship_tax_id == ""

    # The right one, saved with Enter, brings the drawer back with the address complete
    page.get_by_label("Tax id").fill("529.982.247-25")
    page.get_by_label("Tax id").press("Enter")
    expect(drawer.locator("#order-address")).to_contain_text("529.982.247-25")
    expect(drawer.locator("[data-address-problems]")).to_have_count(0)
    expect(drawer.locator("[data-address-edited]")).to_be_visible()
    expect(drawer.locator("ol.timeline")).to_contain_text("Address edited")
    expect(page.locator("#toasts")).to_contain_text("is saved")
    shoot(page, "address-02-saved")
    order.refresh_from_db()
    assert (order.ship_tax_id, order.ship_edited_at is not None) == ("529.982.247-25", True)
    assert OrderEvent.objects.filter(order=order, type=OrderEventType.ADDRESS_EDITED).count() == 1


def test_at_phone_width_the_form_fits_and_without_javascript_it_is_a_page(
    demo_data: None, new_context: Any, shoot: Any
) -> None:
    order = _brazilian_new_order()
    assert order is not None
    phone = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    log_in(phone)
    drawer = _open_drawer(phone, order)
    drawer.locator('[data-action="edit-address"]').click()
    expect(phone.get_by_label("Tax id")).to_be_visible()
    expect_no_sideways_scroll(phone, PHONE["width"])
    shoot(phone, "address-03-phone-form")

    plain = new_context(java_script_enabled=False).new_page()
    log_in(plain)
    plain.goto(f"/orders/{order.pk}/address/")
    plain.get_by_label("Tax id").fill("52998224725")
    plain.locator('[data-action="save-address"]').click()
    plain.wait_for_url(f"**/orders/{order.pk}/")
    expect(plain.locator("#order-address")).to_contain_text("52998224725")
    expect(plain.locator("[data-address-problems]")).to_have_count(0)
