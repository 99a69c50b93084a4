"""The order center in a real browser: logged in as demo, every tab and pill, search, drawer,
archive and restore (row and bulk), history, keyboard, a phone screen, Arabic, and no JavaScript.

Data: ``seed_demo`` (40 orders, a few in every tab and sub-status: fewer than a page).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from orders.models import Order
from tracking.models import Shipment

# Without playwright the ``browser`` fixture skips (or fails under REQUIRE_SERVICES=1).
with contextlib.suppress(ImportError):
    from playwright.sync_api import Locator, Page, expect

from .conftest import PHONE, expect_no_sideways_scroll, log_in

pytestmark = pytest.mark.browser

TABS = ["new", "payment", "shipment", "canceled", "refund", "archive"]
ROWS = "#order-rows tr[data-order-number]"


# --- helpers ---------------------------------------------------------------------------


def tab(page: Page, status: str) -> Locator:
    return page.locator(f'.tabs [data-tab="{status}"]')


def pill(page: Page, sub_status: str) -> Locator:
    return page.locator(f'.pills [data-sub-status="{sub_status}"]')


def count_of(link: Locator) -> int:
    return int(link.get_attribute("data-count") or "-1")


def row(page: Page, number: str) -> Locator:
    return page.locator(f'#order-rows tr[data-order-number="{number}"]')


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def open_tab(page: Page, status: str) -> int:
    """Click a tab (htmx swap); check URL, active state and rows; return its count."""
    tab(page, status).click()
    expect(page).to_have_url(re.compile(rf"[?&]status={status}(&|$)"))
    expect(tab(page, status)).to_have_attribute("aria-current", "page")
    expect(page.locator(".tabs [aria-current=page]")).to_have_count(1)
    label = tab(page, status).locator(".tab-label").inner_text()
    expect(page).to_have_title(re.compile(rf"^{re.escape(label)}\b"))
    count = count_of(tab(page, status))
    expect(page.locator(ROWS)).to_have_count(count)
    return count


def expect_counts(page: Page, **expected: int) -> None:
    for status, count in expected.items():
        expect(tab(page, status)).to_have_attribute("data-count", str(count))


# --- tests -----------------------------------------------------------------------------


def test_tabs_pills_history_and_keyboard(page: Page, shoot: Any) -> None:
    every_tab_and_sub_status_lists_exactly_its_counted_orders(page, shoot)
    back_and_forward_return_to_the_previous_tab(page)
    keyboard_reaches_the_tabs_and_enter_activates_one(page, shoot)


def every_tab_and_sub_status_lists_exactly_its_counted_orders(page: Page, shoot: Any) -> None:
    # Given the demo account, logged in through the form
    expect(page).to_have_title(re.compile("New"))
    expect(page.locator("html.js")).to_have_count(1)  # app.js ran
    page.evaluate("window.notReloaded = true")
    shoot(page, "01-order-center-new")
    total = 0

    for status in TABS:
        # When each tab is clicked
        count = open_tab(page, status)
        # Then the page is not reloaded (htmx), the tab is active and its rows are exactly its count
        assert count > 0, f"the demo data has no order in {status}"
        assert page.evaluate("window.notReloaded") is True
        total += count
        shoot(page, f"02-tab-{status}")

        pills = page.locator(".pills [data-sub-status]")
        values = [pills.nth(i).get_attribute("data-sub-status") for i in range(pills.count())]
        pill_total = 0
        for value in values:
            # When each of its sub-status pills is clicked
            pill(page, value).click()
            expect(page).to_have_url(re.compile(rf"[?&]sub_status={value}(&|$)"))
            expect(pill(page, value)).to_have_attribute("aria-current", "page")
            # Then only that pill is active, the tab stays active, and the rows match its count
            expect(page.locator(".pills [aria-current=page]")).to_have_count(1)
            expect(tab(page, status)).to_have_attribute("aria-current", "page")
            sub_count = count_of(pill(page, value))
            assert sub_count > 0, f"the demo data has no order in {status}/{value}"
            expect(page.locator(ROWS)).to_have_count(sub_count)
            pill_total += sub_count
        if values:
            assert pill_total == count, f"the pills of {status} do not add up to the tab"
            page.locator(".pills a.pill", has_text="All").first.click()
            expect(page).not_to_have_url(re.compile("sub_status="))
            expect(page.locator(ROWS)).to_have_count(count)
        if status in ("shipment", "refund"):
            shoot(page, f"03-pills-{status}")

    # Every demo order is in exactly one tab
    assert total == Order.objects.count()


def back_and_forward_return_to_the_previous_tab(page: Page) -> None:
    # Given a fresh start on New
    page.goto("/orders/")
    payment_count = open_tab(page, "payment")
    open_tab(page, "shipment")
    pill(page, "in_transit").click()
    expect(page).to_have_url(re.compile("sub_status=in_transit"))

    # When going back: the Shipment tab without a pill
    page.go_back()
    expect(page).not_to_have_url(re.compile("sub_status="))
    expect(tab(page, "shipment")).to_have_attribute("aria-current", "page")
    expect(page.locator(ROWS)).to_have_count(count_of(tab(page, "shipment")))
    # And back again: Payment
    page.go_back()
    expect(page).to_have_url(re.compile("status=payment"))
    expect(tab(page, "payment")).to_have_attribute("aria-current", "page")
    expect(page.locator(ROWS)).to_have_count(payment_count)
    # Forward works too
    page.go_forward()
    expect(tab(page, "shipment")).to_have_attribute("aria-current", "page")

    # When htmx's history cache is gone (a long session, or storage cleared), back still
    # shows a whole page, not a bare fragment
    page.evaluate("sessionStorage.removeItem('htmx-history-cache')")
    page.go_back()
    expect(page).to_have_url(re.compile("status=payment"))
    expect(tab(page, "payment")).to_have_attribute("aria-current", "page")
    expect(page.locator("header.topbar")).to_have_count(1)
    expect(page.locator("#order-center")).to_have_count(1)
    expect(page.locator(ROWS)).to_have_count(payment_count)

    # And a bookmarked URL opens the same state
    page.goto("/orders/?status=refund&sub_status=in_review")
    expect(pill(page, "in_review")).to_have_attribute("aria-current", "page")
    expect(page.locator(ROWS)).to_have_count(count_of(pill(page, "in_review")))


def keyboard_reaches_the_tabs_and_enter_activates_one(page: Page, shoot: Any) -> None:
    page.goto("/orders/?status=new")
    # When tabbing from the top of the page
    page.locator("body").focus()
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('.tabs .tab')"):
            break
    else:
        pytest.fail("Tab never reached the status tabs")
    assert page.evaluate("document.activeElement.dataset.tab") == "new"
    # The focused tab is visibly outlined
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline
    shoot(page, "10-keyboard-focus")

    # When Tab moves to Payment and Enter is pressed
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.tab") == "payment"
    page.keyboard.press("Enter")
    # Then Payment is active, and focus stays on it for the next key press
    expect(page).to_have_url(re.compile("status=payment"))
    expect(tab(page, "payment")).to_have_attribute("aria-current", "page")
    expect(page.locator(ROWS)).to_have_count(count_of(tab(page, "payment")))
    expect(tab(page, "payment")).to_be_focused()


def test_search_by_email_sku_and_tracking_number(page: Page, shoot: Any) -> None:
    search = page.get_by_role("searchbox", name="Search")

    # Given the New tab, when its first customer's email is searched
    new_count = count_of(tab(page, "new"))
    email = page.locator(ROWS).first.locator(".c-customer .email").inner_text().strip()
    search.fill(email)
    search.press("Enter")
    # Then only that customer's orders are listed, and the URL carries the query
    expect(page).to_have_url(re.compile(r"[?&]q="))
    assert query_of(page)["q"] == [email]
    expected = Order.objects.filter(status="new", archived=False, customer_email=email).count()
    expect(page.locator(ROWS)).to_have_count(expected)
    assert 0 < expected < new_count
    for i in range(expected):
        expect(page.locator(ROWS).nth(i)).to_contain_text(email)
    shoot(page, "04-search-email")

    # When the search is cleared, every New order is back
    page.get_by_role("link", name="Clear").click()
    expect(page).not_to_have_url(re.compile(r"[?&]q="))
    expect(page.locator(ROWS)).to_have_count(new_count)

    # Given the Shipment tab, when a SKU is searched: exactly the shipment orders with that SKU
    open_tab(page, "shipment")
    sku = "EB-PRO-BLK"
    expected_numbers = set(
        Order.objects.filter(status="shipment", archived=False, lines__sku=sku).values_list("number", flat=True)
    )
    assert expected_numbers
    search = page.get_by_role("searchbox", name="Search")
    search.fill(sku.lower())
    search.press("Enter")
    expect(page.locator(ROWS)).to_have_count(len(expected_numbers))
    shown = {page.locator(ROWS).nth(i).get_attribute("data-order-number") for i in range(len(expected_numbers))}
    assert shown == expected_numbers
    shoot(page, "05-search-sku")
    # The search is kept when a pill is clicked
    pill(page, "in_transit").click()
    expect(page).to_have_url(re.compile("sub_status=in_transit"))
    assert query_of(page)["q"] == [sku.lower()]
    in_transit = Order.objects.filter(status="shipment", sub_status="in_transit", archived=False, lines__sku=sku)
    expect(page.locator(ROWS)).to_have_count(in_transit.distinct().count())

    # When a tracking number is searched (still on In Transit): exactly its order
    shipment = (
        Shipment.objects.select_related("order")
        .filter(order__archived=False, order__sub_status="in_transit")
        .order_by("pk")
        .first()
    )
    assert shipment is not None
    search.fill(shipment.tracking_number)
    search.press("Enter")
    expect(page.locator(ROWS)).to_have_count(1)
    expect(row(page, shipment.order.number)).to_be_visible()
    shoot(page, "05-search-tracking-number")

    # When nothing matches, the empty state says so
    search.fill("no-such-order-zzz")
    search.press("Enter")
    expect(page.locator(ROWS)).to_have_count(0)
    expect(page.locator("#order-rows .empty")).to_contain_text("No orders match these filters")


def test_drawer_archive_restore_and_bulk(page: Page, shoot: Any) -> None:
    drawer_then_archive_and_restore_one_order(page, shoot)
    bulk_archive_and_restore(page, shoot)


def drawer_then_archive_and_restore_one_order(page: Page, shoot: Any) -> None:
    # Given the Shipment tab
    shipment_count = open_tab(page, "shipment")
    archive_count = count_of(tab(page, "archive"))
    first = page.locator(ROWS).first
    number = first.get_attribute("data-order-number")
    assert number

    # When the order number is clicked, the drawer shows its lines and timeline
    first.locator("th a").click()
    drawer = page.locator(f'#drawer [data-order-detail="{number}"]')
    expect(drawer).to_be_visible()
    expect(page.locator("#order-title")).to_be_focused()
    # Beside the table on a wide screen: a side panel, not a modal dialog
    expect(page.locator("#drawer")).not_to_have_attribute("role", "dialog")
    expect(drawer.locator("table.lines tbody tr").first).to_be_visible()
    order = Order.objects.get(number=number)
    expect(drawer.locator("table.lines tbody tr")).to_have_count(order.lines.count())
    expect(drawer.locator("ol.timeline li").first).to_be_visible()
    expect(drawer.locator("ol.timeline")).to_contain_text("Order received")
    # (each parcel has its own timeline: tests/browser/test_tracking_ui.py)
    expect(drawer.locator(f'[data-parcel="{order.shipments.first().tracking_number}"]')).to_be_visible()
    # The URL did not change: the drawer is not a page state
    assert "status=shipment" in page.url
    shoot(page, "06-drawer")
    # Escape closes it
    page.keyboard.press("Escape")
    expect(drawer).to_have_count(0)

    # When its row's Archive action is clicked and the confirmation accepted
    row(page, number).locator('[data-action="archive"]').click()
    # Then it leaves the tab, and the counts move by one
    expect(row(page, number)).to_have_count(0)
    expect_counts(page, shipment=shipment_count - 1, archive=archive_count + 1)
    expect(page.locator(ROWS)).to_have_count(shipment_count - 1)
    expect(page.locator(".toast", has_text="1 order archived.")).to_be_visible()
    assert "status=shipment" in page.url
    shoot(page, "07-archived-one")

    # And it is listed under Archive, where Restore brings it back
    open_tab(page, "archive")
    expect(row(page, number)).to_be_visible()
    row(page, number).locator('[data-action="restore"]').click()
    expect(row(page, number)).to_have_count(0)
    expect_counts(page, shipment=shipment_count, archive=archive_count)
    expect(page.locator(".toast", has_text="1 order restored.")).to_be_visible()
    open_tab(page, "shipment")
    expect(row(page, number)).to_be_visible()
    assert Order.objects.get(number=number).archived is False


def bulk_archive_and_restore(page: Page, shoot: Any) -> None:
    open_tab(page, "new")
    new_count, archive_count = count_of(tab(page, "new")), count_of(tab(page, "archive"))
    bulk_archive = page.get_by_role("button", name="Archive selected")
    expect(bulk_archive).to_be_disabled()

    # When two orders are selected and archived in one go
    numbers = [page.locator(ROWS).nth(i).get_attribute("data-order-number") for i in range(2)]
    for number in numbers:
        row(page, number).get_by_role("checkbox").check()
    expect(bulk_archive).to_be_enabled()
    expect(page.locator("#selected-count")).to_have_text(f"2 of {new_count} selected")
    shoot(page, "08-bulk-selected")
    bulk_archive.click()

    # Then both leave New and are under Archive
    for number in numbers:
        expect(row(page, number)).to_have_count(0)
    expect_counts(page, new=new_count - 2, archive=archive_count + 2)
    expect(page.locator(".toast", has_text="2 orders archived.")).to_be_visible()
    expect(page.get_by_role("button", name="Archive selected")).to_be_disabled()
    assert Order.objects.filter(number__in=numbers, archived=True).count() == 2
    shoot(page, "09-bulk-archived")

    # When every archived order is selected (select all) and restored
    open_tab(page, "archive")
    page.get_by_role("checkbox", name="Select all orders on this page").check()
    page.get_by_role("button", name="Restore selected").click()
    expect(page.locator(ROWS)).to_have_count(0)
    expect(page.locator(".toast", has_text=f"{archive_count + 2} orders restored.")).to_be_visible()
    assert not Order.objects.filter(archived=True).exists()
    # (the demo's archived orders are New orders too)
    expect_counts(page, new=Order.objects.filter(status="new").count(), archive=0)
    open_tab(page, "new")
    for number in numbers:
        expect(row(page, number)).to_be_visible()


def test_phone_and_arabic_layouts(demo_data: None, new_context: Any, shoot: Any) -> None:
    phone_width_has_no_sideways_scrolling(new_context, shoot)
    desktop = new_context().new_page()
    log_in(desktop)
    arabic_mirrors_the_page(desktop, shoot)


def phone_width_has_no_sideways_scrolling(new_context: Any, shoot: Any) -> None:
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    page.goto("/accounts/login/")
    shoot(page, "11-phone-login")
    log_in(page)
    open_tab(page, "shipment")
    # The page itself never scrolls sideways (wide content scrolls in its own box)
    expect_no_sideways_scroll(page, PHONE["width"])
    shoot(page, "12-phone-order-center")

    page.locator(ROWS).first.locator("th a").click()
    expect(page.locator("#drawer [data-order-detail]")).to_be_visible()
    # The drawer opens where it can be seen
    expect(page.locator("#order-title")).to_be_in_viewport()
    expect_no_sideways_scroll(page, PHONE["width"])
    page.locator("#order-title").scroll_into_view_if_needed()
    shoot(page, "13-phone-drawer")
    # Covering the screen, the drawer is a modal dialog: Tab and Shift+Tab stay inside it
    drawer = page.locator("#drawer")
    expect(drawer).to_have_attribute("role", "dialog")
    expect(drawer).to_have_attribute("aria-modal", "true")
    in_drawer = "document.getElementById('drawer').contains(document.activeElement)"
    stops = int(page.evaluate("document.querySelectorAll('#drawer a[href], #drawer button').length"))
    for _ in range(stops + 2):  # once round and further
        page.keyboard.press("Tab")
        assert page.evaluate(in_drawer)
    page.locator("#order-title").focus()
    page.keyboard.press("Shift+Tab")  # from the top, round to the last control
    assert page.evaluate(in_drawer)
    page.get_by_role("button", name="Close order details").click()
    expect(page.locator("#drawer [data-order-detail]")).to_have_count(0)
    # Focus goes back to the order number that opened the drawer
    expect(page.locator(ROWS).first.locator("th a")).to_be_focused()

    # Right to left on a phone too
    page.locator("#language-switcher").select_option("ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    # ... on the tab the merchant was looking at (the URL htmx pushed, not the first one)
    expect(page).to_have_url(re.compile("status=shipment"))
    expect_no_sideways_scroll(page, PHONE["width"])
    shoot(page, "14-phone-rtl")


def arabic_mirrors_the_page(page: Page, shoot: Any) -> None:
    # When Arabic is picked in the language switcher (it submits itself)
    page.locator("#language-switcher").select_option("ar")
    # Then the page is right to left
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    # The brand sits on the right, the first tab right-most
    width = page.viewport_size["width"]
    brand = page.locator(".brand").bounding_box()
    assert brand is not None
    assert brand["x"] > width / 2
    first_tab, last_tab = tab(page, "new").bounding_box(), tab(page, "archive").bounding_box()
    assert first_tab is not None
    assert last_tab is not None
    assert first_tab["x"] > last_tab["x"]
    shoot(page, "15-rtl-order-center")
    page.locator(ROWS).first.locator("th a").click()
    expect(page.locator("#drawer [data-order-detail]")).to_be_visible()
    shoot(page, "16-rtl-drawer")


def test_without_javascript_links_navigate_and_archive_confirms_on_a_page(
    demo_data: None, new_context: Any, shoot: Any
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    log_in(page)
    assert page.locator("html.js").count() == 0

    # Tabs and pills are plain links
    tab(page, "shipment").click()
    expect(page).to_have_url(re.compile("status=shipment"))
    expect(tab(page, "shipment")).to_have_attribute("aria-current", "page")
    shipment_count = count_of(tab(page, "shipment"))
    archive_count = count_of(tab(page, "archive"))
    expect(page.locator(ROWS)).to_have_count(shipment_count)

    # The order number opens the order page; its back link returns to the tab
    number = page.locator(ROWS).first.get_attribute("data-order-number")
    row(page, number).locator("th a").click()
    expect(page.locator(f'[data-order-detail="{number}"]')).to_be_visible()
    shoot(page, "17-nojs-order-page")
    page.get_by_role("link", name="Back to orders").click()
    expect(tab(page, "shipment")).to_have_attribute("aria-current", "page")

    # When Archive is clicked: a confirmation page, then archived on submit
    row(page, number).locator('[data-action="archive"]').click()
    expect(page).to_have_url(re.compile(r"/orders/archive/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Archive 1 order?")
    expect(page.locator("main")).to_contain_text(number)
    shoot(page, "18-nojs-archive-confirm")
    assert Order.objects.get(number=number).archived is False  # nothing happens before confirming
    page.get_by_role("button", name="Archive").click()
    expect(page).to_have_url(re.compile("status=shipment"))
    expect(page.locator(".messages")).to_contain_text("1 order archived.")
    expect(row(page, number)).to_have_count(0)
    expect_counts(page, shipment=shipment_count - 1, archive=archive_count + 1)
    assert Order.objects.get(number=number).archived is True
    shoot(page, "19-nojs-archived")

    # Bulk without JavaScript: select two, Archive selected, confirm
    numbers = [page.locator(ROWS).nth(i).get_attribute("data-order-number") for i in range(2)]
    for each in numbers:
        row(page, each).get_by_role("checkbox").check()
    page.get_by_role("button", name="Archive selected").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Archive 2 orders?")
    page.get_by_role("button", name="Archive").click()
    expect(page.locator(".messages")).to_contain_text("2 orders archived.")
    expect_counts(page, shipment=shipment_count - 3, archive=archive_count + 3)

    # Restore from the Archive tab, also through its confirmation page
    tab(page, "archive").click()
    row(page, number).locator('[data-action="restore"]').click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Restore 1 order?")
    page.get_by_role("button", name="Restore").click()
    expect(page.locator(".messages")).to_contain_text("1 order restored.")
    expect(row(page, number)).to_have_count(0)
    assert Order.objects.get(number=number).archived is False
