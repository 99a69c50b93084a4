"""Refunds in a real browser: a staff member asks a supplier for a refund through the form (from the
row's "Request refund", by keyboard and mouse), sees it In Review in the tab counts and the drawer;
the supplier's side then moves it (``supplier_moves``: later driven by the sandbox's clock) past
its review time, to Approved, past its money time, to Refunded, and the counts, the drawer and the
overdue badge follow. Also a phone-width form."""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Membership
from orders.enums import RefundState
from orders.models import Order, Refund
from suppliers.services.refunds import orders_flag_refund_overdue, refund_decision_record
from tests.refund_world import shipped_with_paid_supplier_order
from zopi.management.commands.seed_demo import DEMO_USERNAME

with contextlib.suppress(ImportError):
    from playwright.sync_api import Locator, Page, expect

from .conftest import PHONE, expect_no_sideways_scroll, log_in

pytestmark = pytest.mark.browser
NUMBER = "#R-7001"


def tab(page: Page, status: str) -> Locator:
    return page.locator(f'.tabs [data-tab="{status}"]')


def pill(page: Page, sub_status: str) -> Locator:
    return page.locator(f'.pills [data-sub-status="{sub_status}"]')


def count(link: Locator) -> int:
    return int(link.get_attribute("data-count") or "-1")


def demo_order() -> Order:
    """An order of the demo account in transit, its supplier order (AliExpress) paid 30.00."""
    account = Membership.objects.filter(user__username=DEMO_USERNAME).select_related("account").first()
    assert account is not None
    store = account.account.stores.order_by("id").first()
    order, _supplier_order = shipped_with_paid_supplier_order(store, number=NUMBER)
    return order


def supplier_moves(refund_id: int, step: str, *, now: datetime) -> None:
    """What the supplier's side does, one step at a time (the sandbox's clock will drive these):
    "review late" (a day passes without a decision), "approve", "money late" (a day after the
    approval without the money), "refund" (the money comes back)."""
    order_ids = [Refund.objects.get(pk=refund_id).order_id]  # the demo's other refunds keep their flags
    if step == "review late":
        orders_flag_refund_overdue(now=now + timedelta(days=1, minutes=5), order_ids=order_ids)
    elif step == "approve":
        refund_decision_record(refund_id=refund_id, state=RefundState.APPROVED, at=now, external_status="APPROVED")
    elif step == "money late":
        orders_flag_refund_overdue(now=now + timedelta(days=2, minutes=5), order_ids=order_ids)
    elif step == "refund":
        refund_decision_record(
            refund_id=refund_id, state=RefundState.REFUNDED, refunded_amount=Decimal("20.00"), external_status="PAID"
        )
    else:  # pragma: no cover - a typo in a test
        raise ValueError(step)


def refund_tab(page: Page) -> dict[str, int]:
    page.goto("/orders/?status=refund")
    return {
        "refund": count(tab(page, "refund")),
        "in_review": count(pill(page, "in_review")),
        "approved": count(pill(page, "approved")),
        "refunded": count(pill(page, "refunded")),
        "overdue": count(page.locator("[data-overdue-filter]")),
    }


def open_drawer(page: Page) -> Locator:
    page.locator(f'#order-rows tr[data-order-number="{NUMBER}"] th a').click()
    drawer = page.locator(f'#drawer [data-order-detail="{NUMBER}"]')
    expect(drawer).to_be_visible()
    return drawer


