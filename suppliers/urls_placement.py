"""Placement in the order center, mounted under /orders/place/ (namespace ``placement``)."""

from __future__ import annotations

from django.urls import path

from suppliers import views_placement as views

app_name = "placement"

urlpatterns = [
    path("", views.placement_start, name="start"),
    path("batches/<str:public_id>/", views.placement_batch, name="batch"),
    path("<int:order_id>/cell/", views.order_placement_cell, name="cell"),
    path("<int:order_id>/retry-payment/", views.order_retry_payment, name="retry_payment"),
    path("<int:order_id>/cancel/", views.order_cancel_supplier_orders, name="cancel"),
    path("<int:order_id>/replace/", views.order_replace_view, name="replace"),
]
