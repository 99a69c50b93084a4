"""Mounted at /sandbox/ when SANDBOX_ENABLED is on. Providers add their own url modules here."""

from __future__ import annotations

from django.urls import include, path

from sandbox import control, status
from sandbox.providers import _supplier_control, _webhook_control
from sandbox.providers.aliexpress import urls as aliexpress_urls
from sandbox.providers.cj import urls as cj_urls
from sandbox.providers.shopify import urls as shopify_urls
from sandbox.providers.temu import urls as temu_urls
from sandbox.providers.tiktok import urls as tiktok_urls
from sandbox.providers.track17 import urls as track17_urls
from sandbox.providers.woocommerce import urls as woocommerce_urls

urlpatterns = [
    path("", status.status_page, name="sandbox-status"),
    path("_control/accounts", control.accounts, name="sandbox-control-accounts"),
    path("_control/clock", control.clock, name="sandbox-control-clock"),
    path("_control/faults", control.fault_rates, name="sandbox-control-faults"),
    path("_control/ledger", control.ledger, name="sandbox-control-ledger"),
    path("_control/fulfillments", control.fulfillments, name="sandbox-control-fulfillments"),
    path("_control/<str:provider>/<str:name>/orders", control.create_orders, name="sandbox-control-orders"),
    path("_control/<str:provider>/<str:name>/options", control.account_options, name="sandbox-control-options"),
    path(
        "_control/<str:provider>/<str:name>/webhook", _webhook_control.webhook_address, name="sandbox-control-webhook"
    ),
    path("_control/", include(_supplier_control.urlpatterns)),
    # TikTok Shop, AliExpress, CJ, Temu (simulated shape), 17TRACK
    path("_control/tiktok/", include(tiktok_urls.control_urlpatterns)),
    path("tiktok/", include(tiktok_urls)),
    path("aliexpress/", include(aliexpress_urls)),
    path("cj/api2.0/v1/", include(cj_urls)),
    path("temu/", include(temu_urls)),
    path("17track/track/v2.2/", include(track17_urls)),
    # Shopify
    path("_control/shopify/", include(shopify_urls.control_urlpatterns)),
    path("shopify/", include(shopify_urls)),
    # WooCommerce
    path("_control/woocommerce/", include(woocommerce_urls.control_urlpatterns)),
    path("woocommerce/", include(woocommerce_urls)),
]
