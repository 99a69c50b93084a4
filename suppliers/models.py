"""Supplier accounts, product links, supplier orders and the placement around them.

Money moves through ``SupplierOrder`` only, and only through ``suppliers.services.placement``
(architecture rule 4: lock, move to an in-flight state, commit, call, record).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from integrations.crypto import decrypt_json, encrypt_json
from orders.enums import SupplierOrderState
from orders.models import Order, OrderLine
from suppliers.enums import (
    CanceledBy,
    PaymentMode,
    PlacementOutcome,
    SourceAccountStatus,
    SupplierMessageState,
    SupplierProvider,
)

# States whose supplier call is in flight: a worker holds ``in_flight_until``; past it, the
# outcome is unknown and is resolved by asking the supplier before anything is sent again.
IN_FLIGHT_STATES = (SupplierOrderState.PLACING, SupplierOrderState.PAYING)
# States the supplier sync follows (the order exists at the supplier and is not finished with).
SYNCED_STATES = (
    SupplierOrderState.PLACED,
    SupplierOrderState.PAYMENT_FAILED,
    SupplierOrderState.PAID,
)


class SourceAccount(models.Model):
    """A merchant's account with a supplier (AliExpress, CJdropshipping; Temu simulated).

    Secrets (access and refresh tokens, CJ's API key) are one Fernet token read through
    ``credentials``; nothing renders them back. One *current* account per supplier and tenant:
    switching puts the old one in ``REPLACED`` and its supplier orders stop syncing (they say so).
    """

    SECRET_FIELDS = ("credentials_token",)

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="source_accounts")
    provider = models.CharField(_("supplier"), max_length=16, choices=SupplierProvider.choices)
    name = models.CharField(_("name"), max_length=200)
    # The supplier's own id of the buyer (AliExpress user_id / buyer id, CJ's account e-mail or
    # id): a second connect of the same supplier account updates this row instead of adding one.
    external_id = models.CharField(_("id at the supplier"), max_length=128, blank=True, default="")
    base_url = models.URLField(_("API base URL"), max_length=500, blank=True, default="")
    credentials_token = models.TextField(_("credentials (encrypted)"), blank=True, default="", editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=SourceAccountStatus.choices, default=SourceAccountStatus.CONNECTED
    )
    payment_mode = models.CharField(
        _("payment"), max_length=16, choices=PaymentMode.choices, default=PaymentMode.WITH_ORDER
    )
    # Expiring tokens: when the access token and the refresh token expire; a worker refreshing
    # holds the account until then (one conditional UPDATE claims it). ``token_refreshed_at``:
    # CJ allows a refresh only so often (``CJ_TOKEN_REFRESH_MIN_INTERVAL``).
    token_expires_at = models.DateTimeField(_("access token expires"), null=True, blank=True)
    refresh_expires_at = models.DateTimeField(_("refresh token expires"), null=True, blank=True)
    token_refreshing_until = models.DateTimeField(_("token refresh held until"), null=True, blank=True)
    token_refreshed_at = models.DateTimeField(_("token last refreshed"), null=True, blank=True)
    # Health for the suppliers page.
    last_call_at = models.DateTimeField(_("last call"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True, default="")
    balance = models.DecimalField(_("balance"), max_digits=14, decimal_places=2, null=True, blank=True)
    balance_currency = models.CharField(_("balance currency"), max_length=3, blank=True, default="")
    balance_checked_at = models.DateTimeField(_("balance checked"), null=True, blank=True)
    connected_at = models.DateTimeField(_("connected at"), null=True, blank=True)
    # The account that took this one's place (AliExpress account switch).
    replaced_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("replaced by")
    )
    replaced_at = models.DateTimeField(_("replaced at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("supplier account")
        verbose_name_plural = _("supplier accounts")
        ordering = ("provider", "id")
        constraints = [
            # One account in use per supplier and tenant (replaced and disconnected ones are history).
            models.UniqueConstraint(
                fields=("account", "provider"),
                condition=Q(status__in=("connected", "reconnect")),
                name="sourceaccount_one_current_uniq",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_provider_display()})"

    @property
    def credentials(self) -> dict[str, str]:
        return dict(decrypt_json(self.credentials_token)) if self.credentials_token else {}

    @credentials.setter
    def credentials(self, value: dict[str, str]) -> None:
        self.credentials_token = encrypt_json(dict(value)) if value else ""

    @property
    def is_current(self) -> bool:
        return self.status in (SourceAccountStatus.CONNECTED, SourceAccountStatus.RECONNECT)

    @property
    def simulated(self) -> bool:
        return self.provider == SupplierProvider.TEMU


class ProductLink(models.Model):
    """A channel product/variant (or SKU) → the supplier product and SKU it is bought as.

    Matched on an order line by (store, variant id), then (store, product id) for a product
    without variants, then the SKU across the account's stores (``store`` empty: any store).
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="product_links")
    store = models.ForeignKey(
        "channels_sync.Store",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("store"),
    )
    channel_product_id = models.CharField(_("channel product id"), max_length=64, blank=True, default="")
    channel_variant_id = models.CharField(_("channel variant id"), max_length=64, blank=True, default="")
    sku = models.CharField(_("SKU"), max_length=128, blank=True, default="")
    title = models.CharField(_("product"), max_length=255, blank=True, default="")
    provider = models.CharField(_("supplier"), max_length=16, choices=SupplierProvider.choices)
    # AliExpress: product_id + sku_attr; CJ: the variant id (vid) here, and no supplier SKU.
    supplier_product_id = models.CharField(_("supplier product id"), max_length=64)
    supplier_sku = models.CharField(_("supplier SKU"), max_length=255, blank=True, default="")
    unit_cost = models.DecimalField(_("unit cost"), max_digits=12, decimal_places=2, null=True, blank=True)
    cost_currency = models.CharField(_("cost currency"), max_length=3, default="USD")
    shipping_method = models.CharField(_("shipping method"), max_length=64, blank=True, default="")
    backup_provider = models.CharField(
        _("backup supplier"), max_length=16, choices=SupplierProvider.choices, blank=True, default=""
    )
    backup_product_id = models.CharField(_("backup product id"), max_length=64, blank=True, default="")
    backup_sku = models.CharField(_("backup SKU"), max_length=255, blank=True, default="")
    # The supplier said this SKU no longer exists / is out of stock on a place: flagged until edited.
    unavailable_at = models.DateTimeField(_("unavailable since"), null=True, blank=True)
    unavailable_reason = models.CharField(_("why unavailable"), max_length=255, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("product link")
        verbose_name_plural = _("product links")
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(
                fields=("account", "store", "channel_variant_id"),
                condition=~Q(channel_variant_id=""),
                name="productlink_variant_uniq",
                # "Any store" (no store) is one key too: two racing "any store" links collide.
                nulls_distinct=False,
            ),
            models.UniqueConstraint(
                fields=("account", "store", "channel_product_id"),
                condition=Q(channel_variant_id="") & ~Q(channel_product_id=""),
                name="productlink_product_uniq",
                nulls_distinct=False,
            ),
            models.UniqueConstraint(
                fields=("account", "sku"),
                condition=Q(channel_variant_id="", channel_product_id="") & ~Q(sku=""),
                name="productlink_sku_uniq",
            ),
            models.CheckConstraint(
                condition=~Q(channel_variant_id="", channel_product_id="", sku=""), name="productlink_has_key"
            ),
        ]
        indexes = [models.Index(fields=("account", "sku"), name="productlink_sku_idx")]

    def __str__(self) -> str:
        return f"{self.sku or self.channel_variant_id or self.channel_product_id} → {self.supplier_product_id}"


