"""Refunds in the order center: the request form (roles, tenant isolation, CSRF, hostile ids, the
service's refusals at their field), the prefill from a customer refund, the merchant's outcome and
the Retry of a failed delivery."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from orders.enums import OrderStatus, RefundSend, RefundState, RefundVia, SubStatus
from orders.models import CustomerRefund, OrderEvent, Refund, RefundLine
from tests.factories import RefundFactory, UserFactory
from tests.pages import HTMX, tags, text
from tests.refund_world import shipped_with_paid_supplier_order

pytestmark = pytest.mark.django_db


def request_url(order: Any) -> str:
    return f"/orders/refunds/orders/{order.pk}/request/"


def form_data(supplier_order: Any, /, **fields: Any) -> dict[str, Any]:
    lines = list(supplier_order.lines.order_by("id"))
    prefix = f"so{supplier_order.pk}"
    data = {
        "supplier_order": supplier_order.pk,
        f"{prefix}-qty_{lines[0].pk}": 2,
        f"{prefix}-qty_{lines[1].pk}": 0,
        f"{prefix}-amount": "20.00",
        f"{prefix}-reason": "damaged",
        f"{prefix}-note": "Both arrived cracked",
        f"{prefix}-evidence": "https://img.example.com/1.jpg\nhttps://img.example.com/2.jpg",
    }
    data.update(
        {
            f"{prefix}-{name}" if name.startswith(("qty_", "amount", "reason", "note", "evidence")) else name: value
            for name, value in fields.items()
        }
    )
    return data


def test_the_form_shows_each_line_with_its_room_and_the_amount_capped(member_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    response = member_client.get(request_url(order))
    assert response.status_code == 200
    page = text(response)
    assert page.count("data-refund-line=") == 2
    assert "data-units-left>2 / 2<" in page
    assert "data-units-left>1 / 1<" in page
    # the amount is prefilled with the cap of every open unit: the whole 30.00 paid
    amount = next(tag for tag in tags(response) if tag.attrs.get("name") == f"so{supplier_order.pk}-amount")
    assert amount.attrs["value"] == "30.00"


def test_a_staff_member_asks_for_a_refund_and_sees_it_in_review(member_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    response = member_client.post(request_url(order), form_data(supplier_order))
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.pk}/"
    refund = Refund.objects.get(order=order)
    assert (refund.state, refund.amount, refund.reason, refund.via) == (
        RefundState.IN_REVIEW,
        Decimal("20.00"),
        "damaged",
        RefundVia.MERCHANT,
    )
    assert refund.evidence == ["https://img.example.com/1.jpg", "https://img.example.com/2.jpg"]
    assert [(part.order_line.title, part.quantity) for part in refund.lines.all()] == [("Wireless Earbuds", 2)]
    order.refresh_from_db()
    assert (order.status, order.sub_status) == (OrderStatus.REFUND, SubStatus.REFUND_IN_REVIEW)
    drawer = text(member_client.get(f"/orders/{order.pk}/"))
    assert "asked of AliExpress: in review" in drawer
    assert 'data-refund-state="in_review"' in drawer


def test_an_owner_may_ask_too(owner_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    assert owner_client.post(request_url(order), form_data(supplier_order)).status_code == 302
    assert Refund.objects.filter(order=order).count() == 1


def test_signed_out_is_sent_to_sign_in_and_nothing_is_written(client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    response = client.post(request_url(order), form_data(supplier_order))
    assert response.status_code == 302
    assert "/login" in response["Location"]
    assert not Refund.objects.exists()


def test_a_post_without_the_csrf_token_is_refused(user: Any, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(request_url(order), form_data(supplier_order)).status_code == 403
    assert not Refund.objects.exists()


def test_another_accounts_order_supplier_order_and_refund_are_not_found(
    member_client: Client, store: Any, other_store: Any
) -> None:
    theirs, their_supplier_order = shipped_with_paid_supplier_order(other_store, number="#9001")
    mine, my_supplier_order = shipped_with_paid_supplier_order(store)
    their_refund = RefundFactory(order=theirs, supplier_order=their_supplier_order, via=RefundVia.MERCHANT)
    assert member_client.get(request_url(theirs)).status_code == 404
    assert member_client.post(request_url(theirs), form_data(their_supplier_order)).status_code == 404
    # my order with their supplier order
    hostile = form_data(my_supplier_order, supplier_order=their_supplier_order.pk)
    assert member_client.post(request_url(mine), hostile).status_code == 404
    assert member_client.post(request_url(mine), form_data(my_supplier_order, supplier_order="1e9")).status_code == 404
    assert member_client.post(f"/orders/refunds/{their_refund.pk}/outcome/", {"outcome": "approved"}).status_code == 404
    assert member_client.post(f"/orders/refunds/{their_refund.pk}/retry/").status_code == 404
    assert member_client.get(f"{request_url(mine)}?customer_refund=abc").status_code == 404
    # digits that are not ASCII ("²" and "①" pass str.isdigit() but int() refuses them): 404, not 500
    for digit in ("²", "①", "1²"):
        assert member_client.get(f"{request_url(mine)}?customer_refund={digit}").status_code == 404
        assert (
            member_client.post(request_url(mine), form_data(my_supplier_order, supplier_order=digit)).status_code == 404
        )
    their_refund.refresh_from_db()
    assert their_refund.state == RefundState.IN_REVIEW
    assert Refund.objects.count() == 1


def test_a_second_open_request_on_the_same_lines_is_refused_at_the_lines(member_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    assert member_client.post(request_url(order), form_data(supplier_order)).status_code == 302
    response = member_client.post(request_url(order), form_data(supplier_order, amount="5.00"))
    assert response.status_code == 422
    assert "Wireless Earbuds is already in an open refund request" in text(response)
    assert "data-lines-error" in text(response)
    assert Refund.objects.count() == 1


def test_an_amount_above_what_was_paid_is_refused_at_the_amount(member_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    response = member_client.post(request_url(order), form_data(supplier_order, amount="20.01"))
    assert response.status_code == 422
    page = text(response)
    assert 'data-error-for="amount"' in page
    assert "At most 20.00 USD can be asked for these lines" in page
    assert not Refund.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "lots"}, "Enter a number"),
        ({"reason": "because"}, "Select a valid choice"),
        ({"evidence": "javascript:alert(1)"}, "Evidence links must be https://"),
        ({"reason": "other", "note": ""}, "Say in the note what is wrong"),
    ],
)
def test_bad_fields_come_back_with_their_message(
    member_client: Client, store: Any, fields: dict[str, str], message: str
) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    response = member_client.post(request_url(order), form_data(supplier_order, **fields))
    assert response.status_code == 422
    assert message in text(response)
    assert not Refund.objects.exists()


def test_no_line_chosen_is_refused(member_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    lines = list(supplier_order.lines.order_by("id"))
    response = member_client.post(request_url(order), form_data(supplier_order, **{f"qty_{lines[0].pk}": 0}))
    assert response.status_code == 422
    assert "Choose at least one line" in text(response)
    assert not Refund.objects.exists()
    assert not RefundLine.objects.exists()
    assert not OrderEvent.objects.filter(order=order, type="refund").exists()


def test_recalculate_sets_the_amount_to_the_cap_of_the_chosen_units(member_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    lines = list(supplier_order.lines.order_by("id"))
    data = form_data(supplier_order, **{f"qty_{lines[0].pk}": 1, "amount": "1.00"}, recalculate="1")
    response = member_client.post(request_url(order), data)
    assert response.status_code == 200
    amount = next(tag for tag in tags(response) if tag.attrs.get("name") == f"so{supplier_order.pk}-amount")
    assert amount.attrs["value"] == "10.00"
    assert not Refund.objects.exists()


def test_an_order_not_at_a_refundable_point_offers_no_form(member_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    supplier_order.__class__.objects.filter(pk=supplier_order.pk).update(paid_at=None)
    assert "data-not-refundable" in text(member_client.get(request_url(order)))
    response = member_client.post(request_url(order), form_data(supplier_order))
    assert response.status_code == 422
    assert not Refund.objects.exists()


def test_a_customer_refund_prefills_its_lines(member_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    case = order.lines.get(sku="CS-1")
    customer_refund = CustomerRefund.objects.create(
        account=order.account,
        store=store,
        order=order,
        channel_refund_id="R1",
        amount=Decimal("9.00"),
        currency="USD",
        lines=[{"order_line_id": case.pk, "channel_line_id": "L2", "quantity": 1, "amount": "9.00"}],
        refunded_at=order.placed_at,
    )
    drawer = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    assert f"?customer_refund={customer_refund.pk}" in drawer
    assert "Ask the supplier for a refund" in drawer
    response = member_client.get(f"{request_url(order)}?customer_refund={customer_refund.pk}")
    lines = list(supplier_order.lines.order_by("id"))
    values = {tag.attrs["name"]: tag.attrs.get("value") for tag in tags(response) if "name" in tag.attrs}
    prefix = f"so{supplier_order.pk}"
    assert (values[f"{prefix}-qty_{lines[0].pk}"], values[f"{prefix}-qty_{lines[1].pk}"]) == ("0", "1")
    assert values[f"{prefix}-amount"] == "10.00"
    assert "data-prefilled" in text(response)


def test_the_merchant_records_approved_then_refunded_for_a_supplier_without_an_api(
    member_client: Client, store: Any
) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    member_client.post(request_url(order), form_data(supplier_order))
    refund = Refund.objects.get()
    assert refund.via == RefundVia.MERCHANT
    # the provider's dispute page (AliExpress's is the suppliers helper's): shown as it is stored
    Refund.objects.filter(pk=refund.pk).update(dispute_url="https://dispute.example.com/123")
    drawer = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    assert 'href="https://dispute.example.com/123" target="_blank"' in drawer
    assert "Open the dispute at AliExpress" in drawer
    # a hostile stored link is never an href: only https:// ones are
    Refund.objects.filter(pk=refund.pk).update(
        dispute_url="javascript:alert(1)", evidence=["javascript:alert(2)", "http://img.example.com/a.jpg"]
    )
    drawer = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    assert "Open the dispute at AliExpress" not in drawer
    assert 'href="javascript:' not in drawer
    assert 'href="http://img.example.com' not in drawer
    assert drawer.count("data-evidence-not-linked") == 2
    Refund.objects.filter(pk=refund.pk).update(dispute_url="https://dispute.example.com/123")
    outcome = f"/orders/refunds/{refund.pk}/outcome/"
    # rejected without a reason: the form again
    response = member_client.post(outcome, {"outcome": "rejected"}, **HTMX)
    assert response.status_code == 422
    assert "Say why the supplier rejected it." in text(response)
    refund.refresh_from_db()
    assert (refund.state, refund.rejection_reason, refund.decided_at) == (RefundState.IN_REVIEW, "", None)
    # more than asked
    response = member_client.post(outcome, {"outcome": "refunded", "refunded_amount": "20.01"}, **HTMX)
    assert response.status_code == 422
    assert "cannot refund more than was asked" in text(response)
    assert member_client.post(outcome, {"outcome": "approved"}).status_code == 302
    refund.refresh_from_db()
    assert refund.state == RefundState.APPROVED
    assert refund.refund_due_at is not None
    response = member_client.post(outcome, {"outcome": "refunded", "refunded_amount": "18.50"}, **HTMX)
    assert response.status_code == 200
    refund.refresh_from_db()
    assert (refund.state, refund.refunded_amount) == (RefundState.REFUNDED, Decimal("18.50"))
    event = OrderEvent.objects.filter(order=order, type="refund").order_by("id").last()
    assert event is not None
    assert event.parameters["source"] == "merchant"
    assert event.actor is not None
    # once refunded, nothing more can be recorded
    assert member_client.post(outcome, {"outcome": "approved"}).status_code == 422


def test_a_failed_delivery_shows_its_error_and_retry_starts_over(member_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store, provider="cj")
    refund = RefundFactory(
        order=order,
        supplier_order=supplier_order,
        via=RefundVia.API,
        send_state=RefundSend.FAILED,
        send_error="CJ answered 500 five times",
        send_attempts=5,
    )
    drawer = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    assert "CJ answered 500 five times" in drawer
    assert 'data-action="refund-retry"' in drawer
    response = member_client.post(f"/orders/refunds/{refund.pk}/retry/", **HTMX)
    assert response.status_code == 200
    refund.refresh_from_db()
    assert (refund.send_state, refund.send_attempts) == (RefundSend.PENDING, 0)
    # a second retry: not waiting any more, refused with a message
    response = member_client.post(f"/orders/refunds/{refund.pk}/retry/", **HTMX)
    assert response.status_code == 422
    assert "not waiting to be sent again" in text(response)


def test_a_user_of_no_account_gets_403(client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    client.force_login(UserFactory(username="nobody"))
    assert client.post(request_url(order), form_data(supplier_order)).status_code == 403
    assert not Refund.objects.exists()


def test_in_the_drawer_the_form_loads_in_place_and_success_redraws_the_drawer(
    member_client: Client, store: Any
) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    form = member_client.get(request_url(order), **HTMX)
    assert form.status_code == 200
    assert text(form).lstrip().startswith('<section id="order-refunds"')
    assert 'hx-post="/orders/refunds/' in text(form)
    refused = member_client.post(request_url(order), form_data(supplier_order, amount="99.00"), **HTMX)
    assert refused.status_code == 422  # htmx swaps it in place (base.html's responseHandling)
    assert text(refused).lstrip().startswith('<section id="order-refunds"')
    done = member_client.post(request_url(order), form_data(supplier_order), **HTMX)
    assert done.status_code == 200
    assert done["HX-Retarget"] == "closest .drawer"  # the drawer, or the order page's .drawer-page
    assert "toast" in done["HX-Trigger"]
    assert 'data-refund-state="in_review"' in text(done)


def test_the_drawer_runs_the_same_queries_for_one_or_four_refunds(member_client: Client, store: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    order, supplier_order = shipped_with_paid_supplier_order(store)

    def drawer_queries() -> int:
        member_client.get(f"/orders/{order.pk}/", **HTMX)
        with CaptureQueriesContext(connection) as queries:
            assert member_client.get(f"/orders/{order.pk}/", **HTMX).status_code == 200
        return len(queries)

    first = supplier_order.lines.order_by("id").first()

    def refund(state: str) -> None:
        made = RefundFactory(order=order, supplier_order=supplier_order, via=RefundVia.MERCHANT, state=state)
        RefundLine.objects.create(refund=made, supplier_order_line=first, order_line=first.order_line, quantity=1)

    refund(RefundState.REJECTED)
    one = drawer_queries()
    for state in (RefundState.REJECTED, RefundState.IN_REVIEW, RefundState.REFUNDED):
        refund(state)
    page = text(member_client.get(f"/orders/{order.pk}/", **HTMX))
    assert page.count("data-refund-line") == 4
    assert drawer_queries() == one


@pytest.mark.parametrize(
    "lines", ["garbage", {"order_line_id": 1}, [1, "a", {"order_line_id": "x", "quantity": "2"}], 7]
)
def test_a_customer_refund_with_odd_lines_shows_and_prefills_nothing_without_a_500(
    member_client: Client, store: Any, lines: Any
) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    customer_refund = CustomerRefund.objects.create(
        account=order.account,
        store=store,
        order=order,
        channel_refund_id="ODD",
        amount=Decimal("3.00"),
        currency="USD",
        lines=lines,
        refunded_at=order.placed_at,
    )
    drawer = member_client.get(f"/orders/{order.pk}/", **HTMX)
    assert drawer.status_code == 200
    assert f'data-customer-refund="{customer_refund.pk}"' in text(drawer)
    form = member_client.get(f"{request_url(order)}?customer_refund={customer_refund.pk}")
    assert form.status_code == 200
    values = {tag.attrs["name"]: tag.attrs.get("value") for tag in tags(form) if "name" in tag.attrs}
    assert {value for name, value in values.items() if "-qty_" in name} == {"0"}


def test_errors_and_help_texts_carry_the_ids_their_fields_point_to(member_client: Client, store: Any) -> None:
    order, supplier_order = shipped_with_paid_supplier_order(store)
    lines = list(supplier_order.lines.order_by("id"))
    response = member_client.post(
        request_url(order), form_data(supplier_order, **{"amount": "lots", f"qty_{lines[0].pk}": "-1"})
    )
    assert response.status_code == 422
    found = tags(response)
    ids = {tag.attrs["id"] for tag in found if "id" in tag.attrs}
    prefix = f"so{supplier_order.pk}"
    amount = next(tag for tag in found if tag.attrs.get("name") == f"{prefix}-amount")
    quantity = next(tag for tag in found if tag.attrs.get("name") == f"{prefix}-qty_{lines[0].pk}")
    for field in (amount, quantity):
        assert field.attrs.get("aria-invalid") == "true"
        pointed = (field.attrs.get("aria-describedby") or "").split()
        assert f"{field.attrs['id']}_error" in pointed
        assert set(pointed) <= ids  # every id it points to is on the page
    evidence = next(tag for tag in found if tag.attrs.get("name") == f"{prefix}-evidence")
    for pointed in (evidence.attrs.get("aria-describedby") or "").split():
        assert pointed in ids
    assert not Refund.objects.exists()
