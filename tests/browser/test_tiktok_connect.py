"""TikTok Shop in a real browser from /stores/: Connect → the sandbox's TikTok Shop authorization
page → Authorize → pick the seller's shops → back on /stores/ with the first orders imported; and
Cancel on that page → back with a clear message, nothing stored."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest

from channels_sync.enums import AuthKind, StoreStatus
from channels_sync.models import Store
from channels_sync.services import store_pull
from channels_sync.tasks import connect_store
from channels_sync.tests.tiktok_helpers import operator_app
from orders.models import Order

with contextlib.suppress(ImportError):
    from playwright.sync_api import Page, expect

from sandbox.tests.conftest import Control

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
SELLER = "browser-seller"


@pytest.fixture
def seller_shops(control: Control, settings: Any, live_server: Any) -> list[str]:
    operator_app(settings, live_server.url)
    for name, count in (("tt-browser-us", 2), ("tt-browser-ca", 1)):
        control.account("tiktok", name)
        control.options("tiktok", name, seller=SELLER)
        control.create_orders("tiktok", name, count=count, seed=11)
    return ["tt-browser-us", "tt-browser-ca"]


def test_connect_tiktok_shop_through_its_authorization_page(page: Page, seller_shops: list[str], shoot: Any) -> None:
    page.goto("/stores/")
    before = set(Store.objects.values_list("pk", flat=True))
    page.locator("#connect-tiktok-app").get_by_role("button", name="Connect TikTok Shop").click()

    # TikTok Shop's page (the sandbox's): the seller account, then Authorize
    expect(page.get_by_role("heading", name=re.compile("Authorize"))).to_be_visible()
    page.get_by_role("radio", name=re.compile(SELLER)).check()
    shoot(page, "40-tiktok-authorize")
    page.get_by_role("button", name="Authorize").click()

    # Back with us: the seller's shops, to pick with the keyboard
    expect(page.get_by_role("heading", name="Choose the shops to connect")).to_be_visible()
    us, ca = (
        page.get_by_role("checkbox", name=re.compile("tt-browser-us")),
        page.get_by_role("checkbox", name=re.compile("tt-browser-ca")),
    )
    expect(us).to_be_checked()
    ca.focus()
    page.keyboard.press("Space")  # unticked: only the US shop is connected
    expect(ca).not_to_be_checked()
    shoot(page, "41-tiktok-pick-shops")
    page.get_by_role("button", name="Connect the chosen shops").click()

    expect(page).to_have_url(re.compile(r"/stores/$"))
    expect(page.get_by_role("status").filter(has_text="Connecting tt-browser-us")).to_be_visible()
    store = Store.objects.exclude(pk__in=before).get()
    assert connect_store.apply(args=[store.pk]).get() == "connected"  # what the worker would do
    assert store_pull(store_id=store.pk).error == ""
    store.refresh_from_db()
    assert (store.name, store.status, store.auth_kind) == ("tt-browser-us", StoreStatus.ACTIVE, AuthKind.APP)
    assert Order.objects.filter(store=store).count() == 2
    page.reload()
    row = page.locator("#stores tbody tr", has_text="tt-browser-us")
    expect(row).to_have_attribute("data-store-status", StoreStatus.ACTIVE)
    shoot(page, "42-tiktok-connected")


def test_cancel_on_the_authorization_page_comes_back_with_a_message(page: Page, seller_shops: list[str]) -> None:
    page.goto("/stores/")
    before = Store.objects.count()
    page.locator("#connect-tiktok-app").get_by_role("button", name="Connect TikTok Shop").click()
    page.get_by_role("button", name="Cancel").click()

    expect(page).to_have_url(re.compile(r"/stores/$"))
    expect(page.get_by_text("TikTok Shop was not authorized: nothing was connected.")).to_be_visible()
    assert Store.objects.count() == before
