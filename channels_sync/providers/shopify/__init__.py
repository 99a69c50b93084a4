"""Shopify (GraphQL Admin API): queries, mapping (pure), client (HTTP), provider (registered on import)."""

from __future__ import annotations

from channels_sync.providers.shopify.provider import ShopifyProvider

__all__ = ["ShopifyProvider"]
