from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SupplierProvider(models.TextChoices):
    ALIEXPRESS = "aliexpress", _("AliExpress")  # Dropshipping API, out_order_id idempotency
    CJ = "cj", _("CJdropshipping")  # API 2.0, orderNumber idempotency
    TEMU = "temu", _("Temu (simulated)")  # no public buyer API: sandbox only


class SourceAccountStatus(models.TextChoices):
    CONNECTED = "connected", _("Connected")
    RECONNECT = "reconnect", _("Needs reconnecting")  # the supplier refused the refresh token or key
    REPLACED = "replaced", _("Replaced")  # another account of this supplier took its place
    DISCONNECTED = "disconnected", _("Disconnected")  # the merchant disconnected it


class PaymentMode(models.TextChoices):
    WITH_ORDER = "with_order", _("Pay right away")  # AliExpress try_to_pay, CJ payType 2
    LATER = "later", _("Pay later (from the Payment tab)")


class CanceledBy(models.TextChoices):
    SUPPLIER = "supplier", _("the supplier")
    MERCHANT = "merchant", _("you")
    CHANNEL = "channel", _("the channel's cancellation")


class PlacementOutcome(models.TextChoices):
    PAID = "paid", _("Placed and paid")
    PLACED = "placed", _("Placed, not paid")
    PAYMENT_FAILED = "payment_failed", _("Placed, payment failed")
    BLOCKED = "blocked", _("Not sent: a check failed")
    REFUSED = "refused", _("Refused by the supplier")
    SKIPPED = "skipped", _("Nothing to do")  # already placed, canceled, not in New
    UNKNOWN = "unknown", _("Outcome being checked with the supplier")
    # Not sent yet: the supplier's call rate limit is used up for longer than a call may wait;
    # the task comes back when the next slot is free (never written as a batch result).
    DEFERRED = "deferred", _("Waiting for the supplier's call rate limit")


class SupplierMessageState(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSED = "processed", _("Processed")
    IGNORED = "ignored", _("Ignored")
    FAILED = "failed", _("Failed")
