"""SIMULATED Temu buyer API v1: GET /account, POST /orders, GET /orders?idempotency_key=,
GET /orders/{id}, POST /orders/{id}/pay,
POST|GET /orders/{id}/refunds (see temu/api.py for the conventions)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import HttpRequest, HttpResponse

from sandbox.clock import sim_now
from sandbox.http import json_response
from sandbox.models import Refund, SimAccount, SupplierOrder
from sandbox.providers.temu.api import TemuError, invalid, json_body, temu_api
from sandbox.sim import suppliers

RECIPIENT_FIELDS = ("name", "address_line1", "city", "postal_code", "country_code")
STATE_REQUIRED = {"US", "CA", "AU", "BR", "MX"}
SHIPPING = {"standard": Decimal("0.00"), "express": Decimal("12.90")}


def _hash(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:15], 16)


def item_price(sku_id: str) -> Decimal:
    return Decimal(99 + _hash(f"temu:{sku_id}") % 2500) / 100


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _validated(body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    recipient = body.get("recipient")
    if not isinstance(recipient, dict):
        raise invalid("recipient is required.", "recipient")
    for field in RECIPIENT_FIELDS:
        if not str(recipient.get(field) or "").strip():
            raise invalid(f"recipient.{field} is required.", f"recipient.{field}")
    if str(recipient["country_code"]).upper() in STATE_REQUIRED and not str(recipient.get("state") or "").strip():
        raise invalid("recipient.state is required for this country.", "recipient.state")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise invalid("items must be a non-empty list.", "items")
    for item in items:
        quantity = item.get("quantity") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not str(item.get("sku_id") or "").strip():
            raise invalid("items[].sku_id is required.", "items.sku_id")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise invalid("items[].quantity must be a positive integer.", "items.quantity")
    shipping = str(body.get("shipping_method") or "standard")
    if shipping not in SHIPPING:
        raise invalid("shipping_method must be standard or express.", "shipping_method")
    return recipient, items, shipping


def order_json(order: SupplierOrder) -> dict[str, Any]:
    body, state = order.request.get("payload", {}), suppliers.sim_state(order)
    items = body.get("items", [])
    subtotal = sum((item_price(str(i["sku_id"])) * i["quantity"] for i in items), Decimal("0"))
    paid = order.charges.exists()
    payment_status = "paid" if paid else ("failed" if state.get("payment_failure") else "unpaid")
    if paid and order.refunds.filter(status="refunded").exists():
        payment_status = "refunded"
    phase = suppliers.phase_of(order)
    return {
        "id": order.external_id,
        "object": "order",
        "idempotency_key": order.idempotency_key,
        "merchant_reference": body.get("merchant_reference"),
        "status": order.status,
        "payment": {
            "status": payment_status,
            "failure_code": state.get("payment_failure") if not paid else None,
            "failure_message": order.failure_reason if not paid and state.get("payment_failure") else None,
            "paid_at": state.get("paid_at"),
        },
        "amount": {
            "items": f"{subtotal:.2f}",
            "shipping": f"{order.amount - subtotal:.2f}",
            "total": f"{order.amount:.2f}",
            "currency": order.currency,
        },
        "items": [
            {"sku_id": i["sku_id"], "quantity": i["quantity"], "unit_price": f"{item_price(str(i['sku_id'])):.2f}"}
            for i in items
        ],
        "recipient": body.get("recipient"),
        "shipments": [
            {"tracking_number": n, "carrier": order.carrier if n == order.tracking_number else None}
            for n in state.get("parcels", [])
        ],
        "cancel_reason": order.failure_reason
        if phase in (suppliers.Phase.CANCELING, suppliers.Phase.CANCELED)
        else None,
        "created_at": _iso(order.created_at),
        "updated_at": _iso(order.updated_at),
    }


def _pay(order: SupplierOrder) -> None:
    suppliers.supplier_order_pay(order_id=order.pk, now=sim_now())
    order.refresh_from_db()


@temu_api("GET")
def account_detail(request: HttpRequest, account: SimAccount) -> HttpResponse:
    """``GET /v1/account``: who the API key is, and the wallet balance when the account has one."""
    raw = account.options.get("balance")
    balance = {"amount": f"{Decimal(str(raw)):.2f}", "currency": "USD"} if raw is not None else None
    return json_response({"account": {"id": f"acct_{account.pk}", "name": account.name, "balance": balance}})


@temu_api("GET", "POST")
def orders_create(request: HttpRequest, account: SimAccount) -> HttpResponse:
    if request.method == "GET":  # GET /v1/orders?idempotency_key=…: the order made under a key
        key = request.GET.get("idempotency_key", "")
        found = account.supplier_orders.filter(idempotency_key=key).order_by("pk") if key else []
        return json_response({"object": "list", "data": [order_json(order) for order in found]})
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > 128:
        raise invalid("An Idempotency-Key header (1-128 characters) is required.", "Idempotency-Key")
    body = json_body(request)
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    existing = account.supplier_orders.filter(idempotency_key=key).first()
    if existing is not None:
        if suppliers.sim_state(existing).get("fingerprint") != fingerprint:
            raise TemuError(
                409,
                "idempotency_error",
                "idempotency_key_reused",
                "The Idempotency-Key was used with another request body.",
            )
        if body.get("auto_pay") is True:
            _pay(existing)
        return json_response({"order": order_json(existing)}, status=200, headers={"Idempotent-Replayed": "true"})
    recipient, items, shipping = _validated(body)
    amount = sum((item_price(str(i["sku_id"])) * i["quantity"] for i in items), Decimal("0")) + SHIPPING[shipping]
    order, created = suppliers.supplier_order_open(
        account=account,
        idempotency_key=key,
        external_id=f"PO-211-{_hash(f'temu:{account.name}:{key}') % 10**14:014d}",
        amount=amount,
        payload=body,
        country_code=str(recipient["country_code"]).upper(),
        items=sum(int(i["quantity"]) for i in items),
        now=sim_now(),
    )
    if created:
        suppliers.sim_state(order)["fingerprint"] = fingerprint
        order.save(update_fields=["request"])
    if body.get("auto_pay") is True:
        _pay(order)
    return json_response({"order": order_json(order)}, status=201 if created else 200)


def _order(account: SimAccount, order_id: str) -> SupplierOrder:
    order = account.supplier_orders.filter(external_id=order_id).first()
    if order is None:
        raise TemuError(404, "invalid_request_error", "resource_missing", f"No such order: {order_id}", "order_id")
    return order


@temu_api("GET")
def order_detail(request: HttpRequest, account: SimAccount, order_id: str) -> HttpResponse:
    return json_response({"order": order_json(_order(account, order_id))})


@temu_api("POST")
def order_pay(request: HttpRequest, account: SimAccount, order_id: str) -> HttpResponse:
    order = _order(account, order_id)
    outcome = suppliers.supplier_order_pay(order_id=order.pk, now=sim_now())
    if not outcome.paid:
        status = 409 if outcome.code == suppliers.NOT_PAYABLE[0] else 402
        raise TemuError(status, "payment_error", outcome.code, outcome.reason)
    order.refresh_from_db()
    return json_response({"order": order_json(order)})


def refund_json(refund: Refund) -> dict[str, Any]:
    return {
        "id": f"rf_{refund.pk}",
        "object": "refund",
        "order_id": refund.supplier_order.external_id,
        "idempotency_key": refund.idempotency_key or None,
        "status": refund.status,
        "reason": refund.reason,
        "rejection_reason": refund.rejection_reason or None,
        "amount": f"{refund.amount:.2f}",
        "currency": refund.supplier_order.currency,
        "items": [{"sku_id": p["line_id"], "quantity": p["quantity"], "amount": p["amount"]} for p in refund.lines],
        "requested_at": _iso(refund.requested_at),
        "decided_at": _iso(refund.decided_at),
        "refunded_at": _iso(refund.refunded_at),
    }


def _refund_items(order: SupplierOrder, body: dict[str, Any]) -> tuple[list[suppliers.RefundLineAsk], dict[str, int]]:
    """The request's ``items`` [{sku_id, quantity}] against the order's; each line's money its share
    of what was paid (shipping included) for those units."""
    bought: dict[str, int] = {}
    prices: dict[str, Decimal] = {}
    for item in order.request.get("payload", {}).get("items", []):
        sku = str(item["sku_id"])
        bought[sku] = bought.get(sku, 0) + int(item["quantity"])
        prices[sku] = prices.get(sku, Decimal("0")) + item_price(sku) * int(item["quantity"])
    whole = sum(prices.values(), Decimal("0")) or Decimal("1")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise invalid("items must be a non-empty list.", "items")
    asked = []
    for item in items:
        quantity = item.get("quantity") if isinstance(item, dict) else None
        if not isinstance(item, dict) or str(item.get("sku_id") or "") not in bought:
            raise invalid("items[].sku_id must be an item of this order.", "items.sku_id")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise invalid("items[].quantity must be a positive integer.", "items.quantity")
        sku = str(item["sku_id"])
        share = order.amount * prices[sku] / whole * min(quantity, bought[sku]) / bought[sku]
        asked.append(suppliers.RefundLineAsk(line_id=sku, quantity=quantity, amount=share.quantize(Decimal("0.01"))))
    return asked, bought


@temu_api("GET", "POST")
def order_refunds(request: HttpRequest, account: SimAccount, order_id: str) -> HttpResponse:
    """GET: the order's refunds. POST {reason, amount?, note?, items?}: a request; with an
    ``Idempotency-Key`` a repeat answers the refund made under it (200, ``Idempotent-Replayed``)."""
    order = _order(account, order_id)
    if request.method == "GET":
        return json_response({"object": "list", "data": [refund_json(r) for r in order.refunds.order_by("id")]})
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > 128:
        raise invalid("The Idempotency-Key header must be at most 128 characters.", "Idempotency-Key")
    if key:
        existing = Refund.objects.filter(supplier_order__account=account, idempotency_key=key).first()
        if existing is not None and existing.supplier_order_id == order.pk:
            return json_response({"refund": refund_json(existing)}, headers={"Idempotent-Replayed": "true"})
    body = json_body(request)
    if not str(body.get("reason") or "").strip():
        raise invalid("reason is required.", "reason")
    try:
        amount = Decimal(str(body["amount"])) if body.get("amount") is not None else None
    except InvalidOperation:
        raise invalid("amount must be a decimal string.", "amount") from None
    lines, bought = _refund_items(order, body) if body.get("items") is not None else (None, None)
    refund = suppliers.refund_request(
        order=order, reason=str(body["reason"]), amount=amount, now=sim_now(), key=key, lines=lines, bought=bought
    )
    if isinstance(refund, str):
        raise TemuError(409, "invalid_request_error", "refund_not_allowed", refund)
    suppliers.refund_answer_delay(account)
    return json_response({"refund": refund_json(refund)}, status=201)
