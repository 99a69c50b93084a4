"""ChannelOrder rows (and fulfillments, webhook subscriptions) as GraphQL Admin objects.

The same rows the REST endpoints render (``sandbox.providers.shopify.render``), so both views of
one order agree: the same ids (a gid's tail is the REST id), amounts, statuses and lines. Plain
dicts; a field that takes arguments (``lineItems(first:)``) is a function of them, which
graphql-core's default resolver calls.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from sandbox.models import ChannelOrder, Fulfillment, SimAccount, WebhookSubscription
from sandbox.providers._refunds import refunds_of
from sandbox.providers.shopify import render
from sandbox.providers.shopify.hooks import WEBHOOK_ID_OFFSET

MAX_PAGE = 250
GID_PREFIX = "gid://shopify/"


def gid(kind: str, number: int | str) -> str:
    return f"{GID_PREFIX}{kind}/{number}"


def gid_number(value: object, kind: str) -> int | None:
    """The numeric id of ``gid://shopify/<kind>/<n>``; None for anything else (a hostile id)."""
    if not isinstance(value, str) or not value.startswith(f"{GID_PREFIX}{kind}/"):
        return None
    tail = value[len(GID_PREFIX) + len(kind) + 1 :]
    return int(tail) if tail.isascii() and tail.isdigit() and len(tail) <= 20 else None


