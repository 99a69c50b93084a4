"""TikTok Shop Partner API 202309 endpoints (orders, fulfillment, logistics, authorization, tokens)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox.clock import sim_now
from sandbox.enums import Provider
from sandbox.models import ChannelOrder, Fulfillment, Parcel, SimAccount
from sandbox.providers._faults import fault_response
from sandbox.providers.tiktok import authorize, orders, render
from sandbox.providers.tiktok.api import FAULTS, Call, TikTokError, envelope, invalid, tiktok_api
from sandbox.providers.tiktok.sellers import app_for_key

MAX_PAGE_SIZE, MAX_IDS = 100, 50
TIME_FILTERS = {
    "create_time_ge": ("created_at", "gte"),
    "create_time_lt": ("created_at", "lt"),
    "update_time_ge": ("updated_at", "gte"),
    "update_time_lt": ("updated_at", "lt"),
}
ORDER_NOT_FOUND = 21011005


def _int_param(params: dict[str, str], name: str, default: int | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise invalid(f"{name} is a required field and has not been provided.")
        return default
    if not raw.isdigit():
        raise invalid(f"Invalid '{name}' query parameter.")
    return int(raw)


def _filters(body: dict[str, Any]) -> Q:
    query = Q()
    for name, (field, op) in TIME_FILTERS.items():
        if name in body:
            try:
                if isinstance(body[name], bool):
                    raise TypeError(name)
                moment = datetime.fromtimestamp(body[name], tz=UTC)
            except (TypeError, ValueError, OverflowError, OSError):
                raise invalid(f"Invalid '{name}': a unix timestamp in seconds is expected.") from None
            query &= Q(**{f"{field}__{op}": moment})
    status = body.get("order_status")
    if status is not None:
        if status not in render.ORDER_STATUSES:
            raise invalid(f"Invalid 'order_status': {status}.")
        query &= Q(status=status)
    if body.get("buyer_user_id"):
        query &= Q(extra__user_id=str(body["buyer_user_id"]))
    return query


def _token(field: str, order: ChannelOrder, fingerprint: str) -> str:
    raw = json.dumps({"v": getattr(order, field).isoformat(), "i": order.pk, "f": fingerprint})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _untoken(token: str, fingerprint: str) -> tuple[datetime, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data["f"] != fingerprint:
            raise ValueError("the page_token belongs to another query")
        return datetime.fromisoformat(data["v"]), int(data["i"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid("Invalid 'page_token' query parameter.") from None


@tiktok_api("POST")
def orders_search(request: HttpRequest, call: Call) -> dict[str, Any]:
    page_size = _int_param(call.params, "page_size")
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise invalid(f"page_size must be between 1 and {MAX_PAGE_SIZE}.")
    sort_field = call.params.get("sort_field") or "create_time"
    sort_order = (call.params.get("sort_order") or "DESC").upper()
    if sort_field not in ("create_time", "update_time") or sort_order not in ("ASC", "DESC"):
        raise invalid("Invalid 'sort_field' or 'sort_order' query parameter.")
    field = "created_at" if sort_field == "create_time" else "updated_at"
    matching = call.account.channel_orders.filter(_filters(call.body))
    fingerprint = hashlib.sha256(json.dumps([call.body, sort_field, sort_order], sort_keys=True).encode()).hexdigest()[
        :16
    ]
    page = matching
    if call.params.get("page_token"):
        value, pk = _untoken(call.params["page_token"], fingerprint)
        after = Q(**{f"{field}__gt": value}) | Q(**{field: value, "pk__gt": pk})
        before = Q(**{f"{field}__lt": value}) | Q(**{field: value, "pk__lt": pk})
        page = page.filter(after if sort_order == "ASC" else before)
    ordering = (field, "pk") if sort_order == "ASC" else (f"-{field}", "-pk")
    rows = list(page.order_by(*ordering)[: page_size + 1])
    more = len(rows) > page_size
    rows = rows[:page_size]
    return {
        "next_page_token": _token(field, rows[-1], fingerprint) if more else "",
        "total_count": matching.count(),
        "orders": [render.order_json(order) for order in rows],
    }


@tiktok_api("GET")
def orders_detail(request: HttpRequest, call: Call) -> dict[str, Any]:
    ids = [i.strip() for i in call.params.get("ids", "").split(",") if i.strip()]
    if not ids:
        raise invalid("ids is a required field and has not been provided.")
    if len(ids) > MAX_IDS:
        raise invalid(f"At most {MAX_IDS} ids are allowed.")
    found = {o.external_id: o for o in call.account.channel_orders.filter(external_id__in=ids)}
    return {"orders": [render.order_json(found[i]) for i in ids if i in found]}


def _ship_call(fn: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        fn(**kwargs)
    except orders.ShipError as exc:
        raise TikTokError(exc.code, exc.message) from None
    return {}


@tiktok_api("POST")
def package_ship(request: HttpRequest, call: Call, package_id: str) -> dict[str, Any]:
    return _ship_call(orders.package_ship, account=call.account, package_id=package_id, body=call.body)


@transaction.atomic
def _shipping_info_update(*, account: SimAccount, package_id: str, body: dict[str, Any]) -> None:
    number, provider_id = str(body.get("tracking_number") or ""), str(body.get("shipping_provider_id") or "")
    if not 0 < len(number) <= orders.MAX_TRACKING_LENGTH or provider_id not in render.SHIPPING_PROVIDERS:
        raise orders.ShipError(orders.BAD_PROVIDER, "tracking_number and a valid shipping_provider_id are required.")
    row = Fulfillment.objects.filter(order__account=account, external_id=package_id).first()
    if row is None:
        raise orders.ShipError(orders.PACKAGE_NOT_FOUND, f"Package {package_id} has not been shipped.")
    order = ChannelOrder.objects.select_for_update().get(pk=row.order_id)  # the order's lock guards its packages
    package = next(p for p in order.extra["packages"] if p["id"] == package_id)
    package.update(tracking_number=number, shipping_provider_id=provider_id)
    package["shipping_provider"] = render.SHIPPING_PROVIDERS[provider_id]
    order.updated_at = sim_now()
    order.save()
    row.tracking_number, row.tracking_company, row.payload = number, package["shipping_provider"], body
    row.save(update_fields=["tracking_number", "tracking_company", "payload"])


@tiktok_api("POST")
def package_shipping_info_update(request: HttpRequest, call: Call, package_id: str) -> dict[str, Any]:
    return _ship_call(_shipping_info_update, account=call.account, package_id=package_id, body=call.body)


@tiktok_api("GET")
def package_detail(request: HttpRequest, call: Call, package_id: str) -> dict[str, Any]:
    for order in call.account.channel_orders.filter(extra__package_ids__icontains=package_id):
        package = next((p for p in order.extra["packages"] if p["id"] == package_id), None)
        if package:
            return {
                "package_id": package_id,
                "package_status": package["status"],
                "orders": [{"id": order.external_id, "skus": [{"id": line["variant_id"]} for line in order.lines]}],
                "tracking_number": package.get("tracking_number", ""),
                "shipping_provider_id": package.get("shipping_provider_id", ""),
                "shipping_provider_name": package.get("shipping_provider", ""),
                "create_time": render.ts(order.created_at),
                "update_time": render.ts(order.updated_at),
            }
    raise TikTokError(orders.PACKAGE_NOT_FOUND, f"Package {package_id} does not exist.")


@tiktok_api("GET")
def order_tracking(request: HttpRequest, call: Call, order_id: str) -> dict[str, Any]:
    order = call.account.channel_orders.filter(external_id=order_id).first()
    if order is None:
        raise TikTokError(ORDER_NOT_FOUND, f"Order {order_id} does not exist.")
    numbers = [p.get("tracking_number") for p in order.extra.get("packages", []) if p.get("tracking_number")]
    events = [e for parcel in Parcel.objects.filter(number__in=numbers[:1]) for e in parcel.events]
    return {
        "tracking": [
            {
                "description": event["description"],
                "update_time_millis": int(
                    datetime.fromisoformat(event["time_utc"].replace("Z", "+00:00")).timestamp() * 1000
                ),
            }
            for event in reversed(events)
        ]
    }


@tiktok_api("GET")
def warehouses(request: HttpRequest, call: Call) -> dict[str, Any]:
    return {
        "warehouses": [
            {
                "id": render.WAREHOUSE_ID,
                "name": "Main warehouse",
                "effect_status": "ENABLED",
                "type": "SALES_WAREHOUSE",
                "sub_type": "DOMESTIC_WAREHOUSE",
                "is_default": True,
                "address": {"region_code": call.account.options.get("region", "US"), "city": "Los Angeles"},
            }
        ]
    }


@tiktok_api("GET")
def delivery_options(request: HttpRequest, call: Call, warehouse_id: str) -> dict[str, Any]:
    if warehouse_id != render.WAREHOUSE_ID:
        return {"delivery_options": []}
    option = {
        "id": render.DELIVERY_OPTION_ID,
        "name": "Standard shipping",
        "type": "STANDARD",
        "platform": ["TIKTOK_SHOP"],
    }
    return {"delivery_options": [option]}


@tiktok_api("GET")
def shipping_providers(request: HttpRequest, call: Call, delivery_option_id: str) -> dict[str, Any]:
    if delivery_option_id != render.DELIVERY_OPTION_ID:
        return {"shipping_providers": []}
    return {"shipping_providers": [{"id": key, "name": name} for key, name in render.SHIPPING_PROVIDERS.items()]}


@tiktok_api("GET", shop_scoped=False)
def authorized_shops(request: HttpRequest, call: Call) -> dict[str, Any]:
    return {"shops": [authorize.shop_json(shop) for shop in call.shops]}


@csrf_exempt
def token(request: HttpRequest, grant: str) -> HttpResponse:
    """Auth host: GET /api/v2/token/get (authorized_code) and /api/v2/token/refresh (refresh_token)."""

    def answer() -> HttpResponse:
        params = request.GET
        app = app_for_key(params.get("app_key", ""))
        if app is not None:  # the operator's app: codes from the authorization page, grants
            return authorize.app_token_answer(app, params, grant)
        account = SimAccount.objects.filter(
            provider=Provider.TIKTOK, credentials__app_key=params.get("app_key", "")
        ).first()
        secret = str(account.credentials["app_secret"]) if account else ""
        if account is None or not hmac.compare_digest(params.get("app_secret", "").encode(), secret.encode()):
            return envelope(36004003, "app_key or app_secret is invalid", status=200)
        credentials = account.credentials
        if grant == "get":
            ok = params.get("grant_type") == "authorized_code" and params.get("auth_code") == credentials["auth_code"]
        else:
            ok = (
                params.get("grant_type") == "refresh_token"
                and params.get("refresh_token") == credentials["refresh_token"]
            )
        if not ok:
            return envelope(36004005, "can not find related auth record", status=200)
        if account.options.get("access_token_expired"):
            SimAccount.objects.filter(pk=account.pk).update(options={**account.options, "access_token_expired": False})
        data = {
            "access_token": credentials["access_token"],
            "access_token_expire_in": int(sim_now().timestamp()) + 7 * 86400,
            "refresh_token": credentials["refresh_token"],
            "refresh_token_expire_in": int(sim_now().timestamp()) + 365 * 86400,
            "open_id": credentials["open_id"],
            "seller_name": account.name,
            "seller_base_region": account.options.get("region", "US"),
            "user_type": 0,
            "granted_scopes": ["seller.order.info", "seller.fulfillment.basic", "seller.logistics"],
        }
        return envelope(0, "success", data)

    return fault_response(Provider.TIKTOK, FAULTS, request, answer)
