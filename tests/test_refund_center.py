"""Refunds in the order center's lists and drawer: the Refund tab's Overdue filter with its count
(one COUNT over ``order_refund_overdue_idx``, the same queries for few or many rows), the row's
badge and "Request refund", the drawer's Refunds section, the margin with refunds both ways, and
support's admin pages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.enums import RefundSend, RefundState, RefundVia, SubStatus
from orders.models import CustomerRefund, Order, Refund
from orders.selectors import order_refund_overdue_counts
from suppliers.services.refunds import RefundAskLine, orders_flag_refund_overdue, refund_decision_record, refund_request
from tests.factories import ALL_STATES, RefundFactory, UserFactory, order_in_state
from tests.pages import HTMX, order_numbers, tags, text
from tests.refund_world import shipped_with_paid_supplier_order
from tests.test_order_center_tracking_stalled import explain, many_quiet_orders

pytestmark = pytest.mark.django_db


def ask(order: Order, supplier_order: Any, *, quantity: int = 2, amount: str = "20.00", at: Any = None) -> Refund:
    first = supplier_order.lines.order_by("id").first()
    return refund_request(
        account=order.account,
        order_id=order.pk,
        supplier_order_id=supplier_order.pk,
        lines=[RefundAskLine(supplier_order_line_id=first.pk, quantity=quantity)],
        amount=Decimal(amount),
        reason="damaged",
        note="Cracked",
        evidence=["https://img.example.com/a.jpg"],
        now=at,
    )


def overdue_chip(response: Any) -> dict[str, str]:
    chips = [tag.attrs for tag in tags(response) if "data-overdue-filter" in tag.attrs]
    assert len(chips) == 1, chips
    return chips[0]


def refund_tab(client: Client, **params: Any) -> Any:
    return client.get("/orders/", {"status": "refund", **params})


def late_orders(store: Any, count: int) -> list[Order]:
    """``count`` orders in the Refund tab whose review is a day late, and one on time."""
    day_ago = timezone.now() - timedelta(days=1, hours=1)
    late = []
    for index in range(count):
        order, supplier_order = shipped_with_paid_supplier_order(store, number=f"#L{index}")
        ask(order, supplier_order, at=day_ago)
        late.append(order)
    on_time, supplier_order = shipped_with_paid_supplier_order(store, number="#ONTIME")
    ask(on_time, supplier_order)
    orders_flag_refund_overdue(now=timezone.now())
    return late


def test_the_overdue_filter_shows_only_late_refunds_with_its_count_and_a_badge(
    member_client: Client, store: Any
) -> None:
    late = late_orders(store, 2)
    response = refund_tab(member_client)
    chip = overdue_chip(response)
    assert chip["data-count"] == "2"
    assert set(order_numbers(response)) == {"#L0", "#L1", "#ONTIME"}
    assert text(response).count('data-refund-overdue="review"') == 2
    assert "Review overdue" in text(response)
    filtered = member_client.get(chip["href"])
    assert sorted(order_numbers(filtered)) == sorted(order.number for order in late)
    assert overdue_chip(filtered)["aria-current"] == "true"
    # the other tabs show no overdue pill and no count query
    assert not [tag for tag in tags(member_client.get("/orders/?status=new")) if "data-overdue-filter" in tag.attrs]


def test_money_overdue_after_approval(member_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    refund = ask(order, supplier_order)
    refund_decision_record(refund_id=refund.pk, state=RefundState.APPROVED, at=timezone.now() - timedelta(days=2))
    orders_flag_refund_overdue(now=timezone.now())
    row = text(refund_tab(member_client))
    assert 'data-refund-overdue="payment"' in row
    assert "Money overdue" in row
    drawer = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    assert 'data-refund-overdue="payment"' in drawer


@pytest.mark.parametrize("value", ["0", "yes", "2", "true"])
def test_a_bad_overdue_value_is_a_bad_request(member_client: Client, store: Any, value: str) -> None:
    response = refund_tab(member_client, overdue=value)
    assert response.status_code == 400


def test_the_overdue_count_is_one_query_from_the_partial_index(store: Any) -> None:
    # given an account where most orders have no late refund, as PostgreSQL's statistics say
    late_orders(store, 3)
    many_quiet_orders(store, 3000)
    with CaptureQueriesContext(connection) as queries:
        counts = order_refund_overdue_counts(account=store.account)
    assert counts["refund"] == 3
    assert counts["refund/in_review"] == 3
    assert len(queries) == 1
    assert "order_refund_overdue_idx" in explain(queries.captured_queries[0]["sql"])


def count_queries(client: Client, url: str, **extra: Any) -> int:
    client.get(url, **extra)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return len(queries)


def test_the_refund_tab_runs_the_same_queries_for_few_or_many_late_orders(
    member_client: Client, store: Any, settings: Any
) -> None:
    settings.ORDER_CENTER_PAGE_SIZE = 50
    late_orders(store, 1)
    few = count_queries(member_client, "/orders/?status=refund")
    few_filtered = count_queries(member_client, "/orders/?status=refund&overdue=1")
    for index in range(6):
        order, supplier_order = shipped_with_paid_supplier_order(store, number=f"#M{index}")
        ask(order, supplier_order, at=timezone.now() - timedelta(days=2))
        CustomerRefund.objects.create(
            account=order.account,
            store=store,
            order=order,
            channel_refund_id=f"M{index}",
            amount=Decimal("5.00"),
            currency="USD",
            refunded_at=timezone.now(),
        )
    orders_flag_refund_overdue(now=timezone.now())
    many = count_queries(member_client, "/orders/?status=refund")
    many_filtered = count_queries(member_client, "/orders/?status=refund&overdue=1")
    assert few == many
    assert few_filtered == many_filtered
    assert many <= 18


def test_the_drawer_shows_each_refund_with_lines_reason_evidence_timeline_and_due_times(
    member_client: Client, store: Any
) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    refund = ask(order, supplier_order)
    drawer = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    assert f'data-refund="{refund.pk}"' in drawer
    assert "20.00 USD" in drawer
    assert "Wireless Earbuds × 2" in drawer
    assert "Damaged" in drawer
    assert "Cracked" in drawer
    assert 'href="https://img.example.com/a.jpg"' in drawer
    assert "data-review-due" in drawer
    assert drawer.count("data-refund-step") == 1  # requested
    refund_decision_record(refund_id=refund.pk, state=RefundState.REJECTED, rejection_reason="Photos unclear")
    drawer = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    assert "Photos unclear" in drawer
    assert "data-rejection-reason" in drawer
    assert drawer.count("data-refund-step") == 2
    assert "data-outcome-form" not in drawer  # decided: nothing left to record


def test_the_row_offers_request_refund_only_where_a_refund_may_be_asked(member_client: Client, store: Any) -> None:
    order, _supplier_order = shipped_with_paid_supplier_order(store, number="#PAID")
    order_in_state(SubStatus.AWAITING_FULFILLMENT, store=store, number="#NOTYET")
    shipment = text(member_client.get("/orders/?status=shipment"))
    assert f"/orders/refunds/orders/{order.pk}/request/" in shipment
    assert shipment.count('data-action="request-refund"') == 1
    assert 'data-action="request-refund"' not in text(member_client.get("/orders/?status=payment"))


def test_the_margin_counts_customer_refunds_out_and_supplier_refunds_in(member_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store, fx_rate="2")  # 30.00 supplier = 60.00 store
    Order.objects.filter(pk=order.pk).update(total=Decimal("100.00"), supplier_cost=Decimal("60.00"))
    refund = ask(order, supplier_order)
    refund_decision_record(refund_id=refund.pk, state=RefundState.REFUNDED, refunded_amount=Decimal("7.50"))
    CustomerRefund.objects.create(
        account=order.account,
        store=store,
        order=order,
        channel_refund_id="C1",
        amount=Decimal("25.00"),
        currency="USD",
        refunded_at=timezone.now(),
    )
    # 100 − 60 − 25 + 7.50 × 2
    drawer = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    assert "<dd data-margin><bdi>30.00 USD</bdi></dd>" in drawer
    row = text(member_client.get("/orders/?status=refund"))
    assert "<bdi>30.00 USD</bdi>" in row


@pytest.fixture
def support(client: Client) -> Client:
    client.force_login(UserFactory(username="support", is_staff=True, is_superuser=True))
    return client


def test_support_sees_refunds_filters_them_and_sends_failed_ones_again(
    support: Client, store: Any, other_store: Any
) -> None:
    late_orders(store, 1)
    order, supplier_order = shipped_with_paid_supplier_order(other_store, number="#CJ", provider="cj")
    failed = RefundFactory(
        order=order, supplier_order=supplier_order, via=RefundVia.API, send_state=RefundSend.FAILED, external_id="D-77"
    )
    CustomerRefund.objects.create(
        account=order.account,
        store=other_store,
        order=order,
        channel_refund_id="SHOP-1",
        amount=Decimal("5.00"),
        currency="USD",
        refunded_at=timezone.now(),
    )
    assert support.get("/admin/orders/refund/").status_code == 200
    overdue = text(support.get("/admin/orders/refund/?overdue=review"))
    assert "#L0" in overdue
    assert "#CJ" not in overdue
    assert "#CJ" in text(support.get("/admin/orders/refund/?send_state=failed"))
    assert "#CJ" in text(support.get("/admin/orders/refund/?q=D-77"))
    assert "#L0" in text(support.get("/admin/orders/refund/?q=%23L0"))
    change = support.get(f"/admin/orders/refund/{failed.pk}/change/")
    assert change.status_code == 200
    # what support needs to tell a send in progress from a lost one: the claim and the create's time
    assert all(label in text(change) for label in ("Send claim", "Create sent at", "Held until"))
    assert "#L0" in text(support.get("/admin/orders/order/?refund_overdue=yes"))
    assert "SHOP-1" in text(support.get("/admin/orders/customerrefund/"))
    response = support.post(
        "/admin/orders/refund/",
        {"action": "send_again", "_selected_action": [str(pk) for pk in Refund.objects.values_list("pk", flat=True)]},
        follow=True,
    )
    assert response.status_code == 200
    failed.refresh_from_db()
    assert (failed.send_state, failed.send_attempts) == (RefundSend.PENDING, 0)
    assert "1 request sent again." in text(response)
    assert "were not waiting to be sent again" in text(response)
    # read-only: no edits of the money
    assert support.post(f"/admin/orders/refund/{failed.pk}/change/", {"amount": "999"}).status_code == 403


def _two_supplier_orders(store: Any) -> tuple[Order, Any, Any]:
    """An order of total 200.00 whose first supplier order (paid 30.00 at rate 2) the supplier
    canceled, replaced by a second one paid 40.00 at rate 2: ``supplier_cost`` counts only the
    current one (80.00)."""
    from suppliers.models import SupplierOrder
    from suppliers.services.records import order_after_supplier_change

    order, canceled = shipped_with_paid_supplier_order(store, fx_rate="2")
    SupplierOrder.objects.filter(pk=canceled.pk).update(state="canceled")
    current = SupplierOrder.objects.get(pk=canceled.pk)
    current.pk = None
    current.state = "paid"
    current.idempotency_key = f"{canceled.idempotency_key}-2"
    current.external_order_id = "SECOND"
    current.cost = Decimal("40.00")
    current.save()
    Order.objects.filter(pk=order.pk).update(total=Decimal("200.00"))
    order_after_supplier_change(order_id=order.pk)
    order.refresh_from_db()
    assert order.supplier_cost == Decimal("80.00")
    return order, canceled, current


def _margin_of(order: Order) -> Decimal | None:
    from orders.selectors import order_get
    from suppliers.presentation import margin

    return margin(order_get(account=order.account, order_id=order.pk))


def test_the_margin_counts_a_canceled_supplier_orders_cost_with_its_refund(store: Any) -> None:
    order, canceled, current = _two_supplier_orders(store)
    assert _margin_of(order) == Decimal("120.00")  # 200 − 80
    refund = RefundFactory(
        order=order, supplier_order=canceled, state=RefundState.REFUNDED, amount=Decimal("30.00"), currency="USD"
    )
    Refund.objects.filter(pk=refund.pk).update(refunded_amount=Decimal("30.00"))
    # paid 30 (60 in the store's currency), refunded 30 (60): nothing won, nothing lost
    assert _margin_of(order) == Decimal("120.00")
    Refund.objects.filter(pk=refund.pk).update(refunded_amount=Decimal("20.00"))
    assert _margin_of(order) == Decimal("100.00")  # 200 − 80 − 60 + 40: the 10 not refunded is lost
    # a refund of the current supplier order adds back on top of its counted cost
    second = RefundFactory(
        order=order, supplier_order=current, state=RefundState.REFUNDED, amount=Decimal("5.00"), currency="USD"
    )
    Refund.objects.filter(pk=second.pk).update(refunded_amount=Decimal("5.00"))
    assert _margin_of(order) == Decimal("110.00")
    # a refund in another currency than its supplier order's: unknown, never a guess
    Refund.objects.filter(pk=second.pk).update(currency="EUR")
    assert _margin_of(order) is None
    Refund.objects.filter(pk=second.pk).update(currency="USD")
    # the canceled supplier order's rate is missing: its cost and refund cannot be counted
    canceled.__class__.objects.filter(pk=canceled.pk).update(fx_rate=None)
    assert _margin_of(order) is None


def test_only_final_customer_refunds_count_in_the_margin_and_are_offered(member_client: Client, store: Any) -> None:
    order, _supplier_order = shipped_with_paid_supplier_order(store)
    Order.objects.filter(pk=order.pk).update(total=Decimal("100.00"), supplier_cost=Decimal("30.00"))
    case = order.lines.get(sku="CS-1")
    made = {}
    for channel_id, status in (("DONE", "success"), ("WAIT", "pending"), ("NO", "failed")):
        made[status] = CustomerRefund.objects.create(
            account=order.account,
            store=store,
            order=order,
            channel_refund_id=channel_id,
            amount=Decimal("10.00"),
            currency="EUR" if status == "failed" else "USD",  # not counted, so its currency does not matter
            status=status,
            lines=[{"order_line_id": case.pk, "channel_line_id": "L2", "quantity": 1, "amount": "9.00"}],
            refunded_at=timezone.now(),
        )
    assert _margin_of(order) == Decimal("60.00")  # 100 − 30 − 10 (the pending and failed ones not counted)
    drawer = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    assert f"?customer_refund={made['success'].pk}" in drawer
    assert f"?customer_refund={made['pending'].pk}" not in drawer
    assert f"?customer_refund={made['failed'].pk}" not in drawer
    assert f'data-customer-refund-pending="{made["pending"].pk}"' in drawer
    assert f'data-customer-refund-pending="{made["failed"].pk}"' in drawer


@pytest.mark.parametrize(
    ("status", "final"),
    [
        ("", True),
        ("success", True),
        ("Completed", True),
        ("refunded", True),
        ("succeeded", True),
        ("RETURN_OR_REFUND_REQUEST_COMPLETE", True),
        ("pending", False),
        ("failed", False),
        ("cancelled", False),
        ("processing", False),
        ("something new", False),
    ],
)
def test_customer_refund_is_final(status: str, final: bool) -> None:
    from orders.services.customer_refund_status import customer_refund_is_final

    assert customer_refund_is_final(status) is final


def test_a_decision_to_a_state_this_version_does_not_know_shows_no_raw_code(store: Any) -> None:
    from orders.models import OrderEvent
    from orders.selectors import order_get
    from suppliers.presentation_refunds import refund_cards

    order, supplier_order = shipped_with_paid_supplier_order(store)
    refund = ask(order, supplier_order)
    OrderEvent.objects.create(
        order=order, type="refund", parameters={"refund_id": refund.pk, "what": "decided", "state": "escalated_xyz"}
    )
    (card,) = refund_cards(order_get(account=order.account, order_id=order.pk))
    titles = [step.title for step in card.steps]
    assert "escalated_xyz" not in titles
    assert titles[-1] == "Decision"


@pytest.mark.parametrize(("status", "sub_status"), ALL_STATES)
def test_the_drawer_offers_a_request_exactly_where_the_form_has_one(store: Any, status: str, sub_status: str) -> None:
    """One rule (``order_at_refund_point`` and ``supplier_order_refundable``) read two ways: from
    the prefetched rows (the row and the drawer) and from the database (the form)."""
    from orders.selectors import order_get
    from suppliers.presentation_refunds import refund_request_offered
    from suppliers.services.refunds import refundable_supplier_orders

    order, supplier_order = shipped_with_paid_supplier_order(store)
    Order.objects.filter(pk=order.pk).update(status=status, sub_status=sub_status)
    loaded = order_get(account=order.account, order_id=order.pk)
    assert refund_request_offered(loaded) == bool(refundable_supplier_orders(order=loaded))


def test_the_overdue_count_follows_the_chosen_pill(member_client: Client, store: Any) -> None:
    late = late_orders(store, 3)
    refund = Refund.objects.get(order=late[0])
    refund_decision_record(refund_id=refund.pk, state=RefundState.APPROVED, at=timezone.now() - timedelta(days=2))
    orders_flag_refund_overdue(now=timezone.now())
    assert overdue_chip(refund_tab(member_client))["data-count"] == "3"
    for sub_status, expected in (("approved", 1), ("in_review", 2), ("refunded", 0)):
        chip = overdue_chip(refund_tab(member_client, sub_status=sub_status))
        assert chip["data-count"] == str(expected)
        assert len(order_numbers(member_client.get(chip["href"]))) == expected  # what the filter lists
