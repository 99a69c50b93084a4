from __future__ import annotations

from django.urls import path

from channels_sync import views

app_name = "channels_sync"

urlpatterns = [
    path("stores/", views.stores, name="stores"),
    path("stores/connect/<str:channel>/", views.store_connect_view, name="connect"),
    path("stores/<int:store_id>/credentials/", views.store_credentials_update, name="credentials"),
    path("stores/<int:store_id>/discard/", views.store_discard_view, name="discard"),
    path("stores/<int:store_id>/pause/", views.store_pause, name="pause"),
    path("stores/<int:store_id>/resume/", views.store_resume, name="resume"),
    path("stores/<int:store_id>/disconnect/", views.store_disconnect_view, name="disconnect"),
    path("stores/<int:store_id>/resync/", views.store_resync, name="resync"),
    path("stores/<int:store_id>/webhook-address/", views.store_webhook_rotate, name="rotate_webhook"),
    path("stores/orders/<int:order_id>/resync/", views.order_resync, name="order_resync"),
    path("webhooks/<str:channel>/<uuid:public_id>/", views.webhook, name="webhook"),
]
