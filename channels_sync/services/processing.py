"""Webhook processing: a stored delivery becomes orders, alone or with its store's waiting ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.db.models import Case, F, JSONField, Value, When
from django.utils import timezone
from django.utils.datastructures import CaseInsensitiveMapping
from django.utils.translation import gettext as _

from channels_sync.enums import DeliveryState, StoreStatus
from channels_sync.models import Store, WebhookDelivery
from channels_sync.providers.base import REGISTRY, ChannelProvider, WebhookEvent
from channels_sync.services.stores import store_provider, store_uninstalled
from channels_sync.services.tokens import store_access_revoked
from integrations.errors import MalformedPayload, ProviderError
from orders.models import Order
from orders.services import orders_upsert_from_channel

logger = logging.getLogger(__name__)

# Attempts at processing a delivery (the task retries passing channel errors up to this).
MAX_ATTEMPTS = 7
# Shopify: the merchant removed our app from the shop. The store is disconnected at once and its
# tokens forgotten; the shop is never called again (``store_uninstalled``).
APP_UNINSTALLED = "app/uninstalled"
# TikTok Shop: the seller withdrew our app's access; the store (and its token group) needs reconnecting.
SELLER_DEAUTHORIZATION = "SELLER_DEAUTHORIZATION"
ACCESS_WITHDRAWN = (APP_UNINSTALLED, SELLER_DEAUTHORIZATION)


@dataclass(frozen=True)
class ProcessOutcome:
    state: str
    order_ids: tuple[int, ...] = ()
    retry: bool = False  # the channel had a passing problem (429, 5xx, timeout): try again later
    error: str = ""
    retry_after: float | None = None  # seconds the channel asked to wait (the task's countdown)


def _finish(delivery: WebhookDelivery, outcome: ProcessOutcome) -> ProcessOutcome:
    # Only a delivery still waiting: another task that finished it first keeps its outcome.
    WebhookDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.RECEIVED).update(
        state=outcome.state,
        error=outcome.error[:2000],
        order_ids=list(outcome.order_ids),
        processed_at=timezone.now() if outcome.state != DeliveryState.RECEIVED else None,
    )
    return outcome


def gave_up_reason(attempts: int) -> str:
    """Why a delivery still waiting after its last attempt failed: that attempt never finished."""
    return f"gave up after {attempts} attempts: the worker stopped while processing it"


def delivery_claim(*, delivery_id: int) -> WebhookDelivery | ProcessOutcome:
    """Take a waiting delivery for one attempt, counted before any work starts.

    Returns the delivery to work on, or the outcome when there is nothing to do: it is final
    already, or it has used its ``MAX_ATTEMPTS`` (a delivery still waiting then lost its last
    attempt with the worker: a body that kills its worker, redelivered by ``acks_late`` and
    ``reject_on_worker_lost``, would otherwise loop without end) and is failed here, unworked.
    """
    delivery = WebhookDelivery.objects.select_related("store__account").get(pk=delivery_id)
    # Only a waiting delivery is worked on: processed, ignored and failed ones are final (a
    # replay puts a failed one back to received first), whatever task or sweep came late.
    if delivery.state != DeliveryState.RECEIVED:
        return ProcessOutcome(state=delivery.state, order_ids=tuple(delivery.order_ids))
    waiting = WebhookDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.RECEIVED)
    claimed = waiting.filter(attempts__lt=MAX_ATTEMPTS).update(
        attempts=F("attempts") + 1, last_attempt_at=timezone.now(), next_attempt_at=None
    )
    if claimed:
        return delivery
    reason = gave_up_reason(max(delivery.attempts, MAX_ATTEMPTS))
    if waiting.filter(attempts__gte=MAX_ATTEMPTS).update(
        state=DeliveryState.FAILED, error=reason, processed_at=timezone.now()
    ):
        logger.warning("webhook delivery %s: %s", delivery.pk, reason)
        return ProcessOutcome(state=DeliveryState.FAILED, error=reason)
    delivery.refresh_from_db(fields=["state", "order_ids", "error"])  # another task finished it meanwhile
    return ProcessOutcome(state=delivery.state, order_ids=tuple(delivery.order_ids), error=delivery.error)


def delivery_retry_schedule(*, delivery_id: int, countdown: float) -> None:
    """Note when the task's retry of a waiting delivery is due (its countdown: a channel's
    Retry-After may be an hour), so beat's sweep does not queue it again before then."""
    WebhookDelivery.objects.filter(pk=delivery_id, state=DeliveryState.RECEIVED).update(
        next_attempt_at=timezone.now() + timedelta(seconds=countdown)
    )


def _access_withdrawn(delivery: WebhookDelivery, topic: str) -> ProcessOutcome:
    """The channel withdrew our access: the store is disconnected (uninstalled) or needs
    reconnecting (deauthorized), unless the event was received before the store's current
    credentials were applied (a late delivery of an uninstall the merchant has since undone)."""
    store = Store.objects.get(pk=delivery.store_id)
    if store.connected_at is not None and delivery.received_at < store.connected_at:
        return ProcessOutcome(DeliveryState.IGNORED, error="received before the store was connected again")
    if topic == APP_UNINSTALLED:
        store_uninstalled(store_id=store.pk)
    else:
        store_access_revoked(store_id=store.pk, reason=_("the seller withdrew the app's authorization"))
    return ProcessOutcome(DeliveryState.PROCESSED)


def delivery_process(*, delivery_id: int, final_attempt: bool = False) -> ProcessOutcome:
    """Turn a stored delivery into orders. Never raises for bad input: the reason is kept.

    The channel is called (when the event carries only an order id) outside any transaction;
    the upsert is one transaction, so an order is never half written. A delivery that carries
    its order (Shopify, WooCommerce) takes the store's other waiting deliveries along, up to
    ``BATCH``, into one upsert: a burst costs one transaction per hundred orders, not per order,
    and the tasks of the deliveries taken along find them processed.
    """
    claim = delivery_claim(delivery_id=delivery_id)
    if isinstance(claim, ProcessOutcome):
        return claim
    delivery = claim
    # The stored count decides the last attempt, so a re-queued delivery never starts over.
    final_attempt = final_attempt or delivery.attempts + 1 >= MAX_ATTEMPTS
    store = delivery.store
    provider_class = REGISTRY.get(store.channel)
    if provider_class is None:
        return _finish(delivery, ProcessOutcome(DeliveryState.FAILED, error=f"no provider for {store.channel}"))
    try:
        event = _event_of(provider_class, delivery)
        if event.topic in ACCESS_WITHDRAWN:
            return _finish(delivery, _access_withdrawn(delivery, event.topic))
        if event.order is not None:
            return _process_with_companions(delivery, event)
        if not event.order_id:
            return _finish(delivery, ProcessOutcome(DeliveryState.IGNORED, error=f"no order in {event.topic!r}"))
        if store.status == StoreStatus.DISCONNECTED:  # its access is gone: the channel is not called
            return _finish(delivery, ProcessOutcome(DeliveryState.IGNORED, error="store disconnected"))
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
            outcome = ProcessOutcome(
                DeliveryState.RECEIVED, retry=True, error=f"will retry: {error}", retry_after=error.retry_after
            )
            return _finish(delivery, outcome)
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
