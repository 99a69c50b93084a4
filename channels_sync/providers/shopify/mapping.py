"""Shopify Admin REST order JSON (2024-10) → ``ChannelOrder``. Pure: no I/O.

Decisions:
- **paid** means the customer paid: ``financial_status`` paid, partially_paid, partially_refunded
  or refunded. pending, authorized (not captured yet), voided (authorization dropped), expired and
  anything unknown are not paid.
- **canceled** is ``cancelled_at`` being set (Shopify sets it with ``cancel_reason``); a refund
  alone does not cancel an order.
- **number** is the order ``name`` (``#1001``), what the merchant sees in Shopify.
- **purchase_ids**: a TikTok Shop order id found in ``note_attributes`` under one of
  ``TIKTOK_ORDER_ID_KEYS`` (compared case-insensitively, spaces as underscores): how TikTok's
  Shopify channel app and the sandbox mark an order that is the same purchase as a TikTok order.
  ``source_name`` / ``tags`` ("tiktok", "TikTok") only say *that* it came from TikTok, not *which*
  order, so they add nothing without an id. The ids are also search terms.
"""

from __future__ import annotations

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
    present,
    quantity,
    text,
)
from orders.services import LineData, OrderData

PAID_FINANCIAL_STATUSES = frozenset({"paid", "partially_paid", "partially_refunded", "refunded"})
TIKTOK_ORDER_ID_KEYS = frozenset({"tiktok_order_id", "tiktok_order_number", "tiktok_id", "tts_order_id"})


def _key(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def tiktok_ids(order: JsonObject) -> tuple[str, ...]:
    attributes = order.get("note_attributes") or []
    found: list[str] = []
    if isinstance(attributes, list):
        for attribute in attributes:
            if not isinstance(attribute, dict) or _key(str(attribute.get("name", ""))) not in TIKTOK_ORDER_ID_KEYS:
                continue
            value = str(attribute.get("value") or "").strip()
            if value and value not in found:
                found.append(value)
    return tuple(found)


def _customer_name(order: JsonObject) -> str:
    for key in ("shipping_address", "billing_address"):
        address = order.get(key)
        if isinstance(address, dict):
            name = text(address, "name") or " ".join(
                part for part in (text(address, "first_name"), text(address, "last_name")) if part
            )
            if name:
                return name
    customer = order.get("customer")
    if isinstance(customer, dict):
        return " ".join(part for part in (text(customer, "first_name"), text(customer, "last_name")) if part)
    return ""


def _customer_email(order: JsonObject) -> str:
    customer = order.get("customer")
    from_customer = text(customer, "email") if isinstance(customer, dict) else ""
    return text(order, "email") or text(order, "contact_email") or from_customer


def _line(line: JsonObject, where: str) -> LineData:
    return LineData(
        title=str(present(line, "title", where)),
        unit_price=money(line, "price", where),
        quantity=quantity(line, "quantity", where),
        sku=text(line, "sku"),
        variant_title=text(line, "variant_title"),
        channel_line_id=ident(line, "id", where),
    )


def order_from_json(order: Any) -> ChannelOrder:
    """One order object (the ``order`` of orders/{id}.json, an item of orders.json, a webhook body)."""
    if not isinstance(order, dict):
        raise MalformedPayload("the Shopify order is not a JSON object")
    order_id = ident(order, "id", "Shopify order")
    where = f"Shopify order {order_id}"
    lines = tuple(
        _line(line, f"{where}: line_items[{index}]") for index, line in enumerate(objects(order, "line_items", where))
    )
    purchase_ids = tiktok_ids(order)
    data = OrderData(
        channel_order_id=order_id,
        number=str(present(order, "name", where)),
        placed_at=iso_datetime(order, "created_at", where),
        total=money(order, "total_price", where),
        lines=lines,
        currency=str(present(order, "currency", where)),
        customer_name=_customer_name(order),
        customer_email=_customer_email(order),
        paid=text(order, "financial_status") in PAID_FINANCIAL_STATUSES,
        canceled=order.get("cancelled_at") not in (None, ""),
        extra_search_terms=purchase_ids,
    )
    return ChannelOrder(data=data, updated_at=iso_datetime(order, "updated_at", where), purchase_ids=purchase_ids)


def orders_from_json(body: Any) -> list[ChannelOrder]:
    """The ``orders`` list of an orders.json answer."""
    if not isinstance(body, dict):
        raise MalformedPayload("the Shopify orders answer is not a JSON object")
    return [order_from_json(order) for order in objects(body, "orders", "Shopify orders answer")]


def order_from_detail(body: Any) -> ChannelOrder:
    """The ``order`` of an orders/{id}.json answer."""
    if not isinstance(body, dict):
        raise MalformedPayload("the Shopify order answer is not a JSON object")
    return order_from_json(obj(body, "order", "Shopify order answer"))
