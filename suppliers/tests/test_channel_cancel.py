"""A customer cancels in the sales channel: unpaid supplier orders are canceled at the supplier
(CJ's deleteOrder; AliExpress has none: the order says how), a paid one asks for a refund."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from orders.enums import OrderEventType, OrderStatus, SubStatus, SupplierOrderState
from orders.models import Order, OrderEvent
from orders.services import OrderData, order_recompute_status, orders_upsert_from_channel
from suppliers.enums import CanceledBy, PaymentMode, SupplierProvider
from suppliers.models import SupplierOrder
from suppliers.providers.base import SupplierRefused
from suppliers.services.cancel import REFUND_NOTE, TOLD_HOW, channel_cancels_sweep, order_channel_canceled
from suppliers.services.connection import provider_for
from suppliers.services.placement import order_place
from suppliers.services.sync import SyncOutcome, supplier_order_sync
from suppliers.tests.placing import link_sku, merchant, order_to_place, source_account_connect
from tests.factories import line
from tests.workers import running_worker, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

AE, CJ = SupplierProvider.ALIEXPRESS, SupplierProvider.CJ


def placed(control: Any, provider: str, *, pay: bool, name: str) -> tuple[Order, SupplierOrder]:
    account, store = merchant(f"Cancel {name}")
    mode = PaymentMode.WITH_ORDER if pay else PaymentMode.LATER
    source_account_connect(control, account, provider, name=name, payment_mode=mode)
    link_sku(account, "EB-1", provider)
    order = order_to_place(store)
    order_place(account=account, order_id=order.pk)
    supplier_order = SupplierOrder.objects.select_related("source_account").get(order=order)
    assert supplier_order.state == (SupplierOrderState.PAID if pay else SupplierOrderState.PLACED)
    return order, supplier_order


def cancel_in_channel(order: Order) -> None:
    """What the channel sync writes (its upsert recomputes the status in the same transaction)."""
    Order.objects.filter(pk=order.pk).update(channel_canceled=True)
    order_recompute_status(order_id=order.pk)


def notes(order: Order, code: str) -> list[str]:
    return [
        event.parameters["text"]
        for event in OrderEvent.objects.filter(order=order, type=OrderEventType.NOTE, parameters__code=code)
    ]


def at_supplier(supplier_order: SupplierOrder) -> Any:
    assert supplier_order.source_account is not None
    return provider_for(supplier_order.source_account).get(supplier_order.external_order_id)


def status(order: Order) -> tuple[str, str]:
    order.refresh_from_db()
    return (order.status, order.sub_status)


def test_before_payment_cj_cancels_the_order_at_cj(control: Any) -> None:
    order, supplier_order = placed(control, CJ, pay=False, name="cj-cancel-unpaid")
    cancel_in_channel(order)

    result = order_channel_canceled(order_id=order.pk)

    assert (result.canceled, result.retry) == ([supplier_order.pk], False)
    supplier_order.refresh_from_db()
    assert (supplier_order.state, supplier_order.canceled_by) == (SupplierOrderState.CANCELED, CanceledBy.CHANNEL)
    assert "customer" in supplier_order.cancel_reason
    assert at_supplier(supplier_order).canceled  # CJ says CANCELLED too
    assert control.ledger() == []
    assert status(order) == (OrderStatus.CANCELED, SubStatus.CHANNEL_CANCELED)
    # again (a retried task): nothing more happens
    assert order_channel_canceled(order_id=order.pk).canceled == []


def test_before_payment_aliexpress_has_no_cancel_call_and_the_order_says_how(control: Any) -> None:
    order, supplier_order = placed(control, AE, pay=False, name="ae-cancel-unpaid")
    cancel_in_channel(order)

    result = order_channel_canceled(order_id=order.pk)
    again = order_channel_canceled(order_id=order.pk)

    assert (result.told_how, again.told_how, result.retry) == ([supplier_order.pk], [supplier_order.pk], False)
    [told] = notes(order, TOLD_HOW)  # once, however often the task runs
    assert "AliExpress has no cancel call" in told
    assert supplier_order.external_order_id in told
    assert "closes there by itself" in told
    supplier_order.refresh_from_db()
    assert supplier_order.state == SupplierOrderState.PLACED  # still open at AliExpress, unpaid
    assert not at_supplier(supplier_order).paid
    assert status(order) == (OrderStatus.CANCELED, SubStatus.CHANNEL_CANCELED)
    assert channel_cancels_sweep(now=timezone.now() + timedelta(hours=1)) == []  # dealt with
    # AliExpress closes it unpaid (the deadline passed); the sync records the channel's doing
    assert supplier_order.source_account is not None
    control.supplier_cancel(AE, supplier_order.source_account.name, supplier_order.external_order_id)
    assert supplier_order_sync(supplier_order_id=supplier_order.pk).outcome == SyncOutcome.CANCELED
    supplier_order.refresh_from_db()
    assert (supplier_order.state, supplier_order.canceled_by) == (SupplierOrderState.CANCELED, CanceledBy.CHANNEL)
    assert status(order) == (OrderStatus.CANCELED, SubStatus.CHANNEL_CANCELED)


@pytest.mark.parametrize("provider", [AE, CJ])
def test_after_payment_the_order_says_to_ask_the_supplier_for_a_refund(control: Any, provider: str) -> None:
    order, supplier_order = placed(control, provider, pay=True, name=f"{provider}-cancel-paid")
    cancel_in_channel(order)

    result = order_channel_canceled(order_id=order.pk)
    order_channel_canceled(order_id=order.pk)

    assert (result.refund_asked, result.canceled) == ([supplier_order.pk], [])
    assert notes(order, REFUND_NOTE) == ["Canceled by the customer after payment: ask the supplier for a refund."]
    supplier_order.refresh_from_db()
    assert supplier_order.state == SupplierOrderState.PAID
    assert len(control.ledger()) == 1  # paid once, nothing undone behind the merchant's back
    assert status(order) == (OrderStatus.CANCELED, SubStatus.CHANNEL_CANCELED)


def test_a_draft_is_canceled_here_without_calling_anyone(control: Any) -> None:
    account, store = merchant("Cancel draft")
    link_sku(account, "EB-1", CJ)
    order = order_to_place(store)
    order_place(account=account, order_id=order.pk)  # no CJ account: blocked, no draft
    source = source_account_connect(control, account, CJ, name="cj-cancel-draft")
    draft = SupplierOrder.objects.create(
        account=account, order=order, provider=CJ, source_account=source, idempotency_key="zopi-draft-cancel"
    )
    cancel_in_channel(order)

    assert order_channel_canceled(order_id=order.pk).canceled == [draft.pk]
    draft.refresh_from_db()
    assert (draft.state, draft.canceled_by) == (SupplierOrderState.CANCELED, CanceledBy.CHANNEL)


def test_an_in_flight_order_is_reconciled_first_then_canceled_on_the_next_run(control: Any) -> None:
    order, supplier_order = placed(control, CJ, pay=False, name="cj-cancel-in-flight")
    # As a worker killed mid-create leaves it: in flight, its lease run out.
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(
        state=SupplierOrderState.PLACING, in_flight_until=timezone.now() - timedelta(seconds=1)
    )
    cancel_in_channel(order)

    first = order_channel_canceled(order_id=order.pk)

    assert (first.in_flight, first.retry) == ([supplier_order.pk], True)
    supplier_order.refresh_from_db()
    assert supplier_order.state == SupplierOrderState.PLACED  # CJ says it made it (found by its key)

    second = order_channel_canceled(order_id=order.pk)

    assert (second.canceled, second.retry) == ([supplier_order.pk], False)
    assert at_supplier(supplier_order).canceled
    assert control.ledger() == []


def test_an_order_no_longer_canceled_in_the_channel_is_left_alone(control: Any) -> None:
    order, supplier_order = placed(control, CJ, pay=False, name="cj-not-canceled")
    assert order_channel_canceled(order_id=order.pk).canceled == []
    supplier_order.refresh_from_db()
    assert supplier_order.state == SupplierOrderState.PLACED


def test_cj_refuses_to_delete_a_paid_order_and_deletes_an_unpaid_one_twice(control: Any) -> None:
    _, paid = placed(control, CJ, pay=True, name="cj-delete-paid")
    assert paid.source_account is not None
    with pytest.raises(SupplierRefused) as refused:
        provider_for(paid.source_account).cancel(paid.external_order_id)
    assert refused.value.refusal.code == "1603002"
    assert "refund" in refused.value.refusal.fix
    assert at_supplier(paid).paid
    assert not at_supplier(paid).canceled

    _, unpaid = placed(control, CJ, pay=False, name="cj-delete-unpaid")
    assert unpaid.source_account is not None
    provider = provider_for(unpaid.source_account)
    provider.cancel(unpaid.external_order_id)
    provider.cancel(unpaid.external_order_id)  # a repeat after a lost answer: done, not an error
    assert at_supplier(unpaid).canceled


def test_the_sweep_finds_a_cancellation_whose_task_was_lost(control: Any) -> None:
    order, supplier_order = placed(control, CJ, pay=False, name="cj-sweep")
    cancel_in_channel(order)

    assert channel_cancels_sweep() == []  # recent: left to its own task
    assert channel_cancels_sweep(now=timezone.now() + timedelta(minutes=11)) == [order.pk]


@dataclass(frozen=True)
class ChannelUpdate:
    data: OrderData
    updated_at: datetime
    purchase_ids: tuple[str, ...] = ()


@pytest.fixture
def suppliers_worker() -> Iterator[list[tuple[str, str]]]:
    with running_worker(["suppliers"]) as ran:
        yield ran


@pytest.mark.redis
@pytest.mark.celery_worker
def test_a_cancellation_from_the_channel_sync_reaches_cj_through_the_broker(
    control: Any, suppliers_worker: list[tuple[str, str]]
) -> None:
    order, supplier_order = placed(control, CJ, pay=False, name="cj-cancel-e2e")
    canceled = OrderData(
        channel_order_id=order.channel_order_id,
        number=order.base_number,
        placed_at=order.placed_at,
        total=order.total,
        lines=(line("Product EB-1", sku="EB-1", quantity=2),),
        currency=order.currency,
        customer_name=order.customer_name,
        customer_email=order.customer_email,
        paid=True,
        canceled=True,
    )

    orders_upsert_from_channel(
        account=order.account,
        store_id=order.store_id,
        channel=order.channel,
        orders=[ChannelUpdate(data=canceled, updated_at=timezone.now())],
    )

    def canceled_here() -> bool:
        return SupplierOrder.objects.filter(pk=supplier_order.pk, state=SupplierOrderState.CANCELED).exists()

    assert wait_for(canceled_here, timeout=60), suppliers_worker
    # the worker notes a task after it ran (it committed first): wait for the note too
    assert wait_for(lambda: "suppliers.order_channel_canceled" in {name for name, _ in suppliers_worker})
    assert at_supplier(supplier_order).canceled
    assert supplier_order.lines.count() == 1  # the order's lines were kept by the update
    assert status(order) == (OrderStatus.CANCELED, SubStatus.CHANNEL_CANCELED)
