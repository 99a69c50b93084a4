"""Sets ``request.account`` (the account the signed-in user works in) and ``request.account_role``.

The choice is kept in the session (the account switcher changes it); a user who lost
access to that account falls back to their first account. Users with no membership get
``None`` and the order center tells them so.
"""

from __future__ import annotations

from collections.abc import Callable

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
