from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from orders.enums import (
    Channel,
    OrderEventType,
    OrderStatus,
    RefundReason,
    RefundSend,
    RefundState,
    RefundVia,
    SubStatus,
)


class Order(models.Model):
    """A paid (or soon paid) customer order from a sales channel.

    ``status`` / ``sub_status`` are derived by ``orders.derivation.derive_status`` and stored
    for fast tabs; only ``orders.services.status_write`` writes them.
    """

    # No single-column indexes on the two keys: every composite index below starts with one of
    # them, and each index is one more write for every order that comes in.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="orders", db_index=False)
    store = models.ForeignKey("channels_sync.Store", on_delete=models.PROTECT, related_name="orders", db_index=False)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    channel_order_id = models.CharField(_("channel order id"), max_length=64)
    number = models.CharField(_("number"), max_length=64)
    base_number = models.CharField(_("channel number"), max_length=64)
    customer_name = models.CharField(_("customer name"), max_length=200, blank=True)
    customer_email = models.CharField(_("customer email"), max_length=254, blank=True)
    # The customer's personal data was erased at the channel's request (``orders.services.redact``):
    # a later update from the channel does not bring it back.
    customer_erased_at = models.DateTimeField(_("customer data erased"), null=True, blank=True)
    # Where the parcel goes, as the channel sent it (or as the merchant corrected it on the order:
    # ``ship_edited_at``; a later channel update then leaves it alone). Erased with the customer.
    ship_name = models.CharField(_("recipient"), max_length=200, blank=True, default="", db_default="")
    ship_phone = models.CharField(_("phone"), max_length=40, blank=True, default="", db_default="")
    ship_address1 = models.CharField(_("address"), max_length=255, blank=True, default="", db_default="")
    ship_address2 = models.CharField(_("address line 2"), max_length=255, blank=True, default="", db_default="")
    ship_city = models.CharField(_("city"), max_length=120, blank=True, default="", db_default="")
    ship_province = models.CharField(_("state / province"), max_length=120, blank=True, default="", db_default="")
    ship_province_code = models.CharField(
        _("state / province code"), max_length=16, blank=True, default="", db_default=""
    )
    ship_zip = models.CharField(_("ZIP / postal code"), max_length=20, blank=True, default="", db_default="")
    ship_country_code = models.CharField(_("country"), max_length=2, blank=True, default="", db_default="")
    # Brazil's CPF, Chile's RUT, Korea's personal customs clearance code, a VAT number, …
    ship_tax_id = models.CharField(_("tax id"), max_length=40, blank=True, default="", db_default="")
    ship_edited_at = models.DateTimeField(_("address edited on the order"), null=True, blank=True)
    # Why the last placement stopped before anything was sent (a check) or was refused by the
    # supplier, shown on the row with its fix; empty when nothing stands in the way.
    placement_issue = models.CharField(_("placement problem"), max_length=32, blank=True, default="", db_default="")
    placement_issue_message = models.CharField(
        _("placement problem detail"), max_length=500, blank=True, default="", db_default=""
    )
    # Where the merchant fixes the first problem: {"view": URL name, "args": [...], "query": "..."}
    # (empty: nothing to fix, or no page fixes it).
    placement_issue_fix = models.JSONField(_("placement problem fix"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2)
    supplier_cost = models.DecimalField(_("supplier cost"), max_digits=12, decimal_places=2, null=True, blank=True)
    channel_paid = models.BooleanField(_("paid in channel"), default=True)
    channel_canceled = models.BooleanField(_("canceled in channel"), default=False)
    placed_at = models.DateTimeField(_("ordered at"))
    status = models.CharField(_("status"), max_length=16, choices=OrderStatus.choices, default=OrderStatus.NEW)
    sub_status = models.CharField(
        _("sub-status"), max_length=24, choices=SubStatus.choices, default=SubStatus.NONE, blank=True
    )
    # The channel's own update time of the data stored here: an older update never overwrites it.
    channel_updated_at = models.DateTimeField(_("updated in channel"), null=True, blank=True)
    # The same purchase reached the account twice (TikTok direct and through Shopify): the later
    # order points at the first and cannot be placed until the merchant confirms it.
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="duplicates",
        verbose_name=_("duplicate of"),
    )
    possible_duplicate = models.BooleanField(_("possible duplicate"), default=False)
    duplicate_confirmed = models.BooleanField(_("duplicate confirmed by the merchant"), default=False)
    # Written by tracking's daily job (``tracking.enums.StalledReason``): the parcel does not move.
    stalled = models.CharField(_("stalled"), max_length=16, blank=True, default="", db_default="")
    stalled_since = models.DateTimeField(_("stalled since"), null=True, blank=True)
    # Written by the refund sync (``orders.enums.RefundOverdue``): the supplier is late to review
    # or to pay back a refund of this order.
    refund_overdue = models.CharField(_("refund overdue"), max_length=16, blank=True, default="", db_default="")
    archived = models.BooleanField(_("archived"), default=False)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    # Lower-cased number, customer, SKUs and tracking numbers: one trigram-indexed column
    # (PostgreSQL) so search stays fast at a million orders without joins.
    search_text = models.TextField(_("search text"), blank=True, default="")
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(fields=("store", "channel_order_id"), name="order_store_channel_id_uniq"),
            models.UniqueConstraint(fields=("account", "number"), name="order_account_number_uniq"),
        ]
        indexes = [
            # Keyset pages of a tab, a sub-status pill, the archive, and the same per store.
            models.Index(fields=("account", "archived", "status", "-placed_at", "-id"), name="order_tab_page_idx"),
            models.Index(
                fields=("account", "archived", "status", "sub_status", "-placed_at", "-id"),
                name="order_sub_page_idx",
            ),
            models.Index(fields=("account", "archived", "-placed_at", "-id"), name="order_archive_page_idx"),
            models.Index(
                fields=("store", "archived", "status", "sub_status", "-placed_at", "-id"),
                name="order_store_page_idx",
            ),
            # The store filter without a pill, and the archive of one store. Without these the
            # store is a filter on the account's index: a store with no orders in the tab (a new
            # store, an empty Refund tab) read the whole tab, ~2 s at a million orders.
            models.Index(fields=("store", "archived", "status", "-placed_at", "-id"), name="order_store_tab_idx"),
            models.Index(fields=("store", "archived", "-placed_at", "-id"), name="order_store_archive_idx"),
            models.Index(fields=("account", "base_number"), name="order_base_number_idx"),
            # The stalled filter and its count: only the few stalled orders are in it.
            models.Index(
                fields=("account", "archived", "-placed_at", "-id"),
                name="order_stalled_idx",
                condition=~models.Q(stalled=""),
            ),
            # The overdue-refund filter and its count: only the few late refunds are in it.
            models.Index(
                fields=("account", "archived", "-placed_at", "-id"),
                name="order_refund_overdue_idx",
                condition=~models.Q(refund_overdue=""),
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def awaiting_duplicate_confirmation(self) -> bool:
        """Flagged as the same purchase as another order and not confirmed yet: not placeable."""
        return self.possible_duplicate and not self.duplicate_confirmed


class PurchaseId(models.Model):
    """A purchase id an order carries (its TikTok order id, found on a Shopify twin too).

    Two orders of an account sharing one is the same purchase twice; the lookup is indexed.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    purchase_id = models.CharField(_("purchase id"), max_length=64)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="purchase_ids")

    class Meta:
        verbose_name = _("purchase id")
        verbose_name_plural = _("purchase ids")
        constraints = [
            models.UniqueConstraint(fields=("account", "purchase_id", "order"), name="purchaseid_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.purchase_id} → {self.order_id}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    channel_line_id = models.CharField(_("channel line id"), max_length=64, blank=True)
    # The channel's product and variant ids: what a product link matches first (then the SKU).
    product_id = models.CharField(_("channel product id"), max_length=64, blank=True, default="", db_default="")
    variant_id = models.CharField(_("channel variant id"), max_length=64, blank=True, default="", db_default="")
    sku = models.CharField(_("SKU"), max_length=128, blank=True)
    title = models.CharField(_("title"), max_length=255)
    variant_title = models.CharField(_("variant"), max_length=255, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.quantity} × {self.title}"


class OrderEvent(models.Model):
    """Append-only history of an order, written in the transaction that made the change."""

    # Read per order only (the drawer's timeline): the (order, created_at) index serves it.
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", db_index=False)
    type = models.CharField(_("type"), max_length=32, choices=OrderEventType.choices)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ("created_at", "id")
        indexes = [models.Index(fields=("order", "created_at"), name="orderevent_order_idx")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.type}"


class Refund(models.Model):
    """A refund asked of a supplier for lines of one supplier order (several per order are normal).

    States In Review → Approved → Refunded, or Rejected with the supplier's reason; the times say
    when it was asked, when the review and the money are due, when it was decided and refunded.
    ``via`` says how it reaches the supplier: its API (``send_state`` is the outbox of that call) or
    the merchant on the supplier's site (AliExpress), who records the outcome here.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    supplier_order = models.ForeignKey(
        "suppliers.SupplierOrder", on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    state = models.CharField(_("state"), max_length=16, choices=RefundState.choices, default=RefundState.IN_REVIEW)
    reason = models.CharField(_("reason"), max_length=24, choices=RefundReason.choices, default=RefundReason.OTHER)
    note = models.TextField(_("note"), blank=True, default="", db_default="")
    evidence = models.JSONField(_("evidence links"), default=list, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="USD", db_default="USD")
    # What the supplier says it returned (may be less than asked); set when Refunded.
    refunded_amount = models.DecimalField(_("amount refunded"), max_digits=12, decimal_places=2, null=True, blank=True)
    rejection_reason = models.CharField(_("rejection reason"), max_length=500, blank=True, default="", db_default="")
    via = models.CharField(
        _("sent through"), max_length=16, choices=RefundVia.choices, default=RefundVia.API, db_default="api"
    )
    send_state = models.CharField(
        _("sending to the supplier"),
        max_length=16,
        choices=RefundSend.choices,
        default=RefundSend.PENDING,
        db_default="pending",
    )
    send_error = models.CharField(_("sending error"), max_length=500, blank=True, default="", db_default="")
    send_attempts = models.PositiveIntegerField(_("delivery attempts"), default=0, db_default=0)
    # Our request id at the supplier (CJ's businessDisputeId): the same request sent twice is one dispute.
    idempotency_key = models.CharField(_("request key"), max_length=64, unique=True, null=True, blank=True)
    external_id = models.CharField(_("supplier's dispute id"), max_length=64, blank=True, default="", db_default="")
    external_status = models.CharField(
        _("status at the supplier"), max_length=48, blank=True, default="", db_default=""
    )
    dispute_url = models.URLField(_("supplier's dispute page"), max_length=500, blank=True, default="", db_default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"))
    review_due_at = models.DateTimeField(_("review due"))
    refund_due_at = models.DateTimeField(_("money due"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    # The sync's schedule and hold (beat claims due rows with skip_locked): sending and following.
    next_sync_at = models.DateTimeField(_("next check"), null=True, blank=True)
    claimed_until = models.DateTimeField(_("held until"), null=True, blank=True)
    # The send's claim token (set with ``claimed_until``): every result write is conditional on it,
    # so a worker whose hold ran out never overwrites the next one's.
    send_claim = models.UUIDField(_("send claim"), null=True, blank=True)
    # When a create was first sent to the supplier (recorded before the call): from then on the
    # supplier may have our request, whatever the answer was; it is looked up, never taken as
    # refused on a later try, and followed even when the delivery FAILED.
    create_sent_at = models.DateTimeField(_("create sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ("requested_at", "id")
        indexes = [
            # The sync's claim: open refunds whose next check is due.
            models.Index(
                fields=("next_sync_at",),
                name="refund_sync_due_idx",
                condition=models.Q(state__in=("in_review", "approved")),
            ),
        ]
        constraints = [
            # One supplier dispute is one of our refunds (never two of ours matched to it).
            models.UniqueConstraint(
                fields=("supplier_order", "external_id"),
                name="refund_supplier_dispute_uniq",
                condition=~models.Q(external_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.state}"

    @property
    def is_open(self) -> bool:
        return self.state in (RefundState.IN_REVIEW, RefundState.APPROVED)


class RefundLine(models.Model):
    """Units of one supplier order line a refund asks for."""

    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines")
    supplier_order_line = models.ForeignKey("suppliers.SupplierOrderLine", on_delete=models.PROTECT, related_name="+")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("refund line")
        verbose_name_plural = _("refund lines")
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(fields=("refund", "supplier_order_line"), name="refundline_refund_line_uniq"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="refundline_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.order_line_id}"


class CustomerRefund(models.Model):
    """Money the merchant gave back to the customer in the sales channel (Shopify refund,
    WooCommerce refund, TikTok Shop return/refund), stored once per channel refund id whatever
    order the webhooks and pulls bring it in."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey("channels_sync.Store", on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="customer_refunds")
    channel_refund_id = models.CharField(_("channel refund id"), max_length=64)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    # [{"order_line_id": int | None, "channel_line_id": str, "quantity": int, "amount": "1.00"}]
    lines = models.JSONField(_("lines"), default=list, blank=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True, default="")
    status = models.CharField(_("status in the channel"), max_length=48, blank=True, default="")
    refunded_at = models.DateTimeField(_("refunded at"))
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("customer refund")
        verbose_name_plural = _("customer refunds")
        ordering = ("refunded_at", "id")
        constraints = [
            models.UniqueConstraint(fields=("store", "channel_refund_id"), name="customerrefund_store_id_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.amount} {self.currency}"

    @property
    def is_final(self) -> bool:
        """The money went back to the customer (``customer_refund_is_final``): pending, failed
        or cancelled ones are shown, never counted."""
        from orders.services.customer_refund_status import customer_refund_is_final

        return customer_refund_is_final(self.status)


class OrderCount(models.Model):
    """Exact tab and pill counts, kept in the transaction of every status or archive change.

    One row per (account, store, status, sub_status, archived); the order center sums a
    handful of rows instead of counting a million orders.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    store = models.ForeignKey("channels_sync.Store", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=OrderStatus.choices)
    sub_status = models.CharField(max_length=24, choices=SubStatus.choices, blank=True)
    archived = models.BooleanField()
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("account", "store", "status", "sub_status", "archived"), name="ordercount_key_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id}/{self.store_id} {self.status}/{self.sub_status} {self.archived}: {self.count}"
