"""Channel orders in: insert or update on (store, channel order id), in one transaction per batch.

Sync (webhooks and pull) hands a batch of normalized channel orders to
``orders_upsert_from_channel``. New orders get their display number by the intake rules
(``#1001``, ``#1001-1``, …); known ones are updated in place unless the update is older than
what is stored (``channel_updated_at``). Lines are merged on ``channel_line_id`` so their ids
survive an update. Status, counters and events are written in the same transaction, through
``orders.services.status_write``.

Locks are taken in one fixed order so two batches never wait on each other in a circle:
advisory locks on every base number and purchase id of the batch (sorted), then the known
orders' rows (primary-key order), then the counter rows (sorted, at the end).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Prefetch
from django.utils.translation import gettext as _

from accounts.models import Account
from orders import events
from orders.enums import OrderEventType
from orders.models import Order, OrderEvent, OrderLine, PurchaseId
from orders.search_text import search_text_with
from orders.services.address_edit import order_address_locked
from orders.services.cancel_hook import orders_channel_canceled_announce
from orders.services.customer_refunds import customer_refunds_store
from orders.services.intake import ADDRESS_FIELDS, LineData, OrderData, order_insert, orders_insert_fresh
from orders.services.locks import advisory_locks, number_lock_key, purchase_lock_key
from orders.services.recompute import orders_derived_status
from orders.services.status_write import StatusWrites, status_writes


class ChannelOrderLike(Protocol):
    """What a channel provider hands over (``channels_sync.providers.base.ChannelOrder``)."""

    @property
    def data(self) -> OrderData: ...

    @property
    def updated_at(self) -> datetime: ...

    @property
    def purchase_ids(self) -> tuple[str, ...]: ...


@dataclass
class UpsertResult:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)  # an older update than the one stored: ignored
    flagged_duplicates: list[int] = field(default_factory=list)
    refunds_created: list[int] = field(default_factory=list)  # CustomerRefund ids
    refunds_refused: list[tuple[str, str]] = field(default_factory=list)  # (channel refund id, reason)

    @property
    def order_ids(self) -> list[int]:
        return [*self.created, *self.updated, *self.unchanged, *self.stale]


def orders_upsert_from_channel(
    *, account: Account, store_id: int, channel: str, orders: Sequence[ChannelOrderLike], attempts: int = 3
) -> UpsertResult:
    """Insert or update ``orders`` of one store, all or nothing; safe to run twice or concurrently."""
    latest: dict[str, ChannelOrderLike] = {}
    for item in orders:  # the same order twice in a batch: the newest wins
        key = item.data.channel_order_id
        if key not in latest or _newer(item, than=latest[key]):
            latest[key] = item
    if not latest:
        return UpsertResult()
    for attempt in range(attempts):
        try:
            with transaction.atomic(), status_writes() as writes:
                return _upsert(account=account, store_id=store_id, channel=channel, items=latest, writes=writes)
        except (IntegrityError, OperationalError) as error:
            # Another writer inserted the same order or number first (read again: it is known now),
            # or PostgreSQL broke a lock cycle with another transaction.
            if attempt == attempts - 1 or not _is_retryable(error):
                raise
    raise AssertionError("unreachable")


def _newer(item: ChannelOrderLike, *, than: ChannelOrderLike) -> bool:
    """Later channel time wins; at the same time (channels give seconds) the further state does
    (canceled, then paid), as ``_order_update`` keeps it, and then the later arrival."""
    if item.updated_at != than.updated_at:
        return item.updated_at > than.updated_at
    return (item.data.canceled, item.data.paid) >= (than.data.canceled, than.data.paid)


def _is_retryable(error: Exception) -> bool:
    if isinstance(error, IntegrityError):
        return True
    return "deadlock" in str(error).lower()


def _upsert(
    *, account: Account, store_id: int, channel: str, items: dict[str, ChannelOrderLike], writes: StatusWrites
) -> UpsertResult:
    # The same number keys as intake's, so order_create and this queue on one another.
    advisory_locks(
        [number_lock_key(account_id=account.pk, base_number=item.data.number) for item in items.values()]
        + [
            purchase_lock_key(account_id=account.pk, purchase_id=pid)
            for item in items.values()
            for pid in item.purchase_ids
        ]
    )
    known = {
        order.channel_order_id: order
        for order in Order.objects.select_for_update(of=("self",))
        .select_related("account")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")))
        .filter(store_id=store_id, channel_order_id__in=list(items))
        .order_by("pk")
    }
    result = UpsertResult()
    touched: list[tuple[Order, ChannelOrderLike]] = []
    updates: list[_Update] = []
    for channel_order_id, item in items.items():
        order = known.get(channel_order_id)
        if order is None:
            continue
        if order.channel_updated_at is not None and item.updated_at < order.channel_updated_at:
            result.stale.append(order.pk)
            continue
        touched.append((order, item))
        update = _order_update(order=order, item=item)
        if update is None:
            result.unchanged.append(order.pk)
        else:
            updates.append(update)
    _updates_store(updates=updates, writes=writes, result=result)
    # New orders in number order: each takes the sibling rows of its number in a fixed order.
    new_items = sorted(
        (item for key, item in items.items() if key not in known),
        key=lambda item: (item.data.number, item.data.channel_order_id),
    )
    fresh, renumbered = _split_fresh(account=account, items=new_items)
    inserted = orders_insert_fresh(
        account=account,
        store_id=store_id,
        channel=channel,
        items=[(item.data, item.updated_at) for item in fresh],
        writes=writes,
    )
    for order, item in zip(inserted, fresh, strict=True):
        result.created.append(order.pk)
        touched.append((order, item))
    for item in renumbered:  # numbers another order has: one at a time, by the intake rules
        order = order_insert(
            account=account,
            store_id=store_id,
            channel=channel,
            data=item.data,
            writes=writes,
            channel_updated_at=item.updated_at,
        )
        result.created.append(order.pk)
        touched.append((order, item))
    result.flagged_duplicates = _link_purchases(account=account, touched=touched)
    # The refunds a body carries, with its order (a stale body's are skipped with it above).
    refunds = customer_refunds_store(
        store_id=store_id,
        items=[(order, item_refunds) for order, item in touched if (item_refunds := getattr(item, "refunds", None))],
    )
    result.refunds_created, result.refunds_refused = refunds.created, refunds.refused
    return result


def _split_fresh(
    *, account: Account, items: list[ChannelOrderLike]
) -> tuple[list[ChannelOrderLike], list[ChannelOrderLike]]:
    """New orders whose number no order of the account has (inserted in bulk), and the rest.

    Two queries for the whole batch instead of several per order; the batch already holds
    the number locks, so nothing can take these numbers before the insert.
    """
    numbers = Counter(item.data.number for item in items)
    taken = set(
        Order.objects.filter(account=account, base_number__in=list(numbers)).values_list("base_number", flat=True)
    ) | set(Order.objects.filter(account=account, number__in=list(numbers)).values_list("number", flat=True))
    fresh = [item for item in items if numbers[item.data.number] == 1 and item.data.number not in taken]
    fresh_ids = {id(item) for item in fresh}
    return fresh, [item for item in items if id(item) not in fresh_ids]


@dataclass
class _Update:
    """A known order with a newer channel state applied in memory, not saved yet."""

    order: Order
    fields: list[str]  # the order's fields that changed, with the channel time and search text
    changes: list[str]  # what the merchant sees changed (the fields and "lines"), for the event
    channel_state_moved: bool  # paid or canceled changed: the status may move


def _order_update(*, order: Order, item: ChannelOrderLike) -> _Update | None:
    """Apply a newer channel state to a known order in memory (its lines are written now).

    None if it repeats what is stored.
    """
    data = item.data
    paid, canceled = data.paid, data.canceled
    if order.channel_updated_at is not None and item.updated_at == order.channel_updated_at:
        # The same channel time (channels give seconds): the two states arrived in an order that
        # says nothing about which came first. Payment and cancellation only move forward
        # within a second (created then paid, paid then canceled): keep what is already known.
        paid, canceled = paid or order.channel_paid, canceled or order.channel_canceled
    changes: list[str] = []
    # A customer erased at the channel's request stays erased, whatever the channel sends later.
    erased = order.customer_erased_at is not None
    customer_name, customer_email = ("", "") if erased else (data.customer_name, data.customer_email)
    for attr, value in (
        ("customer_name", customer_name),
        ("customer_email", customer_email),
        ("currency", data.currency),
        ("total", data.total),
        ("channel_paid", paid),
        ("channel_canceled", canceled),
    ):
        if getattr(order, attr) != value:
            setattr(order, attr, value)
            changes.append(attr)
    address = _address_apply(order=order, data=data)
    if address == "changed":
        changes.append("address")
    elif address == "held":
        OrderEvent.objects.create(
            order=order,
            type=OrderEventType.NOTE,
            parameters={
                "code": "address_changed_after_sent",
                "text": str(
                    _(
                        "The customer changed the shipping address in the channel after it was sent to the "
                        "supplier: the supplier has the earlier address. Change it at the supplier if needed."
                    )
                ),
            },
        )
    if _lines_merge(order=order, lines=data.lines):
        changes.append("lines")
    # Appended, never rebuilt: tracking numbers and supplier ids were added since.
    search_text = search_text_with(
        order.search_text,
        [customer_name, customer_email, *(line.sku for line in data.lines), *data.extra_search_terms],
    )
    if not changes and not address and search_text == order.search_text and order.channel_updated_at == item.updated_at:
        return None
    order.search_text = search_text
    order.channel_updated_at = item.updated_at
    return _Update(
        order=order,
        fields=[
            "channel_updated_at",
            "search_text",
            *(c for c in changes if c not in ("lines", "address")),
            *(ADDRESS_ORDER_FIELDS if address else ()),
        ],
        changes=changes,
        channel_state_moved="channel_paid" in changes or "channel_canceled" in changes,
    )


def _updates_store(*, updates: list[_Update], writes: StatusWrites, result: UpsertResult) -> None:
    """Save the updated orders, each in one UPDATE with its new status if the channel state moved it.

    The facts of all orders whose status may move are read at once (three queries a batch).
    """
    derived = orders_derived_status(orders=[update.order for update in updates if update.channel_state_moved])
    for update in updates:
        order = update.order
        moved = False
        if order.pk in derived:
            moved = writes.store(order, derived[order.pk], save_with=update.fields)
        else:
            order.save(update_fields=[*update.fields, "updated_at"])
        if update.changes or moved:
            result.updated.append(order.pk)
        else:  # only the channel time or the search text moved
            result.unchanged.append(order.pk)
    events.events_channel_updated(updates=[(update.order, update.changes) for update in updates if update.changes])
    orders_channel_canceled_announce(
        order_ids=[
            update.order.pk
            for update in updates
            if "channel_canceled" in update.changes and update.order.channel_canceled
        ]
    )


ADDRESS_ORDER_FIELDS = tuple(field for field, _ in ADDRESS_FIELDS.values())


def _address_apply(*, order: Order, data: OrderData) -> str:
    """Take the channel's shipping address, unless the merchant corrected it on the order
    (``ship_edited_at``: the correction wins over any later channel update) or the customer was
    erased (their address stays erased).

    "" when nothing changed; "filled" when the order had no address yet (an order stored before
    addresses were kept: not a change the merchant needs told about); "held" when a supplier
    already has the address (kept as sent; the caller notes the customer's change); else "changed".
    """
    if order.ship_edited_at is not None or order.customer_erased_at is not None:
        return ""
    wanted = data.ship.order_fields()
    differing = {field: value for field, value in wanted.items() if getattr(order, field) != value}
    if not differing:
        return ""
    was_blank = not any(getattr(order, name) for name in wanted)
    if not was_blank and order.pk is not None and order_address_locked(order=order):
        # A supplier has the address as it was: the order keeps showing what the supplier has.
        return "held"
    for name, value in differing.items():
        setattr(order, name, value)
    return "filled" if was_blank else "changed"


_LINE_FIELDS = ("sku", "title", "variant_title", "quantity", "unit_price", "product_id", "variant_id")


def _lines_merge(*, order: Order, lines: tuple[LineData, ...]) -> bool:
    """Make the order's lines match ``lines``, keeping the row (and id) of every line still there.

    Lines match on ``channel_line_id``; lines without one match in order of appearance.
    """
    existing = list(order.lines.all())  # prefetched in id order
    by_id = {line.channel_line_id: line for line in existing if line.channel_line_id}
    without_id = [line for line in existing if not line.channel_line_id]
    kept: set[int] = set()
    to_update: list[OrderLine] = []
    to_create: list[OrderLine] = []
    for incoming in lines:
        row = by_id.pop(incoming.channel_line_id, None) if incoming.channel_line_id else None
        if row is None and not incoming.channel_line_id and without_id:
            row = without_id.pop(0)
        if row is None:
            to_create.append(OrderLine(order=order, channel_line_id=incoming.channel_line_id))
            row = to_create[-1]
        else:
            kept.add(row.pk)
        if any(getattr(row, name) != getattr(incoming, name) for name in _LINE_FIELDS):
            for name in _LINE_FIELDS:
                setattr(row, name, getattr(incoming, name))
            if row.pk:
                to_update.append(row)
    to_delete = [line.pk for line in existing if line.pk not in kept]
    if to_delete:
        OrderLine.objects.filter(pk__in=to_delete).delete()
    if to_update:
        OrderLine.objects.bulk_update(to_update, list(_LINE_FIELDS))
    if to_create:
        OrderLine.objects.bulk_create(to_create)
    return bool(to_delete or to_update or to_create)


def _link_purchases(*, account: Account, touched: list[tuple[Order, ChannelOrderLike]]) -> list[int]:
    """Record purchase ids and flag every order that repeats a purchase another order already has.

    The first order of a purchase (lowest id) stays as it is; each later one points at it, is
    flagged "possible duplicate" and is not placeable until the merchant confirms it.
    """
    wanted = {(order.pk, pid) for order, item in touched for pid in item.purchase_ids if pid}
    if not wanted:
        return []
    purchase_ids = {pid for _, pid in wanted}
    PurchaseId.objects.bulk_create(
        [PurchaseId(account=account, purchase_id=pid, order_id=order_id) for order_id, pid in sorted(wanted)],
        ignore_conflicts=True,
    )
    orders_by_purchase: dict[str, set[int]] = {}
    for pid, order_id in PurchaseId.objects.filter(account=account, purchase_id__in=purchase_ids).values_list(
        "purchase_id", "order_id"
    ):
        orders_by_purchase.setdefault(pid, set()).add(order_id)
    later: dict[int, tuple[int, str]] = {}  # order id → (first order id, purchase id)
    for pid, order_ids in sorted(orders_by_purchase.items()):
        first = min(order_ids)
        for order_id in order_ids - {first}:
            later.setdefault(order_id, (first, pid))
    if not later:
        return []
    flagged: list[int] = []
    to_flag = Order.objects.select_for_update(of=("self",)).filter(
        pk__in=list(later), possible_duplicate=False, duplicate_of__isnull=True
    )
    twins = Order.objects.in_bulk({first for first, _ in later.values()})
    for order in to_flag.order_by("pk"):
        first_id, pid = later[order.pk]
        order.possible_duplicate = True
        order.duplicate_of_id = first_id
        order.save(update_fields=["possible_duplicate", "duplicate_of", "updated_at"])
        events.event_possible_duplicate(order=order, twin=twins[first_id], purchase_id=pid)
        flagged.append(order.pk)
    return flagged
