from __future__ import annotations

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Simulated Shopify, WooCommerce, TikTok Shop, AliExpress, CJ, Temu and 17TRACK.

    Installed and mounted under /sandbox/ only when SANDBOX_ENABLED is on (make run, tests);
    no production module imports it (import-linter checks).
    """

    name = "sandbox"
    verbose_name = "Sandbox (simulated providers)"
