"""Shopify order state changes: customers ordering, cancelling, and the app creating fulfillments.

Each change saves the order and queues the webhooks Shopify sends for it in the same
transaction (the outbox in sandbox/webhooks.py), so a rolled-back change sends nothing.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction

from sandbox.clock import sim_now
from sandbox.models import ChannelOrder, Fulfillment, SimAccount
from sandbox.providers._refunds import refund_add, refunded_total
from sandbox.providers._state import counter_take
from sandbox.providers.shopify import render
from sandbox.providers.shopify.errors import ShopifyError
from sandbox.providers.shopify.hooks import order_webhooks_emit, webhook_emit
from sandbox.sim.purchases import purchase_draw

ORDER_ID_BASE = 5_100_000_000_000
LINE_ID_BASE = 13_000_000_000_000
FULFILLMENT_ID_BASE = 4_900_000_000_000
CANCEL_REASONS = ("customer", "declined", "fraud", "inventory", "other", "staff")
REFUND_ID_BASE = 8_800_000_000_000
__all__ = ["ShopifyError", "fulfillment_create", "order_cancel", "order_refund", "order_touch", "orders_create"]


def _order_id(account: SimAccount, seq: int) -> int:
    return ORDER_ID_BASE + account.pk * 1_000_000 + seq


def orders_create(account: SimAccount, *, count: int, seed: int, **fields: Any) -> list[str]:
    """``count`` new paid orders, the same for the same seed; queues orders/create and orders/paid.

    Optional ``fields``: source_name, tags, note_attributes (e.g. to mimic a sales channel app);
    presentment_currency (three capital letters) with presentment_rate (a positive decimal string:
    how many of it one unit of the shop's money is) makes multi-currency orders, whose customer paid
    in another currency than the shop's (``render.presentment``). ValueError for bad ones.
    """
    presentment = _presentment_fields(fields)
    now = sim_now()
    first = counter_take(account, "order_seq", start=1, count=count)
    created: list[str] = []
    with transaction.atomic():
        for index in range(count):
            seq = first + index
            key = f"{seed}:{index}"
            purchase = purchase_draw(key)
            order_id = _order_id(account, seq)
            digest = hashlib.sha256(f"shopify:{key}".encode()).hexdigest()
            lines = [
                {
                    "id": LINE_ID_BASE + (account.pk * 1_000_000 + seq) * 10 + position,
                    "product_id": line.product_id,
                    "variant_id": line.variant_id,
                    "sku": line.sku,
                    "title": line.title,
                    "variant_title": line.variant_title,
                    "quantity": line.quantity,
                    "price": line.price,
                    "grams": line.grams,
                }
                for position, line in enumerate(purchase.lines)
            ]
            order = ChannelOrder.objects.create(
                account=account,
                external_id=str(order_id),
                number=f"#{1000 + seq}",
                customer=purchase.customer,
                address=purchase.address,
                lines=lines,
                currency=purchase.currency,
                total=purchase.total,
                financial_status="paid",
                status="open",
                extra={
                    "order_number": 1000 + seq,
                    "token": digest[:32],
                    "confirmation_number": digest[32:41].upper(),
                    "browser_ip": f"203.0.113.{int(digest[41:43], 16) % 250 + 1}",
                    "source_name": fields.get("source_name", "web"),
                    "tags": fields.get("tags", ""),
                    "note_attributes": fields.get("note_attributes", []),
                    "note": None,
                    "shipping": str(purchase.shipping),
                    "fulfillment": "unfulfilled",
                    "fulfilled": {},
                    **presentment,
                },
                created_at=now,
                updated_at=now,
            )
            order_webhooks_emit(account=account, order=order, topics=("orders/create", "orders/paid"))
            created.append(order.external_id)
    return created


def _presentment_fields(fields: dict[str, Any]) -> dict[str, str]:
    """``presentment_currency`` and ``presentment_rate`` of a create call, checked; {} if not given."""
    code, rate = fields.get("presentment_currency"), fields.get("presentment_rate", "1")
    if code is None:
        return {}
    if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()):
        raise ValueError("presentment_currency must be three capital letters")
    try:
        number = Decimal(str(rate))
    except InvalidOperation:
        raise ValueError("presentment_rate must be a decimal string") from None
    if not (number.is_finite() and Decimal("0.0001") <= number <= Decimal(100000)):
        raise ValueError("presentment_rate must be between 0.0001 and 100000")
    return {"presentment_currency": code, "presentment_rate": str(number)}


def _locked(order: ChannelOrder) -> ChannelOrder:
    return ChannelOrder.objects.select_for_update().select_related("account").get(pk=order.pk)


@transaction.atomic
def order_cancel(*, order: ChannelOrder, reason: str = "other", refund: bool = False) -> ChannelOrder:
    """Cancel an unfulfilled order (by the merchant's app, or by the buyer with reason "customer")."""
    order = _locked(order)
    if reason not in CANCEL_REASONS:
        raise ShopifyError(422, {"reason": ["is not included in the list"]})
    if order.canceled_at is not None:
        raise ShopifyError(422, {"base": ["Order has already been cancelled"]})
    if order.extra.get("fulfillment", "unfulfilled") != "unfulfilled":
        raise ShopifyError(422, {"base": ["Cannot cancel an order that has fulfillments"]})
    now = sim_now()
    order.canceled_at, order.cancel_reason, order.status = now, reason, "cancelled"
    if refund and order.financial_status in {"paid", "partially_refunded"}:
        order.financial_status = "refunded"
    elif order.financial_status in {"authorized", "pending"}:
        order.financial_status = "voided"
    order.extra["closed_at"] = now.isoformat()
    order.updated_at = now
    order.save()
    order_webhooks_emit(account=order.account, order=order, topics=("orders/cancelled", "orders/updated"))
    return order


@transaction.atomic
def order_touch(*, order: ChannelOrder, note: str | None = None, tags: str | None = None) -> ChannelOrder:
    """The merchant edits the order (note, tags): updated_at moves and orders/updated is sent."""
    order = _locked(order)
    if note is not None:
        order.extra["note"] = note
    if tags is not None:
        order.extra["tags"] = tags
    order.updated_at = sim_now()
    order.save()
    order_webhooks_emit(account=order.account, order=order, topics=("orders/updated",))
    return order


@transaction.atomic
def order_refund(*, order: ChannelOrder, body: dict[str, Any]) -> ChannelOrder:
    """The merchant refunds lines (or an amount) of a paid order: financial_status becomes
    partially_refunded or refunded, and refunds/create (the refund) and orders/updated are sent.
    ``body["status"]`` (success unless given: pending, failure, error) is the status of the
    refund's transaction, as both APIs render it (a pending refund moves the financial status
    all the same in this sandbox, so that reads of refunded orders see it)."""
    order = _locked(order)
    if order.financial_status not in {"paid", "partially_refunded"}:
        raise ValueError(f"a {order.financial_status} order cannot be refunded")
    status = body.get("status", "success")
    if status not in render.REFUND_STATUSES:
        raise ValueError(f"status must be one of {render.REFUND_STATUSES}")
    account = order.account
    seq = counter_take(account, "refund_seq", start=1)
    now = sim_now()
    refund = refund_add(order=order, body=body, refund_id=str(REFUND_ID_BASE + account.pk * 1_000_000 + seq), now=now)
    refund["transaction_status"] = status
    order.financial_status = "refunded" if refunded_total(order) >= order.total else "partially_refunded"
    order.updated_at = now
    order.save()
    webhook_emit(
        account=account, topic="refunds/create", payload=render.refund_json(order, refund, render.shop_tz(account))
    )
    order_webhooks_emit(account=account, order=order, topics=("orders/updated",))
    return order


def _requested_quantities(order: ChannelOrder, fo_id: int, items: Any) -> dict[str, int]:
    """Line item id → quantity to fulfil; every remaining item when ``items`` is omitted."""
    remaining = {
        str(line["id"]): line["quantity"] - int(order.extra.get("fulfilled", {}).get(str(line["id"]), 0))
        for line in order.lines
    }
    if items is None:
        return {line_id: qty for line_id, qty in remaining.items() if qty > 0}
    if not isinstance(items, list) or not items:
        raise ShopifyError(400, {"fulfillment": "Required parameter missing or invalid"})
    wanted: dict[str, int] = {}
    for item in items:
        fo_line_id, quantity = (item.get("id"), item.get("quantity")) if isinstance(item, dict) else (None, None)
        if not isinstance(fo_line_id, int) or not isinstance(quantity, int):
            raise ShopifyError(400, {"fulfillment": "Required parameter missing or invalid"})
        line_id = str(fo_line_id - render.FO_LINE_ID_OFFSET)
        if line_id not in remaining:
            raise ShopifyError(422, [f"Fulfillment order line item {fo_line_id} does not belong to {fo_id}."])
        wanted[line_id] = wanted.get(line_id, 0) + quantity
    if any(qty <= 0 or qty > remaining[line_id] for line_id, qty in wanted.items()):
        raise ShopifyError(422, ["Invalid fulfillment order line item quantity requested."])
    return wanted


@transaction.atomic
def fulfillment_create(*, account: SimAccount, data: Any) -> Fulfillment:
    """POST fulfillments.json: fulfil fulfillment-order lines with one tracking number."""
    groups = data.get("line_items_by_fulfillment_order") if isinstance(data, dict) else None
    if not isinstance(groups, list) or not groups or not all(isinstance(g, dict) for g in groups):
        raise ShopifyError(400, {"fulfillment": "Required parameter missing or invalid"})
    fo_ids = {g.get("fulfillment_order_id") for g in groups}
    if len(fo_ids) != 1 or not isinstance(next(iter(fo_ids)), int):
        raise ShopifyError(422, ["All fulfillment orders must belong to the same order and be given once."])
    fo_id = int(next(iter(fo_ids)))
    order = account.channel_orders.filter(external_id=str(fo_id - render.FO_ID_OFFSET)).first()
    if order is None:
        raise ShopifyError(404, "Not Found")
    # Locks in one order everywhere: the shop row (counter) first, then the order row.
    seq = counter_take(account, "fulfillment_seq", start=1)
    order = _locked(order)
    status = render.fulfillment_order_status(order)
    if status not in {"open", "in_progress"}:
        raise ShopifyError(422, [f"Fulfillment order {fo_id} has an unfulfillable status= {status}."])
    quantities = _requested_quantities(order, fo_id, groups[0].get("fulfillment_order_line_items"))
    if not quantities:
        raise ShopifyError(422, ["Invalid fulfillment order line item quantity requested."])
    tracking = data.get("tracking_info") or {}
    if not isinstance(tracking, dict):
        raise ShopifyError(400, {"fulfillment": "Required parameter missing or invalid"})
    number, company = str(tracking.get("number") or ""), str(tracking.get("company") or "")
    now = sim_now()
    fulfilled = order.extra.setdefault("fulfilled", {})
    for line_id, qty in quantities.items():
        fulfilled[line_id] = int(fulfilled.get(line_id, 0)) + qty
    complete = all(int(fulfilled.get(str(line["id"]), 0)) >= line["quantity"] for line in order.lines)
    order.extra["fulfillment"] = "fulfilled" if complete else "partial"
    if complete and order.account.options.get("auto_archive", True):
        order.status, order.extra["closed_at"] = "closed", now.isoformat()
    order.updated_at = now
    order.save()
    row = Fulfillment.objects.create(
        order=order,
        external_id=str(FULFILLMENT_ID_BASE + account.pk * 1_000_000 + seq),
        tracking_number=number,
        tracking_company=company,
        payload={
            "status": "success",
            "name": f"{order.number}.{order.fulfillments.count() + 1}",
            "quantities": quantities,
            "tracking_url": (tracking.get("url") or render.tracking_url(company, number)) if number else None,
            "message": data.get("message"),
            "notify_customer": bool(data.get("notify_customer", False)),
        },
        created_at=now,
    )
    webhook_emit(
        account=account, topic="fulfillments/create", payload=render.fulfillment_json(row, render.shop_tz(account))
    )
    topic = "orders/fulfilled" if complete else "orders/partially_fulfilled"
    order_webhooks_emit(account=account, order=order, topics=(topic, "orders/updated"))
    return row
