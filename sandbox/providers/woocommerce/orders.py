"""WooCommerce order state changes: checkouts, shop-manager updates, notes and tracking.

When does the sandbox record a ``Fulfillment`` (what the control API lists) for a site?
1. A shipment-tracking item is added (``POST wc-shipment-tracking/v3/orders/<id>/shipment-trackings``,
   the official Shipment Tracking extension) → one per tracking number.
2. An order note says ``tracking`` followed by a number of 8–40 letters/digits with at least
   one digit ("Shipped via USPS, tracking number: 9400111899560000000000") → one per new number;
   the carrier comes from "via X" / "carrier: X" when present.
3. The status becomes ``completed`` and no fulfillment was recorded yet → one, with the
   tracking number of the same request's meta_data (``_tracking_number`` / ``_tracking_provider``
   or ``_wc_shipment_tracking_items``) when given, else without a number.
A number already recorded for the order is never recorded twice.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from django.db import transaction

from sandbox.clock import sim_now
from sandbox.models import ChannelOrder, Fulfillment, SimAccount
from sandbox.providers._refunds import refund_add, refunded_total
from sandbox.providers._state import counter_take
from sandbox.providers.woocommerce.hooks import order_webhook_emit
from sandbox.providers.woocommerce.render import STATUSES
from sandbox.sim.purchases import purchase_draw

STATUS_NAMES = {
    "pending": "Pending payment",
    "processing": "Processing",
    "on-hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
    "checkout-draft": "Draft",
}
TRACKING_IN_NOTE = re.compile(
    r"tracking\s*(?:number|no\.?|code|#)?\s*(?:is\b)?\s*[:#]?\s*([A-Za-z0-9][A-Za-z0-9-]{6,38}[A-Za-z0-9])", re.I
)
CARRIER_IN_NOTE = re.compile(
    r"(?:carrier\s*:|\bvia\b)\s*([A-Za-z0-9][A-Za-z0-9 &.-]{0,38}?)\s*(?=[,;\n]|\.\s|\.$|$|\s+tracking)", re.I
)


class WooError(Exception):
    """A request WooCommerce refuses: ``{"code", "message", "data": {"status", **data}}``."""

    def __init__(self, code: str, message: str, status: int = 400, **data: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.data = code, message, status, data


def orders_create(account: SimAccount, *, count: int, seed: int, **fields: Any) -> list[str]:
    """``count`` new paid ("processing") checkouts, the same for the same seed; queues order.created."""
    now = sim_now()
    first_id = counter_take(account, "order_seq", start=1201, count=count)
    first_item = counter_take(account, "item_seq", start=301, count=count * 4)
    created: list[str] = []
    with transaction.atomic():
        for index in range(count):
            key = f"{seed}:{index}"
            purchase, order_id, item = purchase_draw(key), first_id + index, first_item + index * 4
            digest = hashlib.sha256(f"woocommerce:{key}".encode()).hexdigest()
            lines = [
                {
                    "id": item + position,
                    "product_id": line.product_id % 10_000,
                    "variant_id": line.variant_id % 100_000,
                    "sku": line.sku,
                    "title": line.title,
                    "variant_title": line.variant_title,
                    "quantity": line.quantity,
                    "price": line.price,
                }
                for position, line in enumerate(purchase.lines)
            ]
            order = ChannelOrder.objects.create(
                account=account,
                external_id=str(order_id),
                number=str(order_id),
                customer=purchase.customer,
                address=purchase.address,
                lines=lines,
                currency=purchase.currency,
                total=purchase.total,
                financial_status="paid",
                status="processing",
                extra={
                    "order_key": f"wc_order_{digest[:13]}",
                    "cart_hash": digest[13:45],
                    "transaction_id": f"ch_{digest[45:64]}",
                    "customer_ip_address": f"198.51.100.{int(digest[:2], 16) % 250 + 1}",
                    "shipping_total": str(purchase.shipping),
                    "shipping_line_id": item + 3,
                    "date_paid": now.isoformat(),
                    "customer_note": str(fields.get("customer_note", "")),
                    "meta_data": [],
                    "notes": [],
                },
                created_at=now,
                updated_at=now,
            )
            order_webhook_emit(account=account, order=order, topic="order.created")
            created.append(order.external_id)
    return created


def _locked(order: ChannelOrder) -> ChannelOrder:
    return ChannelOrder.objects.select_for_update().select_related("account").get(pk=order.pk)


def _child_id(order: ChannelOrder, kind: str) -> int:
    """An id for a note or meta row, unique in the site, without locking the site row
    (the order row is already locked: taking the site lock now could deadlock the world tick)."""
    key = f"{kind}_seq"
    order.extra[key] = int(order.extra.get(key, 0)) + 1
    return order.pk * 1000 + (500 if kind == "meta" else 0) + order.extra[key]


def _note_append(order: ChannelOrder, text: str, *, author: str, customer_note: bool = False) -> dict[str, Any]:
    note = {
        "id": _child_id(order, "note"),
        "author": author,
        "date_created": sim_now().isoformat(),
        "note": text,
        "customer_note": customer_note,
    }
    order.extra.setdefault("notes", []).append(note)
    return note


REFUND_ID_OFFSET = 700_000  # refund ids follow the site's post ids, apart from its orders'


@transaction.atomic
def order_refund(*, order: ChannelOrder, body: dict[str, Any]) -> ChannelOrder:
    """The merchant refunds lines (or an amount) in the admin: the refund is kept, a note says so,
    an order refunded in full becomes ``refunded`` (WooCommerce does that itself), order.updated
    is sent."""
    order = _locked(order)
    if order.status not in {"processing", "completed", "on-hold"}:
        raise ValueError(f"a {order.status} order cannot be refunded")
    now = sim_now()
    refund_id = str(REFUND_ID_OFFSET + _child_id(order, "refund"))
    refund = refund_add(order=order, body=body, refund_id=refund_id, now=now)
    _note_append(order, f"Refunded {order.currency} {refund['amount']}.", author="system")
    if refunded_total(order) >= order.total:
        _note_append(order, f"Order status changed from {STATUS_NAMES[order.status]} to Refunded.", author="system")
        order.status, order.financial_status = "refunded", "refunded"
    order.updated_at = now
    order.save()
    order_webhook_emit(account=order.account, order=order, topic="order.updated")
    return order


def _fulfillment_record(order: ChannelOrder, *, ref: str, number: str, company: str, source: str) -> None:
    if number and order.fulfillments.filter(tracking_number=number).exists():
        return
    if not number and order.fulfillments.exists():
        return
    Fulfillment.objects.create(
        order=order,
        external_id=ref,
        tracking_number=number,
        tracking_company=company,
        payload={"source": source},
        created_at=sim_now(),
    )


def _tracking_from_meta(meta: list[dict[str, Any]]) -> tuple[str, str]:
    values = {str(item.get("key")): item.get("value") for item in meta}
    items = values.get("_wc_shipment_tracking_items")
    if isinstance(items, list) and items and isinstance(items[-1], dict):
        last = items[-1]
        provider = last.get("tracking_provider") or last.get("custom_tracking_provider") or ""
        return str(last.get("tracking_number") or ""), str(provider)
    number = values.get("_tracking_number") or values.get("tracking_number") or ""
    return str(number), str(values.get("_tracking_provider") or values.get("tracking_provider") or "")


def _meta_merge(order: ChannelOrder, meta: Any) -> None:
    if not isinstance(meta, list) or not all(isinstance(item, dict) and "key" in item for item in meta):
        raise WooError(
            "rest_invalid_param",
            "Invalid parameter(s): meta_data",
            params={"meta_data": "meta_data[0] is not of type object."},
        )
    current: list[dict[str, Any]] = order.extra.setdefault("meta_data", [])
    for item in meta:
        existing = next((m for m in current if m["key"] == item["key"]), None)
        if existing is not None:
            existing["value"] = item.get("value")
        else:
            current.append({"id": _child_id(order, "meta"), "key": str(item["key"]), "value": item.get("value")})


@transaction.atomic
def order_update(*, order: ChannelOrder, data: dict[str, Any], author: str = "system") -> ChannelOrder:
    """PUT orders/<id>: status, customer_note, meta_data, transaction_id; queues order.updated."""
    order = _locked(order)
    status = data.get("status")
    if status is not None and status not in STATUSES:
        message = f"status is not one of {', '.join(STATUSES[:-1])}, and {STATUSES[-1]}."
        raise WooError("rest_invalid_param", "Invalid parameter(s): status", params={"status": message})
    if "meta_data" in data:
        _meta_merge(order, data["meta_data"])
    if isinstance(data.get("customer_note"), str):
        order.extra["customer_note"] = data["customer_note"]
    if isinstance(data.get("transaction_id"), str):
        order.extra["transaction_id"] = data["transaction_id"]
    now = sim_now()
    if status is not None and status != order.status:
        _note_append(
            order, f"Order status changed from {STATUS_NAMES[order.status]} to {STATUS_NAMES[status]}.", author=author
        )
        order.status = status
        if status == "completed":
            order.extra["date_completed"] = now.isoformat()
            number, company = _tracking_from_meta(order.extra.get("meta_data", []))
            _fulfillment_record(
                order, ref=f"completed-{order.external_id}", number=number, company=company, source="completed"
            )
        elif status == "cancelled" and order.canceled_at is None:
            order.canceled_at, order.cancel_reason = now, str(data.get("_cancel_reason", "merchant"))
        elif status == "refunded":
            order.financial_status = "refunded"
    order.updated_at = now
    order.save()
    order_webhook_emit(account=order.account, order=order, topic="order.updated")
    return order


@transaction.atomic
def note_add(*, order: ChannelOrder, note: str, customer_note: bool, author: str) -> dict[str, Any]:
    """POST orders/<id>/notes; a note naming a tracking number records a fulfillment (rule 2)."""
    order = _locked(order)
    added = _note_append(order, note, author=author, customer_note=customer_note)
    order.save(update_fields=["extra"])
    match = TRACKING_IN_NOTE.search(note)
    if match and any(ch.isdigit() for ch in match.group(1)):
        carrier = CARRIER_IN_NOTE.search(note)
        _fulfillment_record(
            order,
            ref=f"note-{added['id']}",
            number=match.group(1),
            company=carrier.group(1).strip() if carrier else "",
            source="note",
        )
    return added


@transaction.atomic
def tracking_add(*, order: ChannelOrder, data: dict[str, Any]) -> dict[str, Any]:
    """Shipment Tracking extension: add a tracking item (rule 1)."""
    order = _locked(order)
    number = data.get("tracking_number")
    if not isinstance(number, str) or not number.strip():
        raise WooError(
            "rest_missing_callback_param", "Missing parameter(s): tracking_number", params=["tracking_number"]
        )
    provider = str(data.get("tracking_provider") or data.get("custom_tracking_provider") or "")
    link = str(data.get("custom_tracking_link") or "").replace("%1$s", number)
    item = {
        "tracking_id": hashlib.md5(f"{order.pk}:{number}:{provider}".encode(), usedforsecurity=False).hexdigest(),
        "tracking_provider": provider,
        "tracking_link": link,
        "tracking_number": number.strip(),
        "date_shipped": str(data.get("date_shipped") or sim_now().date().isoformat()),
    }
    meta = order.extra.setdefault("meta_data", [])
    entry = next((m for m in meta if m["key"] == "_wc_shipment_tracking_items"), None)
    if entry is None:
        entry = {"id": _child_id(order, "meta"), "key": "_wc_shipment_tracking_items", "value": []}
        meta.append(entry)
    entry["value"] = [*entry["value"], item]
    order.save(update_fields=["extra"])
    _fulfillment_record(
        order,
        ref=f"st-{item['tracking_id']}",
        number=item["tracking_number"],
        company=provider,
        source="shipment_tracking",
    )
    return item


def tracking_items(order: ChannelOrder) -> list[dict[str, Any]]:
    entry = next((m for m in order.extra.get("meta_data", []) if m["key"] == "_wc_shipment_tracking_items"), None)
    return list(entry["value"]) if entry else []
