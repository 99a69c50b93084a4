from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from orders.enums import SubStatus, TrackingStatus
from orders.models import Order
from tracking.enums import EventSource, RegistrationState, TrackingMessageState


class Shipment(models.Model):
    """A parcel with a tracking number, followed with the tracking provider.

    One row per (account, carrier, tracking number): several parcels per order are normal. ``order``
    is the order the supplier shipped it for; the same number given for another order of the
    account is a ``ShipmentOrder`` row and both are flagged (``shared_number``), shown on both.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    # By name, not import: tracking and suppliers only meet through orders and tasks.
    supplier_order = models.ForeignKey(
        "suppliers.SupplierOrder", on_delete=models.SET_NULL, null=True, blank=True, related_name="shipments"
    )
    tracking_number = models.CharField(_("tracking number"), max_length=64)
    # As the supplier named it ("AliExpress Standard Shipping", "YunExpress"); the channel's name
    # for it is decided per push (``channels_sync.FulfillmentPush.carrier_sent``).
    carrier = models.CharField(_("carrier"), max_length=100, blank=True)
    # As the tracking provider identified it (17TRACK's carrier code and name).
    carrier_code = models.CharField(_("provider carrier code"), max_length=32, blank=True, default="")
    carrier_name = models.CharField(_("carrier (tracking provider)"), max_length=100, blank=True, default="")
    # The order lines in the parcel: [{"order_line_id": int, "quantity": int}]; empty: every line.
    lines = models.JSONField(_("lines"), default=list, blank=True)
    tracking_status = models.CharField(
        _("tracking status"), max_length=24, choices=TrackingStatus.choices, default=TrackingStatus.NOT_FOUND
    )
    # The provider's own words, as received (shown beside ours; an unknown one is kept, not dropped).
    provider_status = models.CharField(_("provider status"), max_length=64, blank=True, default="")
    provider_sub_status = models.CharField(_("provider sub-status"), max_length=64, blank=True, default="")
    # Our sub-status of this parcel (``orders.derivation.shipment_stage``), kept for filters and admin.
    sub_status = models.CharField(
        _("sub-status"), max_length=24, choices=SubStatus.choices, blank=True, default=SubStatus.AWAITING_SHIPMENT
    )
    last_event_at = models.DateTimeField(_("last tracking event"), null=True, blank=True)
    last_event_description = models.CharField(_("latest event"), max_length=500, blank=True, default="")
    last_event_location = models.CharField(_("latest event location"), max_length=200, blank=True, default="")
    registration_state = models.CharField(
        _("registration"), max_length=16, choices=RegistrationState.choices, default=RegistrationState.PENDING
    )
    registration_error = models.CharField(_("registration error"), max_length=255, blank=True, default="")
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    # What we could not read of the provider's latest answer for it (events left out, or the whole
    # item); "" when it read well. Shown to support so a parcel never freezes invisibly.
    read_error = models.CharField(_("tracking data problem"), max_length=255, blank=True, default="")
    # Polling: due at ``next_poll_at`` (None: not polled: not registered yet, or terminal); a poller
    # holds the row until ``poll_claimed_until``; failures back off.
    next_poll_at = models.DateTimeField(_("next poll"), null=True, blank=True)
    poll_claimed_until = models.DateTimeField(_("poll held until"), null=True, blank=True)
    poll_failures = models.PositiveSmallIntegerField(_("poll failures"), default=0)
    last_polled_at = models.DateTimeField(_("last polled"), null=True, blank=True)
    last_pushed_at = models.DateTimeField(_("last provider push"), null=True, blank=True)
    # The supplier's own tracking was last asked for at (tracking/services/fallback.py): while the
    # provider has nothing, at most once per TRACKING_FALLBACK_EVERY_HOURS.
    fallback_asked_at = models.DateTimeField(_("supplier tracking asked"), null=True, blank=True)
    # The number was also given for another order of the account (see ``ShipmentOrder``).
    shared_number = models.BooleanField(_("number in several orders"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(
                fields=("account", "carrier", "tracking_number"), name="shipment_account_carrier_number_uniq"
            )
        ]
        indexes = [
            models.Index(fields=("tracking_number",), name="shipment_tracking_number_idx"),
            models.Index(
                fields=("next_poll_at",), name="shipment_poll_due_idx", condition=models.Q(next_poll_at__isnull=False)
            ),
            models.Index(
                fields=("id",),
                name="shipment_unregistered_idx",
                condition=models.Q(registration_state=RegistrationState.PENDING),
            ),
        ]

    def __str__(self) -> str:
        return self.tracking_number


class ShipmentOrder(models.Model):
    """Another order of the account the supplier gave the same tracking number (a combined parcel,
    or a number reused by mistake or fraud): the parcel is shown on it too, and flagged."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="other_orders")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shared_shipments")
    supplier_order = models.ForeignKey(
        "suppliers.SupplierOrder", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    lines = models.JSONField(_("lines"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order sharing a tracking number")
        verbose_name_plural = _("orders sharing a tracking number")
        constraints = [models.UniqueConstraint(fields=("shipment", "order"), name="shipmentorder_uniq")]

    def __str__(self) -> str:
        return f"{self.shipment} · {self.order_id}"


class TrackingEvent(models.Model):
    """One carrier scan. Upserted on (shipment, time, description hash)."""

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    occurred_at = models.DateTimeField(_("at"))
    description = models.CharField(_("description"), max_length=500)
    description_hash = models.CharField(max_length=64)
    location = models.CharField(_("location"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=24, choices=TrackingStatus.choices)
    # As the provider sent it (17TRACK's sub-status of the event), for display.
    provider_sub_status = models.CharField(_("provider sub-status"), max_length=64, blank=True, default="")
    # The supplier's scans (the fallback) fill the timeline while the provider has nothing; they
    # never set the shipment's status.
    source = models.CharField(_("source"), max_length=16, choices=EventSource.choices, default=EventSource.PROVIDER)

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


class TrackingMessage(models.Model):
    """A push from the tracking provider (17TRACK's webhook), stored first, processed by a task."""

    provider = models.CharField(max_length=16, default="track17")
    delivery_key = models.CharField(max_length=128, unique=True)  # sha256 of the body: a repeat is one row
    body = models.BinaryField()
    headers = models.JSONField(default=dict)  # the signature is checked, not kept
    state = models.CharField(max_length=16, choices=TrackingMessageState.choices, default=TrackingMessageState.PENDING)
    error = models.CharField(max_length=500, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # A worker processing it holds it until then (a lease); the requeue skips a held message.
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # processing tries (a transient error retries)

    class Meta:
        indexes = [models.Index(fields=("state", "received_at"), name="trackingmessage_pending_idx")]

    def __str__(self) -> str:
        return f"{self.provider} {self.delivery_key[:12]}"


class TrackingPage(models.Model):
    """The public tracking page of one order (``/t/<token>/``): no login, the parcels' timelines,
    nothing personal beyond what a carrier page shows. The token is unguessable (256 bits)."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="tracking_page")
    token = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"tracking page of order {self.order_id}"
