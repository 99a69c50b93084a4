"""ChannelOrder → WooCommerce REST v3 JSON; responses encoded as WordPress encodes them.

Dates are site-local without an offset plus ``*_gmt`` twins; money is strings, line
``price`` a number; ``wp_json_encode`` escapes slashes and non-ASCII, so we do too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpResponse

from sandbox.models import ChannelOrder, SimAccount
from sandbox.providers._refunds import refunds_of

DEFAULT_TIMEZONE = "America/Chicago"
WC_VERSION = "9.3.3"
STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "checkout-draft")


def wp_json(data: Any) -> str:
    """JSON as WordPress's wp_json_encode writes it: ASCII only, ``/`` escaped."""
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")


def wp_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(wp_json(data), status=status, headers=headers, content_type="application/json; charset=UTF-8")


def wp_error(code: str, message: str, status: int, **data: Any) -> HttpResponse:
    return wp_response({"code": code, "message": message, "data": {"status": status, **data}}, status=status)


def site_tz(account: SimAccount) -> ZoneInfo:
    return ZoneInfo(str(account.options.get("timezone", DEFAULT_TIMEZONE)))


def site_url(account: SimAccount) -> str:
    """The site's URL as last seen by a request (set by the API entry point)."""
    return str(account.options.get("site_url", f"http://localhost/sandbox/woocommerce/{account.name}"))


def wc_dates(name: str, value: datetime | str | None, tz: ZoneInfo) -> dict[str, str | None]:
    """``{name: local, name_gmt: utc}``, both ISO 8601 without an offset, or both None."""
    if value is None:
        return {name: None, f"{name}_gmt": None}
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(tz).replace(tzinfo=None, microsecond=0)
    gmt = value.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return {name: local.isoformat(), f"{name}_gmt": gmt.isoformat()}


def money(value: Decimal | str) -> str:
    return f"{Decimal(value):.2f}"


def php_number(value: Decimal | str) -> int | float:
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)


def _links(site: str, path: str, collection: str, **more: str) -> dict[str, list[dict[str, str]]]:
    links = {
        "self": [{"href": f"{site}/wp-json/wc/v3/{path}"}],
        "collection": [{"href": f"{site}/wp-json/wc/v3/{collection}"}],
    }
    links.update({rel: [{"href": href}] for rel, href in more.items()})
    return links


def _line(line: dict[str, Any]) -> dict[str, Any]:
    total = money(Decimal(line["price"]) * line["quantity"])
    variation = line.get("variant_title") not in (None, "", "Default Title")
    return {
        "id": line["id"],
        "name": f"{line['title']} - {line['variant_title']}" if variation else line["title"],
        "product_id": line["product_id"],
        "variation_id": line["variant_id"] if variation else 0,
        "quantity": line["quantity"],
        "tax_class": "",
        "subtotal": total,
        "subtotal_tax": "0.00",
        "total": total,
        "total_tax": "0.00",
        "taxes": [],
        "meta_data": [],
        "sku": line["sku"],
        "price": php_number(line["price"]),
        "image": {"id": "", "src": ""},
        "parent_name": line["title"] if variation else None,
    }


