"""Tracking in the order center, in a real browser: a shipped order's row and drawer (the parcel's
carrier, linked number and timeline, newest first, the push state), the Stalled filter with its
count (mouse and keyboard), the same on a 390 px wide phone, the public tracking page opened
without a login (and a wrong token: a 404 from the same template, the same work), and Retry on a
failed push in the drawer.

Data: ``seed_demo`` plus, through the ORM, the facts the tracking and channels_sync services write
(provider carrier, scans, a fulfillment push, the stalled flag).
"""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_sync.models import FulfillmentPush
from orders.models import Order
from tracking.models import Shipment, TrackingEvent
from tracking.services.pages import tracking_page_for

with contextlib.suppress(ImportError):
    from playwright.sync_api import Page, expect

from .conftest import expect_no_sideways_scroll, log_in

pytestmark = pytest.mark.browser

ROWS = "#order-rows tr[data-order-number]"
NARROW = {"width": 390, "height": 844}


def shipped_order() -> tuple[Order, Shipment]:
    """The demo's in-transit order, its parcel followed by the provider with three scans and pushed."""
    order = Order.objects.filter(status="shipment", sub_status="in_transit", archived=False).order_by("pk").first()
    assert order is not None
    parcel = order.shipments.get()
    now = timezone.now()
    Shipment.objects.filter(pk=parcel.pk).update(
        carrier_name="Cainiao",
        carrier_code="190271",
        provider_status="InTransit",
        provider_sub_status="InTransit_Arrival",
        sub_status="in_transit",
        registration_state="registered",
        last_event_at=now - timedelta(hours=2),
        last_event_description="Arrived at destination country",
        last_event_location="Los Angeles, US",
    )
    parcel.events.all().delete()
    for hours, description, location in (
        (50, "Accepted by carrier", "Shenzhen, CN"),
        (20, "Departed from sorting center", "Guangzhou, CN"),
        (2, "Arrived at destination country", "Los Angeles, US"),
    ):
        TrackingEvent.objects.create(
            shipment=parcel,
            occurred_at=now - timedelta(hours=hours),
            description=description,
            description_hash=f"browser-{hours}",
            location=location,
            status="in_transit",
        )
    FulfillmentPush.objects.create(
        account=order.account,
        store=order.store,
        order=order,
        shipment_id=parcel.pk,
        tracking_number=parcel.tracking_number,
        carrier=parcel.carrier,
        carrier_sent="Cainiao",
        state="pushed",
        attempts=1,
        pushed_at=now - timedelta(hours=40),
    )
    parcel.refresh_from_db()
    return order, parcel


def stall(order: Order) -> None:
    Order.objects.filter(pk=order.pk).update(stalled="no_event", stalled_since=timezone.now() - timedelta(days=6))


def open_shipment_tab(page: Page) -> None:
    page.locator('.tabs [data-tab="shipment"]').click()
    expect(page).to_have_url(re.compile(r"[?&]status=shipment(&|$)"))


def row(page: Page, number: str) -> Any:
    return page.locator(f'#order-rows tr[data-order-number="{number}"]')


def see_the_parcel_timeline(page: Page, order: Order, parcel: Shipment) -> None:
    # the row: carrier, linked number, latest event
    cell = row(page, order.number).locator("[data-row-parcel]")
    expect(cell).to_contain_text("Cainiao")
    expect(cell).to_contain_text("Arrived at destination country")
    expect(cell).to_contain_text("2\xa0hours ago")
    link = cell.locator(f'a[data-tracking-number="{parcel.tracking_number}"]')
    expect(link).to_have_attribute(
        "href", f"https://global.cainiao.com/newDetail.htm?mailNoList={parcel.tracking_number}"
    )
    expect(link).to_have_attribute("target", "_blank")
    # the drawer: the parcel's timeline, newest first, and what the channel was told
    row(page, order.number).locator("th a").click()
    block = page.locator(f'#drawer [data-parcel="{parcel.tracking_number}"]')
    expect(block).to_be_visible()
    expect(block.locator("h4")).to_contain_text("Cainiao")
    expect(block.locator("[data-parcel-status]")).to_have_text("In Transit")
    expect(block.locator("[data-provider-status]")).to_have_text("tracking provider: InTransit · InTransit_Arrival")
    expect(block.locator("[data-scan-description]")).to_have_text(
        ["Arrived at destination country", "Departed from sorting center", "Accepted by carrier"]
    )
    expect(block.locator("[data-push-state=pushed]")).to_contain_text("Fulfilled in the channel")
    expect(block.locator("[data-push-state=pushed]")).to_contain_text("carrier sent: Cainiao")


