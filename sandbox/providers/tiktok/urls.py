"""TikTok Shop under /sandbox/tiktok/: the API host's 202309 paths and the auth host's token paths."""

from __future__ import annotations

from django.urls import path

from sandbox.enums import Provider
from sandbox.providers._channel_control import channel_control_urlpatterns
from sandbox.providers.tiktok import authorize, orders, returns, views

urlpatterns = [
    path("open/authorize", authorize.authorize, name="tiktok-authorize"),
    path("order/202309/orders/search", views.orders_search, name="tiktok-orders-search"),
    path("order/202309/orders", views.orders_detail, name="tiktok-orders-detail"),
    path("return_refund/202309/returns/search", returns.returns_search, name="tiktok-returns-search"),
    path("fulfillment/202309/packages/<str:package_id>/ship", views.package_ship, name="tiktok-package-ship"),
    path(
        "fulfillment/202309/packages/<str:package_id>/shipping_info/update",
        views.package_shipping_info_update,
        name="tiktok-package-shipping-info",
    ),
    path("fulfillment/202309/packages/<str:package_id>", views.package_detail, name="tiktok-package"),
    path("fulfillment/202309/orders/<str:order_id>/tracking", views.order_tracking, name="tiktok-order-tracking"),
    path("logistics/202309/warehouses", views.warehouses, name="tiktok-warehouses"),
    path(
        "logistics/202309/warehouses/<str:warehouse_id>/delivery_options",
        views.delivery_options,
        name="tiktok-delivery-options",
    ),
    path(
        "logistics/202309/delivery_options/<str:delivery_option_id>/shipping_providers",
        views.shipping_providers,
        name="tiktok-shipping-providers",
    ),
    path("authorization/202309/shops", views.authorized_shops, name="tiktok-authorized-shops"),
    path("api/v2/token/get", views.token, {"grant": "get"}, name="tiktok-token-get"),
    path("api/v2/token/refresh", views.token, {"grant": "refresh"}, name="tiktok-token-refresh"),
]

# Included at _control/tiktok/: the buyer cancels, the seller edits, the seller deauthorizes the app.
control_urlpatterns = [
    *channel_control_urlpatterns(
        Provider.TIKTOK, cancel=orders.buyer_cancel, update=orders.merchant_update, refund=returns.seller_refund
    ),
    path("<str:name>/revoke", authorize.revoke, name="tiktok-control-revoke"),
]
