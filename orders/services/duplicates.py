"""The merchant's answer to a "possible duplicate" flag (the flag itself is set by the upsert)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from accounts.models import Account
from orders import events
from orders.errors import OrdersNotFound
from orders.models import Order


@transaction.atomic
def order_confirm_duplicate(*, account: Account, order_id: int, actor: AbstractBaseUser | None = None) -> Order:
    """The merchant says the flagged order is a real, separate order: it becomes placeable.

    Raises ``OrdersNotFound`` for an id that is not an order of ``account``. Confirming twice,
    or an order that is not flagged, changes nothing.
    """
    order = Order.objects.select_for_update(of=("self",)).filter(account=account, pk=order_id).first()
    if order is None:
        raise OrdersNotFound([order_id])
    if order.possible_duplicate and not order.duplicate_confirmed:
        order.duplicate_confirmed = True
        order.save(update_fields=["duplicate_confirmed", "updated_at"])
        events.event_duplicate_confirmed(order=order, actor=actor)
    return order
