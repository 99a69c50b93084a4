"""17TRACK's webhook pushes: stored first (``tracking_message_receive``), processed by a task
(``tracking_message_process``), re-queued by beat when left pending (``tracking_messages_requeue``).

Nothing is stored without a good ``sign``. The delivery key is the SHA-256 of the body: a push
sent twice is one row. Processing first claims the message (a conditional UPDATE taking a lease,
``claimed_until``: a second worker, or the requeue while the queue lags, leaves it alone), then
reads the push (``push_parse``) and merges it (``track_infos_merge(source=WEBHOOK)``): an
unreadable body or numbers we do not follow → IGNORED with the reason; a transient database
error (a deadlock, a lost connection) → left PENDING, the lease given back, re-queued by beat (at
most ``MAX_ATTEMPTS`` tries); a bug → FAILED with the error, kept for support (not retried).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.errors import MalformedPayload
from orders.services.cancel_hook import BROKER_ERRORS
from tracking.enums import TrackingMessageState
from tracking.models import TrackingMessage
from tracking.providers.track17.webhook import SIGN_HEADER, push_parse, push_verify
from tracking.services.merge import WEBHOOK, shipments_stop, track_infos_merge

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
KEPT_HEADERS = ("Content-Type", "User-Agent")
REQUEUE_AFTER = timedelta(minutes=5)
LEASE = timedelta(minutes=5)  # a processing worker holds the message this long at most
MAX_ATTEMPTS = 5  # tries of a message a transient error interrupted
TRANSIENT_ERRORS = (OperationalError, InterfaceError)  # deadlock, serialization failure, connection lost
PROCESS_TASK = "tracking.process_tracking_message"


@dataclass(frozen=True)
class Receipt:
    status: int
    message: str
    message_id: int | None = None  # a new message to process


def tracking_message_receive(*, headers: Mapping[str, str], body: bytes) -> Receipt:
    """Check, then store a 17TRACK push (see the module docstring)."""
    if len(body) > MAX_BODY:
        return Receipt(413, _("The body is larger than %(limit)s bytes.") % {"limit": MAX_BODY})
    if not push_verify(body, settings.TRACK17_API_KEY, headers.get(SIGN_HEADER)):
        return Receipt(401, _("The sign header does not match the body."))
    key = hashlib.sha256(body).hexdigest()
    kept = {name: str(headers[name])[:200] for name in KEPT_HEADERS if name in headers}
    try:
        with transaction.atomic():
            message = TrackingMessage.objects.create(delivery_key=key, body=body, headers=kept)
    except IntegrityError:
        return Receipt(200, _("Already received."))
    return Receipt(200, _("Stored."), message.pk)


def tracking_message_enqueue(message_id: int) -> None:
    """Queue the processing task after the storing transaction commits."""
    transaction.on_commit(partial(_enqueue, message_id))


def _enqueue(message_id: int) -> None:
    from celery import current_app

    try:
        current_app.send_task(PROCESS_TASK, args=(message_id,))
    except BROKER_ERRORS:
        logger.warning("broker unavailable: tracking message %s stored, queued later by beat", message_id)


def _finish(message_id: int, state: TrackingMessageState, error: str = "") -> None:
    error = error.replace("\x00", "")[:500]
    TrackingMessage.objects.filter(pk=message_id).update(
        state=state, error=error, processed_at=timezone.now(), claimed_until=None
    )


def _unclaimed(now: datetime) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def tracking_message_claim(*, message_id: int) -> bool:
    """Take the processing lease of a pending message (one conditional UPDATE); False when it is
    not pending or another worker holds it."""
    now = timezone.now()
    return (
        TrackingMessage.objects.filter(_unclaimed(now), pk=message_id, state=TrackingMessageState.PENDING).update(
            claimed_until=now + LEASE, attempts=F("attempts") + 1
        )
        == 1
    )


def _retry_later(message_id: int, attempts: int, error: BaseException) -> str:
    said = f"{type(error).__name__}: {error}"
    if attempts >= MAX_ATTEMPTS:
        logger.exception("tracking message %s failed %s times", message_id, attempts)
        _finish(message_id, TrackingMessageState.FAILED, said)
        return TrackingMessageState.FAILED
    logger.warning("tracking message %s: transient error, re-queued later: %s", message_id, said[:200])
    try:
        TrackingMessage.objects.filter(pk=message_id).update(claimed_until=None, error=said.replace("\x00", "")[:500])
    except DatabaseError:  # the database is away: the lease runs out, the requeue sends it again
        logger.warning("tracking message %s: lease left to run out", message_id)
    return TrackingMessageState.PENDING


def tracking_message_process(*, message_id: int) -> str:
    """Process one stored push; its state after. A message not pending, or held by another
    worker, is left alone ("")."""
    if not tracking_message_claim(message_id=message_id):
        return ""
    message = TrackingMessage.objects.only("body", "attempts").get(pk=message_id)
    try:
        infos = push_parse(bytes(message.body))
        if not infos:
            _finish(message_id, TrackingMessageState.IGNORED, _("An event we do not act on."))
            return TrackingMessageState.IGNORED
        merged = track_infos_merge(infos, source=WEBHOOK)
    except MalformedPayload as error:
        _finish(message_id, TrackingMessageState.IGNORED, str(error))
        return TrackingMessageState.IGNORED
    except TRANSIENT_ERRORS as error:
        return _retry_later(message_id, message.attempts, error)
    except Exception as error:
        logger.exception("tracking message %s failed", message_id)
        _finish(message_id, TrackingMessageState.FAILED, f"{type(error).__name__}: {error}")
        return TrackingMessageState.FAILED
    if merged.shipments == 0:
        numbers = ", ".join(merged.unmatched)[:400]
        reason = _("No shipment we follow: %(numbers)s") % {"numbers": numbers}
        _finish(message_id, TrackingMessageState.IGNORED, reason)
        return TrackingMessageState.IGNORED
    _finish(message_id, TrackingMessageState.PROCESSED)
    if merged.to_stop:
        from tracking.services.provider import tracking_provider

        provider = tracking_provider()
        try:
            shipments_stop(numbers=merged.to_stop, provider=provider)
        finally:
            provider.close()
    return TrackingMessageState.PROCESSED


def tracking_messages_requeue(*, older_than: timedelta = REQUEUE_AFTER, limit: int = 500) -> list[int]:
    """Queue again the messages still pending after ``older_than`` (the broker was away, a
    transient error) that no worker holds (a lagging queue is not sent them twice)."""
    now = timezone.now()
    due = list(
        TrackingMessage.objects.filter(
            _unclaimed(now), state=TrackingMessageState.PENDING, received_at__lt=now - older_than
        )
        .order_by("received_at")
        .values_list("id", flat=True)[:limit]
    )
    for message_id in due:
        _enqueue(message_id)
    return due
