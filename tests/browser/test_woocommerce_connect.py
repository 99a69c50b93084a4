"""Connecting a WooCommerce store in a real browser, the way a merchant does: the Stores page's
WooCommerce panel → the site's own approval page (the sandbox's ``/wc-auth/v1/authorize``) →
Approve → back on the Stores page, "Connecting…", then the first orders imported by a real Celery
worker on the Redis broker (nothing eager); Deny → back with a clear message and nothing stored.
The keys the site made never reach the page."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest

from channels_sync.enums import AuthKind, AuthorizationState, StoreStatus
from channels_sync.models import ChannelAuthorization, Store
from sandbox.models import SimAccount
from sandbox.tests.conftest import Control
from tests.workers import running_worker

with contextlib.suppress(ImportError):
    from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis, pytest.mark.celery_worker]
POLL_MS = 20_000  # the table polls every 3 s; the worker checks the keys, then imports


@pytest.fixture
def site(control: Control, live_server: Any, settings: Any) -> dict[str, Any]:
    """A WooCommerce site with three orders; our callback and return addresses on the live server."""
    settings.SITE_URL = live_server.url
    account = control.account("woocommerce", "browser-woo")
    control.create_orders("woocommerce", "browser-woo", count=3, seed=11)
    return account


@pytest.fixture
def worker() -> Iterator[list[tuple[str, str]]]:
    with running_worker(["sync"]) as ran:
        yield ran


def open_approval_page(page: Page, site: dict[str, Any], name: str) -> None:
    page.goto("/stores/")
    panel = page.locator("#connect-woocommerce-app")
    panel.get_by_label("Store name").fill(name)
    panel.get_by_label("Site URL").fill(site["base_url"])
    panel.get_by_role("button", name="Connect WooCommerce").click()
    expect(page.get_by_role("heading", name="Zopi order center would like to connect to your store")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/sandbox/woocommerce/browser-woo/wc-auth/v1/authorize\?"))


def test_approve_on_the_site_connects_the_store_and_imports_its_first_orders(
    page: Page, site: dict[str, Any], worker: list[tuple[str, str]], shoot: Any
) -> None:
    open_approval_page(page, site, "Woo browser shop")
    expect(page.locator(".wc-auth-permissions")).to_contain_text("View and manage orders and sales reports")
    shoot(page, "31-woocommerce-approval-page")

    page.get_by_role("link", name="Approve").click()
    expect(page).to_have_url(re.compile(r"/stores/$"))
    expect(page.locator(".messages")).to_have_text("Connecting Woo browser shop: checking it with WooCommerce…")
    row = page.locator("#stores tbody tr", has_text="Woo browser shop")
    # The worker checks the keys and makes our webhooks, then imports: the table follows without a reload
    expect(row).to_have_attribute("data-store-status", StoreStatus.ACTIVE, timeout=POLL_MS)
    expect(row.locator("td").nth(3)).to_have_text("3", timeout=POLL_MS)  # orders of the last 24 h
    shoot(page, "32-woocommerce-connected")

    store = Store.objects.get(name="Woo browser shop")
    assert store.auth_kind == AuthKind.APP
    keys = SimAccount.objects.get(name="browser-woo").options["api_keys"]
    assert store.credentials["consumer_key"] == keys[0]["consumer_key"]
    html = page.content()
    assert keys[0]["consumer_key"] not in html
    assert keys[0]["consumer_secret"] not in html
    assert store.webhook_secret not in html
    assert {name for name, _ in worker} >= {"channels_sync.connect_store", "channels_sync.pull_store"}


def test_deny_on_the_site_comes_back_with_a_message_and_nothing_stored(
    page: Page, site: dict[str, Any], shoot: Any
) -> None:
    stores_before = Store.objects.count()
    open_approval_page(page, site, "Woo denied shop")

    page.get_by_role("link", name="Deny").click()
    expect(page).to_have_url(re.compile(r"/stores/$"))
    expect(page.locator(".messages")).to_have_text(
        re.compile(r"You did not approve the connection on .*/sandbox/woocommerce/browser-woo: nothing was connected")
    )
    expect(page.locator("#stores tbody tr", has_text="Woo denied shop")).to_have_count(0)
    shoot(page, "33-woocommerce-denied")
    assert Store.objects.count() == stores_before
    assert ChannelAuthorization.objects.get().state == AuthorizationState.CANCELED
    assert "api_keys" not in SimAccount.objects.get(name="browser-woo").options
