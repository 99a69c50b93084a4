"""Fixtures for supplier provider tests: the sandbox over real HTTP (``sandbox_url``, ``control``)."""

from __future__ import annotations

from sandbox.tests.conftest import control, sandbox_url  # noqa: F401 - fixtures
