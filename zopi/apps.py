from __future__ import annotations

from django.apps import AppConfig


class ZopiConfig(AppConfig):
    """Project-level commands (demo data) that may use every app; no models."""

    name = "zopi"
    verbose_name = "Zopi order center"

    def ready(self) -> None:
        from django.conf import settings

        from zopi.quiet_logs import quiet_sandbox_logs

        if settings.DEBUG and settings.SANDBOX_ENABLED:  # make run: the simulated world's routine
            quiet_sandbox_logs()
