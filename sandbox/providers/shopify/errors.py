"""What a simulated Shopify endpoint raises to refuse a request (its own module: both the order
changes and the webhook subscriptions raise it)."""

from __future__ import annotations

from typing import Any


class ShopifyError(Exception):
    """A request Shopify refuses: rendered as ``{"errors": errors}`` with ``status``."""

    def __init__(self, status: int, errors: Any) -> None:
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = errors
