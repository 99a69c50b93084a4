"""Sign-in is throttled against password guessing (django-axes) on our login page and the admin's,
per username and address; sessions end after an idle time without writing on every request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts.middleware import IDLE_TOUCHED_KEY
from accounts.signin import client_ip
from tests.factories import UserFactory
from tests.pages import text

pytestmark = pytest.mark.django_db

PASSWORD = "secret-pw"  # tests.factories.UserFactory's
LIMIT = 5  # AXES_FAILURE_LIMIT's default (SIGNIN_FAILURE_LIMIT)


def sign_in(
    client: Client, username: str, password: str, *, address: str = "198.51.100.7", path: str = "/accounts/login/"
) -> Any:
    return client.post(path, {"username": username, "password": password, "next": "/orders/"}, REMOTE_ADDR=address)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_after_the_failure_limit_even_the_right_password_is_refused_with_a_reason(client: Client, user: Any) -> None:
    # given LIMIT wrong passwords for alice from one address
    for _ in range(LIMIT - 1):
        response = sign_in(client, "alice", "guess")
        assert response.status_code == 200
        assert "didn't match" in text(response)
    assert sign_in(client, "alice", "guess").status_code == 429  # the one that reaches the limit
    # when the right password comes from that address
    response = sign_in(client, "alice", PASSWORD)
    # then it is refused, and the page says what happened and how long to wait
    assert response.status_code == 429
    page = text(response)
    assert "Too many failed sign-ins" in page
    assert "failed 5 times" in page
    assert "Try again in 15 minutes." in page
    assert not signed_in(client)


def test_the_lockout_is_per_username_and_address(client: Client, user: Any) -> None:
    for _ in range(LIMIT):
        sign_in(client, "alice", "guess", address="198.51.100.7")
    # alice from elsewhere is not locked out by someone guessing from that address
    other = Client()
    assert sign_in(other, "alice", PASSWORD, address="203.0.113.20").status_code == 302
    assert signed_in(other)


def test_after_the_cool_off_the_right_password_works_again(client: Client, user: Any, settings: Any) -> None:
    for _ in range(LIMIT):
        sign_in(client, "alice", "guess")
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    # when the cool-off has passed
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    # then
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    assert signed_in(client)


def test_a_successful_sign_in_resets_the_count(client: Client, user: Any) -> None:
    for _ in range(LIMIT - 1):
        sign_in(client, "alice", "guess")
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    client.logout()
    for _ in range(LIMIT - 1):
        sign_in(client, "alice", "guess")
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_the_admin_login_is_throttled_too(client: Client) -> None:
    UserFactory(username="support", is_staff=True, is_superuser=True)
    for _ in range(LIMIT):
        sign_in(client, "support", "guess", path="/admin/login/")
    response = sign_in(client, "support", PASSWORD, path="/admin/login/")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in text(response)
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_behind_trusted_proxies_the_client_address_is_the_one_they_saw(settings: Any) -> None:
    factory = RequestFactory()
    # a client writes what it likes on the left of X-Forwarded-For; the proxy appends what it saw
    request = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.66, 203.0.113.9")
    settings.SIGNIN_TRUSTED_PROXIES = 0
    assert client_ip(request) == "10.0.0.2"
    settings.SIGNIN_TRUSTED_PROXIES = 1
    assert client_ip(request) == "203.0.113.9"
    settings.SIGNIN_TRUSTED_PROXIES = 2
    assert client_ip(request) == "192.0.2.66"
    settings.SIGNIN_TRUSTED_PROXIES = 3  # fewer entries than proxies: not forwarded as configured
    assert client_ip(request) == "10.0.0.2"


def session_expiry(client: Client) -> Any:
    return Session.objects.get(session_key=client.session.session_key).expire_date


def test_a_session_expires_after_the_idle_time_and_activity_moves_it(client: Client, user: Any, settings: Any) -> None:
    # given alice signed in through the form (her first page stores the account she works in)
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    assert client.get("/orders/").status_code == 200
    expiry = session_expiry(client)
    assert abs((expiry - timezone.now()) - timedelta(minutes=settings.SESSION_IDLE_MINUTES)) < timedelta(minutes=1)
    assert settings.SESSION_IDLE_MINUTES == 8 * 60
    # requests soon after do not write the session (no write per htmx poll)
    assert client.get("/orders/").status_code == 200
    assert client.get("/orders/", HTTP_HX_REQUEST="true").status_code == 200
    assert session_expiry(client) == expiry
    # a request after the refresh interval moves the expiry forward
    session = client.session
    session[IDLE_TOUCHED_KEY] = int(session[IDLE_TOUCHED_KEY]) - int(settings.SESSION_IDLE_REFRESH.total_seconds()) - 1
    session.save()
    Session.objects.filter(session_key=session.session_key).update(expire_date=expiry - timedelta(hours=1))
    assert client.get("/orders/").status_code == 200
    assert session_expiry(client) > expiry - timedelta(seconds=5)
    # when the session stays idle past its expiry, the next request must sign in again
    Session.objects.filter(session_key=session.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/orders/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_pages_own_polling_does_not_keep_an_idle_session_alive(client: Client, user: Any, settings: Any) -> None:
    # given alice signed in, and her session's refresh interval has passed
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    assert client.get("/orders/").status_code == 200
    session = client.session
    session[IDLE_TOUCHED_KEY] = int(session[IDLE_TOUCHED_KEY]) - int(settings.SESSION_IDLE_REFRESH.total_seconds()) - 1
    session.save()
    old_expiry = timezone.now() + timedelta(minutes=10)
    Session.objects.filter(session_key=session.session_key).update(expire_date=old_expiry)
    # when only the order center's tabs poll (an unattended tab)
    polled = client.get("/orders/", HTTP_HX_REQUEST="true", HTTP_X_ZOPI_POLL="1")
    # then the session is not moved: it still ends at its idle time
    assert polled.status_code == 200
    assert session_expiry(client) == old_expiry
    # and the page's polling elements are the ones that say so
    page = client.get("/orders/").content.decode()
    assert 'hx-headers=\'{"X-Zopi-Poll": "1"}\'' in page
    # while a request of hers moves it
    assert session_expiry(client) > old_expiry
