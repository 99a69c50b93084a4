"""Erasing a customer's personal data from their orders, at the channel's request (privacy law).

What an order keeps of its customer is the name, the e-mail, the shipping address with its
phone and tax id (``Order.ship_*``) and the search terms made of them (``Order.search_text``).
Erasing blanks the name, the e-mail and every ``ship_*`` field, rebuilds the search text from
the order's own identifiers (the search text is append-only: it holds every name and e-mail the
customer had before, which no list of words to remove can know), and marks the order
``customer_erased_at`` so a later update from the channel does not write them back (a
merchant's correction of the address is erased too: it is the same person's address).
Numbers, amounts, lines, statuses and the supplier orders stay: the merchant's bookkeeping
refers to them. Each order erased gets one ``customer_erased`` event without personal data.
Running it again erases nothing more and writes no second event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from orders import events
from orders.models import Order, OrderLine, PurchaseId
from orders.search_text import search_text_of_ids
from orders.services.intake import ADDRESS_FIELDS

# The shipping address's fields, all personal data of the recipient.
SHIP_FIELDS = tuple(field for field, _ in ADDRESS_FIELDS.values())

# Orders erased per transaction: a shop's redaction may cover every order it ever had.
BATCH = 500
# The identifiers other apps keep of an order and append to its search text (a parcel's tracking
# number, the supplier's order id), read through their relations to it: orders imports no app.
RELATED_IDS = (("shipments", "tracking_number"), ("supplier_orders", "external_order_id"))


@dataclass(frozen=True)
class ErasedOrders:
    order_ids: tuple[int, ...]  # the orders that had something erased now
    numbers: tuple[str, ...]


def orders_erase_customer(*, order_ids: Iterable[int], channel: str) -> ErasedOrders:
    """Erase the customer of each order (see the module docstring). ``channel`` is who asked,
    for the event."""
    ids = sorted(set(order_ids))
    erased: list[Order] = []
    for start in range(0, len(ids), BATCH):
        erased += _erase_batch(ids[start : start + BATCH], channel=channel)
    return ErasedOrders(order_ids=tuple(order.pk for order in erased), numbers=tuple(o.number for o in erased))


def _erase_batch(ids: list[int], *, channel: str) -> list[Order]:
    now = timezone.now()
    with transaction.atomic():
        orders = list(
            Order.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .order_by("pk")
            .prefetch_related(
                Prefetch("lines", queryset=OrderLine.objects.only("order_id", "sku").order_by("pk")),
                Prefetch("purchase_ids", queryset=PurchaseId.objects.only("order_id", "purchase_id").order_by("pk")),
            )
        )
        related = _related_ids(ids)
        changed = [order for order in orders if _erase(order, related=related[order.pk], now=now)]
        Order.objects.bulk_update(
            changed,
            [
                "customer_name",
                "customer_email",
                *SHIP_FIELDS,
                "ship_edited_at",
                "search_text",
                "customer_erased_at",
                "updated_at",
            ],
        )
        events.events_customer_erased(orders=changed, channel=channel)
    return changed


def _related_ids(order_ids: list[int]) -> dict[int, list[str]]:
    """Each order's identifiers kept by other apps (``RELATED_IDS``), in the order they were made."""
    found: dict[int, list[str]] = defaultdict(list)
    for relation, field in RELATED_IDS:
        path = f"{relation}__{field}"
        rows = (
            Order.objects.filter(pk__in=order_ids, **{f"{path}__gt": ""})
            .order_by("pk", f"{relation}__pk")
            .values_list("pk", path)
        )
        for order_id, value in rows:
            found[order_id].append(value)
    return found


def _erase(order: Order, *, related: Sequence[str], now: datetime) -> bool:
    """Erase in memory; False when there is nothing left to erase (done before)."""
    ids = [
        order.base_number,
        *(line.sku for line in order.lines.all()),
        *(purchase.purchase_id for purchase in order.purchase_ids.all()),
        *related,
    ]
    search_text = search_text_of_ids(number=order.number, ids=ids)
    if (
        order.customer_erased_at is not None
        and not order.customer_name
        and not order.customer_email
        and not any(getattr(order, field) for field in SHIP_FIELDS)
        and search_text == order.search_text
    ):
        return False
    order.customer_name, order.customer_email, order.search_text = "", "", search_text
    for field in SHIP_FIELDS:
        setattr(order, field, "")
    order.ship_edited_at = None
    order.customer_erased_at = order.customer_erased_at or now
    order.updated_at = now
    return True
