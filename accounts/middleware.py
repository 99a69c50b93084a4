"""Sets ``request.account``: the account the signed-in user works in.

The choice is kept in the session (the account switcher changes it); a user who lost
access to that account falls back to their first account. Users with no membership get
``None`` and the order center tells them so.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.models import Account
from accounts.selectors import accounts_for_user

SESSION_KEY = "current_account_id"


class CurrentAccountMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.account = current_account(request)  # type: ignore[attr-defined]
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
