from __future__ import annotations

import importlib

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

PROVIDER_PACKAGES = ("shopify", "woocommerce", "tiktok")


class ChannelsSyncConfig(AppConfig):
    name = "channels_sync"
    verbose_name = _("Sales channels")

    def ready(self) -> None:
        # Each provider package registers itself in providers.base.REGISTRY on import.
        for name in PROVIDER_PACKAGES:
            module = f"channels_sync.providers.{name}"
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as error:
                if error.name != module:  # the package exists but is broken: say so
                    raise
