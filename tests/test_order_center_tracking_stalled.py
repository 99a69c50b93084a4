"""The "stalled" warning in the order center: the row's and the drawer's badge with its reason, the
Stalled filter (combinable with tabs, pills and stores; kept by tab links), its count in one COUNT
query answered from the partial index ``order_stalled_idx``, and bad input."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.enums import SubStatus, SupplierOrderState, TrackingStatus
from orders.models import Order
from orders.selectors import order_stalled_counts
from orders.services import order_recompute_status, orders_archive
from tests.factories import OrderFactory, ShipmentFactory, StoreFactory, order_in_state
from tests.pages import HTMX, center, order_numbers, tab_links, tags, text
from tracking.services.merge import orders_recompute

pytestmark = pytest.mark.django_db


def stall(order: Order, reason: str) -> Order:
    """As tracking's daily job writes it."""
    Order.objects.filter(pk=order.pk).update(stalled=reason, stalled_since=timezone.now() - timedelta(days=6))
    order.refresh_from_db()
    return order


def stalled_chip(response: Any) -> dict[str, str]:
    chips = [tag.attrs for tag in tags(response) if "data-stalled-filter" in tag.attrs]
    assert len(chips) == 1, chips
    return chips[0]


@pytest.fixture
def shipped(store: Any) -> dict[str, Order]:
    """Two orders in transit (one stalled), one awaiting fulfillment (stalled), one delivered."""
    now = timezone.now()
    return {
        "silent": stall(
            order_in_state(SubStatus.IN_TRANSIT, store=store, number="#1001", placed_at=now - timedelta(days=9)),
            "no_event",
        ),
        "moving": order_in_state(SubStatus.IN_TRANSIT, store=store, number="#1002", placed_at=now - timedelta(days=8)),
        "no_tracking": stall(
            order_in_state(
                SubStatus.AWAITING_FULFILLMENT, store=store, number="#1003", placed_at=now - timedelta(days=10)
            ),
            "no_tracking",
        ),
        "delivered": order_in_state(
            SubStatus.DELIVERED, store=store, number="#1004", placed_at=now - timedelta(days=20)
        ),
    }


def test_a_stalled_order_has_a_badge_with_its_reason_on_the_row_and_in_the_drawer(
    member_client: Client, shipped: dict[str, Order]
) -> None:
    # when
    shipment_tab = text(center(member_client, status="shipment"))
    payment_tab = text(center(member_client, status="payment"))
    drawer = text(member_client.get(f"/orders/{shipped['no_tracking'].pk}/", **HTMX))
    # then
    assert shipment_tab.count("data-stalled=") == 1
    assert '<span class="badge badge-stalled" data-stalled="no_event">Stalled</span>' in shipment_tab
    assert "No tracking update in transit" in shipment_tab
    assert '<span class="badge badge-stalled" data-stalled="no_tracking">Stalled</span>' in payment_tab
    assert "No tracking number since payment" in payment_tab
    assert '<span class="badge badge-stalled" data-stalled="no_tracking">Stalled</span>' in drawer
    assert "No tracking number since payment · since" in drawer
    assert "data-stalled=" not in text(member_client.get(f"/orders/{shipped['moving'].pk}/", **HTMX))


def test_the_stalled_filter_shows_the_stalled_orders_of_the_tab_with_their_count(
    member_client: Client, shipped: dict[str, Order]
) -> None:
    # when
    everything = center(member_client, status="shipment")
    only_stalled = center(member_client, status="shipment", stalled="1")
    # then
    assert order_numbers(everything) == ["#1002", "#1001", "#1004"]
    assert order_numbers(only_stalled) == ["#1001"]
    assert stalled_chip(everything)["data-count"] == stalled_chip(only_stalled)["data-count"] == "1"
    assert "aria-current" not in stalled_chip(everything)
    assert stalled_chip(only_stalled)["aria-current"] == "true"
    # the chip turns the filter on, and off again
    assert parse_qs(urlsplit(stalled_chip(everything)["href"]).query) == {"status": ["shipment"], "stalled": ["1"]}
    assert parse_qs(urlsplit(stalled_chip(only_stalled)["href"]).query) == {"status": ["shipment"]}
    # the Payment tab has its own
    payment = center(member_client, status="payment", stalled="1")
    assert order_numbers(payment) == ["#1003"]
    assert stalled_chip(payment)["data-count"] == "1"


