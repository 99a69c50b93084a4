from __future__ import annotations

from django.apps import AppConfig


class ZopiConfig(AppConfig):
    """Project-level commands (demo data) that may use every app; no models."""

    name = "zopi"
    verbose_name = "Zopi order center"
