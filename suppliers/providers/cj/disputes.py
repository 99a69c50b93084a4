"""CJ's dispute API (API 2.0 "7 Dispute"; docs/suppliers.md, "Refunds (disputes)"): a refund
request is CJ's dispute with ``expectType`` 1 (refund) and ``refundType`` 1 (to the CJ wallet, where
the order was paid from), under ``businessDisputeId`` = our idempotency key.

- ``dispute_create``: ``GET disputes/disputeProducts?orderId`` (CJ's ``lineItemId`` per line, when
  the request does not carry it; a line CJ says cannot be chosen is refused before anything is
  asked), ``POST disputes/disputeConfirmInfo`` (the reason ids, the most that can be asked), then
  ``POST disputes/create``. CJ answers ``data: true`` without the dispute's id: it is read back
  from ``getDisputeList`` by our key.
- ``disputes_read``: ``GET disputes/getDisputeList?orderId&pageNum&pageSize`` (every page, up to
  ``MAX_PAGES``), each dispute read defensively into a ``RefundInfo``.

Status words: CJ does not list them; ``finallyDeal`` (1 refund, 2 reissue, 3 reject) is what
decides. A word we do not know and no ``finallyDeal`` is kept as received with state "".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from integrations.errors import ProviderError
from integrations.http import sanitize
from orders.enums import RefundReason, RefundState
from suppliers.providers.base import RefundAsk, RefundInfo, Refusal, SupplierRefused
from suppliers.providers.cj import errors
from suppliers.providers.cj.client import CjClient, CjRefusal

PRODUCTS_PATH, CONFIRM_PATH, CREATE_PATH, CANCEL_PATH, LIST_PATH = (
    "disputes/disputeProducts",
    "disputes/disputeConfirmInfo",
    "disputes/create",
    "disputes/cancel",
    "disputes/getDisputeList",
)
EXPECT_REFUND, REFUND_TO_BALANCE = 1, 1
DEAL_REFUND, DEAL_REISSUE, DEAL_REJECT = 1, 2, 3
PAGE_SIZE, MAX_PAGES = 50, 20
MAX_MESSAGE = 500
IN_REVIEW_WORDS = frozenset({"PENDING", "PROCESSING", "WAITING", "WAIT_PROCESS", "IN_REVIEW", "NEW", "OPEN"})
DONE_WORDS = frozenset({"COMPLETED", "COMPLETE", "FINISHED", "FINISH", "REFUNDED", "SUCCESS", "CLOSED"})
REJECT_WORDS = frozenset({"REJECTED", "REJECT", "REFUSED", "CANCELLED", "CANCELED"})
# Words in CJ's reason names that match ours (the first reason containing one is chosen).
REASON_WORDS: dict[str, tuple[str, ...]] = {
    RefundReason.NOT_RECEIVED: ("not received", "lost", "not arrived"),
    RefundReason.DAMAGED: ("damaged", "defective", "broken"),
    RefundReason.WRONG_ITEM: ("wrong",),
    RefundReason.NOT_AS_DESCRIBED: ("not as described", "description", "quality"),
    RefundReason.OTHER: ("other",),
}
MONEY_LIMIT = Decimal("1000000")
CJ_TZ = ZoneInfo("Asia/Shanghai")  # CJ's date strings ("yyyy-MM-dd HH:mm:ss", China time)
# CJ's parameter errors: our request was malformed (our bug), not CJ's decision on the refund.
REQUEST_ERRORS = frozenset({errors.NOT_FOUND, errors.INVALID_PARAM})

logger = logging.getLogger(__name__)


def _refusal(refusal: CjRefusal) -> SupplierRefused:
    said = refusal.said or str(refusal.code)
    return SupplierRefused(
        Refusal(
            code=str(refusal.code),
            message=f"CJ refused the refund request: {said}",
            fix="Open the order's disputes at CJ to see what is open there, or ask CJ support.",
            request_error=refusal.code in REQUEST_ERRORS,
        )
    )


def _money(value: Any, what: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ProviderError(f"CJdropshipping sent a dispute {what} that is not an amount")
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except ArithmeticError:
        raise ProviderError(f"CJdropshipping sent a dispute {what} that is not an amount") from None
    if not amount.is_finite() or not 0 <= amount < MONEY_LIMIT:
        raise ProviderError(f"CJdropshipping sent a dispute {what} out of range")
    return amount


def _id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return sanitize(str(value), 64)


def state_of(status: str, deal: Any) -> str:
    """Our state for CJ's status word and ``finallyDeal`` ("" when neither says one we know)."""
    word = status.upper().replace(" ", "_")
    if deal == DEAL_REJECT or (deal is None and word in REJECT_WORDS):
        return RefundState.REJECTED
    if deal == DEAL_REFUND:
        return RefundState.REFUNDED if word in DONE_WORDS else RefundState.APPROVED
    if deal is None and word in IN_REVIEW_WORDS:
        return RefundState.IN_REVIEW
    return ""  # a reissue (we asked for a refund), or a word we do not know: kept, never a move


