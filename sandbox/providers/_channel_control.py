"""Control-API extras shared by the channel simulators: a buyer cancels, the merchant edits.

    POST /sandbox/_control/<provider>/<name>/orders/<id>/cancel  {"reason"?: str} → 200 {"order": {...}}
    POST /sandbox/_control/<provider>/<name>/orders/<id>/update  {"note"?: str, "tags"?: str} → 200 {"order": {...}}
    POST /sandbox/_control/<provider>/<name>/orders/<id>/refund  {"lines": [{"line_id", "quantity"}], …}
        → 200 {"order": {..., "refunds": [ids]}} (``sandbox.providers._refunds``)

Both change the order as the provider would and queue its webhooks. Errors use the control
API's own shape ``{"error": message}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sandbox.http import json_response, parse_json_body
from sandbox.models import ChannelOrder, SimAccount
from sandbox.providers._refunds import refunds_of

# (order, body) → the changed order; raises ValueError with a message when the change is refused.
OrderChange = Callable[[ChannelOrder, dict[str, Any]], ChannelOrder]


def _summary(order: ChannelOrder) -> dict[str, Any]:
    return {
        "id": order.external_id,
        "number": order.number,
        "status": order.status,
        "financial_status": order.financial_status,
        "cancelled_at": order.canceled_at.isoformat() if order.canceled_at else None,
        "cancel_reason": order.cancel_reason or None,
        "updated_at": order.updated_at.isoformat(),
        "refunds": [refund["id"] for refund in refunds_of(order)],
    }


def _order_change_view(provider: str, change: OrderChange) -> Callable[..., HttpResponse]:
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest, name: str, order_id: str) -> HttpResponse:
        account = SimAccount.objects.filter(provider=provider, name=name).first()
        order = account.channel_orders.filter(external_id=order_id).first() if account else None
        if order is None:
            return json_response({"error": f"no {provider} order {order_id} in {name}"}, status=404)
        try:
            body = parse_json_body(request)
        except ValueError as exc:
            return json_response({"error": str(exc)}, status=400)
        if not isinstance(body, dict):
            return json_response({"error": "body must be a JSON object"}, status=400)
        try:
            order = change(order, body)
        except ValueError as exc:
            return json_response({"error": str(exc)}, status=409)
        return json_response({"order": _summary(order)})

    return view


def channel_control_urlpatterns(
    provider: str, *, cancel: OrderChange, update: OrderChange, refund: OrderChange | None = None
) -> list[URLPattern]:
    """Routes to include at ``_control/<provider>/`` (``refund``: see ``sandbox.providers._refunds``)."""
    routes = [
        path("<str:name>/orders/<str:order_id>/cancel", _order_change_view(provider, cancel)),
        path("<str:name>/orders/<str:order_id>/update", _order_change_view(provider, update)),
    ]
    if refund is not None:
        routes.append(path("<str:name>/orders/<str:order_id>/refund", _order_change_view(provider, refund)))
    return routes
