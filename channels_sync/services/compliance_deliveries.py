"""The stored webhook deliveries that carry a customer's orders (their raw bodies have the name,
e-mail, phone and addresses): found for a data request, emptied for a redaction.

A processed delivery names its orders (``order_ids``); one not processed (waiting, failed,
ignored: a paused store) is read to see which order it is about. Bodies are emptied, never the
row: its key and body hash keep a redelivery of the same body from being stored again.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import connection
from django.db.models import Q
from django.utils.datastructures import CaseInsensitiveMapping

from channels_sync.enums import DeliveryState
from channels_sync.models import Store, WebhookDelivery
from channels_sync.providers.base import REGISTRY
from integrations.errors import MalformedPayload, NotSupported

ERASED = "body erased: the customer's data was redacted at the channel's request"


def _carrying(*, store: Store, order_ids: set[int], channel_order_ids: set[str]) -> Iterator[int]:
    """Ids of the store's deliveries with a body that carry one of these orders."""
    if not order_ids:
        return
    with_body = WebhookDelivery.objects.filter(store=store).exclude(body=b"")
    processed = with_body.filter(state=DeliveryState.PROCESSED)
    if connection.features.supports_json_field_contains:
        named = Q()
        for order_id in sorted(order_ids):
            named |= Q(order_ids__contains=[order_id])
        yield from processed.filter(named).values_list("pk", flat=True)
    else:  # SQLite (the embedded profile): read the lists
        for pk, ids in processed.values_list("pk", "order_ids").iterator(chunk_size=2000):
            if order_ids.intersection(ids or ()):
                yield pk
    provider_class = REGISTRY[store.channel]
    unprocessed = with_body.exclude(state=DeliveryState.PROCESSED).only("pk", "headers", "body")
    for delivery in unprocessed.iterator(chunk_size=200):
        try:
            event = provider_class.parse_webhook(
                headers=CaseInsensitiveMapping(delivery.headers), body=bytes(delivery.body)
            )
        except (MalformedPayload, NotSupported):
            continue  # unreadable: it names no order we can tell (support sees it failed)
        if event.order_id in channel_order_ids:
            yield delivery.pk


def deliveries_holding(*, store: Store, order_ids: set[int], channel_order_ids: set[str]) -> int:
    """How many of the store's deliveries still hold a body with one of these orders."""
    return sum(1 for _ in _carrying(store=store, order_ids=order_ids, channel_order_ids=channel_order_ids))


def deliveries_erase(*, store: Store, order_ids: set[int], channel_order_ids: set[str]) -> int:
    """Empty the bodies of the store's deliveries of these orders; how many. One still waiting is
    not processed any more (its body is gone): ignored, with the reason."""
    ids = list(_carrying(store=store, order_ids=order_ids, channel_order_ids=channel_order_ids))
    rows = WebhookDelivery.objects.filter(pk__in=ids)
    rows.filter(state=DeliveryState.RECEIVED).update(state=DeliveryState.IGNORED)
    return rows.update(body=b"", error=ERASED)