class SupplierOrder(models.Model):
    """An order placed with one supplier for some lines of a customer order.

    ``idempotency_key`` is sent to the supplier (AliExpress ``out_order_id``, CJ ``orderNumber``);
    a refused draft gets a new one before it is sent again (nothing was made under the old one).
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="supplier_orders")
    source_account = models.ForeignKey(
        SourceAccount,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="supplier_orders",
        verbose_name=_("supplier account"),
    )
    provider = models.CharField(_("supplier"), max_length=16, choices=SupplierProvider.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=SupplierOrderState.choices, default=SupplierOrderState.DRAFT
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=64, unique=True)
    external_order_id = models.CharField(_("supplier order id"), max_length=64, blank=True)
    external_status = models.CharField(_("status at the supplier"), max_length=48, blank=True, default="")
    # Amounts as the supplier charges them (``cost`` is the total, kept under its old name).
    items_total = models.DecimalField(_("items"), max_digits=12, decimal_places=2, null=True, blank=True)
    shipping_total = models.DecimalField(_("shipping"), max_digits=12, decimal_places=2, null=True, blank=True)
    cost = models.DecimalField(_("total"), max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    # The supplier amount in the store's currency for the margin: the rate at payment, and where
    # it came from (``ExchangeRate.source``); empty: no rate known (the margin shows "—").
    fx_rate = models.DecimalField(_("exchange rate"), max_digits=18, decimal_places=8, null=True, blank=True)
    fx_source = models.CharField(_("exchange rate source"), max_length=100, blank=True, default="")
    pay_by = models.DateTimeField(_("pay by"), null=True, blank=True)
    # Why the last create or payment did not go through: the supplier's code, our message, the fix.
    failure_code = models.CharField(_("failure code"), max_length=64, blank=True, default="")
    failure_reason = models.CharField(_("failure reason"), max_length=255, blank=True)
    failure_fix = models.CharField(_("what to do"), max_length=255, blank=True, default="")
    canceled_by = models.CharField(_("canceled by"), max_length=16, choices=CanceledBy.choices, blank=True, default="")
    cancel_reason = models.CharField(_("cancel reason"), max_length=255, blank=True, default="")
    # Handed to tracking by task name (the tracking app builds shipments from it).
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True, default="")
    carrier = models.CharField(_("carrier"), max_length=64, blank=True, default="")
    # When the tracking number was handed to the tracking app (``SUPPLIER_TRACKING_TASK``); empty
    # with a number: not yet (beat's sweep hands it on, also once the setting is turned on).
    tracking_handed_at = models.DateTimeField(_("tracking handed on"), null=True, blank=True)
    # The worker making the supplier call holds the row until then; past it (a killed worker, a
    # lost answer) the outcome is unknown and ``placement.reconcile`` asks the supplier.
    in_flight_until = models.DateTimeField(_("call held until"), null=True, blank=True)
    # The holder of the current lease: a worker records its call's outcome only while the row still
    # carries its lease (a success is recorded whoever holds it: the order exists).
    lease_id = models.UUIDField(_("lease"), null=True, blank=True, editable=False)
    # A create under the current key may have reached the supplier (an answer we did not get or
    # could not read): the key is never given up or moved to another account, and a refusal of a
    # later send under it is not taken as "nothing made" (support looks).
    key_maybe_made = models.BooleanField(_("key may be known to the supplier"), default=False)
    # Reconciliations of the current call without a clear answer (support takes over at the limit).
    reconcile_attempts = models.PositiveIntegerField(_("reconciliations"), default=0)
    # When the create was first sent under the current key (AliExpress dedupes out_order_id for
    # 24 h only: a repeat after that would be a second order).
    first_sent_at = models.DateTimeField(_("first sent at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("supplier calls"), default=0)
    # Asked to pay with the create (the account's payment mode or the caller's choice): what a
    # create sent again after an unknown outcome asks for too.
    pay_with_order = models.BooleanField(_("pay with the order"), default=True)
    # Supplier sync: when beat looks again, and the claim of the worker looking.
    next_sync_at = models.DateTimeField(_("next sync"), null=True, blank=True)
    sync_claimed_until = models.DateTimeField(_("sync held until"), null=True, blank=True)
    # The last read of the order at the supplier, and how many reads in a row failed (backoff).
    last_synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    sync_failures = models.PositiveSmallIntegerField(_("failed syncs in a row"), default=0)
    # Who asked: a user, or an auto-order rule (its store's rule), or a re-place of another order.
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    placed_by_rule = models.ForeignKey(
        "suppliers.AutoOrderRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    replaces = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("replaces")
    )
    placed_at = models.DateTimeField(_("placed at"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    canceled_at = models.DateTimeField(_("canceled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("supplier order")
        verbose_name_plural = _("supplier orders")
        ordering = ("id",)
        constraints = [
            # At most one current supplier order per order and supplier: two workers, a double
            # click, a bulk action and a rule racing end up on the same row.
            models.UniqueConstraint(
                fields=("order", "provider"),
                condition=~Q(state__in=("canceled", "replaced")),
                name="supplierorder_one_current_uniq",
            ),
        ]
        indexes = [
            models.Index(fields=("state", "in_flight_until"), name="supplierorder_in_flight_idx"),
            models.Index(fields=("state", "next_sync_at"), name="supplierorder_sync_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} {self.external_order_id or self.idempotency_key}"

    @property
    def no_longer_synced(self) -> bool:
        """Placed with a supplier account the merchant has since replaced."""
        return self.source_account is not None and not self.source_account.is_current

    def margin_cost(self) -> Decimal | None:
        """The supplier total in the store's currency, or None when no rate is known."""
        if self.cost is None or self.fx_rate is None:
            return None
        return (self.cost * self.fx_rate).quantize(Decimal("0.01"))


