"""Writes on accounts: switching account, and the members of an account (owners and staff).

Member changes take the account's row lock first (``select_for_update`` on the Account), so
two owners changing roles or removing each other at once are serialized, and the rule "an
account keeps at least one owner" is checked against the committed state.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.enums import Role
from accounts.models import Account, Membership, UserPreference
from accounts.selectors import accounts_for_user


class AccountNotFound(Exception):
    """The user is not a member of that account (or it does not exist): the view answers 404."""


class MemberNotFound(Exception):
    """No such membership in this account: the view answers 404."""


class LastOwner(Exception):
    """The change would leave the account without an owner: refused."""


class UsernameTaken(Exception):
    """A user with that username exists already (in this account or another): choose another."""


class PasswordRejected(Exception):
    """The password fails the password validators; ``messages`` says why."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def account_for_switch(*, user: AbstractBaseUser, account_id: int) -> Account:
    """The account ``user`` may switch to; raises ``AccountNotFound`` unless a member."""
    account = accounts_for_user(user=user).filter(pk=account_id).first()
    if account is None:
        raise AccountNotFound(account_id)
    return account


def _lock_account(account_id: int) -> Account:
    """The account row, locked until the transaction ends: every member change of one account queues here."""
    return Account.objects.select_for_update().get(pk=account_id)


def _locked_membership(*, account: Account, membership_id: int) -> Membership:
    membership = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(account=account, pk=membership_id)
        .first()
    )
    if membership is None:
        raise MemberNotFound(membership_id)
    return membership


def _other_owners(*, account: Account, membership: Membership) -> int:
    return Membership.objects.filter(account=account, role=Role.OWNER).exclude(pk=membership.pk).count()


def member_add(*, account: Account, username: str, email: str, password: str, role: Role) -> Membership:
    """A new user, with the password the owner chose, as a member of ``account``.

    Only new users are created: attaching an existing username would let an owner pull someone
    else's login into their account. A taken username is refused with ``UsernameTaken``, which
    says no more than that the name is in use (the same as any sign-up form).
    """
    user_model = get_user_model()
    candidate = user_model(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as error:
        raise PasswordRejected([str(message) for message in error.messages]) from None
    with transaction.atomic():
        locked = _lock_account(account.pk)
        if user_model.objects.filter(username__iexact=username).exists():
            raise UsernameTaken(username)
        try:
            with transaction.atomic():
                user = user_model.objects.create_user(username=username, email=email, password=password)
        except IntegrityError:  # created by someone else between the check and the insert
            raise UsernameTaken(username) from None
        return Membership.objects.create(user=user, account=locked, role=role)


def member_set_role(*, account: Account, membership_id: int, role: Role) -> Membership:
    """Make a member an owner or staff; the last owner cannot be made staff (``LastOwner``)."""
    with transaction.atomic():
        locked = _lock_account(account.pk)
        membership = _locked_membership(account=locked, membership_id=membership_id)
        if membership.role == role:
            return membership
        if membership.role == Role.OWNER and not _other_owners(account=locked, membership=membership):
            raise LastOwner(membership_id)
        membership.role = role
        membership.save(update_fields=["role"])
        return membership


def member_remove(*, account: Account, membership_id: int) -> Membership:
    """Take a member out of the account (the user keeps its login; its other accounts are untouched).

    The last owner cannot be removed (``LastOwner``). Returns the removed membership (unsaved)."""
    with transaction.atomic():
        locked = _lock_account(account.pk)
        membership = _locked_membership(account=locked, membership_id=membership_id)
        if membership.role == Role.OWNER and not _other_owners(account=locked, membership=membership):
            raise LastOwner(membership_id)
        membership.delete()
        return membership


# The user's language and the account's time zone (shown by accounts.middleware.LocaleChoiceMiddleware)


def user_language_set(*, user: AbstractBaseUser, language: str) -> UserPreference:
    """Remember ``language`` (one of ``settings.LANGUAGES``, checked by the form) for ``user``."""
    preference, _created = UserPreference.objects.update_or_create(user=user, defaults={"language": language})
    return preference


def user_language(*, user: AbstractBaseUser) -> str:
    """The user's chosen language, "" when they never chose (the browser's then)."""
    return UserPreference.objects.filter(user_id=user.pk).values_list("language", flat=True).first() or ""


def account_set_time_zone(*, account: Account, time_zone: str) -> Account:
    """The zone the account's dates and times are shown in (an IANA name, checked by the form)."""
    Account.objects.filter(pk=account.pk).update(time_zone=time_zone)
    account.time_zone = time_zone
    return account
