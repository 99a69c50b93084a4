"""The simulated world's state. Plain JSON credentials: this is a simulator, not production."""

from __future__ import annotations

from django.db import models
from django.db.models import BigIntegerField, F
from django.db.models.functions import Cast

from sandbox.enums import DeliveryState, Provider


class SimAccount(models.Model):
    """A shop, site, supplier account or tracking account on a simulated provider."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    name = models.CharField(max_length=100)
    credentials = models.JSONField(default=dict)
    # Per-account knobs: rate-limit bucket, webhook subscriptions, wallet balance, …
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("provider", "name"), name="sim_account_uniq")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.name}"


class SimClock(models.Model):
    """The world's clock: sim time = sim_epoch + (real now - real_epoch) × speed + advanced."""

    sim_epoch = models.DateTimeField()
    real_epoch = models.DateTimeField()
    speed = models.FloatField(default=1.0)
    seed = models.BigIntegerField(default=1)

    def __str__(self) -> str:
        return f"clock ×{self.speed}"


class FaultConfig(models.Model):
    """Fault rates per provider: http_5xx, http_429, timeout, malformed, webhook_duplicate, webhook_out_of_order."""

    provider = models.CharField(max_length=16, choices=Provider.choices, unique=True)
    rates = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"faults {self.provider}"


class ChannelOrder(models.Model):
    """A customer order in a simulated shop, in provider-neutral fields; each provider renders it."""

    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="channel_orders")
    # Digits for every channel (Shopify, WooCommerce, TikTok Shop ids are numbers below 2**63):
    # the listing index below casts it to bigint, so anything else would fail to insert.
    external_id = models.CharField(max_length=64)
    number = models.CharField(max_length=64)
    customer = models.JSONField(default=dict)  # name, first_name, last_name, email, phone
    address = models.JSONField(default=dict)  # address1, address2, city, province, province_code, zip, country_code
    lines = models.JSONField(default=list)  # [{id, sku, title, variant_title, quantity, price, product_id, variant_id}]
    currency = models.CharField(max_length=3, default="USD")
    total = models.DecimalField(max_digits=12, decimal_places=2)
    financial_status = models.CharField(max_length=32, default="paid")  # provider vocabulary
    status = models.CharField(max_length=32, default="open")  # provider vocabulary
    canceled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=64, blank=True)
    # The same purchase in another shop (a TikTok order also seen through Shopify).
    linked_purchase_id = models.CharField(max_length=64, blank=True)
    extra = models.JSONField(default=dict, blank=True)  # provider-specific fields (source_name, packages, …)
    created_at = models.DateTimeField()  # sim time
    updated_at = models.DateTimeField()  # sim time

    class Meta:
        constraints = [models.UniqueConstraint(fields=("account", "external_id"), name="sim_channel_order_uniq")]
        indexes = [
            models.Index(fields=("account", "updated_at", "id"), name="sim_channel_order_upd_idx"),
            # Shopify's default listing order (created_at, numeric id): each page is an index range,
            # not a sort of the whole shop (pages of a 20,000-order shop slowed down without it).
            models.Index(
                F("account"), F("created_at"), Cast("external_id", BigIntegerField()), name="sim_channel_order_list_idx"
            ),
            # The same for a listing by update time (``order=updated_at asc``, what pulls ask for).
            models.Index(
                F("account"),
                F("updated_at"),
                Cast("external_id", BigIntegerField()),
                name="sim_channel_order_upd_list_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.number}"


class Fulfillment(models.Model):
    """A fulfillment / shipping confirmation the product pushed to a simulated channel."""

    order = models.ForeignKey(ChannelOrder, on_delete=models.CASCADE, related_name="fulfillments")
    external_id = models.CharField(max_length=64)
    tracking_number = models.CharField(max_length=64, blank=True)
    tracking_company = models.CharField(max_length=100, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()  # sim time

    def __str__(self) -> str:
        return f"{self.order} {self.tracking_number}"


class SupplierOrder(models.Model):
    """An order the product placed with a simulated supplier."""

    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="supplier_orders")
    external_id = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=128)  # out_order_id / orderNumber
    status = models.CharField(max_length=48)  # provider vocabulary
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    request = models.JSONField(default=dict)
    tracking_number = models.CharField(max_length=64, blank=True)
    carrier = models.CharField(max_length=64, blank=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()  # sim time
    updated_at = models.DateTimeField()  # sim time

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("account", "idempotency_key"), name="sim_supplier_order_key_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.external_id}"


class Charge(models.Model):
    """The payment ledger: every charge a simulated supplier took. Tests prove nothing is paid twice."""

    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="charges")
    supplier_order = models.ForeignKey(SupplierOrder, on_delete=models.CASCADE, related_name="charges")
    idempotency_key = models.CharField(max_length=128)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField()  # sim time

    def __str__(self) -> str:
        return f"{self.account} {self.amount} {self.idempotency_key}"


class Refund(models.Model):
    """A refund asked of a simulated supplier; reviewed within a day, paid the day after."""

    supplier_order = models.ForeignKey(SupplierOrder, on_delete=models.CASCADE, related_name="refunds")
    status = models.CharField(max_length=16, default="in_review")  # in_review, approved, rejected, refunded
    reason = models.CharField(max_length=255)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    requested_at = models.DateTimeField()  # sim time
    decided_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    # The buyer's key (CJ businessDisputeId, Temu's Idempotency-Key): a repeat answers this refund.
    idempotency_key = models.CharField(max_length=128, blank=True, default="", db_index=True)
    # The lines asked for: [{"line_id", "quantity", "amount"}] ([]: the whole order, as before).
    lines = models.JSONField(default=list, blank=True)
    rejection_reason = models.CharField(max_length=255, blank=True, default="")
    canceled = models.BooleanField(default=False)  # the buyer canceled it (CJ disputes/cancel)

    def __str__(self) -> str:
        return f"{self.supplier_order} {self.status}"


class RefundCredit(models.Model):
    """The ledger's other side: money a simulated supplier paid back. One per refund, ever (the
    unique refund): tests prove a refund is credited at most once."""

    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="credits")
    supplier_order = models.ForeignKey(SupplierOrder, on_delete=models.CASCADE, related_name="credits")
    refund = models.OneToOneField(Refund, on_delete=models.CASCADE, related_name="credit")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField()  # sim time

    def __str__(self) -> str:
        return f"{self.account} +{self.amount} refund {self.refund_id}"


