"""Placement in the order center, through the views: Place (one, the selected, the whole filtered tab),
the batch's progress, the row's problem and fix, Retry payment / Cancel / Re-place, margin and drawer.

Against the sandbox suppliers over real HTTP (the live server), a real Celery worker where a task
must run, and the sandbox's payment ledger to prove what was charged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.enums import Role
from accounts.models import Account, Membership
from orders.enums import OrderStatus, SubStatus, SupplierOrderState
from orders.models import Order
from suppliers.enums import PlacementOutcome, SourceAccountStatus, SupplierProvider
from suppliers.models import (
    AutoOrderRule,
    ExchangeRate,
    PlacementBatch,
    SourceAccount,
    SupplierOrder,
    SupplierOrderTransition,
)
from suppliers.presentation import placement_fix_url, supplier_order_url
from suppliers.services.batches import placement_result_run
from suppliers.services.placement import order_place
from suppliers.tests.placing import link_sku, merchant, order_to_place, source_account_connect
from tests.factories import SupplierOrderFactory, UserFactory
from tests.workers import running_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

CJ, AE = SupplierProvider.CJ, SupplierProvider.ALIEXPRESS
HTMX = {"HTTP_HX_REQUEST": "true"}
PLACE = "/orders/place/"


def staff_client(account: Account) -> Client:
    """A browser session of a staff member (not an owner): order work is theirs."""
    user = UserFactory()
    Membership.objects.create(user=user, account=account, role=Role.STAFF)
    client = Client()
    client.force_login(user)
    client.user = user  # type: ignore[attr-defined]
    return client


def charges(control: Any, key: str) -> list[dict[str, Any]]:
    return [charge for charge in control.ledger() if charge["idempotency_key"] == key]


def triggers(response: Any) -> dict[str, Any]:
    return json.loads(response.headers.get("HX-Trigger", "{}"))


def row_html(page: str, number: str) -> str:
    match = re.search(rf'<tr data-order-number="{re.escape(number)}".*?</tr>', page, re.S)
    assert match, f"no row for {number}"
    return match.group(0)


@pytest.fixture
def worker() -> Iterator[list[tuple[str, str]]]:
    with running_worker(["suppliers"]) as ran:
        yield ran


# --- Place ---------------------------------------------------------------------------------------


def test_place_one_order_shows_its_progress_and_places_it_once(control: Any, worker: Any) -> None:
    # given a CJ account, a linked order in New, and a staff member on the order center
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    order = order_to_place(store)
    client = staff_client(account)
    assert f"{PLACE}?ids={order.pk}" in row_html(client.get("/orders/").content.decode(), order.number)

    # when the row's Place is clicked (htmx)
    response = client.post(PLACE, {"ids": [order.pk], "next": "/orders/"}, **HTMX)

    # then a batch of one is shown, polling its progress
    assert response.status_code == 200
    batch = PlacementBatch.objects.get(account=account)
    assert (batch.total, batch.created_by_id) == (1, client.user.pk)  # type: ignore[attr-defined]
    page = response.content.decode()
    assert f'hx-get="/orders/place/batches/{batch.public_id}/?poll=1"' in page
    assert "Placing 1 order with its supplier" in triggers(response)["toast"]["message"]
    # and the worker places and pays it: once
    assert wait_for(lambda: PlacementBatch.objects.get(pk=batch.pk).finished_at is not None)
    supplier_order = SupplierOrder.objects.get(order=order)
    assert supplier_order.state == SupplierOrderState.PAID
    assert len(charges(control, supplier_order.idempotency_key)) == 1
    # and the poll that sees the end says so and tells the order center to redraw (counts too)
    poll = client.get(f"/orders/place/batches/{batch.public_id}/?poll=1", **HTMX)
    assert "hx-trigger" not in poll.content.decode()
    assert 'data-done="1" data-total="1" data-succeeded="1" data-failed="0"' in poll.content.decode()
    assert "orders-changed" in triggers(poll)
    assert "Placement finished for 1 order: 1 placed, 0 with a problem." in triggers(poll)["toast"]["message"]
    # and a second click on the same order sends nothing more
    client.post(PLACE, {"ids": [order.pk]}, **HTMX)
    assert PlacementBatch.objects.filter(account=account).count() == 1  # not in New any more: no batch
    assert len(charges(control, supplier_order.idempotency_key)) == 1


def test_an_unfinished_batch_shows_at_the_top_of_the_order_center_after_a_reload(control: Any) -> None:
    # given a batch of two orders, one done (no worker runs here)
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    first, second = order_to_place(store), order_to_place(store)
    client = staff_client(account)
    client.post(PLACE, {"ids": [first.pk, second.pk]}, **HTMX)
    batch = PlacementBatch.objects.get(account=account)
    placement_result_run(result_id=batch.results.get(order=first).pk)

    # when the order center is loaded again
    page = client.get("/orders/").content.decode()

    # then the batch is there with its progress, polling (and a link that works without JavaScript)
    assert f'data-batch="{batch.public_id}" data-done="1" data-total="2"' in page
    assert f'hx-get="/orders/place/batches/{batch.public_id}/?poll=1" hx-trigger="every 1s"' in page
    plain = client.get(f"/orders/place/batches/{batch.public_id}/")
    assert plain.status_code == 200
    assert "1 of 2 done" in plain.content.decode()
    assert f'href="/orders/place/batches/{batch.public_id}/" data-refresh' in plain.content.decode()
    # and another member of the account does not see someone else's batch at the top
    assert str(batch.public_id) not in staff_client(account).get("/orders/").content.decode()


def test_place_without_javascript_confirms_then_redirects_to_the_progress_page(control: Any) -> None:
    account, store = merchant()
    order = order_to_place(store)
    client = staff_client(account)

    confirm = client.get(PLACE, {"ids": [order.pk], "next": "/orders/?status=new"})
    assert confirm.status_code == 200
    assert "Place 1 order with its supplier?" in confirm.content.decode()
    assert not PlacementBatch.objects.exists()

    response = client.post(PLACE, {"ids": [order.pk], "next": "/orders/?status=new"})
    batch = PlacementBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"].startswith(f"/orders/place/batches/{batch.public_id}/?next=")


def test_the_whole_filtered_tab_is_placed_as_one_batch(control: Any) -> None:
    # given three orders in New, two of them matching the search, and one already in Payment
    account, store = merchant()
    wanted = [order_to_place(store, skus=("MUG-1",)), order_to_place(store, skus=("MUG-1",))]
    order_to_place(store, skus=("CAP-1",))
    client = staff_client(account)

    # when "Place all in this tab" is posted with the tab's search
    response = client.post(PLACE, {"scope": "filtered", "status": "new", "q": "mug-1"}, **HTMX)

    # then one batch holds exactly the filtered orders
    assert response.status_code == 200
    batch = PlacementBatch.objects.get()
    assert sorted(batch.results.values_list("order_id", flat=True)) == sorted(order.pk for order in wanted)
    # and the order center's own link carries the same filters for the no-JavaScript path
    page = client.get("/orders/", {"status": "new", "q": "mug-1"}).content.decode()
    assert "/orders/place/?scope=filtered&amp;status=new&amp;q=mug-1" in page


def test_a_tab_too_large_to_place_at_once_says_so_and_places_nothing(control: Any, settings: Any) -> None:
    settings.PLACEMENT_MAX_BATCH = 2
    account, store = merchant()
    for _ in range(3):
        order_to_place(store)
    client = staff_client(account)

    response = client.post(PLACE, {"scope": "filtered", "status": "new"})
    htmx = client.post(PLACE, {"scope": "filtered", "status": "new"}, **HTMX)

    assert response.status_code == 400
    assert "more than 2 orders" in response.content.decode()
    assert "more than 2 orders" in triggers(htmx)["toast"]["message"]
    assert htmx.headers["HX-Reswap"] == "none"
    assert not PlacementBatch.objects.exists()


def test_only_new_can_be_placed_as_a_tab(control: Any) -> None:
    account, _store = merchant()
    response = staff_client(account).post(PLACE, {"scope": "filtered", "status": "payment"})
    assert response.status_code == 400
    assert "Only orders in New can be placed." in response.content.decode()
    assert not PlacementBatch.objects.exists()


def test_another_tenants_orders_and_batches_are_not_found(control: Any) -> None:
    account, store = merchant("Tenant A")
    other, other_store = merchant("Tenant B")
    own, foreign = order_to_place(store), order_to_place(other_store)
    client = staff_client(account)
    theirs = staff_client(other)
    theirs.post(PLACE, {"ids": [foreign.pk]})
    foreign_batch = PlacementBatch.objects.get(account=other)

    for response in (
        client.get(PLACE, {"ids": [foreign.pk]}),
        client.post(PLACE, {"ids": [foreign.pk]}),
        client.post(PLACE, {"ids": [own.pk, foreign.pk]}, **HTMX),
        client.post(PLACE, {"scope": "filtered", "status": "new", "store": other_store.pk}),
        client.get(f"/orders/place/batches/{foreign_batch.public_id}/"),
        client.get("/orders/place/batches/not-a-uuid/"),
        client.post(f"/orders/place/{foreign.pk}/retry-payment/"),
        client.post(f"/orders/place/{foreign.pk}/cancel/"),
        client.post(f"/orders/place/{foreign.pk}/replace/"),
        client.get(f"/orders/place/{foreign.pk}/cell/"),
    ):
        assert response.status_code == 404
    assert PlacementBatch.objects.filter(account=account).count() == 0
    assert Order.objects.get(pk=foreign.pk).status == OrderStatus.NEW


def test_bad_input_is_a_clear_error_and_csrf_is_checked(control: Any) -> None:
    account, store = merchant()
    order = order_to_place(store)
    client = staff_client(account)
    assert "Select at least one order." in client.post(PLACE, {}).content.decode()
    assert client.post(PLACE, {"ids": ["x"]}).status_code == 400
    assert client.post(PLACE, {"scope": "filtered", "status": "new", "date_from": "soon"}).status_code == 400
    assert client.get(f"/orders/place/{order.pk}/cell/?since=abc").status_code == 200

    checked = Client(enforce_csrf_checks=True)
    checked.force_login(client.user)  # type: ignore[attr-defined]
    assert checked.post(PLACE, {"ids": [order.pk]}).status_code == 403
    assert checked.post(f"/orders/place/{order.pk}/retry-payment/").status_code == 403
    assert not PlacementBatch.objects.exists()


def test_anonymous_users_are_sent_to_log_in(control: Any) -> None:
    _account, store = merchant()
    order = order_to_place(store)
    response = Client().post(PLACE, {"ids": [order.pk]})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not PlacementBatch.objects.exists()


# --- The row: problem and fix ----------------------------------------------------------------


def test_a_blocked_order_shows_the_reason_on_its_row(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    order = order_to_place(store, address={"ship_name": "Ana", "ship_address1": "1 Main St", "ship_country_code": "US"})
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.BLOCKED

    row = row_html(staff_client(account).get("/orders/").content.decode(), order.number)

    order.refresh_from_db()
    assert f'data-placement-issue="{order.placement_issue}"' in row
    assert order.placement_issue_message.split(".")[0] in row
    fix = placement_fix_url(order.placement_issue_fix)
    assert (f'href="{fix}" data-fix' in row) if fix else ("data-fix" not in row)


def test_the_fix_link_is_reversed_from_the_stored_view_or_left_out() -> None:
    assert placement_fix_url({"view": "orders:detail", "args": [7], "query": ""}) == "/orders/7/"
    assert placement_fix_url({"view": "orders:center", "args": [], "query": "status=new"}) == "/orders/?status=new"
    assert placement_fix_url({"view": "suppliers:no_such_page", "args": [], "query": "x=1"}) == ""
    assert placement_fix_url(None) == ""
    assert placement_fix_url({"view": 3}) == ""


def test_the_view_order_links_go_to_the_suppliers_pages() -> None:
    assert supplier_order_url(SupplierOrder(provider=AE, external_order_id="8190000000000001")) == (
        "https://www.aliexpress.com/p/order/detail.html?orderId=8190000000000001"
    )
    assert supplier_order_url(SupplierOrder(provider=CJ, external_order_id="CJ 1/2")) == (
        "https://www.cjdropshipping.com/my.html#/order/detail?orderId=CJ%201%2F2"
    )
    assert supplier_order_url(SupplierOrder(provider=SupplierProvider.TEMU, external_order_id="T-1")) == ""
    assert supplier_order_url(SupplierOrder(provider=AE, external_order_id="")) == ""


# --- Payment tab -----------------------------------------------------------------------------


def payment_failed_order(control: Any, provider: str = CJ) -> tuple[Account, Order, SupplierOrder, SourceAccount]:
    account, store = merchant()
    source = source_account_connect(control, account, provider)
    link_sku(account, "EB-1", provider)
    if provider == CJ:
        control.options("cj", source.name, balance="1.00")
    else:
        control.options(provider, source.name, payment_failure="card_declined")
    order = order_to_place(store)
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.PAYMENT_FAILED
    return account, Order.objects.get(pk=order.pk), SupplierOrder.objects.get(order=order), source


def test_retry_payment_pays_once_even_when_clicked_twice(control: Any, worker: Any) -> None:
    # given an order whose CJ payment failed for lack of balance
    account, order, supplier_order, source = payment_failed_order(control)
    client = staff_client(account)
    row = row_html(client.get("/orders/", {"status": "payment"}).content.decode(), order.number)
    assert 'data-action="retry-payment"' in row
    assert 'data-supplier-failure="payment_failed"' in row
    # when the balance is raised and Retry payment is clicked twice
    control.options("cj", source.name, balance="500.00")
    first = client.post(f"/orders/place/{order.pk}/retry-payment/", **HTMX)
    client.post(f"/orders/place/{order.pk}/retry-payment/", **HTMX)

    # then the row's cell watches the payment, and the worker pays: once
    assert first.status_code == 200
    assert f'hx-get="/orders/place/{order.pk}/cell/?poll=1&amp;since=' in first.content.decode()
    assert wait_for(lambda: SupplierOrder.objects.get(pk=supplier_order.pk).state == SupplierOrderState.PAID)
    paid_tasks = lambda: [name for name, _thread in worker].count("suppliers.pay_supplier_order")  # noqa: E731
    assert wait_for(lambda: paid_tasks() == 2), worker  # the second task found nothing to pay
    assert len(charges(control, supplier_order.idempotency_key)) == 1
    order.refresh_from_db()
    assert (order.status, order.sub_status) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)
    # and the watching cell stops and has the order center redraw
    cell = client.get(f"/orders/place/{order.pk}/cell/?poll=1&since=1", **HTMX)
    assert "hx-trigger" not in cell.content.decode()
    assert "orders-changed" in triggers(cell)


def test_a_paying_order_shows_paying(control: Any) -> None:
    account, order, supplier_order, _source = payment_failed_order(control)
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(
        state=SupplierOrderState.PAYING, in_flight_until=timezone.now() + timedelta(minutes=1)
    )
    row = row_html(staff_client(account).get("/orders/", {"status": "payment"}).content.decode(), order.number)
    assert 'data-placement-state="paying"' in row
    assert 'data-action="retry-payment"' not in row
    assert f'hx-get="/orders/place/{order.pk}/cell/?poll=1"' in row


def test_retry_with_nothing_to_pay_says_so(control: Any) -> None:
    account, store = merchant()
    order = order_to_place(store)
    response = staff_client(account).post(f"/orders/place/{order.pk}/retry-payment/")
    assert response.status_code == 400
    assert "has nothing waiting for payment" in response.content.decode()


def test_cancel_cancels_at_cj(control: Any) -> None:
    account, order, supplier_order, _source = payment_failed_order(control)
    client = staff_client(account)

    response = client.post(f"/orders/place/{order.pk}/cancel/", **HTMX)

    assert response.status_code == 200
    assert triggers(response)["toast"]["message"].startswith("Canceled at the supplier")
    assert SupplierOrder.objects.get(pk=supplier_order.pk).state == SupplierOrderState.CANCELED


def test_cancel_says_how_when_the_supplier_has_no_cancel_call(control: Any) -> None:
    account, order, supplier_order, _source = payment_failed_order(control, "aliexpress")
    client = staff_client(account)
    assert "Cancel the supplier order of" in client.get(f"/orders/place/{order.pk}/cancel/").content.decode()

    response = client.post(f"/orders/place/{order.pk}/cancel/", **HTMX)

    assert response.status_code == 200
    assert triggers(response)["toast"]["message"].startswith("AliExpress has no cancel call: cancel it in")
    assert "orders-changed" in triggers(response)
    assert SupplierOrder.objects.get(pk=supplier_order.pk).state == SupplierOrderState.PAYMENT_FAILED


def test_replace_puts_the_order_back_in_new_keeping_the_old_supplier_order(control: Any) -> None:
    account, order, supplier_order, _source = payment_failed_order(control)
    client = staff_client(account)
    assert 'data-action="replace"' in row_html(
        client.get("/orders/", {"status": "payment"}).content.decode(), order.number
    )

    response = client.post(f"/orders/place/{order.pk}/replace/", {"next": "/orders/?status=payment"})

    assert response.status_code == 302
    assert response["Location"] == "/orders/?status=payment"
    order.refresh_from_db()
    assert (order.status, SupplierOrder.objects.get(pk=supplier_order.pk).state) == (
        OrderStatus.NEW,
        SupplierOrderState.REPLACED,
    )
    assert 'data-action="place"' in row_html(client.get("/orders/").content.decode(), order.number)
    # a second click changes nothing more
    client.post(f"/orders/place/{order.pk}/replace/")
    assert SupplierOrder.objects.filter(order=order).count() == 1


# --- Margin, notes and the drawer ---------------------------------------------------------------


def test_the_row_shows_margin_and_the_rate_and_the_drawer_each_supplier_order(control: Any) -> None:
    # given an order of 20.00 EUR paid at CJ in USD, with a known USD→EUR rate
    account, store = merchant()
    Order.objects.filter(store=store).update(currency="EUR")
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    ExchangeRate.objects.create(
        from_currency="USD", to_currency="EUR", rate=Decimal("0.5"), source="ECB", as_of=timezone.now()
    )
    order = order_to_place(store)
    Order.objects.filter(pk=order.pk).update(currency="EUR")
    client = staff_client(account)
    client.post(PLACE, {"ids": [order.pk]})
    placement_result_run(result_id=PlacementBatch.objects.get().results.get().pk)
    order.refresh_from_db()
    supplier_order = SupplierOrder.objects.get(order=order)
    assert supplier_order.state == SupplierOrderState.PAID
    assert order.supplier_cost == (supplier_order.cost * Decimal("0.5")).quantize(Decimal("0.01"))

    row = row_html(client.get("/orders/", {"status": "payment"}).content.decode(), order.number)
    drawer = client.get(f"/orders/{order.pk}/", **HTMX).content.decode()

    # then the margin is the total less the supplier cost, in the store's currency, with the rate
    assert f"<bdi>{order.total - order.supplier_cost} EUR</bdi>" in row
    assert "1 USD = 0.5 EUR (ECB" in row
    # and the drawer shows the supplier order: link, amounts, history with who acted
    assert f'href="{supplier_order_url(supplier_order)}"' in drawer
    assert f"{supplier_order.cost} USD" in drawer
    assert "Placing → Paid" in drawer or "Placing</strong>" in drawer
    assert client.user.get_username() in drawer  # type: ignore[attr-defined]


def test_a_row_without_a_supplier_cost_shows_a_dash_for_the_margin(control: Any) -> None:
    account, store = merchant()
    order = order_to_place(store)
    row = row_html(staff_client(account).get("/orders/").content.decode(), order.number)
    assert '<td class="c-margin num" data-label="Margin" data-margin><span class="muted">—</span>' in row


def test_orders_placed_with_a_replaced_account_say_they_are_no_longer_synced(control: Any) -> None:
    account, order, _supplier_order, source = payment_failed_order(control)
    SourceAccount.objects.filter(pk=source.pk).update(status=SourceAccountStatus.REPLACED)
    client = staff_client(account)
    row = row_html(client.get("/orders/", {"status": "payment"}).content.decode(), order.number)
    drawer = client.get(f"/orders/{order.pk}/", **HTMX).content.decode()
    assert "Placed with a previous account: no longer synced" in row
    assert "Placed with a previous account: no longer synced" in drawer


def test_a_channel_cancel_after_payment_asks_for_a_refund_at_the_supplier(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    order = order_to_place(store)
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.PAID
    Order.objects.filter(pk=order.pk).update(channel_canceled=True, status=OrderStatus.CANCELED)
    client = staff_client(account)
    row = row_html(client.get("/orders/", {"status": "canceled"}).content.decode(), order.number)
    drawer = client.get(f"/orders/{order.pk}/", **HTMX).content.decode()
    message = "Canceled by the customer after payment: ask the supplier for a refund."
    assert message in row
    assert message in drawer


def test_the_drawer_history_names_the_rule_or_the_user_and_temu_is_labelled_simulated() -> None:
    account, store = merchant()
    order = order_to_place(store)
    rule = AutoOrderRule.objects.create(account=account, store=store, enabled=True)
    client = staff_client(account)
    supplier_order = SupplierOrderFactory(
        order=order, provider=SupplierProvider.TEMU, state=SupplierOrderState.PLACED, pay_by=timezone.now()
    )
    SupplierOrderTransition.objects.create(
        supplier_order=supplier_order, from_state="draft", to_state="placing", rule=rule
    )
    SupplierOrderTransition.objects.create(
        supplier_order=supplier_order,
        from_state="placing",
        to_state="placed",
        actor=client.user,  # type: ignore[attr-defined]
    )

    drawer = client.get(f"/orders/{order.pk}/", **HTMX).content.decode()

    assert "Temu (simulated) · Placed, not paid" in drawer
    assert f"auto-order rule of {store.name}" in drawer
    assert client.user.get_username() in drawer  # type: ignore[attr-defined]
    assert "Pay by" in drawer
    assert "data-supplier-link" not in drawer  # Temu has no buyer site to link to


def test_an_unlinked_line_and_a_missing_account_link_to_their_fix(control: Any) -> None:
    # given an order with an unlinked line, and another whose supplier has no account
    account, store = merchant()
    link_sku(account, "EB-1", CJ)
    unlinked = order_to_place(store, skus=("NOPE-1",))
    no_account = order_to_place(store)
    for order in (unlinked, no_account):
        assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.BLOCKED

    page = staff_client(account).get("/orders/").content.decode()

    line_id = unlinked.lines.get().pk
    assert f'href="/links/new/?order_line={line_id}" data-fix>Link product</a>' in row_html(page, unlinked.number)
    assert 'href="/suppliers/" data-fix>Connect supplier</a>' in row_html(page, no_account.number)
