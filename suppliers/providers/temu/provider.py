"""Temu (SIMULATED) as a supplier: the sandbox's own buyer API (Temu has no public one; labelled
"Temu (simulated)" wherever it shows). Like CJ's provider:

- ``place``: ``POST orders`` with ``Idempotency-Key: <our key>`` (a repeat with the same body
  answers the order already made), ``auto_pay`` when the account pays with the order. Created
  but not paid: ``Placed`` with the payment failure. A timeout or 5xx: ``OutcomeUnknown``; the
  caller asks ``find``.
- ``find``: ``GET orders?idempotency_key=<key>``; ``get``: ``GET orders/<id>``;
  ``pay``: ``POST orders/<id>/pay`` (402 is a ``PaymentFailed``).
- ``account_info``: ``GET account`` (the API key's account and its balance): the connect check.
- ``refund_create``: ``POST orders/<id>/refunds`` with ``Idempotency-Key: <our key>`` (a repeat
  answers the refund already made: one refund); a 409 is the simulated Temu's refusal.
  ``refunds_get``: ``GET orders/<id>/refunds``; status words are ours (in_review, approved,
  rejected, refunded).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy as _

from integrations.errors import OutcomeUnknown, ProviderError
from integrations.http import sanitize
from suppliers.providers.base import (
    PaymentFailed,
    Placed,
    PlaceRequest,
    RefundAsk,
    RefundInfo,
    Refusal,
    SupplierOrderInfo,
    SupplierProvider,
    SupplierRefused,
    register,
)
from suppliers.providers.temu.client import TemuClient, TemuRefusal

PAID, FAILED = "paid", "failed"
CANCELED = "cancelled"
MAX_KEY_LENGTH = 128
SHIPPING_METHODS = ("standard", "express")
MONEY_LIMIT = Decimal("1000000")

PAYMENT_FIXES: dict[str, tuple[object, object]] = {
    "insufficient_balance": (
        _("The Temu (simulated) wallet has too little money for this order."),
        _("Top up the wallet, then retry the payment."),
    ),
    "card_declined": (
        _("The card was declined by its bank."),
        _("Use another card or ask the bank, then retry the payment."),
    ),
    "risk_control": (
        _("Temu's (simulated) risk control blocked the payment."),
        _("Contact the supplier's support, then retry the payment."),
    ),
    "not_payable": (
        _("The order cannot be paid in its current status."),
        _("Open the order at the supplier to see its status."),
    ),
}

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccountInfo:
    external_id: str
    name: str
    balance: Decimal | None
    currency: str


def _text(data: dict[str, Any], key: str, limit: int = 100) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProviderError(f"Temu (simulated) sent a {key} that is not text")
    return sanitize(value, limit)


def _money(value: Any, what: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ProviderError(f"Temu (simulated) sent a {what} that is not an amount")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ProviderError(f"Temu (simulated) sent a {what} that is not an amount") from None
    if not amount.is_finite() or not 0 <= amount < MONEY_LIMIT:
        raise ProviderError(f"Temu (simulated) sent a {what} out of range")
    return amount.quantize(Decimal("0.01"))


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def order_info(data: Any) -> SupplierOrderInfo:
    """An ``order`` object of the simulated API, read defensively."""
    if not isinstance(data, dict):
        raise ProviderError("Temu (simulated) sent an answer without its order")
    external_id = _text(data, "id", 64)
    if not external_id:
        raise ProviderError("Temu (simulated) sent an order without its id")
    payment, amount = _object(data, "payment"), _object(data, "amount")
    currency = amount.get("currency")
    currency = currency.upper() if isinstance(currency, str) and len(currency) == 3 and currency.isalpha() else ""
    shipments = data.get("shipments")
    numbers = (
        [s.get("tracking_number") for s in shipments if isinstance(s, dict)] if isinstance(shipments, list) else []
    )
    status = _text(data, "status", 40)
    return SupplierOrderInfo(
        external_id=external_id,
        status=status,
        paid=payment.get("status") in (PAID, "refunded"),
        items_total=_money(amount.get("items"), "items amount"),
        shipping_total=_money(amount.get("shipping"), "shipping amount"),
        total=_money(amount.get("total"), "total"),
        currency=currency,
        tracking_number=",".join(sanitize(n, 60) for n in numbers if isinstance(n, str) and n),
        canceled=status == CANCELED,
        cancel_reason=_text(data, "cancel_reason", 255),
    )


REFUND_STATES = {"in_review": "in_review", "approved": "approved", "rejected": "rejected", "refunded": "refunded"}


def refund_info(data: Any) -> RefundInfo | None:
    """A ``refund`` object, read defensively (None: no id, nothing to match it by)."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        return None
    key = data.get("idempotency_key")
    try:
        status = _text(data, "status", 40)
        amount = _money(data.get("amount"), "refund amount")
        why = _text(data, "rejection_reason", 300)
    except ProviderError as error:  # one odd entry never blocks the others: kept, logged
        logger.warning("Temu refund %s: %s; kept without its amount or status", data["id"][:64], error)
        status, amount, why = "", None, ""
    state = REFUND_STATES.get(status, "")
    return RefundInfo(
        external_id=sanitize(data["id"], 64),
        status=status,
        state=state,
        idempotency_key=sanitize(key, 64) if isinstance(key, str) else "",
        amount=amount,
        refunded_amount=amount if state == "refunded" else None,
        rejection_reason=why if state == "rejected" else "",
    )


