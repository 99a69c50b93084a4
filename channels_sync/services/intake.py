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
from channels_sync.providers.base import REGISTRY, ChannelProvider
from channels_sync.services.intake_limit import intake_admit
from integrations.crypto import SecretUnreadable
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
    retry_after: int | None = None  # with 429: seconds until the store's address takes deliveries again


def webhook_receive(*, channel: str, public_id: uuid.UUID | str, headers: Mapping[str, str], body: bytes) -> Receipt:
    """Store a signed webhook of the store's own shop. In order, cheapest first:

    404 for a channel we do not speak; 429 past the store's intake limit (no query, no signature
    check); 404 for no store; 200 for an unsigned ping (nothing stored); 401 for a wrong
    signature; 403 for a signed delivery that names another shop than the store's; then the
    delivery is stored. A repeat of a stored delivery (same key, or same body) is acknowledged
    and ignored.
    """
    provider_class = REGISTRY.get(channel)
    if provider_class is None:  # before counting: no counter for every made-up channel name
        return Receipt(status=404)
    wait = intake_admit(address=f"{channel}:{public_id}")
    if wait:
        return Receipt(status=429, retry_after=wait)
    store = Store.objects.filter(public_id=public_id, channel=channel).exclude(status=StoreStatus.DISCONNECTED).first()
    if store is None:
        return Receipt(status=404)
    if provider_class.is_unsigned_ping(headers=headers, body=body):
        return Receipt(status=200)
    try:
        valid = provider_class.verify_webhook(headers=headers, body=body, credentials=store.signing_credentials())
    except NotSupported:
        return Receipt(status=404)
    except SecretUnreadable:  # a key dropped before rotating: nothing can be verified
        logger.error("webhook for store %s: its secrets cannot be decrypted", store.pk)
        return Receipt(status=401)
    if not valid:
        return Receipt(status=401)
    if not _from_the_stores_shop(provider_class, store, headers=headers, body=body):
        return Receipt(status=403)

    body_hash = hashlib.sha256(body).hexdigest()
    state, error = DeliveryState.RECEIVED, ""
    try:
        event = provider_class.parse_webhook(headers=headers, body=body)
        dedupe_key, topic = event.dedupe_key, event.topic
    except MalformedPayload as malformed:
        # Kept with the reason for support; a replay after a fix processes it.
        dedupe_key, topic = f"sha256:{body_hash}", _topic_header(headers)
        state, error = DeliveryState.FAILED, f"malformed: {malformed}"
    if state == DeliveryState.RECEIVED and store.status == StoreStatus.PAUSED:
        state, error = DeliveryState.IGNORED, "store paused"
    delivery_id = _delivery_insert(
        store_id=store.pk,
        dedupe_key=dedupe_key[:200],
        body_sha256=body_hash,
        topic=topic[:100],
        headers={name: value for name, value in headers.items() if name.lower() not in _NOT_STORED_HEADERS},
        body=body,
        state=state,
        error=error,
    )
    if delivery_id is None:
        return Receipt(status=200)  # a repeat delivery (its key or its body): already stored
    now = timezone.now()
    if store.last_webhook_at is None or now - store.last_webhook_at >= LAST_WEBHOOK_RESOLUTION:
        # Conditional, so the requests that all cross the 30 s mark at once do not all write.
        Store.objects.filter(
            Q(last_webhook_at__isnull=True) | Q(last_webhook_at__lt=now - LAST_WEBHOOK_RESOLUTION), pk=store.pk
        ).update(last_webhook_at=now)
    return Receipt(status=200, delivery_id=delivery_id, enqueue=state == DeliveryState.RECEIVED)


def _from_the_stores_shop(
    provider_class: type[ChannelProvider], store: Store, *, headers: Mapping[str, str], body: bytes
) -> bool:
    """A signature proves who signed, not for which shop: Shopify and TikTok Shop sign with the
    app's secret, shared by every shop that installed it, so a signed delivery of one shop could
    be posted to another store's address. The delivery must name the store's own shop. A store
    connected before its shop id was kept (``shop_id`` empty) is not checked."""
    if not store.shop_id:
        return True
    claimed = provider_class.webhook_shop(headers=headers, body=body)
    if claimed == store.shop_id:
        return True
    logger.warning("webhook for store %s refused: it names shop %r, the store is %r", store.pk, claimed, store.shop_id)
    return False


def _delivery_insert(
    *,
    store_id: int,
    dedupe_key: str,
    body_sha256: str,
    topic: str,
    headers: dict[str, str],
    body: bytes,
    state: str,
    error: str,
) -> int | None:
    """Store one delivery in a single statement; None when the store has it already: the same
    key, or the same body (a captured body re-sent under a fresh key from the unsigned header).

    ``ON CONFLICT DO NOTHING`` without a target covers both unique constraints, and spares
    catching an IntegrityError inside a transaction: one round trip and no BEGIN/COMMIT, which
    is most of what a webhook request costs.
    """
    if not connection.features.can_return_columns_from_insert:  # SQLite before 3.35
        try:
            with transaction.atomic():
                return WebhookDelivery.objects.create(
                    store_id=store_id,
                    dedupe_key=dedupe_key,
                    body_sha256=body_sha256,
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
            f"INSERT INTO {table} (store_id, dedupe_key, body_sha256, topic, headers, body, state, error, "  # noqa: S608
            "attempts, order_ids, received_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING id",
            [
                *(store_id, dedupe_key, body_sha256, topic, ops.adapt_json_value(headers, None), body, state, error),
                *(ops.adapt_json_value([], None), ops.adapt_datetimefield_value(timezone.now())),
            ],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _topic_header(headers: Mapping[str, str]) -> str:
    lowered = {name.lower(): value for name, value in headers.items()}
    return lowered.get("x-shopify-topic") or lowered.get("x-wc-webhook-topic") or ""
