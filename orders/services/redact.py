"""Erasing a customer's personal data from their orders, at the channel's request (privacy law).

What an order keeps of its customer is the name, the e-mail and the search terms made of them
(``Order.search_text``); phone numbers and addresses are not stored on orders. Erasing blanks
the name and e-mail, takes their words (and any e-mail address, and the words the request names,
such as a phone number) out of the search text, and marks the order ``customer_erased_at`` so a
later update from the channel does not write them back. Numbers, amounts, lines, statuses and
the supplier orders stay: the merchant's bookkeeping refers to them. Each order erased gets one
``customer_erased`` event without personal data. Running it again erases nothing more and writes
no second event.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from orders import events
from orders.models import Order, OrderLine
from orders.search_text import search_text_without

# Orders erased per transaction: a shop's redaction may cover every order it ever had.
BATCH = 500


@dataclass(frozen=True)
class ErasedOrders:
    order_ids: tuple[int, ...]  # the orders that had something erased now
    numbers: tuple[str, ...]


def orders_erase_customer(*, order_ids: Iterable[int], channel: str, words: Sequence[str] = ()) -> ErasedOrders:
    """Erase the customer of each order (see the module docstring); ``words``: more terms to take
    out of the search text (the e-mail and phone the channel's request names). ``channel`` is who
    asked, for the event."""
    ids = sorted(set(order_ids))
    erased: list[Order] = []
    for start in range(0, len(ids), BATCH):
        erased += _erase_batch(ids[start : start + BATCH], channel=channel, words=words)
    return ErasedOrders(order_ids=tuple(order.pk for order in erased), numbers=tuple(o.number for o in erased))


def _erase_batch(ids: list[int], *, channel: str, words: Sequence[str]) -> list[Order]:
    now = timezone.now()
    with transaction.atomic():
        orders = list(
            Order.objects.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .order_by("pk")
            .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.only("order_id", "sku")))
        )
        changed = [order for order in orders if _erase(order, words=words, now=now)]
        Order.objects.bulk_update(
            changed, ["customer_name", "customer_email", "search_text", "customer_erased_at", "updated_at"]
        )
        events.events_customer_erased(orders=changed, channel=channel)
    return changed


def _erase(order: Order, *, words: Sequence[str], now: datetime) -> bool:
    """Erase in memory; False when there is nothing left to erase (done before)."""
    customer_words = [*order.customer_name.lower().split(), order.customer_email.lower(), *words]
    search_text = search_text_without(
        order.search_text,
        words=[word.lower() for word in customer_words],
        keep=[order.number, *(line.sku for line in order.lines.all())],
    )
    if (
        order.customer_erased_at is not None
        and not order.customer_name
        and not order.customer_email
        and search_text == order.search_text
    ):
        return False
    order.customer_name, order.customer_email, order.search_text = "", "", search_text
    order.customer_erased_at = order.customer_erased_at or now
    order.updated_at = now
    return True
