"""Supplier providers: importing this package registers each one in ``base.REGISTRY``."""

from __future__ import annotations

from suppliers.providers import aliexpress  # noqa: F401  (registers AliExpressProvider)
