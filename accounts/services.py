from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404, HttpRequest

from accounts.middleware import SESSION_KEY
from accounts.models import Account
from accounts.selectors import accounts_for_user


def account_switch(*, request: HttpRequest, user: AbstractBaseUser, account_id: int) -> Account:
    """Make ``account_id`` the current account; 404 unless the user is a member."""
    account = accounts_for_user(user=user).filter(pk=account_id).first()
    if account is None:
        raise Http404("No such account.")
    request.session[SESSION_KEY] = account.pk
    return account
