from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class RegistrationState(models.TextChoices):
    """Where a shipment stands with the tracking provider."""

    PENDING = "pending", _("Not registered yet")  # beat registers it (batches of ≤ 40)
    REGISTERED = "registered", _("Registered")  # the provider follows it: polled, pushed
    REJECTED = "rejected", _("Refused by the tracking provider")  # the reason is on the shipment
    STOPPED = "stopped", _("Tracking stopped")  # a terminal state: the provider no longer follows it


class TrackingMessageState(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSED = "processed", _("Processed")
    IGNORED = "ignored", _("Ignored")  # a number we do not follow; the reason is kept
    FAILED = "failed", _("Failed")  # a bug: kept for support, not retried for ever


class StalledReason(models.TextChoices):
    """An order whose parcel does not move (per account: ``Account.stalled_*_days``)."""

    NONE = "", _("—")
    NO_TRACKING = "no_tracking", _("No tracking number since payment")
    NO_EVENT = "no_event", _("No tracking update in transit")


class EventSource(models.TextChoices):
    """Who told us of a tracking event: the tracking provider, or the supplier's own tracking
    (the fallback while the provider has nothing: docs/tracking.md, "Supplier tracking fallback")."""

    PROVIDER = "provider", _("Tracking provider")
    SUPPLIER = "supplier", _("Supplier")
