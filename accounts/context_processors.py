from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.enums import Role
from accounts.selectors import accounts_for_user


def current_account(request: HttpRequest) -> dict[str, Any]:
    return {
        "current_account": getattr(request, "account", None),
        # Templates offer owner-only actions (stores, members, …) to owners only.
        "is_owner": getattr(request, "account_role", None) == Role.OWNER,
    }


def user_accounts(request: HttpRequest) -> dict[str, Any]:
    """The account switcher's accounts, read only when a template asks for them."""
    return {"user_accounts": SimpleLazyObject(lambda: list(accounts_for_user(user=request.user)))}
