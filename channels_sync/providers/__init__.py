"""Sales-channel providers: importing this package registers Shopify, WooCommerce and TikTok Shop
in ``base.REGISTRY`` (use ``base.provider_for``)."""

from __future__ import annotations

from channels_sync.providers import shopify, tiktok, woocommerce

__all__ = ["shopify", "tiktok", "woocommerce"]
