"""A bulk placement's chunk: many orders checked, leased, sent and recorded together.

A "Place" on many orders (``batches.placement_batch_create``) is run by tasks of up to ``CHUNK``
results each. The never-twice protocol is the one of ``protocol`` (lock the orders, then their
supplier orders; lease; commit; call outside any transaction; record under the lease, a success
whoever holds the row), done for many orders at once so that the database work of an order is a
share of a few statements instead of some forty:

1. **Drafts.** One transaction locks the chunk's orders (in id order: two chunks never wait on
   each other crosswise), checks each (``placement.order_blockers``) and writes one draft per
   supplier for every order nothing was bought for yet. An order that has supplier orders already
   (a re-place, a partly placed order, a draft left by an earlier try) takes the one-order path,
   ``placement.order_place``.
2. **Windows.** The drafts are sent a window at a time: as many orders as the supplier's call
   rate lets one worker send in ``WINDOW_SECONDS``. One transaction locks the window's orders and
   drafts and re-reads them: a draft is leased only if it is still the one the chunk wrote (in
   draft, same key, same account, still connected, untouched since) and its order still wanted;
   each request is built from those rows (an address edited meanwhile is the one sent). One lease
   id; ``in_flight_until`` past the window's time budget (``WINDOW_BUDGET``, counted from the
   lease) by a whole call's lease. The calls go one by one at the pace of the supplier's limit
   (``protocol.create_call``: every outcome but a success is recorded there, at once), the
   attempts are written, then one transaction records the window's successes: supplier orders,
   their history, the orders' cost, placement issue and status, the tab counts, the results.
3. **Not sent.** No call starts once the window's budget is spent or our pacing has deferred one: the
   leased supplier orders not called go back to draft (nothing was sent under their keys) and
   their results are DEFERRED, as are the windows not reached; the task comes back for them.

A worker killed anywhere leaves what a killed one-order placement leaves: drafts (sent again by
the batch's sweep), or supplier orders in flight under a lease, which reconciliation asks the
supplier about once the lease has passed. An error of ours in a chunk writes "checked again" for
the orders whose drafts were leased (reconciliation settles them) and leaves the others to the
task's retry.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Account
from orders.enums import OrderStatus, SupplierOrderState
from orders.models import Order, OrderEvent, OrderLine
from orders.services.recompute import orders_derived_status
from orders.services.rows import rows_update
from orders.services.status_write import status_writes
from suppliers.enums import PlacementOutcome, SourceAccountStatus
from suppliers.models import (
    IN_FLIGHT_STATES,
    PlacementBatch,
    PlacementResult,
    SourceAccount,
    SupplierOrder,
    SupplierOrderLine,
    SupplierOrderTransition,
)
from suppliers.providers.base import Placed, SupplierProvider
from suppliers.ratelimit import calls_per_second
from suppliers.services.attempts import SupplierAttemptLog
from suppliers.services.connection import provider_for
from suppliers.services.links import links_for_lines
from suppliers.services.placement import (
    blockers_record,
    current_accounts,
    draft_fill,
    draft_lines,
    order_blockers,
    order_place_reported,
    results_combined,
)
from suppliers.services.protocol import (
    NOT_SENT,
    Result,
    create_call,
    deferred_message,
    lease_length,
    order_still_wanted,
    placed_apply,
    request_for,
)
from suppliers.services.records import CURRENT, Rates, move_rows, moves_write, supplier_cost_of

logger = logging.getLogger(__name__)

CHUNK = 50  # orders per task
# A window is what one worker may send in WINDOW_SECONDS at the supplier's rate; its calls may start
# for WINDOW_BUDGET after its lease (workers share the rate, a supplier answers slowly), which the
# lease covers with a whole call's lease more. A worker killed meanwhile leaves it to reconciliation.
WINDOW_SECONDS = 5.0
WINDOW_BUDGET = 30.0
PACE_AHEAD = 0.25  # seconds of the supplier's call slots a chunk reserves at once
TOKEN_REUSE = 60.0  # seconds a chunk reuses a supplier token it read (a refusal reads it again)
RETRY_AFTER_ERROR = 30.0  # seconds before a chunk's task retries the orders an error of ours left unsent
SUCCESS = (PlacementOutcome.PAID, PlacementOutcome.PLACED)
FAILED = (PlacementOutcome.BLOCKED, PlacementOutcome.REFUSED, PlacementOutcome.PAYMENT_FAILED)
# What recording a window's successes reads of its orders (the derivation's facts, the tab count's
# key, the currency of the supplier cost, the fields it writes, the number the status event names).
RECORD_FIELDS = (
    "account_id",
    "store_id",
    "number",
    "status",
    "sub_status",
    "archived",
    "channel_paid",
    "channel_canceled",
    "currency",
    "supplier_cost",
    "placement_issue",
    "placement_issue_message",
    "placement_issue_fix",
    "updated_at",
)


# What recording a success reads of a supplier order: what ``protocol.placed_apply`` reads and
# writes, and what its history names.
PLACED_FIELDS = (
    "order_id",
    "provider",
    "state",
    "external_order_id",
    "external_status",
    "items_total",
    "shipping_total",
    "cost",
    "currency",
    "pay_by",
    "tracking_number",
    "lease_id",
    "in_flight_until",
    "placed_at",
    "paid_at",
    "next_sync_at",
    "reconcile_attempts",
    "fx_rate",
    "fx_source",
    "failure_code",
    "failure_reason",
    "failure_fix",
    "updated_at",
)


@dataclass
class _Item:
    """One order of the chunk on the bulk path: the drafts the chunk wrote, and their results."""

    result_id: int
    order: Order
    drafts: list[SupplierOrder] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)


@dataclass
class _Send:
    """A draft leased for its call: the row and its order as re-read under their locks, its lines."""

    item: _Item
    supplier_order: SupplierOrder
    order: Order
    lines: list[SupplierOrderLine]


@dataclass
class _Chunk:
    batch: PlacementBatch
    account: Account
    actor: AbstractBaseUser | None
    outcomes: dict[int, Result] = field(default_factory=dict)  # by result id
    written: set[int] = field(default_factory=set)  # result ids whose outcome is written
    leased: set[int] = field(default_factory=set)  # result ids with a supplier order leased
    providers: dict[int, SupplierProvider] = field(default_factory=dict)  # by source account id
    recorders: list[SupplierAttemptLog] = field(default_factory=list)

    def provider(self, source: SourceAccount) -> SupplierProvider:
        if source.pk not in self.providers:
            recorder = SupplierAttemptLog(source_account_id=source.pk, provider=source.provider, buffered=True)
            self.recorders.append(recorder)
            self.providers[source.pk] = provider_for(
                source, recorder=recorder, token_reuse=TOKEN_REUSE, pace_ahead=PACE_AHEAD
            )
        return self.providers[source.pk]

    def attempts_flush(self) -> None:
        for recorder in self.recorders:
            recorder.flush()


def placement_chunk_run(*, result_ids: Sequence[int], pay: bool | None = None) -> dict[int, Result]:
    """Place the orders of these results (of one batch or several) and write each outcome once;
    a result written already is left alone. The results DEFERRED are returned and not written:
    the caller's task comes back for them."""
    by_batch: dict[int, dict[int, int]] = defaultdict(dict)  # batch id → order id → result id
    for result_id, batch_id, order_id in (
        PlacementResult.objects.filter(pk__in=list(result_ids), outcome="")
        .order_by("pk")
        .values_list("pk", "batch_id", "order_id")
    ):
        by_batch[batch_id][order_id] = result_id
    outcomes: dict[int, Result] = {}
    batches = PlacementBatch.objects.filter(pk__in=list(by_batch)).select_related("account", "created_by")
    for batch in batches:
        result_of = by_batch[batch.pk]
        chunk = _Chunk(batch=batch, account=batch.account, actor=batch.created_by)
        try:
            _chunk_place(chunk, result_of, pay=pay)
        except Exception:  # a bug or the database: logged; what was leased is reconciled, the rest retried
            logger.exception("placing a chunk of batch %s failed", batch.pk)
            for result_id in result_of.values():
                if result_id in chunk.outcomes:
                    continue
                chunk.outcomes[result_id] = (
                    Result(PlacementOutcome.UNKNOWN, _("Something went wrong on our side; the order is checked again."))
                    if result_id in chunk.leased
                    else Result(
                        PlacementOutcome.DEFERRED,
                        _("Something went wrong on our side; the order is sent again shortly."),
                        retry_after=RETRY_AFTER_ERROR,
                    )
                )
        finally:
            chunk.attempts_flush()
        _results_write(chunk)
        outcomes.update(chunk.outcomes)
    return outcomes


