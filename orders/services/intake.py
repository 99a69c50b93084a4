"""Creating orders as they arrive from a channel (the channel-sync issue adds the upsert)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Account
from orders import events
from orders.models import Order, OrderLine
from orders.services.counts import count_key, counts_apply
from orders.status import OrderFacts, derive_status


@dataclass(frozen=True)
class LineData:
    title: str
    unit_price: Decimal
    quantity: int = 1
    sku: str = ""
    variant_title: str = ""
    channel_line_id: str = ""


@dataclass(frozen=True)
class OrderData:
    """A channel order, normalized: what every channel provider maps its JSON to."""

    channel_order_id: str
    number: str
    placed_at: datetime
    total: Decimal
    lines: tuple[LineData, ...]
    currency: str = "USD"
    customer_name: str = ""
    customer_email: str = ""
    paid: bool = True
    canceled: bool = False
    extra_search_terms: tuple[str, ...] = field(default_factory=tuple)


def search_text_for(*, number: str, customer_name: str, customer_email: str, terms: list[str]) -> str:
    parts = [number, customer_name, customer_email, *terms]
    return " ".join(part.lower() for part in parts if part)


def _next_number(*, account: Account, base_number: str) -> str:
    """The display number for a new order: ``base`` if free, else ``base-N`` in arrival order.

    When the second order with a number arrives, the first becomes ``base-1`` and the new
    one ``base-2``. Arrivals of one number queue on a lock (``_lock_base_number``); numbers a
    channel produced itself are skipped (``_free_number``); the unique constraint on
    (account, number) stays the last guard (the caller retries).
    """
    _lock_base_number(account=account, base_number=base_number)
    siblings = list(
        Order.objects.select_for_update().filter(account=account, base_number=base_number).order_by("created_at", "id")
    )
    if not siblings:
        if Order.objects.filter(account=account, number=base_number).exists():
            return _free_number(account=account, base_number=base_number, start=1)
        return base_number
    first = siblings[0]
    if len(siblings) == 1 and first.number == base_number:
        old_number = first.number
        first.number = _free_number(account=account, base_number=base_number, start=1)
        first.search_text = first.search_text.replace(old_number.lower(), first.number.lower(), 1)
        first.save(update_fields=["number", "search_text", "updated_at"])
        events.event_renumbered(order=first, old_number=old_number)
    return _free_number(account=account, base_number=base_number, start=len(siblings) + 1)


def _free_number(*, account: Account, base_number: str, start: int) -> str:
    """``base-N`` for the first N >= ``start`` that no order of the account uses: a channel's own
    numbering can produce such numbers too (a Shopify order-name suffix "-1"), and taking one
    would fail the unique constraint on every retry and lose the order."""
    n = start
    while Order.objects.filter(account=account, number=f"{base_number}-{n}").exists():
        n += 1
    return f"{base_number}-{n}"


def _lock_base_number(*, account: Account, base_number: str) -> None:
    """Queue arrivals of one number in one account until the previous one commits.

    Locking the sibling rows is not enough on PostgreSQL: a waiter's query does not see a
    sibling inserted while it waited, so it computes a number just taken (and with no
    sibling yet there is no row to lock). A transaction-scoped advisory lock taken before
    the read makes every arrival read after the previous one committed. SQLite writers are
    serialized already (IMMEDIATE transactions).
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"order-number:{account.pk}:{base_number}"]
        )


def order_create(*, account: Account, store_id: int, channel: str, data: OrderData, attempts: int = 3) -> Order:
    """Create an order with its lines, derived status, counters and first event."""
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                return _order_create(account=account, store_id=store_id, channel=channel, data=data)
        except IntegrityError:
            # Another arrival took the same number between our read and insert: read again.
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _order_create(*, account: Account, store_id: int, channel: str, data: OrderData) -> Order:
    order = order_insert(account=account, store_id=store_id, channel=channel, data=data)
    counts_apply(Counter({count_key(order): 1}))
    return order


def order_insert(
    *, account: Account, store_id: int, channel: str, data: OrderData, channel_updated_at: datetime | None = None
) -> Order:
    """Insert one order with its lines and first event; the caller applies the counter (+1 on
    ``count_key(order)``) in its transaction, so a batch applies all its deltas once, sorted."""
    number = _next_number(account=account, base_number=data.number)
    order = _order_row(
        account=account,
        store_id=store_id,
        channel=channel,
        data=data,
        number=number,
        channel_updated_at=channel_updated_at,
    )
    order.save(force_insert=True)
    OrderLine.objects.bulk_create(_line_rows(order=order, data=data))
    events.event_created(order=order)
    return order


def orders_insert_fresh(
    *,
    account: Account,
    store_id: int,
    channel: str,
    items: list[tuple[OrderData, datetime | None]],
) -> list[Order]:
    """Insert orders whose channel numbers are free in the account, in a few statements.

    The caller holds the number locks (``order-number:…`` advisory locks) and has checked
    that no order of the account has these numbers as number or base number and that each
    appears once in ``items``: then every order keeps its channel number, as ``order_insert``
    would give it, without a query per order. Returns the orders in ``items`` order.
    """
    orders = [
        _order_row(
            account=account,
            store_id=store_id,
            channel=channel,
            data=data,
            number=data.number,
            channel_updated_at=updated,
        )
        for data, updated in items
    ]
    Order.objects.bulk_create(orders)
    OrderLine.objects.bulk_create(
        [line for order, (data, _) in zip(orders, items, strict=True) for line in _line_rows(order=order, data=data)]
    )
    events.events_created(orders=orders)
    return orders


def _order_row(
    *, account: Account, store_id: int, channel: str, data: OrderData, number: str, channel_updated_at: datetime | None
) -> Order:
    status, sub_status = derive_status(
        OrderFacts(channel_paid=data.paid, channel_canceled=data.canceled),
        now=timezone.now(),
        expire_after=timedelta(days=account.expire_after_days),
    )
    return Order(
        account=account,
        store_id=store_id,
        channel=channel,
        channel_order_id=data.channel_order_id,
        number=number,
        base_number=data.number,
        customer_name=data.customer_name,
        customer_email=data.customer_email,
        currency=data.currency,
        total=data.total,
        channel_paid=data.paid,
        channel_canceled=data.canceled,
        placed_at=data.placed_at,
        channel_updated_at=channel_updated_at,
        status=status,
        sub_status=sub_status,
        search_text=search_text_for(
            number=number,
            customer_name=data.customer_name,
            customer_email=data.customer_email,
            terms=[line.sku for line in data.lines] + list(data.extra_search_terms),
        ),
    )


def _line_rows(*, order: Order, data: OrderData) -> list[OrderLine]:
    return [
        OrderLine(
            order=order,
            channel_line_id=line.channel_line_id,
            sku=line.sku,
            title=line.title,
            variant_title=line.variant_title,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in data.lines
    ]


def order_add_search_terms(*, order: Order, terms: list[str]) -> None:
    """Make an order findable by more terms (a tracking number, a supplier order id)."""
    new_terms = [t.lower() for t in terms if t and t.lower() not in order.search_text]
    if new_terms:
        order.search_text = " ".join([order.search_text, *new_terms]).strip()
        order.save(update_fields=["search_text", "updated_at"])