def test_a_shipped_orders_row_and_drawer_show_its_parcel(page: Page, shoot: Any) -> None:
    # given
    order, parcel = shipped_order()
    # when
    open_shipment_tab(page)
    # then
    see_the_parcel_timeline(page, order, parcel)
    shoot(page, "tracking-01-drawer-parcel")
    page.keyboard.press("Escape")
    expect(page.locator("#drawer [data-order-detail]")).to_have_count(0)


def test_the_stalled_filter_shows_the_stalled_order_and_its_count(page: Page, shoot: Any) -> None:
    # given one stalled order in Shipment
    order, _parcel = shipped_order()
    stall(order)
    open_shipment_tab(page)
    shipment_rows = page.locator(ROWS).count()
    assert shipment_rows > 1
    chip = page.locator("[data-stalled-filter]")
    expect(chip).to_have_attribute("data-count", "1")
    expect(row(page, order.number).locator("[data-stalled=no_event]")).to_have_text("Stalled")
    expect(row(page, order.number)).to_contain_text("No tracking update in transit")
    # when the chip is reached with the keyboard and Enter pressed
    chip.focus()
    expect(chip).to_be_focused()
    page.keyboard.press("Enter")
    # then only the stalled order is listed, the chip is on, the URL says so
    expect(page).to_have_url(re.compile(r"[?&]stalled=1(&|$)"))
    expect(page.locator(ROWS)).to_have_count(1)
    expect(row(page, order.number)).to_be_visible()
    expect(page.locator("[data-stalled-filter]")).to_have_attribute("aria-current", "true")
    shoot(page, "tracking-02-stalled-filter")
    # and the filter stays on another tab, and clicking the chip again turns it off
    page.locator('.tabs [data-tab="payment"]').click()
    expect(page).to_have_url(re.compile(r"status=payment.*stalled=1|stalled=1.*status=payment"))
    expect(page.locator(ROWS)).to_have_count(0)
    open_shipment_tab(page)
    expect(page.locator(ROWS)).to_have_count(1)
    page.locator("[data-stalled-filter]").click()
    expect(page.locator(ROWS)).to_have_count(shipment_rows)
    assert "stalled=" not in page.url


def test_a_390_px_window_stays_usable(demo_data: None, new_context: Any, shoot: Any) -> None:
    # given a stalled shipped order, on a narrow phone
    order, parcel = shipped_order()
    stall(order)
    page = new_context(viewport=NARROW, is_mobile=True, has_touch=True).new_page()
    log_in(page)
    open_shipment_tab(page)
    expect_no_sideways_scroll(page, NARROW["width"])
    # the row's parcel is on the card, the chip can be tapped
    expect(row(page, order.number).locator("[data-row-parcel]")).to_be_visible()
    expect(row(page, order.number).locator("[data-row-parcel]")).to_contain_text("Cainiao")
    chip = page.locator("[data-stalled-filter]")
    chip.scroll_into_view_if_needed()
    expect(chip).to_be_in_viewport()
    chip.tap()
    expect(page.locator(ROWS)).to_have_count(1)
    expect_no_sideways_scroll(page, NARROW["width"])
    shoot(page, "tracking-03-narrow-stalled")
    # the drawer covers the screen and shows the timeline without sideways scrolling
    see_the_parcel_timeline(page, order, parcel)
    expect(page.locator("#drawer")).to_have_attribute("role", "dialog")
    page.locator(f'#drawer [data-parcel="{parcel.tracking_number}"]').scroll_into_view_if_needed()
    expect_no_sideways_scroll(page, NARROW["width"])
    shoot(page, "tracking-04-narrow-drawer")