def _chunk_place(chunk: _Chunk, result_of: dict[int, int], *, pay: bool | None) -> None:
    items, one_by_one, first = _drafts_prepare(chunk, result_of, pay=pay)
    _results_write(chunk)  # the orders skipped or blocked show at once
    size = _window_size(items)
    deferred_for: float | None = None
    for start in range(0, len(items), size):
        window = items[start : start + size]
        if deferred_for is None:
            deferred_for = _window_send(chunk, window, leased=first if start == 0 else None)
        else:  # a window not reached: its drafts wait, untouched
            for item in window:
                item.results.append(_deferred(deferred_for))
        for item in window:
            chunk.outcomes[item.result_id] = results_combined(item.results, [draft.pk for draft in item.drafts])
        _results_write(chunk)
    for order_id in one_by_one:
        chunk.outcomes[result_of[order_id]] = order_place_reported(
            account=chunk.account, order_id=order_id, actor=chunk.actor, rule=None, pay=pay
        )


def _deferred(wait: float) -> Result:
    return Result(PlacementOutcome.DEFERRED, deferred_message(wait), retry_after=wait)


# 1. Drafts ------------------------------------------------------------------------------------


_Leased = tuple[uuid.UUID, float, list["_Send"]]  # a window's lease, when it began (monotonic), its sends


