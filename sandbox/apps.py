from __future__ import annotations

import importlib
import pkgutil

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Simulated Shopify, WooCommerce, TikTok Shop, AliExpress, CJ, Temu and 17TRACK.

    Installed and mounted under /sandbox/ only when SANDBOX_ENABLED is on (make run, tests);
    no production module imports it (import-linter checks).
    """

    name = "sandbox"
    verbose_name = "Sandbox (simulated providers)"

    def ready(self) -> None:
        # Each provider package (sandbox/providers/<name>/, not "_shared" modules) registers
        # its ProviderSpec when imported; importing them all here fills the registry.
        from sandbox import providers

        for module in pkgutil.iter_modules(providers.__path__):
            if module.ispkg and not module.name.startswith("_"):
                importlib.import_module(f"{providers.__name__}.{module.name}")
