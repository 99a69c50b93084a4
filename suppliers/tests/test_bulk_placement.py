"""A bulk placement's chunk (``suppliers.services.bulk``) against the sandbox suppliers over real HTTP.

Many orders checked, drafted, leased, sent and recorded together: each order's outcome is the one
the one-order path would give, each supplier order is created and charged once (the sandbox's
ledger says so), two workers on the same chunk send nothing twice, and the queries of a chunk do
not grow with its orders.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from orders.enums import OrderStatus, SubStatus, SupplierOrderState
from orders.models import Order
from orders.services.counts import order_counts_from_rows, order_counts_stored
from suppliers.enums import PlacementOutcome, SupplierProvider
from suppliers.models import PlacementBatch, PlacementResult, ProductLink, SupplierAttempt, SupplierOrder
from suppliers.services.bulk import placement_chunk_run
from suppliers.services.placement import order_place
from suppliers.tests.placing import US_ADDRESS, link_sku, merchant, order_to_place, source_account_connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

AE, CJ = SupplierProvider.ALIEXPRESS, SupplierProvider.CJ


def results_for(account: Account, orders: list[Order]) -> tuple[PlacementBatch, dict[int, int]]:
    """A batch of ``orders`` with one result each (as ``placement_batch_create`` writes it, without
    queueing its tasks): the batch and the result id of each order id."""
    batch = PlacementBatch.objects.create(account=account, pay=True, total=len(orders))
    results = PlacementResult.objects.bulk_create(PlacementResult(batch=batch, order=order) for order in orders)
    return batch, {result.order_id: result.pk for result in results}


def charges_per_key(control: Any) -> Counter[str]:
    return Counter(charge["idempotency_key"] for charge in control.ledger())


def test_a_chunk_places_and_pays_each_order_once_with_its_history_counts_and_progress(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    orders = [order_to_place(store) for _ in range(6)]
    batch, result_of = results_for(account, orders)

    outcomes = placement_chunk_run(result_ids=list(result_of.values()))

    assert {result_of[order.pk]: PlacementOutcome.PAID for order in orders} == {
        result_id: result.outcome for result_id, result in outcomes.items()
    }
    supplier_orders = list(SupplierOrder.objects.filter(order__in=orders))
    assert len(supplier_orders) == 6
    charged = charges_per_key(control)
    for supplier_order in supplier_orders:
        assert supplier_order.state == SupplierOrderState.PAID
        assert (supplier_order.lease_id, supplier_order.in_flight_until, supplier_order.attempts) == (None, None, 1)
        assert supplier_order.external_order_id
        assert supplier_order.fx_source == "same currency"
        assert charged[supplier_order.idempotency_key] == 1
        assert list(supplier_order.transitions.values_list("from_state", "to_state")) == [
            ("draft", "placing"),
            ("placing", "paid"),
        ]
        assert [line.quantity for line in supplier_order.lines.all()] == [2]
    for order in Order.objects.filter(pk__in=[order.pk for order in orders]):
        assert (order.status, order.sub_status) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)
        assert order.supplier_cost is not None
        assert order.placement_issue == ""
        assert list(order.events.values_list("type", flat=True).order_by("pk"))[-3:] == [
            "supplier_order",
            "supplier_order",
            "status_changed",
        ]
    assert order_counts_stored(account=account) == order_counts_from_rows(account=account)
    batch.refresh_from_db()
    assert (batch.done, batch.succeeded, batch.failed, batch.finished_at is not None) == (6, 6, 0, True)
    assert set(PlacementResult.objects.filter(batch=batch).values_list("outcome", flat=True)) == {"paid"}
    assert SupplierAttempt.objects.filter(source_account__account=account).count() == 6

    # run again (a redelivered task): nothing is sent, nothing written
    assert placement_chunk_run(result_ids=list(result_of.values())) == {}
    assert len(control.ledger()) == 6


def test_the_queries_of_a_chunk_do_not_grow_with_its_orders(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    counted = []
    for size in (3, 9):
        _, result_of = results_for(account, [order_to_place(store) for _ in range(size)])
        with CaptureQueriesContext(connection) as queries:
            outcomes = placement_chunk_run(result_ids=list(result_of.values()))
        assert {result.outcome for result in outcomes.values()} == {PlacementOutcome.PAID}
        counted.append(len(queries))
    assert counted[0] == counted[1], counted


def test_each_order_of_a_mixed_chunk_gets_the_outcome_the_one_order_path_gives(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    ae = source_account_connect(control, account, AE)
    control.options("aliexpress", ae.name, payment_failure="card_declined")
    link_sku(account, "EB-1", CJ)
    link_sku(account, "AE-1", AE)
    gone = link_sku(account, "EB-GONE", CJ, supplier_product_id="VID-GONE")
    control.options("cj", f"{CJ}-{account.pk}", out_of_stock=["VID-GONE"])
    paid = order_to_place(store)
    payment_failed = order_to_place(store, skus=("AE-1",))
    both = order_to_place(store, skus=("EB-1", "AE-1"))
    refused = order_to_place(store, skus=("EB-GONE",))
    no_zip = order_to_place(store, address={**US_ADDRESS, "ship_zip": ""})
    unlinked = order_to_place(store, skus=("NOT-LINKED",))
    canceled = order_to_place(store)
    Order.objects.filter(pk=canceled.pk).update(channel_canceled=True)
    # an order with a supplier order already (an earlier refusal left a draft): the one-order path
    control.options("cj", f"{CJ}-{account.pk}", out_of_stock=["VID-GONE", "VID-1001"])
    earlier = order_to_place(store)
    assert order_place(account=account, order_id=earlier.pk).outcome == PlacementOutcome.REFUSED
    control.options("cj", f"{CJ}-{account.pk}", out_of_stock=["VID-GONE"])
    ProductLink.objects.filter(sku="EB-1").update(unavailable_at=None, unavailable_reason="")
    everything = [paid, payment_failed, both, refused, no_zip, unlinked, canceled, earlier]
    batch, result_of = results_for(account, everything)

    outcomes = placement_chunk_run(result_ids=list(result_of.values()))

    outcome_of = {order.pk: outcomes[result_of[order.pk]].outcome for order in everything}
    assert outcome_of == {
        paid.pk: PlacementOutcome.PAID,
        payment_failed.pk: PlacementOutcome.PAYMENT_FAILED,
        both.pk: PlacementOutcome.PAYMENT_FAILED,  # the worse of its two supplier orders
        refused.pk: PlacementOutcome.REFUSED,
        no_zip.pk: PlacementOutcome.BLOCKED,
        unlinked.pk: PlacementOutcome.BLOCKED,
        canceled.pk: PlacementOutcome.SKIPPED,
        earlier.pk: PlacementOutcome.PAID,
    }
    states = dict(SupplierOrder.objects.filter(order=both).values_list("provider", "state"))
    assert states == {CJ: SupplierOrderState.PAID, AE: SupplierOrderState.PAYMENT_FAILED}
    assert Order.objects.get(pk=both.pk).sub_status == SubStatus.PAYMENT_FAILED
    gone.refresh_from_db()
    assert gone.unavailable_at is not None  # the supplier said the SKU is gone: the link is flagged
    refused.refresh_from_db()
    assert refused.status == OrderStatus.NEW
    assert refused.placement_issue.startswith("refused_")
    no_zip.refresh_from_db()
    assert no_zip.placement_issue.startswith("address_")
    assert not SupplierOrder.objects.filter(order__in=[no_zip, unlinked, canceled]).exists()
    assert all(times == 1 for times in charges_per_key(control).values())
    batch.refresh_from_db()
    assert (batch.done, batch.succeeded, batch.finished_at is not None) == (8, 2, True)
    assert batch.failed == 6 - 1  # blocked, refused and payment failed count as failed; skipped does not
    assert order_counts_stored(account=account) == order_counts_from_rows(account=account)


@pytest.mark.redis
@override_settings(SUPPLIER_RATE_LIMITS={"cj": 0.5}, OUTBOUND_MAX_INLINE_WAIT=0.5)
def test_orders_our_pacing_cannot_send_now_are_deferred_then_sent_under_the_same_key(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    orders = [order_to_place(store) for _ in range(3)]
    batch, result_of = results_for(account, orders)

    outcomes = placement_chunk_run(result_ids=list(result_of.values()))

    # one call slot now, the next 2 s away (more than a call may wait): the rest waits, unsent
    assert Counter(result.outcome for result in outcomes.values()) == {
        PlacementOutcome.PAID: 1,
        PlacementOutcome.DEFERRED: 2,
    }
    deferred = [result_id for result_id, result in outcomes.items() if result.outcome == PlacementOutcome.DEFERRED]
    assert all(outcomes[result_id].retry_after for result_id in deferred)
    assert PlacementResult.objects.filter(pk__in=deferred, outcome="").count() == 2  # still open
    keys = dict(SupplierOrder.objects.filter(order__in=orders).values_list("pk", "idempotency_key"))
    assert len(control.ledger()) == 1

    # the task comes back after the wait, for those only, until they are sent
    deadline = time.monotonic() + 30
    while deferred:
        assert time.monotonic() < deadline
        time.sleep(max(outcomes[result_id].retry_after or 0.0 for result_id in deferred))
        outcomes.update(placement_chunk_run(result_ids=deferred))
        deferred = [result_id for result_id in deferred if outcomes[result_id].outcome == PlacementOutcome.DEFERRED]

    assert {result.outcome for result in outcomes.values()} == {PlacementOutcome.PAID}
    current = dict(SupplierOrder.objects.filter(order__in=orders).values_list("pk", "idempotency_key"))
    assert current == keys  # no new supplier order, no new key: the drafts were sent as they were
    assert sorted(charges_per_key(control).values()) == [1, 1, 1]
    batch.refresh_from_db()
    assert (batch.done, batch.succeeded, batch.finished_at is not None) == (3, 3, True)


def test_two_workers_on_the_same_chunk_at_once_place_and_charge_each_order_once(control: Any) -> None:
    account, store = merchant()
    source_account_connect(control, account, CJ)
    link_sku(account, "EB-1", CJ)
    orders = [order_to_place(store) for _ in range(8)]
    batch, result_of = results_for(account, orders)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            placement_chunk_run(result_ids=list(result_of.values()))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert SupplierOrder.objects.filter(order__in=orders).count() == 8
    assert sorted(charges_per_key(control).values()) == [1] * 8
    assert set(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("sub_status", flat=True)) == {
        SubStatus.AWAITING_FULFILLMENT
    }
    batch.refresh_from_db()
    assert (batch.done, batch.succeeded) == (8, 8)  # each result counted once
    assert set(PlacementResult.objects.filter(batch=batch).values_list("outcome", flat=True)) == {"paid"}
    assert order_counts_stored(account=account) == order_counts_from_rows(account=account)
