"""Archive and restore: an archived order leaves every tab and is listed under Archive."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from orders import events
from orders.errors import OrdersNotFound
from orders.models import Order
from orders.services.counts import count_key, counts_move


@transaction.atomic
def orders_set_archived(
    *, account: Account, order_ids: list[int], archived: bool, actor: AbstractBaseUser | None = None
) -> int:
    """Archive (or restore) the given orders of ``account``; all or nothing.

    Returns how many orders changed (those already in the wanted state are left alone).
    Raises ``OrdersNotFound`` if any id is not an order of the account.
    """
    wanted = set(order_ids)
    orders = list(Order.objects.select_for_update(of=("self",)).filter(account=account, pk__in=wanted).order_by("pk"))
    if len(orders) != len(wanted):
        raise OrdersNotFound(sorted(wanted - {order.pk for order in orders}))
    to_change = [order for order in orders if order.archived != archived]
    if not to_change:
        return 0
    moves = []
    now = timezone.now()
    for order in to_change:
        old_key = count_key(order)
        order.archived = archived
        order.archived_at = now if archived else None
        moves.append((old_key, count_key(order)))
    Order.objects.filter(pk__in=[o.pk for o in to_change]).update(
        archived=archived, archived_at=now if archived else None, updated_at=now
    )
    counts_move(moves)
    events.events_archived(orders=to_change, archived=archived, actor=actor)
    return len(to_change)


def orders_archive(*, account: Account, order_ids: list[int], actor: AbstractBaseUser | None = None) -> int:
    return orders_set_archived(account=account, order_ids=order_ids, archived=True, actor=actor)


def orders_restore(*, account: Account, order_ids: list[int], actor: AbstractBaseUser | None = None) -> int:
    return orders_set_archived(account=account, order_ids=order_ids, archived=False, actor=actor)
