from __future__ import annotations

from django.urls import path

from channels_sync import views, views_push, views_shopify, views_tiktok, views_woocommerce

app_name = "channels_sync"

urlpatterns = [
    path("stores/", views.stores, name="stores"),
    path("stores/tiktok/authorize/", views_tiktok.tiktok_connect, name="tiktok_authorize"),
    path("stores/tiktok/callback/", views_tiktok.tiktok_callback_view, name="tiktok_callback"),
    path("stores/tiktok/shops/<int:authorization_id>/", views_tiktok.tiktok_shops, name="tiktok_shops"),
    path("stores/<int:store_id>/tiktok/reconnect/", views_tiktok.tiktok_reconnect, name="tiktok_reconnect"),
    path("stores/connect/<str:channel>/", views.store_connect_view, name="connect"),
    path("stores/woocommerce/authorize/", views_woocommerce.woocommerce_authorize, name="woocommerce_authorize"),
    path("stores/woocommerce/callback/", views_woocommerce.woocommerce_callback, name="woocommerce_callback"),
    path("stores/woocommerce/return/", views_woocommerce.woocommerce_return_view, name="woocommerce_return"),
    path(
        "stores/<int:store_id>/woocommerce/reconnect/",
        views_woocommerce.woocommerce_reconnect,
        name="woocommerce_reconnect",
    ),
    path("stores/shopify/install/", views_shopify.shopify_install, name="shopify_install"),
    path("stores/shopify/callback/", views_shopify.shopify_callback, name="shopify_callback"),
    path("stores/<int:store_id>/shopify/reconnect/", views_shopify.shopify_reconnect, name="shopify_reconnect"),
    path("stores/<int:store_id>/credentials/", views.store_credentials_update, name="credentials"),
    path("stores/<int:store_id>/discard/", views.store_discard_view, name="discard"),
    path("stores/<int:store_id>/pause/", views.store_pause, name="pause"),
    path("stores/<int:store_id>/resume/", views.store_resume, name="resume"),
    path("stores/<int:store_id>/disconnect/", views.store_disconnect_view, name="disconnect"),
    path("stores/<int:store_id>/resync/", views.store_resync, name="resync"),
    path("stores/<int:store_id>/webhook-address/", views.store_webhook_rotate, name="rotate_webhook"),
    path("stores/orders/<int:order_id>/resync/", views.order_resync, name="order_resync"),
    path("pushes/<int:push_id>/retry/", views_push.fulfillment_push_retry_view, name="fulfillment_push_retry"),
    path("carriers/", views_push.carrier_mappings, name="carrier_mappings"),
    path("carriers/add/", views_push.carrier_mapping_add, name="carrier_mapping_add"),
    path("carriers/<int:mapping_id>/", views_push.carrier_mapping_edit, name="carrier_mapping_edit"),
    path("carriers/<int:mapping_id>/delete/", views_push.carrier_mapping_delete_view, name="carrier_mapping_delete"),
    path("carriers/notifications/", views_push.shipping_notifications, name="shipping_notifications"),
    path("webhooks/shopify/compliance/", views.compliance_webhook, name="compliance_webhook"),
    path("webhooks/<str:channel>/<uuid:public_id>/", views.webhook, name="webhook"),
]
