"""The public tracking page in Debian's Chromium (Playwright) on the live server: readable in a phone's
narrow window (nothing wider than the screen, the timeline shown), in the browser's language."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone

from tests.browser.conftest import PHONE
from tests.factories import AccountFactory, OrderFactory, ShipmentFactory, StoreFactory, TrackingEventFactory
from tracking.services.pages import tracking_page_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_phone_reads_the_timeline_without_scrolling_sideways(browser: Browser, live_server: Any) -> None:
    store = StoreFactory(account=AccountFactory(name="Edge A"), name="Juniper Gadgets")
    order = OrderFactory(store=store)
    shipment = ShipmentFactory(
        order=order, tracking_number="YT24123456789012345678901234", provider_status="InTransit_CustomsProcessing"
    )
    now = timezone.now()
    for n in range(6):
        TrackingEventFactory(
            shipment=shipment,
            occurred_at=now - timedelta(days=6 - n),
            description=f"Arrived at the international sorting and customs clearance centre, step {n + 1}",
            location="Guangzhou International Mail Processing Centre, Guangdong, CN",
        )
    url = f"{live_server.url}/t/{tracking_page_for(order.pk).token}/"
    context = browser.new_context(viewport=PHONE, locale="fr-FR")
    try:
        page = context.new_page()
        response = page.goto(url)
        assert response is not None
        assert response.status == 200
        # the newest scan first, visible, and nothing wider than the phone's screen
        first = page.locator("ol.timeline li").first
        assert "step 6" in first.inner_text()
        assert first.is_visible()
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1] == PHONE["width"]
        assert page.locator("html").get_attribute("lang") == "fr"
    finally:
        context.close()
