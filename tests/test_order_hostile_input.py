"""Never a 500 on hostile query input: extreme dates, huge cursors and ids on the order center,
and a hostile ``next`` on every view that takes one (the action still happens, and the
redirect goes to a safe default on this site)."""

from __future__ import annotations

import base64
from datetime import timedelta
from datetime import timezone as dt_timezone
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from accounts.middleware import SESSION_KEY
from orders.enums import OrderEventType
from orders.models import Order, OrderEvent
from orders.services import orders_archive
from tests.factories import AccountFactory, MembershipFactory, OrderFactory, StoreFactory
from tests.pages import center, order_numbers, text

pytestmark = pytest.mark.django_db

# What an attacker (or a mangled bookmark) puts in ``next``: a bare word that ``redirect()``
# would try to reverse as a URL name, URL names (with and without required arguments),
# other hosts, schemes that run code, and backslash/whitespace tricks browsers normalize.
HOSTILE_NEXT = [
    "foo",
    "orders:center",
    "orders:detail",
    "admin:index",
    "accounts:switch",
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "https://evil.example/phish",
    "http://testserver.evil/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "foo.bar",
    "../../admin/",
    "\x00",
    "/orders/\r\nLocation: https://evil.example/",
    "x" * 5000,
]


def _is_safe_location(location: str) -> bool:
    """A same-site absolute path: not another host, scheme or a relative path."""
    parts = urlsplit(location)
    return (
        location.startswith("/")
        and not location.startswith(("//", "/\\"))
        and not parts.scheme
        and not parts.netloc
        and "\\" not in location
        and "\n" not in location
        and "\r" not in location
    )


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# --- Order center query input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"date_to": "9999-12-31"},
        {"date_from": "9999-12-31"},
        {"date_from": "9999-12-31", "date_to": "9999-12-31"},
        {"date_from": "0001-01-01"},
        {"date_to": "0001-01-01"},
        {"date_from": "0001-01-01", "date_to": "9999-12-31"},
        {"date_from": "9999-12-31", "date_to": "0001-01-01"},
        {"date_from": "2025-03-05", "date_to": "2025-03-01"},
        {"date_to": "10000-01-01"},
        {"date_to": "2025-02-30"},
        {"date_to": "-2025-01-01"},
        {"date_to": "2025-01-01T00:00:00"},
        {"date_to": "\x00"},
        {"date_from": "9" * 5000},
        {"store": "99999999999999999999999"},
        {"store": "9223372036854775808"},
        {"store": "-1"},
        {"store": "1e9"},
        {"store": "²"},
        {"cursor": "A" * 100_000},
        {"cursor": b64("9999-12-31T23:59:59+00:00|9223372036854775807")},
        {"cursor": b64("0001-01-01T00:00:00+00:00|1")},
        {"cursor": b64("9999-12-31T23:59:59+00:00|1"), "date_to": "9999-12-31"},
        {"status": "x" * 5000},
        {"status": "new", "sub_status": "\x00"},
        {"q": "\x00"},
        {"q": "%_\\"},
        {"fragment": "tabs", "date_to": "9999-12-31"},
    ],
)
def test_the_order_center_answers_hostile_query_input_without_a_500(
    member_client: Client, store: Any, params: dict[str, str]
) -> None:
    # given
    OrderFactory(store=store)
    # when
    response = center(member_client, **params)
    # then a page, or a 400 that says what is wrong; never a server error
    assert response.status_code in (200, 400, 404), params
    if response.status_code == 400:
        assert 'class="errors"' in text(response) or "<li>" in text(response)


def test_a_date_range_ending_on_the_last_representable_day_lists_the_orders(member_client: Client, store: Any) -> None:
    # given
    order = OrderFactory(store=store, number="#1001")
    # when
    response = center(member_client, date_from="0001-01-01", date_to="9999-12-31")
    # then every order is in the range, none is lost to the edge of the calendar
    assert response.status_code == 200
    assert order_numbers(response) == [order.number]


@pytest.mark.parametrize("hours", [14, -12, 0])
@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "0001-01-01"},
        {"date_to": "9999-12-31"},
        {"date_from": "0001-01-01", "date_to": "9999-12-30"},
        {"date_from": "0001-01-02", "date_to": "9999-12-31"},
    ],
)
def test_the_edges_of_the_calendar_in_any_time_zone_list_every_order(
    member_client: Client, store: Any, hours: int, params: dict[str, str]
) -> None:
    # given
    order = OrderFactory(store=store, number="#1001")
    # when the page is read in a zone where midnight of 0001-01-01 has no UTC time
    with timezone.override(dt_timezone(timedelta(hours=hours))):
        response = center(member_client, **params)
    # then
    assert response.status_code == 200
    assert order_numbers(response) == [order.number]


def test_a_range_whose_start_is_after_its_end_is_a_clear_400(member_client: Client, store: Any) -> None:
    OrderFactory(store=store)
    response = center(member_client, date_from="9999-12-31", date_to="0001-01-01")
    assert response.status_code == 400
    assert "The end date is before the start date." in text(response)


