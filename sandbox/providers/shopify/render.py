"""ChannelOrder → Shopify Admin REST JSON (2024-10 shapes): orders, fulfillment orders, fulfillments.

Pure functions: integer ids, money as strings, timestamps with the shop's UTC offset.
"""

from __future__ import annotations

import zlib
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.models import ChannelOrder, Fulfillment, SimAccount
from sandbox.providers._refunds import refunds_of

API_VERSION = "2024-10"
DEFAULT_TIMEZONE = "America/New_York"
FO_ID_OFFSET = 1_000_000_000_000  # fulfillment order id = order id + offset
FO_LINE_ID_OFFSET = 1_000_000_000_000  # fulfillment order line item id = line item id + offset
LOCATION_ID = 24826418

# Carriers Shopify knows builds a tracking URL for (FulfillmentTrackingInfo docs, partial).
TRACKING_URLS = {
    "UPS": "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "DHL Express": "https://www.dhl.com/en/express/tracking.html?AWB={}&brand=DHL",
    "DHL eCommerce": "https://webtrack.dhlecs.com/orders?trackingNumber={}",
    "4PX": "http://track.4px.com/query/{}",
    "China Post": "https://track.chinapost.com.cn/?trackNumber={}",
    "YunExpress": "https://www.yuntrack.com/parcelTracking?id={}",
    "Yanwen": "https://track.yw56.com.cn/en/querydel?nums={}",
    "Cainiao": "https://global.cainiao.com/detail.htm?mailNoList={}",
    "Canada Post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={}",
    "Royal Mail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
    "Australia Post": "https://auspost.com.au/mypost/track/#/details/{}",
}


def shop_domain(account: SimAccount) -> str:
    return f"{account.name}.myshopify.com"


def shop_json(account: SimAccount) -> dict[str, Any]:
    """GET shop.json's ``shop`` (the fields an app reads to know which shop it talks to)."""
    tz = shop_tz(account)
    created = timestamp(account.created_at, tz)
    return {
        "id": 54_000_000_000 + account.pk,
        "name": account.name,
        "email": f"owner@{shop_domain(account)}",
        "domain": shop_domain(account),
        "myshopify_domain": shop_domain(account),
        "currency": str(account.options.get("currency", "USD")),
        "iana_timezone": str(tz),
        "plan_name": "basic",
        "created_at": created,
        "updated_at": created,
    }


def shop_tz(account: SimAccount) -> ZoneInfo:
    return ZoneInfo(str(account.options.get("timezone", DEFAULT_TIMEZONE)))


def timestamp(value: datetime | str | None, tz: ZoneInfo) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(tz).isoformat(timespec="seconds")


def money(value: Decimal | str) -> str:
    return f"{Decimal(value):.2f}"


def money_set(value: Decimal | str, currency: str) -> dict[str, Any]:
    amount = {"amount": money(value), "currency_code": currency}
    return {"shop_money": amount, "presentment_money": dict(amount)}


def presentment(order: ChannelOrder) -> tuple[str, Decimal]:
    """The currency the customer paid in and how many of it one unit of the shop's money is: the
    shop's own at 1, unless the order was made with a ``presentment_currency`` (a multi-currency
    order: ``orders_create``'s ``presentment_currency`` and ``presentment_rate``)."""
    code = str(order.extra.get("presentment_currency") or order.currency)
    if code == order.currency:
        return code, Decimal(1)
    return code, Decimal(str(order.extra.get("presentment_rate", "1")))


def in_presentment(order: ChannelOrder, value: Decimal | str) -> Decimal:
    """A shop-money value in the order's presentment currency (to the cent)."""
    return (Decimal(value) * presentment(order)[1]).quantize(Decimal("0.01"))


def order_money_set(order: ChannelOrder, value: Decimal | str) -> dict[str, Any]:
    """A REST money set of the order: ``shop_money`` in the shop's currency, ``presentment_money``
    in the customer's (the same unless the order is multi-currency)."""
    code = presentment(order)[0]
    return {
        "shop_money": {"amount": money(value), "currency_code": order.currency},
        "presentment_money": {"amount": money(in_presentment(order, value)), "currency_code": code},
    }


