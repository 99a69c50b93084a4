"""WooCommerce REST v3 order JSON → ``ChannelOrder``. Pure: no I/O.

Decisions:
- **paid** means the customer paid. processing and completed are paid (WooCommerce sets them once
  a payment is taken). on-hold means "awaiting payment" (bank transfer, cheque): paid only when
  ``date_paid`` is set. pending, failed and checkout-draft are not paid. cancelled and refunded are
  paid when ``date_paid`` is set (the money moved, whatever happened next). A status we do not
  know (plugins add their own) is paid when ``date_paid`` is set.
- **canceled**: cancelled, and refunded too: WooCommerce moves an order to refunded only when its
  whole amount went back to the customer, so there is nothing left to fulfil (a partial refund
  leaves the status alone). trash is canceled as well.
- **number** is ``#`` + ``number`` (``#727``), as the WooCommerce admin shows it.
- times come from the ``*_gmt`` fields (UTC); the site-local twins carry no offset.
- a variation line is named "Product - Attributes" with ``parent_name`` "Product": the title is the
  parent name and the variant title the rest. ``product_id`` is the line's product, ``variant_id``
  its ``variation_id`` (0, a simple product: none).
- **ship** is the ``shipping`` address, or the ``billing`` one when shipping is empty (an order
  placed with "ship to the billing address" forced, or an old order); its ``phone`` (WooCommerce
  5.6+) else the billing phone. ``state`` is a code for the countries WooCommerce has a state
  list for ("KY", "SP", "VIC") and free text elsewhere: a short upper-case word is kept as the
  province code, anything else as the province's name. WooCommerce has no tax id field.
- **refunds**: an order's ``refunds`` ([{id, reason, total}], totals negative) says which refunds
  exist, not when or for which lines: an order that lists any is read with GET
  orders/<id>/refunds (``refunds_from_json``): ``amount`` (positive), ``date_created_gmt``,
  ``reason``, ``line_items`` with negative ``quantity`` and ``total`` (read as their opposites).
  A refund line names the order line it refunds in ``refunded_item_id`` or the
  ``_refunded_item_id`` meta (unconfirmed which one a store's REST answer shows: both are read),
  else the one order line with its product and variation. WooCommerce keeps only completed
  refunds: the status is "completed".
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from channels_sync.providers.base import ChannelOrder
from integrations.errors import MalformedPayload
from integrations.fields import (
    JsonObject,
    ident,
    iso_datetime,
    money,
    obj,
    objects,
    optional_ident,
    present,
    quantity,
    text,
)
from orders.services import AddressData, LineData, OrderData
from orders.services.customer_refunds import CustomerRefundData, RefundLineData, customer_refund_malformed

PAID_STATUSES = frozenset({"processing", "completed"})
UNPAID_STATUSES = frozenset({"pending", "failed", "checkout-draft"})
CANCELED_STATUSES = frozenset({"cancelled", "refunded", "trash"})


def is_paid(status: str, date_paid: Any) -> bool:
    if status in PAID_STATUSES:
        return True
    if status in UNPAID_STATUSES:
        return False
    return date_paid not in (None, "")  # on-hold, cancelled, refunded, unknown


def _name(address: JsonObject) -> str:
    return " ".join(part for part in (text(address, "first_name"), text(address, "last_name")) if part)


def _is_state_code(state: str) -> bool:
    return 1 <= len(state) <= 5 and state.isascii() and state.isalnum() and state == state.upper()


def _address(shipping: JsonObject, billing: JsonObject) -> AddressData:
    address = shipping if text(shipping, "address_1").strip() or text(shipping, "country").strip() else billing
    state = text(address, "state").strip()
    code = state if _is_state_code(state) else ""
    return AddressData(
        name=_name(address) or _name(billing),
        phone=text(shipping, "phone") or text(billing, "phone"),
        address1=text(address, "address_1"),
        address2=text(address, "address_2"),
        city=text(address, "city"),
        province="" if code else state,
        province_code=code,
        zip=text(address, "postcode"),
        country_code=text(address, "country"),
    )


def _line(line: JsonObject, where: str) -> LineData:
    name = str(present(line, "name", where))
    parent = text(line, "parent_name")
    title, variant_title = name, ""
    if parent and name.startswith(f"{parent} - "):
        title, variant_title = parent, name[len(parent) + 3 :]
    return LineData(
        title=title,
        unit_price=money(line, "price", where),
        quantity=quantity(line, "quantity", where),
        sku=text(line, "sku"),
        variant_title=variant_title,
        channel_line_id=ident(line, "id", where),
        product_id=_nonzero(optional_ident(line, "product_id")),
        variant_id=_nonzero(optional_ident(line, "variation_id")),
    )


def _nonzero(value: str) -> str:
    return "" if value == "0" else value


def order_from_json(order: Any) -> ChannelOrder:
    """One order (an item of GET orders, GET orders/{id}, a webhook body)."""
    if not isinstance(order, dict):
        raise MalformedPayload("the WooCommerce order is not a JSON object")
    order_id = ident(order, "id", "WooCommerce order")
    where = f"WooCommerce order {order_id}"
    status = str(present(order, "status", where))
    billing = obj(order, "billing", where, required=False)
    shipping = obj(order, "shipping", where, required=False)
    lines = tuple(
        _line(line, f"{where}: line_items[{index}]") for index, line in enumerate(objects(order, "line_items", where))
    )
    data = OrderData(
        channel_order_id=order_id,
        number=f"#{text(order, 'number') or order_id}",
        placed_at=iso_datetime(order, "date_created_gmt", where, naive_tz=UTC),
        total=money(order, "total", where),
        lines=lines,
        currency=str(present(order, "currency", where)),
        customer_name=_name(billing) or _name(shipping),
        customer_email=text(billing, "email"),
        paid=is_paid(status, order.get("date_paid_gmt") or order.get("date_paid")),
        canceled=status in CANCELED_STATUSES,
        ship=_address(shipping, billing),
    )
    return ChannelOrder(data=data, updated_at=iso_datetime(order, "date_modified_gmt", where, naive_tz=UTC))


def orders_from_json(body: Any) -> list[ChannelOrder]:
    """The list a GET orders answers."""
    if not isinstance(body, list):
        raise MalformedPayload("the WooCommerce orders answer is not a JSON list")
    return [order_from_json(order) for order in body]


def lists_refunds(order: Any) -> bool:
    """The order body names refunds (whose details are read with GET orders/<id>/refunds)."""
    return isinstance(order, dict) and isinstance(order.get("refunds"), list) and bool(order["refunds"])


def _refunded_line(item: JsonObject, order: JsonObject) -> str:
    """The id of the order line a refund line refunds (see Decisions)."""
    direct = optional_ident(item, "refunded_item_id")
    if direct:
        return direct
    for meta in item.get("meta_data") or []:
        if isinstance(meta, dict) and meta.get("key") == "_refunded_item_id":
            return optional_ident(meta, "value")
    product, variation = optional_ident(item, "product_id"), optional_ident(item, "variation_id")
    matches = [
        optional_ident(line, "id")
        for line in order.get("line_items") or []
        if isinstance(line, dict)
        and optional_ident(line, "product_id") == product
        and optional_ident(line, "variation_id") == variation
    ]
    return matches[0] if len(matches) == 1 else ""


def _opposite(data: JsonObject, key: str, where: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedPayload(f"{where}: '{key}' is not a whole number: {value!r}")
    return -value


def refunds_from_json(refunds: Any, order: JsonObject) -> tuple[CustomerRefundData, ...]:
    """GET orders/<id>/refunds's list, for ``order`` (the order's JSON: its currency and lines)."""
    if not isinstance(refunds, list):
        raise MalformedPayload("the WooCommerce refunds answer is not a JSON list")
    where = f"WooCommerce order {optional_ident(order, 'id')}"
    found: list[CustomerRefundData] = []
    for index, refund in enumerate(refunds):
        if not isinstance(refund, dict):
            found.append(customer_refund_malformed(channel_refund_id="", detail=f"refunds[{index}] is not an object"))
            continue
        try:
            at = f"{where}: refund {optional_ident(refund, 'id') or '?'}"
            lines = tuple(
                RefundLineData(
                    channel_line_id=_refunded_line(item, order),
                    quantity=_opposite(item, "quantity", f"{at}: line_items[{position}]"),
                    amount=-money(item, "total", f"{at}: line_items[{position}]"),
                )
                for position, item in enumerate(objects(refund, "line_items", at) if "line_items" in refund else [])
            )
            found.append(
                CustomerRefundData(
                    channel_refund_id=optional_ident(refund, "id"),
                    amount=money(refund, "amount", at),
                    currency=text(order, "currency"),
                    refunded_at=iso_datetime(refund, "date_created_gmt", at, naive_tz=UTC),
                    reason=text(refund, "reason"),
                    status="completed",
                    lines=lines,
                )
            )
        except MalformedPayload as error:  # this refund refused with a note, the others go on
            found.append(customer_refund_malformed(channel_refund_id=optional_ident(refund, "id"), detail=str(error)))
    return tuple(found)
