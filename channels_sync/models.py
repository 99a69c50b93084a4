from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from channels_sync.enums import (
    AuthKind,
    AuthorizationState,
    ComplianceState,
    ComplianceTopic,
    DeliveryState,
    PushState,
    StoreStatus,
)
from integrations.crypto import decrypt_json, encrypt_json
from orders.enums import Channel

# A pull asked for and not taken by a worker within this long is no longer shown as coming.
PULL_QUEUED_FOR = timedelta(minutes=2)
# A connect task not done within this long was lost (its worker, the broker): the page stops
# saying "Connecting…", and connecting again starts over.
CONNECT_SHOWN_FOR = timedelta(minutes=5)


class Store(models.Model):
    """A connected sales-channel store: where to reach it, its secrets (encrypted) and its sync health.

    Secrets are stored as Fernet tokens (``integrations.crypto``) and read through
    ``credentials`` / ``webhook_secret``; nothing renders them back, the admin included.
    """

    # Encrypted fields: ``manage.py rotate_secrets`` re-encrypts them with the newest key.
    SECRET_FIELDS = ("credentials_token", "webhook_secret_token", "connect_pending_token")

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="stores")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=255, help_text=_("Shop domain, site URL host or TikTok shop id."))
    base_url = models.URLField(_("API base URL"), max_length=500, blank=True)
    # The shop as the channel's webhooks name it, asked of the channel at connect (Shopify: its
    # myshopify domain; TikTok Shop: the shop id; WooCommerce: the site address without scheme). A
    # signed webhook naming another shop is refused; empty (connected before it was kept): unchecked.
    shop_id = models.CharField(_("shop id at the channel"), max_length=255, blank=True, default="", editable=False)
    credentials_token = models.TextField(_("credentials (encrypted)"), blank=True, default="", editable=False)
    webhook_secret_token = models.TextField(_("webhook secret (encrypted)"), blank=True, default="", editable=False)
    # In webhook addresses: unguessable, and not the row id.
    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(_("status"), max_length=16, choices=StoreStatus.choices, default=StoreStatus.ACTIVE)
    last_error = models.TextField(_("last error"), blank=True, default="")
    last_pull_at = models.DateTimeField(_("last pull"), null=True, blank=True)
    last_webhook_at = models.DateTimeField(_("last webhook"), null=True, blank=True)
    # Orders updated at or after this (minus an overlap) are asked for by the next pull.
    pull_cursor = models.DateTimeField(_("pull cursor"), null=True, blank=True)
    # A pull holds the store until then (claimed with one conditional UPDATE): one pull per store.
    sync_lock_until = models.DateTimeField(_("pull locked until"), null=True, blank=True)
    # Progress for the stores page: set when a pull is asked for or starts, cleared when it ends;
    # the orders the running pull has stored so far (moved once per page).
    pull_started_at = models.DateTimeField(_("pull started at"), null=True, blank=True)
    pull_orders = models.PositiveIntegerField(_("orders pulled so far"), default=0)
    # Failed pulls in a row, and when beat may try again: a store whose token was revoked is not
    # asked every minute (interval × 2^(failures − 1), at most SYNC_PULL_BACKOFF_MAX).
    pull_failures = models.PositiveIntegerField(_("failed pulls in a row"), default=0)
    next_pull_at = models.DateTimeField(_("next pull not before"), null=True, blank=True)
    # A pull sent to the queue and not taken by a worker yet: beat does not queue another.
    pull_queued_at = models.DateTimeField(_("pull queued at"), null=True, blank=True)
    # A pull too long for one task saves where it is after every page and goes on in the next
    # run: the channel's token for the next page, the ``updated_since`` that token belongs to,
    # and the newest channel update stored so far (the cursor once the pull ends). No token: no
    # unfinished pull.
    pull_resume_page = models.TextField(_("pull resumes at"), blank=True, default="")
    pull_resume_since = models.DateTimeField(_("unfinished pull: orders updated since"), null=True, blank=True)
    pull_resume_newest = models.DateTimeField(_("unfinished pull: newest update stored"), null=True, blank=True)
    pull_runs = models.PositiveIntegerField(_("runs of the current pull"), default=0)
    # The first import asks for the orders created or changed since then (SYNC_IMPORT_WINDOW
    # before the connect); empty: all of them.
    import_since = models.DateTimeField(_("first import from"), null=True, blank=True)
    # A connect (or a credentials update) being checked by a task: the details to check, as a
    # Fernet token; when it started; why the last one failed.
    connect_pending_token = models.TextField(_("connect details (encrypted)"), blank=True, default="", editable=False)
    connect_started_at = models.DateTimeField(_("connect started at"), null=True, blank=True)
    connect_error = models.TextField(_("connect error"), blank=True, default="")
    # How the store is connected: as the operator's app (tokens from the approval page, refreshed
    # by us) or with keys the merchant pasted (advanced).
    auth_kind = models.CharField(_("connected as"), max_length=8, choices=AuthKind.choices, default=AuthKind.TOKEN)
    # Expiring tokens (in ``credentials``): when the access token and the refresh token expire
    # (empty: they do not); a worker refreshing holds the store's refresh until then (one
    # conditional UPDATE claims it), so two workers never spend one refresh token twice.
    token_expires_at = models.DateTimeField(_("access token expires"), null=True, blank=True)
    refresh_expires_at = models.DateTimeField(_("refresh token expires"), null=True, blank=True)
    token_refreshing_until = models.DateTimeField(_("token refresh held until"), null=True, blank=True)
    # Stores holding the same refresh token (TikTok Shop: the shops of one seller authorization)
    # refresh as one: the SHA-256 of that token, shared by them; the group's first store holds the
    # refresh claim and the new tokens are written to all of them. Empty: no refresh token.
    token_group = models.CharField(_("token group"), max_length=64, blank=True, default="", editable=False)
    # When its current credentials were applied: a channel's "access withdrawn" event stored before
    # then (an uninstall received before the merchant installed again) is about earlier access.
    connected_at = models.DateTimeField(_("connected at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ("name", "id")
        constraints = [models.UniqueConstraint(fields=("account", "name"), name="store_account_name_uniq")]
        indexes = [models.Index(fields=("status", "last_pull_at"), name="store_pull_due_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_channel_display()})"

    def pull_state(self, now: datetime) -> str:
        """ "running" (a pull holds the store), "queued" (asked for in the last minutes, no worker
        has taken it yet) or "" (no pull under way)."""
        if self.pull_started_at is not None and self.sync_lock_until is not None and self.sync_lock_until > now:
            return "running"
        if self.pull_queued_at is not None and now - self.pull_queued_at < PULL_QUEUED_FOR:
            return "queued"
        return ""

    def connect_state(self, now: datetime) -> str:
        """ "connecting" (a connect task is checking the details), "failed" (the last one did not
        work: ``connect_error``) or ""."""
        if self.connect_started_at is not None and now - self.connect_started_at < CONNECT_SHOWN_FOR:
            return "connecting"
        if self.connect_error or self.status == StoreStatus.NOT_CONNECTED:
            return "failed"
        return ""

    @property
    def importing(self) -> bool:
        """The first import has not finished (orders since ``import_since`` are coming)."""
        return self.pull_cursor is None and self.status in (StoreStatus.ACTIVE, StoreStatus.ERROR, StoreStatus.PAUSED)

    @property
    def connect_pending(self) -> dict[str, Any]:
        return dict(decrypt_json(self.connect_pending_token)) if self.connect_pending_token else {}

    @connect_pending.setter
    def connect_pending(self, value: dict[str, Any]) -> None:
        self.connect_pending_token = encrypt_json(dict(value)) if value else ""

    @property
    def credentials(self) -> dict[str, str]:
        return dict(decrypt_json(self.credentials_token)) if self.credentials_token else {}

    @credentials.setter
    def credentials(self, value: dict[str, str]) -> None:
        self.credentials_token = encrypt_json(dict(value)) if value else ""

    @property
    def webhook_secret(self) -> str:
        return str(decrypt_json(self.webhook_secret_token)) if self.webhook_secret_token else ""

    @webhook_secret.setter
    def webhook_secret(self, value: str) -> None:
        self.webhook_secret_token = encrypt_json(value) if value else ""

    def signing_credentials(self) -> dict[str, str]:
        """What a provider's ``verify_webhook`` gets: the credentials plus the webhook secret."""
        credentials = self.credentials
        if self.webhook_secret:
            credentials["webhook_secret"] = self.webhook_secret
        return credentials


class ChannelAuthorization(models.Model):
    """One approval asked of a channel: the merchant was sent to its approval page (Shopify's
    install page, WooCommerce's ``/wc-auth/v1/authorize``, TikTok Shop's seller authorization).

    The ``state`` sent along is kept only as its SHA-256 (``integrations.oauth.state_digest``),
    bound to the browser session that asked, valid for ``CHANNEL_AUTHORIZATION_TTL`` and spent by
    the first callback that presents it (one conditional UPDATE sets ``used_at``): a wrong,
    expired, foreign or replayed state is refused and nothing is stored.
    """

    SECRET_FIELDS = ("grant_token",)

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="channel_authorizations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    state_digest = models.CharField(_("state (SHA-256)"), max_length=64, unique=True, editable=False)
    # The session that asked: a callback in another browser is refused (login CSRF).
    session_digest = models.CharField(_("session (SHA-256)"), max_length=64, editable=False)
    state = models.CharField(
        _("state"), max_length=16, choices=AuthorizationState.choices, default=AuthorizationState.PENDING
    )
    store_name = models.CharField(_("store name"), max_length=200, blank=True, default="")
    # The shop it is for, as the merchant gave it (Shopify: <name>.myshopify.com; WooCommerce: the
    # site URL, checked by the host policy); empty for TikTok Shop (the channel says which shops).
    shop = models.CharField(_("shop"), max_length=500, blank=True, default="")
    # Reconnecting this store (its tokens replaced in place), or a new store.
    store = models.ForeignKey(Store, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    # What the channel gave before the store is made (WooCommerce's posted keys; TikTok Shop's
    # tokens and authorized shops while the merchant picks): a Fernet token.
    grant_token = models.TextField(_("grant (encrypted)"), blank=True, default="", editable=False)
    error = models.TextField(_("error"), blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("callback received"), null=True, blank=True)

    class Meta:
        verbose_name = _("channel authorization")
        verbose_name_plural = _("channel authorizations")
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=("account", "created_at"), name="channelauth_account_idx")]

    def __str__(self) -> str:
        return f"{self.channel} {self.shop or self.store_name} ({self.state})"

    @property
    def grant(self) -> dict[str, Any]:
        return dict(decrypt_json(self.grant_token)) if self.grant_token else {}

    @grant.setter
    def grant(self, value: dict[str, Any]) -> None:
        self.grant_token = encrypt_json(dict(value)) if value else ""


class WebhookDelivery(models.Model):
    """One webhook as received: stored before anything else, processed by a task, replayable."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="webhook_deliveries")
    dedupe_key = models.CharField(_("delivery key"), max_length=200)
    # Hex SHA-256 of the raw body, unique per store like the key: the key comes from an unsigned
    # header, so a captured body re-sent under fresh keys is still one delivery. NULL on rows
    # stored before it was kept (they are pruned with the retention).
    body_sha256 = models.CharField(_("body SHA-256"), max_length=64, null=True, blank=True, editable=False)
    topic = models.CharField(_("topic"), max_length=100, blank=True)
    headers = models.JSONField(_("headers"), default=dict)
    body = models.BinaryField(_("raw body"))
    state = models.CharField(_("state"), max_length=16, choices=DeliveryState.choices, default=DeliveryState.RECEIVED)
    error = models.TextField(_("reason"), blank=True, default="")
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    # When the task's retry is due (its countdown: a channel's Retry-After may be an hour); the
    # beat sweep leaves a delivery alone until then. Empty when no retry is scheduled.
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    order_ids = models.JSONField(_("orders"), default=list, blank=True)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ("-received_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=("store", "dedupe_key"), name="webhookdelivery_dedupe_uniq"),
            models.UniqueConstraint(fields=("store", "body_sha256"), name="webhookdelivery_body_uniq"),
        ]
        indexes = [models.Index(fields=("state", "received_at"), name="webhookdelivery_state_idx")]

    def __str__(self) -> str:
        return f"{self.store_id} {self.topic} {self.dedupe_key}"

    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")

    def header_map(self) -> dict[str, Any]:
        return dict(self.headers)


class ProviderAttempt(models.Model):
    """One outbound HTTP attempt to a channel (or, later, a supplier or tracker), for support.

    Written by ``channels_sync.services.attempts`` from the client's recorder, never inside a
    transaction holding locks; pruned after ``PROVIDER_ATTEMPT_RETENTION``. The path never has
    the query (it may carry signatures); ``error`` has the sanitised detail of a failed answer.
    """

    store = models.ForeignKey(
        Store, on_delete=models.SET_NULL, null=True, blank=True, related_name="provider_attempts"
    )  # empty while connecting (no store yet)
    provider = models.CharField(_("provider"), max_length=32)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=500)
    status = models.PositiveSmallIntegerField(_("status"), null=True, blank=True)  # empty: no answer
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    error = models.TextField(_("error"), blank=True, default="")
    created_at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("provider attempt")
        verbose_name_plural = _("provider attempts")
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("store", "created_at"), name="providerattempt_store_idx"),
            models.Index(fields=("provider", "status", "created_at"), name="providerattempt_filter_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.method} {self.path} → {self.status or '—'}"


class ComplianceRequest(models.Model):
    """One of Shopify's mandatory compliance webhooks (``customers/data_request``,
    ``customers/redact``, ``shop/redact``), stored before anything else and processed by a task.

    The raw body names a customer (e-mail, phone): it is kept only until the request is
    processed, then dropped; what stays for support is the outcome (stores, order numbers, what
    was erased or held) and the channel's ids. Unique on Shopify's ``X-Shopify-Webhook-Id``: a
    redelivery is acknowledged and ignored. Read-only in the admin.
    """

    topic = models.CharField(_("topic"), max_length=32, choices=ComplianceTopic.choices)
    webhook_id = models.CharField(_("delivery key"), max_length=200, unique=True, editable=False)
    shop_domain = models.CharField(_("shop"), max_length=255, editable=False)
    # The channel's own ids (not contact data): support can match them with Shopify's request.
    channel_shop_id = models.CharField(_("shop id at the channel"), max_length=64, blank=True, default="")
    channel_customer_id = models.CharField(_("customer id at the channel"), max_length=64, blank=True, default="")
    data_request_id = models.CharField(_("data request id"), max_length=64, blank=True, default="")
    body = models.BinaryField(_("raw body (until processed)"), blank=True, default=b"", editable=False)
    state = models.CharField(
        _("state"), max_length=16, choices=ComplianceState.choices, default=ComplianceState.RECEIVED
    )
    # What was found and done, for support: stores, order numbers, fields erased or held.
    outcome = models.JSONField(_("outcome"), default=dict, blank=True)
    error = models.TextField(_("reason"), blank=True, default="")
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("compliance request")
        verbose_name_plural = _("compliance requests")
        ordering = ("-received_at", "-id")
        indexes = [models.Index(fields=("state", "received_at"), name="compliance_state_idx")]

    def __str__(self) -> str:
        return f"{self.topic} {self.shop_domain} ({self.state})"


class FulfillmentPush(models.Model):
    """The outbox of fulfillment push-back: one row per (order, parcel), the parcel told to the
    order's channel once (``channels_sync/providers/<channel>/fulfillment.py``, run on the ``push``
    queue). Created from the tracking app's task by name, so the parcel is named by its shipment id
    and carries what the push needs; a push that keeps failing shows on the order and in admin with
    the channel's error and Retry."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="fulfillment_pushes")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="fulfillment_pushes")
    # ``tracking.Shipment``'s id (not a foreign key: channels_sync and tracking meet by task name).
    shipment_id = models.BigIntegerField(_("shipment"))
    tracking_number = models.CharField(_("tracking number"), max_length=64)
    carrier = models.CharField(_("carrier (as the supplier named it)"), max_length=100, blank=True, default="")
    # What was sent: the channel's carrier name (mapped), the tracking URL if one was needed.
    carrier_sent = models.CharField(_("carrier sent"), max_length=100, blank=True, default="")
    tracking_url = models.URLField(_("tracking URL"), max_length=500, blank=True, default="")
    # The order lines in the parcel: [{"order_line_id": int, "quantity": int}]; empty: every open line.
    lines = models.JSONField(_("lines"), default=list, blank=True)
    state = models.CharField(_("state"), max_length=20, choices=PushState.choices, default=PushState.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claimed_until = models.DateTimeField(_("held until"), null=True, blank=True)
    error_code = models.CharField(_("channel error code"), max_length=64, blank=True, default="")
    last_error = models.CharField(_("channel error"), max_length=500, blank=True, default="")
    external_id = models.CharField(_("id at the channel"), max_length=255, blank=True, default="")
    detail = models.CharField(_("detail"), max_length=500, blank=True, default="")
    pushed_at = models.DateTimeField(_("pushed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("fulfillment push")
        verbose_name_plural = _("fulfillment pushes")
        ordering = ("-id",)
        constraints = [models.UniqueConstraint(fields=("order", "shipment_id"), name="fulfillmentpush_parcel_uniq")]
        indexes = [
            models.Index(
                fields=("next_attempt_at",),
                name="fulfillmentpush_due_idx",
                condition=models.Q(state__in=("pending", "retrying", "pushing")),
            ),
            models.Index(fields=("account", "state"), name="fulfillmentpush_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_number} → {self.order_id} ({self.state})"


class CarrierMapping(models.Model):
    """An account's own carrier name for a channel: the supplier's name → the channel's carrier
    (``channels_sync.carriers.carrier_for`` reads these before its defaults)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="carrier_mappings")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    supplier_carrier = models.CharField(_("carrier as the supplier names it"), max_length=100)
    # ``carriers.carrier_key`` of the above (case, spaces and punctuation ignored): one per name.
    supplier_carrier_key = models.CharField(max_length=100, editable=False)
    channel_carrier = models.CharField(_("carrier to tell the channel"), max_length=100)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("carrier mapping")
        verbose_name_plural = _("carrier mappings")
        ordering = ("channel", "supplier_carrier")
        constraints = [
            models.UniqueConstraint(
                fields=("account", "channel", "supplier_carrier_key"), name="carriermapping_name_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.supplier_carrier} → {self.channel_carrier} ({self.channel})"
