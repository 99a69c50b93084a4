"""AliExpress DS methods: aliexpress.ds.order.create, aliexpress.trade.ds.order.get,
aliexpress.ds.order.tracking.get, and the SIMULATED refund methods aliexpress.ds.sim.refund.create /
aliexpress.ds.sim.refund.get (AliExpress handles refunds as disputes in its own UI).

Create honours ``out_order_id``: a repeat returns the same order and, if it is still unpaid and
``try_to_pay`` is set, tries to pay it again (the sandbox's "retry payment"); it never makes a
second order or a second charge.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.clock import sim_now
from sandbox.models import Parcel, SimAccount, SupplierOrder
from sandbox.providers.aliexpress.api import AeError, json_param, method, missing
from sandbox.sim import suppliers
from sandbox.sim.suppliers import Phase

PLACE_PARAM = "param_place_order_request4_open_api_d_t_o"
AUTO_PAY_FAILED = "OrderCreated, autoPay fail:APIPayFail"
ADDRESS_INVALID = "B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL"
CPF_INVALID = "B_DROPSHIPPER_DELIVERY_ADDRESS_CPF_CN_INVALID"
SERVER_TZ = ZoneInfo("America/Los_Angeles")  # gmt_* strings are the platform's local time
SHIPPING_FEES = {
    "CAINIAO_STANDARD": Decimal("2.99"),
    "CAINIAO_ECONOMY": Decimal("1.49"),
    "AE_STANDARD": Decimal("0.00"),
}
LOGISTICS_STATUS = {
    Phase.UNPAID: "DEFAULT",
    Phase.PAYING: "DEFAULT",
    Phase.RISK: "DEFAULT",
    Phase.AWAITING_SHIPMENT: "WAIT_SELLER_SEND_GOODS",
    Phase.PART_SHIPPED: "SELLER_SEND_PART_GOODS",
    Phase.SHIPPED: "SELLER_SEND_GOODS",
    Phase.DELIVERED: "BUYER_ACCEPT_GOODS",
    Phase.FINISHED: "BUYER_ACCEPT_GOODS",
    Phase.CANCELING: "NO_LOGISTICS",
    Phase.CANCELED: "NO_LOGISTICS",
}
PRODUCT_NAMES = ("LED Strip Lights", "Phone Case", "Massage Gun", "Pet Brush", "Water Bottle", "Ring Light", "Earbuds")


def _hash(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest()[:15], 16)


def unit_price(product_id: str, sku_attr: str) -> Decimal:
    return Decimal(199 + _hash(f"{product_id}:{sku_attr}") % 3000) / 100


def _gmt(value: datetime | None) -> str | None:
    return value.astimezone(SERVER_TZ).strftime("%Y-%m-%d %H:%M:%S") if value else None


def cpf_valid(cpf: str) -> bool:
    digits = [int(c) for c in cpf if c.isdigit()]
    if len(digits) != 11 or len(set(digits)) == 1:
        return False
    for n in (9, 10):
        total = sum(d * w for d, w in zip(digits[:n], range(n + 1, 1, -1), strict=True))
        if (total * 10 % 11) % 10 != digits[n]:
            return False
    return True


def _address_error(address: dict[str, Any]) -> tuple[str, str] | None:
    checks = (
        ("country", "Please select a Country/Region"),
        ("province", "Please select a State/Province/County"),
        ("city", "Please enter a City"),
        ("address", "Please enter a Street address"),
        ("zip", "Please enter a ZIP/Postal code"),
    )
    for field, message in checks:
        if not str(address.get(field) or "").strip():
            return ADDRESS_INVALID, message
    if not str(address.get("full_name") or address.get("contact_person") or "").strip():
        return ADDRESS_INVALID, "Please enter a Contact name"
    if str(address["country"]).upper() == "BR" and not cpf_valid(str(address.get("cpf") or "")):
        return CPF_INVALID, "Please enter a valid CPF"
    return None


def _items(request: dict[str, Any]) -> list[dict[str, Any]]:
    items = request.get("product_items")
    if not isinstance(items, list) or not items:
        raise missing("product_items")
    for item in items:
        count = item.get("product_count") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not str(item.get("product_id", "")).isdigit():
            raise AeError("InvalidParameter", "product_items.product_id must be a number")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise AeError("InvalidParameter", "product_items.product_count must be a positive integer")
    return items


def _external_id(account: SimAccount, key: str) -> str:
    return "81" + str(_hash(f"ae:{account.name}:{key}") % 10**14).zfill(14)


def _failed(code: str, message: str) -> dict[str, Any]:
    return {"result": {"is_success": False, "error_code": code, "error_msg": message}}


@method("aliexpress.ds.order.create")
def order_create(account: SimAccount, params: dict[str, str]) -> dict[str, Any]:
    request = json_param(params, PLACE_PARAM)
    extend = json_param(params, "ds_extend_request", required=False) or {}
    if not isinstance(request, dict) or not isinstance(extend, dict):
        raise AeError("InvalidParameter", f"The input parameter “{PLACE_PARAM}” must be an object")
    address = request.get("logistics_address")
    if not isinstance(address, dict):
        raise missing("logistics_address")
    items = _items(request)
    payment: dict[str, Any] = extend["payment"] if isinstance(extend.get("payment"), dict) else {}
    if str(payment.get("pay_currency") or "USD").upper() != "USD":
        return _failed("PRICE_PAY_CURRENCY_ERROR", "Only USD is supported for pay_currency")
    problem = _address_error(address)
    if problem:
        return _failed(*problem)
    out_of_stock = {str(p) for p in account.options.get("out_of_stock", [])}
    if any(str(item["product_id"]) in out_of_stock for item in items):
        return _failed("INVENTORY_HOLD_ERROR", "The product is out of stock")
    key = str(request.get("out_order_id") or f"ae-{uuid.uuid4().hex}")
    if len(key) > 64:
        raise AeError("InvalidParameter", "out_order_id must be at most 64 characters")
    service = str(items[0].get("logistics_service_name") or "CAINIAO_STANDARD")
    amount = sum(
        (unit_price(str(i["product_id"]), str(i.get("sku_attr", ""))) * i["product_count"] for i in items), Decimal("0")
    ) + SHIPPING_FEES.get(service, Decimal("3.99"))
    now = sim_now()
    order, _ = suppliers.supplier_order_open(
        account=account,
        idempotency_key=key,
        external_id=_external_id(account, key),
        amount=amount,
        payload={"request": request, "extend": extend},
        country_code=str(address["country"]).upper(),
        items=sum(int(i["product_count"]) for i in items),
        now=now,
    )
    result: dict[str, Any] = {"is_success": True, "order_list": {"number": [int(order.external_id)]}}
    result.update(error_code=None, error_msg=None)
    if str(payment.get("try_to_pay", "false")).lower() == "true":
        outcome = suppliers.supplier_order_pay(order_id=order.pk, now=now)
        if not outcome.paid:
            result["error_msg"] = AUTO_PAY_FAILED
    return {"result": result}


def _order_for(account: SimAccount, order_id: Any) -> SupplierOrder:
    order = account.supplier_orders.filter(external_id=str(order_id)).first() if str(order_id).isdigit() else None
    if order is None:
        raise AeError("isv.insufficient-permission", "The order does not exist or does not belong to this buyer")
    return order


def order_json(order: SupplierOrder) -> dict[str, Any]:
    phase, state = suppliers.phase_of(order), suppliers.sim_state(order)
    request = order.request.get("payload", {}).get("request", {})
    items = request.get("product_items", [])
    service = str(items[0].get("logistics_service_name") or "CAINIAO_STANDARD") if items else "CAINIAO_STANDARD"
    store_id = 1100000000 + _hash(str(items[0].get("product_id") if items else "")) % 10**8
    paid_at = state.get("paid_at")
    children = []
    for n, item in enumerate(items):
        price = unit_price(str(item["product_id"]), str(item.get("sku_attr", "")))
        child = {
            "product_id": int(item["product_id"]),
            "sku_id": str(12000000000000000 + _hash(f"{item['product_id']}:{item.get('sku_attr', '')}") % 10**16),
            "product_name": PRODUCT_NAMES[_hash(str(item["product_id"])) % len(PRODUCT_NAMES)],
            "product_count": item["product_count"],
            "product_price": {"amount": f"{price:.2f}", "currency_code": "USD"},
            "child_order_id": int(order.external_id) + n + 1,
        }
        if phase == Phase.CANCELED:
            child["end_reason"] = "CANCELED"
        children.append(child)
    result = {
        "gmt_create": _gmt(order.created_at),
        "order_status": order.status,
        "logistics_status": LOGISTICS_STATUS[phase],
        "order_amount": {"amount": f"{order.amount:.2f}", "currency_code": order.currency},
        "user_order_amount": {"amount": f"{order.amount:.2f}", "currency_code": order.currency},
        "child_order_list": children,
        "logistics_info_list": [{"logistics_no": n, "logistics_service": service} for n in state.get("parcels", [])],
        "store_info": {
            "store_id": store_id,
            "store_name": f"Store {store_id}",
            "store_url": f"https://www.aliexpress.com/store/{store_id}",
        },
    }
    if paid_at:
        result["order_paidtime_string"] = _gmt(datetime.fromisoformat(paid_at))
    if phase == Phase.UNPAID:
        plan = state.get("plan") or {}
        due = datetime.fromisoformat(plan["at"]) if plan.get("phase") == Phase.UNPAID and plan.get("at") else None
        result["pay_timeout_second"] = str(max(0, int((due - sim_now()).total_seconds()))) if due else "86400"
    return result


@method("aliexpress.trade.ds.order.get")
def order_get(account: SimAccount, params: dict[str, str]) -> dict[str, Any]:
    query = json_param(params, "single_order_query")
    if not isinstance(query, dict) or not query.get("order_id"):
        raise missing("single_order_query.order_id")
    return {"result": order_json(_order_for(account, query["order_id"]))}


@method("aliexpress.ds.order.tracking.get")
def tracking_get(account: SimAccount, params: dict[str, str]) -> dict[str, Any]:
    if not params.get("ae_order_id"):
        raise missing("ae_order_id")
    order = _order_for(account, params["ae_order_id"])
    numbers = suppliers.sim_state(order).get("parcels", [])
    parcels = {p.number: p for p in Parcel.objects.filter(number__in=numbers)}
    if not numbers:
        return {"result": {"ret": False, "code": "TRACKING DATA NOT FOUND", "msg": "TRACKING DATA NOT FOUND"}}
    items = order.request.get("payload", {}).get("request", {}).get("product_items", [])
    lines = []
    for number in numbers:
        parcel = parcels[number]
        nodes = [
            {
                "time_stamp": int(datetime.fromisoformat(e["time_utc"].replace("Z", "+00:00")).timestamp() * 1000),
                "tracking_name": e["stage"] or e["sub_status"].split("_")[0],
                "tracking_detail_desc": e["description"],
            }
            for e in reversed(parcel.events)
        ]
        lines.append(
            {
                "carrier_name": parcel.carrier_name,
                "mail_no": number,
                "eta_time_stamps": None,
                "package_item_list": [
                    {
                        "item_id": int(i["product_id"]),
                        "quantity": i["product_count"],
                        "item_title": "",
                        "sku_desc": i.get("sku_attr", ""),
                    }
                    for i in items
                ],
                "detail_node_list": nodes,
            }
        )
    return {"result": {"ret": True, "code": "200", "msg": "", "data": {"tracking_detail_line_list": lines}}}


def refund_json(refund: Any) -> dict[str, Any]:
    return {
        "refund_id": str(refund.pk),
        "status": refund.status.upper(),
        "reason": refund.reason,
        "amount": {"amount": f"{refund.amount:.2f}", "currency_code": "USD"},
        "gmt_create": _gmt(refund.requested_at),
        "gmt_decided": _gmt(refund.decided_at),
        "gmt_refunded": _gmt(refund.refunded_at),
    }


@method("aliexpress.ds.sim.refund.create")
def refund_create(account: SimAccount, params: dict[str, str]) -> dict[str, Any]:
    """SIMULATED: ask for a refund (reviewed within a day, paid the day after approval)."""
    if not params.get("order_id"):
        raise missing("order_id")
    if not params.get("reason"):
        raise missing("reason")
    order = _order_for(account, params["order_id"])
    try:
        amount = Decimal(params["amount"]) if params.get("amount") else None
    except ArithmeticError:
        raise AeError("InvalidParameter", "amount must be a decimal number") from None
    refund = suppliers.refund_request(order=order, reason=params["reason"], amount=amount, now=sim_now())
    if isinstance(refund, str):
        return {"result": {"is_success": False, "error_code": "REFUND_NOT_ALLOWED", "error_msg": refund}}
    return {"result": {"is_success": True, "refund": refund_json(refund)}}


@method("aliexpress.ds.sim.refund.get")
def refund_get(account: SimAccount, params: dict[str, str]) -> dict[str, Any]:
    """SIMULATED: the refund requests of an order."""
    if not params.get("order_id"):
        raise missing("order_id")
    order = _order_for(account, params["order_id"])
    return {"result": {"refunds": [refund_json(r) for r in order.refunds.order_by("id")]}}
