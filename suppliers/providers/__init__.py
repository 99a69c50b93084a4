"""Supplier providers: importing this package registers each one in ``base.REGISTRY``."""

from __future__ import annotations

from suppliers.providers import aliexpress, cj, temu  # noqa: F401  (each registers its provider)