def _drafts_prepare(
    chunk: _Chunk, result_of: dict[int, int], *, pay: bool | None
) -> tuple[list[_Item], list[int], _Leased]:
    """Under the orders' locks: check each and write the drafts of those nothing was bought for
    yet, those of the first window already leased (in the same transaction: as a lease taken right
    after). The orders for the one-order path are returned apart; skipped and blocked ones get
    their outcome."""
    account, actor = chunk.account, chunk.actor
    items: list[_Item] = []
    one_by_one: list[int] = []
    with transaction.atomic():
        orders = list(
            Order.objects.select_for_update(of=("self",)).filter(account=account, pk__in=list(result_of)).order_by("pk")
        )
        for gone in set(result_of) - {order.pk for order in orders}:
            chunk.outcomes[result_of[gone]] = Result(PlacementOutcome.SKIPPED, _("The order is gone."))
        taken = set(
            SupplierOrder.objects.filter(CURRENT, order_id__in=[order.pk for order in orders]).values_list(
                "order_id", flat=True
            )
        )
        fresh: list[Order] = []
        for order in orders:
            if order.status != OrderStatus.NEW or (
                not order_still_wanted(order) and not order.awaiting_duplicate_confirmation
            ):
                chunk.outcomes[result_of[order.pk]] = Result(
                    PlacementOutcome.SKIPPED, _("Only orders in New can be placed.")
                )
            elif order.pk in taken:
                one_by_one.append(order.pk)
            else:
                fresh.append(order)
        lines_of: dict[int, list[OrderLine]] = defaultdict(list)
        for line in OrderLine.objects.filter(order_id__in=[order.pk for order in fresh]).order_by("pk"):
            lines_of[line.order_id].append(line)
        by_store: dict[int, list[OrderLine]] = defaultdict(list)
        for order in fresh:
            by_store[order.store_id].extend(lines_of[order.pk])
        links = {}
        for store_id, lines in by_store.items():
            links.update(links_for_lines(account=account, store_id=store_id, lines=lines))
        sources = current_accounts(account) if fresh else {}
        for order in fresh:
            lines = lines_of[order.pk]
            own = {line.pk: links[line.pk] for line in lines if line.pk in links}  # this order's links only
            blockers = order_blockers(order=order, lines=lines, links=own, sources=sources)
            blockers_record(order, blockers)
            if blockers:
                chunk.outcomes[result_of[order.pk]] = Result(
                    PlacementOutcome.BLOCKED, " ".join(blocker.message for blocker in blockers)
                )
                continue
            item = _Item(result_id=result_of[order.pk], order=order)
            for provider in sorted({link.provider for link in own.values()}):
                draft = SupplierOrder(account=account, order=order, provider=provider)
                item.drafts.append(draft_fill(draft, source=sources[provider], pay=pay, actor=actor, rule=None))
            items.append(item)
        lease, now, started = uuid.uuid4(), timezone.now(), time.monotonic()
        first = items[: _window_size(items)]
        for item in first:
            for draft in item.drafts:
                _lease_put(draft, lease, now)
        SupplierOrder.objects.bulk_create([draft for item in items for draft in item.drafts])
        lines_of_draft = {
            id(draft): draft_lines(draft, lines_of[item.order.pk], links) for item in items for draft in item.drafts
        }
        SupplierOrderLine.objects.bulk_create([line for lines in lines_of_draft.values() for line in lines])
        sends = [
            _Send(item=item, supplier_order=draft, order=item.order, lines=lines_of_draft[id(draft)])
            for item in first
            for draft in item.drafts
        ]
        _leased_history(chunk, sends)
    return items, one_by_one, (lease, started, sends)


