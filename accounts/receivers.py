"""Signal receivers of the accounts app (connected in ``AccountsConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from accounts.middleware import LANGUAGE_SESSION_KEY
from accounts.services import user_language


def language_remember_at_sign_in(sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **_: Any) -> None:
    """``user_logged_in``: the user's chosen language into the new session (one query, once)."""
    if request is None or not hasattr(request, "session"):
        return
    language = user_language(user=user)
    if language:
        request.session[LANGUAGE_SESSION_KEY] = language
    else:
        request.session.pop(LANGUAGE_SESSION_KEY, None)
