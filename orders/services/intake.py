"""Creating orders as they arrive from a channel: numbering, lines, and the search text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account
from orders import events
from orders.models import Order, OrderLine
from orders.search_text import search_text_for, search_text_with
from orders.services.locks import advisory_locks, number_lock_key
from orders.services.status_write import StatusWrites, status_writes


@dataclass(frozen=True)
class LineData:
    title: str
    unit_price: Decimal
    quantity: int = 1
    sku: str = ""
    variant_title: str = ""
    channel_line_id: str = ""
    product_id: str = ""  # the channel's product id (a product link matches it)
    variant_id: str = ""  # the channel's variant / SKU id (matched first)


@dataclass(frozen=True)
class AddressData:
    """Where the parcel goes, as the channel sent it (``Order.ship_*``); "" where it sent nothing."""

    name: str = ""
    phone: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    province: str = ""
    province_code: str = ""
    zip: str = ""
    country_code: str = ""  # ISO 3166-1 alpha-2, upper case
    tax_id: str = ""  # a CPF, RUT, customs code, … where the channel carries one

    def order_fields(self) -> dict[str, str]:
        """The ``Order`` fields and their values, cut to the columns' lengths."""
        values = {field: str(getattr(self, attr)).strip()[:length] for attr, (field, length) in ADDRESS_FIELDS.items()}
        values["ship_country_code"] = values["ship_country_code"].upper()
        return values


# AddressData attribute → (Order field, its max_length).
ADDRESS_FIELDS: dict[str, tuple[str, int]] = {
    "name": ("ship_name", 200),
    "phone": ("ship_phone", 40),
    "address1": ("ship_address1", 255),
    "address2": ("ship_address2", 255),
    "city": ("ship_city", 120),
    "province": ("ship_province", 120),
    "province_code": ("ship_province_code", 16),
    "zip": ("ship_zip", 20),
    "country_code": ("ship_country_code", 2),
    "tax_id": ("ship_tax_id", 40),
}


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
    ship: AddressData = field(default_factory=AddressData)


def _next_number(*, account: Account, base_number: str) -> str:
    """The display number for a new order: ``base`` if free, else ``base-N`` in arrival order.

    When the second order with a number arrives, the first becomes ``base-1`` and the new
    one ``base-2``. Arrivals of one number queue on an advisory lock; numbers a
    channel produced itself are skipped (``_free_number``); the unique constraint on
    (account, number) stays the last guard (the caller retries).
    """
    # Queue arrivals of one number until the previous one commits (see ``advisory_locks``).
    advisory_locks([number_lock_key(account_id=account.pk, base_number=base_number)])
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


def order_create(*, account: Account, store_id: int, channel: str, data: OrderData, attempts: int = 3) -> Order:
    """Create an order with its lines, derived status, counters and first event."""
    for attempt in range(attempts):
        try:
            with transaction.atomic(), status_writes() as writes:
                return order_insert(account=account, store_id=store_id, channel=channel, data=data, writes=writes)
        except IntegrityError:
            # Another arrival took the same number between our read and insert: read again.
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def order_insert(
    *,
    account: Account,
    store_id: int,
    channel: str,
    data: OrderData,
    writes: StatusWrites,
    channel_updated_at: datetime | None = None,
) -> Order:
    """Insert one order with its lines, numbered by the rules of ``_next_number``."""
    number = _next_number(account=account, base_number=data.number)
    order = _order_row(
        account=account,
        store_id=store_id,
        channel=channel,
        data=data,
        number=number,
        channel_updated_at=channel_updated_at,
    )
    writes.insert([order])
    OrderLine.objects.bulk_create(_line_rows(order=order, data=data))
    return order


def orders_insert_fresh(
    *,
    account: Account,
    store_id: int,
    channel: str,
    items: list[tuple[OrderData, datetime | None]],
    writes: StatusWrites,
) -> list[Order]:
    """Insert orders whose channel numbers are free in the account, in a few statements.

    The caller holds the number locks (``number_lock_key``) and has checked that no order of
    the account has these numbers as number or base number and that each appears once in
    ``items``: then every order keeps its channel number, as ``order_insert`` would give it,
    without a query per order. Returns the orders in ``items`` order.
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
    writes.insert(orders)
    OrderLine.objects.bulk_create(
        [line for order, (data, _) in zip(orders, items, strict=True) for line in _line_rows(order=order, data=data)]
    )
    return orders


def _order_row(
    *, account: Account, store_id: int, channel: str, data: OrderData, number: str, channel_updated_at: datetime | None
) -> Order:
    """An unsaved order; ``StatusWrites.insert`` gives it its status and saves it."""
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
        **data.ship.order_fields(),
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
            product_id=line.product_id,
            variant_id=line.variant_id,
            sku=line.sku,
            title=line.title,
            variant_title=line.variant_title,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for line in data.lines
    ]


def order_add_search_terms(*, order: Order, terms: list[str]) -> None:
    """Make an order findable by more terms (a tracking number, a supplier order id). Appended to
    the stored text under the row's lock, not to ``order``'s: a copy read before its customer was
    erased would write their names back (and one read before another append would drop it)."""
    with transaction.atomic():
        stored = Order.objects.select_for_update(of=("self",)).values_list("search_text", flat=True).get(pk=order.pk)
        search_text = search_text_with(stored, terms)
        if search_text != stored:
            Order.objects.filter(pk=order.pk).update(search_text=search_text, updated_at=timezone.now())
    order.search_text = search_text
