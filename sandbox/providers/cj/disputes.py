"""CJdropshipping API 2.0 "7 Dispute", as CJ documents it (docs/suppliers.md, "Refunds (disputes)"):

- ``GET disputes/disputeProducts?orderId=``: the order's lines a dispute may name
  (``lineItemId``, ``cjVariantId``, ``price`` per unit, ``quantity`` still open, ``canChoose``
  false while a line is under an open dispute);
- ``POST disputes/disputeConfirmInfo {orderId, productInfoList: [{lineItemId, quantity}]}``: the
  reasons (``disputeReasonList``: ``disputeReasonId``, ``reasonName``) and the most that can be
  asked (``maxProductPrice``, ``maxPostage``, ``maxAmount``);
- ``POST disputes/create {orderId, businessDisputeId, disputeReasonId, expectType, refundType,
  messageText, imageUrl, videoUrl, productInfoList: [{lineItemId, quantity, price}]}``: ``data``
  true; a repeated ``businessDisputeId`` is the same dispute (one refund at CJ);
- ``POST disputes/cancel {orderId, disputeId}``: a dispute still in review is withdrawn;
- ``GET disputes/getDisputeList?orderId=&pageNum=&pageSize=``: ``{pageNum, pageSize, total,
  list: [{id, businessDisputeId, status, disputeReason, money, finallyDeal, createDate,
  productList}]}``; ``finallyDeal`` 1 refund, 2 reissue, 3 reject (null until decided).

The sandbox's status words (CJ does not list them): PENDING (in review), PROCESSING (approved,
money not paid yet), COMPLETED (paid back), REJECTED, CANCELLED. ``price`` in create is taken as
the money asked for the line (its units together), never above the line's share of what was paid.

Account options: ``dispute_keys`` ``"off"``: CJ as its docs leave it unconfirmed: a repeated
``businessDisputeId`` is a new dispute (no replay) and the list echoes no key (null). Every call
that reaches ``disputes/create`` is counted in the option ``dispute_create_calls`` (tests count
creates at the supplier). ``dispute_create_answer`` ``"busy"``: the dispute is made, then the
answer is CJ's 1600000 "System busy" (an answer lost after the supplier made it).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest

from sandbox.clock import sim_now
from sandbox.models import Refund, SupplierOrder
from sandbox.providers._state import counter_take
from sandbox.providers.cj import api
from sandbox.providers.cj.api import Call, CjError, cj_api
from sandbox.providers.cj.views import CJ_TZ, sell_price
from sandbox.sim import suppliers

CENT = Decimal("0.01")
REASONS = {
    1: "Products not received",
    2: "Products damaged or defective",
    3: "Wrong products received",
    4: "Products not as described",
    5: "Other",
}
STATUS = {"in_review": "PENDING", "approved": "PROCESSING", "refunded": "COMPLETED", "rejected": "REJECTED"}
FINALLY_DEAL = {"approved": 1, "refunded": 1, "rejected": 3}
MAX_PAGE_SIZE = 100
SYSTEM_BUSY = 1600000  # CJ's documented "system busy"


def _line_id(order: SupplierOrder, index: int) -> str:
    digest = hashlib.sha256(f"cj-line:{order.external_id}:{index}".encode()).hexdigest()
    return str(2700000000000000000 + int(digest[:15], 16) % 10**17)


def _lines(order: SupplierOrder) -> list[dict[str, Any]]:
    """The order's lines: id, variant, units bought, unit price, and the line's share of what was
    paid (postage included, by the lines' price; the rounding on the last line)."""
    products = [p for p in order.request.get("payload", {}).get("products", []) if isinstance(p, dict)]
    prices = [sell_price(str(p["vid"])) * int(p["quantity"]) for p in products]
    whole = sum(prices, Decimal("0")) or Decimal("1")
    shares = [(order.amount * price / whole).quantize(CENT) for price in prices[:-1]]
    shares.append(order.amount - sum(shares, Decimal("0")))
    return [
        {
            "lineItemId": _line_id(order, index),
            "vid": str(product["vid"]),
            "quantity": int(product["quantity"]),
            "price": sell_price(str(product["vid"])),
            "share": share,
        }
        for index, (product, share) in enumerate(zip(products, shares, strict=True))
    ]


def _order(call: Call, order_id: Any) -> SupplierOrder:
    order = call.account.supplier_orders.filter(external_id=str(order_id or "")).first() if order_id else None
    if order is None:
        raise CjError(api.NOT_FOUND, "Param error" if not order_id else "Order not found")
    return order


def _taken(order: SupplierOrder) -> tuple[dict[str, int], set[str]]:
    """Units each line has under requests not rejected; the lines under an open request."""
    taken: dict[str, int] = {}
    open_lines: set[str] = set()
    for refund in order.refunds.exclude(status="rejected"):
        for part in refund.lines:
            taken[part["line_id"]] = taken.get(part["line_id"], 0) + int(part["quantity"])
            if refund.status in suppliers.OPEN_REFUND:
                open_lines.add(part["line_id"])
    return taken, open_lines


@cj_api("GET")
def dispute_products(request: HttpRequest, call: Call) -> dict[str, Any]:
    order = _order(call, request.GET.get("orderId"))
    taken, open_lines = _taken(order)
    paid = order.charges.exists()
    return {
        "orderId": order.external_id,
        "orderNumber": order.idempotency_key,
        "productInfoList": [
            {
                "lineItemId": line["lineItemId"],
                "cjProductId": f"P{line['vid']}",
                "cjVariantId": line["vid"],
                "canChoose": paid
                and line["lineItemId"] not in open_lines
                and line["quantity"] > taken.get(line["lineItemId"], 0),
                "price": float(line["price"]),
                "quantity": max(line["quantity"] - taken.get(line["lineItemId"], 0), 0),
                "cjProductName": f"Sandbox product {line['vid']}",
                "cjImage": "https://cf.cjdropshipping.com/sandbox.jpg",
                "sku": f"CJ{line['vid']}",
                "supplierName": "sandbox",
            }
            for line in _lines(order)
        ],
    }


def _asked(call: Call, order: SupplierOrder, *, with_price: bool) -> list[suppliers.RefundLineAsk]:
    items = call.body.get("productInfoList")
    if not isinstance(items, list) or not items:
        raise CjError(api.INVALID_PARAM, "productInfoList is required")
    lines = {line["lineItemId"]: line for line in _lines(order)}
    asked = []
    for item in items:
        if not isinstance(item, dict) or str(item.get("lineItemId") or "") not in lines:
            raise CjError(api.INVALID_PARAM, "productInfoList.lineItemId is not a line of this order")
        line = lines[str(item["lineItemId"])]
        try:
            quantity = int(str(item.get("quantity")))
            price = Decimal(str(item.get("price"))) if with_price else Decimal(0)
        except (ValueError, InvalidOperation):
            raise CjError(api.INVALID_PARAM, "productInfoList quantity and price must be numbers") from None
        if quantity < 1:
            raise CjError(api.INVALID_PARAM, "productInfoList.quantity must be a positive integer")
        cap = (line["share"] * min(quantity, line["quantity"]) / line["quantity"]).quantize(CENT)
        price = price if with_price else cap
        if not price.is_finite() or price <= 0 or price > cap:
            raise CjError(
                api.REFUND_NOT_ALLOWED,
                f"The amount for line {line['lineItemId']} must be at most {cap} (asked {price})",
            )
        asked.append(suppliers.RefundLineAsk(line_id=line["lineItemId"], quantity=quantity, amount=price))
    return asked


@cj_api("POST")
def dispute_confirm_info(request: HttpRequest, call: Call) -> dict[str, Any]:
    order = _order(call, call.body.get("orderId"))
    asked = _asked(call, order, with_price=False)
    caps = sum((line.amount for line in asked), Decimal("0"))
    postage = order.amount - sum((line["price"] * line["quantity"] for line in _lines(order)), Decimal("0"))
    return {
        "orderId": order.external_id,
        "orderNumber": order.idempotency_key,
        "maxProductPrice": float(caps - min(postage, caps)),
        "maxPostage": float(min(postage, caps)),
        "maxAmount": float(caps),
        "expectResultOptionList": ["1", "2"],
        "disputeReasonList": [{"disputeReasonId": key, "reasonName": name} for key, name in REASONS.items()],
        "productInfoList": [{"lineItemId": line.line_id, "quantity": line.quantity} for line in asked],
    }


@cj_api("POST")
def dispute_create(request: HttpRequest, call: Call) -> bool:
    counter_take(call.account, "dispute_create_calls", start=0)
    body = call.body
    order = _order(call, body.get("orderId"))
    key = str(body.get("businessDisputeId") or "").strip()
    if not key or len(key) > 100:
        raise CjError(api.INVALID_PARAM, "businessDisputeId is required (at most 100 characters)")
    if body.get("disputeReasonId") not in REASONS and str(body.get("disputeReasonId")) not in map(str, REASONS):
        raise CjError(api.INVALID_PARAM, "disputeReasonId is invalid")
    if str(body.get("expectType")) not in ("1", "2") or str(body.get("refundType", 1)) not in ("1", "2"):
        raise CjError(api.INVALID_PARAM, "expectType must be 1 (refund) or 2 (reissue); refundType 1 or 2")
    message = str(body.get("messageText") or "").strip()
    if not message or len(message) > 500:
        raise CjError(api.INVALID_PARAM, "messageText is required (at most 500 characters)")
    images = body.get("imageUrl") or []
    if not isinstance(images, list) or not all(isinstance(url, str) for url in images):
        raise CjError(api.INVALID_PARAM, "imageUrl must be a list of links")
    asked = _asked(call, order, with_price=True)
    bought = {line["lineItemId"]: line["quantity"] for line in _lines(order)}
    reason = REASONS[int(str(body["disputeReasonId"]))]
    refund = suppliers.refund_request(
        order=order,
        reason=f"{reason}: {message}",
        amount=None,
        now=sim_now(),
        key=key,
        lines=asked,
        bought=bought,
        replay=keys_kept(call.account.options),
    )
    if isinstance(refund, str):
        raise CjError(api.REFUND_NOT_ALLOWED, refund)
    suppliers.refund_answer_delay(call.account)
    if call.account.options.get("dispute_create_answer") == "busy":
        raise CjError(SYSTEM_BUSY, "System busy, please try again later")
    return True


def keys_kept(options: dict[str, Any]) -> bool:
    """False with the option ``dispute_keys`` "off" (no replay of a key, no key in the list)."""
    return options.get("dispute_keys") != "off"


def dispute_json(refund: Refund, *, echo_key: bool = True) -> dict[str, Any]:
    status = "CANCELLED" if refund.canceled else STATUS.get(refund.status, refund.status.upper())
    return {
        "id": str(9100000000 + refund.pk),
        "businessDisputeId": (refund.idempotency_key or None) if echo_key else None,
        "status": status,
        "disputeReason": refund.reason,
        "rejectReason": refund.rejection_reason or None,
        "money": float(refund.amount),
        "finallyDeal": None if refund.canceled else FINALLY_DEAL.get(refund.status),
        "createDate": refund.requested_at.astimezone(CJ_TZ).strftime("%Y-%m-%d %H:%M:%S"),
        "productList": [
            {"lineItemId": part["line_id"], "quantity": part["quantity"], "price": float(Decimal(part["amount"]))}
            for part in refund.lines
        ],
    }


def _dispute(order: SupplierOrder, dispute_id: Any) -> Refund:
    try:
        pk = int(str(dispute_id)) - 9100000000
    except ValueError:
        pk = 0
    refund = order.refunds.filter(pk=pk).first() if pk > 0 else None
    if refund is None:
        raise CjError(api.NOT_FOUND, "Dispute not found")
    return refund


@cj_api("POST")
def dispute_cancel(request: HttpRequest, call: Call) -> bool:
    order = _order(call, call.body.get("orderId"))
    refund = _dispute(order, call.body.get("disputeId"))
    why = suppliers.refund_cancel(refund_id=refund.pk, now=sim_now())
    if why:
        raise CjError(api.REFUND_NOT_ALLOWED, why)
    return True


@cj_api("GET")
def dispute_list(request: HttpRequest, call: Call) -> dict[str, Any]:
    order = _order(call, request.GET.get("orderId"))
    try:
        page = max(int(request.GET.get("pageNum") or 1), 1)
        size = min(max(int(request.GET.get("pageSize") or 10), 1), MAX_PAGE_SIZE)
    except ValueError:
        raise CjError(api.INVALID_PARAM, "pageNum and pageSize must be integers") from None
    refunds = list(order.refunds.order_by("id"))
    echo = keys_kept(call.account.options)
    chosen = refunds[(page - 1) * size : page * size]
    return {
        "pageNum": page,
        "pageSize": size,
        "total": len(refunds),
        "list": [dispute_json(r, echo_key=echo) for r in chosen],
    }
