"""AliExpress order-status messages (DROPSHIPPER_ORDER_STATUS_UPDATE, message_type 53).

Stored first, like the channels' webhooks (architecture rule 3): the endpoint checks the
signature over the raw body in constant time, stores the body under a delivery key (the SHA-256
of the body: AliExpress gives a message no id of its own), answers 200 and queues a task. A
repeat of a stored message is acknowledged and ignored. The task finds the supplier order by
AliExpress's order id (its ``buyerId`` must be the account's buyer id where that is known) and
syncs it now: the message only says "look", the order read at AliExpress says what changed.

Signature: AliExpress does not document the push signature; the sandbox's (docs/sandbox.md) is
``Authorization`` = lower hex HMAC-SHA256(ALIEXPRESS_APP_SECRET, ALIEXPRESS_APP_KEY + raw body),
the operator's app key and secret (one app for every merchant, as the open platform works).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from suppliers.enums import SupplierMessageState, SupplierProvider
from suppliers.models import SupplierMessage, SupplierOrder
from suppliers.services.sync import SyncOutcome, supplier_order_sync_now

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
ORDER_STATUS_MESSAGE = 53  # DROPSHIPPER_ORDER_STATUS_UPDATE
MAX_ORDER_ID_DIGITS = 20
# Pending messages whose task never ran (the broker was away) are queued again after this long.
STUCK_AFTER = timedelta(minutes=2)
KEPT_HEADERS = ("Content-Type", "User-Agent", "Content-Length")


@dataclass(frozen=True)
class Receipt:
    status: int
    message: str
    message_id: int | None = None  # stored now: queue its task after commit


def _signature_valid(headers: Mapping[str, str], body: bytes) -> bool:
    app_key = str(getattr(settings, "ALIEXPRESS_APP_KEY", "") or "")
    app_secret = str(getattr(settings, "ALIEXPRESS_APP_SECRET", "") or "")
    given = str(headers.get("Authorization", "") or "").strip().lower()
    if not app_key or not app_secret or not given:
        return False
    expected = hmac.new(app_secret.encode(), app_key.encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def aliexpress_message_receive(*, headers: Mapping[str, str], body: bytes) -> Receipt:
    """Check, then store an AliExpress message; nothing is stored without a good signature."""
    if len(body) > MAX_BODY:
        return Receipt(413, f"body larger than {MAX_BODY} bytes")
    if not _signature_valid(headers, body):
        return Receipt(401, "signature does not match")
    key = f"aliexpress:{hashlib.sha256(body).hexdigest()}"
    kept = {name: str(headers[name])[:200] for name in KEPT_HEADERS if name in headers}
    try:
        with transaction.atomic():
            message = SupplierMessage.objects.create(
                provider=SupplierProvider.ALIEXPRESS, delivery_key=key, body=body, headers=kept
            )
    except IntegrityError:  # a repeat of a stored message
        return Receipt(200, "already received")
    return Receipt(200, "stored", message.pk)


def supplier_message_enqueue(message_id: int) -> None:
    """Queue the processing task after the storing transaction commits."""
    transaction.on_commit(partial(_enqueue, message_id))


def _enqueue(message_id: int) -> None:
    """Stored: with the broker away, answer 200 anyway; beat's requeue queues it later."""
    from suppliers import tasks  # the task module imports the services

    try:
        tasks.process_supplier_message.delay(message_id)
    except KombuOperationalError:
        logger.warning("broker unavailable: supplier message %s stored, queued later by beat", message_id)


