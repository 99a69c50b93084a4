"""The suppliers page in a real browser: the owner connects AliExpress through the sandbox's
authorization page (Authorize → back on /suppliers/ connected, "not given by AliExpress" for the
balance), switches to another AliExpress account, connects CJ with its API key (a bad key first:
a clear error, the key not shown back; then the good one, with the wallet balance), sees Temu
labelled "(simulated)", and the page fits a phone and works from the keyboard."""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import Account
from sandbox.models import SimAccount
from sandbox.tests.conftest import Control
from suppliers.enums import SourceAccountStatus
from suppliers.models import SourceAccount
from suppliers.tests.test_accounts import DEMO_ACCOUNT_NAME, operator_app

with contextlib.suppress(ImportError):
    from playwright.sync_api import Page, expect

from .conftest import PHONE, expect_no_sideways_scroll, log_in

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@pytest.fixture
def suppliers(control: Control, settings: Any, live_server: Any) -> dict[str, Any]:
    operator_app(settings, live_server.url)
    made = {name: control.account("aliexpress", name) for name in ("br-ae-first", "br-ae-second")}
    made["cj"] = control.account("cj", "br-cj")
    control.options("cj", "br-cj", balance="250.00")
    return made


def card(page: Page, provider: str) -> Any:
    return page.locator(f"#supplier-{provider}")


def authorize_on_aliexpress(page: Page, buyer: str) -> None:
    expect(page.get_by_role("heading", name=re.compile("Authorize"))).to_be_visible()
    page.get_by_role("radio", name=re.compile(buyer)).check()
    page.get_by_role("button", name="Authorize").click()
    expect(page).to_have_url(re.compile(r"/suppliers/$"))


def test_connect_switch_and_key_connect_on_the_suppliers_page(
    page: Page, suppliers: dict[str, Any], shoot: Any
) -> None:
    page.goto("/suppliers/")
    expect(page.get_by_role("heading", name="Suppliers", exact=True)).to_be_visible()
    expect(card(page, "temu")).to_contain_text("Temu (simulated)")
    shoot(page, "60-suppliers-empty")

    # AliExpress: Connect → the sandbox's authorize page → back connected
    card(page, "aliexpress").get_by_role("button", name="Connect AliExpress").click()
    authorize_on_aliexpress(page, "br-ae-first")
    expect(page.locator("ul.messages")).to_contain_text("is connected")
    ali = card(page, "aliexpress")
    expect(ali.locator('[data-field="status"]')).to_have_attribute("data-status", SourceAccountStatus.CONNECTED)
    expect(ali.locator('[data-field="balance"]')).to_have_text("not given by AliExpress")
    expect(ali.locator('[data-field="token-expiry"] time')).to_be_visible()
    first = SourceAccount.objects.get(provider="aliexpress")

    # Switch account: the other AliExpress buyer; the first is kept as a previous account
    ali.get_by_role("button", name="Switch account").click()
    authorize_on_aliexpress(page, "br-ae-second")
    first.refresh_from_db()
    assert first.status == SourceAccountStatus.REPLACED
    second_buyer = SimAccount.objects.get(provider="aliexpress", name="br-ae-second").credentials["buyer_id"]
    expect(card(page, "aliexpress").locator('[data-field="name"]')).to_contain_text(second_buyer)
    card(page, "aliexpress").get_by_text("Previous accounts").click()
    expect(card(page, "aliexpress").locator(f'[data-previous="{first.pk}"]')).to_contain_text("Replaced")

    # CJ: a bad key (a clear error, not shown back), then the right one, typed and sent by keyboard
    cj = card(page, "cj")
    cj.get_by_label("API key").fill("CJ0000000@api@wrong")
    cj.get_by_role("button", name="Check and connect").click()
    expect(card(page, "cj").get_by_role("alert")).to_contain_text("CJdropshipping refused this API key")
    assert "CJ0000000@api@wrong" not in page.content()
    assert not SourceAccount.objects.filter(provider="cj").exists()
    field = card(page, "cj").get_by_label("API key")
    field.focus()
    page.keyboard.type(suppliers["cj"]["credentials"]["api_key"])
    page.keyboard.press("Enter")
    expect(page.locator("ul.messages")).to_contain_text("is connected")
    expect(card(page, "cj").locator('[data-field="status"]')).to_have_attribute("data-status", "connected")
    expect(card(page, "cj").locator('[data-field="balance"]')).to_contain_text("250.00 USD")
    assert suppliers["cj"]["credentials"]["api_key"] not in page.content()
    shoot(page, "61-suppliers-connected")


def test_the_suppliers_page_fits_a_phone(
    demo_data: None, suppliers: dict[str, Any], new_context: Any, shoot: Any
) -> None:
    demo = Account.objects.get(name=DEMO_ACCOUNT_NAME)
    SourceAccount.objects.create(
        account=demo, provider="aliexpress", name="a-long-buyer-name@example.com", external_id="1870000001"
    )
    SourceAccount.objects.create(
        account=demo, provider="cj", name="CJ account 1000042", external_id="1000042", balance=Decimal("250.00")
    )
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    log_in(page)
    page.goto("/suppliers/")
    expect(card(page, "aliexpress").get_by_role("button", name="Switch account")).to_be_visible()
    expect(card(page, "cj").get_by_label("Payment")).to_be_visible()
    expect_no_sideways_scroll(page, PHONE["width"])
    shoot(page, "62-suppliers-phone")
