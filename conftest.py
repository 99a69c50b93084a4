"""Root of the test suite: the service gate applies to every test directory, however pytest is
invoked (``pytest sandbox/tests`` alone too), not only when ``tests/`` is collected."""

from __future__ import annotations

from tests.service_gate import pytest_collection_modifyitems, pytest_report_header, pytest_runtest_setup

__all__ = ["pytest_collection_modifyitems", "pytest_report_header", "pytest_runtest_setup"]
