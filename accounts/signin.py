"""Sign-in throttling (django-axes) hooks: the client address failures are counted against, and
the page a locked-out sign-in gets."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str:
    """``REMOTE_ADDR``, or behind ``SIGNIN_TRUSTED_PROXIES`` proxies the address the outermost of
    them saw (counted from the right of ``X-Forwarded-For``: entries left of it are the client's
    to write, so they are never trusted)."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    trusted = settings.SIGNIN_TRUSTED_PROXIES
    if trusted <= 0:
        return remote
    forwarded = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()]
    if len(forwarded) < trusted:
        return remote
    return forwarded[-trusted]


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """What a locked-out sign-in gets (``AXES_LOCKOUT_CALLABLE``), on our login page and the admin's:
    429 and a page that says what happened and how long to wait."""
    cooloff = settings.AXES_COOLOFF_TIME
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": max(1, int(cooloff.total_seconds() // 60)),
    }
    return render(request, "accounts/locked_out.html", context, status=429)