def test_request_a_refund_and_follow_it_to_refunded(page: Page, shoot: Any) -> None:
    order = demo_order()
    before = refund_tab(page)

    # When a refund is asked from the row of the order in Shipment
    page.goto("/orders/?status=shipment")
    row = page.locator(f'#order-rows tr[data-order-number="{NUMBER}"]')
    row.get_by_role("link", name=re.compile("Request refund")).click()
    expect(page.get_by_role("heading", name=re.compile("Ask the supplier for a refund"))).to_be_visible()
    form = page.locator("[data-refund-form]")
    expect(form.get_by_label("Amount")).to_have_value("30.00")  # every open unit: what was paid
    form.get_by_label("Units of Case").fill("0")
    form.get_by_role("button", name="Set the amount to the most these units allow").click()
    expect(page.locator("[data-refund-form]").get_by_label("Amount")).to_have_value("20.00")
    form = page.locator("[data-refund-form]")
    form.get_by_label("Reason").select_option(label="Damaged")
    form.get_by_label("Note for the supplier").fill("Both earbuds arrived cracked")
    form.get_by_label("Evidence links").fill("https://img.example.com/cracked.jpg")
    shoot(page, "refund-01-form")
    # a second try for more than was paid is refused at the amount, nothing written
    form.get_by_label("Amount").fill("25.00")
    form.get_by_role("button", name="Ask for the refund").click()
    expect(page.locator('[data-error-for="amount"]')).to_contain_text("At most 20.00 USD")
    assert not Refund.objects.filter(order=order).exists()
    form = page.locator("[data-refund-form]")
    form.get_by_label("Amount").fill("20.00")
    form.get_by_label("Amount").press("Enter")  # the keyboard submits it

    # Then it is In Review: the order's page says so, and the tab counts moved
    expect(page.locator(".messages")).to_contain_text("in review")
    expect(page.locator('[data-refund-state="in_review"]')).to_be_visible()
    refund = Refund.objects.get(order=order)
    now = refund.requested_at
    after = refund_tab(page)
    assert after["refund"] == before["refund"] + 1
    assert after["in_review"] == before["in_review"] + 1
    drawer = open_drawer(page)
    expect(drawer.locator("[data-refund-state-label]")).to_have_text("In review")
    expect(drawer.locator("[data-refund-line]")).to_have_text(["Wireless Earbuds × 2"])
    expect(drawer.locator("[data-merchant-refund]")).to_be_visible()
    shoot(page, "refund-02-in-review")

    # When the supplier lets the review day pass: the row and the drawer say Review overdue
    supplier_moves(refund.pk, "review late", now=now)
    counts = refund_tab(page)
    assert counts["overdue"] == before["overdue"] + 1
    expect(page.locator(f'tr[data-order-number="{NUMBER}"] [data-refund-overdue="review"]')).to_have_text(
        "Review overdue"
    )
    page.locator("[data-overdue-filter]").click()
    expect(page).to_have_url(re.compile("overdue=1"))
    expect(page.locator(f'tr[data-order-number="{NUMBER}"]')).to_be_visible()
    shoot(page, "refund-03-review-overdue")

    # When it approves: Approved, the overdue flag gone, money due shown
    supplier_moves(refund.pk, "approve", now=now + timedelta(days=1, minutes=10))
    counts = refund_tab(page)
    assert counts["approved"] == before["approved"] + 1
    assert counts["in_review"] == before["in_review"]
    assert counts["overdue"] == before["overdue"]
    drawer = open_drawer(page)
    expect(drawer.locator("[data-refund-state-label]")).to_have_text("Approved")
    expect(drawer.locator("[data-money-due]")).to_be_visible()

    # When the money does not come the day after: Money overdue
    supplier_moves(refund.pk, "money late", now=now + timedelta(days=1, minutes=10))
    refund_tab(page)
    expect(page.locator(f'tr[data-order-number="{NUMBER}"] [data-refund-overdue="payment"]')).to_have_text(
        "Money overdue"
    )

    # When it pays: Refunded, the flag gone, the amount in the drawer
    supplier_moves(refund.pk, "refund", now=timezone.now())
    counts = refund_tab(page)
    assert counts["refunded"] == before["refunded"] + 1
    assert counts["approved"] == before["approved"]
    assert counts["overdue"] == before["overdue"]
    expect(page.locator(f'tr[data-order-number="{NUMBER}"] [data-refund-overdue]')).to_have_count(0)
    drawer = open_drawer(page)
    expect(drawer.locator("[data-refund-state-label]")).to_have_text("Refunded")
    expect(drawer.locator("[data-refunded-amount]")).to_contain_text("20.00 USD")
    expect(drawer.locator("[data-refund-step]")).to_have_count(3)  # requested, approved, refunded
    shoot(page, "refund-04-refunded")


def test_the_request_form_fits_a_phone(demo_data: None, new_context: Any, shoot: Any) -> None:
    order = demo_order()
    context = new_context(viewport=PHONE)
    page = context.new_page()
    log_in(page)
    page.goto(f"/orders/refunds/orders/{order.pk}/request/")
    expect(page.locator("[data-refund-form]")).to_be_visible()
    expect_no_sideways_scroll(page, PHONE["width"])
    shoot(page, "refund-05-phone")


def test_on_the_order_page_a_request_then_the_suppliers_answer_are_recorded(page: Page) -> None:
    """The order opened as a page (no #drawer there): the request form loads in place and goes
    once sent, then Record saves the AliExpress outcome, each redrawing the page's order."""
    order = demo_order()
    page.goto(f"/orders/{order.pk}/")
    page.get_by_role("link", name="Request refund").click()
    heading = page.get_by_role("heading", name=re.compile("Ask the supplier for a refund"))
    expect(heading).to_be_focused()  # the form swapped in: focus on its heading
    form = page.locator("[data-refund-form]")
    form.get_by_label("Units of Case").fill("0")
    form.get_by_label("Amount").fill("20.00")
    form.get_by_label("Reason").select_option(label="Damaged")
    form.get_by_role("button", name="Ask for the refund").click()
    refunds = page.locator(".drawer-page [data-refunds]")
    expect(refunds.locator('[data-refund-state="in_review"]')).to_be_visible()
    expect(page.locator("[data-refund-form]")).to_have_count(0)  # the form is gone once sent
    refund = Refund.objects.get(order=order)

    outcome = page.locator("[data-outcome-form]")
    outcome.get_by_label("Outcome").select_option("approved")
    outcome.get_by_role("button", name="Record").click()
    expect(page.locator(f'[data-refund="{refund.pk}"] [data-refund-state-label]')).to_have_text("Approved")
    refund.refresh_from_db()
    assert refund.state == RefundState.APPROVED
    expect(page.locator(".drawer-page [data-order-detail]")).to_have_count(1)  # redrawn once, not nested