@pytest.mark.parametrize(
    "url",
    [
        "/orders/abc/",
        "/orders/99999999999999999999999/",
        "/orders/9223372036854775808/",
        "/orders/0/",
        "/orders/-1/",
        "/orders/9223372036854775807/",
    ],
)
def test_a_non_numeric_or_huge_order_id_is_not_found(member_client: Client, url: str) -> None:
    assert member_client.get(url).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/orders/99999999999999999999999/confirm-duplicate/",
        "/orders/9223372036854775808/confirm-duplicate/",
        "/orders/9223372036854775807/confirm-duplicate/",
        "/stores/orders/99999999999999999999999/resync/",
        "/stores/orders/9223372036854775807/resync/",
    ],
)
def test_an_action_on_a_huge_order_id_is_not_found(member_client: Client, path: str) -> None:
    assert member_client.post(path).status_code == 404


# --- ``next`` on every view that takes one -------------------------------------------------------


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_archive_with_a_hostile_next_archives_and_goes_to_the_order_center(
    member_client: Client, store: Any, next_url: str
) -> None:
    # given
    order = OrderFactory(store=store)
    # when
    response = member_client.post("/orders/archive/", {"ids": [order.pk], "next": next_url})
    # then the archive committed and the redirect is the safe default
    assert response.status_code == 302
    assert response["Location"] == "/orders/"
    assert Order.objects.get(pk=order.pk).archived is True
    assert OrderEvent.objects.filter(order=order, type=OrderEventType.ARCHIVED).count() == 1


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_restore_with_a_hostile_next_restores_and_goes_to_the_order_center(
    member_client: Client, store: Any, next_url: str
) -> None:
    order = OrderFactory(store=store)
    orders_archive(account=store.account, order_ids=[order.pk])
    response = member_client.post("/orders/restore/", {"ids": [order.pk], "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/orders/"
    assert Order.objects.get(pk=order.pk).archived is False


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_the_archive_confirmation_page_with_a_hostile_next_posts_back_to_a_safe_default(
    member_client: Client, store: Any, next_url: str
) -> None:
    order = OrderFactory(store=store)
    response = member_client.get("/orders/archive/", {"ids": [order.pk], "next": next_url})
    assert response.status_code == 200
    assert 'name="next" value="/orders/"' in text(response)
    assert Order.objects.get(pk=order.pk).archived is False


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_the_drawer_with_a_hostile_next_links_back_to_the_order_center(
    member_client: Client, store: Any, next_url: str
) -> None:
    order = OrderFactory(store=store)
    response = member_client.get(f"/orders/{order.pk}/", {"next": next_url})
    assert response.status_code == 200
    assert '<p class="back-link"><a href="/orders/">' in text(response)


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_confirm_duplicate_with_a_hostile_next_confirms_and_goes_to_the_order(
    member_client: Client, store: Any, next_url: str
) -> None:
    # given a flagged twin
    twin = OrderFactory(store=store, number="#1001")
    order = OrderFactory(store=store, number="#1002")
    Order.objects.filter(pk=order.pk).update(possible_duplicate=True, duplicate_of=twin)
    # when
    response = member_client.post(f"/orders/{order.pk}/confirm-duplicate/", {"next": next_url})
    # then
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.pk}/"
    assert Order.objects.get(pk=order.pk).duplicate_confirmed is True


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_order_resync_with_a_hostile_next_queues_and_goes_to_the_order(
    member_client: Client, store: Any, next_url: str, django_capture_on_commit_callbacks: Any
) -> None:
    order = OrderFactory(store=store)
    with django_capture_on_commit_callbacks() as callbacks:
        response = member_client.post(f"/stores/orders/{order.pk}/resync/", {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.pk}/"
    assert len(callbacks) == 1  # the resync task is enqueued on commit


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
def test_switching_account_with_a_hostile_next_switches_and_goes_to_the_order_center(
    client: Client, db: None, next_url: str
) -> None:
    # given a member of two accounts
    alpha, beta = AccountFactory(name="Alpha Shop"), AccountFactory(name="Beta Shop")
    user = MembershipFactory(account=alpha).user
    MembershipFactory(user=user, account=beta)
    OrderFactory(store=StoreFactory(account=beta), number="#B-1")
    client.force_login(user)
    # when
    response = client.post("/accounts/switch/", {"account": beta.pk, "next": next_url})
    # then the switch happened and the redirect is the safe default
    assert response.status_code == 302
    assert response["Location"] == "/orders/"
    assert client.session[SESSION_KEY] == beta.pk
    assert order_numbers(center(client)) == ["#B-1"]


@pytest.mark.parametrize(
    ("path", "good_next"),
    [
        ("/orders/archive/", "/orders/?status=new&q=ann"),
        ("/accounts/switch/", "/orders/?status=shipment"),
    ],
)
def test_a_same_site_next_is_still_followed(member_client: Client, store: Any, path: str, good_next: str) -> None:
    order = OrderFactory(store=store)
    data: dict[str, Any] = {"next": good_next}
    if path == "/orders/archive/":
        data["ids"] = [order.pk]
    else:
        data["account"] = store.account.pk
    response = member_client.post(path, data)
    assert response.status_code == 302
    assert response["Location"] == good_next


@pytest.mark.parametrize("next_url", HOSTILE_NEXT)
@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/accounts/language/"), ("post", "/accounts/logout/"), ("get", "/accounts/login/")],
)
def test_the_framework_views_that_take_next_never_leave_the_site(
    member_client: Client, method: str, path: str, next_url: str
) -> None:
    # The language choice and Django's own views (logout, login page) take ``next`` too: no 500, no other host.
    data = {"next": next_url, "language": "fr"}
    response = getattr(member_client, method)(path, data)
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert _is_safe_location(response["Location"]) or not urlsplit(response["Location"]).netloc