def customer_id(email: str) -> int:
    return 6_900_000_000_000 + zlib.crc32(email.encode())


def tracking_url(company: str, number: str) -> str | None:
    template = TRACKING_URLS.get(company)
    return template.format(number) if template else None


def _address(order: ChannelOrder) -> dict[str, Any]:
    c, a = order.customer, order.address
    return {
        "first_name": c.get("first_name"),
        "address1": a.get("address1"),
        "phone": a.get("phone") or c.get("phone"),
        "city": a.get("city"),
        "zip": a.get("zip"),
        "province": a.get("province") or None,
        "country": a.get("country"),
        "last_name": c.get("last_name"),
        "address2": a.get("address2", ""),
        "company": None,
        "latitude": None,
        "longitude": None,
        "name": c.get("name"),
        "country_code": a.get("country_code"),
        "province_code": a.get("province_code") or None,
    }


def _line_fulfilled(order: ChannelOrder, line: dict[str, Any]) -> int:
    return int(order.extra.get("fulfilled", {}).get(str(line["id"]), 0))


def line_item(order: ChannelOrder, line: dict[str, Any], quantity: int | None = None) -> dict[str, Any]:
    fulfilled = _line_fulfilled(order, line)
    remaining = 0 if order.canceled_at else line["quantity"] - fulfilled
    status = "fulfilled" if fulfilled >= line["quantity"] else "partial" if fulfilled else None
    variant_title = line.get("variant_title") or None
    if variant_title == "Default Title":
        variant_title = None
    return {
        "id": line["id"],
        "admin_graphql_api_id": f"gid://shopify/LineItem/{line['id']}",
        "attributed_staffs": [],
        "current_quantity": 0 if order.canceled_at else line["quantity"],
        "fulfillable_quantity": remaining,
        "fulfillment_service": "manual",
        "fulfillment_status": status,
        "gift_card": False,
        "grams": line.get("grams", 0),
        "name": f"{line['title']} - {variant_title}" if variant_title else line["title"],
        "price": money(line["price"]),
        "price_set": money_set(line["price"], order.currency),
        "product_exists": True,
        "product_id": line["product_id"],
        "properties": [],
        "quantity": line["quantity"] if quantity is None else quantity,
        "requires_shipping": True,
        "sku": line["sku"],
        "taxable": True,
        "title": line["title"],
        "total_discount": "0.00",
        "total_discount_set": money_set("0", order.currency),
        "variant_id": line["variant_id"],
        "variant_inventory_management": "shopify",
        "variant_title": variant_title,
        "vendor": "Zopi Demo Supply",
        "tax_lines": [],
        "duties": [],
        "discount_allocations": [],
    }


def fulfillment_json(row: Fulfillment, tz: ZoneInfo) -> dict[str, Any]:
    payload = row.payload
    number = row.tracking_number or None
    url = payload.get("tracking_url")
    return {
        "id": int(row.external_id),
        "admin_graphql_api_id": f"gid://shopify/Fulfillment/{row.external_id}",
        "created_at": timestamp(row.created_at, tz),
        "location_id": LOCATION_ID,
        "name": payload.get("name"),
        "order_id": int(row.order.external_id),
        "origin_address": {},
        "receipt": {},
        "service": "manual",
        "shipment_status": None,
        "status": payload.get("status", "success"),
        "tracking_company": row.tracking_company or None,
        "tracking_number": number,
        "tracking_numbers": [number] if number else [],
        "tracking_url": url,
        "tracking_urls": [url] if url else [],
        "updated_at": timestamp(row.created_at, tz),
        "line_items": [
            line_item(row.order, line, quantity=payload["quantities"][str(line["id"])])
            for line in row.order.lines
            if str(line["id"]) in payload.get("quantities", {})
        ],
    }


def fulfillment_status(order: ChannelOrder) -> str | None:
    state = order.extra.get("fulfillment", "unfulfilled")
    return None if state == "unfulfilled" else state


