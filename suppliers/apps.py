from __future__ import annotations

import importlib

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

PROVIDER_PACKAGES = ("aliexpress", "cj")


class SuppliersConfig(AppConfig):
    name = "suppliers"
    verbose_name = _("Suppliers")

    def ready(self) -> None:
        # Each provider package registers itself in providers.base.REGISTRY on import.
        for name in PROVIDER_PACKAGES:
            module = f"suppliers.providers.{name}"
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as error:
                if error.name != module:  # the package exists but is broken: say so
                    raise