def structure(page: Page) -> dict[str, Any]:
    """What a public tracking page is made of, whatever it says: its head, its stylesheet, its main."""
    return dict(
        page.evaluate(
            """() => ({
                lang: document.documentElement.lang,
                head: [...document.head.children].map(
                    (e) => e.tagName + (e.getAttribute("name") || e.getAttribute("rel") || "")
                ),
                style: [...document.querySelectorAll("style")].map((e) => e.textContent.length),
                main: [...document.querySelectorAll("body > *")].map((e) => e.tagName),
                heading: document.querySelectorAll("main > h1").length,
            })"""
        )
    )


def test_the_public_tracking_page_opens_without_a_login_and_a_wrong_token_is_a_404(
    demo_data: None, new_context: Any, shoot: Any
) -> None:
    # given a shipped order's public page, opened in a fresh browser that never logged in
    order, parcel = shipped_order()
    token = tracking_page_for(order.pk).token
    page = new_context().new_page()
    response = page.goto(f"/t/{token}/")
    # then the parcel and its timeline, newest first, and nothing of the customer
    assert response is not None
    assert response.status == 200
    assert "/login" not in page.url
    expect(page.locator("main h1")).to_contain_text(order.number)
    expect(page.locator("main .parcel h2")).to_contain_text(parcel.tracking_number)
    expect(page.locator("main .timeline li")).to_have_count(3)
    expect(page.locator("main .timeline li").first).to_contain_text("Arrived at destination country")
    expect(page.locator("main .timeline li").last).to_contain_text("Accepted by carrier")
    text = page.locator("body").inner_text()
    for private in (
        order.ship_name,
        order.ship_address1,
        order.ship_city,
        order.customer_email,
        order.ship_phone,
        order.ship_zip,
    ):
        if private:
            assert private not in text, private
    shoot(page, "tracking-05-public-page")
    found = structure(page)
    # when a wrong token (well formed, one character off) is opened
    wrong = ("A" if token[0] != "A" else "B") + token[1:]
    missing = page.goto(f"/t/{wrong}/")
    # then a 404 from the same template: the same head, style and layout, no order, no parcel
    assert missing is not None
    assert missing.status == 404
    expect(page.locator("main h1")).to_have_text("Tracking page not found")
    expect(page.locator("main .parcel")).to_have_count(0)
    assert parcel.tracking_number not in page.content()
    assert {**structure(page), "main": None} == {**found, "main": None}
    assert structure(page)["main"] == found["main"]
    shoot(page, "tracking-06-public-page-not-found")
    # and the same work for any wrong token: one indexed look-up, however many pages exist
    other = ("C" if token[1] != "C" else "D") + token[1:]
    client = Client()
    for absent in (wrong, other):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/t/{absent}/").status_code == 404
        assert len(queries.captured_queries) == 1, queries.captured_queries


def test_retry_on_a_failed_push_in_the_drawer_sends_it_again(page: Page, shoot: Any) -> None:
    # given a shipped order whose fulfillment push failed
    order, parcel = shipped_order()
    push = FulfillmentPush.objects.get(order=order)
    FulfillmentPush.objects.filter(pk=push.pk).update(
        state="failed",
        attempts=8,
        error_code="retries_exhausted",
        last_error="Shopify answered 503 (tried 8 times)",
        pushed_at=None,
    )
    open_shipment_tab(page)
    row(page, order.number).locator("th a").click()
    block = page.locator(f'#drawer [data-push="{push.pk}"]')
    expect(block).to_have_attribute("data-push-state", "failed")
    expect(block.locator("[data-push-error]")).to_contain_text("503")
    # when Retry is clicked
    block.locator("[data-action=retry-push]").click()
    # then it says it was sent again, and the push waits for the runner
    expect(page.get_by_text("Sent again: the state updates in a moment.")).to_be_visible()
    push.refresh_from_db()
    assert (push.state, push.attempts) == ("pending", 0)
    shoot(page, "tracking-07-push-retried")
