from __future__ import annotations

from django.urls import path

from sandbox.providers.aliexpress import api, auth, oauth

urlpatterns = [
    path("sync", api.sync, name="aliexpress-sync"),
    path("rest/auth/token/refresh", auth.token_refresh, name="aliexpress-token-refresh"),
    path("rest/auth/token/create", oauth.token_create, name="aliexpress-token-create"),
    path("oauth/authorize", oauth.authorize, name="aliexpress-authorize"),
]
