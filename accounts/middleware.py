"""Sets ``request.account`` (the account the signed-in user works in) and ``request.account_role``;
ends idle sessions (``SessionIdleMiddleware``); keeps the session out of session-free views
(``session_free``: the public tracking page) and their shared-cache answers safe
(``SessionFreeCacheMiddleware``).

The choice is kept in the session (the account switcher changes it); a user who lost
access to that account falls back to their first account. Users with no membership get
``None`` and the order center tells them so.
"""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control

from accounts.models import Account
from accounts.selectors import accounts_for_user, role_in

SESSION_KEY = "current_account_id"

ViewT = TypeVar("ViewT", bound=Callable[..., Any])
SESSION_FREE_ATTR = "session_free"


def session_free(view: ViewT) -> ViewT:
    """Mark a view that must not read or touch the session (an answer shared caches may keep):
    the account and idle middlewares leave its requests alone, and ``SessionFreeCacheMiddleware``
    makes its answer private if a cookie or a signed-in visitor got into it anyway."""
    setattr(view, SESSION_FREE_ATTR, True)
    return view


def is_session_free(request: HttpRequest) -> bool:
    """Whether the request's URL resolves to a ``session_free`` view (resolved once per request)."""
    cached = getattr(request, "_session_free", None)
    if cached is None:
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            cached = False
        else:
            cached = bool(getattr(match.func, SESSION_FREE_ATTR, False))
        request._session_free = cached  # type: ignore[attr-defined]
    return cached


class CurrentAccountMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_session_free(request):  # reading the user would read the session (and add Vary: Cookie)
            request.account = None  # type: ignore[attr-defined]
            request.account_role = None  # type: ignore[attr-defined]
            return self.get_response(request)
        account = current_account(request)
        request.account = account  # type: ignore[attr-defined]
        # The user's role in that account (owner or staff), read once per request.
        request.account_role = (  # type: ignore[attr-defined]
            role_in(user=request.user, account=account) if account is not None else None
        )
        return self.get_response(request)


def current_account(request: HttpRequest) -> Account | None:
    if not request.user.is_authenticated:
        return None
    accounts = accounts_for_user(user=request.user)
    wanted = request.session.get(SESSION_KEY)
    account = accounts.filter(pk=wanted).first() if wanted else None
    if account is None:
        account = accounts.first()
        if account is not None:
            request.session[SESSION_KEY] = account.pk
    return account


IDLE_TOUCHED_KEY = "idle_touched_at"


# Sent by the elements that poll (hx-headers on the order center's tabs and the stores table).
POLL_HEADER = "X-Zopi-Poll"


class SessionIdleMiddleware:
    """Ends a session after ``SESSION_IDLE_MINUTES`` without a request (``SESSION_COOKIE_AGE``).

    A signed-in request re-saves the session, which moves its expiry (row and cookie) to
    now + the idle time, but at most once per ``SESSION_IDLE_REFRESH``: saving on every request
    (``SESSION_SAVE_EVERY_REQUEST``) would write the session row on each htmx poll.
    A page's own polling (``POLL_HEADER``, sent by the elements that refresh themselves) is not
    activity: an unattended tab left open must still reach the idle time.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # After the view, so the sign-in request itself stamps the new session (saved anyway).
        if is_session_free(request):  # a shared page: no session written, no cookie sent
            return response
        if request.user.is_authenticated and not request.headers.get(POLL_HEADER):
            now = int(time.time())
            touched = request.session.get(IDLE_TOUCHED_KEY)
            refresh = settings.SESSION_IDLE_REFRESH.total_seconds()
            if not isinstance(touched, int) or now - touched >= refresh:
                request.session[IDLE_TOUCHED_KEY] = now  # marks the session modified: saved with a new expiry
        return response


class SessionFreeCacheMiddleware:
    """The safety net of ``session_free`` views, placed before ``SessionMiddleware`` (it sees the
    answer after the session's cookie and Vary were added): an answer that sets a cookie, or that a
    signed-in visitor got, is never kept by a shared cache (``private, no-store``); and it does not
    vary on ``Cookie`` (the view does not read them), so shared caches can keep the others."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_session_free(request):
            return response
        user = getattr(request, "user", None)
        if response.cookies or (user is not None and user.is_authenticated):
            del response["Cache-Control"]
            patch_cache_control(response, private=True, no_store=True)
        if response.has_header("Vary"):
            kept = [v.strip() for v in response["Vary"].split(",") if v.strip() and v.strip().lower() != "cookie"]
            if kept:
                response["Vary"] = ", ".join(kept)
            else:
                del response["Vary"]
        return response


# The signed-in user's language, as chosen in the top bar (accounts.views.language_choose), kept in
# the session at sign-in and on each change: no query per request.
LANGUAGE_SESSION_KEY = "user_language"


def _time_zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # a zone this machine does not know
        return None


class LocaleChoiceMiddleware:
    """After ``CurrentAccountMiddleware``: the signed-in user's language (else LocaleMiddleware's
    choice from the cookie or the browser stands) and the account's time zone for the request.
    Session-free views (the public tracking page) keep the visitor's browser language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_session_free(request):
            return self.get_response(request)
        if request.user.is_authenticated:
            language = request.session.get(LANGUAGE_SESSION_KEY)
            if isinstance(language, str) and language in dict(settings.LANGUAGES):
                translation.activate(language)
                request.LANGUAGE_CODE = translation.get_language()
        account = getattr(request, "account", None)
        zone = _time_zone(account.time_zone) if account is not None else None
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
