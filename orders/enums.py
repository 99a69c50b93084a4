"""The order center's vocabularies.

``OrderStatus`` / ``SubStatus`` are what the tabs show. The other enums are the *facts*
the status is derived from; they live here, in the core, so the apps that own those facts
(suppliers, tracking) import them from ``orders`` and never the other way round.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    SHOPIFY = "shopify", _("Shopify")  # Admin REST API 2024-10
    WOOCOMMERCE = "woocommerce", _("WooCommerce")  # WC REST API v3
    TIKTOK = "tiktok", _("TikTok Shop")  # Partner API 202309, US


class OrderStatus(models.TextChoices):
    """The tab an order is listed under (Archive is a flag, not a status)."""

    UNPAID = "unpaid", _("Awaiting customer payment")  # in no tab: waits until the channel says paid
    NEW = "new", _("New")  # paid in the channel, nothing placed with a supplier yet
    PAYMENT = "payment", _("Payment")  # placed with a supplier, payment pending or paid
    SHIPMENT = "shipment", _("Shipment")  # a tracking number exists
    CANCELED = "canceled", _("Canceled")  # canceled in the channel or by the supplier
    REFUND = "refund", _("Refund")  # a refund was asked of the supplier


class SubStatus(models.TextChoices):
    NONE = "", _("—")  # New and Unpaid have no sub-status
    PAYMENT_FAILED = "payment_failed", _("Payment Failed")  # placed, not paid (failed or not tried)
    AWAITING_FULFILLMENT = "awaiting_fulfillment", _("Paid – Awaiting Fulfillment")  # paid, no tracking
    AWAITING_SHIPMENT = "awaiting_shipment", _("Awaiting Shipment")  # tracking known, no carrier scan
    IN_TRANSIT = "in_transit", _("In Transit")  # carrier has it (includes out for delivery)
    PICKUP = "pickup", _("Pickup")  # waiting at a courier facility
    DELIVERED = "delivered", _("Delivered")  # delivered
    EXPIRED = "expired", _("Expired")  # no tracking update for too long
    FAILED = "failed", _("Failed")  # delivery failure, returned, lost, exception
    CHANNEL_CANCELED = "channel_canceled", _("Channel Canceled")  # canceled in the sales channel
    SOURCE_CANCELED = "source_canceled", _("Source Canceled")  # canceled by the supplier
    REFUND_IN_REVIEW = "in_review", _("In Review")  # supplier reviewing (due within 1 day)
    REFUND_APPROVED = "approved", _("Approved")  # approved, money due the following day
    REFUNDED = "refunded", _("Refunded")  # money returned
    REFUND_REJECTED = "rejected", _("Rejected")  # supplier refused


# The sub-status pills of each tab, in display order.
SUB_STATUSES_BY_STATUS: dict[OrderStatus, tuple[SubStatus, ...]] = {
    OrderStatus.UNPAID: (),
    OrderStatus.NEW: (),
    OrderStatus.PAYMENT: (SubStatus.PAYMENT_FAILED, SubStatus.AWAITING_FULFILLMENT),
    OrderStatus.SHIPMENT: (
        SubStatus.AWAITING_SHIPMENT,
        SubStatus.IN_TRANSIT,
        SubStatus.PICKUP,
        SubStatus.DELIVERED,
        SubStatus.EXPIRED,
        SubStatus.FAILED,
    ),
    OrderStatus.CANCELED: (SubStatus.CHANNEL_CANCELED, SubStatus.SOURCE_CANCELED),
    OrderStatus.REFUND: (
        SubStatus.REFUND_IN_REVIEW,
        SubStatus.REFUND_APPROVED,
        SubStatus.REFUNDED,
        SubStatus.REFUND_REJECTED,
    ),
}

# The tabs of the order center, in display order; "archive" lists archived orders.
TAB_STATUSES: tuple[OrderStatus, ...] = (
    OrderStatus.NEW,
    OrderStatus.PAYMENT,
    OrderStatus.SHIPMENT,
    OrderStatus.CANCELED,
    OrderStatus.REFUND,
)
ARCHIVE_TAB = "archive"


class SupplierOrderState(models.TextChoices):
    """Where a supplier order is in place-and-pay. In-flight states exist so a crash is resolved
    by asking the supplier, never by paying again."""

    DRAFT = "draft", _("Draft")  # lines grouped for this supplier, not sent yet (or refused: see the refusal)
    PLACING = "placing", _("Placing")  # create call in flight
    PLACED = "placed", _("Placed, not paid")  # created at the supplier, payment not attempted
    PAYING = "paying", _("Paying")  # payment call in flight
    PAYMENT_FAILED = "payment_failed", _("Payment failed")  # supplier refused the payment
    PAID = "paid", _("Paid")  # supplier has the money
    CANCELED = "canceled", _("Canceled")  # canceled at the supplier (by it, by the merchant, or for a channel cancel)
    REPLACED = "replaced", _("Replaced")  # the merchant re-placed the order: kept for history only


class TrackingStatus(models.TextChoices):
    """A parcel's state, in 17TRACK's main-status vocabulary."""

    NOT_FOUND = "not_found", _("Not found")  # carrier has no record yet
    INFO_RECEIVED = "info_received", _("Info received")  # label created, no scan
    IN_TRANSIT = "in_transit", _("In transit")  # moving
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")  # with the courier today
    AVAILABLE_FOR_PICKUP = "available_for_pickup", _("Available for pickup")  # at a pickup point
    DELIVERED = "delivered", _("Delivered")  # delivered
    DELIVERY_FAILURE = "delivery_failure", _("Delivery failure")  # courier could not deliver
    EXCEPTION = "exception", _("Exception")  # returned, lost, customs, damaged
    EXPIRED = "expired", _("Expired")  # the tracker gave up: no update for too long
    # A status the provider sent that we do not know: kept as received beside it, never a crash;
    # counted as on its way (Shipment, In Transit) until the provider says more.
    UNKNOWN = "unknown", _("Unknown")


class RefundState(models.TextChoices):
    IN_REVIEW = "in_review", _("In review")  # asked; the supplier answers within 1 day
    APPROVED = "approved", _("Approved")  # approved; money the following day
    REFUNDED = "refunded", _("Refunded")  # money back
    REJECTED = "rejected", _("Rejected")  # refused by the supplier


class RefundReason(models.TextChoices):
    NOT_RECEIVED = "not_received", _("Not received")
    DAMAGED = "damaged", _("Damaged")
    WRONG_ITEM = "wrong_item", _("Wrong item")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described")
    OTHER = "other", _("Other")


class RefundVia(models.TextChoices):
    """How the request reaches the supplier."""

    API = "api", _("Through the supplier's API")  # CJ's dispute API, Temu (simulated)
    # The supplier has no buyer-side dispute API (AliExpress): the merchant opens the dispute on
    # the supplier's site from our link, and records the outcome here (or the order query shows it).
    MERCHANT = "merchant", _("On the supplier's site")


class RefundSend(models.TextChoices):
    """The request's delivery to the supplier (``via=api``): an outbox on the refund row."""

    PENDING = "pending", _("Waiting to be sent")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Could not be sent")  # retryable failures ran out: shown with Retry
    NOT_NEEDED = "not_needed", _("Not sent (no API)")  # via=merchant


