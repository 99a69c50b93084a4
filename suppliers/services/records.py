"""Writing what happened to a supplier order: state moves, the supplier's answer, the order's status.

Every function here runs inside the caller's transaction, on a supplier order the caller holds
locked (``select_for_update``), and ends by re-deriving the order's status in that transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
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
    transition, event = move_rows(supplier_order, before, to, note=note, actor=actor, rule=rule)
    transition.save()
    event.save()


def move_rows(
    supplier_order: SupplierOrder,
    before: str,
    to: str,
    *,
    note: str = "",
    actor: AbstractBaseUser | None = None,
    rule: AutoOrderRule | None = None,
) -> tuple[SupplierOrderTransition, OrderEvent]:
    """The history of one move (unsaved): its transition and the order's event."""
    actor_id = actor.pk if actor is not None else None
    transition = SupplierOrderTransition(
        supplier_order=supplier_order, from_state=before, to_state=to, note=note[:500], actor_id=actor_id, rule=rule
    )
    event = OrderEvent(
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
        actor_id=actor_id,
    )
    return transition, event


def moves_write(rows: list[tuple[SupplierOrderTransition, OrderEvent]]) -> None:
    """Write the history of many moves (``move_rows``): two INSERTs."""
    SupplierOrderTransition.objects.bulk_create([transition for transition, _ in rows])
    OrderEvent.objects.bulk_create([event for _, event in rows])


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
        if info.carrier and not supplier_order.carrier:  # the carrier it named with the number
            supplier_order.carrier = info.carrier[:64]
            changed.append("carrier")
    return tuple(changed)


def rate_between(from_currency: str, to_currency: str) -> tuple[Decimal, str] | None:
    """1 ``from_currency`` in ``to_currency`` and where the rate comes from (None: no rate known)."""
    if from_currency == to_currency:
        return Decimal(1), "same currency"
    rate = ExchangeRate.objects.filter(from_currency=from_currency, to_currency=to_currency).first()
    return (rate.rate, f"{rate.source} ({rate.as_of:%Y-%m-%d})"[:100]) if rate is not None else None


Rates = dict[tuple[str, str], "tuple[Decimal, str] | None"]


def fx_apply(
    supplier_order: SupplierOrder, order: Order, now: datetime, *, rates: Rates | None = None
) -> tuple[str, ...]:
    """Record the rate turning the supplier's currency into the store's, at payment. ``rates``:
    the rates already looked up by the caller's run (one query per currency pair)."""
    pair = (supplier_order.currency, order.currency)
    rates = {} if rates is None else rates
    if pair not in rates:
        rates[pair] = rate_between(*pair)
    supplier_order.fx_rate, supplier_order.fx_source = rates[pair] or (None, "")
    return ("fx_rate", "fx_source")


def order_after_supplier_change(*, order_id: int, actor: AbstractBaseUser | None = None) -> None:
    """The order's supplier cost (current supplier orders, in its currency) and derived status.

    The cost is empty while any current supplier order has no amount or no known rate: a
    margin from part of the cost would be wrong.
    """
    total = supplier_cost_of(SupplierOrder.objects.filter(CURRENT, order_id=order_id))
    Order.objects.filter(pk=order_id).update(supplier_cost=total)
    order_recompute_status(order_id=order_id, actor=actor)


def supplier_cost_of(current: Iterable[SupplierOrder]) -> Decimal | None:
    """An order's supplier cost from its current supplier orders (drafts count for nothing):
    None while any has no amount or no known rate, or none was sent."""
    costs = [
        supplier_order.margin_cost() for supplier_order in current if supplier_order.state != SupplierOrderState.DRAFT
    ]
    known = [cost for cost in costs if cost is not None]
    return sum(known, Decimal(0)) if costs and len(known) == len(costs) else None
