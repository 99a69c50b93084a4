from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from orders.enums import TrackingStatus
from orders.models import Order


class Shipment(models.Model):
    """A parcel with a tracking number. Polling and push-back come with the tracking issue."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    # By name, not import: tracking and suppliers only meet through orders.
    supplier_order = models.ForeignKey(
        "suppliers.SupplierOrder", on_delete=models.SET_NULL, null=True, blank=True, related_name="shipments"
    )
    tracking_number = models.CharField(_("tracking number"), max_length=64)
    carrier = models.CharField(_("carrier"), max_length=100, blank=True)
    tracking_status = models.CharField(
        _("tracking status"), max_length=24, choices=TrackingStatus.choices, default=TrackingStatus.NOT_FOUND
    )
    last_event_at = models.DateTimeField(_("last tracking event"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ("id",)
        indexes = [models.Index(fields=("tracking_number",), name="shipment_tracking_number_idx")]

    def __str__(self) -> str:
        return self.tracking_number


class TrackingEvent(models.Model):
    """One carrier scan. Upserted on (shipment, time, description hash)."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    occurred_at = models.DateTimeField(_("at"))
    description = models.CharField(_("description"), max_length=500)
    description_hash = models.CharField(max_length=64)
    location = models.CharField(_("location"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=24, choices=TrackingStatus.choices)

    class Meta:
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        ordering = ("occurred_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("shipment", "occurred_at", "description_hash"), name="trackingevent_dedupe_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.description}"
