"""A refund request's delivery to the supplier (an outbox on the ``Refund`` row) and its follow-up.

- ``refund_send``: claims the row with one conditional UPDATE on the database clock (``send_state``
  pending, not held: ``claimed_until`` set ``SEND_LEASE`` ahead, ``send_attempts`` + 1), so two
  workers never both call. A try after the first looks the request up first (``refunds_get``,
  by our key) and creates it only when the supplier has none; the supplier also keeps one dispute
  per key (CJ ``businessDisputeId``, Temu's ``Idempotency-Key``). Sent: ``send_state`` SENT with
  the supplier's id and status; the supplier's knowing refusal: Rejected with its words (and
  SENT: nothing to send again); an unknown outcome or a retryable error: still PENDING, tried
  again after a backoff (``next_sync_at``: the sweep queues it); ``SEND_TRIES`` used up: FAILED
  with the reason in the merchant's words (``refund_send_retry`` starts it over).
- ``refunds_sync_due``: the beat's sweep. Open refunds whose check is due (``refund_sync_due_idx``)
  are claimed with ``select_for_update(skip_locked=True)`` in batches: a pending send whose task
  was lost is queued again; a sent one is read back (``refunds_get``, once per supplier order,
  paced like every supplier call) and its decision recorded (``refund_decision_record``). The next
  check: at the review due time, within ``REFUND_SYNC_MAX_WAIT`` at most, while in review; at the
  money due time (same cap) once approved; every ``REFUND_SYNC_MAX_WAIT`` once overdue.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.errors import NotSupported, ProviderError, RateLimited
from orders.enums import RefundSend, RefundState, RefundVia
from orders.models import Refund
from suppliers.providers.base import RefundAsk, RefundAskItem, RefundInfo, SupplierProvider, SupplierRefused
from suppliers.services.connection import provider_for
from suppliers.services.refunds import OPEN, refund_decision_record, refund_send_enqueue

logger = logging.getLogger(__name__)

SEND_TRIES = 8
SEND_LEASE = timedelta(minutes=5)  # a claimed send is held this long (a killed worker's is taken again after)
SYNC_BATCH = 100
SYNC_BATCHES = 10  # per sweep
SYNC_RETRY = timedelta(minutes=15)  # a read that failed is tried again this much later


def _max_wait() -> timedelta:
    return timedelta(minutes=int(getattr(settings, "REFUND_SYNC_MAX_WAIT_MINUTES", 60)))


def refund_next_check(refund: Refund, now: datetime) -> datetime | None:
    """When to read an open refund again (None: closed, never again)."""
    if refund.state not in OPEN:
        return None
    cap = now + _max_wait()
    due = refund.review_due_at if refund.state == RefundState.IN_REVIEW else refund.refund_due_at
    return min(due, cap) if due is not None and due > now else cap


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 3600))


def _claim(refund_id: int) -> bool:
    """The one conditional UPDATE (the database's clock): True when this worker holds the send."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=Now())
    rows = Refund.objects.filter(pk=refund_id, via=RefundVia.API, send_state=RefundSend.PENDING, state__in=OPEN)
    return (
        rows.filter(free).update(
            claimed_until=Now() + SEND_LEASE, send_attempts=F("send_attempts") + 1, updated_at=Now()
        )
        == 1
    )


def refund_ask(refund: Refund) -> RefundAsk:
    if refund.supplier_order is None:
        raise ValueError("the refund has no supplier order")
    parts = refund.lines.select_related("supplier_order_line").order_by("id")
    return RefundAsk(
        idempotency_key=str(refund.idempotency_key),
        external_order_id=refund.supplier_order.external_order_id,
        reason=refund.reason,
        note=refund.note,
        evidence=tuple(refund.evidence or ()),
        amount=Decimal(refund.amount or 0),
        currency=refund.currency,
        items=tuple(
            RefundAskItem(
                supplier_product_id=part.supplier_order_line.supplier_product_id,
                supplier_sku=part.supplier_order_line.supplier_sku,
                quantity=part.quantity,
            )
            for part in parts
        ),
    )


def refund_find(infos: list[RefundInfo], refund: Refund) -> RefundInfo | None:
    """Our request among the supplier's: by the supplier's id once known, else by our key. A
    supplier whose list does not echo keys (CJ's may not): the one request without a key, not
    already another refund's of ours on this supplier order, asking the same money (None when
    that is not exactly one: never a guess)."""
    if refund.external_id:
        found = next((info for info in infos if info.external_id == refund.external_id), None)
        if found is not None:
            return found
    keyed = next(
        (info for info in infos if info.idempotency_key and info.idempotency_key == refund.idempotency_key), None
    )
    if keyed is not None or any(info.idempotency_key for info in infos):
        return keyed
    taken = set(
        Refund.objects.filter(supplier_order_id=refund.supplier_order_id)
        .exclude(pk=refund.pk)
        .exclude(external_id="")
        .values_list("external_id", flat=True)
    )
    same = [
        info
        for info in infos
        if info.external_id
        and info.external_id not in taken
        and info.amount is not None
        and info.amount == refund.amount
    ]
    return same[0] if len(same) == 1 else None


def _save(refund_id: int, **fields: object) -> None:
    Refund.objects.filter(pk=refund_id).update(**fields, updated_at=timezone.now())


def _fail_or_later(refund: Refund, error: str, *, final: bool = False) -> str:
    now = timezone.now()
    if final or refund.send_attempts >= SEND_TRIES:
        message = (
            _("The supplier could not be reached after %(tries)d tries: %(error)s. Use Retry to send it again.")
            % {"tries": refund.send_attempts, "error": error}
            if not final
            else error
        )
        _save(refund.pk, send_state=RefundSend.FAILED, send_error=message[:500], claimed_until=None, next_sync_at=None)
        return "failed"
    when = now + _backoff(refund.send_attempts)
    _save(refund.pk, send_error=error[:500], claimed_until=None, next_sync_at=when)
    return "retry"


def refund_send(*, refund_id: int, provider: SupplierProvider | None = None) -> str:
    """See the module docstring: "sent", "rejected", "retry", "failed" or "skipped" (not ours to send)."""
    if not _claim(refund_id):
        return "skipped"
    refund = Refund.objects.select_related("supplier_order__source_account").get(pk=refund_id)
    supplier_order = refund.supplier_order
    if supplier_order is None or supplier_order.source_account is None or not supplier_order.external_order_id:
        return _fail_or_later(
            refund, _("The supplier account of this order is not connected: connect it, then use Retry."), final=True
        )
    try:
        provider = provider or provider_for(supplier_order.source_account)
        found = None
        if refund.send_attempts > 1 or refund.external_id:  # an earlier try may have reached the supplier
            found = refund_find(provider.refunds_get(supplier_order.external_order_id), refund)
        info = found or provider.refund_create(refund_ask(refund))
    except SupplierRefused as refused:
        _save(refund.pk, send_state=RefundSend.SENT, send_error="", claimed_until=None)
        refund_decision_record(
            refund_id=refund.pk, state=RefundState.REJECTED, rejection_reason=refused.refusal.message, source="supplier"
        )
        return "rejected"
    except RateLimited as limited:  # our pacing sent nothing: not a try
        wait = timedelta(seconds=limited.retry_after or 60)
        _save(
            refund.pk,
            send_attempts=F("send_attempts") - 1,
            claimed_until=None,
            next_sync_at=timezone.now() + wait,
        )
        return "retry"
    except (NotSupported, ValueError) as error:
        return _fail_or_later(refund, _("This request cannot be sent: %(error)s") % {"error": error}, final=True)
    except ProviderError as error:  # an unknown outcome or a retryable error: looked up on the next try
        logger.info("refund %s: send try %s did not finish: %s", refund.pk, refund.send_attempts, error)
        return _fail_or_later(refund, str(error))
    _save(
        refund.pk,
        send_state=RefundSend.SENT,
        send_error="",
        claimed_until=None,
        external_id=info.external_id[:64] or refund.external_id,
        external_status=info.status[:48],
        next_sync_at=refund_next_check(refund, timezone.now()),
    )
    refund_info_apply(refund_id=refund.pk, info=info)
    return "sent"


def refund_info_apply(*, refund_id: int, info: RefundInfo) -> bool:
    """What the supplier says of one request, recorded (only forward); True when it moved.
    An answer that cannot be right (money above what was asked) is kept as the supplier's
    status, never recorded as money."""
    refund = Refund.objects.get(pk=refund_id)
    status = info.status
    paid = info.refunded_amount
    if paid is not None and refund.amount is not None and paid > refund.amount:
        logger.warning(
            "refund %s: the supplier reports %s refunded, above the %s asked", refund_id, paid, refund.amount
        )
        status = _("%(status)s (%(paid)s: above the ask)") % {"status": status[:20], "paid": paid}
        refund_decision_record(refund_id=refund_id, state=refund.state, external_status=status, source="supplier")
        return False
    if info.external_id and not refund.external_id:
        _save(refund_id, external_id=info.external_id[:64])
    if not info.state or info.state == RefundState.IN_REVIEW:
        if status and status != refund.external_status:
            refund_decision_record(refund_id=refund_id, state=refund.state, external_status=status, source="supplier")
        return False
    _refund, moved = refund_decision_record(
        refund_id=refund_id,
        state=info.state,
        at=info.refunded_at if info.state == RefundState.REFUNDED and info.refunded_at else info.decided_at,
        rejection_reason=info.rejection_reason,
        refunded_amount=paid,
        external_status=status,
        source="supplier",
    )
    return moved


def _claim_due(now: datetime) -> tuple[list[int], list[int]]:
    """One batch of due open refunds: (pending sends to queue again, sent ones to read)."""
    with transaction.atomic():
        rows = list(
            Refund.objects.select_for_update(skip_locked=True)
            .filter(state__in=OPEN, next_sync_at__lte=now, via=RefundVia.API)
            .filter(send_state__in=(RefundSend.PENDING, RefundSend.SENT))
            .order_by("next_sync_at")
            .values_list("pk", "send_state", "claimed_until")[:SYNC_BATCH]
        )
        lost = [pk for pk, send, held in rows if send == RefundSend.PENDING and (held is None or held < now)]
        held = [pk for pk, send, until in rows if send == RefundSend.PENDING and until is not None and until >= now]
        to_read = [pk for pk, send, _held in rows if send == RefundSend.SENT]
        if lost:
            Refund.objects.filter(pk__in=lost).update(next_sync_at=now + SEND_LEASE)
        if held:  # a send in progress: looked at again after its lease
            Refund.objects.filter(pk__in=held).update(next_sync_at=now + SEND_LEASE)
        if to_read:
            Refund.objects.filter(pk__in=to_read).update(next_sync_at=now + SYNC_RETRY)
    return lost, to_read


def _read(refund_ids: list[int], now: datetime) -> int:
    """Read the refunds back, once per supplier order; returns how many moved."""
    moved = 0
    by_order: dict[int, list[Refund]] = defaultdict(list)
    rows = Refund.objects.filter(pk__in=refund_ids, supplier_order__isnull=False)
    for refund in rows.select_related("supplier_order__source_account"):
        by_order[int(refund.supplier_order_id or 0)].append(refund)
    for refunds in by_order.values():
        supplier_order = refunds[0].supplier_order
        if supplier_order is None or supplier_order.source_account is None:
            continue
        try:
            infos = provider_for(supplier_order.source_account).refunds_get(supplier_order.external_order_id)
        except (ProviderError, ValueError) as error:
            logger.warning("supplier order %s: refunds not read: %s", supplier_order.pk, error)
            continue  # next_sync_at is SYNC_RETRY ahead
        for refund in refunds:
            info = refund_find(infos, refund)
            if info is not None and refund_info_apply(refund_id=refund.pk, info=info):
                moved += 1
            refund.refresh_from_db()
            _save(refund.pk, next_sync_at=refund_next_check(refund, now))
    return moved


def refunds_sync_due(*, now: datetime | None = None) -> int:
    """The beat's sweep (see the module docstring); returns what it did (0: nothing was due)."""
    now = now or timezone.now()
    done = 0
    for _batch in range(SYNC_BATCHES):
        lost, to_read = _claim_due(now)
        for refund_id in lost:
            refund_send_enqueue(refund_id)
        done += len(lost) + len(to_read)
        if to_read:
            _read(to_read, now)
        if len(lost) + len(to_read) < SYNC_BATCH:
            break
    return done
