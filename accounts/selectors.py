from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from accounts.models import Account, Membership


def accounts_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Account]:
    """The accounts a user may work in, by name."""
    if not user.is_authenticated:
        return Account.objects.none()
    return Account.objects.filter(memberships__user_id=user.pk).order_by("name")


def role_in(*, user: AbstractBaseUser | AnonymousUser, account: Account) -> str | None:
    """The user's role in ``account`` (``Role`` value), or None when not a member."""
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user_id=user.pk, account=account).values_list("role", flat=True).first()


def members_of(*, account: Account) -> QuerySet[Membership]:
    """The account's members with their users: owners first, then by username."""
    return (
        Membership.objects.filter(account=account)
        .select_related("user")
        .order_by("-role", "user__username")  # "staff" > "owner": descending puts owners first
    )
