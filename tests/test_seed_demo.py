"""``manage.py seed_demo``: the demo account with orders in every tab and pill; idempotent."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.models import Account, Membership
from orders.enums import ARCHIVE_TAB, SUB_STATUSES_BY_STATUS, TAB_STATUSES
from orders.models import Order, OrderEvent
from orders.selectors import order_tab_counts
from orders.services.counts import order_counts_from_rows, order_counts_stored
from tests.pages import tab_counts

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--with-demo-login", stdout=out)
    return out.getvalue()


def test_seed_demo_twice_changes_nothing_the_second_time() -> None:
    # given a first run
    seed()
    account = Account.objects.get(name="Demo Store Co")
    orders = list(Order.objects.order_by("pk").values_list("pk", "number", "status", "sub_status", "archived"))
    events = OrderEvent.objects.count()
    # when it runs again
    output = seed()
    # then
    assert "already present" in output
    assert list(Order.objects.order_by("pk").values_list("pk", "number", "status", "sub_status", "archived")) == orders
    assert OrderEvent.objects.count() == events
    assert Account.objects.filter(name="Demo Store Co").count() == 1
    assert Membership.objects.filter(account=account, user__username="demo").count() == 1
    assert len(orders) > 0


def test_seed_demo_fills_every_tab_and_sub_status() -> None:
    # when
    seed()
    # then
    account = Account.objects.get(name="Demo Store Co")
    counts = order_tab_counts(account=account)
    for tab in [*TAB_STATUSES, ARCHIVE_TAB]:
        assert counts.tabs[tab] > 0, tab
    for status, sub_statuses in SUB_STATUSES_BY_STATUS.items():
        for sub_status in sub_statuses:
            assert counts.sub_statuses.get((status, sub_status), 0) > 0, (status, sub_status)
    assert order_counts_stored(account=account) == order_counts_from_rows(account=account)


def test_the_demo_user_logs_in_with_demo_demo_and_sees_the_demo_orders(client: Client) -> None:
    # given
    seed()
    # when the demo login is typed into the login form
    response = client.post("/accounts/login/", {"username": "demo", "password": "demo", "next": "/orders/"})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/orders/"
    page = client.get("/orders/")
    assert page.status_code == 200
    assert "Demo Store Co" in page.content.decode()
    account = Account.objects.get(name="Demo Store Co")
    assert tab_counts(page) == order_tab_counts(account=account).tabs


def test_the_demo_has_a_staff_login_that_works_orders_but_not_stores(client: Client) -> None:
    # given the demo data
    seed()
    # when staff / staff signs in
    response = client.post("/accounts/login/", {"username": "staff", "password": "staff", "next": "/orders/"})
    # then the orders are theirs to work, the stores and members pages are not
    assert response.status_code == 302
    assert client.get("/orders/").status_code == 200
    assert client.get("/stores/").status_code == 403
    assert client.get("/members/").status_code == 403


def test_support_gets_an_admin_login_in_the_dev_profile_only(client: Client, settings: Any) -> None:
    # given the production profile with the trial flag: no support login is made
    settings.DEBUG = False
    call_command("seed_demo", "--with-demo-login", stdout=StringIO())
    assert not get_user_model().objects.filter(username="support").exists()
    # when seeded in the dev profile
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    # then support / support opens the admin's provider attempts
    signed_in = client.post("/admin/login/", {"username": "support", "password": "support", "next": "/admin/"})
    assert signed_in.status_code == 302
    assert client.get("/admin/channels_sync/providerattempt/").status_code == 200


def test_under_the_production_profile_seed_demo_refuses_without_the_flag(settings: Any) -> None:
    # given the production profile (the suite runs with DEBUG off; said here so it cannot drift)
    settings.DEBUG = False
    # when seed_demo runs without --with-demo-login
    with pytest.raises(CommandError, match="--with-demo-login"):
        call_command("seed_demo", stdout=StringIO())
    # then no demo / demo login exists and no demo data was written
    assert not get_user_model().objects.filter(username="demo").exists()
    assert not Account.objects.filter(name="Demo Store Co").exists()


def test_in_the_dev_profile_seed_demo_needs_no_flag(settings: Any) -> None:
    # make run (DEBUG=1) is unaffected
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    assert get_user_model().objects.get(username="demo").check_password("demo")
