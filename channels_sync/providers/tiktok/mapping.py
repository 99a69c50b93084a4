"""TikTok Shop order JSON (Partner API 202309) → ``ChannelOrder``. Pure: no I/O.

Decisions:
- **paid**: every status but UNPAID means the buyer paid (ON_HOLD is paid, held for the buyer's
  cancellation hour); CANCELLED is paid only if ``paid_time`` is set.
- **canceled**: status CANCELLED.
- **number** is the order id: TikTok Shop has no separate display number.
- **lines**: TikTok sends one line item per unit and no quantity; units of one SKU at one price
  become one ``LineData`` with their count as quantity. ``channel_line_id`` is the ``sku_id`` (the
  per-unit ids are not stable as a group); when one SKU sold at several prices each price is its
  own line, ``<sku_id>@<price>``.
- **purchase_ids** is the order's own id (a Shopify twin lists it too).
- lines carry ``product_id`` and, as ``variant_id``, the ``sku_id``.
- **ship** is ``recipient_address``: ``address_line1``, lines 2–4 joined as the second line,
  ``postal_code``, ``region_code`` (the country), and from ``district_info`` the state (level
  L1) and the city (L3, else L2: the county). ``phone_number`` comes as ``(+1)2135551234``: read
  as ``+1 2135551234``. TikTok masks the recipient's data of some orders
  (``(+1)213-***-1234``: every order shipped by the platform, and a seller-shipped one by its
  status); the masked number is kept as sent and the address check asks for the real one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from channels_sync.providers.base import ChannelOrder
from integrations.errors import MalformedPayload
from integrations.fields import (
    JsonObject,
    ident,
    money,
    obj,
    objects,
    optional_ident,
    present,
    text,
    unix_datetime,
)
from orders.services import AddressData, LineData, OrderData

UNPAID, CANCELLED = "UNPAID", "CANCELLED"


def line_id(sku_id: str, price: Decimal, prices_of_sku: int) -> str:
    """The ``channel_line_id`` of the units of one SKU at one price (see Decisions)."""
    return sku_id if prices_of_sku == 1 else f"{sku_id}@{price}"


def unit_lines(items: list[Any]) -> dict[str, str]:
    """The order's unit ids → the ``channel_line_id`` of the line ``_lines`` makes of them (prices
    grouped as numbers: "10.5" and "10.50" are one price). Units it cannot read are left out."""
    keyed: list[tuple[str, str, Decimal]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            keyed.append((optional_ident(item, "id"), optional_ident(item, "sku_id"), money(item, "sale_price", "")))
        except MalformedPayload:
            continue
    prices: dict[str, set[Decimal]] = {}
    for _unit, sku_id, price in keyed:
        prices.setdefault(sku_id, set()).add(price)
    return {unit: line_id(sku_id, price, len(prices[sku_id])) for unit, sku_id, price in keyed}


def _lines(items: list[JsonObject], where: str) -> tuple[LineData, ...]:
    groups: dict[tuple[str, Decimal], list[JsonObject]] = {}
    for index, item in enumerate(items):
        at = f"{where}: line_items[{index}]"
        ident(item, "id", at)
        present(item, "product_name", at)
        groups.setdefault((ident(item, "sku_id", at), money(item, "sale_price", at)), []).append(item)
    prices_per_sku: dict[str, int] = {}
    for sku_id, _ in groups:
        prices_per_sku[sku_id] = prices_per_sku.get(sku_id, 0) + 1
    lines = []
    for (sku_id, price), units in groups.items():
        first = units[0]
        lines.append(
            LineData(
                title=str(first["product_name"]),
                unit_price=price,
                quantity=len(units),
                sku=text(first, "seller_sku"),
                variant_title=text(first, "sku_name"),
                channel_line_id=line_id(sku_id, price, prices_per_sku[sku_id]),
                product_id=optional_ident(first, "product_id"),
                variant_id=sku_id if len(sku_id) <= 64 else "",
            )
        )
    return tuple(lines)


def _phone(value: str) -> str:
    """``(+1)2135551234`` → ``+1 2135551234``; anything else as sent."""
    value = value.strip()
    if value.startswith("(+") and ")" in value:
        code, _, rest = value[1:].partition(")")
        return f"{code} {rest.strip()}"
    return value


def _district(address: JsonObject, level: str) -> str:
    districts = address.get("district_info")
    if not isinstance(districts, list):
        return ""
    for district in districts:
        if isinstance(district, dict) and district.get("address_level") == level:
            return text(district, "address_name")
    return ""


def _address(address: JsonObject) -> AddressData:
    if not address:
        return AddressData()
    return AddressData(
        name=_name(address),
        phone=_phone(text(address, "phone_number")),
        address1=text(address, "address_line1"),
        address2=", ".join(part for part in (text(address, f"address_line{n}").strip() for n in (2, 3, 4)) if part),
        city=_district(address, "L3") or _district(address, "L2"),
        province=_district(address, "L1"),
        zip=text(address, "postal_code"),
        country_code=text(address, "region_code"),
    )


def _name(address: JsonObject) -> str:
    return text(address, "name") or " ".join(
        part for part in (text(address, "first_name"), text(address, "last_name")) if part
    )


def order_from_json(order: Any) -> ChannelOrder:
    """One order of an orders/search or orders?ids= answer."""
    if not isinstance(order, dict):
        raise MalformedPayload("the TikTok Shop order is not a JSON object")
    order_id = ident(order, "id", "TikTok Shop order")
    where = f"TikTok Shop order {order_id}"
    status = str(present(order, "status", where))
    payment = obj(order, "payment", where)
    address = obj(order, "recipient_address", where, required=False)
    data = OrderData(
        channel_order_id=order_id,
        number=order_id,
        placed_at=unix_datetime(order, "create_time", where),
        total=money(payment, "total_amount", f"{where}: payment"),
        lines=_lines(objects(order, "line_items", where), where),
        currency=str(present(payment, "currency", f"{where}: payment")),
        customer_name=_name(address),
        customer_email=text(order, "buyer_email"),
        paid=status != UNPAID and (status != CANCELLED or order.get("paid_time") not in (None, "", 0)),
        canceled=status == CANCELLED,
        ship=_address(address),
    )
    return ChannelOrder(data=data, updated_at=unix_datetime(order, "update_time", where), purchase_ids=(order_id,))


def orders_from_data(data: Any) -> list[ChannelOrder]:
    """The ``orders`` of an envelope's ``data`` (missing when a search finds nothing)."""
    if not isinstance(data, dict):
        raise MalformedPayload("the TikTok Shop answer has no data object")
    if data.get("orders") is None:
        return []
    return [order_from_json(order) for order in objects(data, "orders", "TikTok Shop answer")]
