"""Writing what happened to a supplier order: state moves, the supplier's answer, the order's status.

Every function here runs inside the caller's transaction, on a supplier order the caller holds
locked (``select_for_update``), and ends by re-deriving the order's status in that transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from orders.enums import OrderEventType, SupplierOrderState
from orders.models import Order, OrderEvent
from orders.services.recompute import order_recompute_status
from suppliers.models import AutoOrderRule, ExchangeRate, SupplierOrder, SupplierOrderTransition
from suppliers.providers.base import Refusal, SupplierOrderInfo

CURRENT = ~Q(state__in=(SupplierOrderState.CANCELED, SupplierOrderState.REPLACED))


def new_idempotency_key() -> str:
    """A key no supplier has seen: 32 hex characters after a prefix support recognises."""
    return f"zopi-{uuid.uuid4().hex}"


def supplier_order_move(
    supplier_order: SupplierOrder,
    to: SupplierOrderState,
    *,
    note: str = "",
    actor: AbstractBaseUser | None = None,
    rule: AutoOrderRule | None = None,
    fields: tuple[str, ...] = (),
) -> None:
    """Save ``supplier_order`` in state ``to`` (with ``fields``), its transition and an order event."""
    before = supplier_order.state
    supplier_order.state = to
    supplier_order.save(update_fields=("state", "updated_at", *fields))
    if before == to and not note:
        return
    SupplierOrderTransition.objects.create(
        supplier_order=supplier_order,
        from_state=before,
        to_state=to,
        note=note[:500],
        actor_id=actor.pk if actor is not None else None,
        rule=rule,
    )
    OrderEvent.objects.create(
        order_id=supplier_order.order_id,
        type=OrderEventType.SUPPLIER_ORDER,
        parameters={
            "supplier_order": supplier_order.pk,
            "provider": supplier_order.provider,
            "from": before,
            "to": to,
            "note": note[:500],
            "rule": rule.pk if rule is not None else None,
        },
        actor_id=actor.pk if actor is not None else None,
    )


def failure_set(supplier_order: SupplierOrder, refusal: Refusal | None) -> tuple[str, ...]:
    """Put ``refusal`` (or nothing) as the supplier order's failure; the fields it changed."""
    supplier_order.failure_code = refusal.code[:64] if refusal else ""
    supplier_order.failure_reason = str(refusal.message)[:255] if refusal else ""
    supplier_order.failure_fix = str(refusal.fix)[:255] if refusal else ""
    return ("failure_code", "failure_reason", "failure_fix")


def info_apply(supplier_order: SupplierOrder, info: SupplierOrderInfo) -> tuple[str, ...]:
    """Copy what the supplier says of its order (ids, status, amounts, deadline, tracking)."""
    supplier_order.external_order_id = info.external_id[:64] or supplier_order.external_order_id
    supplier_order.external_status = info.status[:48]
    changed = ["external_order_id", "external_status"]
    for name, value in (
        ("items_total", info.items_total),
        ("shipping_total", info.shipping_total),
        ("cost", info.total),
        ("pay_by", info.pay_by),
    ):
        if value is not None:
            setattr(supplier_order, name, value)
            changed.append(name)
    if info.currency:
        supplier_order.currency = info.currency[:3].upper()
        changed.append("currency")
    if info.tracking_number and not supplier_order.tracking_number:
        supplier_order.tracking_number = info.tracking_number[:64]
        changed.append("tracking_number")
    return tuple(changed)


def rate_between(from_currency: str, to_currency: str) -> tuple[Decimal, str] | None:
    """1 ``from_currency`` in ``to_currency`` and where the rate comes from (None: no rate known)."""
    if from_currency == to_currency:
        return Decimal(1), "same currency"
    rate = ExchangeRate.objects.filter(from_currency=from_currency, to_currency=to_currency).first()
    return (rate.rate, f"{rate.source} ({rate.as_of:%Y-%m-%d})"[:100]) if rate is not None else None


def fx_apply(supplier_order: SupplierOrder, order: Order, now: datetime) -> tuple[str, ...]:
    """Record the rate turning the supplier's currency into the store's, at payment."""
    supplier_order.fx_rate, supplier_order.fx_source = rate_between(supplier_order.currency, order.currency) or (
        None,
        "",
    )
    return ("fx_rate", "fx_source")


def order_after_supplier_change(*, order_id: int, actor: AbstractBaseUser | None = None) -> None:
    """The order's supplier cost (current supplier orders, in its currency) and derived status.

    The cost is empty while any current supplier order has no amount or no known rate: a
    margin from part of the cost would be wrong.
    """
    costs: list[Decimal | None] = [
        supplier_order.margin_cost()
        for supplier_order in SupplierOrder.objects.filter(CURRENT, order_id=order_id).exclude(
            state=SupplierOrderState.DRAFT
        )
    ]
    known = [cost for cost in costs if cost is not None]
    total = sum(known, Decimal(0)) if costs and len(known) == len(costs) else None
    Order.objects.filter(pk=order_id).update(supplier_cost=total)
    order_recompute_status(order_id=order_id, actor=actor)
