"""A refund request's delivery to the supplier (an outbox on the ``Refund`` row) and its follow-up
(docs/suppliers.md, "Sending" and "Following").

- ``refund_send``: one conditional UPDATE on the database clock claims the row (pending, not held:
  ``claimed_until`` ``send_lease()`` ahead, a fresh ``send_claim``, ``send_attempts`` + 1). Every
  try looks the request up first (``refund_find``) and creates it only when the supplier has
  none; ``create_sent_at`` is recorded before the create (fenced, with ``CREATE_LEASE_LEFT`` of
  the hold left). Every result write is conditional on the claim: a worker whose hold was lost
  drops its result (logged). Found or created: SENT. The supplier's refusal of a first create:
  Rejected; once an earlier create may have reached it: unknown, looked up again, never
  Rejected; a parameter error: FAILED for support. Unknown outcome, retryable or any other error:
  PENDING, tried after a backoff; ``SEND_TRIES`` used up: FAILED (``refund_send_retry``).
- ``refunds_sync_due``: the beat's sweep (``select_for_update(skip_locked=True)`` batches): a lost
  pending send is queued again; a sent one, or a FAILED one whose create may have reached the
  supplier, is read back once per supplier order and recorded (``refund_decision_record``).
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce, Now
from django.utils import timezone
from django.utils.translation import gettext as _

from integrations.errors import NotSupported, ProviderError, RateLimited
from orders.enums import RefundSend, RefundState, RefundVia
from orders.models import Refund
from suppliers.enums import SourceAccountStatus
from suppliers.providers.base import RefundAsk, RefundAskItem, RefundInfo, Refusal, SupplierProvider, SupplierRefused
from suppliers.services.connection import provider_for
from suppliers.services.refund_match import refund_candidates, refund_find
from suppliers.services.refunds import OPEN, refund_decision_record, refund_send_enqueue

__all__ = ["refund_find", "refund_info_apply", "refund_next_check", "refund_send", "refunds_sync_due"]

logger = logging.getLogger(__name__)

SEND_TRIES = 8
# A create is sent only with this much of the hold left (its calls' worst case: disputeProducts,
# disputeConfirmInfo, create and the read-back, each with its timeout and pacing wait).
CREATE_LEASE_LEFT = timedelta(minutes=5)
SYNC_BATCH = 100
SYNC_BATCHES = 10  # per sweep
SYNC_RETRY = timedelta(minutes=15)  # a read that failed is tried again this much later


def send_lease() -> timedelta:
    """How long a claimed send is held: longer than the task may run (its hard time limit) and
    a margin, so a send still running is never taken by another worker."""
    return timedelta(seconds=int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 900))) + timedelta(minutes=5)


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


def _claim(refund_id: int) -> uuid.UUID | None:
    """The one conditional UPDATE (the database's clock): this worker's token when it holds the send."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=Now())
    rows = Refund.objects.filter(pk=refund_id, via=RefundVia.API, send_state=RefundSend.PENDING, state__in=OPEN)
    token = uuid.uuid4()
    claimed = rows.filter(free).update(
        claimed_until=Now() + send_lease(),
        send_claim=token,
        send_attempts=F("send_attempts") + 1,
        updated_at=Now(),
    )
    return token if claimed == 1 else None


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


def _save(refund_id: int, **fields: object) -> None:
    Refund.objects.filter(pk=refund_id).update(**fields, updated_at=timezone.now())


def _held(refund_id: int, token: uuid.UUID) -> QuerySet[Refund]:
    return Refund.objects.filter(pk=refund_id, send_state=RefundSend.PENDING, send_claim=token)


def _write(refund: Refund, token: uuid.UUID, **fields: object) -> bool:
    """A result write, conditional on this worker's claim: False (dropped, logged) when it was lost."""
    if _held(refund.pk, token).update(**fields, updated_at=timezone.now()) == 1:
        return True
    logger.warning("refund %s: send try %s lost its hold; its result is dropped", refund.pk, refund.send_attempts)
    return False


def _fail_or_later(
    refund: Refund, token: uuid.UUID, error: str, *, final: bool = False, wait: timedelta | None = None
) -> str:
    now = timezone.now()
    if final or refund.send_attempts >= SEND_TRIES:
        message = (
            _("The supplier could not be reached after %(tries)d tries: %(error)s. Use Retry to send it again.")
            % {"tries": refund.send_attempts, "error": error}
            if not final
            else error
        )
        # A create that may have reached the supplier is still read back by the sync.
        follow = now + SYNC_RETRY if refund.create_sent_at is not None else None
        wrote = _write(
            refund,
            token,
            send_state=RefundSend.FAILED,
            send_error=message[:500],
            claimed_until=None,
            send_claim=None,
            next_sync_at=follow,
        )
        return "failed" if wrote else "skipped"
    when = now + (wait or _backoff(refund.send_attempts))
    wrote = _write(refund, token, send_error=error[:500], claimed_until=None, send_claim=None, next_sync_at=when)
    return "retry" if wrote else "skipped"


def _not_sendable(refund: Refund) -> str:
    """Why this row cannot be sent as it is ("" when it can): its supplier order, connected account
    and tenant must agree (a task's id is not trusted)."""
    supplier_order = refund.supplier_order
    source = supplier_order.source_account if supplier_order is not None else None
    if supplier_order is None or source is None or not supplier_order.external_order_id:
        return _("The supplier account of this order is not connected: connect it, then use Retry.")
    if not refund.account_id == supplier_order.account_id == source.account_id:
        logger.error("refund %s: account, supplier order and supplier account disagree", refund.pk)
        return _("This request does not match its supplier order's account; support has been told.")
    if source.status != SourceAccountStatus.CONNECTED:
        return _("The supplier account of this order is not connected: connect it, then use Retry.")
    return ""


def refund_send(*, refund_id: int, provider: SupplierProvider | None = None) -> str:
    """See the module docstring: "sent", "rejected", "retry", "failed" or "skipped" (not ours to send)."""
    token = _claim(refund_id)
    if token is None:
        return "skipped"
    refund = Refund.objects.select_related("supplier_order__source_account").get(pk=refund_id)
    problem = _not_sendable(refund)
    if problem:
        return _fail_or_later(refund, token, problem, final=True)
    try:
        return _send(refund, token, provider)
    except (NotSupported, ValueError) as error:
        return _fail_or_later(refund, token, _("This request cannot be sent: %(error)s") % {"error": error}, final=True)
    except ProviderError as error:  # an unknown outcome or a retryable error: looked up on the next try
        logger.info("refund %s: send try %s did not finish: %s", refund.pk, refund.send_attempts, error)
        return _fail_or_later(refund, token, str(error))
    # An answer none of our readers expected, or the database failing mid-way: logged with its
    # traceback, the claim given back, tried later (never a claim held and tries growing forever).
    except (KeyError, TypeError, AttributeError, IndexError, ArithmeticError, DatabaseError):
        logger.exception("refund %s: send try %s broke", refund.pk, refund.send_attempts)
        return _fail_or_later(refund, token, _("The request could not be sent (an unexpected error)."))


def _send(refund: Refund, token: uuid.UUID, given: SupplierProvider | None) -> str:
    supplier_order = refund.supplier_order
    if supplier_order is None or supplier_order.source_account is None:
        raise ValueError("the refund has no supplier order")
    provider = given or provider_for(supplier_order.source_account)
    maybe_there = refund.create_sent_at is not None  # an earlier try sent a create
    try:
        infos = provider.refunds_get(supplier_order.external_order_id)
    except RateLimited as limited:  # our pacing sent nothing, nothing was written: not a try
        wait = timedelta(seconds=limited.retry_after or 60)
        _write(
            refund,
            token,
            send_attempts=F("send_attempts") - 1,
            claimed_until=None,
            send_claim=None,
            next_sync_at=timezone.now() + wait,
        )
        return "retry"
    found = refund_find(infos, refund)
    if found is not None:
        return _sent(refund, token, found)
    if maybe_there and refund_candidates(infos, refund):
        return _fail_or_later(
            refund,
            token,
            _("The supplier lists a request that may be this one but cannot be told apart; it is not sent again."),
        )
    marked = (
        _held(refund.pk, token)
        .filter(claimed_until__gt=Now() + CREATE_LEASE_LEFT)
        .update(create_sent_at=Coalesce(F("create_sent_at"), Now()), updated_at=Now())
    )
    if marked != 1:  # the hold is lost or too short for the create's worst case: not sent now
        return _fail_or_later(refund, token, _("The send ran out of time before the request was made."))
    refund.refresh_from_db(fields=["create_sent_at"])
    try:
        info = provider.refund_create(refund_ask(refund))
    except SupplierRefused as refused:
        return _refused(refund, token, refused.refusal, maybe_there=maybe_there)
    except RateLimited as limited:  # part of the create may have gone out: a try, looked up next time
        return _fail_or_later(refund, token, str(limited), wait=timedelta(seconds=limited.retry_after or 60))
    if not info.external_id:  # no id answered: read back by key or lines (else matched in the sync)
        try:
            info = refund_find(provider.refunds_get(supplier_order.external_order_id), refund) or info
        except ProviderError as error:
            logger.info("refund %s: created, its id not read back yet: %s", refund.pk, error)
    return _sent(refund, token, info)


def _refused(refund: Refund, token: uuid.UUID, refusal: Refusal, *, maybe_there: bool) -> str:
    said = refusal.message
    if maybe_there:  # e.g. CJ's canChoose false: our own earlier request may be the open one
        logger.warning("refund %s: refused after an earlier create may have reached the supplier: %s", refund.pk, said)
        return _fail_or_later(
            refund,
            token,
            _("The supplier refused a repeat (%(said)s); an earlier try may have reached it: it is looked up again.")
            % {"said": said},
        )
    if refusal.request_error:  # our request was malformed: support's, never the supplier's decision
        logger.error("refund %s: the supplier refused the request as malformed: %s (%s)", refund.pk, said, refusal.code)
        return _fail_or_later(
            refund,
            token,
            _("The supplier refused the request as malformed (%(said)s); support has been told.") % {"said": said},
            final=True,
        )
    if not _write(refund, token, send_state=RefundSend.SENT, send_error="", claimed_until=None, send_claim=None):
        return "skipped"
    refund_decision_record(refund_id=refund.pk, state=RefundState.REJECTED, rejection_reason=said, source="supplier")
    return "rejected"


def _sent(refund: Refund, token: uuid.UUID, info: RefundInfo) -> str:
    fields: dict[str, object] = {
        "send_state": RefundSend.SENT,
        "send_error": "",
        "claimed_until": None,
        "send_claim": None,
        "external_status": info.status[:48],
        "next_sync_at": refund_next_check(refund, timezone.now()),
    }
    try:
        with transaction.atomic():
            wrote = _write(refund, token, **fields, external_id=info.external_id[:64] or refund.external_id)
    except IntegrityError:  # another refund of ours holds that dispute id: sent, its id matched later
        logger.error("refund %s: dispute %s is another refund's; kept unmatched", refund.pk, info.external_id)
        wrote = _write(refund, token, **fields)
        info = RefundInfo(external_id="", status=info.status, state="")
    if not wrote:
        return "skipped"
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
        try:
            with transaction.atomic():
                _save(refund_id, external_id=info.external_id[:64])
        except IntegrityError:  # another refund of ours holds it: never two of ours on one dispute
            logger.error("refund %s: dispute %s is another refund's; not taken", refund_id, info.external_id)
            return False
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
    """One batch of due open refunds: (pending sends to queue again, sent ones to read, with the
    FAILED ones whose create may have reached the supplier)."""
    maybe_created = Q(send_state=RefundSend.FAILED, create_sent_at__isnull=False)
    with transaction.atomic():
        rows = list(
            Refund.objects.select_for_update(skip_locked=True)
            .filter(state__in=OPEN, next_sync_at__lte=now, via=RefundVia.API)
            .filter(Q(send_state__in=(RefundSend.PENDING, RefundSend.SENT)) | maybe_created)
            .order_by("next_sync_at")
            .values_list("pk", "send_state", "claimed_until")[:SYNC_BATCH]
        )
        lost = [pk for pk, send, held in rows if send == RefundSend.PENDING and (held is None or held < now)]
        held = [pk for pk, send, until in rows if send == RefundSend.PENDING and until is not None and until >= now]
        to_read = [pk for pk, send, _held in rows if send in (RefundSend.SENT, RefundSend.FAILED)]
        if lost:
            Refund.objects.filter(pk__in=lost).update(next_sync_at=now + send_lease())
        if held:  # a send in progress: looked at again after its lease
            Refund.objects.filter(pk__in=held).update(next_sync_at=now + send_lease())
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
            if info is not None and refund.send_state == RefundSend.FAILED:  # it reached the supplier after all
                logger.warning("refund %s: a FAILED send is at the supplier (%s)", refund.pk, info.external_id)
                Refund.objects.filter(pk=refund.pk, send_state=RefundSend.FAILED).update(
                    send_state=RefundSend.SENT, send_error="", updated_at=timezone.now()
                )
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
