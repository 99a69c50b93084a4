"""The order center page: access, tabs and pills, search and filters, keyset pages, htmx
fragments, bad input and query counts (actions are in test_order_center_actions.py)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.enums import SupplierOrderState, TrackingStatus
from orders.models import Order, OrderEvent
from orders.services import order_add_search_terms, order_recompute_status, orders_archive
from tests.factories import (
    ALL_STATES,
    OrderFactory,
    ShipmentFactory,
    StoreFactory,
    SupplierOrderFactory,
    TrackingEventFactory,
    UserFactory,
    line,
    order_in_state,
)
from tests.pages import (
    CENTER,
    HTMX,
    center,
    current,
    is_full_page,
    next_page_url,
    order_numbers,
    pill_counts,
    tab_counts,
    tab_links,
    tags,
    text,
)

pytestmark = pytest.mark.django_db

# --- Access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/orders/", "/orders/?status=shipment", "/orders/1/", "/orders/archive/?ids=1"])
def test_anonymous_users_are_sent_to_the_login_page(client: Client, url: str) -> None:
    # when
    response = client.get(url)
    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/orders/")


def test_the_login_redirect_keeps_the_wanted_page(client: Client) -> None:
    response = client.get("/orders/?status=payment")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/orders/%3Fstatus%3Dpayment"


def test_anonymous_post_to_archive_archives_nothing(client: Client, store: Any) -> None:
    # given
    order = OrderFactory(store=store)
    # when
    response = client.post("/orders/archive/", {"ids": [order.pk]})
    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Order.objects.get(pk=order.pk).archived is False


def test_a_user_without_an_account_gets_the_no_account_page(client: Client, db: None) -> None:
    # given a user who is a member of no account
    client.force_login(UserFactory(username="lonely"))
    # when / then
    for url in ("/orders/", "/orders/1/", "/orders/archive/?ids=1"):
        response = client.get(url)
        assert response.status_code == 403
        assert "No account yet" in text(response)


def test_the_login_form_logs_a_member_in(client: Client, user: Any) -> None:
    # when
    response = client.post("/accounts/login/", {"username": "alice", "password": "secret-pw", "next": "/orders/"})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/orders/"
    assert client.get("/orders/").status_code == 200


# --- Tabs, pills and rows ----------------------------------------------------------------------


@pytest.fixture
def every_state(store: Any) -> dict[tuple[str, str], Order]:
    """One order in every (status, sub-status), newest first in ALL_STATES order, plus one archived."""
    now = timezone.now()
    orders = {
        state: order_in_state(state[1], store=store, number=f"#{1001 + index}", placed_at=now - timedelta(hours=index))
        for index, state in enumerate(ALL_STATES)
    }
    archived = order_in_state("in_transit", store=store, number="#1100", placed_at=now - timedelta(days=3))
    orders_archive(account=store.account, order_ids=[archived.pk])
    orders[("archive", "")] = archived
    return orders


EXPECTED_TABS = {"new": 1, "payment": 2, "shipment": 6, "canceled": 2, "refund": 4, "archive": 1}
EXPECTED_PILLS = {
    "new": {},
    "payment": {"payment_failed": 1, "awaiting_fulfillment": 1},
    "shipment": {"awaiting_shipment": 1, "in_transit": 1, "pickup": 1, "delivered": 1, "expired": 1, "failed": 1},
    "canceled": {"channel_canceled": 1, "source_canceled": 1},
    "refund": {"in_review": 1, "approved": 1, "refunded": 1, "rejected": 1},
    "archive": {},
}


def test_every_tab_shows_its_counts_pills_and_exactly_its_orders(
    member_client: Client, every_state: dict[tuple[str, str], Order]
) -> None:
    for tab in EXPECTED_TABS:
        # when the tab is opened
        response = center(member_client, status=tab)
        # then
        assert response.status_code == 200, tab
        assert tab_counts(response) == EXPECTED_TABS, tab
        assert pill_counts(response) == EXPECTED_PILLS[tab], tab
        expected_rows = [order.number for (status, _), order in every_state.items() if status == tab]
        assert order_numbers(response) == expected_rows, tab


def test_every_sub_status_shows_exactly_its_orders(
    member_client: Client, every_state: dict[tuple[str, str], Order]
) -> None:
    for (status, sub_status), order in every_state.items():
        if not sub_status:
            continue
        # when the pill is opened
        response = center(member_client, status=status, sub_status=sub_status)
        # then
        assert response.status_code == 200, sub_status
        assert order_numbers(response) == [order.number], sub_status
        assert pill_counts(response) == EXPECTED_PILLS[status], sub_status
        assert current(response, "data-sub-status") == [sub_status], sub_status
        assert current(response, "data-tab") == [status], sub_status


def test_the_default_tab_is_new(member_client: Client, every_state: dict[tuple[str, str], Order]) -> None:
    response = center(member_client)
    assert order_numbers(response) == [every_state[("new", "")].number]
    assert current(response, "data-tab") == ["new"]


def test_unpaid_orders_are_in_no_tab(member_client: Client, store: Any) -> None:
    # given an order the channel has not marked paid
    OrderFactory(store=store, number="#1001", paid=False)
    # when / then it is counted and listed nowhere
    for tab in EXPECTED_TABS:
        response = center(member_client, status=tab)
        assert order_numbers(response) == [], tab
        assert set(tab_counts(response).values()) == {0}, tab


# --- Search and filters --------------------------------------------------------------------------


@pytest.fixture
def searchable(store: Any) -> dict[str, Order]:
    olivia = OrderFactory(
        store=store,
        number="#1001",
        customer_name="Olivia Martin",
        customer_email="olivia.martin@example.com",
        lines=(line("Yoga Mat", sku="YM-183-PUR"),),
    )
    liam = OrderFactory(
        store=store,
        number="#1002",
        customer_name="Liam Johnson",
        customer_email="liam.j@example.org",
        lines=(line("LED Strip", sku="LED-5M-RGB"), line("Phone Case", sku="PC-IP15-CLR")),
    )
    order_add_search_terms(order=liam, terms=["LP00987654321CN"])
    ana = OrderFactory(
        store=store,
        number="#2001",
        customer_name="Ana Schmidt",
        customer_email="ana.schmidt240259@orange.fr",
        placed_at=olivia.placed_at - timedelta(days=1),
    )
    return {"olivia": olivia, "liam": liam, "ana": ana}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("#1001", ["#1001"]),
        ("1002", ["#1002"]),
        ("olivia", ["#1001"]),
        ("Liam Johnson", ["#1002"]),
        ("OLIVIA.MARTIN@EXAMPLE.COM", ["#1001"]),
        ("example.org", ["#1002"]),
        ("ym-183", ["#1001"]),
        ("PC-IP15-CLR", ["#1002"]),
        ("LP00987654321CN", ["#1002"]),
        ("100", ["#1002", "#1001"]),
        ("nobody", []),
        ("ana.schmidt240259@orange.fr", ["#2001"]),
        ("SCHMIDT240259@Orange", ["#2001"]),
        ("240259", ["#2001"]),
        ("ana schmidt", ["#2001"]),
        # the identifier matches, the rest of the term does not: not found
        ("schmidt240259@other.fr", []),
        ("ana.schmidt240259 olivia", []),
    ],
)
def test_search_finds_orders_by_number_customer_email_sku_and_tracking_number(
    member_client: Client, searchable: dict[str, Order], query: str, expected: list[str]
) -> None:
    # when
    response = center(member_client, status="new", q=query)
    # then
    assert response.status_code == 200
    assert order_numbers(response) == expected


def test_search_of_a_tracking_number_added_later_finds_the_shipped_order(member_client: Client, store: Any) -> None:
    # given an order whose parcel got a tracking number after it arrived
    order = order_in_state("in_transit", store=store, number="#1001")
    OrderFactory(store=store, number="#1002")
    shipment = order.shipments.get()
    order_add_search_terms(order=order, terms=[shipment.tracking_number])
    # when
    response = center(member_client, status="shipment", q=shipment.tracking_number.lower())
    # then
    assert order_numbers(response) == ["#1001"]


def test_filter_by_store_shows_its_orders_and_its_counts(member_client: Client, account: Any, store: Any) -> None:
    # given two stores of the account
    tiktok = StoreFactory(account=account, name="A TikTok", channel="tiktok", domain="7494012345678901234")
    OrderFactory(store=store, number="#1001")
    order_in_state("payment_failed", store=store, number="#1002")
    OrderFactory(store=tiktok, number="576460000000001003")
    # when
    response = center(member_client, status="new", store=tiktok.pk)
    # then
    assert order_numbers(response) == ["576460000000001003"]
    assert tab_counts(response) == {"new": 1, "payment": 0, "shipment": 0, "canceled": 0, "refund": 0, "archive": 0}
    selected = [tag.attrs["value"] for tag in tags(response) if tag.name == "option" and "selected" in tag.attrs]
    assert [value for value in selected if value.isdigit()] == [str(tiktok.pk)]  # the store select
    # and the whole account again without the filter
    assert tab_counts(center(member_client))["new"] == 2


def test_a_store_that_cannot_sync_is_announced_above_the_orders(owner_client: Client, account: Any, store: Any) -> None:
    # given one healthy store and one whose token was revoked
    broken = StoreFactory(
        account=account, name="Old shop", status="error", last_error="Shopify refused the token (401)"
    )
    OrderFactory(store=store, number="#1001")
    # when an owner opens the order center (or htmx swaps it); staff are told to ask an owner
    # instead (tests/test_members.py)
    for response in (center(owner_client), owner_client.get(CENTER, **HTMX)):
        # then the broken one is named with its reason and a way to the stores page; the healthy one is not
        alerts = [tag for tag in tags(response) if "data-store-alert" in tag.attrs]
        assert [tag.attrs["data-store-alert"] for tag in alerts] == [str(broken.pk)]
        assert 'Old shop cannot sync its orders: <bdi translate="no">Shopify refused the token (401)</bdi>' in text(
            response
        )
        assert 'href="/stores/"' in response.content.decode()


def test_filter_by_date_range_includes_both_days(member_client: Client, store: Any) -> None:
    # given orders around a two-day range (UTC)
    for number, placed_at in [
        ("#1001", datetime(2025, 3, 1, 23, 59, 59, tzinfo=UTC)),
        ("#1002", datetime(2025, 3, 2, 0, 0, tzinfo=UTC)),
        ("#1003", datetime(2025, 3, 3, 23, 59, 59, tzinfo=UTC)),
        ("#1004", datetime(2025, 3, 4, 0, 0, tzinfo=UTC)),
    ]:
        OrderFactory(store=store, number=number, placed_at=placed_at)
    # when / then
    assert order_numbers(center(member_client, date_from="2025-03-02", date_to="2025-03-03")) == ["#1003", "#1002"]
    assert order_numbers(center(member_client, date_from="2025-03-03")) == ["#1004", "#1003"]
    assert order_numbers(center(member_client, date_to="2025-03-01")) == ["#1001"]
    assert order_numbers(center(member_client, date_from="2025-03-02", date_to="2025-03-02")) == ["#1002"]


def test_filters_combine_and_are_kept_in_the_tab_links(member_client: Client, account: Any, store: Any) -> None:
    # given
    OrderFactory(store=store, number="#1001", customer_name="Olivia", placed_at=datetime(2025, 3, 2, tzinfo=UTC))
    OrderFactory(store=store, number="#1002", customer_name="Olivia", placed_at=datetime(2025, 4, 2, tzinfo=UTC))
    OrderFactory(store=store, number="#1003", customer_name="Liam", placed_at=datetime(2025, 3, 2, tzinfo=UTC))
    # when
    response = center(member_client, q="olivia", store=store.pk, date_from="2025-03-01", date_to="2025-03-31")
    # then
    assert order_numbers(response) == ["#1001"]
    assert tab_links(response)["payment"] == (
        f"/orders/?store={store.pk}&q=olivia&date_from=2025-03-01&date_to=2025-03-31&status=payment"
    )


# --- Keyset pages --------------------------------------------------------------------------------


def test_keyset_pages_list_every_order_once_newest_first_with_ties(
    member_client: Client, store: Any, settings: Any
) -> None:
    # given 11 orders, several placed at the same instant, and pages of 3
    settings.ORDER_CENTER_PAGE_SIZE = 3
    base = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    offsets = [0, 0, 0, 5, 5, 10, 10, 10, 10, 20, 30]
    for index, minutes in enumerate(offsets):
        OrderFactory(store=store, number=f"#{1001 + index}", placed_at=base - timedelta(minutes=minutes))
    expected = list(Order.objects.order_by("-placed_at", "-id").values_list("number", flat=True))
    # when every page is followed through its "Next page" link
    pages: list[list[str]] = []
    url: str | None = f"{CENTER}?status=new"
    while url is not None:
        response = member_client.get(url)
        assert response.status_code == 200
        pages.append(order_numbers(response))
        url = next_page_url(response)
        assert len(pages) <= 10, "the pager does not end"
    # then
    assert [len(page) for page in pages] == [3, 3, 3, 2]
    assert [number for page in pages for number in page] == expected
    assert tab_counts(response)["new"] == 11


def test_a_page_link_keeps_the_filters(member_client: Client, store: Any, settings: Any) -> None:
    # given
    settings.ORDER_CENTER_PAGE_SIZE = 2
    for index in range(3):
        OrderFactory(store=store, number=f"#{1001 + index}", customer_name="Olivia")
    OrderFactory(store=store, number="#1010", customer_name="Liam")
    # when
    first = center(member_client, q="olivia")
    second = member_client.get(next_page_url(first))
    # then
    assert order_numbers(first) == ["#1003", "#1002"]
    assert order_numbers(second) == ["#1001"]
    assert next_page_url(second) is None
    assert "q=olivia" in next_page_url(first)


# --- htmx ----------------------------------------------------------------------------------------


def test_an_htmx_request_gets_only_the_fragment_with_the_same_rows(
    member_client: Client, every_state: dict[tuple[str, str], Order]
) -> None:
    # when the same URL is loaded in full and by htmx
    params = {"status": "shipment", "sub_status": "in_transit"}
    full = center(member_client, **params)
    fragment = member_client.get(CENTER, params, **HTMX)
    # then
    assert is_full_page(full)
    assert not is_full_page(fragment)
    assert order_numbers(fragment) == order_numbers(full) == [every_state[("shipment", "in_transit")].number]
    assert tab_counts(fragment) == tab_counts(full) == EXPECTED_TABS
    assert pill_counts(fragment) == pill_counts(full)
    for response in (full, fragment):
        assert "HX-Request" in [part.strip() for part in response["Vary"].split(",")]


def test_the_tabs_fragment_has_counts_and_no_rows(
    member_client: Client, every_state: dict[tuple[str, str], Order]
) -> None:
    response = member_client.get(CENTER, {"status": "refund", "fragment": "tabs"}, **HTMX)
    assert response.status_code == 200
    assert not is_full_page(response)
    assert tab_counts(response) == EXPECTED_TABS
    assert pill_counts(response) == EXPECTED_PILLS["refund"]
    assert order_numbers(response) == []


# --- Bad input -----------------------------------------------------------------------------------


def cursor_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "bogus"}, "Select a valid choice. bogus is not one of the available choices."),
        ({"status": "payment", "sub_status": "bogus"}, "“bogus” is not a sub-status of this tab."),
        ({"status": "payment", "sub_status": "in_transit"}, "“in_transit” is not a sub-status of this tab."),
        ({"status": "new", "sub_status": "in_transit"}, "“in_transit” is not a sub-status of this tab."),
        ({"status": "archive", "sub_status": "delivered"}, "“delivered” is not a sub-status of this tab."),
        ({"cursor": "!!!not-a-cursor"}, "This page link is broken; start again from the first page."),
        ({"cursor": cursor_of("2025-01-01T00:00:00|5")}, "This page link is broken; start again from the first page."),
        ({"cursor": cursor_of("yesterday|5")}, "This page link is broken; start again from the first page."),
        (
            {"cursor": cursor_of("2025-01-01T00:00:00+00:00|x")},
            "This page link is broken; start again from the first page.",
        ),
        ({"cursor": cursor_of("a|b|c")}, "This page link is broken; start again from the first page."),
        ({"store": "abc"}, "Enter a whole number."),
        ({"store": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"date_from": "2025-13-01"}, "Enter a valid date."),
        ({"date_from": "2025-03-05", "date_to": "2025-03-01"}, "The end date is before the start date."),
        ({"q": "x" * 101}, "Ensure this value has at most 100 characters (it has 101)."),
    ],
)
def test_bad_order_center_input_is_a_400_with_a_readable_message(
    member_client: Client, store: Any, params: dict[str, str], message: str
) -> None:
    # given
    OrderFactory(store=store)
    # when
    response = center(member_client, **params)
    # then
    assert response.status_code == 400
    assert message in text(response).replace("&quot;", '"')


@pytest.mark.parametrize(
    "raw",
    [
        "2025-01-01T00:00:00+00:00|99999999999999999999999",
        "2025-01-01T00:00:00+00:00|-1",
        "2025-01-01T00:00:00+00:00|²",
        "2025-01-01T00:00:00+00:00|9223372036854775807",
        "0001-01-01T00:00:00+14:00|1",
        "9999-12-31T23:59:59-12:00|1",
    ],
)
def test_extreme_cursors_never_crash_the_page(member_client: Client, store: Any, raw: str) -> None:
    # given
    OrderFactory(store=store)
    # when
    response = center(member_client, cursor=cursor_of(raw))
    # then a page or a 400, never a 500
    assert response.status_code in (200, 400)


@pytest.mark.parametrize(
    ("url", "status_code"),
    [
        ("/orders/archive/", 400),
        ("/orders/archive/?ids=abc", 400),
        ("/orders/archive/?ids=1&ids=-2", 400),
        ("/orders/restore/?ids=", 400),
        ("/orders/archive/?ids=99999999999999999999999", 400),
        ("/orders/archive/?ids=9223372036854775808", 400),
        ("/orders/archive/?ids=%C2%B2", 400),
        ("/orders/restore/?ids=0", 400),
        ("/orders/archive/?ids=9223372036854775807", 404),
        ("/orders/99999999999999999999999/", 404),
        ("/orders/abc/", 404),
    ],
)
def test_bad_ids_are_a_clear_error(member_client: Client, url: str, status_code: int) -> None:
    response = member_client.get(url)
    assert response.status_code == status_code


def test_archive_without_ids_says_what_to_do(member_client: Client) -> None:
    response = member_client.post("/orders/archive/", {})
    assert response.status_code == 400
    assert "Select at least one order." in text(response)


def test_a_foreign_store_is_not_found(member_client: Client, other_store: Any) -> None:
    # given another account's store with an order
    OrderFactory(store=other_store)
    # when
    response = center(member_client, store=other_store.pk)
    # then
    assert response.status_code == 404
    assert other_store.name not in text(response)


# --- Query counts --------------------------------------------------------------------------------


def count_queries(client: Client, url: str, **extra: Any) -> int:
    client.get(url, **extra)  # warm the session (the first request stores the current account)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
    assert response.status_code == 200
    return len(queries)


def test_the_order_list_runs_the_same_queries_for_3_or_60_orders(
    member_client: Client, store: Any, settings: Any
) -> None:
    settings.ORDER_CENTER_PAGE_SIZE = 50
    # given 3 orders
    for _ in range(3):
        OrderFactory(store=store, lines=(line("A", sku="A"), line("B", sku="B")))
    few = count_queries(member_client, CENTER)
    few_htmx = count_queries(member_client, CENTER, **HTMX)
    # when there are 60, over two pages (50 + 10)
    for _ in range(57):
        OrderFactory(store=store, lines=(line("A", sku="A"), line("B", sku="B"), line("C", sku="C")))
    first_page = member_client.get(CENTER)
    assert len(order_numbers(first_page)) == 50
    many = count_queries(member_client, CENTER)
    later_page = count_queries(member_client, next_page_url(first_page))
    many_htmx = count_queries(member_client, CENTER, **HTMX)
    # then
    assert few == many == later_page
    assert few_htmx == many_htmx
    # 11, + the stalled count, the parcels (own and shared) and the refunds both ways (the margin) of the page
    assert few <= 16


def test_the_order_list_runs_the_same_queries_with_supplier_orders_on_3_or_50_rows(
    member_client: Client, store: Any, settings: Any
) -> None:
    """The placement column (supplier orders, their accounts, the user's batches) is prefetched."""
    from suppliers.models import SourceAccount

    settings.ORDER_CENTER_PAGE_SIZE = 50
    source = SourceAccount.objects.create(account=store.account, provider="aliexpress", name="AE")

    def order_with_supplier_orders() -> None:
        order = OrderFactory(store=store, lines=(line("A", sku="A"),))
        for provider in ("aliexpress", "cj"):
            SupplierOrderFactory(order=order, provider=provider, state="payment_failed", source_account=source)
        order_recompute_status(order_id=order.pk)

    for _ in range(3):
        order_with_supplier_orders()
    few = count_queries(member_client, f"{CENTER}?status=payment")
    for _ in range(47):
        order_with_supplier_orders()
    assert len(order_numbers(member_client.get(f"{CENTER}?status=payment"))) == 50
    many = count_queries(member_client, f"{CENTER}?status=payment")
    assert few == many
    # 11, + the stalled count, the parcels (own and shared) and the refunds both ways (the margin) of the page
    assert few <= 16


def supplier_order_history(supplier_order: Any, *, steps: int) -> None:
    """Lines and transitions (one by a user, one by an auto-order rule) of a supplier order."""
    from suppliers.models import AutoOrderRule, SupplierOrderLine, SupplierOrderTransition

    order = supplier_order.order
    for order_line in order.lines.all():
        SupplierOrderLine.objects.create(
            supplier_order=supplier_order, order_line=order_line, supplier_product_id="1005", quantity=1
        )
    rule, _created = AutoOrderRule.objects.get_or_create(account=order.account, store=order.store)
    for step in range(steps):
        SupplierOrderTransition.objects.create(
            supplier_order=supplier_order,
            from_state="placing",
            to_state=supplier_order.state,
            actor=UserFactory() if step % 2 == 0 else None,
            rule=rule if step % 2 else None,
        )


def test_the_drawer_runs_the_same_queries_for_1_or_5_lines_and_events(member_client: Client, store: Any) -> None:
    # given an order with one line, parcel, scan and event, and one with 5 lines, parcels, scans and events
    # (an order without any parcel saves the scans query: compare like with like)
    small = OrderFactory(store=store, lines=(line(),))
    small_supplier_order = SupplierOrderFactory(order=small, state=SupplierOrderState.PAID)
    supplier_order_history(small_supplier_order, steps=1)
    TrackingEventFactory(shipment=ShipmentFactory(order=small, supplier_order=small_supplier_order))
    big = OrderFactory(store=store, lines=tuple(line(f"Item {n}", sku=f"S{n}") for n in range(5)))
    supplier_order = SupplierOrderFactory(order=big, state=SupplierOrderState.PAID)
    supplier_order_history(supplier_order, steps=3)
    for provider in ("cj", "temu"):
        supplier_order_history(SupplierOrderFactory(order=big, provider=provider, state="payment_failed"), steps=2)
    for _ in range(2):
        shipment = ShipmentFactory(order=big, supplier_order=supplier_order, tracking_status=TrackingStatus.IN_TRANSIT)
        for _ in range(3):
            TrackingEventFactory(shipment=shipment)
    order_recompute_status(order_id=big.pk)
    orders_archive(account=store.account, order_ids=[big.pk], actor=UserFactory())
    assert OrderEvent.objects.filter(order=big).count() >= 3
    # when / then
    assert count_queries(member_client, f"/orders/{small.pk}/") == count_queries(member_client, f"/orders/{big.pk}/")
    assert count_queries(member_client, f"/orders/{small.pk}/", **HTMX) == count_queries(
        member_client, f"/orders/{big.pk}/", **HTMX
    )


def test_urls_are_bookmarkable(member_client: Client, every_state: dict[tuple[str, str], Order]) -> None:
    # the state of the page is in the URL: the same URL in a fresh session shows the same rows
    url = f"{CENTER}?{urlencode({'status': 'refund', 'sub_status': 'approved'})}"
    assert order_numbers(member_client.get(url)) == [every_state[("refund", "approved")].number]
