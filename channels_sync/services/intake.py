"""Webhook intake: verify and store on arrival (milliseconds); a task processes it."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from channels_sync.enums import DeliveryState, StoreStatus
from channels_sync.models import Store, WebhookDelivery
from channels_sync.providers.base import REGISTRY
from integrations.errors import MalformedPayload, NotSupported

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