def _created(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CJ_TZ)
    except ValueError:
        return None


def _products(value: Any) -> tuple[tuple[str, int], ...]:
    """``productList`` as (lineItemId, quantity); () when any entry cannot be read (never half)."""
    if not isinstance(value, list):
        return ()
    lines = []
    for part in value:
        quantity = part.get("quantity") if isinstance(part, dict) else None
        line_id = _id(part.get("lineItemId")) if isinstance(part, dict) else ""
        if not line_id or isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            return ()
        lines.append((line_id, quantity))
    return tuple(lines)


def dispute_info(item: Any) -> RefundInfo | None:
    """One getDisputeList entry (None: no dispute id and no key, nothing to match it by). A field
    that cannot be read is left out (amount None, status ""), logged; the entry is still kept."""
    if not isinstance(item, dict):
        return None
    external_id, key = _id(item.get("id") or item.get("disputeId")), _id(item.get("businessDisputeId"))
    if not external_id and not key:
        return None
    raw_status = item.get("status")
    status = sanitize(raw_status, 48) if isinstance(raw_status, str) else ""
    deal = item.get("finallyDeal")
    deal = int(deal) if isinstance(deal, int | str) and not isinstance(deal, bool) and str(deal).isdigit() else None
    try:
        money = _money(item.get("money"), "money")
    except ProviderError as error:
        logger.warning("CJ dispute %s: %s; kept without its amount or status", external_id or key, error)
        money, status, deal = None, "", None
    state = state_of(status, deal)
    # Only CJ's rejection words (``rejectReason``: not in CJ's documented list shape, read when
    # sent); never ``disputeReason``, which is the buyer's reason.
    reason = item.get("rejectReason")
    return RefundInfo(
        external_id=external_id,
        status=status or (f"finallyDeal {deal}" if deal is not None else ""),
        state=state,
        idempotency_key=key,
        amount=money,
        refunded_amount=money if state == RefundState.REFUNDED else None,
        decided_at=None,
        refunded_at=None,
        rejection_reason=sanitize(reason, 300) if state == RefundState.REJECTED and isinstance(reason, str) else "",
        lines=_products(item.get("productList")),
        created_at=_created(item.get("createDate")),
    )


def disputes_read(client: CjClient, external_order_id: str) -> list[RefundInfo]:
    if not external_order_id:
        raise ValueError("a CJ order id is required")
    found: list[RefundInfo] = []
    seen = 0
    for page in range(1, MAX_PAGES + 1):
        try:
            data, _ = client.call(
                "GET",
                LIST_PATH,
                params={"orderId": external_order_id, "pageNum": str(page), "pageSize": str(PAGE_SIZE)},
            )
        except CjRefusal as refusal:
            if refusal.code == errors.NOT_FOUND:
                return found
            raise ProviderError(str(refusal)) from None
        items = data.get("list") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ProviderError("CJdropshipping answered the dispute list without its list")
        found.extend(info for info in map(dispute_info, items) if info is not None)
        seen += len(items)
        total = data.get("total") if isinstance(data, dict) else None
        # CJ may not honour pageSize: the items seen, not pages × PAGE_SIZE, say when it is done.
        if not items or not isinstance(total, int) or isinstance(total, bool) or seen >= total:
            break
    return found


def _line_ids(client: CjClient, ask: RefundAsk) -> list[dict[str, Any]]:
    """The request's lines as CJ's ``lineItemId``s (from disputeProducts when not carried)."""
    try:
        data, _ = client.call("GET", PRODUCTS_PATH, params={"orderId": ask.external_order_id})
    except CjRefusal as refusal:
        raise _refusal(refusal) from None
    products = data.get("productInfoList") if isinstance(data, dict) else None
    if not isinstance(products, list):
        raise ProviderError("CJdropshipping answered disputeProducts without its productInfoList")
    by_id = {_id(p.get("lineItemId")): p for p in products if isinstance(p, dict) and _id(p.get("lineItemId"))}
    chosen: list[dict[str, Any]] = []
    for item in ask.items:
        product = by_id.get(item.supplier_line_id) if item.supplier_line_id else None
        if product is None:
            product = next(
                (p for lid, p in by_id.items() if _id(p.get("cjVariantId")) == item.supplier_product_id and lid),
                None,
            )
        if product is None:
            raise SupplierRefused(
                Refusal(
                    code="line_not_found",
                    message="CJ does not list this product on the order's disputable lines",
                    fix="Open the order at CJ to check its lines, then ask again.",
                )
            )
        left = product.get("quantity")
        if product.get("canChoose") is not True or (isinstance(left, int) and left < item.quantity):
            raise SupplierRefused(
                Refusal(
                    code="line_not_disputable",
                    message="CJ does not allow a dispute on this line now (one is open, or too many units are asked)",
                    fix="Wait for the open dispute at CJ to end, or ask for fewer units.",
                )
            )
        chosen.append(
            {"lineItemId": _id(product["lineItemId"]), "quantity": item.quantity, "_unit": product.get("price")}
        )
    return chosen


