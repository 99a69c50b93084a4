"""Supplier providers: importing this package registers each one in ``base.REGISTRY``."""

from __future__ import annotations

from suppliers.providers import aliexpress, cj, temu  # noqa: F401  (each registers its provider)
from suppliers.providers.base import REGISTRY, SupplierProvider


def provider_class(name: str) -> type[SupplierProvider]:
    """The registered provider class of a supplier (``KeyError``: no such supplier)."""
    return REGISTRY[name]
