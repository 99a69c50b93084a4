"""Fixtures for channel-sync tests: the sandbox over real HTTP, eager tasks; accounts, users and
logged-in clients are the suite's own (``tests/conftest.py``).

Tasks run eagerly here (the webhook view's ``on_commit`` enqueue processes the delivery at
once), so a test sees the result of a webhook as soon as the sandbox delivered it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import current_app

from channels_sync.tests.shopify_app import shopify_app  # noqa: F401 - fixture
from sandbox.tests.conftest import control, sandbox_url, webhook_receiver  # noqa: F401
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


@pytest.fixture
def site_url(live_server: Any, settings: Any) -> str:
    """Webhook addresses point at the live server, where the sandbox delivers them."""
    settings.SITE_URL = live_server.url
    return str(live_server.url)
