"""The owners' tracking settings page (``/tracking/settings/``): owners read and change the expiry and
stalled days (1–365, the stalled warning before the expiry), with clear errors and nothing saved on
a bad value; staff get 403 and change nothing; CSRF is checked; another account is never touched;
after a change the job runs for the account (a real worker), so the flags follow the new days."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account
from orders.models import Order
from orders.services import order_recompute_status
from tests.factories import (
    AccountFactory,
    MembershipFactory,
    OrderFactory,
    StoreFactory,
    SupplierOrderFactory,
    UserFactory,
)
from tests.workers import running_worker, wait_for
from tracking.enums import StalledReason

URL = "/tracking/settings/"
VALID = {"expire_after_days": "45", "stalled_no_tracking_days": "3", "stalled_no_event_days": "10"}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def account(db: None) -> Account:
    return AccountFactory(name="Edge A")


@pytest.fixture
def other_account(db: None) -> Account:
    return AccountFactory(name="Edge B")


def member(account: Account, username: str, role: str) -> Client:
    user = UserFactory(username=username)
    MembershipFactory(user=user, account=account, role=role)
    client = Client()
    client.force_login(user)
    return client


def stored(account: Account) -> tuple[int, int, int]:
    return Account.objects.values_list("expire_after_days", "stalled_no_tracking_days", "stalled_no_event_days").get(
        pk=account.pk
    )


@pytest.mark.django_db
def test_the_url_name_and_the_owners_link_in_the_top_bar(account: Account) -> None:
    assert reverse("tracking_settings") == URL
    owner = member(account, "olivia", "owner")
    staff = member(account, "sam", "staff")
    assert f'href="{URL}"' in owner.get("/orders/").content.decode()
    assert f'href="{URL}"' not in staff.get("/orders/").content.decode()


@pytest.mark.django_db
def test_the_owner_sees_the_current_days(account: Account) -> None:
    response = member(account, "olivia", "owner").get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="expire_after_days" value="30"' in html
    assert 'name="stalled_no_tracking_days" value="7"' in html
    assert 'name="stalled_no_event_days" value="5"' in html


@pytest.mark.django_db
def test_the_owner_saves_and_only_their_account_changes(
    account: Account, other_account: Account, django_capture_on_commit_callbacks: Any
) -> None:
    owner = member(account, "olivia", "owner")
    with django_capture_on_commit_callbacks() as callbacks:
        response = owner.post(URL, VALID)
    assert response.status_code == 302
    assert response["Location"] == URL
    assert stored(account) == (45, 3, 10)
    assert stored(other_account) == (30, 7, 5)
    assert len(callbacks) == 1  # the job for this account, after the commit
    assert "Tracking settings saved." in owner.get(URL).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("expire_after_days", "0", "Enter at least 1 day."),
        ("stalled_no_tracking_days", "366", "Enter at most 365 days."),
        ("stalled_no_event_days", "-3", "Enter at least 1 day."),
        ("expire_after_days", "twelve", "Enter a whole number of days."),
        ("stalled_no_tracking_days", "", "Enter a number of days."),
        ("stalled_no_event_days", "45", "The stalled warning must come before the expiry: enter fewer than 45 days."),
        ("expire_after_days", "99999999999999999999", "Enter at most 365 days."),
    ],
)
def test_a_bad_value_is_explained_and_nothing_is_saved(
    account: Account, field: str, value: str, error: str, django_capture_on_commit_callbacks: Any
) -> None:
    owner = member(account, "olivia", "owner")
    with django_capture_on_commit_callbacks() as callbacks:
        response = owner.post(URL, {**VALID, field: value})
    assert response.status_code == 422
    assert error in response.content.decode()
    assert stored(account) == (30, 7, 5)
    assert callbacks == []


@pytest.mark.django_db
def test_staff_get_403_and_change_nothing(account: Account) -> None:
    staff = member(account, "sam", "staff")
    for response in (staff.get(URL), staff.post(URL, VALID)):
        assert response.status_code == 403
        assert "Only an owner can do this" in response.content.decode()
    assert stored(account) == (30, 7, 5)


@pytest.mark.django_db
def test_csrf_is_checked(account: Account) -> None:
    user = UserFactory(username="olivia")
    MembershipFactory(user=user, account=account, role="owner")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.post(URL, VALID).status_code == 403
    assert stored(account) == (30, 7, 5)
    # with the page's token it goes through
    browser.get(URL)
    token = browser.cookies["csrftoken"].value
    assert browser.post(URL, {**VALID, "csrfmiddlewaretoken": token}).status_code == 302
    assert stored(account) == (45, 3, 10)


def test_signed_out_is_sent_to_sign_in(client: Client, db: None) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_after_a_change_the_job_runs_for_the_account_on_a_worker(account: Account) -> None:
    # given an order whose supplier was paid 4 days ago (not stalled under the default 7 days)
    store = StoreFactory(account=account, name="Edge A Shopify")
    order = OrderFactory(store=store)
    SupplierOrderFactory(order=order, paid_at=timezone.now() - timedelta(days=4))
    order_recompute_status(order_id=order.pk)
    owner = member(account, "olivia", "owner")
    # when the owner shortens it to 3 days
    with running_worker(["tracking"]) as ran:
        assert owner.post(URL, VALID).status_code == 302
        flagged = wait_for(lambda: Order.objects.filter(pk=order.pk, stalled=StalledReason.NO_TRACKING).exists())
    # then the worker's run for the account flagged it
    assert flagged
    assert [name for name, _ in ran] == ["tracking.expire_and_flag_stalled"]