def utc(value: datetime | str | None) -> str | None:
    """A DateTime as Shopify's GraphQL gives it: ISO 8601 in UTC with a ``Z``."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def money_bag(amount: Decimal | str, currency: str) -> dict[str, Any]:
    money = {"amount": render.money(amount), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def order_money_bag(order: ChannelOrder, amount: Decimal | str) -> dict[str, Any]:
    """A MoneyBag of the order: shopMoney in the shop's currency, presentmentMoney in the currency
    the customer paid in (``render.presentment``; the same unless the order is multi-currency)."""
    rest = render.order_money_set(order, amount)
    return {
        "shopMoney": {"amount": rest["shop_money"]["amount"], "currencyCode": rest["shop_money"]["currency_code"]},
        "presentmentMoney": {
            "amount": rest["presentment_money"]["amount"],
            "currencyCode": rest["presentment_money"]["currency_code"],
        },
    }


def page_size(first: int | None, last: int | None) -> int:
    """``first`` as Shopify checks it: one of first/last, at most 250."""
    if last is not None:
        raise GraphQLError("This sandbox lists forwards only: use first and after")
    if first is None:
        raise GraphQLError("you must provide one of first or last")
    if not 0 <= first <= MAX_PAGE:
        raise GraphQLError(f"The first argument must be between 0 and {MAX_PAGE}")
    return first


def _index_cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"i{index}".encode()).decode()


def _index_of(cursor: str | None) -> int:
    if cursor is None:
        return -1
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise GraphQLError("Invalid cursor.") from None
    if not raw.startswith("i") or not raw[1:].isdigit():
        raise GraphQLError("Invalid cursor.")
    return int(raw[1:])


def connection(nodes: Sequence[Any], cursors: Sequence[str], *, has_next: bool, has_previous: bool) -> dict[str, Any]:
    return {
        "nodes": list(nodes),
        "edges": [{"cursor": cursor, "node": node} for cursor, node in zip(cursors, nodes, strict=True)],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def list_connection(items: Sequence[Any]) -> Callable[..., dict[str, Any]]:
    """A connection over a short list (an order's lines), paged by position."""

    def resolve(info: GraphQLResolveInfo, first: int | None = None, after: str | None = None, **_: Any) -> Any:
        size, start = page_size(first, None), _index_of(after) + 1
        chosen = list(items[start : start + size])
        cursors = [_index_cursor(start + offset) for offset in range(len(chosen))]
        return connection(chosen, cursors, has_next=start + size < len(items), has_previous=start > 0)

    return resolve


def _address(order: ChannelOrder) -> dict[str, Any]:
    rest = render._address(order)
    return {
        "id": gid("MailingAddress", int(order.external_id) + 3),
        "name": rest["name"],
        "firstName": rest["first_name"],
        "lastName": rest["last_name"],
        "company": rest["company"],
        "address1": rest["address1"],
        "address2": rest["address2"],
        "city": rest["city"],
        "province": rest["province"],
        "provinceCode": rest["province_code"],
        "zip": rest["zip"],
        "country": rest["country"],
        "countryCodeV2": rest["country_code"],
        "phone": rest["phone"],
    }


def line_node(order: ChannelOrder, line: dict[str, Any]) -> dict[str, Any]:
    rest = render.line_item(order, line)
    return {
        "__typename": "LineItem",
        "id": gid("LineItem", line["id"]),
        "name": rest["name"],
        "title": rest["title"],
        "variantTitle": rest["variant_title"],
        "sku": rest["sku"],
        "quantity": rest["quantity"],
        "currentQuantity": rest["current_quantity"],
        "unfulfilledQuantity": rest["fulfillable_quantity"],
        "product": {
            "id": gid("Product", line["product_id"]),
            "legacyResourceId": line["product_id"],
            "title": rest["title"],
        },
        "variant": {
            "id": gid("ProductVariant", line["variant_id"]),
            "legacyResourceId": line["variant_id"],
            "title": rest["variant_title"] or "Default Title",
            "sku": rest["sku"],
        },
        "originalUnitPriceSet": money_bag(line["price"], order.currency),
        "discountedUnitPriceSet": money_bag(line["price"], order.currency),
    }


def fulfillment_node(row: Fulfillment) -> dict[str, Any]:
    rest = render.fulfillment_json(row, render.ZoneInfo("UTC"))
    tracking = [{"company": rest["tracking_company"], "number": rest["tracking_number"], "url": rest["tracking_url"]}]
    lines = {str(line["id"]): line for line in row.order.lines}
    items = [
        {
            "__typename": "FulfillmentLineItem",
            "id": gid("FulfillmentLineItem", f"{row.external_id}{index:03d}"),
            "quantity": int(quantity),
            "lineItem": line_node(row.order, lines[line_id]),
        }
        for index, (line_id, quantity) in enumerate(row.payload.get("quantities", {}).items())
        if line_id in lines
    ]
    return {
        "__typename": "Fulfillment",
        "id": gid("Fulfillment", row.external_id),
        "fulfillmentLineItems": list_connection(items),
        "legacyResourceId": int(row.external_id),
        "name": rest["name"] or "",
        "status": str(rest["status"]).upper(),
        "createdAt": utc(row.created_at),
        "trackingInfo": lambda info, first=None: tracking[: first if first is not None else None]
        if rest["tracking_number"]
        else [],
    }


def fulfillment_order_node(order: ChannelOrder, account: SimAccount) -> dict[str, Any]:
    rest = render.fulfillment_order_json(order, account)
    lines = {line["id"]: line for line in order.lines}
    items = [
        {
            "id": gid("FulfillmentOrderLineItem", item["id"]),
            "totalQuantity": item["quantity"],
            "remainingQuantity": item["fulfillable_quantity"],
            "sku": lines[item["line_item_id"]]["sku"],
            "lineItem": line_node(order, lines[item["line_item_id"]]),
        }
        for item in rest["line_items"]
    ]
    return {
        "__typename": "FulfillmentOrder",
        "id": gid("FulfillmentOrder", rest["id"]),
        "status": rest["status"].upper(),
        "createdAt": utc(order.created_at),
        "updatedAt": utc(order.updated_at),
        "orderId": gid("Order", order.external_id),
        "lineItems": list_connection(items),
    }


def refund_node(order: ChannelOrder, refund: dict[str, Any]) -> dict[str, Any]:
    """One Refund, read from the REST rendering of the same refund (same ids, lines, transactions:
    kind and status in GraphQL's capitals). ``totalRefundedSet`` is what its successful ``refund``
    transactions returned (a pending refund's is zero, as the REST mapping counts it)."""
    rest = render.refund_json(order, refund, render.ZoneInfo("UTC"))
    lines = {str(line["id"]): line for line in order.lines}
    items = [
        {
            "id": gid("RefundLineItem", item["id"]),
            "quantity": item["quantity"],
            "restocked": False,
            "lineItem": line_node(order, lines[str(item["line_item_id"])]),
            "priceSet": order_money_bag(order, item["line_item"]["price"]),
            "subtotalSet": order_money_bag(order, str(item["subtotal_set"]["shop_money"]["amount"])),
            "totalTaxSet": order_money_bag(order, "0"),
        }
        for item in rest["refund_line_items"]
    ]
    transactions = [
        {
            "__typename": "OrderTransaction",
            "id": gid("OrderTransaction", item["id"]),
            "kind": str(item["kind"]).upper(),
            "status": str(item["status"]).upper(),
            "gateway": item["gateway"],
            "createdAt": utc(refund["created_at"]),
            "amountSet": order_money_bag(order, refund["amount"]),
        }
        for item in rest["transactions"]
    ]
    paid = sum(
        (Decimal(refund["amount"]) for item in transactions if (item["kind"], item["status"]) == ("REFUND", "SUCCESS")),
        Decimal(0),
    )
    return {
        "__typename": "Refund",
        "id": gid("Refund", rest["id"]),
        "legacyResourceId": rest["id"],
        "createdAt": utc(refund["created_at"]),
        "updatedAt": utc(refund["created_at"]),
        "note": rest["note"],
        "totalRefundedSet": order_money_bag(order, paid),
        "refundLineItems": list_connection(items),
        "transactions": list_connection(transactions),
    }


def refund_by_gid(account: SimAccount, value: object) -> dict[str, Any] | None:
    """The Refund with this gid, found through the order that holds it (null when none does)."""
    number = gid_number(value, "Refund")
    if number is None:
        return None
    order = account.channel_orders.filter(extra__refunds__contains=[{"id": str(number)}]).first()
    refund = next((item for item in refunds_of(order) if item["id"] == str(number)), None) if order else None
    return None if order is None or refund is None else refund_node(order, refund)


FULFILLMENT_STATUSES = {"unfulfilled": "UNFULFILLED", "partial": "PARTIALLY_FULFILLED", "fulfilled": "FULFILLED"}


def order_node(order: ChannelOrder, account: SimAccount) -> dict[str, Any]:
    """One order; every value read from the row as the REST rendering reads it."""
    extra, currency = order.extra, order.currency
    shipping = Decimal(extra.get("shipping", "0"))
    refunded = order.financial_status == "refunded"
    address = _address(order)
    email = order.customer.get("email") or None
    customer_number = render.customer_id(order.customer.get("email", ""))
    fulfillments = sorted(order.fulfillments.all(), key=lambda row: row.pk)
    lines = [line_node(order, line) for line in order.lines]
    tags = [tag.strip() for tag in str(extra.get("tags") or "").split(",") if tag.strip()]
    return {
        "__typename": "Order",
        "id": gid("Order", order.external_id),
        "legacyResourceId": int(order.external_id),
        "name": order.number,
        "createdAt": utc(order.created_at),
        "updatedAt": utc(order.updated_at),
        "processedAt": utc(order.created_at),
        "cancelledAt": utc(order.canceled_at),
        "cancelReason": order.cancel_reason.upper() or None,
        "closed": order.status in {"closed", "cancelled"},
        "closedAt": utc(extra.get("closed_at")),
        "displayFinancialStatus": order.financial_status.upper() or None,
        "displayFulfillmentStatus": FULFILLMENT_STATUSES.get(extra.get("fulfillment", "unfulfilled"), "UNFULFILLED"),
        "currencyCode": currency,
        "presentmentCurrencyCode": render.presentment(order)[0],
        "email": email,
        "phone": order.customer.get("phone"),
        "note": extra.get("note"),
        "tags": tags,
        "sourceName": extra.get("source_name", "web"),
        "customAttributes": [
            {"key": str(item.get("name", "")), "value": item.get("value")}
            for item in extra.get("note_attributes", [])
            if isinstance(item, dict)
        ],
        "totalPriceSet": order_money_bag(order, order.total),
        "subtotalPriceSet": order_money_bag(order, order.total - shipping),
        "totalShippingPriceSet": order_money_bag(order, shipping),
        "currentTotalPriceSet": money_bag(Decimal(0) if refunded else order.total, currency),
        "customer": {
            "id": gid("Customer", customer_number),
            "legacyResourceId": customer_number,
            "firstName": order.customer.get("first_name"),
            "lastName": order.customer.get("last_name"),
            "displayName": order.customer.get("name") or email or "",
            "phone": order.customer.get("phone"),
        },
        "shippingAddress": address,
        "billingAddress": dict(address),
        "lineItems": list_connection(lines),
        "fulfillmentOrders": list_connection([fulfillment_order_node(order, account)]),
        "fulfillments": lambda info, first=None: [fulfillment_node(row) for row in fulfillments][
            : first if first is not None else None
        ],
        "refunds": lambda info, first=None: [refund_node(order, refund) for refund in refunds_of(order)][
            : first if first is not None else None
        ],
    }


def webhook_topic_enum(topic: str) -> str:
    """orders/create → ORDERS_CREATE."""
    return topic.replace("/", "_").upper()


def webhook_topic_rest(topic: str) -> str:
    """ORDERS_PARTIALLY_FULFILLED → orders/partially_fulfilled (the resource, then the event)."""
    resource, _, event = topic.lower().partition("_")
    return f"{resource}/{event}"


def webhook_node(row: WebhookSubscription) -> dict[str, Any]:
    number = WEBHOOK_ID_OFFSET + row.pk
    return {
        "__typename": "WebhookSubscription",
        "id": gid("WebhookSubscription", number),
        "legacyResourceId": number,
        "topic": webhook_topic_enum(row.topic),
        "uri": row.address,
        "format": "JSON",
        "includeFields": [],
        "createdAt": utc(row.created_at),
        "updatedAt": utc(row.created_at),
    }


def shop_node(account: SimAccount) -> dict[str, Any]:
    rest = render.shop_json(account)
    return {
        "id": gid("Shop", rest["id"]),
        "name": rest["name"],
        "email": rest["email"],
        "myshopifyDomain": rest["myshopify_domain"],
        "currencyCode": rest["currency"],
        "ianaTimezone": rest["iana_timezone"],
    }
