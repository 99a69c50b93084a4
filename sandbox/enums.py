from __future__ import annotations

from django.db import models


class Provider(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"  # sales channel
    WOOCOMMERCE = "woocommerce", "WooCommerce"  # sales channel
    TIKTOK = "tiktok", "TikTok Shop"  # sales channel
    ALIEXPRESS = "aliexpress", "AliExpress"  # supplier
    CJ = "cj", "CJdropshipping"  # supplier
    TEMU = "temu", "Temu (simulated shape)"  # supplier without a public buyer API
    TRACK17 = "17track", "17TRACK"  # tracking provider


CHANNEL_PROVIDERS = (Provider.SHOPIFY, Provider.WOOCOMMERCE, Provider.TIKTOK)
SUPPLIER_PROVIDERS = (Provider.ALIEXPRESS, Provider.CJ, Provider.TEMU)


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its next attempt
    DELIVERED = "delivered", "Delivered"  # the receiver answered 2xx
    FAILED = "failed", "Failed"  # gave up after the provider's retry policy
