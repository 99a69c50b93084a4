"""Tracking pages at the site root: the public page (``/t/<token>/``, no login) and the owners'
tracking settings (``/tracking/settings/``). Global URL names, without a namespace:
``tracking_public``, ``tracking_settings``."""

from __future__ import annotations

from django.urls import path

from tracking import views_public, views_settings

urlpatterns = [
    path("t/<str:token>/", views_public.tracking_public, name="tracking_public"),
    path("tracking/settings/", views_settings.tracking_settings, name="tracking_settings"),
]
