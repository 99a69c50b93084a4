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
