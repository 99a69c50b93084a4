"""Root of the test suite: the service gate applies to every test directory, however pytest is
invoked (``pytest sandbox/tests`` alone too), not only when ``tests/`` is collected."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.utils import translation

from tests.service_gate import pytest_collection_modifyitems, pytest_report_header, pytest_runtest_setup

__all__ = ["pytest_collection_modifyitems", "pytest_report_header", "pytest_runtest_setup"]


@pytest.fixture(autouse=True)
def _language_reset() -> Iterator[None]:
    """Each test starts in the default language: a request in French (the test client runs it in
    this thread, and Django's locale middleware does not deactivate) does not leak into the next."""
    yield
    translation.activate(settings.LANGUAGE_CODE)
