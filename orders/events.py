"""One small creator per order event type, called inside the transaction of the change."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser

from orders.enums import OrderEventType
from orders.models import CustomerRefund, Order, OrderEvent


def _actor_id(actor: AbstractBaseUser | None) -> int | None:
    return actor.pk if actor is not None else None


def events_created(*, orders: Sequence[Order]) -> None:
    OrderEvent.objects.bulk_create(
        [
            OrderEvent(
                order=order,
                type=OrderEventType.CREATED,
                parameters={"status": order.status, "sub_status": order.sub_status, "number": order.number},
            )
            for order in orders
        ]
    )


def events_status_changed(
    *, moves: Sequence[tuple[Order, tuple[str, str], tuple[str, str]]], actor: AbstractBaseUser | None = None
) -> None:
    """One ``status_changed`` event per (order, old, new) move."""
    OrderEvent.objects.bulk_create(
        [
            OrderEvent(
                order=order,
                type=OrderEventType.STATUS_CHANGED,
                parameters={
                    "from": {"status": old[0], "sub_status": old[1]},
                    "to": {"status": new[0], "sub_status": new[1]},
                },
                actor_id=_actor_id(actor),
            )
            for order, old, new in moves
        ]
    )


def events_archived(*, orders: list[Order], archived: bool, actor: AbstractBaseUser | None) -> None:
    kind = OrderEventType.ARCHIVED if archived else OrderEventType.RESTORED
    OrderEvent.objects.bulk_create(
        [OrderEvent(order=order, type=kind, parameters={}, actor_id=_actor_id(actor)) for order in orders]
    )


def event_renumbered(*, order: Order, old_number: str) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order, type=OrderEventType.RENUMBERED, parameters={"from": old_number, "to": order.number}
    )


def events_channel_updated(*, updates: Sequence[tuple[Order, list[str]]]) -> None:
    """One ``channel_updated`` event per (order, changed fields)."""
    OrderEvent.objects.bulk_create(
        [
            OrderEvent(order=order, type=OrderEventType.CHANNEL_UPDATED, parameters={"changes": changes})
            for order, changes in updates
        ]
    )


def event_possible_duplicate(*, order: Order, twin: Order, purchase_id: str) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order,
        type=OrderEventType.POSSIBLE_DUPLICATE,
        parameters={"twin_id": twin.pk, "twin_number": twin.number, "purchase_id": purchase_id},
    )


def event_duplicate_confirmed(*, order: Order, actor: AbstractBaseUser | None) -> OrderEvent:
    return OrderEvent.objects.create(
        order=order, type=OrderEventType.DUPLICATE_CONFIRMED, parameters={}, actor_id=_actor_id(actor)
    )


def events_customer_erased(*, orders: Sequence[Order], channel: str) -> None:
    """The customer's personal data was erased at the channel's request; says nothing about them."""
    OrderEvent.objects.bulk_create(
        [
            OrderEvent(order=order, type=OrderEventType.CUSTOMER_ERASED, parameters={"channel": channel})
            for order in orders
        ]
    )


def event_address_edited(*, order: Order, fields: Sequence[str], actor: AbstractBaseUser | None) -> OrderEvent:
    """The merchant corrected the shipping address on the order; names the fields, not their values
    (the timeline keeps no personal data an erasure would have to find)."""
    return OrderEvent.objects.create(
        order=order, type=OrderEventType.ADDRESS_EDITED, parameters={"fields": list(fields)}, actor_id=_actor_id(actor)
    )


def events_customer_refund(*, refunds: Sequence[tuple[Order, CustomerRefund, str]]) -> None:
    """One ``customer_refund`` event per (order, refund, "new" | "updated"): money given back to the
    customer in the channel (the amount, when, how many lines; not the customer)."""
    OrderEvent.objects.bulk_create(
        [
            OrderEvent(
                order=order,
                type=OrderEventType.CUSTOMER_REFUND,
                parameters={
                    "change": change,
                    "refund_id": refund.pk,
                    "channel_refund_id": refund.channel_refund_id,
                    "amount": str(refund.amount),
                    "currency": refund.currency,
                    "status": refund.status,
                    "refunded_at": refund.refunded_at.isoformat(),
                    "lines": len(refund.lines),
                },
            )
            for order, refund, change in refunds
        ]
    )
