"""Shopify orders → ``ChannelOrder``: the GraphQL Admin API's ``Order`` (what the pull reads, the
fields of ``queries.ORDER_FIELDS``) and the REST-shaped order JSON that webhooks still carry
(``orders/*`` bodies). Pure: no I/O. Both readings of one order give the same ``OrderData``.

Decisions:
- **paid** means the customer paid: ``financial_status`` (GraphQL
  ``displayFinancialStatus``) paid, partially_paid, partially_refunded or refunded. pending,
  authorized (not captured yet), voided (authorization dropped), expired and
  anything unknown are not paid.
- **canceled** is ``cancelled_at`` being set (Shopify sets it with ``cancel_reason``); a refund
  alone does not cancel an order.
- **number** is the order ``name`` (``#1001``), what the merchant sees in Shopify.
- **ship** is the ``shipping_address`` (GraphQL ``shippingAddress``: ``countryCodeV2``,
  ``provinceCode``), its phone else the order's, else the billing address's; an order without one
  (nothing to ship) has none. Shopify has no tax id field (a Brazilian store's CPF lives in a
  checkout app's attribute): the merchant adds it on the order.
- lines carry ``product_id`` / ``variant_id`` (GraphQL ``product { id }`` / ``variant { id }``
  read as their numbers); a deleted product or variant is null there, and "" here.
- **ids** are the numeric ids webhooks carry: a GraphQL gid (``gid://shopify/Order/123``) is read
  as its number, and anything else in its place is a malformed answer.
- **purchase_ids**: a TikTok Shop order id found in ``note_attributes`` (GraphQL
  ``customAttributes``, ``key`` for ``name``) under one of
  ``TIKTOK_ORDER_ID_KEYS`` (compared case-insensitively, spaces as underscores): how TikTok's
  Shopify channel app and the sandbox mark an order that is the same purchase as a TikTok order.
  ``source_name`` / ``tags`` ("tiktok", "TikTok") only say *that* it came from TikTok, not *which*
  order, so they add nothing without an id. The ids are also search terms.
"""

from __future__ import annotations

from decimal import Decimal
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

PAID_FINANCIAL_STATUSES = frozenset({"paid", "partially_paid", "partially_refunded", "refunded"})
TIKTOK_ORDER_ID_KEYS = frozenset({"tiktok_order_id", "tiktok_order_number", "tiktok_id", "tts_order_id"})


