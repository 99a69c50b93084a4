"""Fixtures for channel-sync tests: accounts, users, and the sandbox over real HTTP.

Tasks run eagerly here (the webhook view's ``on_commit`` enqueue processes the delivery at
once), so a test sees the result of a webhook as soon as the sandbox delivered it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import current_app
from django.test import Client

from sandbox.tests.conftest import Control, control, sandbox_url, webhook_receiver  # noqa: F401
from tests import factories

# Live-server tests: the sandbox and our webhook endpoint run in the same server thread, so the
# database is shared through real commits (every app's tables are flushed after each test).
LIVE_DB = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _eager_tasks() -> Iterator[None]:
    conf = current_app.conf
    before = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, False
    yield
    conf.task_always_eager, conf.task_eager_propagates = before


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def account(db: None) -> Any:
    return factories.AccountFactory(name="Account A")


@pytest.fixture
def other_account(db: None) -> Any:
    return factories.AccountFactory(name="Account B")


@pytest.fixture
def user(account: Any) -> Any:
    member = factories.UserFactory(username="alice")
    factories.MembershipFactory(user=member, account=account)
    return member


@pytest.fixture
def member_client(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


@pytest.fixture
def site_url(live_server: Any, settings: Any) -> str:
    """Webhook addresses point at the live server, where the sandbox delivers them."""
    settings.SITE_URL = live_server.url
    return str(live_server.url)


def sandbox_account(sandbox: Control, provider: str, name: str) -> dict[str, Any]:
    return sandbox.account(provider, name)