def payment_refusal(code: str, said: str) -> Refusal:
    message, fix = PAYMENT_FIXES.get(
        code, (said or _("The payment failed."), _("Check the payment at the supplier, then retry it."))
    )
    return Refusal(code=code or "payment_failed", message=str(message), fix=str(fix))


def _refused(refusal: TemuRefusal) -> SupplierRefused:
    if refusal.http_status == 402:
        return PaymentFailed(payment_refusal(refusal.code, refusal.said))
    fix = _("Correct the order (address, product link), then place it again.")
    return SupplierRefused(
        Refusal(code=refusal.code, message=refusal.said or str(_("Temu (simulated) refused the order.")), fix=str(fix))
    )


@register
class TemuProvider(SupplierProvider):
    provider = "temu"
    refund_api = True  # the simulated API's refunds

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.client = TemuClient(self.base_url, api_key=str(self.credentials.get("api_key", "")), **self.client_options)

    def account_info(self) -> AccountInfo:
        body = self.client.call("GET", "account")
        account = body.get("account")
        if not isinstance(account, dict) or not isinstance(account.get("id"), str):
            raise ProviderError("Temu (simulated) answered without the account")
        balance = account.get("balance") if isinstance(account.get("balance"), dict) else None
        currency = str(balance.get("currency") or "")[:3] if balance else ""
        return AccountInfo(
            external_id=sanitize(account["id"], 100),
            name=_text(account, "name", 200),
            balance=_money(balance.get("amount"), "balance") if balance else None,
            currency=currency.upper(),
        )

    def order_body(self, request: PlaceRequest) -> dict[str, Any]:
        key = request.idempotency_key
        if not key or len(key) > MAX_KEY_LENGTH or not request.lines:
            raise ValueError(f"a place request needs a key of 1-{MAX_KEY_LENGTH} characters and at least one line")
        methods = {line.shipping_method.lower() for line in request.lines if line.shipping_method}
        to = request.ship_to
        return {
            "merchant_reference": key,
            "recipient": {
                "name": to.name,
                "phone": to.phone,
                "email": to.email,
                "address_line1": to.address1,
                "address_line2": to.address2,
                "city": to.city,
                "state": to.province,
                "postal_code": to.zip,
                "country_code": to.country_code.upper(),
                "tax_id": to.tax_id,
            },
            "items": [{"sku_id": line.sku or line.product_id, "quantity": line.quantity} for line in request.lines],
            "shipping_method": "express" if "express" in methods else "standard",
            "auto_pay": request.pay,
        }

    def place(self, request: PlaceRequest) -> Placed:
        body = self.order_body(request)
        try:
            answer = self.client.call(
                "POST", "orders", json_body=body, idempotent=False, idempotency_key=request.idempotency_key
            )
        except TemuRefusal as refusal:
            if refusal.http_status == 409 and refusal.code == "idempotency_key_reused":
                raise OutcomeUnknown(
                    "Temu (simulated) has an order under this key with other details: find it before anything else"
                ) from None
            raise _refused(refusal) from None
        data = answer.get("order")
        order = order_info(data)
        failure = None
        if request.pay and not order.paid:
            payment = _object(data, "payment") if isinstance(data, dict) else {}
            code, said = payment.get("failure_code"), payment.get("failure_message")
            failure = payment_refusal(
                sanitize(code, 60) if isinstance(code, str) else "",
                sanitize(said, 200) if isinstance(said, str) else "",
            )
        return Placed(order=order, payment_failure=failure)

    def find(self, idempotency_key: str) -> SupplierOrderInfo | None:
        if not idempotency_key:
            raise ValueError("an idempotency key is required")
        answer = self.client.call("GET", "orders", params={"idempotency_key": idempotency_key})
        found = answer.get("data")
        if not isinstance(found, list):
            raise ProviderError("Temu (simulated) answered the lookup without a list")
        if not found:
            return None
        if len(found) > 1:
            raise ProviderError("Temu (simulated) has several orders under one key")
        if isinstance(found[0], dict) and found[0].get("idempotency_key") not in (None, idempotency_key):
            raise ProviderError("Temu (simulated) answered another order than the one asked for")
        return order_info(found[0])

    def get(self, external_id: str) -> SupplierOrderInfo:
        if not external_id or "/" in external_id:
            raise ValueError("a Temu order id is required")
        try:
            answer = self.client.call("GET", f"orders/{external_id}")
        except TemuRefusal as refusal:
            raise ProviderError(str(refusal), status=refusal.http_status) from None
        return order_info(answer.get("order"))

    def pay(self, external_id: str) -> SupplierOrderInfo:
        if not external_id or "/" in external_id:
            raise ValueError("a Temu order id is required")
        try:
            answer = self.client.call("POST", f"orders/{external_id}/pay", idempotent=False)
        except TemuRefusal as refusal:
            if refusal.http_status in (402, 409):
                raise PaymentFailed(payment_refusal(refusal.code, refusal.said)) from None
            raise ProviderError(str(refusal), status=refusal.http_status) from None
        return order_info(answer.get("order"))

    # Refunds (simulated) ------------------------------------------------------------------

    def refund_create(self, request: RefundAsk) -> RefundInfo:
        order_id = request.external_order_id
        if not request.idempotency_key or not order_id or "/" in order_id or not request.items:
            raise ValueError("a refund request needs a key, the Temu order id and at least one line")
        body = {
            "reason": request.reason,
            "note": request.note,
            "evidence": list(request.evidence),
            "amount": f"{request.amount:.2f}",
            "items": [
                {"sku_id": item.supplier_sku or item.supplier_product_id, "quantity": item.quantity}
                for item in request.items
            ],
        }
        try:
            answer = self.client.call(
                "POST",
                f"orders/{order_id}/refunds",
                json_body=body,
                idempotent=False,
                idempotency_key=request.idempotency_key,
            )
        except TemuRefusal as refusal:
            raise SupplierRefused(
                Refusal(
                    code=refusal.code,
                    message=str(
                        _("Temu (simulated) refused the refund request: %(said)s")
                        % {"said": refusal.said or refusal.code}
                    ),
                    fix=str(_("Open the order at the supplier to see its refunds.")),
                )
            ) from None
        info = refund_info(answer.get("refund"))
        if info is None:
            raise ProviderError("Temu (simulated) answered the refund request without its refund")
        return info

    def refunds_get(self, external_id: str) -> list[RefundInfo]:
        if not external_id or "/" in external_id:
            raise ValueError("a Temu order id is required")
        try:
            answer = self.client.call("GET", f"orders/{external_id}/refunds")
        except TemuRefusal as refusal:
            raise ProviderError(str(refusal), status=refusal.http_status) from None
        found = answer.get("data")
        if not isinstance(found, list):
            raise ProviderError("Temu (simulated) answered the refunds without a list")
        return [info for info in map(refund_info, found) if info is not None]
