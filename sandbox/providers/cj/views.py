"""CJdropshipping API 2.0: authentication, createOrderV2, payBalance, getOrderDetail, deleteOrder,
getBalance (the dispute API is in ``disputes``)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest

from sandbox.clock import sim_now
from sandbox.enums import Provider
from sandbox.models import SimAccount, SupplierOrder
from sandbox.providers._state import options_update
from sandbox.providers.aliexpress.methods import cpf_valid
from sandbox.providers.cj import api
from sandbox.providers.cj.api import Call, CjError, cj_api
from sandbox.sim import suppliers

CJ_TZ = ZoneInfo("Asia/Shanghai")  # CJ's date strings
REQUIRED = ("orderNumber", "shippingCountryCode", "shippingCountry", "shippingCustomerName", "shippingAddress")
REQUIRED_TOO = ("shippingCity", "shippingZip", "logisticName", "fromCountryCode")
POSTAGE = {"CJPacket Ordinary": Decimal("4.50"), "CJPacket Sensitive": Decimal("5.20"), "USPS+": Decimal("6.80")}
PAY_FAILURES = {"insufficient_balance": api.INSUFFICIENT_BALANCE, "not_payable": api.NOT_PAYABLE}


def _hash(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:15], 16)


def _date(value: datetime | None) -> str | None:
    return value.astimezone(CJ_TZ).strftime("%Y-%m-%d %H:%M:%S") if value else None


def sell_price(vid: str) -> Decimal:
    return Decimal(250 + _hash(f"cj:{vid}") % 4000) / 100


def _token_data(account: SimAccount) -> dict[str, Any]:
    now = sim_now()

    def issue(options: dict[str, Any]) -> dict[str, str]:
        if "access_token" not in options:
            options["access_token"] = secrets.token_hex(32)
            options["refresh_token"] = secrets.token_hex(32)
            options["token_created"] = now.isoformat()
        return {k: options[k] for k in ("access_token", "refresh_token", "token_created")}

    tokens = options_update(account, issue)
    created = datetime.fromisoformat(tokens["token_created"])
    return {
        "openId": 1000000 + account.pk,
        "accessToken": tokens["access_token"],
        "accessTokenExpiryDate": (created + timedelta(days=15)).astimezone(CJ_TZ).isoformat(timespec="seconds"),
        "refreshToken": tokens["refresh_token"],
        "refreshTokenExpiryDate": (created + timedelta(days=180)).astimezone(CJ_TZ).isoformat(timespec="seconds"),
        "createDate": created.astimezone(CJ_TZ).isoformat(timespec="seconds"),
    }


@cj_api("POST", authenticated=False)
def get_access_token(request: HttpRequest, call: Call) -> dict[str, Any]:
    api_key = str(call.body.get("apiKey") or "")
    account = SimAccount.objects.filter(provider=Provider.CJ, credentials__api_key=api_key).first() if api_key else None
    if account is None:
        raise CjError(api.INVALID_TOKEN, "apiKey is invalid")
    return _token_data(account)


@cj_api("POST", authenticated=False)
def refresh_access_token(request: HttpRequest, call: Call) -> dict[str, Any]:
    refresh = str(call.body.get("refreshToken") or "")
    account = (
        SimAccount.objects.filter(provider=Provider.CJ, options__refresh_token=refresh).first() if refresh else None
    )
    if account is None:
        raise CjError(api.INVALID_TOKEN, "refreshToken is invalid")
    return _token_data(account)


def _products(body: dict[str, Any]) -> list[dict[str, Any]]:
    products = body.get("products")
    if not isinstance(products, list) or not products:
        raise CjError(api.INVALID_PARAM, "products is required")
    for product in products:
        quantity = product.get("quantity") if isinstance(product, dict) else None
        if not isinstance(product, dict) or not product.get("vid"):
            raise CjError(api.INVALID_PARAM, "products.vid is required")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise CjError(api.INVALID_PARAM, "products.quantity must be a positive integer")
    return products


def order_json(order: SupplierOrder) -> dict[str, Any]:
    body = order.request.get("payload", {})
    state = suppliers.sim_state(order)
    products = body.get("products", [])
    product_amount = sum((sell_price(str(p["vid"])) * p["quantity"] for p in products), Decimal("0"))
    return {
        "orderId": order.external_id,
        "orderNum": order.idempotency_key,
        "cjOrderId": order.external_id,
        "shippingCountryCode": body.get("shippingCountryCode"),
        "shippingProvince": body.get("shippingProvince"),
        "shippingCity": body.get("shippingCity"),
        "shippingAddress": body.get("shippingAddress"),
        "shippingCustomerName": body.get("shippingCustomerName"),
        "shippingPhone": body.get("shippingPhone"),
        "remark": body.get("remark"),
        "logisticName": body.get("logisticName"),
        "trackNumber": order.tracking_number or None,
        "orderWeight": 100 * sum(p["quantity"] for p in products),
        "productAmount": float(product_amount),
        "postageAmount": float(order.amount - product_amount),
        "orderAmount": float(order.amount),
        "orderStatus": order.status,
        "createDate": _date(order.created_at),
        "paymentDate": _date(datetime.fromisoformat(state["paid_at"])) if state.get("paid_at") else None,
        "productList": [
            {"vid": p["vid"], "quantity": p["quantity"], "sellPrice": float(sell_price(str(p["vid"])))}
            for p in products
        ],
    }


def _pay(order: SupplierOrder) -> tuple[bool, int, str]:
    outcome = suppliers.supplier_order_pay(order_id=order.pk, now=sim_now())
    return outcome.paid, PAY_FAILURES.get(outcome.code, api.PAYMENT_DECLINED), outcome.reason


def _refuse_what_cj_would(call: Call, body: dict[str, Any], products: list[dict[str, Any]]) -> None:
    """Brazil needs the buyer's CPF (``taxId``) with valid check digits; a variant listed in the
    account's ``out_of_stock`` option is gone. Both codes are chosen (CJ does not document them)."""
    if str(body["shippingCountryCode"]).upper() == "BR" and not cpf_valid(str(body.get("taxId") or "")):
        raise CjError(api.INVALID_PARAM, "taxId must be the buyer's valid CPF for Brazil")
    assert call.account is not None
    gone = {str(vid) for vid in call.account.options.get("out_of_stock", [])}
    missing = next((str(p["vid"]) for p in products if str(p["vid"]) in gone), None)
    if missing:
        raise CjError(api.NOT_FOUND, f"Variant {missing} is not available (removed or out of stock)")


