from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.selectors import accounts_for_user


def current_account(request: HttpRequest) -> dict[str, Any]:
    return {"current_account": getattr(request, "account", None)}


def user_accounts(request: HttpRequest) -> dict[str, Any]:
    """The account switcher's accounts, read only when a template asks for them."""
    return {"user_accounts": SimpleLazyObject(lambda: list(accounts_for_user(user=request.user)))}