def _order_id_of(payload: Any) -> tuple[str, str] | str:
    """(AliExpress order id, buyer id) of a status message, or why it cannot be used."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        return "not an AliExpress message: no data object"
    if payload.get("message_type") not in (ORDER_STATUS_MESSAGE, str(ORDER_STATUS_MESSAGE)):
        return f"message type {str(payload.get('message_type'))[:20]!r} is not an order status update"
    data = payload["data"]
    order_id, buyer_id = data.get("orderId"), data.get("buyerId")
    order_text = str(order_id) if isinstance(order_id, int | str) and not isinstance(order_id, bool) else ""
    if not order_text.isascii() or not order_text.isdigit() or len(order_text) > MAX_ORDER_ID_DIGITS:
        return "the message has no usable orderId"
    buyer_text = str(buyer_id) if isinstance(buyer_id, int | str) and not isinstance(buyer_id, bool) else ""
    return order_text, buyer_text[:40]


def _of_order_id(order_id: str) -> Q:
    """``external_order_id`` holds AliExpress's id, or several, comma-separated, when it split the order."""
    return (
        Q(external_order_id=order_id)
        | Q(external_order_id__startswith=f"{order_id},")
        | Q(external_order_id__endswith=f",{order_id}")
        | Q(external_order_id__contains=f",{order_id},")
    )


def _buyer_ids(supplier_order: SupplierOrder) -> set[str]:
    """The AliExpress buyer ids known for the supplier order's account (empty: not known)."""
    source = supplier_order.source_account
    if source is None:
        return set()
    credentials = source.credentials
    known = {str(credentials.get(name, "")) for name in ("buyer_id", "user_id")}
    if source.external_id.isdigit():
        known.add(source.external_id)
    return {value for value in known if value}


def _finish(message_id: int, state: SupplierMessageState, error: str = "") -> str:
    SupplierMessage.objects.filter(pk=message_id).update(state=state, error=error[:500], processed_at=timezone.now())
    return state


def supplier_message_process(*, message_id: int) -> str:
    """Find the message's supplier order and sync it now; an unknown order: IGNORED, with why."""
    with transaction.atomic():
        message = SupplierMessage.objects.select_for_update(skip_locked=True).filter(pk=message_id).first()
        if message is None or message.state != SupplierMessageState.PENDING:
            return "skipped"
        body = bytes(message.body)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _finish(message_id, SupplierMessageState.IGNORED, "the body is not JSON")
    found = _order_id_of(payload)
    if isinstance(found, str):
        return _finish(message_id, SupplierMessageState.IGNORED, found)
    order_id, buyer_id = found
    candidates = list(
        SupplierOrder.objects.filter(_of_order_id(order_id), provider=SupplierProvider.ALIEXPRESS)
        .select_related("source_account")
        .order_by("-id")
    )
    matching = [so for so in candidates if not buyer_id or not _buyer_ids(so) or buyer_id in _buyer_ids(so)]
    if not matching:
        why = f"no supplier order with AliExpress order id {order_id}"
        if candidates:
            why = f"AliExpress order {order_id} belongs to another buyer than the account that placed it"
        return _finish(message_id, SupplierMessageState.IGNORED, why)
    supplier_order = matching[0]
    if supplier_order.no_longer_synced:
        return _finish(
            message_id, SupplierMessageState.IGNORED, "placed with a previous supplier account: no longer synced"
        )
    try:
        result = supplier_order_sync_now(supplier_order_id=supplier_order.pk)
    except Exception as error:  # a bug or the database: kept FAILED for support, not re-queued for ever
        logger.exception("supplier message %s failed", message_id)
        return _finish(message_id, SupplierMessageState.FAILED, f"internal error: {type(error).__name__}: {error}")
    if result.outcome == SyncOutcome.FAILED:
        # The read failed: the sync's backoff reads it again; the message did its part.
        return _finish(message_id, SupplierMessageState.PROCESSED, f"read failed, the sync retries: {result.message}")
    return _finish(
        message_id, SupplierMessageState.PROCESSED, "" if result.outcome != SyncOutcome.SKIPPED else "not followed"
    )


def supplier_messages_requeue_stuck(*, now: datetime | None = None) -> list[int]:
    """Beat: pending messages whose task never ran (stored while the broker was away) get one."""
    from suppliers import tasks

    now = now or timezone.now()
    ids = list(
        SupplierMessage.objects.filter(state=SupplierMessageState.PENDING, received_at__lt=now - STUCK_AFTER)
        .order_by("received_at")
        .values_list("pk", flat=True)[:500]
    )
    for message_id in ids:
        tasks.process_supplier_message.delay(message_id)
    return ids
