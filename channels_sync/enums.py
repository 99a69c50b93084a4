"""Vocabularies of channel sync."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class StoreStatus(models.TextChoices):
    CONNECTING = "connecting", _("Connecting")  # its first connect is being checked with the channel
    NOT_CONNECTED = "not_connected", _("Not connected")  # its first connect failed (connect_error says why)
    ACTIVE = "active", _("Active")  # webhooks processed, pulled on schedule
    PAUSED = "paused", _("Paused")  # the merchant stopped syncing; a resume pulls what was missed
    ERROR = "error", _("Error")  # the last pull failed (last_error says why); still retried
    DISCONNECTED = "disconnected", _("Disconnected")  # credentials removed; its orders stay
    # The channel refused its refresh token (revoked, expired) or the app's access: nothing calls
    # the shop until the merchant connects again through the approval page ("Reconnect").
    RECONNECT = "reconnect", _("Needs reconnecting")


class AuthKind(models.TextChoices):
    APP = "app", _("Connected as an app")  # through the channel's approval page (OAuth): the operator's app
    TOKEN = "token", _("Access token (advanced)")  # keys or a token the merchant pasted (a custom app)


class AuthorizationState(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")  # sent to the channel's approval page
    APPROVED = "approved", pgettext_lazy("channel approval", "Approved")  # the channel gave us the grant
    CHOOSING = "choosing", _("Choosing shops")  # TikTok Shop: approved, the merchant picks the shops
    CANCELED = "canceled", pgettext_lazy("channel approval", "Declined")  # the merchant declined on the approval page
    FAILED = "failed", _("Failed")  # the grant could not be used (error says why)


class DeliveryState(models.TextChoices):
    RECEIVED = "received", _("Received")  # stored, waiting for the worker
    PROCESSED = "processed", _("Processed")  # the order was upserted
    IGNORED = "ignored", _("Ignored")  # nothing to do (a topic we do not use, a paused store)
    FAILED = "failed", _("Failed")  # could not be processed: error says why; support can replay


class ComplianceTopic(models.TextChoices):
    """Shopify's mandatory compliance topics, sent to the app's one compliance address."""

    DATA_REQUEST = "customers/data_request", _("Customer data request")  # what do we hold on this customer?
    CUSTOMER_REDACT = "customers/redact", _("Customer redaction")  # erase this customer's personal data
    SHOP_REDACT = "shop/redact", _("Shop redaction")  # 48 h after uninstall: erase the shop's data


class ComplianceState(models.TextChoices):
    RECEIVED = "received", _("Received")  # stored with its body, waiting for the worker
    PROCESSED = "processed", _("Processed")  # done: the outcome says what was found and erased; body dropped
    FAILED = "failed", _("Failed")  # the body could not be used (error says why); body dropped


class PushState(models.TextChoices):
    """A fulfillment push-back (``FulfillmentPush``): one parcel told to one channel order."""

    PENDING = "pending", _("Waiting to be sent")
    PUSHING = "pushing", _("Sending")  # a worker holds it until ``claimed_until``
    RETRYING = "retrying", _("Failed, retrying")  # a retryable failure: sent again at ``next_attempt_at``
    PUSHED = "pushed", _("Fulfilled in the channel")
    ALREADY_FULFILLED = "already_fulfilled", _("Already fulfilled in the channel")  # by hand: recorded, not sent
    FAILED = "failed", _("Push failed")  # refused, or retries used up: shown with the channel's error and Retry