class Parcel(models.Model):
    """A tracking number known to the simulated carrier network / 17TRACK account."""

    number = models.CharField(max_length=64, unique=True)
    carrier_code = models.IntegerField(default=0)  # 17TRACK carrier key
    carrier_name = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, default="NotFound")  # 17TRACK main status
    sub_status = models.CharField(max_length=48, default="NotFound_Other")
    events = models.JSONField(default=list)  # [{time_utc, description, location, stage, sub_status}]
    fate = models.CharField(max_length=24, default="delivered")  # what the world will do with it
    created_at = models.DateTimeField()  # sim time
    updated_at = models.DateTimeField()  # sim time

    def __str__(self) -> str:
        return self.number


class TrackingRegistration(models.Model):
    """A number registered with a 17TRACK account (register / stoptrack)."""

    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="registrations")
    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="registrations")
    tag = models.CharField(max_length=100, blank=True)
    stopped = models.BooleanField(default=False)
    created_at = models.DateTimeField()  # sim time

    class Meta:
        constraints = [models.UniqueConstraint(fields=("account", "parcel"), name="sim_registration_uniq")]

    def __str__(self) -> str:
        return f"{self.account} {self.parcel}"


class WebhookSubscription(models.Model):
    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="webhook_subscriptions")
    topic = models.CharField(max_length=64)
    address = models.URLField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.account} {self.topic} → {self.address}"


class WebhookDelivery(models.Model):
    """Outbox of webhooks to send, signed as the real provider signs them; retried per its policy."""

    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="webhook_deliveries")
    topic = models.CharField(max_length=64)
    url = models.URLField(max_length=500)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_attempt_at = models.DateTimeField()  # real time
    last_status = models.IntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=("state", "next_attempt_at"), name="sim_delivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.topic} → {self.url} ({self.state})"


class SimApp(models.Model):
    """An app registered with a simulated channel (the order center operator's, one per channel):
    its client id and secret, the addresses it may send merchants back to, and its knobs
    (``options``: ``token_lifetime`` / ``refresh_lifetime`` in sim seconds, ``compliance_url``
    for Shopify's mandatory compliance webhooks, …). ``sandbox.apps`` makes the dev profile's."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    client_id = models.CharField(max_length=100)
    client_secret = models.CharField(max_length=200)
    name = models.CharField(max_length=200, default="Zopi order center")
    redirect_uris = models.JSONField(default=list, blank=True)  # prefixes; empty: any address
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("provider", "client_id"), name="sim_app_uniq")]

    def __str__(self) -> str:
        return f"{self.provider} app {self.client_id}"


class SimAuthCode(models.Model):
    """An authorization code a simulated approval page gave an app for a shop (or a seller)."""

    app = models.ForeignKey(SimApp, on_delete=models.CASCADE, related_name="codes")
    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="auth_codes")
    code = models.CharField(max_length=100, unique=True)
    redirect_uri = models.CharField(max_length=1000, blank=True, default="")
    scope = models.CharField(max_length=1000, blank=True, default="")
    expires_at = models.DateTimeField()  # sim time
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"code for {self.account} ({'used' if self.used_at else 'unused'})"


class SimGrant(models.Model):
    """One access token (and its refresh token) a simulated channel issued to an app for a shop.

    A refresh makes a child grant. The parent's refresh token keeps working until the child is
    first used (Shopify since August 2026: a lost refresh answer can be recovered); from then on
    only the newest generation works. Uninstalling the app, or revoking, sets ``revoked_at`` on
    every grant of that app and shop. Times are sim times.
    """

    app = models.ForeignKey(SimApp, on_delete=models.CASCADE, related_name="grants")
    account = models.ForeignKey(SimAccount, on_delete=models.CASCADE, related_name="grants")
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    access_token = models.CharField(max_length=200, unique=True)
    access_expires_at = models.DateTimeField(null=True, blank=True)  # empty: does not expire
    refresh_token = models.CharField(max_length=200, unique=True, null=True, blank=True)
    refresh_expires_at = models.DateTimeField(null=True, blank=True)
    scope = models.CharField(max_length=1000, blank=True, default="")
    used_at = models.DateTimeField(null=True, blank=True)  # first use of its access or refresh token
    refreshed_at = models.DateTimeField(null=True, blank=True)  # its refresh token was spent
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"grant {self.pk} {self.app.provider}:{self.account.name}"
