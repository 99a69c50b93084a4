"""Supplier sync against the sandbox suppliers over real HTTP: what the supplier says of an order
becomes the supplier order's state, amounts and tracking number, and the order's tab follows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery import shared_task
from django.utils import timezone

from orders.enums import OrderStatus, SubStatus, SupplierOrderState
from orders.models import Order
from suppliers.enums import CanceledBy, PaymentMode, SourceAccountStatus, SupplierProvider
from suppliers.models import SourceAccount, SupplierOrder
from suppliers.services.connection import provider_for
from suppliers.services.payment import supplier_order_pay
from suppliers.services.placement import order_place, place_request
from suppliers.services.sync import (
    ERROR_PREFIX,
    PAID_EVERY,
    UNPAID_EVERY,
    SyncOutcome,
    next_sync_at,
    supplier_order_sync,
    supplier_orders_claim_due,
)
from suppliers.tests.placing import link_sku, merchant, order_to_place, source_account_connect
from tests.workers import running_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

AE, CJ = SupplierProvider.ALIEXPRESS, SupplierProvider.CJ
HANDED_ON: list[int] = []  # what the stand-in tracking task received (it runs in the worker thread)
HANDED_PARCELS: list[dict[str, Any]] = []


@shared_task(name="suppliers.tests.tracking_stand_in")
def tracking_stand_in(supplier_order_id: int, **parcel: Any) -> None:
    HANDED_ON.append(supplier_order_id)
    HANDED_PARCELS.append(parcel)


def placed(control: Any, provider: str, *, pay: bool = True, name: str = "") -> tuple[Order, SupplierOrder]:
    """An order of a new merchant placed (and paid unless ``pay`` is False) with ``provider``."""
    account, store = merchant(name or f"Sync {provider}")
    mode = PaymentMode.WITH_ORDER if pay else PaymentMode.LATER
    source_account_connect(control, account, provider, name=name or "", payment_mode=mode)
    link_sku(account, "EB-1", provider)
    order = order_to_place(store)
    result = order_place(account=account, order_id=order.pk)
    supplier_order = SupplierOrder.objects.select_related("source_account").get(order=order)
    expected = SupplierOrderState.PAID if pay else SupplierOrderState.PLACED
    assert supplier_order.state == expected, result.message
    return order, supplier_order


def status(order: Order) -> tuple[str, str]:
    order.refresh_from_db()
    return (order.status, order.sub_status)


def sim_name(supplier_order: SupplierOrder) -> str:
    assert supplier_order.source_account is not None
    return supplier_order.source_account.name


def test_an_order_paid_at_the_supplier_is_synced_to_paid(control: Any) -> None:
    order, supplier_order = placed(control, CJ, pay=False, name="cj-paid-there")
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.PAYMENT_FAILED)
    # the merchant pays it in CJ's own order list
    assert supplier_order.source_account is not None
    provider_for(supplier_order.source_account).pay(supplier_order.external_order_id)

    before = timezone.now()
    result = supplier_order_sync(supplier_order_id=supplier_order.pk)

    assert result.outcome == SyncOutcome.PAID
    supplier_order.refresh_from_db()
    assert supplier_order.state == SupplierOrderState.PAID
    assert supplier_order.external_status == "UNSHIPPED"
    assert supplier_order.paid_at is not None
    assert supplier_order.cost is not None
    assert before + PAID_EVERY <= supplier_order.next_sync_at <= timezone.now() + PAID_EVERY  # type: ignore[operator]
    assert supplier_order.sync_claimed_until is None
    assert supplier_order.last_synced_at is not None
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)
    assert list(supplier_order.transitions.values_list("to_state", "note"))[-1] == ("paid", "Paid at the supplier.")
    assert len([c for c in control.ledger() if c["idempotency_key"] == supplier_order.idempotency_key]) == 1


def test_an_unpaid_order_reads_its_amounts_and_deadline_and_is_looked_at_again_in_ten_minutes(control: Any) -> None:
    order, supplier_order = placed(control, AE, pay=False, name="ae-unpaid")

    before = timezone.now()
    result = supplier_order_sync(supplier_order_id=supplier_order.pk)

    assert result.outcome == SyncOutcome.SYNCED
    supplier_order.refresh_from_db()
    assert supplier_order.state == SupplierOrderState.PLACED
    assert supplier_order.external_status == "PLACE_ORDER_SUCCESS"
    assert supplier_order.cost is not None
    assert supplier_order.cost > 0
    assert supplier_order.items_total is not None
    assert supplier_order.currency == "USD"
    assert supplier_order.pay_by is not None
    assert supplier_order.pay_by > timezone.now() + timedelta(hours=20)
    assert before + UNPAID_EVERY <= supplier_order.next_sync_at <= timezone.now() + UNPAID_EVERY  # type: ignore[operator]
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.PAYMENT_FAILED)


def test_the_intervals_follow_the_state_and_the_deadline() -> None:
    now = timezone.now()
    unpaid, paid = SupplierOrderState.PLACED, SupplierOrderState.PAID
    assert next_sync_at(state=unpaid, tracking_number="", pay_by=None, now=now) == now + UNPAID_EVERY
    soon = now + timedelta(minutes=3)
    assert next_sync_at(state=unpaid, tracking_number="", pay_by=soon, now=now) == soon + timedelta(minutes=1)
    late = next_sync_at(state=SupplierOrderState.PAYMENT_FAILED, tracking_number="", pay_by=now, now=now)
    assert late == now + timedelta(hours=1)
    assert next_sync_at(state=paid, tracking_number="", pay_by=None, now=now) == now + PAID_EVERY
    assert next_sync_at(state=paid, tracking_number="LP00123456789012", pay_by=None, now=now) is None
    assert next_sync_at(state=SupplierOrderState.CANCELED, tracking_number="", pay_by=None, now=now) is None


@pytest.mark.parametrize("provider", [AE, CJ])
def test_a_cancellation_by_the_supplier_after_payment_is_source_canceled(control: Any, provider: str) -> None:
    order, supplier_order = placed(control, provider, name=f"{provider}-source-cancel")
    control.supplier_cancel(provider, sim_name(supplier_order), supplier_order.external_order_id, reason="Out of stock")

    result = supplier_order_sync(supplier_order_id=supplier_order.pk)

    assert result.outcome == SyncOutcome.CANCELED
    supplier_order.refresh_from_db()
    assert (supplier_order.state, supplier_order.canceled_by) == (SupplierOrderState.CANCELED, CanceledBy.SUPPLIER)
    # Neither API gives the supplier's reason: the order says so instead of inventing one.
    assert "gave no reason" in supplier_order.cancel_reason
    assert supplier_order.next_sync_at is None
    assert supplier_order.canceled_at is not None
    assert status(order) == (OrderStatus.CANCELED, SubStatus.SOURCE_CANCELED)
    # Canceled is final: beat does not claim it again.
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(next_sync_at=timezone.now())
    assert supplier_orders_claim_due() == []


@pytest.fixture
def suppliers_worker() -> Iterator[list[tuple[str, str]]]:
    with running_worker(["suppliers"]) as ran:
        yield ran


@pytest.mark.redis
@pytest.mark.celery_worker
@pytest.mark.parametrize("provider", [AE, CJ])
def test_a_tracking_number_is_stored_once_and_handed_on_by_task_name(
    control: Any, provider: str, settings: Any, suppliers_worker: list[tuple[str, str]]
) -> None:
    settings.SUPPLIER_TRACKING_TASK = "suppliers.tests.tracking_stand_in"
    HANDED_ON.clear()
    HANDED_PARCELS.clear()
    order, supplier_order = placed(control, provider, name=f"{provider}-tracking")
    assert supplier_order_sync(supplier_order_id=supplier_order.pk).tracking_number == ""
    shipped = control.supplier_ship(provider, sim_name(supplier_order), supplier_order.external_order_id)
    assert shipped["tracking_number"]

    result = supplier_order_sync(supplier_order_id=supplier_order.pk)

    assert result.tracking_number == shipped["tracking_number"]
    supplier_order.refresh_from_db()
    assert supplier_order.tracking_number == shipped["tracking_number"]
    assert supplier_order.next_sync_at is None  # tracking takes over from here
    assert wait_for(lambda: [supplier_order.pk] == HANDED_ON, timeout=60), suppliers_worker
    line = order.lines.get()
    assert [
        {
            "order_id": order.pk,
            "account_id": order.account_id,
            "tracking_number": shipped["tracking_number"],
            "carrier": supplier_order.carrier,
            "lines": [{"order_line_id": line.pk, "quantity": line.quantity}],
        }
    ] == HANDED_PARCELS
    # read again (a message, a support resync): stored already, not handed on twice
    assert supplier_order_sync(supplier_order_id=supplier_order.pk).tracking_number == ""
    assert not wait_for(lambda: len(HANDED_ON) > 1, timeout=1)
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)  # shipments come from tracking


def test_orders_of_a_replaced_account_are_not_synced_and_say_so(control: Any) -> None:
    order, supplier_order = placed(control, AE, pay=False, name="ae-replaced")
    assert supplier_order.source_account is not None
    SourceAccount.objects.filter(pk=supplier_order.source_account.pk).update(status=SourceAccountStatus.REPLACED)
    source_account_connect(control, order.account, AE, name="ae-replacement")
    due_before = SupplierOrder.objects.get(pk=supplier_order.pk).next_sync_at
    assert due_before is not None
    assert due_before <= timezone.now()

    assert supplier_orders_claim_due() == []
    result = supplier_order_sync(supplier_order_id=supplier_order.pk)

    assert result.outcome == SyncOutcome.NOT_SYNCED
    assert "no longer synced" in result.message
    supplier_order.refresh_from_db()
    assert supplier_order.no_longer_synced
    # nothing was read; the row keeps its due time (due again should that account come back) but
    # is never claimed while the account is replaced
    assert (supplier_order.state, supplier_order.last_synced_at) == (SupplierOrderState.PLACED, None)
    assert supplier_order.next_sync_at == due_before
    assert supplier_orders_claim_due() == []


def test_a_failing_supplier_backs_off_and_the_account_says_why(control: Any, settings: Any) -> None:
    settings.SUPPLIER_CALL_TIMEOUT = 2
    order, supplier_order = placed(control, CJ, pay=False, name="cj-failing")
    control.faults({"cj": {"http_5xx": 1.0}})
    try:
        first = supplier_order_sync(supplier_order_id=supplier_order.pk)
        supplier_order.refresh_from_db()
        first_gap = supplier_order.next_sync_at - timezone.now()  # type: ignore[operator]
        second = supplier_order_sync(supplier_order_id=supplier_order.pk)
    finally:
        control.faults({"cj": {}})

    assert (first.outcome, second.outcome) == (SyncOutcome.FAILED, SyncOutcome.FAILED)
    supplier_order.refresh_from_db()
    assert supplier_order.sync_failures == 2
    assert supplier_order.state == SupplierOrderState.PLACED
    assert timedelta(minutes=4) < first_gap <= timedelta(minutes=5)
    assert timedelta(minutes=9) < supplier_order.next_sync_at - timezone.now() <= timedelta(minutes=10)  # type: ignore[operator]
    source = SourceAccount.objects.get(pk=supplier_order.source_account_id)
    assert source.last_error.startswith(ERROR_PREFIX)
    assert "CJdropshipping" in source.last_error

    assert supplier_order_sync(supplier_order_id=supplier_order.pk).outcome == SyncOutcome.SYNCED
    supplier_order.refresh_from_db()
    source.refresh_from_db()
    assert (supplier_order.sync_failures, source.last_error) == (0, "")
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.PAYMENT_FAILED)


def test_an_order_aliexpress_split_is_read_part_by_part(control: Any) -> None:
    first_order, first = placed(control, AE, pay=False, name="ae-split")
    second_order = order_to_place(first_order.store)
    order_place(account=first_order.account, order_id=second_order.pk)
    second = SupplierOrder.objects.get(order=second_order)
    supplier_order_sync(supplier_order_id=second.pk)
    second.refresh_from_db()
    # As AliExpress answers an order it split by store: both of its order ids on one supplier order.
    SupplierOrder.objects.filter(pk=first.pk).update(
        external_order_id=f"{first.external_order_id},{second.external_order_id}"
    )
    supplier_order_sync(supplier_order_id=first.pk)
    first.refresh_from_db()
    both = first.cost
    supplier_order_sync(supplier_order_id=first.pk)
    first.refresh_from_db()

    assert first.external_order_id.endswith(f",{second.external_order_id}")
    assert second.cost is not None
    assert both == second.cost * 2  # two identical orders: twice one
    assert first.cost == both  # read again: the same sum, not added up again
    assert first.state == SupplierOrderState.PLACED


@pytest.mark.redis
@pytest.mark.celery_worker
def test_beat_claims_due_orders_once_and_a_worker_syncs_them(
    control: Any, suppliers_worker: list[tuple[str, str]]
) -> None:
    orders = [placed(control, CJ, pay=False, name=f"cj-beat-{n}")[1] for n in range(3)]
    ids = sorted(so.pk for so in orders)

    batches = supplier_orders_claim_due()
    again = supplier_orders_claim_due()

    assert sorted(pk for batch in batches for pk in batch) == ids
    assert again == []  # claimed: the next beat leaves them to their task
    assert wait_for(
        lambda: SupplierOrder.objects.filter(pk__in=ids, last_synced_at__isnull=False).count() == 3, timeout=60
    )
    assert wait_for(lambda: [name for name, _ in suppliers_worker] == ["suppliers.sync_supplier_orders"])
    for supplier_order in SupplierOrder.objects.filter(pk__in=ids):
        assert supplier_order.sync_claimed_until is None
        assert supplier_order.next_sync_at is not None
        assert supplier_order.next_sync_at > timezone.now()
    assert supplier_orders_claim_due() == []  # not due for ten minutes


def test_aliexpress_paid_through_its_create_call_is_synced_to_paid(control: Any) -> None:
    """AliExpress pays through the create call (same key, try_to_pay): paid there, seen here."""
    order, supplier_order = placed(control, AE, pay=False, name="ae-paid-there")
    assert supplier_order.source_account is not None
    provider_for(supplier_order.source_account).place(place_request(supplier_order, pay=True))

    assert supplier_order_sync(supplier_order_id=supplier_order.pk).outcome == SyncOutcome.PAID
    assert status(order) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)


def test_a_sync_read_overlapping_a_failed_payment_leaves_the_order_followed(control: Any) -> None:
    from suppliers.providers.base import SupplierOrderInfo
    from suppliers.services.sync import _record

    account, store = merchant()
    source = source_account_connect(control, account, "cj", payment_mode="later")
    link_sku(account, "EB-1", "cj")
    order = order_to_place(store)
    order_place(account=account, order_id=order.pk)
    supplier_order = SupplierOrder.objects.get(order=order)
    control.options("cj", source.name, balance="1.00")
    # the sync read the order (unpaid) while a payment was starting: the row is PAYING now
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(state=SupplierOrderState.PAYING)
    _record(
        supplier_order.pk,
        SupplierOrderInfo(external_id=supplier_order.external_order_id, status="CREATED", paid=False),
        timezone.now(),
    )
    assert SupplierOrder.objects.get(pk=supplier_order.pk).next_sync_at is not None
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(state=SupplierOrderState.PLACED, next_sync_at=None)

    assert supplier_order_pay(supplier_order_id=supplier_order.pk).outcome == "payment_failed"

    assert SupplierOrder.objects.get(pk=supplier_order.pk).next_sync_at is not None  # still followed
