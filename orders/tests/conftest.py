"""Fixtures for the orders app's tests: accounts, stores, users and logged-in clients are the suite's
own (``tests/conftest.py``)."""

from __future__ import annotations

from tests.conftest import (  # noqa: F401 - fixtures
    _fast_password_hashing,
    account,
    member_client,
    other_account,
    other_store,
    owner,
    owner_client,
    store,
    user,
)
