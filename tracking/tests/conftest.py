"""Fixtures for tracking tests: the sandbox over real HTTP (``sandbox_url``, ``control``) and a
webhook receiver (``webhook_receiver``), as the sandbox's own tests use them."""

from __future__ import annotations

from sandbox.tests.conftest import control, sandbox_url, webhook_receiver  # noqa: F401 - fixtures
