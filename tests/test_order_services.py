"""Order services: create, numbering, status recompute, archive/restore, exact counters, expiry."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.enums import OrderEventType, OrderStatus, RefundState, SubStatus, SupplierOrderState, TrackingStatus
from orders.models import Order, OrderEvent, OrderLine
from orders.services import (
    LineData,
    OrderData,
    OrdersNotFound,
    order_add_search_terms,
    order_counts_rebuild,
    order_create,
    order_recompute_status,
    orders_archive,
    orders_due_for_expiry,
    orders_restore,
)
from orders.services.counts import CountKey, order_counts_from_rows, order_counts_stored
from orders.tasks import refresh_time_based_statuses
from suppliers.enums import SupplierProvider
from suppliers.models import SupplierOrder
from tests.factories import (
    AccountFactory,
    OrderFactory,
    RefundFactory,
    ShipmentFactory,
    StoreFactory,
    SupplierOrderFactory,
    UserFactory,
    line,
)
from tracking.models import Shipment

pytestmark = pytest.mark.django_db


def key(order: Order, **changes: Any) -> CountKey:
    fields = {
        "account_id": order.account_id,
        "store_id": order.store_id,
        "status": order.status,
        "sub_status": order.sub_status,
        "archived": order.archived,
    }
    return CountKey(**{**fields, **changes})


def events_of(order: Order) -> list[tuple[str, dict[str, Any]]]:
    return list(OrderEvent.objects.filter(order=order).order_by("id").values_list("type", "parameters"))


# --- order_create ---------------------------------------------------------------------------


def test_order_create_writes_the_order_lines_event_counter_and_search_text(account: Any, store: Any) -> None:
    # given a normalized channel order with two lines
    placed_at = timezone.now() - timedelta(hours=2)
    data = OrderData(
        channel_order_id="5800001001",
        number="#1001",
        placed_at=placed_at,
        total=Decimal("64.79"),
        lines=(
            LineData(title="Wireless Earbuds Pro", sku="EB-PRO-BLK", unit_price=Decimal("29.90"), quantity=2),
            LineData(title="Phone Case", sku="PC-IP15-CLR", unit_price=Decimal("4.99"), variant_title="Clear"),
        ),
        customer_name="Olivia Martin",
        customer_email="Olivia.Martin@Example.com",
        extra_search_terms=("TT-576460000000001001",),
    )
    # when
    order = order_create(account=account, store_id=store.pk, channel=store.channel, data=data)
    # then
    order.refresh_from_db()
    assert (order.number, order.base_number, order.status, order.sub_status) == ("#1001", "#1001", "new", "")
    assert (order.account_id, order.store_id, order.channel, order.channel_order_id) == (
        account.pk,
        store.pk,
        "shopify",
        "5800001001",
    )
    assert (order.total, order.placed_at, order.archived, order.archived_at) == (
        Decimal("64.79"),
        placed_at,
        False,
        None,
    )
    assert (
        order.search_text
        == "#1001 olivia martin olivia.martin@example.com eb-pro-blk pc-ip15-clr tt-576460000000001001"
    )
    assert list(
        OrderLine.objects.filter(order=order).values_list("title", "sku", "variant_title", "quantity", "unit_price")
    ) == [
        ("Wireless Earbuds Pro", "EB-PRO-BLK", "", 2, Decimal("29.90")),
        ("Phone Case", "PC-IP15-CLR", "Clear", 1, Decimal("4.99")),
    ]
    assert events_of(order) == [("created", {"status": "new", "sub_status": "", "number": "#1001"})]
    assert order_counts_stored(account=account) == {key(order): 1}


@pytest.mark.parametrize(
    ("paid", "canceled", "expected"),
    [
        (False, False, ("unpaid", "")),
        (True, True, ("canceled", "channel_canceled")),
        (False, True, ("canceled", "channel_canceled")),
    ],
)
def test_order_create_derives_the_status_from_the_channel_state(
    store: Any, paid: bool, canceled: bool, expected: tuple[str, str]
) -> None:
    # when
    order = OrderFactory(store=store, paid=paid, canceled=canceled)
    # then
    order.refresh_from_db()
    assert (order.status, order.sub_status) == expected
    assert order_counts_stored(account=store.account) == {key(order): 1}


def test_order_add_search_terms_appends_new_terms_once(store: Any) -> None:
    # given
    order = OrderFactory(
        store=store, number="#1001", customer_name="Ann", customer_email="ann@example.com", lines=(line(sku="SKU-9"),)
    )
    # when the same tracking number is added twice
    order_add_search_terms(order=order, terms=["LP00123CN", ""])
    order_add_search_terms(order=Order.objects.get(pk=order.pk), terms=["lp00123cn"])
    # then
    assert Order.objects.get(pk=order.pk).search_text == "#1001 ann ann@example.com sku-9 lp00123cn"


# --- Numbering --------------------------------------------------------------------------------


def test_a_second_order_with_the_same_number_renumbers_both_in_arrival_order(account: Any, store: Any) -> None:
    # given one #1001 in the account, and a #1001 in another account
    second_store = StoreFactory(account=account, name="A Second Shopify")
    first = OrderFactory(store=store, number="#1001", customer_name="First Buyer")
    elsewhere = OrderFactory(store=StoreFactory(), number="#1001")
    # when a second and a third #1001 arrive (from another store of the account)
    second = OrderFactory(store=second_store, number="#1001")
    third = OrderFactory(store=store, number="#1001")
    # then
    first.refresh_from_db()
    assert (first.number, second.number, third.number) == ("#1001-1", "#1001-2", "#1001-3")
    assert {first.base_number, second.base_number, third.base_number} == {"#1001"}
    assert first.search_text.startswith("#1001-1 first buyer ")
    assert events_of(first)[1:] == [("renumbered", {"from": "#1001", "to": "#1001-1"})]
    assert [event_type for event_type, _ in events_of(second)] == ["created"]
    assert [event_type for event_type, _ in events_of(third)] == ["created"]
    # and the other account's #1001 is untouched
    elsewhere.refresh_from_db()
    assert elsewhere.number == "#1001"
    assert [event_type for event_type, _ in events_of(elsewhere)] == ["created"]


def test_a_channel_number_that_looks_like_a_suffix_does_not_block_intake(store: Any) -> None:
    # given #1001, and a store whose own numbering produced "#1001-1" (custom order-name suffixes)
    first = OrderFactory(store=store, number="#1001")
    lookalike = OrderFactory(store=StoreFactory(account=store.account), number="#1001-1")
    # when a second #1001 arrives
    second = OrderFactory(store=store, number="#1001")
    # then every order is kept, each with its own number, and the lookalike keeps its number
    numbers = dict(Order.objects.values_list("pk", "number"))
    assert len(set(numbers.values())) == 3
    assert numbers[lookalike.pk] == "#1001-1"
    assert numbers[first.pk].startswith("#1001-")
    assert numbers[second.pk].startswith("#1001-")
    assert order_counts_stored(account=store.account) == order_counts_from_rows(account=store.account)


def test_a_channel_number_equal_to_a_renumbered_one_does_not_block_intake(store: Any) -> None:
    # given #1001 twice (renumbered #1001-1 and #1001-2)
    first, second = OrderFactory(store=store, number="#1001"), OrderFactory(store=store, number="#1001")
    # when another store's own order "#1001-1" arrives, and then a second one of those
    lookalike = OrderFactory(store=StoreFactory(account=store.account), number="#1001-1")
    lookalike_twin = OrderFactory(store=lookalike.store, number="#1001-1")
    # then every order is kept, with distinct numbers, the earlier ones unchanged
    numbers = dict(Order.objects.values_list("pk", "number"))
    assert (numbers[first.pk], numbers[second.pk]) == ("#1001-1", "#1001-2")
    assert len(set(numbers.values())) == 4
    assert numbers[lookalike.pk].startswith("#1001-1-")
    assert numbers[lookalike_twin.pk].startswith("#1001-1-")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_arrivals_of_one_number_all_get_distinct_numbers() -> None:
    # given an account with a store, and 6 workers each receiving a #1001 at the same moment
    store = StoreFactory()
    workers = 6
    barrier = threading.Barrier(workers)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def arrive(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            created = order_create(
                account=store.account,
                store_id=store.pk,
                channel=store.channel,
                data=OrderData(
                    channel_order_id=f"concurrent-{index}",
                    number="#1001",
                    placed_at=timezone.now(),
                    total=Decimal("14.99"),
                    lines=(line(),),
                ),
            )
            numbers.append(created.number)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=arrive, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then every arrival succeeded, with the numbers #1001-1 … #1001-6
    assert errors == []
    # (the first to arrive was created as #1001 and renamed #1001-1 by the second)
    assert sorted(numbers) == ["#1001", *(f"#1001-{n}" for n in range(2, workers + 1))]
    assert sorted(Order.objects.values_list("number", flat=True)) == [f"#1001-{n}" for n in range(1, workers + 1)]
    assert order_counts_stored(account=store.account) == order_counts_from_rows(account=store.account)
    assert OrderEvent.objects.filter(type=OrderEventType.RENUMBERED).count() == 1


# --- order_recompute_status ---------------------------------------------------------------------


def test_recompute_writes_one_status_changed_event_when_the_status_moves(store: Any) -> None:
    # given a new order that just got a paid supplier order
    order = OrderFactory(store=store)
    SupplierOrderFactory(order=order, state=SupplierOrderState.PAID)
    actor = UserFactory()
    # when
    recomputed = order_recompute_status(order_id=order.pk, actor=actor)
    # then
    assert (recomputed.status, recomputed.sub_status) == ("payment", "awaiting_fulfillment")
    order.refresh_from_db()
    assert (order.status, order.sub_status) == ("payment", "awaiting_fulfillment")
    changed = OrderEvent.objects.get(order=order, type=OrderEventType.STATUS_CHANGED)
    assert changed.parameters == {
        "from": {"status": "new", "sub_status": ""},
        "to": {"status": "payment", "sub_status": "awaiting_fulfillment"},
    }
    assert changed.actor_id == actor.pk
    assert order_counts_stored(account=store.account) == {key(order): 1}


def test_recompute_writes_nothing_when_the_status_does_not_move(store: Any) -> None:
    # given an order whose stored status matches its facts
    order = OrderFactory(store=store)
    SupplierOrderFactory(order=order, state=SupplierOrderState.PAID)
    order_recompute_status(order_id=order.pk)
    events_before = events_of(order)
    counts_before = order_counts_stored(account=store.account)
    # when recomputed again, and after a fact that does not change the stage
    order_recompute_status(order_id=order.pk)
    SupplierOrderFactory(order=order, state=SupplierOrderState.CANCELED)
    order_recompute_status(order_id=order.pk)
    # then no event, no counter move
    assert events_of(order) == events_before
    assert order_counts_stored(account=store.account) == counts_before
    assert [event_type for event_type, _ in events_before] == ["created", "status_changed"]


def test_recompute_follows_the_facts_through_every_stage(store: Any) -> None:
    # given an order going through payment, shipment and a refund
    order = OrderFactory(store=store)
    supplier_order = SupplierOrderFactory(order=order, state=SupplierOrderState.PAYMENT_FAILED)
    seen = [order_recompute_status(order_id=order.pk).sub_status]
    SupplierOrder.objects.filter(pk=supplier_order.pk).update(state=SupplierOrderState.PAID)
    seen.append(order_recompute_status(order_id=order.pk).sub_status)
    shipment = ShipmentFactory(order=order, supplier_order=supplier_order, tracking_status=TrackingStatus.INFO_RECEIVED)
    seen.append(order_recompute_status(order_id=order.pk).sub_status)
    Shipment.objects.filter(pk=shipment.pk).update(tracking_status=TrackingStatus.DELIVERED)
    seen.append(order_recompute_status(order_id=order.pk).sub_status)
    RefundFactory(order=order, supplier_order=supplier_order, state=RefundState.IN_REVIEW)
    seen.append(order_recompute_status(order_id=order.pk).sub_status)
    # then
    assert seen == ["payment_failed", "awaiting_fulfillment", "awaiting_shipment", "delivered", "in_review"]
    assert OrderEvent.objects.filter(order=order, type=OrderEventType.STATUS_CHANGED).count() == 5
    order.refresh_from_db()
    assert order_counts_stored(account=store.account) == {key(order): 1}


# --- Archive and restore -------------------------------------------------------------------------


def test_archive_and_restore_write_events_and_move_counters(store: Any) -> None:
    # given two new orders
    first, second = OrderFactory(store=store), OrderFactory(store=store)
    actor = UserFactory()
    # when both are archived
    changed = orders_archive(account=store.account, order_ids=[first.pk, second.pk], actor=actor)
    # then
    assert changed == 2
    first.refresh_from_db()
    assert (first.archived, first.status) == (True, "new")
    assert first.archived_at is not None
    assert order_counts_stored(account=store.account) == {key(first): 2}
    assert list(
        OrderEvent.objects.filter(type=OrderEventType.ARCHIVED).values_list("order_id", "actor_id").order_by("order_id")
    ) == [
        (first.pk, actor.pk),
        (second.pk, actor.pk),
    ]
    # when one is restored
    assert orders_restore(account=store.account, order_ids=[first.pk], actor=actor) == 1
    # then
    first.refresh_from_db()
    assert (first.archived, first.archived_at) == (False, None)
    assert order_counts_stored(account=store.account) == {key(first): 1, key(first, archived=True): 1}
    assert list(OrderEvent.objects.filter(type=OrderEventType.RESTORED).values_list("order_id", flat=True)) == [
        first.pk
    ]


def test_archiving_an_archived_order_changes_nothing(store: Any) -> None:
    # given an archived order
    order = OrderFactory(store=store)
    orders_archive(account=store.account, order_ids=[order.pk])
    events_before, counts_before = events_of(order), order_counts_stored(account=store.account)
    # when archived again
    changed = orders_archive(account=store.account, order_ids=[order.pk])
    # then
    assert changed == 0
    assert events_of(order) == events_before
    assert order_counts_stored(account=store.account) == counts_before


def test_archive_with_a_foreign_id_changes_nothing(store: Any, other_store: Any) -> None:
    # given an order of the account and one of another account
    own = OrderFactory(store=store)
    foreign = OrderFactory(store=other_store)
    events_before = OrderEvent.objects.count()
    counts_before = order_counts_stored(account=store.account)
    # when both are archived in the account
    with pytest.raises(OrdersNotFound):
        orders_archive(account=store.account, order_ids=[own.pk, foreign.pk])
    with pytest.raises(OrdersNotFound):
        orders_archive(account=store.account, order_ids=[own.pk, foreign.pk + 10_000])
    # then nothing changed anywhere
    assert list(Order.objects.filter(pk__in=[own.pk, foreign.pk]).values_list("archived", flat=True)) == [False, False]
    assert OrderEvent.objects.count() == events_before
    assert order_counts_stored(account=store.account) == counts_before


def test_restore_with_a_foreign_id_changes_nothing(store: Any, other_store: Any) -> None:
    # given archived orders in both accounts
    own, foreign = OrderFactory(store=store), OrderFactory(store=other_store)
    orders_archive(account=store.account, order_ids=[own.pk])
    orders_archive(account=other_store.account, order_ids=[foreign.pk])
    events_before = OrderEvent.objects.count()
    # when
    with pytest.raises(OrdersNotFound):
        orders_restore(account=store.account, order_ids=[own.pk, foreign.pk])
    # then
    assert list(Order.objects.filter(pk__in=[own.pk, foreign.pk]).values_list("archived", flat=True)) == [True, True]
    assert OrderEvent.objects.count() == events_before


# --- Counters stay exact -------------------------------------------------------------------------

OPERATIONS = (
    "create",
    "create_unpaid",
    "archive",
    "restore",
    "place",
    "pay",
    "ship",
    "deliver",
    "refund",
    "cancel",
    "cancel_supplier",
)
operations = st.lists(
    st.tuples(st.sampled_from(OPERATIONS), st.integers(min_value=0, max_value=10_000)), min_size=1, max_size=14
)


def apply_operation(name: str, pick: int, *, account: Any, stores: list[Any]) -> None:
    orders = list(Order.objects.filter(account=account).order_by("id"))
    if name.startswith("create") or not orders:
        OrderFactory(store=stores[pick % len(stores)], number=f"#{1000 + pick % 3}", paid=name != "create_unpaid")
        return
    order = orders[pick % len(orders)]
    supplier_order = SupplierOrder.objects.filter(order=order).order_by("id").last()
    if name == "archive":
        orders_archive(account=account, order_ids=[order.pk, orders[(pick // 7) % len(orders)].pk])
        return
    if name == "restore":
        orders_restore(account=account, order_ids=[order.pk])
        return
    if name == "place":
        # At most one current supplier order per order and supplier (a constraint): place with
        # one the order has none with yet.
        provider = list(SupplierProvider)[pick % len(SupplierProvider)]
        current = SupplierOrder.objects.filter(order=order, provider=provider).exclude(
            state__in=(SupplierOrderState.CANCELED, SupplierOrderState.REPLACED)
        )
        if not current.exists():
            SupplierOrderFactory(order=order, provider=provider, state=SupplierOrderState.PLACED)
    elif name == "pay" and supplier_order is not None:
        SupplierOrder.objects.filter(pk=supplier_order.pk).update(state=SupplierOrderState.PAID)
    elif name == "ship" and supplier_order is not None:
        ShipmentFactory(order=order, supplier_order=supplier_order, tracking_status=TrackingStatus.IN_TRANSIT)
    elif name == "deliver":
        Shipment.objects.filter(order=order).update(tracking_status=TrackingStatus.DELIVERED)
    elif name == "refund":
        RefundFactory(order=order, supplier_order=supplier_order)
    elif name == "cancel":
        Order.objects.filter(pk=order.pk).update(channel_canceled=True)
    elif name == "cancel_supplier" and supplier_order is not None:
        SupplierOrder.objects.filter(pk=supplier_order.pk).update(state=SupplierOrderState.CANCELED)
    order_recompute_status(order_id=order.pk)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(operations)
def test_counters_stay_exact_through_any_sequence_of_changes(db: None, steps: list[tuple[str, int]]) -> None:
    # each example runs in its own savepoint, rolled back at the end
    with transaction.atomic():
        # given an account with two stores
        account = AccountFactory()
        stores = [StoreFactory(account=account), StoreFactory(account=account)]
        # when any sequence of creates, archives, restores and fact changes is applied
        for name, pick in steps:
            apply_operation(name, pick, account=account, stores=stores)
        # then the stored counters equal a recount from the rows
        from_rows = order_counts_from_rows(account=account)
        assert order_counts_stored(account=account) == from_rows
        assert sum(from_rows.values()) == Order.objects.filter(account=account).count()
        transaction.set_rollback(True)


def test_counters_stay_exact_through_a_seeded_random_history(account: Any) -> None:
    # given two stores and a long, seeded random history (reproducible)
    stores = [StoreFactory(account=account), StoreFactory(account=account)]
    rng = random.Random(20250601)
    # when
    for _ in range(120):
        apply_operation(rng.choice(OPERATIONS), rng.randrange(10_000), account=account, stores=stores)
    # then
    from_rows = order_counts_from_rows(account=account)
    assert order_counts_stored(account=account) == from_rows
    assert len({k.status for k in from_rows}) >= 3


def test_order_counts_rebuild_repairs_drifted_counters(store: Any) -> None:
    # given counters that drifted (a bug or a manual edit)
    OrderFactory(store=store)
    OrderFactory(store=store)
    Order.objects.filter(account=store.account).update(status=OrderStatus.PAYMENT, sub_status=SubStatus.PAYMENT_FAILED)
    assert order_counts_stored(account=store.account) != order_counts_from_rows(account=store.account)
    # when
    rebuilt = order_counts_rebuild(account=store.account)
    # then
    expected = {CountKey(store.account_id, store.pk, "payment", "payment_failed", False): 2}
    assert rebuilt == expected
    assert order_counts_stored(account=store.account) == expected


# --- Expiry ----------------------------------------------------------------------------------------


def shipped_order(store: Any, *, silent_days: int, tracking_status: str = TrackingStatus.IN_TRANSIT) -> Order:
    """An order whose parcel was stored as scanned, then went silent for ``silent_days``."""
    order = OrderFactory(store=store)
    supplier_order = SupplierOrderFactory(order=order, state=SupplierOrderState.PAID)
    shipment = ShipmentFactory(order=order, supplier_order=supplier_order, tracking_status=tracking_status)
    order_recompute_status(order_id=order.pk)
    silent_since = timezone.now() - timedelta(days=silent_days)
    Shipment.objects.filter(pk=shipment.pk).update(last_event_at=silent_since, created_at=silent_since)
    return Order.objects.get(pk=order.pk)


def test_orders_due_for_expiry_lists_only_silent_non_final_parcels(store: Any) -> None:
    # given parcels silent for various times, under a 30-day and a 60-day account
    silent = shipped_order(store, silent_days=40)
    pickup = shipped_order(store, silent_days=31, tracking_status=TrackingStatus.AVAILABLE_FOR_PICKUP)
    shipped_order(store, silent_days=2)
    shipped_order(store, silent_days=40, tracking_status=TrackingStatus.DELIVERED)
    patient = AccountFactory(expire_after_days=60)
    shipped_order(StoreFactory(account=patient), silent_days=40)
    assert (silent.status, silent.sub_status) == ("shipment", "in_transit")
    # when
    due = orders_due_for_expiry()
    # then
    assert sorted(due) == sorted([silent.pk, pickup.pk])


def test_refresh_time_based_statuses_expires_silent_orders_once(store: Any) -> None:
    # given one order silent for 40 days and one fresh
    silent = shipped_order(store, silent_days=40)
    fresh = shipped_order(store, silent_days=1)
    # when the beat task runs (its function, in this process)
    moved = refresh_time_based_statuses()
    # then
    assert moved == 1
    silent.refresh_from_db()
    assert (silent.status, silent.sub_status) == ("shipment", "expired")
    assert events_of(silent)[-1] == (
        "status_changed",
        {
            "from": {"status": "shipment", "sub_status": "in_transit"},
            "to": {"status": "shipment", "sub_status": "expired"},
        },
    )
    assert Order.objects.get(pk=fresh.pk).sub_status == "in_transit"
    assert order_counts_stored(account=store.account) == order_counts_from_rows(account=store.account)
    # when it runs again, then nothing moves and no event is written
    events_before = OrderEvent.objects.count()
    assert refresh_time_based_statuses() == 0
    assert OrderEvent.objects.count() == events_before
    assert dict(Counter(Order.objects.values_list("sub_status", flat=True))) == {"expired": 1, "in_transit": 1}