class RefundOverdue(models.TextChoices):
    """``Order.refund_overdue``: the supplier is late (written by the refund sync job)."""

    NONE = "", _("On time")
    REVIEW = "review", _("Review overdue")  # in review past the review due time (1 day)
    PAYMENT = "payment", _("Money overdue")  # approved, money not back by the day after approval


class OrderEventType(models.TextChoices):
    CREATED = "created", _("Order received")  # first seen from the channel
    STATUS_CHANGED = "status_changed", _("Status changed")  # derived status moved
    ARCHIVED = "archived", _("Archived")  # hidden from every tab
    RESTORED = "restored", _("Restored")  # back from the archive
    RENUMBERED = "renumbered", _("Renumbered")  # number got a suffix: another order shares it
    CHANNEL_UPDATED = "channel_updated", _("Updated in channel")  # paid, canceled, totals or lines changed
    POSSIBLE_DUPLICATE = "possible_duplicate", _("Possible duplicate")  # same purchase as another order
    DUPLICATE_CONFIRMED = "duplicate_confirmed", _("Confirmed not a duplicate")  # merchant says: place it anyway
    NOTE = "note", _("Note")  # free text from support or a process
    CUSTOMER_ERASED = "customer_erased", _("Customer data erased")  # at the channel's request (privacy law)
    ADDRESS_EDITED = "address_edited", _("Address edited")  # changed on the order, not in the channel
    SUPPLIER_ORDER = "supplier_order", _("Supplier order")  # placed, paid, failed, canceled, re-placed at a supplier
    PLACEMENT_BLOCKED = "placement_blocked", _("Placement stopped")  # a check before sending found a problem
    REFUND = "refund", _("Supplier refund")  # asked of the supplier, sent, decided, paid back
    CUSTOMER_REFUND = "customer_refund", _("Customer refund")  # refunded to the customer in the channel