class SupplierOrderLine(models.Model):
    supplier_order = models.ForeignKey(SupplierOrder, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="+")
    product_link = models.ForeignKey(ProductLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    supplier_product_id = models.CharField(_("supplier product id"), max_length=64)
    supplier_sku = models.CharField(_("supplier SKU"), max_length=255, blank=True, default="")
    shipping_method = models.CharField(_("shipping method"), max_length=64, blank=True, default="")
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_cost = models.DecimalField(_("unit cost"), max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("supplier order line")
        verbose_name_plural = _("supplier order lines")
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.quantity} × {self.supplier_product_id}"


class SupplierOrderTransition(models.Model):
    """One state change of a supplier order (the drawer's history), written with the change."""

    supplier_order = models.ForeignKey(SupplierOrder, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=16, choices=SupplierOrderState.choices, blank=True)
    to_state = models.CharField(max_length=16, choices=SupplierOrderState.choices)
    note = models.CharField(max_length=500, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rule = models.ForeignKey(
        "suppliers.AutoOrderRule", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("at", "id")

    def __str__(self) -> str:
        return f"{self.supplier_order_id} {self.from_state} → {self.to_state}"


class PlacementBatch(models.Model):
    """One "Place" (one order, many, or a whole filtered tab): progress that survives a reload."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    pay = models.BooleanField(default=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.public_id} {self.done}/{self.total}"


class PlacementResult(models.Model):
    """The outcome of one order of a batch (empty outcome: not done yet)."""

    batch = models.ForeignKey(PlacementBatch, on_delete=models.CASCADE, related_name="results")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(max_length=16, choices=PlacementOutcome.choices, blank=True, default="")
    message = models.CharField(max_length=500, blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("batch", "order"), name="placementresult_uniq")]

    def __str__(self) -> str:
        return f"{self.batch_id}/{self.order_id} {self.outcome}"


class AutoOrderRule(models.Model):
    """Place and/or pay a store's new orders automatically after a hold, when conditions hold."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    store = models.OneToOneField("channels_sync.Store", on_delete=models.CASCADE, related_name="auto_order_rule")
    enabled = models.BooleanField(_("on"), default=False)
    place = models.BooleanField(_("place automatically"), default=True)
    pay = models.BooleanField(_("pay automatically"), default=False)
    hold_minutes = models.PositiveIntegerField(_("hold (minutes)"), default=60)
    max_order_total = models.DecimalField(
        _("only below this order total"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    min_margin = models.DecimalField(
        _("only above this margin"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    countries = models.JSONField(_("only to these countries"), default=list, blank=True)  # ISO alpha-2; empty: any
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("auto-order rule")
        verbose_name_plural = _("auto-order rules")

    def __str__(self) -> str:
        return f"rule of store {self.store_id}"


class RuleDecision(models.Model):
    """An auto-order rule's verdict on one order: placed (queued) or why not. Decided once per
    rule version: an order is looked at again only after the rule changes (``rule.updated_at``)."""

    rule = models.ForeignKey(AutoOrderRule, on_delete=models.CASCADE, related_name="decisions")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="+")
    queued = models.BooleanField(default=False)
    reason = models.CharField(max_length=255, blank=True, default="")
    decided_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=("rule", "order"), name="ruledecision_uniq")]

    def __str__(self) -> str:
        return f"rule {self.rule_id} order {self.order_id}: {'queued' if self.queued else self.reason}"


class ExchangeRate(models.Model):
    """A rate to turn a supplier's currency into a store's, kept by support (admin) or a feed."""

    from_currency = models.CharField(max_length=3)
    to_currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    source = models.CharField(max_length=100)
    as_of = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=("from_currency", "to_currency"), name="exchangerate_pair_uniq")]

    def __str__(self) -> str:
        return f"1 {self.from_currency} = {self.rate} {self.to_currency}"


class SupplierMessage(models.Model):
    """A message a supplier pushed (AliExpress order status), stored first, processed by a task."""

    provider = models.CharField(max_length=16, choices=SupplierProvider.choices)
    delivery_key = models.CharField(max_length=128, unique=True)
    body = models.BinaryField()
    headers = models.JSONField(default=dict)
    state = models.CharField(max_length=16, choices=SupplierMessageState.choices, default=SupplierMessageState.PENDING)
    error = models.CharField(max_length=500, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=("state", "received_at"), name="suppliermessage_pending_idx")]

    def __str__(self) -> str:
        return f"{self.provider} {self.delivery_key}"


class SupplierAttempt(models.Model):
    """One outbound HTTP attempt to a supplier, for support (written outside locking transactions
    by ``suppliers.services.attempts``; pruned with the channel attempts). No query string, no body."""

    source_account = models.ForeignKey(
        SourceAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="attempts"
    )
    provider = models.CharField(_("supplier"), max_length=16, choices=SupplierProvider.choices)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=500)
    status = models.PositiveSmallIntegerField(_("status"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    error = models.TextField(_("error"), blank=True, default="")
    # When the attempt was made (set by its recorder: a buffered one writes its rows later).
    created_at = models.DateTimeField(_("at"), default=timezone.now, editable=False, db_index=True)

    class Meta:
        verbose_name = _("supplier attempt")
        verbose_name_plural = _("supplier attempts")
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=("source_account", "created_at"), name="supplierattempt_account_idx")]

    def __str__(self) -> str:
        return f"{self.provider} {self.method} {self.path} → {self.status or '—'}"