@cj_api("POST")
def create_order(request: HttpRequest, call: Call) -> Any:
    body = call.body
    missing = next((f for f in (*REQUIRED, *REQUIRED_TOO) if not str(body.get(f) or "").strip()), None)
    if missing:
        raise CjError(api.INVALID_PARAM, f"{missing} is required")
    if len(str(body["orderNumber"])) > 100:
        raise CjError(api.INVALID_PARAM, "orderNumber must be at most 100 characters")
    products = _products(body)
    _refuse_what_cj_would(call, body, products)
    pay_type = body.get("payType", 3)
    if pay_type not in (2, 3, "2", "3"):
        raise CjError(api.INVALID_PARAM, "payType must be 2 (balance payment) or 3 (create only)")
    assert call.account is not None
    amount = sum((sell_price(str(p["vid"])) * p["quantity"] for p in products), Decimal("0"))
    amount += POSTAGE.get(str(body["logisticName"]), Decimal("5.90"))
    key = str(body["orderNumber"])
    order, _ = suppliers.supplier_order_open(
        account=call.account,
        idempotency_key=key,
        external_id=str(2400000000000000000 + _hash(f"cj:{call.account.name}:{key}") % 10**17),
        amount=amount,
        payload=body,
        country_code=str(body["shippingCountryCode"]).upper(),
        items=sum(int(p["quantity"]) for p in products),
        now=sim_now(),
    )
    message = "Success"
    if str(pay_type) == "2":
        paid, _, reason = _pay(order)
        if not paid:
            message = f"Order created, but the balance payment failed: {reason}"
        order.refresh_from_db()
    data = {
        "orderId": order.external_id,
        "orderNumber": order.idempotency_key,
        "orderStatus": order.status,
        "orderAmount": float(order.amount),
        "productAmount": float(amount - POSTAGE.get(str(body["logisticName"]), Decimal("5.90"))),
        "postageAmount": float(POSTAGE.get(str(body["logisticName"]), Decimal("5.90"))),
        "cjPayUrl": f"https://cjdropshipping.com/myCJ.html#/orderPay?orderId={order.external_id}",
    }
    return message, data


def _order(call: Call, order_id: Any) -> SupplierOrder:
    assert call.account is not None
    order = call.account.supplier_orders.filter(external_id=str(order_id or "")).first()
    if order is None:
        raise CjError(api.NOT_FOUND, "Order not found")
    return order


@cj_api("POST")
def pay_balance(request: HttpRequest, call: Call) -> Any:
    if not call.body.get("orderId"):
        raise CjError(api.INVALID_PARAM, "orderId is required")
    paid, code, reason = _pay(_order(call, call.body["orderId"]))
    if not paid:
        raise CjError(code, reason)
    return None


@cj_api("DELETE")
def delete_order(request: HttpRequest, call: Call) -> str:
    """``DELETE shopping/order/deleteOrder?orderId=``: an unpaid order is canceled (again: done);
    a paid one is refused (1603002, code chosen)."""
    order_id = request.GET.get("orderId")
    if not order_id:
        raise CjError(api.INVALID_PARAM, "orderId is required")
    order = _order(call, order_id)
    done, why = suppliers.supplier_order_cancel(
        order_id=order.pk, reason="Deleted by the buyer", now=sim_now(), buyer=True
    )
    if not done:
        raise CjError(api.NOT_DELETABLE, why)
    return order.external_id


@cj_api("GET")
def order_detail(request: HttpRequest, call: Call) -> dict[str, Any]:
    """``orderId``: CJ's order id, or the orderNumber the order was created under."""
    order_id = request.GET.get("orderId")
    if not order_id:
        raise CjError(api.INVALID_PARAM, "orderId is required")
    assert call.account is not None
    by_number = call.account.supplier_orders.filter(idempotency_key=order_id).first()
    return order_json(by_number or _order(call, order_id))


UNLIMITED_BALANCE = Decimal("10000.00")  # an account without a ``balance`` option pays anything


@cj_api("GET")
def get_balance(request: HttpRequest, call: Call) -> dict[str, Any]:
    """``GET shopping/pay/getBalance``: the wallet (``amount``; frozen and non-withdrawable parts 0)."""
    raw = call.account.options.get("balance")
    amount = Decimal(str(raw)) if raw is not None else UNLIMITED_BALANCE
    return {"amount": float(amount), "noWithdrawalAmount": 0.0, "freezeAmount": 0.0}