def test_the_stalled_filter_combines_with_tabs_pills_stores_and_search(
    member_client: Client, store: Any, shipped: dict[str, Order]
) -> None:
    # given a stalled order in another store of the account
    second = StoreFactory(account=store.account, name="Second store")
    other_store_order = stall(order_in_state(SubStatus.IN_TRANSIT, store=second, number="#2001"), "no_event")
    # then every other filter narrows it further
    assert order_numbers(center(member_client, status="shipment", stalled="1")) == ["#2001", "#1001"]
    assert order_numbers(center(member_client, status="shipment", sub_status="in_transit", stalled="1")) == [
        "#2001",
        "#1001",
    ]
    assert order_numbers(center(member_client, status="shipment", sub_status="delivered", stalled="1")) == []
    by_store = center(member_client, status="shipment", store=second.pk, stalled="1")
    assert order_numbers(by_store) == [other_store_order.number]
    assert stalled_chip(by_store)["data-count"] == "1"
    assert order_numbers(center(member_client, status="shipment", q="#1001", stalled="1")) == ["#1001"]
    # and the tab links keep it (the New tab has none: an empty list says so)
    response = center(member_client, status="shipment", stalled="1")
    for tab, href in tab_links(response).items():
        assert parse_qs(urlsplit(href).query) == {"status": [tab], "stalled": ["1"]}
    new_tab = center(member_client, status="new", stalled="1")
    assert order_numbers(new_tab) == []
    assert "No stalled order in this tab." in text(new_tab)


def test_an_archived_stalled_order_counts_in_the_archive_only(member_client: Client, shipped: dict[str, Order]) -> None:
    orders_archive(account=shipped["silent"].account, order_ids=[shipped["silent"].pk])
    assert stalled_chip(center(member_client, status="shipment"))["data-count"] == "0"
    archive = center(member_client, status="archive", stalled="1")
    assert order_numbers(archive) == ["#1001"]
    assert stalled_chip(archive)["data-count"] == "1"


def test_the_stalled_counts_are_per_account(account: Any, other_account: Any, other_store: Any, store: Any) -> None:
    stall(order_in_state(SubStatus.IN_TRANSIT, store=store, number="#1"), "no_event")
    stall(order_in_state(SubStatus.IN_TRANSIT, store=other_store, number="#1"), "no_event")
    stall(order_in_state(SubStatus.IN_TRANSIT, store=other_store, number="#2"), "no_event")
    assert order_stalled_counts(account=account)["shipment"] == 1
    assert order_stalled_counts(account=other_account)["shipment"] == 2
    assert order_stalled_counts(account=account, store_id=other_store.pk)["shipment"] == 0


def test_another_accounts_stalled_orders_are_not_shown_or_counted(
    member_client: Client, other_store: Any, shipped: dict[str, Order]
) -> None:
    stall(order_in_state(SubStatus.IN_TRANSIT, store=other_store, number="#B-1"), "no_event")
    response = center(member_client, status="shipment", stalled="1")
    assert order_numbers(response) == ["#1001"]
    assert stalled_chip(response)["data-count"] == "1"
    assert center(member_client, status="shipment", stalled="1", store=other_store.pk).status_code == 404


@pytest.mark.parametrize("value", ["yes", "0", "true", "1' OR 1=1", "x" * 500])
def test_a_bad_stalled_value_is_a_clear_400(member_client: Client, value: str) -> None:
    response = center(member_client, status="shipment", stalled=value)
    assert response.status_code == 400
    assert "is not one of the available choices" in text(response)


def many_quiet_orders(store: Any, count: int) -> None:
    """``count`` orders in transit that are not stalled, written in one statement (the index's
    point is that most orders are not stalled; the planner needs to see that many)."""
    now = timezone.now()
    Order.objects.bulk_create(
        Order(
            account=store.account,
            store=store,
            channel=store.channel,
            channel_order_id=f"bulk-{index}",
            number=f"#B{index}",
            base_number=f"#B{index}",
            total=Decimal("10.00"),
            placed_at=now - timedelta(minutes=index),
            status="shipment",
            sub_status="in_transit",
        )
        for index in range(count)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Order._meta.db_table}")


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")  # the query as it ran, its values in it
        return "\n".join(row[0] for row in cursor.fetchall())