def _lease_put(supplier_order: SupplierOrder, lease: uuid.UUID, now: datetime) -> None:
    """The fields of a window's lease on one of its supplier orders (in memory)."""
    supplier_order.state = SupplierOrderState.PLACING
    supplier_order.lease_id = lease
    supplier_order.in_flight_until = now + lease_length() + timedelta(seconds=WINDOW_BUDGET)
    supplier_order.first_sent_at = now
    supplier_order.attempts += 1
    supplier_order.reconcile_attempts = 0
    supplier_order.updated_at = now


def _leased_history(chunk: _Chunk, sends: list[_Send]) -> None:
    """The draft → placing moves of a window's sends, and their results' marks (leased)."""
    moves_write(
        [
            move_rows(send.supplier_order, SupplierOrderState.DRAFT, SupplierOrderState.PLACING, actor=chunk.actor)
            for send in sends
        ]
    )
    chunk.leased.update(send.item.result_id for send in sends)


def _window_size(items: list[_Item]) -> int:
    """Orders per window: what the slowest supplier account of the chunk may be sent in
    ``WINDOW_SECONDS`` (the whole chunk when none is paced)."""
    sources = {draft.source_account_id: draft.source_account for item in items for draft in item.drafts}
    rates = [rate for source in sources.values() if source is not None and (rate := calls_per_second(source))]
    if not rates:
        return max(1, len(items))
    return max(1, min(len(items) or 1, int(min(rates) * WINDOW_SECONDS)))


# 2. A window --------------------------------------------------------------------------------------


def _window_send(chunk: _Chunk, window: list[_Item], *, leased: _Leased | None = None) -> float | None:
    """Lease (unless ``leased`` already), send and record one window; the wait before the rest of
    the chunk may be sent when our pacing deferred a call or the window's budget ran out (None: go on)."""
    lease, started, sends = leased or _window_lease(chunk, window)
    successes: list[tuple[_Send, Placed]] = []
    unsent: list[_Send] = []
    deferred_for: float | None = None
    for send in sends:
        if deferred_for is not None or time.monotonic() >= started + WINDOW_BUDGET:
            deferred_for = 1.0 if deferred_for is None else deferred_for
            unsent.append(send)
            send.item.results.append(_deferred(deferred_for))
            continue
        supplier_order = send.supplier_order
        assert supplier_order.source_account is not None
        request = request_for(
            send.order, send.lines, key=supplier_order.idempotency_key, pay=supplier_order.pay_with_order
        )
        result = create_call(
            supplier_order=supplier_order,
            request=request,
            lease=lease,
            actor=chunk.actor,
            provider=chunk.provider(supplier_order.source_account),
            on_placed=_later(successes, send),
        )
        if result is _WAITING:  # recorded with the window's other successes, below
            continue
        if result.outcome == PlacementOutcome.DEFERRED:  # our pacing: the rest waits too
            deferred_for = result.retry_after or 1.0
        send.item.results.append(result)
    chunk.attempts_flush()
    _successes_record(chunk, successes)
    _unsent_release(unsent, lease)
    return deferred_for


_WAITING = Result(PlacementOutcome.PLACED)  # the answer ``_later`` gives for a success it keeps


def _later(successes: list[tuple[_Send, Placed]], send: _Send) -> Callable[[Placed], Result]:
    def keep(placed: Placed) -> Result:
        successes.append((send, placed))
        return _WAITING

    return keep


