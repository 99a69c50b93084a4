"""Customer refunds in the simulated shops: the merchant gives money back for lines of an order.

Kept provider-neutral in ``ChannelOrder.extra["refunds"]`` (each channel renders them its way):
``[{"id": str, "created_at": iso, "note": str, "amount": "1.00", "lines": [{"line_id": <the line's
id>, "quantity": int, "amount": "1.00"}]}]``, oldest first. A control call asks for one:

    POST /sandbox/_control/<provider>/<name>/orders/<id>/refund
        {"lines": [{"line_id": id, "quantity": n}], "note"?: str, "amount"?: "1.00"}
        → 200 {"order": {...}, "refund": {"id": ...}}

Refused (409) when a line is not on the order, a quantity is not positive or more than what is
left to refund of the line, or the amount is more than what is left of the order's total.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.models import ChannelOrder


def refunds_of(order: ChannelOrder) -> list[dict[str, Any]]:
    refunds = order.extra.get("refunds")
    return refunds if isinstance(refunds, list) else []


def refunded_total(order: ChannelOrder) -> Decimal:
    return sum((Decimal(refund["amount"]) for refund in refunds_of(order)), Decimal(0))


def refunded_quantity(order: ChannelOrder, line_id: object) -> int:
    return sum(
        int(item["quantity"])
        for refund in refunds_of(order)
        for item in refund["lines"]
        if str(item["line_id"]) == str(line_id)
    )


def line_key(line: dict[str, Any]) -> str:
    """A line's id as the control API names it (Shopify ``id``, WooCommerce ``id``, TikTok ``id``)."""
    return str(line["id"])


def refund_add(*, order: ChannelOrder, body: dict[str, Any], refund_id: str, now: datetime) -> dict[str, Any]:
    """Append a refund of ``body``'s lines to ``order`` (not saved); ValueError when refused."""
    lines = {line_key(line): line for line in order.lines}
    wanted = body.get("lines", [])
    if not isinstance(wanted, list):
        raise ValueError("lines must be a list of {line_id, quantity}")
    items: list[dict[str, Any]] = []
    for item in wanted:
        if not isinstance(item, dict):
            raise ValueError("each line must be an object {line_id, quantity}")
        line = lines.get(str(item.get("line_id")))
        if line is None:
            raise ValueError(f"line {item.get('line_id')!r} is not on the order")
        quantity = item.get("quantity", 1)
        left = int(line["quantity"]) - refunded_quantity(order, line["id"])
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity <= left:
            raise ValueError(f"line {line['id']}: quantity must be 1 to {left}")
        items.append({"line_id": line["id"], "quantity": quantity, "amount": str(Decimal(line["price"]) * quantity)})
    left_total = order.total - refunded_total(order)
    try:
        amount = (
            Decimal(str(body["amount"]))
            if "amount" in body
            else sum((Decimal(item["amount"]) for item in items), Decimal(0))
        )
    except InvalidOperation:
        raise ValueError("amount must be a decimal string") from None
    if not items and "amount" not in body:
        raise ValueError("a refund needs lines or an amount")
    if not Decimal(0) < amount <= left_total:
        raise ValueError(f"amount must be above 0 and at most {left_total}")
    note = body.get("note", "")
    refund = {
        "id": refund_id,
        "created_at": now.isoformat(),
        "note": note if isinstance(note, str) else "",
        "amount": f"{amount:.2f}",
        "lines": items,
    }
    order.extra["refunds"] = [*refunds_of(order), refund]
    return refund
