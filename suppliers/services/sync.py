"""Supplier sync: read each placed supplier order at its supplier until tracking takes over.

Beat (``suppliers.sync_due_supplier_orders``, every minute) claims the due supplier orders in
batches, the way the channel pulls claim stores: ``select_for_update(skip_locked=True)`` picks
rows no other beat holds, and ``sync_claimed_until`` (set in that transaction) keeps them out of
the next beats while their task waits for a worker. A claim that outlives its task (a killed
worker, a lost message) lapses by itself and the order is due again.

Each sync reads the order at the supplier (``provider.get``; AliExpress ids split by the
supplier are read one by one) outside any transaction, then records what it says under the
supplier order's lock: amounts, status, deadline and tracking number (``info_apply``); paid at
the supplier → PAID; canceled at the supplier → CANCELED by the supplier (the order goes to
Source Canceled); a tracking number seen for the first time is stored and handed on to the task
named by ``SUPPLIER_TRACKING_TASK`` after commit.

When it looks again (``next_sync_at``):
- unpaid (placed, payment failed): every ``UNPAID_EVERY`` (10 min) until the payment deadline,
  once just after it, then every ``AFTER_DEADLINE_EVERY`` (1 h) until the supplier closes it;
- paid, no tracking number yet: every ``PAID_EVERY`` (``SUPPLIER_SYNC_PAID_MINUTES``, 10 min: a new
  tracking number reaches the channel within that plus a minute);
- paid with a tracking number, or canceled: never (tracking follows the parcel from there);
- a failed read (5xx, timeout, a refused token): ``BACKOFF_BASE`` doubled per failure in a row,
  at most ``BACKOFF_MAX``, the error on the supplier account's ``last_error``.

Orders placed with an account the merchant has since replaced or disconnected are not synced:
``SupplierOrder.no_longer_synced`` says so on the row and in the drawer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from integrations.errors import MalformedPayload, ProviderError
from integrations.http import sanitize
from orders.enums import SupplierOrderState
from orders.services.cancel_hook import BROKER_ERRORS
from suppliers.enums import CanceledBy, SourceAccountStatus
from suppliers.models import IN_FLIGHT_STATES, SYNCED_STATES, SourceAccount, SupplierOrder, SupplierOrderLine
from suppliers.providers.base import SupplierOrderInfo
from suppliers.services.connection import provider_for
from suppliers.services.protocol import lease_live, supplier_order_locked
from suppliers.services.records import (
    failure_set,
    fx_apply,
    info_apply,
    order_after_supplier_change,
    supplier_order_move,
)

logger = logging.getLogger(__name__)

UNPAID_EVERY = timedelta(minutes=10)
PAID_EVERY = timedelta(minutes=settings.SUPPLIER_SYNC_PAID_MINUTES)
AFTER_DEADLINE_EVERY = timedelta(hours=1)
JUST_AFTER_DEADLINE = timedelta(minutes=1)
LEASED_RETRY = timedelta(minutes=1)  # a row held for a supplier call is read again this much later
BACKOFF_BASE = timedelta(minutes=5)
BACKOFF_MAX = timedelta(hours=2)
# A claimed batch is left alone this long: more than a batch's reads may take (each read is
# bounded by SUPPLIER_CALL_TIMEOUT and its retries), less than a merchant would notice.
SYNC_CLAIM = timedelta(minutes=10)
SYNC_BATCH = 20  # supplier orders per task
SYNC_LIMIT = 2_000  # supplier orders claimed per beat
CURRENT_ACCOUNT = (SourceAccountStatus.CONNECTED, SourceAccountStatus.RECONNECT)
# ``SourceAccount.last_error`` written by a failed sync starts with this (a good sync clears it);
# a catalog entry, so the page shows it in the reader's language (zopi/stored_messages.py).
ERROR_PREFIX = gettext_noop("Sync:") + " "


class SyncOutcome:
    SYNCED = "synced"
    PAID = "paid"
    CANCELED = "canceled"
    FAILED = "failed"
    NOT_SYNCED = "no_longer_synced"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class SyncResult:
    outcome: str
    message: str = ""
    tracking_number: str = ""


def sync_due(now: datetime) -> Q:
    """Supplier orders beat reads now: followed, due, of a current account, not claimed."""
    return (
        Q(state__in=SYNCED_STATES, next_sync_at__lte=now, source_account__status__in=CURRENT_ACCOUNT)
        & ~Q(external_order_id="")
        & (Q(sync_claimed_until__isnull=True) | Q(sync_claimed_until__lt=now))
    )


def supplier_orders_claim_due(*, now: datetime | None = None, limit: int = SYNC_LIMIT) -> list[list[int]]:
    """Beat: claim the due supplier orders (rows another beat holds are skipped) and queue one
    sync task per batch after commit. Returns the batches."""
    from suppliers import tasks  # the task module imports the services

    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            SupplierOrder.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(sync_due(now))
            .order_by("next_sync_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        SupplierOrder.objects.filter(pk__in=ids).update(sync_claimed_until=now + SYNC_CLAIM)
        batches = [ids[start : start + SYNC_BATCH] for start in range(0, len(ids), SYNC_BATCH)]
        for batch in batches:
            transaction.on_commit(partial(tasks.sync_supplier_orders.delay, batch))
    return batches


def supplier_orders_sync(*, supplier_order_ids: list[int], now: datetime | None = None) -> dict[str, int]:
    """Sync a claimed batch, one order after the other; an unexpected error on one (logged, its
    claim released) does not stop the others. Returns the count per outcome."""
    counts: dict[str, int] = {}
    for supplier_order_id in supplier_order_ids:
        try:
            outcome = supplier_order_sync(supplier_order_id=supplier_order_id, now=now).outcome
        except Exception:
            logger.exception("supplier order %s: the sync failed", supplier_order_id)
            SupplierOrder.objects.filter(pk=supplier_order_id).update(sync_claimed_until=None)
            outcome = SyncOutcome.FAILED
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def supplier_order_sync_now(*, supplier_order_id: int, now: datetime | None = None) -> SyncResult:
    """Read one supplier order now (a supplier's message said it changed), claimed or not: a read
    is harmless twice, and its record is written under the row's lock."""
    now = now or timezone.now()
    SupplierOrder.objects.filter(pk=supplier_order_id, state__in=SYNCED_STATES).update(next_sync_at=now)
    return supplier_order_sync(supplier_order_id=supplier_order_id, now=now)


def supplier_order_sync(*, supplier_order_id: int, now: datetime | None = None) -> SyncResult:
    """Read one supplier order at its supplier and record what it says (see the module docstring)."""
    now = now or timezone.now()
    supplier_order = SupplierOrder.objects.select_related("source_account").filter(pk=supplier_order_id).first()
    if supplier_order is None:
        return SyncResult(SyncOutcome.SKIPPED)
    if supplier_order.state not in SYNCED_STATES:
        # In flight: placement records it (and asks for a sync); anything else is finished with.
        in_flight = supplier_order.state in IN_FLIGHT_STATES
        changes: dict[str, object] = {"sync_claimed_until": None}
        if not in_flight:
            changes["next_sync_at"] = None
        SupplierOrder.objects.filter(pk=supplier_order_id).update(**changes)
        return SyncResult(SyncOutcome.SKIPPED)
    source = supplier_order.source_account
    if source is None or not source.is_current:
        # ``next_sync_at`` is kept: should the same account be connected again, it is due again.
        SupplierOrder.objects.filter(pk=supplier_order_id).update(sync_claimed_until=None)
        return SyncResult(SyncOutcome.NOT_SYNCED, _("Placed with a previous supplier account: no longer synced."))
    if not supplier_order.external_order_id.strip(", "):
        return _failed(supplier_order_id, source, _("The supplier order has no id at the supplier."), now)
    try:
        # An order AliExpress split by store (ids comma-separated) is read part by part and
        # summed by the provider: paid or canceled only when every part is.
        info = provider_for(source).get(supplier_order.external_order_id)
    except (ProviderError, MalformedPayload) as error:
        return _failed(supplier_order_id, source, str(error), now)
    result = _record(supplier_order_id, info, now)
    _account_healthy(source.pk, now)
    return result


def next_sync_at(*, state: str, tracking_number: str, pay_by: datetime | None, now: datetime) -> datetime | None:
    """When the sync looks at a supplier order in ``state`` again (None: never; tracking takes over)."""
    if state not in SYNCED_STATES:
        return None
    if state == SupplierOrderState.PAID:
        return None if tracking_number else now + PAID_EVERY
    if pay_by is not None and now >= pay_by:
        return now + AFTER_DEADLINE_EVERY  # until the supplier says it closed it
    upcoming = now + UNPAID_EVERY
    if pay_by is not None and upcoming > pay_by:
        return pay_by + JUST_AFTER_DEADLINE
    return upcoming


def _record(supplier_order_id: int, info: SupplierOrderInfo, now: datetime) -> SyncResult:
    with supplier_order_locked(supplier_order_id) as supplier_order:
        if supplier_order.state not in SYNCED_STATES or lease_live(supplier_order, now):
            # Moved meanwhile, or a worker holds it for a supplier call (a payment, a cancel):
            # that call records what happened; the sync looks again soon.
            supplier_order.sync_claimed_until = None
            # A row in flight is looked at again too: the call may end in a state the sync follows.
            followed = supplier_order.state in (*SYNCED_STATES, *IN_FLIGHT_STATES)
            supplier_order.next_sync_at = now + LEASED_RETRY if followed else None
            supplier_order.save(update_fields=("sync_claimed_until", "next_sync_at", "updated_at"))
            return SyncResult(SyncOutcome.SKIPPED)
        had_tracking = supplier_order.tracking_number
        before = (supplier_order.cost, supplier_order.currency)
        fields = list(info_apply(supplier_order, info))
        supplier_order.sync_claimed_until, supplier_order.sync_failures = None, 0
        supplier_order.last_synced_at = now
        fields += ["sync_claimed_until", "sync_failures", "last_synced_at"]
        outcome, note = SyncOutcome.SYNCED, ""
        if info.canceled:
            # Left unpaid after the customer canceled in the channel (AliExpress has no cancel
            # call: it closes the order itself): the channel's cancellation, not the supplier's.
            by_channel = supplier_order.order.channel_canceled and supplier_order.state != SupplierOrderState.PAID
            supplier_order.canceled_by = CanceledBy.CHANNEL if by_channel else CanceledBy.SUPPLIER
            supplier_order.cancel_reason = (
                sanitize(info.cancel_reason, 255)
                or _("Canceled by %(supplier)s (it gave no reason).")
                % {"supplier": supplier_order.get_provider_display()}
            )[:255]
            supplier_order.canceled_at = now
            supplier_order.lease_id, supplier_order.in_flight_until = None, None  # an expired lease, if any
            fields += ["canceled_by", "cancel_reason", "canceled_at", "lease_id", "in_flight_until"]
            state, outcome, note = SupplierOrderState.CANCELED, SyncOutcome.CANCELED, supplier_order.cancel_reason
        elif info.paid and supplier_order.state != SupplierOrderState.PAID:
            supplier_order.paid_at = supplier_order.paid_at or now
            fields += [
                "paid_at",
                *fx_apply(supplier_order, supplier_order.order, now),
                *failure_set(supplier_order, None),
            ]
            state, outcome, note = SupplierOrderState.PAID, SyncOutcome.PAID, _("Paid at the supplier.")
        else:
            state = SupplierOrderState(supplier_order.state)
            if supplier_order.cost is not None and not supplier_order.fx_source:
                fields += fx_apply(supplier_order, supplier_order.order, now)
        supplier_order.next_sync_at = next_sync_at(
            state=state, tracking_number=supplier_order.tracking_number, pay_by=supplier_order.pay_by, now=now
        )
        fields.append("next_sync_at")
        if outcome == SyncOutcome.SYNCED:
            supplier_order.save(update_fields=("updated_at", *dict.fromkeys(fields)))
        else:
            supplier_order_move(supplier_order, state, note=note, fields=tuple(dict.fromkeys(fields)))
        if outcome != SyncOutcome.SYNCED or before != (supplier_order.cost, supplier_order.currency):
            order_after_supplier_change(order_id=supplier_order.order_id)
        new_tracking = supplier_order.tracking_number if supplier_order.tracking_number != had_tracking else ""
        if new_tracking:
            _tracking_hand_on(supplier_order.pk)
    return SyncResult(outcome, note, new_tracking)


def _tracking_hand_on(supplier_order_id: int) -> None:
    """After commit: the task named by ``SUPPLIER_TRACKING_TASK`` (the tracking app's), by name:
    suppliers never imports tracking. Empty setting: the number is stored and shown only."""
    if _tracking_task():
        transaction.on_commit(partial(tracking_hand_on_now, supplier_order_id))


def _tracking_task() -> str:
    return str(getattr(settings, "SUPPLIER_TRACKING_TASK", "") or "")


def tracking_hand_on_kwargs(supplier_order_id: int) -> dict[str, Any] | None:
    """What the tracking task is told besides the supplier order's id (tracking reads no supplier
    model): ``order_id``, ``account_id``, ``tracking_number``, ``carrier`` and ``lines`` (the order
    lines in the parcel, ``[{"order_line_id", "quantity"}]``). None: no number (any more)."""
    row = (
        SupplierOrder.objects.filter(pk=supplier_order_id)
        .exclude(tracking_number="")
        .values("order_id", "order__account_id", "tracking_number", "carrier")
        .first()
    )
    if row is None:
        return None
    lines = [
        {"order_line_id": order_line_id, "quantity": quantity}
        for order_line_id, quantity in SupplierOrderLine.objects.filter(supplier_order_id=supplier_order_id)
        .order_by("id")
        .values_list("order_line_id", "quantity")
    ]
    return {
        "order_id": row["order_id"],
        "account_id": row["order__account_id"],
        "tracking_number": row["tracking_number"],
        "carrier": row["carrier"],
        "lines": lines,
    }


def tracking_hand_on_now(supplier_order_id: int) -> bool:
    """Send the tracking task for one supplier order and note it; a broker error leaves it for the
    sweep (``tracking_hand_on_due``). The task gets ``args=(supplier_order_id,)`` and the
    ``tracking_hand_on_kwargs``."""
    kwargs = tracking_hand_on_kwargs(supplier_order_id)
    if kwargs is None:
        return False
    try:
        current_app.send_task(_tracking_task(), args=(supplier_order_id,), kwargs=kwargs)
    except BROKER_ERRORS:  # the sweep sends it again
        logger.exception("tracking hand-on of supplier order %s failed", supplier_order_id)
        return False
    SupplierOrder.objects.filter(pk=supplier_order_id).update(tracking_handed_at=timezone.now())
    return True


def tracking_hand_on_due(*, limit: int = 200) -> int:
    """Beat: tracking numbers not handed on yet (a broker error, or stored before the setting was
    turned on) are handed on now; the number handed on."""
    if not _tracking_task():
        return 0
    due = SupplierOrder.objects.filter(tracking_handed_at=None).exclude(tracking_number="")
    return sum(tracking_hand_on_now(pk) for pk in due.order_by("pk").values_list("pk", flat=True)[:limit])


def backoff(failures: int) -> timedelta:
    # The exponent is capped first: a timedelta overflows long before the failures stop.
    return min(BACKOFF_BASE * 2 ** min(max(failures, 1) - 1, 16), BACKOFF_MAX)


def _failed(supplier_order_id: int, source: SourceAccount, error: str, now: datetime) -> SyncResult:
    """The supplier did not answer usefully: back off, say why on the supplier account."""
    failures = (
        SupplierOrder.objects.filter(pk=supplier_order_id).values_list("sync_failures", flat=True).first() or 0
    ) + 1
    SupplierOrder.objects.filter(pk=supplier_order_id, state__in=SYNCED_STATES).update(
        sync_failures=min(failures, 32_000),
        sync_claimed_until=None,
        next_sync_at=now + backoff(failures),
    )
    message = sanitize(error, 400)
    SourceAccount.objects.filter(pk=source.pk).update(last_error=f"{ERROR_PREFIX}{message}"[:500], last_call_at=now)
    logger.info("supplier order %s: sync failed (%s in a row): %s", supplier_order_id, failures, message)
    return SyncResult(SyncOutcome.FAILED, message)


def _account_healthy(source_id: int, now: datetime) -> None:
    SourceAccount.objects.filter(pk=source_id, last_error__startswith=ERROR_PREFIX).update(last_error="")
    SourceAccount.objects.filter(pk=source_id).update(last_call_at=now)