def _unchanged(row: SupplierOrder, draft: SupplierOrder) -> bool:
    """The row is still the draft the chunk wrote, and its account may be called."""
    source = row.source_account
    return (
        row.state == SupplierOrderState.DRAFT
        and (row.idempotency_key, row.source_account_id, row.updated_at, row.failure_code)
        == (draft.idempotency_key, draft.source_account_id, draft.updated_at, "")
        and source is not None
        and source.status == SourceAccountStatus.CONNECTED
    )


def _window_lease(chunk: _Chunk, window: list[_Item]) -> tuple[uuid.UUID, float, list[_Send]]:
    """Lease the window's drafts still as the chunk wrote them, of orders still wanted, re-read
    under their locks (one lease id): the lease, when it began (``time.monotonic``) and the sends."""
    lease = uuid.uuid4()
    sends: list[_Send] = []
    with transaction.atomic():
        orders = {
            order.pk: order
            for order in Order.objects.select_for_update(of=("self",))
            .filter(pk__in=[item.order.pk for item in window])
            .order_by("pk")
        }
        rows = {
            row.pk: row
            for row in SupplierOrder.objects.select_for_update(of=("self",))
            .filter(pk__in=[draft.pk for item in window for draft in item.drafts])
            .select_related("source_account")
            .order_by("pk")
        }
        now, started = timezone.now(), time.monotonic()
        for item in window:
            order = orders.get(item.order.pk)
            for draft in item.drafts:
                row = rows.get(draft.pk)
                if order is None or not order_still_wanted(order):
                    item.results.append(
                        Result(PlacementOutcome.SKIPPED, _("The order was canceled, archived or flagged meanwhile."))
                    )
                elif row is None or not _unchanged(row, draft):
                    item.results.append(Result(PlacementOutcome.SKIPPED, _("This order is already being placed.")))
                else:
                    row.order = order
                    sends.append(_Send(item=item, supplier_order=row, order=order, lines=[]))
        lines_of: dict[int, list[SupplierOrderLine]] = defaultdict(list)
        for line in SupplierOrderLine.objects.filter(
            supplier_order_id__in=[send.supplier_order.pk for send in sends]
        ).order_by("pk"):
            lines_of[line.supplier_order_id].append(line)
        for send in sends:
            send.lines = lines_of[send.supplier_order.pk]
            _lease_put(send.supplier_order, lease, now)
        rows_update(
            [send.supplier_order for send in sends],
            ["state", "lease_id", "in_flight_until", "first_sent_at", "attempts", "reconcile_attempts", "updated_at"],
        )
        _leased_history(chunk, sends)
    return lease, started, sends


