"""One path writes an order's stored status (``orders.services.status_write``): intake, the
channel upsert and the recompute all go through it, each move with its event and counter, and
the upsert keeps writing a batch in a fixed number of statements."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_sync.tests.test_upsert import T0, item, upsert
from orders.enums import OrderEventType, OrderStatus, SubStatus, SupplierOrderState
from orders.models import Order, OrderEvent
from orders.services import order_recompute_status
from orders.services.counts import order_counts_from_rows, order_counts_stored
from orders.services.status_write import status_writes
from tests.factories import OrderFactory, StoreFactory, SupplierOrderFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_PACKAGES = ("zopi", "integrations", "accounts", "orders", "channels_sync", "suppliers", "tracking")
THE_WRITER = ROOT / "orders" / "services" / "status_write.py"
# Calls that write the keyword arguments they are given (``filter(status=…)`` only reads).
WRITING_CALLS = {"Order", "update", "create", "bulk_create", "get_or_create", "update_or_create"}


def _production_files() -> Iterator[Path]:
    for package in PRODUCTION_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            # A bench's seeding writes made-up orders in bulk (``tracking/bench``): not a product path.
            if not {"tests", "migrations", "bench"} & set(path.relative_to(ROOT).parts):
                yield path


# A parcel has a sub-status of its own (``tracking.Shipment.sub_status``): tracking's writes of it
# are told apart by the queryset they start from, or the name the parcel row goes by.
SHIPMENT_QUERYSETS = {"Shipment"}
SHIPMENT_ROWS = {"row", "shipment"}


def _root_name(node: ast.expr) -> str:
    """The name a chain like ``Shipment.objects.filter(...).update`` starts from."""
    while isinstance(node, ast.Attribute | ast.Call | ast.Subscript):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else ""


# A customer refund has a status of its own too (``orders.CustomerRefund.status``, the channel's
# word): its module writes it on the refund rows it stores, by the same two means.
CUSTOMER_REFUNDS = Path("orders/services/customer_refunds.py")
CUSTOMER_REFUND_NAMES = {"CustomerRefund", "row"}


def _a_parcels(path: Path, node: ast.expr) -> bool:
    """The write is of a parcel's or a customer refund's own status, not an order's."""
    relative = path.relative_to(ROOT)
    root = _root_name(node)
    if relative == CUSTOMER_REFUNDS:
        return root in CUSTOMER_REFUND_NAMES
    if relative.parts[0] != "tracking":
        return False
    return root in SHIPMENT_QUERYSETS or root in SHIPMENT_ROWS


def _status_writes_in(path: Path) -> list[str]:
    """Lines of ``path`` that set an order's status or sub-status.

    In ``orders`` (where ``Order`` is the only model with a ``status``) both field names count;
    elsewhere ``sub_status`` does (a Store has a ``status`` of its own).
    """
    names = {"status", "sub_status"} if path.relative_to(ROOT).parts[0] == "orders" else {"sub_status"}
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                if isinstance(element, ast.Attribute) and element.attr in names and not _a_parcels(path, element.value):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} sets .{element.attr}")
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            for keyword in node.keywords:
                if called in WRITING_CALLS and keyword.arg in names and not _a_parcels(path, func):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {called}({keyword.arg}=…)")
                if keyword.arg == "update_fields" and isinstance(keyword.value, ast.List | ast.Tuple):
                    saved = {elt.value for elt in keyword.value.elts if isinstance(elt, ast.Constant)}
                    if saved & names:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} saves {sorted(saved & names)}")
    return found


def test_only_the_status_writer_sets_an_order_status() -> None:
    # given every production module but the writer
    others = [path for path in _production_files() if path != THE_WRITER]
    assert ROOT / "orders" / "services" / "upsert.py" in others  # the scan sees the callers
    # then none of them sets, creates or saves a status itself
    assert [line for path in others for line in _status_writes_in(path)] == []
    # and the writer is where the scan would find one
    assert _status_writes_in(THE_WRITER) != []


# --- The same move, whichever path makes it --------------------------------------------------------


