from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from orders.enums import Channel


class Store(models.Model):
    """A connected sales-channel store. Credentials, cursors and health come with channel sync."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="stores")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=255, help_text=_("Shop domain, site URL host or TikTok shop id."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ("name", "id")
        constraints = [models.UniqueConstraint(fields=("account", "name"), name="store_account_name_uniq")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_channel_display()})"
