"""The control API for tests and tools: /sandbox/_control/… (JSON in, JSON out).

Contract (keep as written; add more as needed):
- POST /sandbox/_control/accounts {"provider", "name"} → 201 {"provider", "name", "base_url", "credentials"}
  (an existing account is returned with 200, unchanged)
- POST /sandbox/_control/<provider>/<name>/orders {"count": N, "seed": S} → 201 {"created": [...ids]}
- GET|PUT /sandbox/_control/<provider>/<name>/options {"key": value, …} → 200 {"options": {...}}
  (PUT merges; a null value removes the key; e.g. Shopify bucket_size / leak_rate, orders_per_hour)
- POST /sandbox/_control/clock {"advance_seconds": N, "speed"?: F, "seed"?: S} → 200 {"now": iso}
- PUT /sandbox/_control/faults {"<provider>": {"http_5xx": 0.2, …}, …} → 200 {"faults": {...}}
- GET /sandbox/_control/ledger → 200 {"charges": [...], "credits": [...]} (credits: refunds paid back, one per refund)
- GET /sandbox/_control/fulfillments → 200 {"fulfillments": [...]}
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from sandbox import faults
from sandbox.clock import clock_set
from sandbox.http import json_response, parse_json_body
from sandbox.models import ChannelOrder, Charge, FaultConfig, Fulfillment, RefundCredit, SimAccount
from sandbox.registry import PROVIDERS


def _error(message: str, status: int = 400) -> JsonResponse:
    return json_response({"error": message}, status=status)


def _json_object(request: HttpRequest, what: str = "a JSON object") -> dict[str, Any]:
    """The request's JSON body as an object; ValueError with a readable message otherwise."""
    body = parse_json_body(request)
    if not isinstance(body, dict):
        raise ValueError(f"body must be {what}")
    return body


def _account_json(request: HttpRequest, account: SimAccount) -> dict[str, Any]:
    spec = PROVIDERS[account.provider]
    return {
        "provider": account.provider,
        "name": account.name,
        "base_url": spec.base_url(request, account.name),
        "credentials": account.credentials,
    }


@csrf_exempt
@require_POST
def accounts(request: HttpRequest) -> JsonResponse:
    try:
        body = _json_object(request)
    except ValueError as exc:
        return _error(str(exc))
    provider, name = body.get("provider"), body.get("name")
    if provider not in PROVIDERS:
        return _error(f"provider must be one of {sorted(PROVIDERS)}")
    if not isinstance(name, str) or not name or len(name) > 100 or not name.replace("-", "").isalnum():
        return _error("name must be 1-100 letters, digits or dashes")
    account, created = SimAccount.objects.get_or_create(
        provider=provider, name=name, defaults={"credentials": PROVIDERS[provider].make_credentials(name)}
    )
    return json_response(_account_json(request, account), status=201 if created else 200)


ANALYZE_AFTER = 1_000  # orders created in one call


@csrf_exempt
@require_POST
def create_orders(request: HttpRequest, provider: str, name: str) -> JsonResponse:
    spec = PROVIDERS.get(provider)
    if spec is None or spec.create_orders is None:
        return _error(f"{provider} has no customer orders", status=404)
    account = SimAccount.objects.filter(provider=provider, name=name).first()
    if account is None:
        return _error(f"no {provider} account named {name}", status=404)
    try:
        body = _json_object(request)
    except ValueError as exc:
        return _error(str(exc))
    count, seed = body.get("count", 1), body.get("seed", 1)
    if not isinstance(count, int) or not 1 <= count <= 10_000 or not isinstance(seed, int):
        return _error("count must be an integer from 1 to 10000 and seed an integer")
    created = spec.create_orders(
        account, count=count, seed=seed, **{k: v for k, v in body.items() if k not in {"count", "seed"}}
    )
    if len(created) >= ANALYZE_AFTER and connection.vendor == "postgresql":
        # Fresh statistics: without them the planner takes a big shop for a tiny one and sorts
        # the whole shop for every listing page instead of walking the listing index.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(ChannelOrder._meta.db_table)}")
    return json_response({"created": created}, status=201)