@pytest.mark.django_db
def test_every_path_stores_status_with_one_event_per_move_and_exact_counters() -> None:
    # given an unpaid order from the channel (intake through the upsert)
    store = StoreFactory()
    upsert(store, item(paid=False))
    order = Order.objects.get()
    assert (order.status, order.sub_status) == (OrderStatus.UNPAID, SubStatus.NONE)
    # when the payment arrives (upsert), then the supplier is paid (recompute, by a user)
    upsert(store, item(paid=True, updated_at=T0 + timedelta(minutes=1)))
    SupplierOrderFactory(order=order, state=SupplierOrderState.PAID)
    actor = UserFactory()
    order_recompute_status(order_id=order.pk, actor=actor)
    # then each move has one event that starts where the previous one ended
    moves = list(
        OrderEvent.objects.filter(order=order, type=OrderEventType.STATUS_CHANGED)
        .order_by("id")
        .values_list("parameters", "actor_id")
    )
    assert moves == [
        ({"from": {"status": "unpaid", "sub_status": ""}, "to": {"status": "new", "sub_status": ""}}, None),
        (
            {
                "from": {"status": "new", "sub_status": ""},
                "to": {"status": "payment", "sub_status": "awaiting_fulfillment"},
            },
            actor.pk,
        ),
    ]
    created = OrderEvent.objects.get(order=order, type=OrderEventType.CREATED)
    assert created.parameters == {"status": "unpaid", "sub_status": "", "number": "#1001"}
    # and the counters say exactly what the rows say
    assert order_counts_stored(account=store.account) == order_counts_from_rows(account=store.account)
    stored = Order.objects.get(pk=order.pk)
    assert (stored.status, stored.sub_status) == (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT)


@pytest.mark.django_db
def test_a_recompute_that_does_not_move_the_status_writes_nothing() -> None:
    order = OrderFactory()
    events_before = OrderEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        order_recompute_status(order_id=order.pk)
    assert OrderEvent.objects.count() == events_before
    assert not [q for q in queries.captured_queries if q["sql"].startswith(("UPDATE", "INSERT"))]


# --- Query counts: a batch stays a batch ------------------------------------------------------------


def _queries(action: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as queries:
        action()
    return len(queries.captured_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("n", [1, 5, 20])
def test_the_upsert_writes_a_batch_in_a_bounded_number_of_queries(n: int) -> None:
    """Before the single writer (on main): fresh 10, payment 5 + 7n, repeat 4 + n, renumbered
    7 + 9n; now the payment batch reads its facts and lines once and writes its events in bulk."""
    store = StoreFactory()
    unpaid_store, other_store = StoreFactory(account=store.account), StoreFactory(account=store.account)
    upsert(unpaid_store, *[item(f"u{i}", number=f"#U{i}", paid=False) for i in range(n)])
    paid = [item(f"u{i}", number=f"#U{i}", paid=True, updated_at=T0 + timedelta(minutes=1)) for i in range(n)]

    # new orders with free numbers: one INSERT each for orders, lines, events and counters
    assert _queries(lambda: upsert(store, *[item(str(i), number=f"#{i}") for i in range(n)])) == 10
    # the payment of n known orders moves n statuses: one UPDATE per order, the rest per batch
    assert _queries(lambda: upsert(unpaid_store, *paid)) == 11 + n
    # a repeat of the same batch: read, compare, nothing written
    assert _queries(lambda: upsert(unpaid_store, *paid)) == 5
    # numbers another store has already: renumbered one at a time, as intake does
    assert _queries(lambda: upsert(other_store, *[item(str(i), number=f"#{i}") for i in range(n)])) == 7 + 9 * n
    assert order_counts_stored(account=store.account) == order_counts_from_rows(account=store.account)


@pytest.mark.django_db
def test_order_create_and_recompute_run_as_many_queries_as_before() -> None:
    store = StoreFactory()
    assert _queries(lambda: OrderFactory(store=store, number="#1001")) == 9
    order = OrderFactory(store=store, number="#1002")
    SupplierOrderFactory(order=order, state=SupplierOrderState.PAID)
    assert _queries(lambda: order_recompute_status(order_id=order.pk)) == 9


@pytest.mark.django_db
def test_a_move_out_of_the_stalled_stages_clears_a_flag_left_unread_in_one_update() -> None:
    # given stalled orders read without their flag (as the bulk placement and the merge read them)
    stalled = [
        OrderFactory(status=OrderStatus.SHIPMENT, sub_status=SubStatus.IN_TRANSIT, stalled="no_event") for _ in range(3)
    ]
    ids = [order.pk for order in stalled]
    orders = list(Order.objects.defer("stalled", "stalled_since").filter(pk__in=ids).order_by("pk"))
    # when they move to Delivered in one write
    with CaptureQueriesContext(connection) as queries, status_writes() as writes:
        assert writes.store_many([(order, (OrderStatus.SHIPMENT, SubStatus.DELIVERED)) for order in orders]) == 3
    # then the flags are cleared, by one UPDATE of their own rather than a read per order
    assert list(Order.objects.filter(pk__in=ids).values_list("stalled", flat=True)) == ["", "", ""]
    flag_reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith('SELECT "orders_order"."id", "orders_order"."stalled"')
    ]
    assert flag_reads == []
    assert sum('SET "stalled"' in q["sql"] for q in queries.captured_queries) == 1
