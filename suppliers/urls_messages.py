"""Mounted at /webhooks/suppliers/aliexpress/ (zopi/urls.py): messages the suppliers push."""

from __future__ import annotations

from django.urls import path

from suppliers import views_messages

app_name = "supplier_messages"

urlpatterns = [
    path("", views_messages.aliexpress_message, name="aliexpress"),
]
