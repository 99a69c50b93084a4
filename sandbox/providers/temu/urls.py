from __future__ import annotations

from django.urls import path

from sandbox.providers.temu import views

urlpatterns = [
    path("v1/account", views.account_detail, name="temu-account"),
    path("v1/orders", views.orders_create, name="temu-orders"),
    path("v1/orders/<str:order_id>", views.order_detail, name="temu-order"),
    path("v1/orders/<str:order_id>/pay", views.order_pay, name="temu-order-pay"),
    path("v1/orders/<str:order_id>/refunds", views.order_refunds, name="temu-order-refunds"),
]
