from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from accounts.models import Account
from accounts.selectors import accounts_for_user


class AccountNotFound(Exception):
    """The user is not a member of that account (or it does not exist): the view answers 404."""


def account_for_switch(*, user: AbstractBaseUser, account_id: int) -> Account:
    """The account ``user`` may switch to; raises ``AccountNotFound`` unless a member."""
    account = accounts_for_user(user=user).filter(pk=account_id).first()
    if account is None:
        raise AccountNotFound(account_id)
    return account