def test_the_stalled_count_is_one_count_query_from_the_partial_index(
    member_client: Client, store: Any, shipped: dict[str, Order]
) -> None:
    # given an account where most orders are not stalled, as PostgreSQL's statistics say
    many_quiet_orders(store, 3000)
    # when the stalled filter's page is shown
    center(member_client, status="shipment")  # warm the session
    with CaptureQueriesContext(connection) as queries:
        response = center(member_client, status="shipment", stalled="1")
    assert order_numbers(response) == ["#1001"]
    on_stalled = [query["sql"] for query in queries if '"orders_order"."stalled"' in query["sql"]]
    # then one query counts them, and it reads the partial index, not the tab
    counts = [sql for sql in on_stalled if "COUNT(" in sql]
    assert len(counts) == 1, counts
    plan = explain(counts[0])
    assert "order_stalled_idx" in plan, plan
    # and the filtered page reads it too
    page = next(sql for sql in on_stalled if "COUNT(" not in sql and "ORDER BY" in sql)
    page_plan = explain(page)
    assert "order_stalled_idx" in page_plan, page_plan


def test_the_filtered_page_runs_the_same_queries_for_1_or_20_stalled_orders(member_client: Client, store: Any) -> None:
    url = "/orders/?status=shipment&stalled=1"
    stall(order_in_state(SubStatus.IN_TRANSIT, store=store, number="#1000"), "no_event")
    member_client.get(url)
    with CaptureQueriesContext(connection) as few:
        member_client.get(url)
    for index in range(1, 20):
        stall(order_in_state(SubStatus.IN_TRANSIT, store=store, number=f"#{1000 + index}"), "no_event")
    OrderFactory(store=store)
    with CaptureQueriesContext(connection) as many:
        response = member_client.get(url)
    assert len(order_numbers(response)) == 20
    assert len(few) == len(many)


def test_the_tabs_refresh_brings_the_stalled_count_up_to_date(member_client: Client, shipped: dict[str, Order]) -> None:
    # given the page is open, then tracking's job flags another order
    url = "/orders/?status=shipment&fragment=tabs"
    assert stalled_chip(member_client.get(url, **HTMX))["data-count"] == "1"
    stall(shipped["moving"], "no_event")
    # when the tabs poll (every 30 s)
    fragment = member_client.get(url, **HTMX)
    # then
    assert "<html" not in text(fragment)
    assert stalled_chip(fragment)["data-count"] == "2"


def test_a_stalled_order_that_is_delivered_loses_its_badge_and_count_at_once(
    member_client: Client, shipped: dict[str, Order]
) -> None:
    # given the silent order's parcel is delivered (the poll's batch write) and the paid one's
    # supplier order is canceled (one order's recompute), before tracking's next daily run
    silent, waiting = shipped["silent"], shipped["no_tracking"]
    silent.shipments.update(tracking_status=TrackingStatus.DELIVERED, last_event_at=timezone.now())
    assert orders_recompute(shipment_ids=list(silent.shipments.values_list("pk", flat=True))) == 1
    waiting.supplier_orders.update(state=SupplierOrderState.CANCELED)
    order_recompute_status(order_id=waiting.pk)
    # then both lost the flag with their new status
    for order, sub_status in ((silent, SubStatus.DELIVERED), (waiting, SubStatus.SOURCE_CANCELED)):
        assert Order.objects.values_list("sub_status", "stalled", "stalled_since").get(pk=order.pk) == (
            sub_status,
            "",
            None,
        )
    # and neither the drawer nor the counts show them stalled
    drawer = text(member_client.get(f"/orders/{silent.pk}/", **HTMX))
    assert "data-stalled=" not in drawer
    assert order_stalled_counts(account=silent.account)["shipment"] == 0
    assert stalled_chip(center(member_client, status="shipment"))["data-count"] == "0"


def test_a_move_between_stalled_stages_keeps_the_flag(shipped: dict[str, Order]) -> None:
    # given the paid order flagged "no tracking" gets its number (Awaiting Shipment): the flag stays
    # until the daily run says whether it still holds
    waiting = shipped["no_tracking"]
    ShipmentFactory(
        order=waiting, supplier_order=waiting.supplier_orders.get(), tracking_status=TrackingStatus.NOT_FOUND
    )
    order = order_recompute_status(order_id=waiting.pk)
    assert (order.sub_status, order.stalled) == (SubStatus.AWAITING_SHIPMENT, "no_tracking")
