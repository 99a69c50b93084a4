"""Sets ``request.account`` (the account the signed-in user works in) and ``request.account_role``;
ends idle sessions (``SessionIdleMiddleware``).

The choice is kept in the session (the account switcher changes it); a user who lost
access to that account falls back to their first account. Users with no membership get
``None`` and the order center tells them so.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from accounts.models import Account
from accounts.selectors import accounts_for_user, role_in

SESSION_KEY = "current_account_id"


class CurrentAccountMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
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
        if request.user.is_authenticated and not request.headers.get(POLL_HEADER):
            now = int(time.time())
            touched = request.session.get(IDLE_TOUCHED_KEY)
            refresh = settings.SESSION_IDLE_REFRESH.total_seconds()
            if not isinstance(touched, int) or now - touched >= refresh:
                request.session[IDLE_TOUCHED_KEY] = now  # marks the session modified: saved with a new expiry
        return response
