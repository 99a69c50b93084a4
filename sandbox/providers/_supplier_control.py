"""Control-API extras shared by the supplier simulators: the supplier cancels, or ships, now.

    POST /sandbox/_control/<provider>/<name>/supplier-orders/<id>/cancel {"reason"?: str}
         → 200 {"order": {...}}: the supplier cancels the order (refunding any charge), as the
           world does for 8 % of paid orders ("Out of stock"), without waiting for it
    POST /sandbox/_control/<provider>/<name>/supplier-orders/<id>/ship → 200 {"order": {...}}:
         a paid order's parcel goes to its carrier now (its tracking number appears)

``<id>`` is the supplier's order id (AliExpress order id, CJ orderId, Temu order id). The order
changes as the world would change it, and its webhooks (AliExpress) are queued.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sandbox.clock import sim_now
from sandbox.http import json_response, parse_json_body
from sandbox.models import SupplierOrder
from sandbox.sim import suppliers


def _summary(order: SupplierOrder) -> dict[str, Any]:
    return {
        "id": order.external_id,
        "idempotency_key": order.idempotency_key,
        "status": order.status,
        "phase": suppliers.phase_of(order).value,
        "tracking_number": order.tracking_number or None,
        "failure_reason": order.failure_reason or None,
    }


def _order(provider: str, name: str, order_id: str) -> SupplierOrder | None:
    return SupplierOrder.objects.filter(account__provider=provider, account__name=name, external_id=order_id).first()


@csrf_exempt
@require_POST
def cancel(request: HttpRequest, provider: str, name: str, order_id: str) -> HttpResponse:
    order = _order(provider, name, order_id)
    if order is None or provider not in suppliers.SUPPLIER_HOOKS:
        return json_response({"error": f"no {provider} supplier order {order_id} in {name}"}, status=404)
    try:
        body = parse_json_body(request)
    except ValueError as exc:
        return json_response({"error": str(exc)}, status=400)
    reason = body.get("reason") if isinstance(body, dict) else None
    if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
        return json_response({"error": "reason must be text of at most 255 characters"}, status=400)
    done, why = suppliers.supplier_order_cancel(
        order_id=order.pk, reason=reason or "Out of stock", now=sim_now(), buyer=False
    )
    if not done:
        return json_response({"error": why}, status=400)
    order.refresh_from_db()
    return json_response({"order": _summary(order)})


@csrf_exempt
@require_POST
def ship(request: HttpRequest, provider: str, name: str, order_id: str) -> HttpResponse:
    order = _order(provider, name, order_id)
    if order is None or provider not in suppliers.SUPPLIER_HOOKS:
        return json_response({"error": f"no {provider} supplier order {order_id} in {name}"}, status=404)
    if not suppliers.supplier_order_ship(order_id=order.pk, now=sim_now()):
        return json_response({"error": "only a paid order can be shipped"}, status=400)
    order.refresh_from_db()
    return json_response({"order": _summary(order)})


urlpatterns: list[URLPattern] = [
    path(
        "<str:provider>/<str:name>/supplier-orders/<str:order_id>/cancel",
        cancel,
        name="sandbox-control-supplier-cancel",
    ),
    path(
        "<str:provider>/<str:name>/supplier-orders/<str:order_id>/ship",
        ship,
        name="sandbox-control-supplier-ship",
    ),
]
