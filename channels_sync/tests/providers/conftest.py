"""The sandbox's fixtures (a live sandbox over real HTTP, its control API, a webhook receiver)."""

from __future__ import annotations

from sandbox.tests.conftest import control, sandbox_url, webhook_receiver  # noqa: F401