def _unsent_release(unsent: list[_Send], lease: uuid.UUID) -> None:
    """Leased supplier orders whose call was never started go back to draft (under the lease),
    their keys kept: nothing was sent under them (``not_sent``)."""
    if not unsent:
        return
    note = _("Not sent yet: the supplier's call rate limit is used up for now; it is sent shortly.")
    with transaction.atomic():
        list(
            Order.objects.select_for_update(of=("self",))
            .filter(pk__in=sorted({send.order.pk for send in unsent}))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        held = set(
            SupplierOrder.objects.select_for_update(of=("self",))
            .filter(
                pk__in=[send.supplier_order.pk for send in unsent], state=SupplierOrderState.PLACING, lease_id=lease
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        SupplierOrder.objects.filter(pk__in=held).update(
            state=SupplierOrderState.DRAFT,
            lease_id=None,
            in_flight_until=None,
            attempts=F("attempts") - 1,  # not an attempt: nothing was sent
            failure_code=NOT_SENT,
            failure_reason=note[:255],
            failure_fix="",
            updated_at=timezone.now(),
        )
        moves_write(
            [
                move_rows(send.supplier_order, SupplierOrderState.PLACING, SupplierOrderState.DRAFT, note=note)
                for send in unsent
                if send.supplier_order.pk in held
            ]
        )


def _successes_record(chunk: _Chunk, successes: list[tuple[_Send, Placed]]) -> None:
    """What the supplier made, for every supplier order of the window still in flight (whoever
    holds it), with the orders' cost, placement issue and status: one transaction."""
    if not successes:
        return
    now = timezone.now()
    order_ids = sorted({send.order.pk for send, _ in successes})
    with transaction.atomic():
        orders = {
            order.pk: order
            for order in Order.objects.select_for_update(of=("self",))
            .filter(pk__in=order_ids)
            .order_by("pk")
            .only(*RECORD_FIELDS)
        }
        locked = {
            supplier_order.pk: supplier_order
            for supplier_order in SupplierOrder.objects.select_for_update(of=("self",))
            .filter(pk__in=[send.supplier_order.pk for send, _ in successes])
            .order_by("pk")
            .only(*PLACED_FIELDS)
        }
        rates: Rates = {}
        changed: list[SupplierOrder] = []
        fields: dict[str, None] = {"state": None, "updated_at": None}
        history: list[tuple[SupplierOrderTransition, OrderEvent]] = []
        for send, placed in successes:
            supplier_order = locked[send.supplier_order.pk]
            if supplier_order.state not in IN_FLIGHT_STATES:  # recorded by another worker meanwhile
                send.item.results.append(Result(PlacementOutcome.SKIPPED))
                continue
            before = supplier_order.state
            state, outcome, note, applied = placed_apply(
                supplier_order, placed, order=orders[supplier_order.order_id], now=now, rates=rates
            )
            supplier_order.state, supplier_order.updated_at = state, now
            fields.update(dict.fromkeys(applied))
            changed.append(supplier_order)
            history.append(move_rows(supplier_order, before, state, note=note, actor=chunk.actor))
            send.item.results.append(Result(outcome, note, [supplier_order.pk]))
        rows_update(changed, list(fields))
        moves_write(history)
        current: dict[int, list[SupplierOrder]] = defaultdict(list)
        for supplier_order in SupplierOrder.objects.filter(CURRENT, order_id__in=order_ids).only(
            "order_id", "state", "cost", "fx_rate"
        ):
            current[supplier_order.order_id].append(supplier_order)
        for order in orders.values():
            order.account = chunk.account
            order.supplier_cost = supplier_cost_of(current[order.pk])
            if not any(supplier_order.state == SupplierOrderState.DRAFT for supplier_order in current[order.pk]):
                order.placement_issue, order.placement_issue_message, order.placement_issue_fix = "", "", None
        derived = orders_derived_status(orders=list(orders.values()), now=now)
        with status_writes(actor=chunk.actor) as writes:
            writes.store_many(
                [(order, derived[order.pk]) for order in orders.values()],
                save_with=("supplier_cost", "placement_issue", "placement_issue_message", "placement_issue_fix"),
            )


# Results ----------------------------------------------------------------------------------------


def _results_write(chunk: _Chunk) -> None:
    """Write the chunk's outcomes known so far (DEFERRED ones stay open)."""
    waiting = {
        result_id: result
        for result_id, result in chunk.outcomes.items()
        if result.outcome != PlacementOutcome.DEFERRED and result_id not in chunk.written
    }
    results_write(batch_id=chunk.batch.pk, outcomes=waiting)
    chunk.written.update(waiting)


def results_write(*, batch_id: int, outcomes: dict[int, Result]) -> None:
    """Write each result's outcome once, and the batch's progress. What the sending of an order
    came to replaces a "nothing to do" a racing worker wrote first (it found the order being
    placed, by this very result's run): the batch counts the result once, as what happened."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for result_id, result in outcomes.items():
        if result.outcome != PlacementOutcome.DEFERRED:
            groups[(result.outcome, result.message[:500])].append(result_id)
    if not groups:
        return
    now = timezone.now()
    done = succeeded = failed = 0
    with transaction.atomic():
        for (outcome, message), ids in groups.items():
            rows = PlacementResult.objects.filter(pk__in=ids)
            written = rows.filter(outcome="").update(outcome=outcome, message=message, finished_at=now)
            if outcome not in (PlacementOutcome.SKIPPED, PlacementOutcome.UNKNOWN):
                written_over = rows.filter(outcome=PlacementOutcome.SKIPPED).update(outcome=outcome, message=message)
            else:
                written_over = 0
            done += written
            succeeded += written + written_over if outcome in SUCCESS else 0
            failed += written + written_over if outcome in FAILED else 0
        if done or succeeded or failed:
            PlacementBatch.objects.filter(pk=batch_id).update(
                done=F("done") + done, succeeded=F("succeeded") + succeeded, failed=F("failed") + failed
            )
            PlacementBatch.objects.filter(pk=batch_id, done__gte=F("total"), finished_at=None).update(finished_at=now)
