"""Refunds in the order center, mounted under /orders/refunds/ (namespace ``refunds``)."""

from __future__ import annotations

from django.urls import path

from suppliers import views_refunds as views

app_name = "refunds"

urlpatterns = [
    path("orders/<int:order_id>/request/", views.refund_request_view, name="request"),
    path("<int:refund_id>/outcome/", views.refund_outcome_view, name="outcome"),
    path("<int:refund_id>/retry/", views.refund_retry_view, name="retry"),
]
