"""Product links in a real browser, logged in as demo (an owner): a link made through the form
(refused first with a letters-only AliExpress id, then saved), a CSV catalogue imported (one row
refused, by its row number), a link the supplier flagged as unavailable found with the filter
and cleared by saving it, "Link product" prefilled from an order line, and a phone screen."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Membership
from orders.models import OrderLine
from suppliers.models import ProductLink
from zopi.management.commands.seed_demo import DEMO_USERNAME

with contextlib.suppress(ImportError):
    from playwright.sync_api import Page, expect

from .conftest import PHONE, expect_no_sideways_scroll, log_in

pytestmark = pytest.mark.browser

CATALOGUE = (
    "sku,title,supplier,supplier_product_id,supplier_sku,unit_cost\n"
    "CSV-1,Phone Case,aliexpress,1005001000001,14:193#Clear,1.10\n"
    "CSV-2,Cable,cj,,,0.80\n"  # row 3: CJ needs the vid
    "CSV-3,Charger,cj,CJ-VID-3,,3.40\n"
)


def link_row(page: Page, text: str) -> Any:
    return page.locator("#link-list tbody tr[data-link-id]", has_text=text)


def test_create_import_and_clear_an_unavailable_link(page: Page, shoot: Any) -> None:
    page.goto("/links/")
    expect(page.get_by_role("heading", name="Product links")).to_be_visible()

    # A link through the form: refused with a clear message, fixed, saved
    page.get_by_role("link", name="New link").click()
    expect(page).to_have_url(re.compile(r"/links/new/$"))
    page.get_by_label("SKU", exact=True).fill("BR-1")
    page.get_by_label("Product", exact=True).fill("Browser Lamp")
    page.get_by_label("Supplier", exact=True).select_option("aliexpress")
    page.get_by_label("Supplier product id").fill("lamp-123")
    page.get_by_label("Unit cost").fill("2.50")
    page.get_by_role("button", name="Create link").click()
    expect(page.get_by_text("An AliExpress product id is digits only")).to_be_visible()
    assert not ProductLink.objects.filter(sku="BR-1").exists()
    page.get_by_label("Supplier product id").fill("1005006454451334")
    page.get_by_role("button", name="Create link").click()
    expect(page).to_have_url(re.compile(r"/links/$"))
    expect(page.get_by_role("status").get_by_text("Browser Lamp is linked.")).to_be_visible()
    expect(link_row(page, "Browser Lamp")).to_contain_text("AliExpress 1005006454451334")
    shoot(page, "60-links-created")

    # A CSV catalogue: two rows imported, the third listed by its row number
    page.get_by_role("link", name="Import a CSV").click()
    page.get_by_label("CSV file").set_input_files(
        {"name": "catalogue.csv", "mimeType": "text/csv", "buffer": CATALOGUE.encode()}
    )
    page.get_by_role("button", name="Import").click()
    result = page.locator("#import-result")
    expect(result).to_contain_text("3 rows read: links created 2, updated 0, unchanged 0.")
    expect(result.locator('[data-row="3"]')).to_contain_text(
        "Row 3: supplier_product_id: Enter the CJdropshipping variant id (vid)."
    )
    shoot(page, "61-links-imported")
    assert sorted(ProductLink.objects.filter(sku__startswith="CSV-").values_list("sku", flat=True)) == [
        "CSV-1",
        "CSV-3",
    ]

    # The supplier said a SKU is gone (what placement records): flagged in the list, found by the filter
    ProductLink.objects.filter(sku="CSV-1").update(
        unavailable_at=timezone.now(), unavailable_reason="AliExpress: this SKU is no longer sold"
    )
    page.get_by_role("link", name="Back to product links").click()
    page.get_by_label(re.compile(r"Only unavailable")).check()
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#link-list tbody tr[data-link-id]")).to_have_count(1)
    flagged = link_row(page, "Phone Case")
    expect(flagged.locator('[data-flag="unavailable"]')).to_have_text("Unavailable")
    expect(flagged).to_contain_text("AliExpress: this SKU is no longer sold")
    shoot(page, "62-links-unavailable")

    # Saving an edit (another SKU) clears the flag
    flagged.get_by_role("link", name=re.compile("^Edit")).click()
    expect(page.locator('[data-flag="unavailable"]')).to_contain_text("The supplier said this SKU is unavailable")
    page.get_by_label("Supplier SKU", exact=True).fill("14:193#Black")
    page.get_by_role("button", name="Save link").click()
    expect(page.get_by_role("status").get_by_text("Phone Case is saved.")).to_be_visible()
    expect(page.locator("#link-list tbody tr[data-link-id]")).to_have_count(0)  # the filter is kept: none left
    assert ProductLink.objects.get(sku="CSV-1").unavailable_at is None


def test_link_product_from_an_order_line_opens_the_form_prefilled(page: Page) -> None:
    account = Membership.objects.get(user__username=DEMO_USERNAME).account
    line = OrderLine.objects.filter(order__account=account).exclude(sku="").order_by("id").first()
    assert line is not None
    page.goto(f"/links/new/?order_line={line.pk}&next=/orders/")
    expect(page.get_by_label("SKU", exact=True)).to_have_value(line.sku)
    expect(page.get_by_label("Product", exact=True)).to_have_value(line.title)
    expect(page.get_by_label("Store")).to_have_value(str(line.order.store_id))
    page.get_by_label("Supplier", exact=True).select_option("temu")
    page.get_by_label("Supplier product id").fill("T-100")
    page.get_by_role("button", name="Create link").click()
    expect(page).to_have_url(re.compile(r"/orders/$"))
    link = ProductLink.objects.get(supplier_product_id="T-100")
    assert (link.sku, link.store_id) == (line.sku, line.order.store_id)


def test_the_links_pages_fit_a_phone(new_context: Any, demo_data: None) -> None:
    page = new_context(viewport=PHONE).new_page()
    log_in(page)
    ProductLink.objects.create(
        account=Membership.objects.get(user__username=DEMO_USERNAME).account,
        sku="A-VERY-LONG-SKU-NAME-THAT-COULD-PUSH-THE-PAGE-SIDEWAYS-0001",
        title="Phone width",
        provider="cj",
        supplier_product_id="CJ-VID-WITH-A-LONG-NAME-0001",
    )
    for path in ("/links/", "/links/new/", "/links/bulk/", "/links/import/"):
        page.goto(path)
        expect_no_sideways_scroll(page, PHONE["width"])
