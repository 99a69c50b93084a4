"""The service gate, for every test in the repository (wired up by the root ``conftest.py``).

Tests that need a real service carry a marker (``postgres``, ``redis``, ``celery_worker``;
``browser`` is handled by ``tests/browser/conftest.py``). Where the service is missing the
test is skipped with the reason printed (``-ra`` is on); with ``REQUIRE_SERVICES=1`` (CI)
a missing service fails the test instead, so nothing is skipped silently where the
services are promised. ``require_or_skip`` is that one rule, importable by other conftests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache

import pytest
from django.conf import settings
from django.db import connection


def services_required() -> bool:
    """True when the environment promises every service (CI): a missing one is a failure."""
    return os.environ.get("REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes", "on"}


def require_or_skip(available: bool, reason: str) -> None:
    """Go on if ``available``; otherwise skip with ``reason``, or fail under REQUIRE_SERVICES=1."""
    if available:
        return
    if services_required():
        pytest.fail(f"REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def postgres_available() -> tuple[bool, str]:
    if connection.vendor == "postgresql":
        return True, ""
    return False, f"needs PostgreSQL (DATABASE_URL=postgres://…); the database here is {connection.vendor}"


@cache
def redis_available() -> tuple[bool, str]:
    """Redis answers PING at REDIS_URL (asked once per session)."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return False, "needs Redis (REDIS_URL=redis://…); REDIS_URL is not set"
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except redis.RedisError as error:
        return False, f"needs Redis at {url}, which did not answer: {error}"
    return True, ""


def celery_worker_available() -> tuple[bool, str]:
    """A real worker needs a real broker: Redis, as in production."""
    available, reason = redis_available()
    if not available:
        return False, f"a real Celery worker {reason}"
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        return False, f"a real Celery worker needs the Redis broker; it is {settings.CELERY_BROKER_URL}"
    return True, ""


SERVICE_CHECKS: dict[str, Callable[[], tuple[bool, str]]] = {
    "postgres": postgres_available,
    "redis": redis_available,
    "celery_worker": celery_worker_available,
}


def _missing_service(item: pytest.Item) -> str | None:
    for marker in item.iter_markers():
        check = SERVICE_CHECKS.get(marker.name)
        if check is not None:
            available, reason = check()
            if not available:
                return reason
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Laptop path: mark tests whose service is missing as skipped, so the summary names each test."""
    if services_required():
        return
    for item in items:
        reason = _missing_service(item)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture runs: every service the test is marked for must be there (fails under
    REQUIRE_SERVICES=1)."""
    if not services_required():
        return  # skipped at collection (see above), with the test's own location in the summary
    reason = _missing_service(item)
    if reason is not None:
        require_or_skip(False, reason)


def pytest_report_header(config: pytest.Config) -> list[str]:
    redis_ok, redis_reason = redis_available()
    return [
        f"zopi: database {settings.DATABASES['default']['ENGINE']}, "
        f"redis {'up' if redis_ok else 'missing (' + redis_reason + ')'}, "
        f"REQUIRE_SERVICES={'1' if services_required() else '0'}"
    ]
