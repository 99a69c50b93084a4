"""Who may open a merchant view: signed in, working in an account, and (owner-only views) an owner."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.enums import Role


def account_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in and working in an account; a user without any account is told so (403)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "account", None) is None:
            return render(request, "accounts/no_account.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def owner_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """An owner of the current account (architecture rule 9): staff get 403 and nothing changes.

    The view is marked ``owner_only``: the test that crawls every owner-only URL with a staff
    login finds them through the URL resolver, so a new owner-only view is covered the day it lands.
    """

    @account_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "account_role", None) != Role.OWNER:
            return render(request, "accounts/owner_only.html", status=403)
        return view(request, *args, **kwargs)

    wrapper.owner_only = True  # type: ignore[attr-defined]
    return wrapper
