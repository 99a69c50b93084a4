from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SuppliersConfig(AppConfig):
    name = "suppliers"
    verbose_name = _("Suppliers")

    def ready(self) -> None:
        # The provider packages register themselves in providers.base.REGISTRY on import.
        from suppliers import providers  # noqa: F401
