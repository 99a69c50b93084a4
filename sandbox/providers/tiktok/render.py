"""TikTok Shop JSON (202309) for sandbox rows: ids as strings, times as unix seconds, money as strings."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

import phonenumbers

from sandbox.models import ChannelOrder

# Statuses an order goes through (TikTok's own words).
UNPAID, ON_HOLD, AWAITING_SHIPMENT = "UNPAID", "ON_HOLD", "AWAITING_SHIPMENT"
PARTIALLY_SHIPPING, AWAITING_COLLECTION, IN_TRANSIT = "PARTIALLY_SHIPPING", "AWAITING_COLLECTION", "IN_TRANSIT"
DELIVERED, COMPLETED, CANCELLED = "DELIVERED", "COMPLETED", "CANCELLED"
ORDER_STATUSES: tuple[str, ...] = (UNPAID, ON_HOLD, AWAITING_SHIPMENT, PARTIALLY_SHIPPING, AWAITING_COLLECTION)
ORDER_STATUSES += (IN_TRANSIT, DELIVERED, COMPLETED, CANCELLED)
SHIPPABLE = (AWAITING_SHIPMENT, PARTIALLY_SHIPPING)

WAREHOUSE_ID = "7068517275539719942"
DELIVERY_OPTION_ID = "7091146663229654785"
# Shipping providers a seller-shipped order may use: id → name (ids look like TikTok's; USPS is the documented one).
SHIPPING_PROVIDERS: dict[str, str] = {
    "6617675021119438849": "USPS",
    "6617675021119438850": "UPS",
    "6617675021119438851": "FedEx",
    "6617675021119438852": "DHL eCommerce",
    "7117858858072016686": "YunExpress",
    "7117859084333745966": "4PX",
    "7129736293314135814": "Cainiao",
    "7129736293314135815": "Yanwen",
    "7129736293314135816": "China Post",
    "6841743441349706241": "TT Virtual express",
}


def digits_id(prefix: str, key: str, length: int = 18) -> str:
    """A TikTok-looking numeric id, fixed for ``key``."""
    number = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    return prefix + str(number)[: length - len(prefix)]


def ts(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


# A seller-shipped order's recipient is shown in full while the seller has it to ship, masked
# before payment and once the parcel is on its way (TikTok Seller University, "Customer Information
# Data Desensitization"); an order's ``mask_recipient`` extra masks it always (a platform-shipped
# order's recipient is never shown).
MASKED_STATUSES = frozenset({UNPAID, IN_TRANSIT, DELIVERED, COMPLETED, CANCELLED})


def _split_phone(phone: str) -> tuple[str, str]:
    """``+15025551234`` → ("1", "5025551234"): the calling code and the national number."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        digits = "".join(c for c in phone if c.isdigit())
        return "1", digits
    return str(number.country_code), str(number.national_number)


def _phone(order: ChannelOrder, phone: str) -> str:
    code, national = _split_phone(phone)
    if order.status in MASKED_STATUSES or order.extra.get("mask_recipient"):
        return f"(+{code}){national[:3]}-***-{national[-4:]}" if len(national) >= 7 else f"(+{code})***"
    return f"(+{code}){national}"


def _address_json(order: ChannelOrder) -> dict[str, Any]:
    address, customer = order.address, order.customer
    parts = [address.get("address1", ""), address.get("address2", ""), address.get("city", "")]
    full = ", ".join(p for p in parts if p) + f", {address.get('province_code', '')} {address.get('zip', '')}".rstrip()
    districts = [("L0", "Country", address.get("country", "")), ("L1", "State", address.get("province", ""))]
    districts.append(("L3", "City", address.get("city", "")))
    return {
        "name": customer.get("name", ""),
        "first_name": customer.get("first_name", ""),
        "last_name": customer.get("last_name", ""),
        "phone_number": _phone(order, customer.get("phone", "")),
        "address_line1": address.get("address1", ""),
        "address_line2": address.get("address2", ""),
        "address_line3": "",
        "address_line4": "",
        "address_detail": address.get("address2", ""),
        "postal_code": address.get("zip", ""),
        "region_code": address.get("country_code", "US"),
        "full_address": full,
        "district_info": [
            {"address_level": level, "address_level_name": name, "address_name": value}
            for level, name, value in districts
            if value
        ],
    }


