"""The one writer of an order's stored status: the row, its event and its counter, together.

Intake (new orders), the channel upsert (a payment or cancellation arrives) and the recompute
(a supplier order, parcel or refund changed) all store status through a ``StatusWrites`` taken
from ``status_writes()`` inside their transaction, so a stored (status, sub-status) never
moves without its ``OrderEvent`` and its ``OrderCount`` delta. The status itself is decided
by ``orders.derivation.derive_status``; this module only stores what it decided.

A move out of the stages where an order can be "stalled" (``STALLABLE_STAGES``) clears its
``stalled`` flag in the same UPDATE: a delivered order never shows the warning until the next
daily run (tracking's job flags only orders in those stages).

A batch stays a batch: new orders go in with one INSERT, the events of the whole transaction
go in with one INSERT per type, and the counter deltas are applied once, in sorted key order
(see ``orders.services.counts``), when the ``with`` block ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from orders import events
from orders.derivation import DerivedStatus, OrderFacts, derive_status
from orders.enums import OrderStatus, SubStatus
from orders.models import Order
from orders.services.counts import CountKey, count_key, counts_apply
from orders.services.rows import rows_update

STATUS_FIELDS = ("status", "sub_status")
STALLED_FIELDS = ("stalled", "stalled_since")
# Where a parcel (or its number) can be late: paid and waiting for tracking, or on its way.
STALLABLE_STAGES: tuple[DerivedStatus, ...] = (
    (OrderStatus.PAYMENT, SubStatus.AWAITING_FULFILLMENT),
    (OrderStatus.SHIPMENT, SubStatus.AWAITING_SHIPMENT),
    (OrderStatus.SHIPMENT, SubStatus.IN_TRANSIT),
)


def _clear_stalled(order: Order, new: DerivedStatus) -> bool:
    """Clear the order's flag if ``new`` is no stage it can be stalled in; True if it did. An order
    read without its flag (``only(...)``) is not read again for it: ``_clear_unread`` clears those."""
    if new in STALLABLE_STAGES or "stalled" in order.get_deferred_fields() or not order.stalled:
        return False
    order.stalled, order.stalled_since = "", None
    return True


def _clear_unread(moved: Sequence[tuple[Order, DerivedStatus]], *, also: Sequence[int] = ()) -> None:
    """One UPDATE for the orders moved out of the stalled stages whose flag was not read (and the
    ``also`` ids, cleared in memory already)."""
    ids = [order.pk for order, new in moved if new not in STALLABLE_STAGES and "stalled" in order.get_deferred_fields()]
    ids += also
    if ids:
        Order.objects.filter(pk__in=ids).exclude(stalled="").update(stalled="", stalled_since=None)


@dataclass
class StatusWrites:
    """What one transaction stored: events and counter deltas waiting for ``flush``."""

    actor: AbstractBaseUser | None = None
    deltas: Counter[CountKey] = field(default_factory=Counter)
    moves: list[tuple[Order, DerivedStatus, DerivedStatus]] = field(default_factory=list)

    def insert(self, orders: Sequence[Order]) -> None:
        """Insert new (unsaved) orders with the status their channel state gives them.

        A new order has no supplier order, parcel or refund yet: its channel state is all
        its facts. Writes one ``created`` event each and counts each in its tab.
        """
        now = timezone.now()
        for order in orders:
            order.status, order.sub_status = derive_status(
                OrderFacts(channel_paid=order.channel_paid, channel_canceled=order.channel_canceled),
                now=now,
                expire_after=timedelta(days=order.account.expire_after_days),
            )
        Order.objects.bulk_create(orders)
        events.events_created(orders=orders)
        self.deltas.update(count_key(order) for order in orders)

    def store(self, order: Order, new: DerivedStatus, *, save_with: Sequence[str] = ()) -> bool:
        """Store ``new`` on a known order (the caller holds its row lock); True if it moved.

        ``save_with`` are other fields the caller changed on ``order``: they go in the same
        UPDATE, so a caller that changes facts and status writes the row once.
        """
        old: DerivedStatus = (order.status, order.sub_status)  # type: ignore[assignment]
        fields = list(save_with)
        moved = new != old
        if moved:
            self.deltas[count_key(order)] -= 1
            order.status, order.sub_status = new
            self.deltas[count_key(order)] += 1
            self.moves.append((order, old, new))
            fields += STATUS_FIELDS
            if _clear_stalled(order, new):
                fields += STALLED_FIELDS
            _clear_unread([(order, new)])
        if fields:
            order.save(update_fields=[*fields, "updated_at"])
        return moved

    def store_many(self, stored: Sequence[tuple[Order, DerivedStatus]], *, save_with: Sequence[str] = ()) -> int:
        """``store`` for many known orders (the caller holds their row locks) in one UPDATE; how
        many moved. Each order's ``save_with`` fields and status are written, moved or not."""
        if not stored:
            return 0
        now = timezone.now()
        moved: list[tuple[Order, DerivedStatus]] = []
        cleared: list[int] = []
        for order, new in stored:
            old: DerivedStatus = (order.status, order.sub_status)  # type: ignore[assignment]
            if new != old:
                moved.append((order, new))
                self.deltas[count_key(order)] -= 1
                order.status, order.sub_status = new
                self.deltas[count_key(order)] += 1
                self.moves.append((order, old, new))
                if _clear_stalled(order, new):
                    cleared.append(order.pk)
            order.updated_at = now
        # rows_update reads every row's value of a field it writes: with a flag left unread on any
        # row (``only(...)``), the flags go in one UPDATE of their own instead of a read per row.
        unread = any("stalled" in order.get_deferred_fields() for order, _ in stored)
        with_flags = bool(cleared) and not unread
        fields = [*save_with, *STATUS_FIELDS, *(STALLED_FIELDS if with_flags else ()), "updated_at"]
        rows_update([order for order, _ in stored], list(dict.fromkeys(fields)))
        _clear_unread(moved, also=() if with_flags else cleared)
        return len(moved)

    def flush(self) -> None:
        """Write the waiting ``status_changed`` events and apply the counter deltas, once."""
        events.events_status_changed(moves=self.moves, actor=self.actor)
        counts_apply(self.deltas)
        self.moves.clear()
        self.deltas.clear()


@contextmanager
def status_writes(*, actor: AbstractBaseUser | None = None) -> Iterator[StatusWrites]:
    """Collect a transaction's status writes; their events and counters are written on exit.

    Use inside ``transaction.atomic``: on an exception nothing is flushed and the transaction
    rolls the rows back with it.
    """
    writes = StatusWrites(actor=actor)
    yield writes
    writes.flush()