def _key(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def tiktok_ids(
    order: JsonObject, *, attributes_key: str = "note_attributes", name_key: str = "name"
) -> tuple[str, ...]:
    attributes = order.get(attributes_key) or []
    found: list[str] = []
    if isinstance(attributes, list):
        for attribute in attributes:
            if not isinstance(attribute, dict) or _key(str(attribute.get(name_key, ""))) not in TIKTOK_ORDER_ID_KEYS:
                continue
            value = str(attribute.get("value") or "").strip()
            if value and value not in found:
                found.append(value)
    return tuple(found)


def _customer_name(order: JsonObject, *, graphql: bool = False) -> str:
    """The shipping address's name, else the billing address's, else the customer's."""
    first, last = ("firstName", "lastName") if graphql else ("first_name", "last_name")
    addresses = ("shippingAddress", "billingAddress") if graphql else ("shipping_address", "billing_address")
    for key in addresses:
        address = order.get(key)
        if isinstance(address, dict):
            name = text(address, "name") or " ".join(
                part for part in (text(address, first), text(address, last)) if part
            )
            if name:
                return name
    customer = order.get("customer")
    if isinstance(customer, dict):
        return " ".join(part for part in (text(customer, first), text(customer, last)) if part)
    return ""


def _customer_email(order: JsonObject) -> str:
    customer = order.get("customer")
    from_customer = text(customer, "email") if isinstance(customer, dict) else ""
    return text(order, "email") or text(order, "contact_email") or from_customer


def _address(order: JsonObject, *, graphql: bool = False) -> AddressData:
    """The shipping address; the phone falls back to the order's, then the billing address's."""
    shipping_key, billing_key = (
        ("shippingAddress", "billingAddress") if graphql else ("shipping_address", "billing_address")
    )
    address = order.get(shipping_key)
    if not isinstance(address, dict):
        return AddressData()
    billing = order.get(billing_key)
    phone = (
        text(address, "phone") or text(order, "phone") or (text(billing, "phone") if isinstance(billing, dict) else "")
    )
    first, last = ("firstName", "lastName") if graphql else ("first_name", "last_name")
    name = text(address, "name") or " ".join(part for part in (text(address, first), text(address, last)) if part)
    return AddressData(
        name=name,
        phone=phone,
        address1=text(address, "address1"),
        address2=text(address, "address2"),
        city=text(address, "city"),
        province=text(address, "province"),
        province_code=text(address, "provinceCode" if graphql else "province_code"),
        zip=text(address, "zip"),
        country_code=text(address, "countryCodeV2" if graphql else "country_code"),
    )


def _line(line: JsonObject, where: str) -> LineData:
    return LineData(
        title=str(present(line, "title", where)),
        unit_price=money(line, "price", where),
        quantity=quantity(line, "quantity", where),
        sku=text(line, "sku"),
        variant_title=text(line, "variant_title"),
        channel_line_id=ident(line, "id", where),
        product_id=optional_ident(line, "product_id"),
        variant_id=optional_ident(line, "variant_id"),
    )


def _count(data: JsonObject, key: str, where: str) -> int:
    """A whole number, negative ones kept (the ingest refuses them with a reason)."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedPayload(f"{where}: '{key}' is not a whole number: {value!r}")
    return value


def _refund_id(data: JsonObject, key: str) -> str:
    value = data.get(key)
    return str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""


def refund_from_json(refund: JsonObject, *, currency: str, where: str) -> CustomerRefundData:
    """One REST refund (an item of an order's ``refunds``, or a refunds/create body); one that
    cannot be read comes back ``malformed`` (refused with a note, the order's update goes on)."""
    try:
        return _rest_refund(refund, currency=currency, where=where)
    except MalformedPayload as error:
        return customer_refund_malformed(channel_refund_id=_refund_id(refund, "id"), detail=str(error))


def refund_status(transactions: list[tuple[str, str]]) -> str:
    """A refund's status from its transactions' (kind, status), in lower case, one rule for REST
    (``refund``/``success``) and GraphQL (``REFUND``/``SUCCESS``): "success" when a ``refund``
    transaction succeeded, else the first ``refund`` transaction's status (pending, failure, error,
    …: not final, ``customer_refund_is_final``), else the first transaction's, else "" (a refund
    of no money, restock only)."""
    kinds = [(kind.lower(), status.lower()) for kind, status in transactions]
    refunds = [status for kind, status in kinds if kind == "refund"]
    if "success" in refunds:
        return "success"
    if refunds:
        return refunds[0]
    return kinds[0][1] if kinds else ""


def refunds_in_presentment(order: object) -> bool:
    """The REST order's refunds have a ``refund`` transaction in another currency than the order's
    ``currency`` (the shop's): a multi-currency order, whose transactions are in the presentment
    currency. Their amount in the shop's money is not in the body (a REST transaction has no
    ``shop_money``), so such a body's refunds are not read: the order is read by GraphQL instead
    (``totalRefundedSet.shopMoney``), the provider's ``parse_webhook``."""
    if not isinstance(order, dict) or not isinstance(order.get("refunds"), list):
        return False
    shop = str(order.get("currency") or "").upper()
    return any(
        isinstance(transaction, dict)
        and str(transaction.get("kind", "")).lower() == "refund"
        and str(transaction.get("currency") or shop).upper() != shop
        for refund in order["refunds"]
        if isinstance(refund, dict) and isinstance(refund.get("transactions"), list)
        for transaction in refund["transactions"]
    )


def _shop_amount(item: JsonObject, key: str, where: str) -> Decimal:
    """A REST money value in the shop's money: ``<key>_set.shop_money.amount`` when Shopify gives
    the set, else the plain ``<key>`` (older bodies, single-currency shops)."""
    bag = item.get(f"{key}_set")
    if isinstance(bag, dict) and isinstance(bag.get("shop_money"), dict):
        return money(bag["shop_money"], "amount", f"{where}: {key}_set.shop_money")
    return money(item, key, where)


def _rest_refund(refund: JsonObject, *, currency: str, where: str) -> CustomerRefundData:
    refund_id = _refund_id(refund, "id")
    where = f"{where}: refund {refund_id or '?'}"
    amount, kinds = Decimal(0), []
    for index, transaction in enumerate(objects(refund, "transactions", where) if "transactions" in refund else []):
        kind, status = text(transaction, "kind"), text(transaction, "status")
        kinds.append((kind, status))
        if (kind.lower(), status.lower()) == ("refund", "success"):
            paid_in = text(transaction, "currency") or currency
            if paid_in.upper() != currency.upper():
                raise MalformedPayload(f"{where}: transactions[{index}] is in {paid_in[:8]}, not the shop's {currency}")
            amount += money(transaction, "amount", f"{where}: transactions[{index}]")
    lines = tuple(
        RefundLineData(
            channel_line_id=_refund_id(item, "line_item_id"),
            quantity=_count(item, "quantity", f"{where}: refund_line_items[{index}]"),
            amount=_shop_amount(item, "subtotal", f"{where}: refund_line_items[{index}]"),
        )
        for index, item in enumerate(
            objects(refund, "refund_line_items", where) if "refund_line_items" in refund else []
        )
    )
    at_key = "processed_at" if refund.get("processed_at") else "created_at"
    return CustomerRefundData(
        channel_refund_id=refund_id,
        amount=amount,
        currency=currency,
        refunded_at=iso_datetime(refund, at_key, where),
        reason=text(refund, "note"),
        status=refund_status(kinds),
        lines=lines,
    )


def _refunds_of_json(order: JsonObject, *, currency: str, where: str) -> tuple[CustomerRefundData, ...] | None:
    """The body's refunds; None (not read, stored ones kept) when they are in the presentment
    currency (``refunds_in_presentment``)."""
    if "refunds" not in order or refunds_in_presentment(order):
        return None
    return tuple(
        refund_from_json(refund, currency=currency, where=where) for refund in objects(order, "refunds", where)
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
        ship=_address(order),
    )
    return ChannelOrder(
        data=data,
        updated_at=iso_datetime(order, "updated_at", where),
        purchase_ids=purchase_ids,
        refunds=_refunds_of_json(order, currency=data.currency, where=where),
    )


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


# The GraphQL Admin API's Order ------------------------------------------------------------------

PAID_DISPLAY_STATUSES = frozenset(status.upper() for status in PAID_FINANCIAL_STATUSES)


def gid_tail(data: JsonObject, key: str, kind: str, where: str) -> str:
    """The number of the ``gid://shopify/<kind>/<n>`` under ``key``."""
    value = present(data, key, where)
    prefix = f"gid://shopify/{kind}/"
    tail = value[len(prefix) :] if isinstance(value, str) and value.startswith(prefix) else ""
    if not (tail.isascii() and tail.isdigit() and len(tail) <= 20):
        raise MalformedPayload(f"{where}: {key} is not a Shopify {kind} id")
    return tail


def _shop_money(data: JsonObject, key: str, where: str) -> Decimal:
    bag = obj(data, key, where)
    return money(obj(bag, "shopMoney", f"{where}: {key}"), "amount", f"{where}: {key}.shopMoney")


def _gid_tail_of(line: JsonObject, key: str, kind: str, where: str) -> str:
    """The number of the gid of the optional object under ``key`` (``variant { id }``); "" if null."""
    node = line.get(key)
    return gid_tail(node, "id", kind, f"{where}: {key}") if isinstance(node, dict) else ""


def _graphql_line(line: JsonObject, where: str) -> LineData:
    return LineData(
        title=str(present(line, "title", where)),
        unit_price=_shop_money(line, "originalUnitPriceSet", where),
        quantity=quantity(line, "quantity", where),
        sku=text(line, "sku"),
        variant_title=text(line, "variantTitle"),
        channel_line_id=gid_tail(line, "id", "LineItem", where),
        product_id=_gid_tail_of(line, "product", "Product", where),
        variant_id=_gid_tail_of(line, "variant", "ProductVariant", where),
    )


def order_from_graphql(order: Any) -> ChannelOrder:
    """One ``Order`` node of the GraphQL Admin API (every line in ``lineItems.nodes``)."""
    if not isinstance(order, dict):
        raise MalformedPayload("the Shopify order is not a JSON object")
    order_id = gid_tail(order, "id", "Order", "Shopify order")
    where = f"Shopify order {order_id}"
    lines = tuple(
        _graphql_line(line, f"{where}: lineItems[{index}]")
        for index, line in enumerate(objects(obj(order, "lineItems", where), "nodes", f"{where}: lineItems"))
    )
    purchase_ids = tiktok_ids(order, attributes_key="customAttributes", name_key="key")
    data = OrderData(
        channel_order_id=order_id,
        number=str(present(order, "name", where)),
        placed_at=iso_datetime(order, "createdAt", where),
        total=_shop_money(order, "totalPriceSet", where),
        lines=lines,
        currency=str(present(order, "currencyCode", where)),
        customer_name=_customer_name(order, graphql=True),
        customer_email=text(order, "email"),
        paid=text(order, "displayFinancialStatus") in PAID_DISPLAY_STATUSES,
        canceled=order.get("cancelledAt") not in (None, ""),
        extra_search_terms=purchase_ids,
        ship=_address(order, graphql=True),
    )
    refunds = order.get("refunds")  # read only for orders shown refunded (``ShopifyClient.complete_refunds``)
    return ChannelOrder(
        data=data,
        updated_at=iso_datetime(order, "updatedAt", where),
        purchase_ids=purchase_ids,
        refunds=None
        if refunds is None
        else tuple(_graphql_refund_guarded(refund, where) for refund in objects(order, "refunds", where)),
    )


def _graphql_refund_guarded(refund: JsonObject, where: str) -> CustomerRefundData:
    """``_graphql_refund``, or the refund ``malformed`` when it cannot be read."""
    try:
        return _graphql_refund(refund, where)
    except MalformedPayload as error:
        refund_id = refund.get("id")
        tail = refund_id.rsplit("/", 1)[-1][:64] if isinstance(refund_id, str) else ""
        return customer_refund_malformed(channel_refund_id=tail, detail=str(error))


def _graphql_refund(refund: JsonObject, where: str) -> CustomerRefundData:
    refund_id = gid_tail(refund, "id", "Refund", f"{where}: refunds") if refund.get("id") else ""
    where = f"{where}: refund {refund_id or '?'}"
    total = obj(obj(refund, "totalRefundedSet", where), "shopMoney", f"{where}: totalRefundedSet")
    items = objects(obj(refund, "refundLineItems", where), "nodes", f"{where}: refundLineItems")
    lines = tuple(
        RefundLineData(
            channel_line_id=_gid_tail_of(item, "lineItem", "LineItem", f"{where}: refundLineItems[{index}]"),
            quantity=_count(item, "quantity", f"{where}: refundLineItems[{index}]"),
            amount=_shop_money(item, "subtotalSet", f"{where}: refundLineItems[{index}]"),
        )
        for index, item in enumerate(items)
    )
    transactions = objects(obj(refund, "transactions", where), "nodes", f"{where}: transactions")
    return CustomerRefundData(
        channel_refund_id=refund_id,
        amount=money(total, "amount", f"{where}: totalRefundedSet"),
        currency=text(total, "currencyCode"),
        refunded_at=iso_datetime(refund, "createdAt", where),
        reason=text(refund, "note"),
        status=refund_status([(text(item, "kind"), text(item, "status")) for item in transactions]),
        lines=lines,
    )
