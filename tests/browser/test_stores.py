"""The stores page in a real browser: a merchant connects a Shopify shop (the sandbox's, over
real HTTP) through the form, sees it connecting, then what is wrong with a bad token, connects
it again under the same name, then sees the store's health and its import window;
pauses and resumes it; and the page fits a phone screen. Secrets never reach the page."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest

from channels_sync.enums import StoreStatus
from channels_sync.models import Store
from channels_sync.services import store_pull
from channels_sync.tasks import connect_store

with contextlib.suppress(ImportError):
    from playwright.sync_api import Page, expect

from sandbox.tests.conftest import Control

from .conftest import PHONE, expect_no_sideways_scroll, log_in

pytestmark = pytest.mark.browser
POLL_MS = 8_000  # the table polls every 3 s while a connect or a pull is under way


def store_row(page: Page, name: str) -> Any:
    return page.locator("#stores tbody tr", has_text=name)


# The connect form's request calls the sandbox on the same live server: two requests at once,
# which the in-memory SQLite test database does not share between threads.
@pytest.mark.postgres
def test_connect_a_shopify_store_then_pause_and_resume_it(page: Page, control: Control, shoot: Any) -> None:
    shop = control.account("shopify", "browser-shop")
    control.create_orders("shopify", "browser-shop", count=3, seed=5)
    token, secret = shop["credentials"]["access_token"], shop["credentials"]["webhook_secret"]
    # The top bar leads there from the order center
    expect(page.get_by_role("link", name="Orders", exact=True)).to_have_attribute("aria-current", "page")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Stores").click()
    expect(page).to_have_url(re.compile(r"/stores/$"))
    expect(page.get_by_role("navigation", name="Sections").get_by_role("link", name="Stores")).to_have_attribute(
        "aria-current", "page"
    )
    form = page.locator("#connect-shopify")

    # A wrong token: the store is listed as connecting at once (the channel is called by a task,
    # not in the request), then says what is wrong and what to do
    form.get_by_label("Store name").fill("Browser shop")
    form.get_by_label("Shop URL").fill(shop["base_url"])
    form.get_by_label("Admin API access token").fill("shpat_not_the_token")
    form.get_by_label("Webhook signing secret").fill(secret)
    form.get_by_role("button", name="Connect Shopify").click()
    row = store_row(page, "Browser shop")
    expect(row.locator("[data-connect-state=connecting]")).to_have_text("Connecting…")
    store = Store.objects.get(name="Browser shop")
    assert connect_store.apply(args=[store.pk]).get() == "failed"  # what the worker would do
    error = row.locator("[data-connect-state=failed]")
    expect(error).to_contain_text("Admin API access token", timeout=POLL_MS)
    expect(error).to_contain_text("connect again")
    expect(row).to_have_attribute("data-store-status", StoreStatus.NOT_CONNECTED)
    shoot(page, "21-stores-connect-refused")

    # The right one, under the same name: the same row connects, with its health and webhook address
    form = page.locator("#connect-shopify")
    form.get_by_label("Store name").fill("Browser shop")
    form.get_by_label("Shop URL").fill(shop["base_url"])
    form.get_by_label("Admin API access token").fill(token)
    form.get_by_label("Webhook signing secret").fill(secret)
    form.get_by_role("button", name="Connect Shopify").click()
    expect(row.locator("[data-connect-state=connecting]")).to_have_text("Connecting…")
    assert connect_store.apply(args=[store.pk]).get() == "connected"
    expect(row).to_have_attribute("data-store-status", StoreStatus.ACTIVE, timeout=POLL_MS)
    assert Store.objects.filter(name="Browser shop").count() == 1
    # Its first import is queued at once, and the table follows it without a reload
    expect(row.locator("[data-pull-state=queued]")).to_have_text("Sync starting…")
    expect(row.locator("[data-import-since]")).to_contain_text("Importing orders since")
    # The actions work while the table polls: pause and resume, in place
    row.get_by_role("button", name="Pause Browser shop").click()
    expect(row).to_have_attribute("data-store-status", StoreStatus.PAUSED)
    expect(page.locator("#stores")).to_have_count(1)
    expect(row.get_by_role("button", name="Resync Browser shop")).to_have_count(0)  # paused: nothing to sync
    row.get_by_role("button", name="Resume Browser shop").click()
    expect(row).to_have_attribute("data-store-status", StoreStatus.ACTIVE)
    expect(row.locator("[data-pull-state=queued]")).to_have_text("Sync starting…")
    expect(page.locator("#connect-shopify")).to_have_count(1)
    assert store_pull(store_id=store.pk).orders == 3  # what the worker would do
    expect(row.locator("td").nth(3)).to_have_text("3", timeout=8_000)  # orders of the last 24 h
    expect(row.locator("[data-pull-state]")).to_have_count(0)
    expect(row.locator(".webhook-url")).to_have_text(re.compile(rf"^https?://.+/webhooks/shopify/{store.public_id}/$"))
    html = page.content()
    assert token not in html
    assert secret not in html
    shoot(page, "22-stores-connected")
    store.refresh_from_db()
    assert store.status == StoreStatus.ACTIVE


def test_the_stores_page_fits_a_phone(demo_data: None, new_context: Any, shoot: Any) -> None:
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    log_in(page)
    page.goto("/stores/")
    expect(page.get_by_role("heading", name="Stores", exact=True)).to_be_visible()
    shoot(page, "23-phone-stores")
    # The page never scrolls sideways (the wide table scrolls in its own box)
    expect_no_sideways_scroll(page, PHONE["width"])
