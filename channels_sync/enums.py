"""Vocabularies of channel sync."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class StoreStatus(models.TextChoices):
    CONNECTING = "connecting", _("Connecting")  # its first connect is being checked with the channel
    NOT_CONNECTED = "not_connected", _("Not connected")  # its first connect failed (connect_error says why)
    ACTIVE = "active", _("Active")  # webhooks processed, pulled on schedule
    PAUSED = "paused", _("Paused")  # the merchant stopped syncing; a resume pulls what was missed
    ERROR = "error", _("Error")  # the last pull failed (last_error says why); still retried
    DISCONNECTED = "disconnected", _("Disconnected")  # credentials removed; its orders stay


class DeliveryState(models.TextChoices):
    RECEIVED = "received", _("Received")  # stored, waiting for the worker
    PROCESSED = "processed", _("Processed")  # the order was upserted
    IGNORED = "ignored", _("Ignored")  # nothing to do (a topic we do not use, a paused store)
    FAILED = "failed", _("Failed")  # could not be processed: error says why; support can replay
