"""Placing orders in a real browser, against the sandbox suppliers on the live server and a real
Celery worker on the "suppliers" queue (Redis broker, nothing eager).

New → Place one order whose address check fails (the row says why, with the Edit address link)
→ the address fixed on the order → placed → Payment Failed (the CJ balance is too low) → the
balance raised through the sandbox's control API → Retry payment → Paid – Awaiting Fulfillment,
the tab counts moving at each step; then "Place all in this tab" on 50 orders, the progress
indicator reaching 50/50. Screenshots go to the test's tmp dir.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.enums import Role
from accounts.models import Membership
from orders.enums import OrderStatus, SubStatus, SupplierOrderState
from orders.models import Order
from suppliers.enums import SupplierProvider
from suppliers.models import PlacementBatch, SupplierOrder
from suppliers.tests.placing import US_ADDRESS, link_sku, merchant, order_to_place, source_account_connect
from tests.factories import UserFactory
from tests.workers import running_worker

with contextlib.suppress(ImportError):
    from playwright.sync_api import BrowserContext, Locator, Page, expect

from .conftest import PHONE, expect_no_sideways_scroll, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "place-orders-1"
# The worker places and pays against the sandbox over HTTP: seconds, not milliseconds.
WORK_MS = 30_000
BULK_MS = 120_000


@pytest.fixture
def worker() -> Iterator[list[tuple[str, str]]]:
    with running_worker(["suppliers"]) as ran:
        yield ran


@pytest.fixture
def merchant_page(
    transactional_db: None, new_context: Callable[..., BrowserContext], control: Any
) -> tuple[Page, dict[str, Any]]:
    """A staff member of a merchant with a CJ account (balance 1.00 USD) and EB-1 linked to CJ."""
    account, store = merchant("Browser placing merchant")
    source = source_account_connect(control, account, SupplierProvider.CJ, name="browser-cj")
    control.options("cj", source.name, balance="1.00")
    link_sku(account, "EB-1", SupplierProvider.CJ)
    user = UserFactory(username="placer")
    user.set_password(PASSWORD)
    user.save()
    Membership.objects.create(user=user, account=account, role=Role.STAFF)
    page = new_context().new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    log_in(page, "placer", PASSWORD)
    return page, {"account": account, "store": store, "source": source, "control": control}


def tab(page: Page, status: str) -> Locator:
    return page.locator(f'.tabs [data-tab="{status}"]')


def row(page: Page, number: str) -> Locator:
    return page.locator(f'#order-rows tr[data-order-number="{number}"]')


def expect_counts(page: Page, **expected: int) -> None:
    for status, count in expected.items():
        expect(tab(page, status)).to_have_attribute("data-count", str(count), timeout=WORK_MS)


def test_place_fix_the_address_pay_after_a_failed_payment_and_place_fifty(
    merchant_page: tuple[Page, dict[str, Any]], worker: Any, tmp_path: Path
) -> None:
    page, world = merchant_page

    def shoot(name: str) -> None:
        page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)

    # Given an order in New whose address has no city
    no_city = {key: value for key, value in US_ADDRESS.items() if key != "ship_city"}
    order = order_to_place(world["store"], address=no_city)
    page.goto("/orders/")
    expect_counts(page, new=1, payment=0)
    shoot("01-new")

    # When it is placed from its row
    row(page, order.number).locator('[data-action="place"]').click()

    # Then the progress shows it done with its problem, and the row says why with the fix a click away
    batch = page.locator(".placement-batch").first
    expect(batch).to_have_attribute("data-finished", "", timeout=WORK_MS)
    expect(batch).to_have_attribute("data-failed", "1")
    expect(batch.locator('[data-outcome="blocked"]')).to_contain_text("The city is missing.")
    issue = row(page, order.number).locator("[data-placement-issue]")
    expect(issue).to_contain_text("The city is missing.", timeout=WORK_MS)
    shoot("02-address-check-failed")
    assert SupplierOrder.objects.filter(order=order).count() == 0
    assert world["control"].ledger() == []

    # When the address is fixed on the order (the Edit address link, orders:address_edit)
    issue.get_by_role("link", name="Edit address").click()
    city = page.get_by_label("City")
    city.fill("Austin")
    shoot("03-address-form")
    city.locator("xpath=ancestor::form").locator('button[type="submit"]').first.click()
    page.wait_for_load_state()
    assert Order.objects.get(pk=order.pk).ship_city == "Austin"

    # And it is placed again
    page.goto("/orders/")
    row(page, order.number).locator('[data-action="place"]').click()

    # Then it is placed, its payment fails (the CJ balance is too low), and it moves to Payment
    expect_counts(page, new=0, payment=1)
    shoot("04-placed-payment-failed")
    tab(page, "payment").click()
    failed = row(page, order.number)
    expect(failed.locator(".c-status .badge").first).to_have_text("Payment Failed")
    expect(failed.locator('[data-supplier-failure="payment_failed"]')).to_contain_text("balance")
    pill = page.locator('.pills [data-sub-status="awaiting_fulfillment"]')
    expect(pill).to_have_attribute("data-count", "0")

    # When the balance is raised at CJ and Retry payment is clicked
    world["control"].options("cj", world["source"].name, balance="100000.00")
    failed.locator('[data-action="retry-payment"]').click()

    # Then the row watches the payment, and the order ends Paid – Awaiting Fulfillment, counted
    expect(pill).to_have_attribute("data-count", "1", timeout=WORK_MS)
    paid = row(page, order.number)
    expect(paid.locator(".c-status .badge").first).to_have_text("Paid – Awaiting Fulfillment")
    expect(paid.locator('[data-action="retry-payment"]')).to_have_count(0)
    shoot("05-paid-awaiting-fulfillment")
    supplier_order = SupplierOrder.objects.get(order=order)
    assert supplier_order.state == SupplierOrderState.PAID
    charged = [c for c in world["control"].ledger() if c["idempotency_key"] == supplier_order.idempotency_key]
    assert len(charged) == 1
    order.refresh_from_db()
    assert (order.status, order.sub_status) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)

    # And the drawer shows the supplier order with its history
    paid.locator("th a").click()
    drawer = page.locator("#drawer [data-supplier-orders]")
    expect(drawer.locator(f'[data-supplier-order="{supplier_order.pk}"]')).to_contain_text("Paid")
    expect(drawer.locator(".supplier-order-history li")).to_have_count(supplier_order.transitions.count())
    shoot("06-drawer-supplier-order")

    # Given 50 more orders in New (two pages of the table)
    fifty = [order_to_place(world["store"]) for _ in range(50)]
    page.goto("/orders/")
    expect_counts(page, new=50, payment=1)

    # When the whole tab is placed
    page.locator('[data-action="place-tab"]').click()

    # Then the progress indicator counts up to 50/50, then the counts move
    progress = page.locator(".placement-batch").first
    expect(progress).to_have_attribute("data-total", "50")
    expect(progress.locator("progress")).to_be_visible()
    shoot("07-bulk-in-progress")
    expect(progress).to_have_attribute("data-finished", "", timeout=BULK_MS)
    expect(progress).to_have_attribute("data-done", "50")
    expect(progress).to_have_attribute("data-succeeded", "50")
    expect(progress.locator("[data-progress]")).to_have_text("50 of 50 done")
    expect_counts(page, new=0, payment=51)
    shoot("08-bulk-done")
    batch_row = PlacementBatch.objects.get(account=world["account"], total=50)
    assert (batch_row.done, batch_row.succeeded, batch_row.failed) == (50, 50, 0)
    keys = set(SupplierOrder.objects.filter(order__in=fifty).values_list("idempotency_key", flat=True))
    ledger = [c for c in world["control"].ledger() if c["idempotency_key"] in keys]
    assert len(keys) == len(ledger) == 50


def test_the_progress_survives_a_reload_and_works_without_javascript(
    merchant_page: tuple[Page, dict[str, Any]], new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    """No worker: the batch waits, so what a reload shows is the unfinished batch."""
    page, world = merchant_page
    orders = [order_to_place(world["store"]) for _ in range(3)]
    page.goto("/orders/")
    page.locator("[data-select-all]").check()
    page.locator('[data-action="place-selected"]').click()
    batch = page.locator(".placement-batch").first
    expect(batch).to_have_attribute("data-total", "3")

    page.reload()
    expect(page.locator(".placement-batch").first).to_have_attribute("data-done", "0")
    expect(page.locator(".placement-batch").first).to_have_attribute("hx-trigger", "every 1s")
    page.screenshot(path=str(tmp_path / "reload.png"), full_page=True)

    # With the keyboard: the row's Place is a link that Enter activates
    row(page, orders[1].number).locator('[data-action="place"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator(".placement-batch")).to_have_count(2)
    expect(page.locator(".placement-batch").first).to_have_attribute("data-total", "1")

    # On a phone: the progress and the row's actions fit, the page never scrolls sideways
    phone = new_context(viewport=PHONE).new_page()
    log_in(phone, "placer", PASSWORD)
    expect(phone.locator(".placement-batch")).to_have_count(2)
    expect_no_sideways_scroll(phone, PHONE["width"])
    phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)

    # Without JavaScript: the confirmation page, then the progress page with a refresh link
    plain = new_context(java_script_enabled=False).new_page()
    log_in(plain, "placer", PASSWORD)
    plain.goto(f"/orders/place/?ids={orders[0].pk}")
    plain.get_by_role("button", name="Place").click()
    expect(plain).to_have_url(re.compile(r"/orders/place/batches/[0-9a-f-]+/"))
    expect(plain.locator("[data-progress]")).to_have_text("0 of 1 done")
    expect(plain.get_by_role("link", name="Refresh")).to_be_visible()
    plain.screenshot(path=str(tmp_path / "no-js-progress.png"), full_page=True)
