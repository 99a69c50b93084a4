"""Webhooks: verify and store on arrival (milliseconds), process in a task, replay from the admin."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Case, F, JSONField, Q, Value, When
from django.utils import timezone
from django.utils.datastructures import CaseInsensitiveMapping

from channels_sync.enums import DeliveryState, StoreStatus
from channels_sync.models import Store, WebhookDelivery
from channels_sync.providers.base import (
    REGISTRY,
    ChannelProvider,
    MalformedPayload,
    NotSupported,
    ProviderError,
    WebhookEvent,
)
from channels_sync.services.stores import store_provider
from orders.models import Order
from orders.services import orders_upsert_from_channel

logger = logging.getLogger(__name__)

_NOT_STORED_HEADERS = {"cookie"}
# The store's "last webhook" moves at most this often: every delivery of a store would
# otherwise queue on the store's row to write the same minute again.
LAST_WEBHOOK_RESOLUTION = timedelta(seconds=30)


@dataclass(frozen=True)
class Receipt:
    status: int  # the HTTP status to answer
    delivery_id: int | None = None
    enqueue: bool = False  # a task must process the delivery (it is stored: a lost task is re-queued by beat)


def webhook_receive(*, channel: str, public_id: uuid.UUID | str, headers: Mapping[str, str], body: bytes) -> Receipt:
    """Store a signed webhook (401 and nothing stored if the signature is wrong; 404 for no store).

    A repeat of a stored delivery (same key) is acknowledged and ignored.
    """
    store = Store.objects.filter(public_id=public_id, channel=channel).exclude(status=StoreStatus.DISCONNECTED).first()
    provider_class = REGISTRY.get(channel)
    if store is None or provider_class is None:
        return Receipt(status=404)
    try:
        valid = provider_class.verify_webhook(headers=headers, body=body, credentials=store.signing_credentials())
    except NotSupported:
        return Receipt(status=404)
    except ValueError:  # the stored secret cannot be read (rotated key): nothing can be verified
        logger.error("webhook for store %s: its secrets cannot be decrypted", store.pk)
        return Receipt(status=401)
    if not valid:
        return Receipt(status=401)

    state, error = DeliveryState.RECEIVED, ""
    try:
        event = provider_class.parse_webhook(headers=headers, body=body)
        dedupe_key, topic = event.dedupe_key, event.topic
    except MalformedPayload as malformed:
        # Kept with the reason for support; a replay after a fix processes it.
        dedupe_key, topic = f"sha256:{hashlib.sha256(body).hexdigest()}", _topic_header(headers)
        state, error = DeliveryState.FAILED, f"malformed: {malformed}"
    if state == DeliveryState.RECEIVED and store.status == StoreStatus.PAUSED:
        state, error = DeliveryState.IGNORED, "store paused"
    delivery_id = _delivery_insert(
        store_id=store.pk,
        dedupe_key=dedupe_key[:200],
        topic=topic[:100],
        headers={name: value for name, value in headers.items() if name.lower() not in _NOT_STORED_HEADERS},
        body=body,
        state=state,
        error=error,
    )
    if delivery_id is None:
        return Receipt(status=200)  # a repeat delivery: already stored
    now = timezone.now()
    if store.last_webhook_at is None or now - store.last_webhook_at >= LAST_WEBHOOK_RESOLUTION:
        # Conditional, so the requests that all cross the 30 s mark at once do not all write.
        Store.objects.filter(
            Q(last_webhook_at__isnull=True) | Q(last_webhook_at__lt=now - LAST_WEBHOOK_RESOLUTION), pk=store.pk
        ).update(last_webhook_at=now)
    return Receipt(status=200, delivery_id=delivery_id, enqueue=state == DeliveryState.RECEIVED)


def _delivery_insert(
    *, store_id: int, dedupe_key: str, topic: str, headers: dict[str, str], body: bytes, state: str, error: str
) -> int | None:
    """Store one delivery in a single statement; None when (store, key) is already stored.

    ``ON CONFLICT DO NOTHING`` instead of catching an IntegrityError inside a transaction:
    one round trip and no BEGIN/COMMIT, which is most of what a webhook request costs.
    """
    if not connection.features.can_return_columns_from_insert:  # SQLite before 3.35
        try:
            with transaction.atomic():
                return WebhookDelivery.objects.create(
                    store_id=store_id,
                    dedupe_key=dedupe_key,
                    topic=topic,
                    headers=headers,
                    body=body,
                    state=state,
                    error=error,
                ).pk
        except IntegrityError:
            return None
    ops = connection.ops
    table = ops.quote_name(WebhookDelivery._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (store_id, dedupe_key, topic, headers, body, state, error, attempts, "  # noqa: S608
            "order_ids, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, 0, %s, %s) "
            "ON CONFLICT (store_id, dedupe_key) DO NOTHING RETURNING id",
            [
                *(store_id, dedupe_key, topic, ops.adapt_json_value(headers, None), body, state, error),
                *(ops.adapt_json_value([], None), ops.adapt_datetimefield_value(timezone.now())),
            ],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _topic_header(headers: Mapping[str, str]) -> str:
    lowered = {name.lower(): value for name, value in headers.items()}
    return lowered.get("x-shopify-topic") or lowered.get("x-wc-webhook-topic") or ""


@dataclass(frozen=True)
class ProcessOutcome:
    state: str
    order_ids: tuple[int, ...] = ()
    retry: bool = False  # the channel had a passing problem (429, 5xx, timeout): try again later
    error: str = ""


def _finish(delivery: WebhookDelivery, outcome: ProcessOutcome) -> ProcessOutcome:
    # Only a delivery still waiting: another task that finished it first keeps its outcome.
    WebhookDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.RECEIVED).update(
        state=outcome.state,
        error=outcome.error[:2000],
        order_ids=list(outcome.order_ids),
        processed_at=timezone.now() if outcome.state != DeliveryState.RECEIVED else None,
    )
    return outcome


def delivery_process(*, delivery_id: int, final_attempt: bool = False) -> ProcessOutcome:
    """Turn a stored delivery into orders. Never raises for bad input: the reason is kept.

    The channel is called (when the event carries only an order id) outside any transaction;
    the upsert is one transaction, so an order is never half written. A delivery that carries
    its order (Shopify, WooCommerce) takes the store's other waiting deliveries along, up to
    ``BATCH``, into one upsert: a burst costs one transaction per hundred orders, not per order,
    and the tasks of the deliveries taken along find them processed.
    """
    delivery = WebhookDelivery.objects.select_related("store__account").get(pk=delivery_id)
    # Only a waiting delivery is worked on: processed, ignored and failed ones are final (a
    # replay puts a failed one back to received first), whatever task or sweep came late.
    if delivery.state != DeliveryState.RECEIVED:
        return ProcessOutcome(state=delivery.state, order_ids=tuple(delivery.order_ids))
    claimed = WebhookDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.RECEIVED).update(
        attempts=F("attempts") + 1, last_attempt_at=timezone.now()
    )
    if not claimed:
        delivery.refresh_from_db(fields=["state", "order_ids"])
        return ProcessOutcome(state=delivery.state, order_ids=tuple(delivery.order_ids))
    # The stored count decides the last attempt, so a re-queued delivery never starts over.
    final_attempt = final_attempt or delivery.attempts + 1 >= MAX_ATTEMPTS
    store = delivery.store
    provider_class = REGISTRY.get(store.channel)
    if provider_class is None:
        return _finish(delivery, ProcessOutcome(DeliveryState.FAILED, error=f"no provider for {store.channel}"))
    try:
        event = _event_of(provider_class, delivery)
        if event.order is not None:
            return _process_with_companions(delivery, event)
        if not event.order_id:
            return _finish(delivery, ProcessOutcome(DeliveryState.IGNORED, error=f"no order in {event.topic!r}"))
        channel_orders = store_provider(store).fetch_orders([event.order_id])
        if not channel_orders:
            return _finish(
                delivery, ProcessOutcome(DeliveryState.FAILED, error=f"order {event.order_id} not found in channel")
            )
        result = orders_upsert_from_channel(
            account=store.account, store_id=store.pk, channel=store.channel, orders=channel_orders
        )
    except MalformedPayload as error:
        return _finish(delivery, ProcessOutcome(DeliveryState.FAILED, error=f"malformed: {error}"))
    except ProviderError as error:
        if error.retryable and not final_attempt:
            return _finish(delivery, ProcessOutcome(DeliveryState.RECEIVED, retry=True, error=f"will retry: {error}"))
        return _finish(delivery, ProcessOutcome(DeliveryState.FAILED, error=f"channel error: {error}"))
    except ValueError as error:  # a mapping the provider could not make (bad number, date, …)
        return _finish(delivery, ProcessOutcome(DeliveryState.FAILED, error=f"unmappable: {error}"))
    return _finish(delivery, ProcessOutcome(DeliveryState.PROCESSED, order_ids=tuple(result.order_ids)))


# Deliveries of one store turned into orders by one upsert (the one a task was for, and the
# store's other waiting ones).
BATCH = 100


def _event_of(provider_class: type[ChannelProvider], delivery: WebhookDelivery) -> WebhookEvent:
    return provider_class.parse_webhook(headers=CaseInsensitiveMapping(delivery.headers), body=bytes(delivery.body))


def _process_with_companions(delivery: WebhookDelivery, event: WebhookEvent) -> ProcessOutcome:
    """Upsert ``delivery``'s order with those of the store's other never-tried deliveries that
    carry theirs, in one transaction that holds those deliveries until their outcome is written:
    their own tasks wait on the row, then find them processed. The rest are left to their tasks.
    """
    store = delivery.store
    provider_class = REGISTRY[store.channel]
    candidates: dict[int, WebhookEvent] = {}
    waiting = (
        WebhookDelivery.objects.filter(store=store, state=DeliveryState.RECEIVED, attempts=0)
        .exclude(pk=delivery.pk)
        .order_by("id")[: BATCH - 1]
    )
    for companion in waiting:  # parsed before any lock is taken
        try:
            companion_event = _event_of(provider_class, companion)
        except MalformedPayload:
            continue  # its own task keeps the reason
        if companion_event.order is not None:
            candidates[companion.pk] = companion_event
    with transaction.atomic():
        taken = list(  # what another task holds is skipped, what it finished meanwhile is gone
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(candidates), state=DeliveryState.RECEIVED, attempts=0)
            .only("id")
        )
        WebhookDelivery.objects.filter(pk__in=[row.pk for row in taken]).update(
            attempts=F("attempts") + 1, last_attempt_at=timezone.now()
        )
        for row in taken:
            row.store = store
        # In arrival order: within one channel second, the later arrival is the later state.
        batch = sorted([(delivery, event), *((row, candidates[row.pk]) for row in taken)], key=lambda pair: pair[0].pk)
        orders = [row_event.order for _, row_event in batch if row_event.order is not None]
        try:
            orders_upsert_from_channel(account=store.account, store_id=store.pk, channel=store.channel, orders=orders)
        except (ValueError, DatabaseError):
            # One order the batch cannot take (unmappable, too long for a column): each on its
            # own (the batch's savepoint is rolled back), so only that one fails.
            outcomes = {row.pk: _process_alone(row, row_event) for row, row_event in batch}
            return outcomes[delivery.pk]
        ids = dict(
            Order.objects.filter(
                store=store, channel_order_id__in={order.data.channel_order_id for order in orders}
            ).values_list("channel_order_id", "id")
        )
        order_ids = {row.pk: [ids[order.data.channel_order_id]] for (row, _), order in zip(batch, orders, strict=True)}
        # One statement for the whole batch; a delivery another task finished first keeps its outcome.
        WebhookDelivery.objects.filter(pk__in=list(order_ids), state=DeliveryState.RECEIVED).update(
            state=DeliveryState.PROCESSED,
            error="",
            processed_at=timezone.now(),
            order_ids=Case(
                *(When(pk=pk, then=Value(value, output_field=JSONField())) for pk, value in order_ids.items()),
                output_field=JSONField(),
            ),
        )
    return ProcessOutcome(DeliveryState.PROCESSED, order_ids=tuple(order_ids[delivery.pk]))


def _process_alone(delivery: WebhookDelivery, event: WebhookEvent) -> ProcessOutcome:
    store = delivery.store
    assert event.order is not None
    try:
        with transaction.atomic():  # a savepoint inside a batch: a database error stays with this one
            result = orders_upsert_from_channel(
                account=store.account, store_id=store.pk, channel=store.channel, orders=[event.order]
            )
    except (ValueError, DatabaseError) as error:
        return _finish(delivery, ProcessOutcome(DeliveryState.FAILED, error=f"unmappable: {error}"))
    return _finish(delivery, ProcessOutcome(DeliveryState.PROCESSED, order_ids=tuple(result.order_ids)))


def deliveries_replay(*, delivery_ids: list[int]) -> list[int]:
    """Support's "replay": put failed (or stuck) deliveries back in the queue; returns the ids queued."""
    from channels_sync import tasks  # tasks import this module

    ids = list(
        WebhookDelivery.objects.filter(pk__in=delivery_ids)
        .exclude(state=DeliveryState.PROCESSED)
        .values_list("id", flat=True)
    )
    # A replay starts over: the whole retry budget again (the channel may be back, or the bug fixed).
    WebhookDelivery.objects.filter(pk__in=ids).update(
        state=DeliveryState.RECEIVED, error="", processed_at=None, attempts=0, last_attempt_at=None
    )
    for delivery_id in ids:
        transaction.on_commit(partial(tasks.process_webhook_delivery.delay, delivery_id))
    return ids


