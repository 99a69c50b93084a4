"""WooCommerce (REST API v3): mapping (pure), client (HTTP), provider (registered on import)."""

from __future__ import annotations

from channels_sync.providers.woocommerce.provider import WooCommerceProvider

__all__ = ["WooCommerceProvider"]
