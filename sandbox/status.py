"""The sandbox's status page at /sandbox/: what the simulated world is doing, for a person watching.

Accounts per provider, recent customer orders, supplier orders, parcels, webhook deliveries,
the clock and the fault rates. Plain HTML that refreshes itself every few seconds.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from sandbox.clock import clock_get, sim_now
from sandbox.models import ChannelOrder, FaultConfig, Parcel, SimAccount, SupplierOrder, WebhookDelivery
from sandbox.registry import PROVIDERS

RECENT = 25


def _accounts(request: HttpRequest) -> list[dict[str, Any]]:
    rows = []
    for account in SimAccount.objects.order_by("provider", "name"):
        spec = PROVIDERS.get(account.provider)
        rows.append(
            {
                "account": account,
                "base_url": spec.base_url(request, account.name) if spec else "",
                "orders": account.channel_orders.count(),
                "supplier_orders": account.supplier_orders.count(),
                "subscriptions": account.webhook_subscriptions.count(),
            }
        )
    return rows


@require_GET
def status_page(request: HttpRequest) -> HttpResponse:
    clock = clock_get()
    context = {
        "now": sim_now(),
        "clock": clock,
        "faults": FaultConfig.objects.order_by("provider"),
        "accounts": _accounts(request),
        "channel_orders": ChannelOrder.objects.select_related("account")
        .prefetch_related("fulfillments")
        .order_by("-updated_at", "-id")[:RECENT],
        "supplier_orders": SupplierOrder.objects.select_related("account").order_by("-updated_at", "-id")[:RECENT],
        "parcels": Parcel.objects.order_by("-updated_at", "-id")[:RECENT],
        "deliveries": WebhookDelivery.objects.select_related("account").order_by("-id")[:RECENT],
        "refresh": request.GET.get("refresh", "5"),
    }
    return render(request, "sandbox/status.html", context)