# Attempts at processing a delivery (the task retries passing channel errors up to this).
MAX_ATTEMPTS = 7
# A delivery still "received" with no attempt this long after it arrived lost its task (the
# broker was away when it was stored, or the queue lost it); one attempted but not tried again
# for this long lost its retry (retries wait at most a few minutes).
STUCK_AFTER = timedelta(minutes=10)
STUCK_AFTER_ATTEMPT = timedelta(minutes=15)


def deliveries_requeue_stuck(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Beat's safety net for intake: queue again the deliveries no task will process.

    Never attempted ones first and on their own limit, so a backlog of retried ones never hides
    them. A delivery queued twice costs a little work: the first task to claim it finishes it,
    the other finds it done; the attempt cap holds across tasks.
    """
    from channels_sync import tasks  # tasks import this module

    now = now or timezone.now()
    waiting = WebhookDelivery.objects.filter(state=DeliveryState.RECEIVED)
    never = waiting.filter(attempts=0, received_at__lt=now - STUCK_AFTER).order_by("received_at")
    dropped = waiting.filter(attempts__gt=0, last_attempt_at__lt=now - STUCK_AFTER_ATTEMPT).order_by("last_attempt_at")
    ids = [*never.values_list("id", flat=True)[:limit], *dropped.values_list("id", flat=True)[:limit]]
    for delivery_id in ids:
        tasks.process_webhook_delivery.delay(delivery_id)
    if ids:
        logger.warning("queued %s webhook deliveries again that no task was processing", len(ids))
    return ids


def deliveries_prune(*, older_than: timedelta, now: datetime | None = None, chunk: int = 5_000) -> int:
    """Delete processed and ignored deliveries received before ``older_than`` ago (failed and
    waiting ones stay for support); in chunks, so no statement holds the table long."""
    cutoff = (now or timezone.now()) - older_than
    done = (DeliveryState.PROCESSED, DeliveryState.IGNORED)
    deleted = 0
    while True:
        ids = list(
            WebhookDelivery.objects.filter(state__in=done, received_at__lt=cutoff).values_list("id", flat=True)[:chunk]
        )
        if not ids:
            return deleted
        deleted += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]
