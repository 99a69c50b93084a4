"""Shared fixtures for the tests under ``tests/``. The service gate is ``tests/service_gate.py``
(hooked in for the whole repository by the root ``conftest.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from sandbox.tests.conftest import control, sandbox_url  # noqa: F401 - fixtures: the sandbox over the live server
from tests import factories

# --- Fixtures ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """PBKDF2 is slow on purpose; tests log in many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def account(db: None) -> Any:
    return factories.AccountFactory(name="Account A")


@pytest.fixture
def store(account: Any) -> Any:
    return factories.StoreFactory(account=account, name="A Shopify")


@pytest.fixture
def user(account: Any) -> Any:
    """A staff member of ``account`` only."""
    member = factories.UserFactory(username="alice")
    factories.MembershipFactory(user=member, account=account)
    return member


@pytest.fixture
def member_client(client: Client, user: Any) -> Client:
    """A browser session logged in as ``user`` (working in ``account``)."""
    client.force_login(user)
    return client


@pytest.fixture
def owner(account: Any) -> Any:
    """An owner of ``account`` only: manages its stores, supplier accounts, settings and members."""
    member = factories.UserFactory(username="olivia")
    factories.MembershipFactory(user=member, account=account, role="owner")
    return member


@pytest.fixture
def owner_client(client: Client, owner: Any) -> Client:
    """A browser session logged in as ``owner`` (working in ``account``)."""
    client.force_login(owner)
    return client


@pytest.fixture
def other_account(db: None) -> Any:
    return factories.AccountFactory(name="Account B")


@pytest.fixture
def other_store(other_account: Any) -> Any:
    return factories.StoreFactory(account=other_account, name="B Shopify")


@pytest.fixture(scope="session", autouse=True)
def _static_root_exists() -> None:
    """WhiteNoise warns on every request when STATIC_ROOT is missing (tests serve from the apps)."""
    from pathlib import Path

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
