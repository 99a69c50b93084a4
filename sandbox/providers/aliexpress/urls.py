from __future__ import annotations

from django.urls import path

from sandbox.providers.aliexpress import api, auth

urlpatterns = [
    path("sync", api.sync, name="aliexpress-sync"),
    path("rest/auth/token/refresh", auth.token_refresh, name="aliexpress-token-refresh"),
]
