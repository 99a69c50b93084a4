"""Connecting Shopify as the operator's app in a real browser, from /stores/: Connect → the
sandbox's "Install app?" page → Install → back on /stores/ with the store connected and its first
orders imported by a real Celery worker; Cancel → back with a clear message and nothing stored."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from channels_sync.enums import AuthKind, StoreStatus
from channels_sync.models import ChannelAuthorization, Store
from channels_sync.tests.shopify_app import shopify_app  # noqa: F401 - fixture
from orders.models import Order
from sandbox.models import SimGrant
from sandbox.tests.conftest import Control
from tests.workers import running_worker, wait_for

with contextlib.suppress(ImportError):
    from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.usefixtures("shopify_app")]
POLL_MS = 15_000  # the table polls every 3 s while the connect check and the first import run


@pytest.fixture
def site_url(live_server: Any, settings: Any) -> str:
    settings.SITE_URL = live_server.url
    return str(live_server.url)


def ask_install(page: Page, *, name: str, shop: str) -> None:
    page.goto("/stores/")
    panel = page.locator("#connect-shopify-app")
    panel.get_by_label("Store name").fill(name)
    panel.get_by_label("Shop name").fill(shop)
    panel.get_by_role("button", name="Connect with Shopify").click()
    expect(page.get_by_role("heading", name="Install Zopi order center (dev)?")).to_be_visible()
    expect(page.get_by_text(f"{shop}.myshopify.com")).to_be_visible()


def test_connect_with_shopify_installs_the_app_and_imports_the_first_orders(
    page: Page, control: Control, shoot: Any
) -> None:
    control.account("shopify", "browser-app-shop")
    control.create_orders("shopify", "browser-app-shop", count=3, seed=9)
    # the advanced path is still there, folded
    page.goto("/stores/")
    expect(page.get_by_text("Connect with an access token (advanced)")).to_be_visible()
    expect(page.locator("#connect-shopify")).to_be_hidden()

    ask_install(page, name="Browser app shop", shop="browser-app-shop")
    shoot(page, "30-shopify-install-page")
    with running_worker(["sync"]):
        page.get_by_role("button", name="Install").click()
        expect(page.get_by_role("status").filter(has_text="Shopify approved the install")).to_be_visible()
        row = page.locator("#stores tbody tr", has_text="Browser app shop")
        expect(row).to_have_attribute("data-store-status", StoreStatus.ACTIVE, timeout=POLL_MS)
        assert wait_for(lambda: Order.objects.filter(store__name="Browser app shop").count() == 3)
    store = Store.objects.get(name="Browser app shop")
    assert (store.auth_kind, store.domain) == (AuthKind.APP, "browser-app-shop.myshopify.com")
    page.reload()
    expect(page.locator("#stores tbody tr", has_text="Browser app shop").locator("td.num")).to_have_text("3")
    shoot(page, "31-shopify-installed")


def test_cancel_on_the_install_page_comes_back_with_a_message_and_nothing_stored(
    page: Page, control: Control, shoot: Any
) -> None:
    control.account("shopify", "browser-cancel-shop")
    stores = Store.objects.count()
    ask_install(page, name="Canceled shop", shop="browser-cancel-shop")
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("status").filter(has_text="You canceled the install on Shopify")).to_be_visible()
    expect(page.locator("#stores tbody tr", has_text="Canceled shop")).to_have_count(0)
    assert Store.objects.count() == stores
    assert not SimGrant.objects.exists()
    assert ChannelAuthorization.objects.get().state == "canceled"
    shoot(page, "32-shopify-install-canceled")
