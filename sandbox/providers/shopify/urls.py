"""Routes under /sandbox/shopify/ (the Admin API, the install page and token endpoint) and
/sandbox/_control/shopify/ (control extras: buyer cancel, merchant update, the app grants)."""

from __future__ import annotations

from django.urls import path, re_path

from sandbox.enums import Provider
from sandbox.providers._channel_control import channel_control_urlpatterns
from sandbox.providers.shopify import compliance, oauth, views
from sandbox.providers.shopify.api import not_found
from sandbox.providers.shopify.graphql.endpoint import graphql_endpoint
from sandbox.providers.shopify.spec import buyer_cancel, merchant_refund, merchant_update

API = "<slug:shop>/admin/api/<str:version>/"

urlpatterns = [
    path(API + "graphql.json", graphql_endpoint, name="sandbox-shopify-graphql"),
    path(API + "shop.json", views.shop_detail),
    path(API + "orders.json", views.orders_list, name="sandbox-shopify-orders"),
    path(API + "orders/count.json", views.orders_count),
    path(API + "orders/<int:order_id>.json", views.order_detail),
    path(API + "orders/<int:order_id>/cancel.json", views.order_cancel_view),
    path(API + "orders/<int:order_id>/fulfillment_orders.json", views.fulfillment_orders),
    path(API + "orders/<int:order_id>/fulfillments.json", views.order_fulfillments),
    path(API + "fulfillments.json", views.fulfillments_create),
    path(API + "webhooks.json", views.webhooks),
    path(API + "webhooks/<int:webhook_id>.json", views.webhook_detail),
    path(API + "<path:rest>", views.unknown_endpoint),
    path("<slug:shop>/admin/oauth/authorize", oauth.authorize, name="sandbox-shopify-authorize"),
    path("<slug:shop>/admin/oauth/access_token", oauth.access_token, name="sandbox-shopify-access-token"),
    path("<slug:shop>", not_found, name="sandbox-shopify-shop"),
    re_path(r"^.*$", not_found),
]

control_urlpatterns = [
    *channel_control_urlpatterns(Provider.SHOPIFY, cancel=buyer_cancel, update=merchant_update, refund=merchant_refund),
    *compliance.control_urlpatterns,  # uninstall the app, send a compliance webhook
    path("<str:name>/grants", oauth.control_grants),
    path("<str:name>/grants/revoke", oauth.control_revoke),
    path("<str:name>/grants/lose-next-refresh", oauth.control_lose_next_refresh),
]
