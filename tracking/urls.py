"""Tracking's URLs (mounted at the site root in zopi/urls.py; names are global)."""

from __future__ import annotations

from django.urls import path

from tracking import views

urlpatterns = [
    path("webhooks/17track/", views.track17_webhook, name="track17_webhook"),
]