def order_json(order: ChannelOrder, account: SimAccount) -> dict[str, Any]:
    tz = shop_tz(account)
    extra = order.extra
    oid = int(order.external_id)
    shipping = Decimal(extra.get("shipping", "0"))
    subtotal = order.total - shipping
    refunded = order.financial_status == "refunded"
    address = _address(order)
    email = order.customer.get("email", "")
    created = timestamp(order.created_at, tz)
    return {
        "id": oid,
        "admin_graphql_api_id": f"gid://shopify/Order/{oid}",
        "app_id": 580111,
        "browser_ip": extra.get("browser_ip"),
        "buyer_accepts_marketing": False,
        "cancel_reason": order.cancel_reason or None,
        "cancelled_at": timestamp(order.canceled_at, tz),
        "cart_token": None,
        "checkout_token": extra.get("token"),
        "closed_at": timestamp(extra.get("closed_at"), tz),
        "confirmation_number": extra.get("confirmation_number"),
        "confirmed": True,
        "contact_email": email,
        "created_at": created,
        "currency": order.currency,
        "current_subtotal_price": money(Decimal(0) if refunded else subtotal),
        "current_total_discounts": "0.00",
        "current_total_price": money(Decimal(0) if refunded else order.total),
        "current_total_tax": "0.00",
        "customer_locale": "en",
        "discount_codes": [],
        "email": email,
        "estimated_taxes": False,
        "financial_status": order.financial_status,
        "fulfillment_status": fulfillment_status(order),
        "landing_site": "/",
        "name": order.number,
        "note": extra.get("note"),
        "note_attributes": extra.get("note_attributes", []),
        "number": int(extra["order_number"]) - 1000,
        "order_number": int(extra["order_number"]),
        "order_status_url": f"https://{shop_domain(account)}/{oid}/orders/{extra.get('token')}/authenticate",
        "payment_gateway_names": ["shopify_payments"],
        "phone": order.customer.get("phone"),
        "presentment_currency": presentment(order)[0],
        "processed_at": created,
        "reference": None,
        "source_name": extra.get("source_name", "web"),
        "subtotal_price": money(subtotal),
        "subtotal_price_set": order_money_set(order, subtotal),
        "tags": extra.get("tags", ""),
        "tax_lines": [],
        "taxes_included": False,
        "test": False,
        "token": extra.get("token"),
        "total_discounts": "0.00",
        "total_line_items_price": money(subtotal),
        "total_outstanding": "0.00",
        "total_price": money(order.total),
        "total_price_set": order_money_set(order, order.total),
        "total_shipping_price_set": order_money_set(order, shipping),
        "total_tax": "0.00",
        "total_weight": sum(line.get("grams", 0) * line["quantity"] for line in order.lines),
        "updated_at": timestamp(order.updated_at, tz),
        "user_id": None,
        "billing_address": address,
        "customer": {
            "id": customer_id(email),
            "email": email,
            "created_at": created,
            "updated_at": created,
            "first_name": order.customer.get("first_name"),
            "last_name": order.customer.get("last_name"),
            "state": "disabled",
            "note": None,
            "verified_email": True,
            "tax_exempt": False,
            "phone": order.customer.get("phone"),
            "currency": order.currency,
            "tags": "",
            "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id(email)}",
            "default_address": {**address, "default": True},
        },
        "fulfillments": [fulfillment_json(row, tz) for row in sorted(order.fulfillments.all(), key=lambda r: r.pk)],
        "line_items": [line_item(order, line) for line in order.lines],
        "refunds": [refund_json(order, refund, tz) for refund in refunds_of(order)],
        "shipping_address": dict(address),
        "shipping_lines": [
            {
                "id": oid + 7,
                "code": "Standard",
                "discounted_price": money(shipping),
                "price": money(shipping),
                "price_set": money_set(shipping, order.currency),
                "source": "shopify",
                "title": "Standard Shipping",
                "tax_lines": [],
                "carrier_identifier": None,
                "discount_allocations": [],
            }
        ],
    }


def fulfillment_order_status(order: ChannelOrder) -> str:
    if order.canceled_at:
        return "cancelled"
    return {"unfulfilled": "open", "partial": "in_progress"}.get(
        order.extra.get("fulfillment", "unfulfilled"), "closed"
    )


