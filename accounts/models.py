from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.enums import Role


class Account(models.Model):
    """The tenant: one merchant business. Every merchant-facing row belongs to one."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    expire_after_days = models.PositiveSmallIntegerField(_("expire parcels after (days without an update)"), default=30)
    # The "stalled" warning (tracking issue): no tracking number this long after payment, or no
    # tracking event this long in transit.
    stalled_no_tracking_days = models.PositiveSmallIntegerField(
        _("stalled: no tracking number after payment (days)"), default=7
    )
    stalled_no_event_days = models.PositiveSmallIntegerField(
        _("stalled: no tracking update in transit (days)"), default=5
    )
    # Fulfillment push-back: whether the channel e-mails the customer (Shopify's notifyCustomer).
    notify_customer_on_fulfillment = models.BooleanField(_("channel e-mails the customer when shipped"), default=True)
    # The zone the order center shows this account's dates and times in (an IANA name).
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's access to one account, with a role."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=("user", "account"), name="membership_user_account_uniq")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.account} ({self.role})"


class UserPreference(models.Model):
    """What a user chose for themselves, whatever the account: the order center's language."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="preference"
    )
    language = models.CharField(_("language"), max_length=16, choices=settings.LANGUAGES, blank=True, default="")
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return f"{self.user} ({self.language or '-'})"
