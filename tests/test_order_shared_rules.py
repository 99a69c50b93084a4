"""Rules that intake and the channel upsert share are written once: the advisory-lock keys
(``orders.services.locks``) and the search-text append (``orders.search_text``)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from channels_sync.tests.test_upsert import T0, item, upsert
from orders.models import Order
from orders.search_text import search_text_with
from orders.services import LineData, OrderData, order_add_search_terms, order_create
from orders.services.counts import order_counts_from_rows, order_counts_stored
from orders.services.locks import number_lock_key, purchase_lock_key
from tests.factories import OrderFactory, StoreFactory, line

ORDERS = Path(__file__).resolve().parent.parent / "orders"


def _modules_containing(text: str) -> list[str]:
    return sorted(
        str(path.relative_to(ORDERS))
        for path in ORDERS.rglob("*.py")
        if "tests" not in path.parts and text in path.read_text()
    )


@pytest.mark.parametrize(
    ("rule", "home"),
    [
        ('"order-number:', "services/locks.py"),  # the number lock key
        ('"purchase:', "services/locks.py"),  # the purchase lock key
        ("pg_advisory_xact_lock", "services/locks.py"),  # taking the locks
        ('" ".join([', "search_text.py"),  # appending to the search text
    ],
)
def test_each_shared_rule_is_written_in_one_place(rule: str, home: str) -> None:
    assert _modules_containing(rule) == [home]


def test_the_lock_keys_name_the_account_and_the_value() -> None:
    assert number_lock_key(account_id=7, base_number="#1001") == "order-number:7:#1001"
    assert purchase_lock_key(account_id=7, purchase_id="576") == "purchase:7:576"


def test_the_append_adds_each_new_term_once_lower_cased_in_order() -> None:
    assert search_text_with("#1001 ann", ["LP1", "", "lp1", "Ann", "CJ-9"]) == "#1001 ann lp1 cj-9"
    assert search_text_with("#1001 ann", ["ann", ""]) == "#1001 ann"


@pytest.mark.django_db
def test_adding_a_term_twice_in_one_call_stores_it_once(store: Any) -> None:
    # given
    order = OrderFactory(store=store, number="#1001", customer_name="Ann", customer_email="a@x.io", lines=(line(),))
    before = order.search_text
    # when a tracking number is added twice in one call
    order_add_search_terms(order=order, terms=["LP00123CN", "lp00123cn"])
    # then it is stored once
    assert Order.objects.get(pk=order.pk).search_text == f"{before} lp00123cn"


@pytest.mark.django_db
def test_an_update_with_a_new_sku_on_two_lines_appends_it_once(account: Any) -> None:
    # given a stored order
    store = StoreFactory(account=account)
    upsert(store, item())
    before = Order.objects.get().search_text
    # when an update brings two lines of one new SKU
    lines = (
        LineData(title="Case", unit_price=Decimal("5.00"), sku="NEW-SKU", channel_line_id="L1"),
        LineData(title="Case", unit_price=Decimal("5.00"), sku="NEW-SKU", channel_line_id="L2"),
    )
    upsert(store, item(lines=lines, updated_at=T0 + timedelta(minutes=1)))
    # then the SKU is findable, and appended once
    assert Order.objects.get().search_text == f"{before} new-sku"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_intake_and_the_upsert_queue_on_the_same_number_lock() -> None:
    # given one #1001 arriving by order_create and three by the upsert, all at the same moment
    store = StoreFactory()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def by_intake() -> None:
        data = OrderData(
            channel_order_id="intake", number="#1001", placed_at=timezone.now(), total=Decimal("1"), lines=(line(),)
        )
        order_create(account=store.account, store_id=store.pk, channel=store.channel, data=data)

    def by_upsert(index: int) -> None:
        upsert(store, item(f"upsert-{index}", number="#1001"))

    def run(action: Any, *args: Any) -> None:
        try:
            barrier.wait(timeout=10)
            action(*args)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(by_intake,))]
    threads += [threading.Thread(target=run, args=(by_upsert, index)) for index in range(3)]
    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then every arrival got its own number, and the counters are exact
    assert errors == []
    assert sorted(Order.objects.values_list("number", flat=True)) == ["#1001-1", "#1001-2", "#1001-3", "#1001-4"]
    assert order_counts_stored(account=store.account) == order_counts_from_rows(account=store.account)
