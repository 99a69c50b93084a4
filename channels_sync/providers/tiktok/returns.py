"""TikTok Shop returns and refunds (Return and Refund API 202309) → customer refunds. Pure: no I/O.

Decisions:
- Only a return whose ``return_status`` is ``RETURN_OR_REFUND_REQUEST_COMPLETE`` is money given
  back: requests pending, rejected, cancelled or waiting for the parcel are not customer refunds
  (yet). A ``REPLACEMENT`` gives no money back and is skipped.
- The amount is ``refund_amount.refund_total`` in its ``currency``; the time the return's
  ``update_time`` (when it completed; seconds since the epoch), else its ``create_time``.
- ``return_line_items`` come one per unit, as the order's line items do: they are counted per
  order line the way ``mapping`` groups the order's units (``sku_id``, or ``<sku_id>@<price>`` for
  a SKU sold at several prices, found through ``order_line_item_id``), each line's amount the sum
  of its units' ``refund_amount.refund_total``.
- Which orders a pull asks returns/search about (``order_may_have_returns``): TikTok's order
  detail (202309) has no return or refund field, only cancel fields (the order's
  ``cancel_reason``, ``cancel_time``, ``cancellation_initiator``, ``is_buyer_request_cancel``,
  ``request_cancel_time``; a line item's ``cancel_reason``, ``cancel_user``, ``display_status``
  CANCELLED). A return, or a refund without one, is asked for a unit the buyer has been sent, so
  the rule is: an order with a cancel signal, or whose status or any line's ``display_status``
  says units left (PARTIALLY_SHIPPING, IN_TRANSIT, DELIVERED, COMPLETED). An order still waiting
  for the seller (ON_HOLD, AWAITING_SHIPMENT, AWAITING_COLLECTION) with no cancel signal is not
  asked about: money back before shipment is a cancellation, which TikTok shows on the order.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from channels_sync.providers.tiktok.mapping import unit_lines
from integrations.errors import MalformedPayload
from integrations.fields import JsonObject, money, obj, objects, optional_ident, text
from orders.services.customer_refunds import CustomerRefundData, RefundLineData, customer_refund_malformed

COMPLETE = "RETURN_OR_REFUND_REQUEST_COMPLETE"
MONEYLESS_TYPES = frozenset({"REPLACEMENT"})
# Order and line-item statuses after units left the seller (TikTok's own words), and cancelled.
SENT_STATUSES = frozenset({"PARTIALLY_SHIPPING", "IN_TRANSIT", "DELIVERED", "COMPLETED"})
CANCELLED = "CANCELLED"
ORDER_CANCEL_FIELDS: tuple[str, ...] = ("cancel_reason", "cancel_time", "cancellation_initiator")
ORDER_CANCEL_FIELDS += ("is_buyer_request_cancel", "request_cancel_time")
LINE_CANCEL_FIELDS = ("cancel_reason", "cancel_user")


def order_may_have_returns(order: Any) -> bool:
    """True when the order's JSON shows a cancel signal or units sent (see Decisions): the orders a
    pull asks returns/search about. A body that is not an object says nothing: False."""
    if not isinstance(order, dict):
        return False
    status = order.get("status")
    if status == CANCELLED or status in SENT_STATUSES or any(order.get(key) for key in ORDER_CANCEL_FIELDS):
        return True
    items = order.get("line_items")
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        shown = item.get("display_status")
        if shown == CANCELLED or shown in SENT_STATUSES or any(item.get(key) for key in LINE_CANCEL_FIELDS):
            return True
    return False


def _order_lines(order: JsonObject) -> dict[str, str]:
    """The order's unit ids → the ``channel_line_id`` of the line ``mapping`` makes of them."""
    return unit_lines(order.get("line_items") or [])


def _time(data: JsonObject, where: str) -> datetime:
    for key in ("update_time", "create_time"):
        value = data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**37:
            return datetime.fromtimestamp(value, tz=UTC)
    raise MalformedPayload(f"{where}: no update_time or create_time")


def _refund(item: JsonObject, lines_of: dict[str, str]) -> CustomerRefundData | None:
    """One return as a refund; None when it is no money back (yet)."""
    where = f"TikTok Shop return {optional_ident(item, 'return_id') or '?'}"
    if text(item, "return_status") != COMPLETE or text(item, "return_type") in MONEYLESS_TYPES:
        return None
    total = obj(item, "refund_amount", where)
    quantities: dict[str, int] = defaultdict(int)
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    for position, unit in enumerate(objects(item, "return_line_items", where) if "return_line_items" in item else []):
        line = lines_of.get(optional_ident(unit, "order_line_item_id")) or optional_ident(unit, "sku_id")
        quantities[line] += 1
        amounts[line] += money(
            obj(unit, "refund_amount", f"{where}: return_line_items[{position}]"), "refund_total", where
        )
    return CustomerRefundData(
        channel_refund_id=optional_ident(item, "return_id"),
        amount=money(total, "refund_total", f"{where}: refund_amount"),
        currency=text(total, "currency"),
        refunded_at=_time(item, where),
        reason=text(item, "return_reason_text"),
        status=COMPLETE.lower(),
        lines=tuple(RefundLineData(line, quantities[line], amounts[line]) for line in quantities),
    )


def refunds_from_returns(returns: list[Any], order: JsonObject) -> tuple[CustomerRefundData, ...]:
    """The completed refunds among ``returns`` (items of ``return_orders``) of ``order`` (its JSON)."""
    lines_of = _order_lines(order)
    found: list[CustomerRefundData] = []
    for index, item in enumerate(returns):
        if not isinstance(item, dict):
            found.append(
                customer_refund_malformed(channel_refund_id="", detail=f"return_orders[{index}] is not an object")
            )
            continue
        try:
            refund = _refund(item, lines_of)
        except MalformedPayload as error:  # this return refused with a note, the others go on
            found.append(
                customer_refund_malformed(channel_refund_id=optional_ident(item, "return_id"), detail=str(error))
            )
            continue
        if refund is not None:
            found.append(refund)
    return tuple(found)


def returns_by_order(data: Any) -> dict[str, list[Any]]:
    """A returns/search page's ``return_orders`` grouped by ``order_id``."""
    if not isinstance(data, dict):
        raise MalformedPayload("the TikTok Shop returns answer has no data object")
    grouped: dict[str, list[Any]] = defaultdict(list)
    for item in data.get("return_orders") or []:
        if isinstance(item, dict):
            grouped[optional_ident(item, "order_id")].append(item)
    return grouped