def order_json(order: ChannelOrder, account: SimAccount) -> dict[str, Any]:
    tz, extra, c, a = site_tz(account), order.extra, order.customer, order.address
    site = site_url(account)
    oid = int(order.external_id)
    shipping = Decimal(extra.get("shipping_total", "0"))
    address = {
        "first_name": c.get("first_name", ""),
        "last_name": c.get("last_name", ""),
        "company": "",
        "address_1": a.get("address1", ""),
        "address_2": a.get("address2", ""),
        "city": a.get("city", ""),
        "state": a.get("province_code") or a.get("province", ""),
        "postcode": a.get("zip", ""),
        "country": a.get("country_code", ""),
    }
    return {
        "id": oid,
        "parent_id": 0,
        "status": order.status,
        "currency": order.currency,
        "version": WC_VERSION,
        "prices_include_tax": False,
        **wc_dates("date_created", order.created_at, tz),
        **wc_dates("date_modified", order.updated_at, tz),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": money(shipping),
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": money(order.total),
        "total_tax": "0.00",
        "customer_id": 0,
        "order_key": extra.get("order_key", ""),
        "billing": {**address, "email": c.get("email", ""), "phone": c.get("phone", "")},
        "shipping": {**address, "phone": a.get("phone", "")},
        "payment_method": "stripe",
        "payment_method_title": "Credit Card (Stripe)",
        "transaction_id": extra.get("transaction_id", ""),
        "customer_ip_address": extra.get("customer_ip_address", ""),
        "customer_user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15",
        "created_via": "checkout",
        "customer_note": extra.get("customer_note", ""),
        **wc_dates("date_completed", extra.get("date_completed"), tz),
        **wc_dates("date_paid", extra.get("date_paid"), tz),
        "cart_hash": extra.get("cart_hash", ""),
        "number": order.number,
        "meta_data": extra.get("meta_data", []),
        "line_items": [_line(line) for line in order.lines],
        "tax_lines": [],
        "shipping_lines": [
            {
                "id": extra.get("shipping_line_id", 0),
                "method_title": "Flat rate" if shipping else "Free shipping",
                "method_id": "flat_rate" if shipping else "free_shipping",
                "instance_id": "1",
                "total": money(shipping),
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [],
            }
        ],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [
            {"id": int(refund["id"]), "reason": refund.get("note", ""), "total": money(-Decimal(refund["amount"]))}
            for refund in reversed(refunds_of(order))  # newest first, as WooCommerce lists them
        ],
        "payment_url": f"{site}/checkout/order-pay/{oid}/?pay_for_order=true&key={extra.get('order_key', '')}",
        "is_editable": order.status in {"pending", "on-hold", "auto-draft"},
        "needs_payment": False,
        "needs_processing": True,
        "currency_symbol": "$" if order.currency == "USD" else order.currency,
        "_links": _links(site, f"orders/{oid}", "orders"),
    }


def note_json(note: dict[str, Any], order: ChannelOrder, account: SimAccount) -> dict[str, Any]:
    site, oid = site_url(account), order.external_id
    return {
        "id": note["id"],
        "author": note["author"],
        **wc_dates("date_created", note["date_created"], site_tz(account)),
        "note": note["note"],
        "customer_note": note["customer_note"],
        "_links": _links(
            site, f"orders/{oid}/notes/{note['id']}", f"orders/{oid}/notes", up=f"{site}/wp-json/wc/v3/orders/{oid}"
        ),
    }


def refund_json(order: ChannelOrder, refund: dict[str, Any], account: SimAccount) -> dict[str, Any]:
    """An item of GET orders/<id>/refunds: amounts positive on the refund, its lines' quantities and
    totals negative; each line names the order line it refunds in ``_refunded_item_id``."""
    tz, site, oid, rid = site_tz(account), site_url(account), int(order.external_id), int(refund["id"])
    lines = {str(line["id"]): line for line in order.lines}
    items = []
    for position, item in enumerate(refund["lines"]):
        line = _line(lines[str(item["line_id"])])
        items.append(
            {
                **line,
                "id": rid * 100 + position + 1,
                "quantity": -int(item["quantity"]),
                "subtotal": money(-Decimal(item["amount"])),
                "total": money(-Decimal(item["amount"])),
                "meta_data": [{"id": rid * 100 + 50 + position, "key": "_refunded_item_id", "value": str(line["id"])}],
                "price": -line["price"],
            }
        )
    return {
        "id": rid,
        **wc_dates("date_created", refund["created_at"], tz),
        "amount": money(refund["amount"]),
        "reason": refund.get("note", ""),
        "refunded_by": 1,
        "refunded_payment": False,
        "meta_data": [],
        "line_items": items,
        "shipping_lines": [],
        "tax_lines": [],
        "fee_lines": [],
        "_links": _links(
            site, f"orders/{oid}/refunds/{rid}", f"orders/{oid}/refunds", up=f"{site}/wp-json/wc/v3/orders/{oid}"
        ),
    }