@csrf_exempt
@require_http_methods(["GET", "PUT"])
def account_options(request: HttpRequest, provider: str, name: str) -> JsonResponse:
    account = SimAccount.objects.filter(provider=provider, name=name).first()
    if account is None:
        return _error(f"no {provider} account named {name}", status=404)
    if request.method == "PUT":
        try:
            body = _json_object(request, "a JSON object of option → value")
        except ValueError as exc:
            return _error(str(exc))
        with transaction.atomic():  # under the row lock: providers keep live state in options too
            account = SimAccount.objects.select_for_update().get(pk=account.pk)
            for key, value in body.items():
                if value is None:
                    account.options.pop(key, None)
                else:
                    account.options[key] = value
            account.save(update_fields=["options"])
    return json_response({"options": account.options})


@csrf_exempt
@require_POST
def clock(request: HttpRequest) -> JsonResponse:
    try:
        body = _json_object(request)
    except ValueError as exc:
        return _error(str(exc))
    advance = body.get("advance_seconds", 0)
    speed = body.get("speed")
    seed = body.get("seed")
    if not isinstance(advance, int | float) or advance < 0:
        return _error("advance_seconds must be a number ≥ 0")
    if speed is not None and (not isinstance(speed, int | float) or speed <= 0):
        return _error("speed must be a number > 0")
    if seed is not None and not isinstance(seed, int):
        return _error("seed must be an integer")
    now = clock_set(advance_seconds=float(advance), speed=float(speed) if speed is not None else None, seed=seed)
    if seed is not None:
        faults.reseed(seed)
    return json_response({"now": now.isoformat()})


@csrf_exempt
@require_http_methods(["GET", "PUT"])
def fault_rates(request: HttpRequest) -> JsonResponse:
    if request.method == "PUT":
        try:
            body = _json_object(request, "an object of provider → rates")
        except ValueError as exc:
            return _error(str(exc))
        for provider, rates in body.items():
            if provider not in PROVIDERS:
                return _error(f"unknown provider {provider!r}")
            if not isinstance(rates, dict) or any(
                key not in faults.ALL_FAULTS or not isinstance(value, int | float) or not 0 <= value <= 1
                for key, value in rates.items()
            ):
                return _error(f"rates for {provider} must map {list(faults.ALL_FAULTS)} to numbers in [0, 1]")
        for provider, rates in body.items():
            FaultConfig.objects.update_or_create(provider=provider, defaults={"rates": rates})
    return json_response({"faults": {c.provider: c.rates for c in FaultConfig.objects.order_by("provider")}})


@require_GET
def ledger(request: HttpRequest) -> JsonResponse:
    charges = Charge.objects.select_related("account", "supplier_order").order_by("id")
    return json_response(
        {
            "charges": [
                {
                    "id": charge.pk,
                    "provider": charge.account.provider,
                    "account": charge.account.name,
                    "supplier_order_id": charge.supplier_order.external_id,
                    "idempotency_key": charge.idempotency_key,
                    "amount": str(charge.amount),
                    "currency": charge.currency,
                    "created_at": charge.created_at.isoformat(),
                }
                for charge in charges
            ],
            "credits": [
                {
                    "id": credit.pk,
                    "provider": credit.account.provider,
                    "account": credit.account.name,
                    "supplier_order_id": credit.supplier_order.external_id,
                    "refund_key": credit.refund.idempotency_key,
                    "amount": str(credit.amount),
                    "currency": credit.currency,
                    "created_at": credit.created_at.isoformat(),
                }
                for credit in RefundCredit.objects.select_related("account", "supplier_order", "refund").order_by("id")
            ],
        }
    )


@require_GET
def fulfillments(request: HttpRequest) -> JsonResponse:
    rows = Fulfillment.objects.select_related("order__account").order_by("id")
    return json_response(
        {
            "fulfillments": [
                {
                    "id": row.external_id,
                    "provider": row.order.account.provider,
                    "account": row.order.account.name,
                    "order_id": row.order.external_id,
                    "tracking_number": row.tracking_number,
                    "tracking_company": row.tracking_company,
                    "created_at": row.created_at.isoformat(),
                }
                for row in rows
            ]
        }
    )