class SupplierAuthorization(models.Model):
    """One authorization asked of a supplier's platform (AliExpress's open platform approve page).

    Like ``channels_sync.ChannelAuthorization``: the ``state`` sent along is kept only as its
    SHA-256 (``integrations.oauth.state_digest``), bound to the browser session that asked, valid
    for ``CHANNEL_AUTHORIZATION_TTL`` and spent by the first callback presenting it (a wrong,
    expired, foreign or replayed state is refused and nothing is stored).
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    provider = models.CharField(_("supplier"), max_length=16, choices=SupplierProvider.choices)
    state_digest = models.CharField(_("state (SHA-256)"), max_length=64, unique=True, editable=False)
    session_digest = models.CharField(_("session (SHA-256)"), max_length=64, editable=False)
    # Reconnecting this account (its tokens replaced in place when the same buyer comes back).
    source_account = models.ForeignKey(SourceAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    outcome = models.CharField(_("outcome"), max_length=16, blank=True, default="")  # connected, failed, canceled
    error = models.CharField(_("error"), max_length=500, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("callback received"), null=True, blank=True)

    class Meta:
        verbose_name = _("supplier authorization")
        verbose_name_plural = _("supplier authorizations")
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"{self.provider} authorization {self.pk}"


class RateSlot(models.Model):
    """The next free call slot of one supplier rate-limit bucket (``suppliers.ratelimit``), for
    processes without Redis: a Unix time in seconds, updated under the row's lock."""

    key = models.CharField(max_length=200, primary_key=True)
    next_at = models.FloatField(default=0.0)

    class Meta:
        verbose_name = _("supplier rate slot")
        verbose_name_plural = _("supplier rate slots")

    def __str__(self) -> str:
        return f"{self.key} @ {self.next_at:.3f}"
