"""Placing and paying orders through the services, against the sandbox suppliers over real HTTP.

Each test reads the sandbox's payment ledger: what was charged, under which key, how often.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from orders.enums import OrderStatus, SubStatus, SupplierOrderState
from orders.models import Order
from suppliers.enums import PaymentMode, PlacementOutcome, SupplierProvider
from suppliers.models import ProductLink, SupplierOrder
from suppliers.services.payment import supplier_order_pay, supplier_order_reconcile
from suppliers.services.placement import order_place
from suppliers.tests.placing import link_sku, merchant, order_to_place, source_account_connect
from tests.workers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

AE, CJ = SupplierProvider.ALIEXPRESS, SupplierProvider.CJ


def charges(control: Any, key: str) -> list[dict[str, Any]]:
    return [charge for charge in control.ledger() if charge["idempotency_key"] == key]


def due(supplier_order_id: int) -> int:
    """The reconcile delay after an unknown outcome has passed (beat would pick the row up now)."""
    SupplierOrder.objects.filter(pk=supplier_order_id).update(in_flight_until=timezone.now())
    return supplier_order_id


def status(order: Order) -> tuple[str, str]:
    order.refresh_from_db()
    return (order.status, order.sub_status)


@pytest.mark.parametrize("provider", [AE, CJ])
def test_an_order_is_placed_and_paid_once_and_shows_paid(control: Any, provider: str) -> None:
    account, store = merchant()
    source_account_connect(control, account, provider)
    link_sku(account, "EB-1", provider)
    order = order_to_place(store)

    result = order_place(account=account, order_id=order.pk)

    assert result.outcome == PlacementOutcome.PAID, result.message
    [supplier_order] = SupplierOrder.objects.filter(order=order)
    assert (supplier_order.state, supplier_order.external_order_id != "") == (SupplierOrderState.PAID, True)
    assert [line.quantity for line in supplier_order.lines.all()] == [2]
    assert len(charges(control, supplier_order.idempotency_key)) == 1
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)
    assert list(supplier_order.transitions.values_list("to_state", flat=True)) == ["placing", "paid"]


@pytest.mark.parametrize("provider", [AE, CJ])
def test_placing_twice_makes_one_supplier_order_and_one_charge(control: Any, provider: str) -> None:
    account, store = merchant()
    source_account_connect(control, account, provider)
    link_sku(account, "EB-1", provider)
    order = order_to_place(store)

    first = order_place(account=account, order_id=order.pk)
    second = order_place(account=account, order_id=order.pk)

    assert (first.outcome, second.outcome) == (PlacementOutcome.PAID, PlacementOutcome.SKIPPED)
    [supplier_order] = SupplierOrder.objects.filter(order=order)
    assert len(charges(control, supplier_order.idempotency_key)) == 1


def test_two_workers_placing_one_order_at_once_make_one_charge(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    order = order_to_place(store)
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def place() -> None:
        start.wait()
        try:
            outcomes.append(order_place(account=account, order_id=order.pk).outcome)
        finally:
            connection.close()

    workers = [threading.Thread(target=place) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert sorted(outcomes).count(PlacementOutcome.PAID) == 1, outcomes
    [supplier_order] = SupplierOrder.objects.filter(order=order)
    assert len(charges(control, supplier_order.idempotency_key)) == 1
    assert control.ledger() == charges(control, supplier_order.idempotency_key)


def test_an_unlinked_line_stops_the_order_before_anything_is_sent(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    order = order_to_place(store, skus=("EB-1", "UNLINKED-9"))

    result = order_place(account=account, order_id=order.pk)

    assert result.outcome == PlacementOutcome.BLOCKED
    order.refresh_from_db()
    assert order.placement_issue == "unlinked"
    assert "Product UNLINKED-9" in order.placement_issue_message
    unlinked = order.lines.get(sku="UNLINKED-9")
    assert order.placement_issue_fix == {"view": "suppliers:link_new", "args": [], "query": f"order_line={unlinked.pk}"}
    assert not SupplierOrder.objects.filter(order=order).exists()
    assert control.ledger() == []
    assert status(order) == (OrderStatus.NEW, SubStatus.NONE)


def test_an_incomplete_address_stops_the_order_and_names_the_field(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, AE)
    link_sku(account, "EB-1", AE)
    order = order_to_place(store, address={"ship_name": "Ana", "ship_address1": "1 Main St", "ship_country_code": "US"})

    result = order_place(account=account, order_id=order.pk)

    assert result.outcome == PlacementOutcome.BLOCKED
    order.refresh_from_db()
    assert order.placement_issue.startswith("address_")
    assert order.placement_issue_fix == {"view": "orders:address_edit", "args": [order.pk], "query": ""}
    assert control.ledger() == []


def test_no_connected_supplier_account_stops_the_order(control: Any) -> None:
    account, store = merchant()
    link_sku(account, "EB-1", CJ)
    order = order_to_place(store)

    result = order_place(account=account, order_id=order.pk)

    assert (result.outcome, Order.objects.get(pk=order.pk).placement_issue) == (PlacementOutcome.BLOCKED, "no_account")


def test_a_flagged_duplicate_is_not_placed_until_confirmed(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    order = order_to_place(store)
    Order.objects.filter(pk=order.pk).update(possible_duplicate=True)

    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.BLOCKED
    Order.objects.filter(pk=order.pk).update(duplicate_confirmed=True)
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.PAID


def test_another_tenants_order_is_not_found(control: Any) -> None:
    account, _store = merchant("Tenant A")
    _other, other_store = merchant("Tenant B")
    foreign = order_to_place(other_store)

    with pytest.raises(Order.DoesNotExist):
        order_place(account=account, order_id=foreign.pk)
    assert not SupplierOrder.objects.exists()


def test_cj_insufficient_balance_shows_payment_failed_then_retry_pays_once(control: Any) -> None:
    account, store = merchant()
    source = source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    control.options("cj", source.name, balance="1.00")
    order = order_to_place(store)

    result = order_place(account=account, order_id=order.pk)

    assert result.outcome == PlacementOutcome.PAYMENT_FAILED
    supplier_order = SupplierOrder.objects.get(order=order)
    assert supplier_order.state == SupplierOrderState.PAYMENT_FAILED
    assert "balance" in supplier_order.failure_reason.lower()
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.PAYMENT_FAILED)
    assert charges(control, supplier_order.idempotency_key) == []

    control.options("cj", source.name, balance="500.00")
    retried = supplier_order_pay(supplier_order_id=supplier_order.pk)

    assert retried.outcome == PlacementOutcome.PAID, retried.message
    assert len(charges(control, supplier_order.idempotency_key)) == 1
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)
    assert supplier_order_pay(supplier_order_id=supplier_order.pk).outcome == PlacementOutcome.SKIPPED


def test_aliexpress_created_but_auto_pay_failed_then_retry_pays_the_same_order(control: Any) -> None:
    account, store = merchant()
    source = source_account_connect(control, account, AE)
    link_sku(account, "EB-1", AE)
    control.options("aliexpress", source.name, payment_failure="card_declined")
    order = order_to_place(store)

    result = order_place(account=account, order_id=order.pk)

    assert result.outcome == PlacementOutcome.PAYMENT_FAILED
    supplier_order = SupplierOrder.objects.get(order=order)
    assert (supplier_order.failure_code, supplier_order.external_order_id != "") == ("APIPayFail", True)
    placed_as = supplier_order.external_order_id

    control.options("aliexpress", source.name, payment_failure="")
    assert supplier_order_pay(supplier_order_id=supplier_order.pk).outcome == PlacementOutcome.PAID
    supplier_order.refresh_from_db()
    assert supplier_order.external_order_id == placed_as
    assert len(charges(control, supplier_order.idempotency_key)) == 1


def test_pay_later_places_without_paying(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ, payment_mode=PaymentMode.LATER)
    link_sku(account, "EB-1", CJ)
    order = order_to_place(store)

    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.PLACED
    supplier_order = SupplierOrder.objects.get(order=order)
    assert charges(control, supplier_order.idempotency_key) == []
    assert supplier_order_pay(supplier_order_id=supplier_order.pk).outcome == PlacementOutcome.PAID
    assert len(charges(control, supplier_order.idempotency_key)) == 1


def test_a_gone_sku_flags_the_link_and_the_order_says_why(control: Any) -> None:
    account, store = merchant()
    source = source_account_connect(control, account, AE)
    link = link_sku(account, "EB-1", AE)
    control.options("aliexpress", source.name, out_of_stock=[link.supplier_product_id])
    order = order_to_place(store)

    result = order_place(account=account, order_id=order.pk)

    assert result.outcome == PlacementOutcome.REFUSED
    link.refresh_from_db()
    assert link.unavailable_at is not None
    order.refresh_from_db()
    assert order.placement_issue == "refused_INVENTORY_HOLD_ERROR"
    assert SupplierOrder.objects.get(order=order).state == SupplierOrderState.DRAFT
    assert status(order) == (OrderStatus.NEW, SubStatus.NONE)
    # the next attempt stops before the supplier: the link is flagged until it is edited
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.BLOCKED
    ProductLink.objects.filter(pk=link.pk).update(unavailable_at=None, supplier_product_id="1005001111111111")
    control.options("aliexpress", source.name, out_of_stock=[])
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.PAID


@override_settings(SUPPLIER_CALL_TIMEOUT=1)
@pytest.mark.parametrize("provider", [AE, CJ])
def test_charged_but_the_answer_lost_is_found_not_charged_again(control: Any, provider: str) -> None:
    account, store = merchant()
    source_account_connect(control, account, provider)
    link_sku(account, "EB-1", provider)
    order = order_to_place(store)
    control.faults({provider: {"timeout": 1.0}})  # the supplier does it, the answer comes too late

    result = order_place(account=account, order_id=order.pk)

    assert result.outcome == PlacementOutcome.UNKNOWN
    supplier_order = SupplierOrder.objects.get(order=order)
    assert supplier_order.state == SupplierOrderState.PLACING
    control.faults({provider: {}})
    # a second click while the outcome is being checked sends nothing
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.SKIPPED

    settled = supplier_order_reconcile(supplier_order_id=due(supplier_order.pk))

    assert settled.outcome == PlacementOutcome.PAID, settled.message
    supplier_order.refresh_from_db()
    assert supplier_order.state == SupplierOrderState.PAID
    assert len(charges(control, supplier_order.idempotency_key)) == 1
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)


@pytest.mark.parametrize("provider", [AE, CJ])
def test_a_5xx_before_the_supplier_acted_is_sent_again_under_the_same_key(control: Any, provider: str) -> None:
    account, store = merchant()
    source_account_connect(control, account, provider)
    link_sku(account, "EB-1", provider)
    order = order_to_place(store)
    control.faults({provider: {"http_5xx": 1.0}})

    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.UNKNOWN
    key = SupplierOrder.objects.get(order=order).idempotency_key
    control.faults({provider: {}})

    assert supplier_order_reconcile(supplier_order_id=due(SupplierOrder.objects.get(order=order).pk)).outcome == (
        PlacementOutcome.PAID
    )
    supplier_order = SupplierOrder.objects.get(order=order)
    assert supplier_order.idempotency_key == key
    assert len(charges(control, key)) == 1


@override_settings(SUPPLIER_CALL_TIMEOUT=1)
def test_support_resolves_by_hand_what_aliexpress_can_no_longer_be_asked(control: Any) -> None:
    from datetime import timedelta

    from django.core.management import call_command

    account, store = merchant()
    source_account_connect(control, account, AE)
    link_sku(account, "EB-1", AE)
    order = order_to_place(store)
    control.faults({AE: {"timeout": 1.0}})
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.UNKNOWN
    control.faults({AE: {}})
    supplier_order = SupplierOrder.objects.get(order=order)
    # past AliExpress's 24 h window a repeat would make a second order: reconciliation stops
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(
        first_sent_at=supplier_order.first_sent_at - timedelta(hours=25)
    )

    assert supplier_order_reconcile(supplier_order_id=due(supplier_order.pk)).outcome == PlacementOutcome.UNKNOWN
    supplier_order.refresh_from_db()
    assert (supplier_order.state, supplier_order.failure_code) == (SupplierOrderState.PLACING, "reconcile_by_hand")
    # the stalled create went through at the supplier (its answer came after we gave up), once
    assert wait_for(lambda: len(charges(control, supplier_order.idempotency_key)) == 1, timeout=10)

    [charge] = charges(control, supplier_order.idempotency_key)
    found = charge["supplier_order_id"]
    call_command("supplier_order_resolve", supplier_order.pk, found=found, paid=True, note="seen paid")

    supplier_order.refresh_from_db()
    assert (supplier_order.state, supplier_order.external_order_id) == (SupplierOrderState.PAID, str(found))
    assert len(charges(control, supplier_order.idempotency_key)) == 1
    assert supplier_order.transitions.last().note == "seen paid"
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)


def test_support_resolves_a_create_that_never_arrived_back_to_draft(control: Any) -> None:
    from django.core.management import call_command
    from django.utils import timezone

    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    order = order_to_place(store)
    control.faults({CJ: {"http_5xx": 1.0}})
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.UNKNOWN
    supplier_order = SupplierOrder.objects.get(order=order)
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(in_flight_until=timezone.now())

    call_command("supplier_order_resolve", supplier_order.pk, not_made=True)

    supplier_order.refresh_from_db()
    assert supplier_order.state == SupplierOrderState.DRAFT
    assert status(order) == (OrderStatus.NEW, SubStatus.NONE)
    control.faults({CJ: {}})
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.PAID


# What review found: keys that may have made an order are never given up ---------------------------


@override_settings(SUPPLIER_CALL_TIMEOUT=1)
def test_a_token_refused_while_reconciling_keeps_the_key_in_flight_until_the_account_works(control: Any) -> None:
    account, store = merchant()
    source = source_account_connect(control, account, AE)
    link_sku(account, "EB-1", AE)
    order = order_to_place(store)
    control.faults({AE: {"timeout": 1.0}})
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.UNKNOWN
    control.faults({AE: {}})
    supplier_order = SupplierOrder.objects.get(order=order)
    good = source.credentials
    # Both tokens refused: a refused access token alone is refreshed (SourceAccountTokens) and the
    # call goes on; a refused refresh token is what needs the merchant.
    source.credentials = {**good, "access_token": "revoked", "refresh_token": "revoked"}
    source.save()

    result = supplier_order_reconcile(supplier_order_id=due(supplier_order.pk))

    supplier_order.refresh_from_db()
    source.refresh_from_db()
    assert result.outcome == PlacementOutcome.UNKNOWN
    assert (supplier_order.state, supplier_order.key_maybe_made) == (SupplierOrderState.PLACING, True)
    assert source.status == "reconnect"
    assert Order.objects.get(pk=order.pk).placement_issue == "account_reconnect"
    # a click meanwhile sends nothing (the order is still being placed)
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.SKIPPED
    # reconnected: reconciliation repeats the same key, and AliExpress answers the order it made
    source.credentials, source.status = good, "connected"
    source.save()
    assert supplier_order_reconcile(supplier_order_id=due(supplier_order.pk)).outcome == PlacementOutcome.PAID
    assert wait_for(lambda: len(charges(control, supplier_order.idempotency_key)) == 1, timeout=10)
    assert len(control.ledger()) == 1


def test_a_refusal_of_a_repeat_goes_to_support_not_to_a_new_key(control: Any) -> None:
    account, store = merchant()
    source = source_account_connect(control, account, CJ)
    link = link_sku(account, "EB-1", CJ)
    order = order_to_place(store)
    control.faults({CJ: {"http_5xx": 1.0}})
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.UNKNOWN
    control.faults({CJ: {}})
    control.options("cj", source.name, out_of_stock=[link.supplier_product_id])
    supplier_order = SupplierOrder.objects.get(order=order)
    key = supplier_order.idempotency_key

    result = supplier_order_reconcile(supplier_order_id=due(supplier_order.pk))

    supplier_order.refresh_from_db()
    assert result.outcome == PlacementOutcome.UNKNOWN
    assert (supplier_order.state, supplier_order.failure_code, supplier_order.idempotency_key) == (
        SupplierOrderState.PLACING,
        "reconcile_by_hand",
        key,
    )
    assert Order.objects.get(pk=order.pk).placement_issue == "needs_support"
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.SKIPPED
    assert control.ledger() == []


def test_a_late_refusal_from_an_expired_lease_does_not_undo_what_the_holder_recorded(control: Any) -> None:
    import uuid

    from suppliers.providers.base import Placed, Refusal, SupplierOrderInfo
    from suppliers.services.protocol import placed_record, refusal_record

    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    order = order_to_place(store)
    control.faults({CJ: {"http_5xx": 1.0}})
    order_place(account=account, order_id=order.pk)
    control.faults({CJ: {}})
    supplier_order = SupplierOrder.objects.get(order=order)

    stale = refusal_record(supplier_order.pk, Refusal(code="x", message="late"), lease=uuid.uuid4(), actor=None)
    assert stale.outcome == PlacementOutcome.SKIPPED
    assert SupplierOrder.objects.get(pk=supplier_order.pk).state == SupplierOrderState.PLACING
    # a success is recorded whoever holds the lease: the order exists
    info = SupplierOrderInfo(external_id="CJ-LATE-1", status="UNSHIPPED", paid=True)
    assert placed_record(supplier_order.pk, Placed(order=info), actor=None).outcome == PlacementOutcome.PAID


def test_an_order_split_over_two_suppliers_sends_the_refused_part_again_after_the_fix(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    ae = source_account_connect(control, account, AE)
    link_sku(account, "EB-1", CJ)
    ae_link = link_sku(account, "EB-2", AE)
    control.options("aliexpress", ae.name, out_of_stock=[ae_link.supplier_product_id])
    order = order_to_place(store, skus=("EB-1", "EB-2"))

    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.REFUSED
    assert SupplierOrder.objects.get(order=order, provider=CJ).state == SupplierOrderState.PAID
    assert status(order) == (OrderStatus.NEW, SubStatus.NONE)  # a part still to buy shows first

    control.options("aliexpress", ae.name, out_of_stock=[])
    ProductLink.objects.filter(pk=ae_link.pk).update(unavailable_at=None)
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.PAID

    assert status(order) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)
    by_key = {so.provider: so.idempotency_key for so in SupplierOrder.objects.filter(order=order)}
    assert len(charges(control, by_key[CJ])) == 1
    assert len(charges(control, by_key[AE])) == 1
    assert len(control.ledger()) == 2


def test_a_draft_of_an_order_canceled_meanwhile_is_not_sent(control: Any) -> None:
    from suppliers.services.placement import supplier_order_send

    account, store = merchant()
    source = source_account_connect(control, account, AE)
    link = link_sku(account, "EB-1", AE)
    control.options("aliexpress", source.name, out_of_stock=[link.supplier_product_id])
    order = order_to_place(store)
    order_place(account=account, order_id=order.pk)  # refused: a draft stays
    control.options("aliexpress", source.name, out_of_stock=[])
    Order.objects.filter(pk=order.pk).update(channel_canceled=True)
    draft = SupplierOrder.objects.get(order=order)

    assert supplier_order_send(supplier_order_id=draft.pk).outcome == PlacementOutcome.SKIPPED
    assert SupplierOrder.objects.get(pk=draft.pk).state == SupplierOrderState.DRAFT
    assert control.ledger() == []


def test_replace_after_a_failed_payment_keeps_the_old_order_as_history_and_uses_a_new_key(control: Any) -> None:
    from suppliers.services.payment import order_replace

    account, store = merchant()
    source = source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    control.options("cj", source.name, balance="1.00")
    order = order_to_place(store)
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.PAYMENT_FAILED
    old = SupplierOrder.objects.get(order=order)

    replaced = order_replace(account=account, order_id=order.pk)

    old.refresh_from_db()
    assert old.state == SupplierOrderState.REPLACED, replaced.message
    assert status(order) == (OrderStatus.NEW, SubStatus.NONE)
    control.options("cj", source.name, balance="500.00")
    assert order_place(account=account, order_id=order.pk).outcome == PlacementOutcome.PAID
    new = SupplierOrder.objects.exclude(pk=old.pk).get(order=order)
    assert new.idempotency_key != old.idempotency_key
    assert charges(control, old.idempotency_key) == []
    assert len(charges(control, new.idempotency_key)) == 1


def test_replace_is_refused_for_another_tenants_order_and_for_a_paid_one(control: Any) -> None:
    from suppliers.services.payment import order_replace

    account, store = merchant("Tenant A")
    other, other_store = merchant("Tenant B")
    source_account_connect(control, other, CJ)
    link_sku(other, "EB-1", CJ)
    foreign = order_to_place(other_store)
    order_place(account=other, order_id=foreign.pk)

    with pytest.raises(Order.DoesNotExist):
        order_replace(account=account, order_id=foreign.pk)
    assert order_replace(account=other, order_id=foreign.pk).outcome == PlacementOutcome.SKIPPED
    assert SupplierOrder.objects.get(order=foreign).state == SupplierOrderState.PAID


@pytest.mark.django_db(transaction=False)
def test_every_fix_page_the_services_name_exists() -> None:
    import pathlib
    import re

    from django.urls import reverse

    services = pathlib.Path(__file__).resolve().parent.parent / "services"
    named = set()
    for source in services.glob("*.py"):
        named |= set(re.findall(r'"((?:suppliers|orders):[a-z_]+)"', source.read_text()))
    assert {"suppliers:link_new", "suppliers:accounts", "orders:address_edit"} <= named
    for view in sorted(named):
        needs_id = view in ("suppliers:link_edit", "orders:address_edit")
        assert reverse(view, args=[1] if needs_id else [])
