"""Refunds in a real browser against the sandbox on the live server and a real Celery worker on the
"suppliers" queue (Redis broker, nothing eager).

A staff member asks CJ (its dispute API, the sandbox's side) for a refund through the form (from the
row's "Request refund", by keyboard and mouse): In Review in the tab counts and the drawer. The
sandbox's clock is then advanced through its control API and the world moves (the supplier
decides within the day, pays the day after, crediting its ledger); our beat's sweep, run as it
would later, reads it: Approved, then Refunded, the counts and the drawer following. A supplier
that stalls (``refund_stall``) leaves a request In Review past its day: the row is flagged Review
overdue, in the Overdue filter with its count. Also a phone-width form and the order page with an
AliExpress request recorded by the merchant (no buyer-side API)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.enums import Role
from accounts.models import Membership
from orders.enums import RefundSend, RefundState
from orders.models import Order, Refund
from suppliers.enums import SupplierProvider
from suppliers.services.refunds import orders_flag_refund_overdue, refund_room
from suppliers.tests.refunding import Shipped, ask, shipped_again, shipped_order, sync_later, world_forward
from tests.factories import UserFactory
from tests.refund_world import shipped_with_paid_supplier_order
from tests.workers import running_worker, wait_for
from zopi.management.commands.seed_demo import DEMO_USERNAME

with contextlib.suppress(ImportError):
    from playwright.sync_api import BrowserContext, Locator, Page, expect

from .conftest import PHONE, expect_no_sideways_scroll, log_in

pytestmark = pytest.mark.browser
NUMBER = "#R-7001"
PASSWORD = "refunds-1"


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


def refund_tab(page: Page) -> dict[str, int]:
    page.goto("/orders/?status=refund")
    return {
        "refund": count(tab(page, "refund")),
        "in_review": count(pill(page, "in_review")),
        "approved": count(pill(page, "approved")),
        "refunded": count(pill(page, "refunded")),
        "overdue": count(page.locator("[data-overdue-filter]")),
    }


def open_drawer(page: Page, number: str) -> Locator:
    page.locator(f'#order-rows tr[data-order-number="{number}"] th a').click()
    drawer = page.locator(f'#drawer [data-order-detail="{number}"]')
    expect(drawer).to_be_visible()
    return drawer


@pytest.fixture
def cj_merchant(
    transactional_db: None, new_context: Callable[..., BrowserContext], control: Any
) -> Iterator[tuple[Page, Shipped, Any]]:
    """A staff member of a merchant whose order was placed and paid at the sandbox's CJ (which
    approves refunds) and shipped; a worker on the suppliers queue sends what is asked."""
    shipped = shipped_order(control, SupplierProvider.CJ, refund_decision="approve")
    user = UserFactory(username="refunder")
    user.set_password(PASSWORD)
    user.save()
    Membership.objects.create(user=user, account=shipped.account, role=Role.STAFF)
    page = new_context().new_page()
    log_in(page, "refunder", PASSWORD)
    with running_worker(["suppliers"]):
        yield page, shipped, control


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery_worker
def test_request_a_refund_and_the_sandbox_supplier_takes_it_to_refunded(
    cj_merchant: tuple[Page, Shipped, Any], shoot: Any
) -> None:
    page, shipped, control = cj_merchant
    number = shipped.order.number
    [line] = shipped.supplier_order.lines.all()
    room = refund_room(supplier_order=shipped.supplier_order)
    line_room = room.line(line.pk)
    assert line_room is not None
    assert line_room.quantity == 2
    whole, one_unit = line_room.cap_for(2), line_room.cap_for(1)

    # When a refund is asked from the row of the order in Shipment
    page.goto("/orders/?status=shipment")
    page.locator(f'#order-rows tr[data-order-number="{number}"]').get_by_role(
        "link", name=re.compile("Request refund")
    ).click()
    expect(page.get_by_role("heading", name=re.compile("Ask the supplier for a refund"))).to_be_visible()
    form = page.locator("[data-refund-form]")
    expect(form.get_by_label("Amount")).to_have_value(f"{whole:.2f}")  # every open unit: what was paid
    form.get_by_label(f"Units of {line.order_line.title}").fill("1")
    form.get_by_role("button", name="Set the amount to the most these units allow").click()
    form = page.locator("[data-refund-form]")
    expect(form.get_by_label("Amount")).to_have_value(f"{one_unit:.2f}")
    form.get_by_label("Reason").select_option(label="Damaged")
    form.get_by_label("Note for the supplier").fill("The left earbud arrived cracked")
    form.get_by_label("Evidence links").fill("https://img.example.com/cracked.jpg")
    shoot(page, "refund-01-form")
    # more than was paid for that unit is refused at the amount, nothing written
    form.get_by_label("Amount").fill(f"{one_unit + 1:.2f}")
    form.get_by_role("button", name="Ask for the refund").click()
    expect(page.locator('[data-error-for="amount"]')).to_contain_text(f"At most {one_unit:.2f}")
    assert not Refund.objects.filter(order=shipped.order).exists()
    form = page.locator("[data-refund-form]")
    form.get_by_label("Amount").fill(f"{one_unit:.2f}")
    form.get_by_label("Amount").press("Enter")  # the keyboard submits it

    # Then it is In Review, and the worker sends it to CJ (a dispute there, under our key)
    expect(page.locator(".messages")).to_contain_text("in review")
    refund = Refund.objects.get(order=shipped.order)
    assert wait_for(lambda: Refund.objects.filter(pk=refund.pk, send_state=RefundSend.SENT).exists())
    counts = refund_tab(page)
    assert (counts["refund"], counts["in_review"], counts["approved"], counts["refunded"]) == (1, 1, 0, 0)
    drawer = open_drawer(page, number)
    expect(drawer.locator("[data-refund-state-label]")).to_have_text("In review")
    expect(drawer.locator('[data-send-state="sent"]')).to_contain_text("supplier's dispute")
    expect(drawer.locator("[data-review-due]")).to_be_visible()
    shoot(page, "refund-02-in-review")

    # When the sandbox's clock goes 21 hours on, the supplier decides; our sweep reads it
    world_forward(control, hours=21)
    assert sync_later(hours=2) >= 1
    counts = refund_tab(page)
    assert (counts["in_review"], counts["approved"], counts["refunded"]) == (0, 1, 0)
    drawer = open_drawer(page, number)
    expect(drawer.locator("[data-refund-state-label]")).to_have_text("Approved")
    expect(drawer.locator("[data-money-due]")).to_be_visible()
    assert control.credits() == []  # approved: no money yet
    shoot(page, "refund-03-approved")

    # And a day later it pays: Refunded, the amount in the drawer, one credit in its ledger
    world_forward(control, hours=25)
    sync_later(hours=4)
    counts = refund_tab(page)
    assert (counts["refund"], counts["in_review"], counts["approved"], counts["refunded"]) == (1, 0, 0, 1)
    drawer = open_drawer(page, number)
    expect(drawer.locator("[data-refund-state-label]")).to_have_text("Refunded")
    expect(drawer.locator("[data-refunded-amount]")).to_contain_text(f"{one_unit:.2f}")
    expect(drawer.locator("[data-refund-step]")).to_have_count(3)  # requested, approved, refunded
    assert [credit["refund_key"] for credit in control.credits()] == [refund.idempotency_key]
    shoot(page, "refund-04-refunded")

    # When the supplier stalls its reviews, a new request stays In Review past its day: flagged
    control.options("cj", shipped.sim_name, refund_stall="review")
    stalled = shipped_again(control, shipped)
    late = ask(stalled, units=1)
    assert wait_for(lambda: Refund.objects.filter(pk=late.pk, send_state=RefundSend.SENT).exists())
    world_forward(control, hours=30)
    sync_later(hours=2)
    late.refresh_from_db()
    assert late.state == RefundState.IN_REVIEW
    assert late.review_due_at is not None
    counts = refund_tab(page)
    assert (counts["in_review"], counts["overdue"]) == (1, 0)
    orders_flag_refund_overdue(now=late.review_due_at + timedelta(minutes=10))  # the beat's flag, a day on
    counts = refund_tab(page)
    assert (counts["in_review"], counts["overdue"]) == (1, 1)
    late_row = page.locator(f'tr[data-order-number="{stalled.order.number}"]')
    expect(late_row.locator('[data-refund-overdue="review"]')).to_have_text("Review overdue")
    page.locator("[data-overdue-filter]").click()
    expect(page).to_have_url(re.compile("overdue=1"))
    expect(page.locator("#order-rows tr[data-order-number]")).to_have_count(1)
    expect(late_row).to_be_visible()
    shoot(page, "refund-05-review-overdue")
    assert timezone.now() < late.review_due_at  # only the flag's clock was moved, as the beat would


def test_the_request_form_fits_a_phone(demo_data: None, new_context: Any, shoot: Any) -> None:
    order = demo_order()
    context = new_context(viewport=PHONE)
    page = context.new_page()
    log_in(page)
    page.goto(f"/orders/refunds/orders/{order.pk}/request/")
    expect(page.locator("[data-refund-form]")).to_be_visible()
    expect_no_sideways_scroll(page, PHONE["width"])
    shoot(page, "refund-06-phone")


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