def fulfillment_order_json(order: ChannelOrder, account: SimAccount) -> dict[str, Any]:
    tz = shop_tz(account)
    status = fulfillment_order_status(order)
    oid = int(order.external_id)
    address = _address(order)
    return {
        "id": oid + FO_ID_OFFSET,
        "shop_id": 548380009,
        "order_id": oid,
        "assigned_location_id": LOCATION_ID,
        "request_status": "unsubmitted",
        "status": status,
        "fulfill_at": None,
        "fulfill_by": None,
        "supported_actions": ["create_fulfillment", "hold"] if status in {"open", "in_progress"} else [],
        "destination": {
            key: address[key]
            for key in (
                "address1",
                "address2",
                "city",
                "company",
                "country",
                "first_name",
                "last_name",
                "phone",
                "province",
                "zip",
            )
        }
        | {"email": order.customer.get("email"), "id": oid + 3},
        "line_items": [
            {
                "id": line["id"] + FO_LINE_ID_OFFSET,
                "shop_id": 548380009,
                "fulfillment_order_id": oid + FO_ID_OFFSET,
                "quantity": line["quantity"],
                "line_item_id": line["id"],
                "inventory_item_id": line["variant_id"] + 7,
                "fulfillable_quantity": 0 if order.canceled_at else line["quantity"] - _line_fulfilled(order, line),
                "variant_id": line["variant_id"],
            }
            for line in order.lines
        ],
        "international_duties": None,
        "fulfillment_holds": [],
        "delivery_method": {"id": oid + 5, "method_type": "shipping"},
        "assigned_location": {"name": "Zopi Demo Warehouse", "location_id": LOCATION_ID, "country_code": "US"},
        "merchant_requests": [],
        "created_at": timestamp(order.created_at, tz),
        "updated_at": timestamp(order.updated_at, tz),
    }


REFUND_TRANSACTION_OFFSET = 300_000_000_000  # the refund's transaction id = refund id + offset
REFUND_LINE_OFFSET = 600_000_000_000  # a refund line item's id = refund id + offset + position


REFUND_STATUSES = ("success", "pending", "failure", "error")  # a REST transaction's status


def refund_json(order: ChannelOrder, refund: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    """A REST Refund (an item of an order's ``refunds``, and the refunds/create body): its lines'
    ``subtotal`` a number as Shopify gives it and ``subtotal_set`` in shop and presentment money,
    one ``refund`` transaction for its amount, in the currency the customer paid in (the order's
    presentment currency), with the refund's ``transaction_status`` (success unless the control
    call asked for another)."""
    oid, rid = int(order.external_id), int(refund["id"])
    at = timestamp(refund["created_at"], tz)
    lines = {str(line["id"]): line for line in order.lines}
    items = [
        {
            "id": rid + REFUND_LINE_OFFSET + position,
            "line_item_id": int(item["line_id"]),
            "location_id": None,
            "quantity": int(item["quantity"]),
            "restock_type": "no_restock",
            "subtotal": float(in_presentment(order, item["amount"])),
            "subtotal_set": order_money_set(order, item["amount"]),
            "total_tax": 0.0,
            "total_tax_set": order_money_set(order, "0"),
            "line_item": line_item(order, lines[str(item["line_id"])]),
        }
        for position, item in enumerate(refund["lines"])
        if str(item["line_id"]) in lines
    ]
    transaction_id = rid + REFUND_TRANSACTION_OFFSET
    status = str(refund.get("transaction_status") or "success")
    return {
        "id": rid,
        "order_id": oid,
        "admin_graphql_api_id": f"gid://shopify/Refund/{rid}",
        "created_at": at,
        "processed_at": at,
        "note": refund.get("note") or None,
        "restock": False,
        "user_id": None,
        "duties": [],
        "order_adjustments": [],
        "refund_line_items": items,
        "transactions": [
            {
                "id": transaction_id,
                "admin_graphql_api_id": f"gid://shopify/OrderTransaction/{transaction_id}",
                "order_id": oid,
                "kind": "refund",
                "gateway": "shopify_payments",
                "status": status,
                "message": "Transaction approved" if status == "success" else "Transaction " + status,
                "created_at": at,
                "processed_at": at,
                "test": False,
                "authorization": None,
                "currency": presentment(order)[0],
                "amount": money(in_presentment(order, refund["amount"])),
                "parent_id": None,
            }
        ],
    }
