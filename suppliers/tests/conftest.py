"""Fixtures for supplier provider tests: the sandbox over real HTTP (``sandbox.tests.conftest``)."""

from __future__ import annotations

from sandbox.tests.conftest import control, sandbox_url  # noqa: F401 - fixtures
