"""Rotating a store's webhook address in a real browser: the owner confirms, a toast says the
subscriptions moved, the row shows the new address, and the channel delivers to it only."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest

from accounts.models import Account
from channels_sync.models import Store
from channels_sync.providers.shopify.client import ShopifyClient
from channels_sync.services import store_connect, webhook_url_for
from zopi.management.commands.seed_demo import ACCOUNT_NAME

with contextlib.suppress(ImportError):
    from playwright.sync_api import Page, expect

from sandbox.tests.conftest import Control

pytestmark = pytest.mark.browser


# The rotation calls the sandbox on the same live server while the page's request is open: two
# requests at once, which the in-memory SQLite test database does not share between threads.
@pytest.mark.postgres
def test_an_owner_gives_a_store_a_new_webhook_address(page: Page, control: Control, shoot: Any) -> None:
    shop = control.account("shopify", "browser-rotate")
    store = store_connect(
        account=Account.objects.get(name=ACCOUNT_NAME),
        channel="shopify",
        name="Rotating shop",
        base_url=shop["base_url"],
        credentials=shop["credentials"],
    ).store
    old_url = webhook_url_for(channel="shopify", public_id=store.public_id)
    page.goto("/stores/")
    row = page.locator("#stores tbody tr", has_text="Rotating shop")
    expect(row.locator(".webhook-url")).to_have_text(old_url)

    # the page fixture accepts the confirmation ("… Deliveries to the current one are refused …")
    row.get_by_role("button", name="New webhook address Rotating shop").click()

    expect(page.locator(".toast", has_text="its Shopify subscriptions were moved to it")).to_be_visible()
    store.refresh_from_db()
    new_url = webhook_url_for(channel="shopify", public_id=store.public_id)
    assert new_url != old_url
    expect(row.locator(".webhook-url")).to_have_text(new_url)
    expect(page.locator("#stores")).to_have_count(1)  # swapped in place
    client = ShopifyClient(shop["base_url"], access_token=shop["credentials"]["access_token"])
    addresses = {hook.address for hook in client.webhook_subscriptions()}
    assert addresses == {new_url}
    assert re.search(rf"/webhooks/shopify/{store.public_id}/$", new_url)
    assert Store.objects.filter(public_id=store.public_id).count() == 1
    shoot(page, "24-stores-webhook-address-rotated")