def line_display_status(order: ChannelOrder, package: dict[str, Any] | None) -> str:
    if order.status in (UNPAID, ON_HOLD, CANCELLED, DELIVERED, COMPLETED) or package is None:
        return order.status
    return package.get("display_status", AWAITING_SHIPMENT)


def _line_json(order: ChannelOrder, line: dict[str, Any], package: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": line["id"],
        "product_id": line["product_id"],
        "product_name": line["title"],
        "sku_id": line["variant_id"],
        "sku_name": line["variant_title"],
        "seller_sku": line["sku"],
        "sku_image": f"https://p16-oec-va.ibyteimg.com/tos-maliva-i-o3syd03w52-us/{line['variant_id']}~tplv-o3syd03w52-origin-jpeg.jpeg",
        "sale_price": line["price"],
        "original_price": line["price"],
        "seller_discount": "0",
        "platform_discount": "0",
        "currency": order.currency,
        "display_status": line_display_status(order, package),
        "package_id": package["id"] if package else "",
        "package_status": package["status"] if package else "TO_FULFILL",
        "tracking_number": package.get("tracking_number", "") if package else "",
        "shipping_provider_id": package.get("shipping_provider_id", "") if package else "",
        "shipping_provider_name": package.get("shipping_provider", "") if package else "",
        "is_gift": False,
        "rts_time": package.get("rts_time") if package else None,
        "cancel_user": order.extra.get("cancellation_initiator", "") if order.status == CANCELLED else "",
    }


def order_json(order: ChannelOrder) -> dict[str, Any]:
    extra = order.extra
    packages = extra.get("packages", [])
    package_of = {line_id: package for package in packages for line_id in package["line_item_ids"]}
    first = next((p for p in packages if p.get("tracking_number")), None)
    sub_total = Decimal(extra.get("sub_total", str(order.total)))
    body: dict[str, Any] = {
        "id": order.external_id,
        "status": order.status,
        "create_time": ts(order.created_at),
        "update_time": ts(order.updated_at),
        "paid_time": extra.get("paid_time"),
        "user_id": extra.get("user_id", ""),
        "buyer_email": f"v{extra.get('user_id', '')[-12:]}@scs.tiktokw.us",
        "buyer_message": extra.get("buyer_message", ""),
        "is_on_hold_order": order.status == ON_HOLD,
        "is_cod": False,
        "is_sample_order": False,
        "is_replacement_order": False,
        "shipping_type": "SELLER",
        "fulfillment_type": "FULFILLMENT_BY_SELLER",
        "delivery_type": "HOME_DELIVERY",
        "delivery_option_id": DELIVERY_OPTION_ID,
        "delivery_option_name": "Standard shipping",
        "warehouse_id": WAREHOUSE_ID,
        "payment_method_name": "Credit/Debit card",
        "shipping_provider": first.get("shipping_provider", "") if first else "",
        "shipping_provider_id": first.get("shipping_provider_id", "") if first else "",
        "tracking_number": first.get("tracking_number", "") if first else "",
        "packages": [{"id": package["id"]} for package in packages],
        "payment": {
            "currency": order.currency,
            "sub_total": str(sub_total),
            "shipping_fee": extra.get("shipping_fee", "0"),
            "tax": extra.get("tax", "0"),
            "total_amount": str(order.total),
            "original_total_product_price": str(sub_total),
            "original_shipping_fee": extra.get("shipping_fee", "0"),
            "seller_discount": "0",
            "platform_discount": "0",
        },
        "recipient_address": _address_json(order),
        "line_items": [_line_json(order, line, package_of.get(line["id"])) for line in order.lines],
    }
    if order.status == CANCELLED:
        body["cancel_reason"] = order.cancel_reason
        body["cancellation_initiator"] = extra.get("cancellation_initiator", "")
        body["cancel_time"] = ts(order.canceled_at)
    if extra.get("delivery_time"):
        body["delivery_time"] = extra["delivery_time"]
    return body
