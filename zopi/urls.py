from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import include, path


def home(request: HttpRequest) -> HttpResponse:
    return redirect("orders:center")


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("", include("accounts.urls")),
    path("orders/place/", include("suppliers.urls_placement")),
    path("orders/refunds/", include("suppliers.urls_refunds")),
    path("orders/", include("orders.urls")),
    path("rules/", include("suppliers.urls_rules")),
    path("", include("suppliers.urls")),
    path("", include("channels_sync.urls")),
    path("", include("tracking.urls_public")),
    path("webhooks/suppliers/aliexpress/", include("suppliers.urls_messages")),
    path("", include("tracking.urls")),
    path("admin/", admin.site.urls),
]

if settings.SANDBOX_ENABLED:
    # Simulated providers for the demo and tests; never part of the production profile.
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
