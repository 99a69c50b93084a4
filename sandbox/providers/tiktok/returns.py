"""TikTok Shop returns and refunds (Return and Refund API 202309), simulated.

- Control: ``POST /sandbox/_control/tiktok/<name>/orders/<id>/refund`` {"lines": [{"line_id", "quantity": 1}],
  "note"?, "amount"?, "type"?: "REFUND" | "RETURN_AND_REFUND", "status"?: a return status} completes a
  refund (``RETURN_OR_REFUND_REQUEST_COMPLETE`` unless another status is given) and sends
  RETURN_STATUS_CHANGE (webhook type 12) with the order id, the return id and its status.
- API: ``POST /return_refund/202309/returns/search`` (query ``page_size`` 1–50, ``page_token``;
  body ``order_ids`` (at most 50), ``return_status``? a list) → ``return_orders`` with each return's
  ``refund_amount`` and ``return_line_items`` (one per unit, as TikTok's order line items are).
The refunds live in ``ChannelOrder.extra["refunds"]`` (``sandbox.providers._refunds``).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from sandbox.clock import sim_now
from sandbox.models import ChannelOrder
from sandbox.providers._refunds import refund_add, refunds_of
from sandbox.providers.tiktok import render
from sandbox.providers.tiktok.api import NO_PERMISSION, Call, TikTokError, invalid, tiktok_api
from sandbox.providers.tiktok.render import digits_id
from sandbox.providers.tiktok.sellers import webhook_signer
from sandbox.providers.tiktok.signing import webhook_authorization
from sandbox.webhooks import webhook_enqueue

RETURN_STATUS_CHANGE = 12
COMPLETE = "RETURN_OR_REFUND_REQUEST_COMPLETE"
STATUSES = (
    "RETURN_OR_REFUND_REQUEST_PENDING",
    "REFUND_OR_RETURN_REQUEST_REJECT",
    "AWAITING_BUYER_SHIP",
    "BUYER_SHIPPED_ITEM",
    "REJECT_RECEIVE_PACKAGE",
    "RETURN_OR_REFUND_REQUEST_SUCCESS",
    "RETURN_OR_REFUND_REQUEST_CANCEL",
    COMPLETE,
)
TYPES = ("REFUND", "RETURN_AND_REFUND")
MAX_PAGE_SIZE = MAX_IDS = 50
REFUNDABLE = (
    render.AWAITING_SHIPMENT,
    render.PARTIALLY_SHIPPING,
    render.AWAITING_COLLECTION,
    render.IN_TRANSIT,
    render.DELIVERED,
    render.COMPLETED,
)


def _webhook(order: ChannelOrder, refund: dict[str, Any]) -> None:
    account = order.account
    url = account.options.get("webhook_url")
    if not url:
        return
    at = int(order.updated_at.timestamp())
    payload = {
        "type": RETURN_STATUS_CHANGE,
        "tts_notification_id": digits_id("73", secrets.token_hex(8), 19),
        "shop_id": account.credentials["shop_id"],
        "timestamp": at,
        "data": {
            "order_id": order.external_id,
            "return_id": refund["id"],
            "return_role": "SELLER",
            "return_type": refund["type"],
            "return_status": refund["status"],
            "create_time": at,
            "update_time": at,
        },
    }
    body = json.dumps(payload, separators=(",", ":"))
    app_key, app_secret = webhook_signer(account)
    webhook_enqueue(
        account=account,
        topic="RETURN_STATUS_CHANGE",
        url=url,
        body=body,
        headers={"Authorization": webhook_authorization(app_key=app_key, app_secret=app_secret, body=body.encode())},
        max_attempts=5,
    )


@transaction.atomic
def seller_refund(order: ChannelOrder, body: dict[str, Any]) -> ChannelOrder:
    """The seller refunds units of a paid order (control API); RETURN_STATUS_CHANGE is sent."""
    order = ChannelOrder.objects.select_for_update(of=("self",)).select_related("account").get(pk=order.pk)
    if order.status not in REFUNDABLE:
        raise ValueError(f"a {order.status} order cannot be refunded")
    kind, status = body.get("type", "REFUND"), body.get("status", COMPLETE)
    if kind not in TYPES or status not in STATUSES:
        raise ValueError(f"type must be one of {TYPES} and status one of {STATUSES}")
    now = sim_now()
    refund_id = digits_id("4035", f"{order.external_id}:return:{len(refunds_of(order))}", 19)
    refund = refund_add(order=order, body=body, refund_id=refund_id, now=now)
    refund.update(type=kind, status=status)
    order.updated_at = now
    order.save()
    _webhook(order, refund)
    return order


def return_json(order: ChannelOrder, refund: dict[str, Any]) -> dict[str, Any]:
    lines = {str(line["id"]): line for line in order.lines}
    at = int(datetime.fromisoformat(refund["created_at"]).timestamp())
    items = [
        {
            "return_line_item_id": digits_id("4036", f"{refund['id']}:{position}", 19),
            "order_line_item_id": str(item["line_id"]),
            "sku_id": lines[str(item["line_id"])]["variant_id"],
            "product_name": lines[str(item["line_id"])]["title"],
            "seller_sku": lines[str(item["line_id"])]["sku"],
            "refund_amount": {"currency": order.currency, "refund_total": f"{Decimal(item['amount']):.2f}"},
        }
        for position, item in enumerate(refund["lines"])
        for _unit in range(int(item["quantity"]))  # one return line item per unit
    ]
    amount = f"{Decimal(refund['amount']):.2f}"
    return {
        "return_id": refund["id"],
        "order_id": order.external_id,
        "return_type": refund.get("type", "REFUND"),
        "return_status": refund.get("status", COMPLETE),
        "role": "SELLER",
        "return_reason_text": refund.get("note", ""),
        "create_time": at,
        "update_time": at,
        "refund_amount": {
            "currency": order.currency,
            "refund_total": amount,
            "refund_subtotal": amount,
            "refund_shipping_fee": "0.00",
            "refund_tax": "0.00",
        },
        "return_line_items": items,
    }


@tiktok_api("POST")
def returns_search(request: HttpRequest, call: Call) -> dict[str, Any]:
    if call.account.options.get("returns_permission") is False:  # the app lacks Return & Refund
        raise TikTokError(NO_PERMISSION, "The app has no permission for this API (Return and Refund).", status=403)
    try:
        page_size = int(call.params.get("page_size", "0"))
        offset = int(call.params.get("page_token") or 0)
    except ValueError:
        raise invalid("page_size and page_token must be numbers.") from None
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise invalid(f"page_size must be between 1 and {MAX_PAGE_SIZE}.")
    ids = call.body.get("order_ids") or []
    if not isinstance(ids, list) or len(ids) > MAX_IDS or not all(isinstance(i, str) for i in ids):
        raise invalid(f"order_ids must be a list of at most {MAX_IDS} order ids.")
    wanted_status = call.body.get("return_status")
    orders = call.account.channel_orders.filter(external_id__in=ids) if ids else call.account.channel_orders.all()
    found = [
        return_json(order, refund)
        for order in orders.order_by("id")
        for refund in refunds_of(order)
        if not wanted_status or refund.get("status", COMPLETE) in wanted_status
    ]
    page = found[offset : offset + page_size]
    more = offset + page_size < len(found)
    return {
        "return_orders": page,
        "next_page_token": str(offset + page_size) if more else "",
        "total_count": len(found),
    }
