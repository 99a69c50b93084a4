"""Helpers for refund tests: a paid supplier order in Shipment (placed at the sandbox over HTTP),
a refund request on it, the world and our sweep run forward. Real rows, real services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import Account
from orders.enums import RefundReason
from orders.models import Order, Refund
from orders.services import order_recompute_status
from sandbox.clock import sim_now
from sandbox.models import Refund as SimRefund
from sandbox.world import world_tick
from suppliers.enums import PlacementOutcome
from suppliers.models import SourceAccount, SupplierOrder
from suppliers.services.placement import order_place
from suppliers.services.refund_send import refunds_sync_due
from suppliers.services.refunds import RefundAskLine, refund_request
from suppliers.services.sync import supplier_orders_sync
from suppliers.tests.placing import link_sku, merchant, order_to_place, source_account_connect
from tests.factories import ShipmentFactory


@dataclass
class Shipped:
    account: Account
    order: Order
    supplier_order: SupplierOrder
    sim_name: str


def shipped_order(control: Any, provider: str, **options: Any) -> Shipped:
    """A merchant's order placed and paid at the sandbox's ``provider``, its parcel on its way;
    ``options`` set on the sandbox account (refund_decision, refund_stall, …)."""
    account, store = merchant(f"Refunding merchant {provider}")
    source = source_account_connect(control, account, provider)
    if options:
        control.options(provider, source.name, **options)
    link_sku(account, "EB-1", provider)
    return _placed_and_shipped(control, account, store, source)


def shipped_again(control: Any, shipped: Shipped) -> Shipped:
    """Another order of the same merchant, placed with the same supplier account and shipped."""
    supplier_order = shipped.supplier_order
    assert supplier_order.source_account is not None
    return _placed_and_shipped(control, shipped.account, shipped.order.store, supplier_order.source_account)


def _placed_and_shipped(control: Any, account: Account, store: Any, source: SourceAccount) -> Shipped:
    order = order_to_place(store)
    result = order_place(account=account, order_id=order.pk)
    assert result.outcome == PlacementOutcome.PAID, result.message
    supplier_order = SupplierOrder.objects.get(order=order)
    if supplier_order.cost is None:  # AliExpress says what it charged on the order query: the sync reads it
        supplier_orders_sync(supplier_order_ids=[supplier_order.pk])
        supplier_order.refresh_from_db()
    assert supplier_order.cost, "the supplier order's cost is known (what a refund may ask is its share)"
    # Shipped at the supplier too: the world then never cancels it while a refund is reviewed.
    control.supplier_ship(source.provider, source.name, supplier_order.external_order_id)
    ShipmentFactory(order=order, supplier_order=supplier_order)
    order_recompute_status(order_id=order.pk)
    order.refresh_from_db()
    return Shipped(account, order, supplier_order, source.name)


def ask(shipped: Shipped, *, units: int = 1, amount: str | None = None, note: str = "Cracked case") -> Refund:
    line = shipped.supplier_order.lines.order_by("id").first()
    assert line is not None
    cost = Decimal(shipped.supplier_order.cost or 0)
    return refund_request(
        account=shipped.account,
        order_id=shipped.order.pk,
        supplier_order_id=shipped.supplier_order.pk,
        lines=[RefundAskLine(supplier_order_line_id=line.pk, quantity=units)],
        amount=Decimal(amount) if amount is not None else (cost / 4).quantize(Decimal("0.01")),
        reason=RefundReason.DAMAGED,
        note=note,
        evidence=["https://example.com/photo.jpg"],
    )


def world_forward(control: Any, hours: float) -> None:
    """The sandbox's clock advanced ``hours`` (its control API) and the world moved to it (a tick
    before plans what is due, the one after acts)."""
    world_tick(now=sim_now())
    control.clock(advance_seconds=hours * 3600)
    world_tick(now=sim_now())


def sync_later(hours: float) -> int:
    """Our beat's sweep, as it would run ``hours`` from now."""
    return refunds_sync_due(now=timezone.now() + timedelta(hours=hours))


def sim_refunds(refund: Refund) -> list[SimRefund]:
    """The sandbox's refunds under the request's key (the supplier's side)."""
    return list(SimRefund.objects.filter(idempotency_key=refund.idempotency_key))


def tab(order: Order) -> tuple[str, str]:
    order.refresh_from_db()
    return order.status, order.sub_status