def line_variants(client: CjClient, external_order_id: str) -> dict[str, str]:
    """CJ's ``lineItemId`` → ``cjVariantId`` for the order's lines (disputeProducts)."""
    try:
        data, _ = client.call("GET", PRODUCTS_PATH, params={"orderId": external_order_id})
    except CjRefusal as refusal:
        raise ProviderError(str(refusal)) from None
    products = data.get("productInfoList") if isinstance(data, dict) else None
    if not isinstance(products, list):
        raise ProviderError("CJdropshipping answered disputeProducts without its productInfoList")
    return {
        _id(p.get("lineItemId")): _id(p.get("cjVariantId"))
        for p in products
        if isinstance(p, dict) and _id(p.get("lineItemId")) and _id(p.get("cjVariantId"))
    }


def with_variants(infos: list[RefundInfo], variants: dict[str, str]) -> list[RefundInfo]:
    """Each dispute's lines named by CJ variant (ours: ``supplier_product_id``); a line CJ no
    longer lists keeps its lineItemId, so it never matches one of ours by mistake."""
    return [replace(info, lines=tuple((variants.get(lid, lid), qty) for lid, qty in info.lines)) for info in infos]


def _reason_id(reasons: Any, reason: str) -> int | str:
    if not isinstance(reasons, list) or not reasons:
        raise ProviderError("CJdropshipping offered no dispute reason for these lines")
    usable = [r for r in reasons if isinstance(r, dict) and _id(r.get("disputeReasonId"))]
    if not usable:
        raise ProviderError("CJdropshipping offered no dispute reason id for these lines")
    words = REASON_WORDS.get(reason, ())
    for candidate in usable:
        name = str(candidate.get("reasonName") or "").lower()
        if any(word in name for word in words):
            return candidate["disputeReasonId"]
    return usable[-1]["disputeReasonId"]


def _split(amount: Decimal, lines: list[dict[str, Any]]) -> list[Decimal]:
    """The amount over the lines by each line's share (CJ's unit ``price`` × units asked; evenly
    when CJ listed no usable price), the rounding on the last line."""
    weights = []
    for line in lines:
        try:
            unit = _money(line.get("_unit"), "price")
        except ProviderError:
            unit = None
        weights.append((unit or Decimal(0)) * int(line["quantity"]))
    whole = sum(weights, Decimal(0))
    if whole <= 0:
        weights, whole = [Decimal(1)] * len(lines), Decimal(len(lines))
    shares = [(amount * weight / whole).quantize(Decimal("0.01")) for weight in weights[:-1]]
    return [*shares, amount - sum(shares, Decimal(0))]


def dispute_create(client: CjClient, ask: RefundAsk, message: str) -> None:
    """disputeProducts → disputeConfirmInfo → create (see the module docstring)."""
    lines = _line_ids(client, ask)
    try:
        confirm, _ = client.call(
            "POST",
            CONFIRM_PATH,
            json_body={
                "orderId": ask.external_order_id,
                "productInfoList": [{"lineItemId": line["lineItemId"], "quantity": line["quantity"]} for line in lines],
            },
            idempotent=True,
        )
    except CjRefusal as refusal:
        raise _refusal(refusal) from None
    if not isinstance(confirm, Mapping):
        raise ProviderError("CJdropshipping answered disputeConfirmInfo without its data")
    most = _money(confirm.get("maxAmount"), "maxAmount")
    if most is not None and ask.amount > most:
        raise SupplierRefused(
            Refusal(
                code="amount_above_max",
                message=f"CJ allows at most {most} USD for these lines",
                fix="Ask for that much or less.",
            )
        )
    prices = _split(ask.amount, lines)
    body = {
        "orderId": ask.external_order_id,
        "businessDisputeId": ask.idempotency_key,
        "disputeReasonId": _reason_id(confirm.get("disputeReasonList"), ask.reason),
        "expectType": EXPECT_REFUND,
        "refundType": REFUND_TO_BALANCE,
        "messageText": message[:MAX_MESSAGE],
        "imageUrl": list(ask.evidence),
        "productInfoList": [
            {"lineItemId": line["lineItemId"], "quantity": line["quantity"], "price": float(price)}
            for line, price in zip(lines, prices, strict=True)
        ],
    }
    try:
        client.call("POST", CREATE_PATH, json_body=body, idempotent=False)
    except CjRefusal as refusal:
        raise _refusal(refusal) from None
