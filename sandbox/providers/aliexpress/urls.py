from __future__ import annotations

from django.urls import path

from sandbox.providers.aliexpress import api

urlpatterns = [path("sync", api.sync, name="aliexpress-sync")]
