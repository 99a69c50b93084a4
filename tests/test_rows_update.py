"""``orders.services.rows``: many rows, each with its own values, in one statement."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.models import Order
from orders.services.rows import rows_update
from suppliers.enums import SupplierProvider
from suppliers.models import SupplierOrder
from tests.factories import OrderFactory, SupplierOrderFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_each_row_gets_its_own_values_of_every_type_in_one_statement() -> None:
    first, second = OrderFactory(), OrderFactory()
    when = timezone.now() - timedelta(days=1)
    first.supplier_cost, first.placement_issue, first.placement_issue_fix = Decimal("12.34"), "x", {"view": "v"}
    second.supplier_cost, second.placement_issue, second.placement_issue_fix = None, "", None
    first.updated_at, second.updated_at = when, when + timedelta(hours=1)
    untouched = Order.objects.get(pk=first.pk).customer_name
    first.customer_name = "not written"  # a field not named is not written

    with CaptureQueriesContext(connection) as queries:
        changed = rows_update(
            [first, second], ["supplier_cost", "placement_issue", "placement_issue_fix", "updated_at"]
        )

    assert (changed, len(queries)) == (2, 1)
    one, two = Order.objects.get(pk=first.pk), Order.objects.get(pk=second.pk)
    assert (one.supplier_cost, one.placement_issue, one.placement_issue_fix, one.updated_at) == (
        Decimal("12.34"),
        "x",
        {"view": "v"},
        when,
    )
    assert (two.supplier_cost, two.placement_issue, two.placement_issue_fix) == (None, "", None)
    assert two.updated_at == when + timedelta(hours=1)
    assert one.customer_name == untouched


def test_uuids_foreign_keys_and_nulls_are_written_as_their_columns_types() -> None:
    supplier_orders = [SupplierOrderFactory(), SupplierOrderFactory(provider=SupplierProvider.CJ)]
    lease = uuid.uuid4()
    supplier_orders[0].lease_id, supplier_orders[1].lease_id = lease, None
    supplier_orders[0].order_id = supplier_orders[1].order_id
    assert rows_update(supplier_orders, ["lease_id", "order"]) == 2
    rows = SupplierOrder.objects.filter(pk__in=[so.pk for so in supplier_orders]).order_by("pk")
    assert list(rows.values_list("lease_id", "order_id")) == [
        (lease, supplier_orders[1].order_id),
        (None, supplier_orders[1].order_id),
    ]


def test_a_string_too_long_for_its_column_is_refused_not_cut() -> None:
    order = OrderFactory()
    order.placement_issue = "x" * 33  # the column holds 32
    with pytest.raises(DataError), transaction.atomic():
        rows_update([order], ["placement_issue"])
    assert Order.objects.get(pk=order.pk).placement_issue == ""


def test_nothing_to_write_is_no_statement() -> None:
    with CaptureQueriesContext(connection) as queries:
        assert rows_update([], ["status"]) == 0
    assert len(queries) == 0
