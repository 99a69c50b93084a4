"""Fixtures for supplier tests: the sandbox over real HTTP (``sandbox_url``, ``control``); accounts,
users and logged-in clients are the suite's own (``tests/conftest.py``)."""

from __future__ import annotations

from sandbox.tests.conftest import control, sandbox_url  # noqa: F401 - fixtures
from tests.conftest import (  # noqa: F401 - fixtures
    _fast_password_hashing,
    account,
    member_client,
    other_account,
    owner,
    owner_client,
    user,
)
