"""The daily job: parcels silent too long turn Expired, and orders whose parcel does not move are
flagged "stalled" (``Order.stalled``, ``tracking.enums.StalledReason``). Per account settings.

- **Expired**: a parcel whose last update (``last_event_at``, else ``created_at``) is older than
  the account's ``expire_after_days`` and whose sub-status can still expire
  (``orders.derivation.EXPIRABLE_SUB_STATUSES``; its tracking status says so too) gets the
  sub-status Expired, is no longer polled, its registration is stopped (a refused one keeps its
  reason), and its orders are recomputed by the orders service in the same transaction (the
  derivation turns them Expired by itself, given the time): a crash after the commit cannot leave
  them behind. It is stopped at the provider after the commit, in batches of at most 40 (a
  failure there is logged: the local state has changed anyway).
- **Stalled**, written with four set-based UPDATEs whatever the accounts' settings (each order
  compared with its own account's days, ``now - days * 1 day`` in SQL): ``no_tracking`` = an
  order in Paid – Awaiting Fulfillment, Awaiting Shipment or In Transit
  (``orders.services.status_write.STALLABLE_STAGES``: the status write clears the flag of an order
  that leaves them), not archived, with a supplier order paid ``stalled_no_tracking_days``
  ago or more and no parcel for it; ``no_event`` = an order in Shipment · Awaiting Shipment or In
  Transit with a parcel still on its way (not Expired) whose last update is
  ``stalled_no_event_days`` old or more. ``no_tracking`` wins when both hold. A flag that is no
  longer true is cleared; ``stalled_since`` is when the job first saw the current reason.

One run at a time per account (``job_lock``: PostgreSQL session advisory locks, so across processes
with or without Redis): the daily run over every account holds ``LOCK_KEY`` exclusively; a run for
one account holds it shared plus its own ``LOCK_KEY:<id>`` exclusively. A run that cannot take its
locks does nothing and says so; a killed worker's locks go with its connection.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial, reduce

from celery import current_app
from django.db import connection, transaction
from django.db.models import (
    Case,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from accounts.models import Account
from integrations.errors import MalformedPayload, ProviderError
from orders.derivation import EXPIRABLE_SUB_STATUSES
from orders.enums import OrderStatus, SubStatus, SupplierOrderState, TrackingStatus
from orders.models import Order
from orders.services import order_recompute_status
from orders.services.status_write import STALLABLE_STAGES
from tracking.enums import RegistrationState, StalledReason
from tracking.models import Shipment, ShipmentOrder
from tracking.providers import track17  # noqa: F401 - registers REGISTRY["track17"]
from tracking.providers.base import BATCH_SIZE, REGISTRY, TrackingProvider, batches

logger = logging.getLogger(__name__)

# Tracking statuses whose parcel is still on its way (the derivation's Awaiting Shipment / In
# Transit / Pickup): only those can expire, or stall.
MOVING_TRACKING_STATUSES = (
    TrackingStatus.NOT_FOUND,
    TrackingStatus.INFO_RECEIVED,
    TrackingStatus.IN_TRANSIT,
    TrackingStatus.OUT_FOR_DELIVERY,
    TrackingStatus.UNKNOWN,
    TrackingStatus.AVAILABLE_FOR_PICKUP,
)
# Without a pickup: a parcel waiting at a pickup point is not "in transit without news".
IN_TRANSIT_TRACKING_STATUSES = MOVING_TRACKING_STATUSES[:-1]
STALLED_SUB_STATUSES = (SubStatus.AWAITING_SHIPMENT, SubStatus.IN_TRANSIT)
# The stages an order can be stalled in (the status write clears the flag when it leaves them).
STALLABLE = reduce(operator.or_, (Q(status=status, sub_status=sub_status) for status, sub_status in STALLABLE_STAGES))

LOCK_KEY = "tracking:expire-and-flag-stalled"
# Parcels expired per transaction (their orders recomputed in it, their numbers stopped after it).
EXPIRE_CHUNK = 1000
EXPIRE_AND_STALLED_TASK = "tracking.expire_and_flag_stalled"
# What sending a task raises when the broker cannot take it.
BROKER_ERRORS = (KombuOperationalError, OSError)


@dataclass(frozen=True)
class JobResult:
    ran: bool  # False: another run held the lock, nothing was done
    expired: int = 0  # parcels turned Expired
    stop_failures: int = 0  # batches the provider did not stop (logged; the parcels expired anyway)
    stalled: int = 0  # orders newly flagged (or whose reason changed)
    cleared: int = 0  # orders whose flag was cleared


def _try_lock(key: str, *, shared: bool = False) -> bool:
    if connection.vendor != "postgresql":  # the embedded SQLite of make run: one process's beat
        return True
    function = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(hashtextextended(%s, 0))", [key])
        return bool(cursor.fetchone()[0])


def _unlock(key: str, *, shared: bool = False) -> None:
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(hashtextextended(%s, 0))", [key])


@contextmanager
def job_lock(*, account_id: int | None = None) -> Iterator[bool]:
    """Yield True if this run took its locks, False if a run it would overlap holds them.

    Session advisory locks on this process's database connection: the run over every account
    takes ``LOCK_KEY`` exclusively; a run for one account takes it shared (runs for different
    accounts go on together, never beside the run over all) and ``LOCK_KEY:<id>`` exclusively.
    Only the holder can release a lock (the server checks it); a killed worker's connection
    ends, and its locks with it."""
    taken: list[tuple[str, bool]] = []
    wanted = [(LOCK_KEY, False)] if account_id is None else [(LOCK_KEY, True), (f"{LOCK_KEY}:{account_id}", False)]
    try:
        for key, shared in wanted:
            if not _try_lock(key, shared=shared):
                break
            taken.append((key, shared))
        yield len(taken) == len(wanted)
    finally:
        for key, shared in reversed(taken):
            _unlock(key, shared=shared)


def tracking_expire_and_flag_stalled(
    *, now: datetime | None = None, account_id: int | None = None, provider: TrackingProvider | None = None
) -> JobResult:
    """The daily job (beat: ``tracking.expire_and_flag_stalled``); ``account_id`` limits it to one account."""
    now = now or timezone.now()
    with job_lock(account_id=account_id) as taken:
        if not taken:
            logger.info("expire and stalled: another run holds the lock (account %s), nothing done", account_id)
            return JobResult(ran=False)
        expired, failures = shipments_expire(now=now, account_id=account_id, provider=provider)
        stalled, cleared = orders_flag_stalled(now=now, account_id=account_id)
    logger.info("expire and stalled: %s parcels expired, %s orders flagged, %s cleared", expired, stalled, cleared)
    return JobResult(ran=True, expired=expired, stop_failures=failures, stalled=stalled, cleared=cleared)


# --- Expired ---------------------------------------------------------------------------------


def days_before(now: datetime, days_field: str) -> ExpressionWrapper:
    """``now - <days_field> * 1 day`` in SQL: each row compared with its own account's setting."""
    # SQLite (make run) keeps a duration as microseconds and cannot multiply an interval.
    one_day: Value = Value(86_400_000_000) if connection.vendor != "postgresql" else Value(timedelta(days=1))
    days = ExpressionWrapper(F(days_field) * one_day, output_field=DurationField())
    return ExpressionWrapper(
        CombinedExpression(Value(now, output_field=DateTimeField()), "-", days), output_field=DateTimeField()
    )


def shipments_due_for_expiry(*, now: datetime, account_id: int | None = None) -> QuerySet[Shipment]:
    """Parcels silent for longer than their account allows, that can still expire."""
    shipments = Shipment.objects.filter(
        sub_status__in=EXPIRABLE_SUB_STATUSES, tracking_status__in=MOVING_TRACKING_STATUSES
    ).alias(
        last_update=Coalesce("last_event_at", "created_at"), due_before=days_before(now, "account__expire_after_days")
    )
    if account_id is not None:
        shipments = shipments.filter(account_id=account_id)
    return shipments.filter(last_update__lt=F("due_before"))


def shipments_expire(
    *, now: datetime, account_id: int | None = None, provider: TrackingProvider | None = None
) -> tuple[int, int]:
    """Expire the due parcels (see the module docstring), ``EXPIRE_CHUNK`` per transaction;
    (parcels expired, stop calls failed)."""
    expired = failures = 0
    own = provider is None
    try:
        while True:
            rows = _expire_chunk(now=now, account_id=account_id)
            expired += len(rows)
            # After the commit: the parcels and their orders are written whatever the provider does.
            registered = [number for _, number, state, _ in rows if state == RegistrationState.REGISTERED]
            if registered and provider is None:
                provider = REGISTRY["track17"]()
            if provider is not None:
                failures += shipments_stop_at_provider(numbers=registered, provider=provider)
            if len(rows) < EXPIRE_CHUNK:
                return expired, failures
    finally:
        if own and provider is not None:
            provider.close()


def _expire_chunk(*, now: datetime, account_id: int | None) -> list[tuple[int, str, str, int]]:
    """Mark up to ``EXPIRE_CHUNK`` due parcels Expired and recompute their orders (own and shared),
    in one transaction; their (id, number, registration state before, order id)."""
    with transaction.atomic():
        # A poller holding a row is about to write news to it: left for the next run.
        rows = list(
            shipments_due_for_expiry(now=now, account_id=account_id)
            .select_for_update(of=("self",), skip_locked=True)
            .order_by("pk")
            .values_list("pk", "tracking_number", "registration_state", "order_id")[:EXPIRE_CHUNK]
        )
        Shipment.objects.filter(pk__in=[pk for pk, _, _, _ in rows]).update(
            sub_status=SubStatus.EXPIRED,
            next_poll_at=None,
            poll_claimed_until=None,
            registration_state=Case(
                When(registration_state=RegistrationState.REJECTED, then=F("registration_state")),
                default=Value(RegistrationState.STOPPED),
            ),
            updated_at=now,
        )
        ids = [pk for pk, _, _, _ in rows]
        order_ids = {order_id for _, _, _, order_id in rows}
        order_ids.update(ShipmentOrder.objects.filter(shipment_id__in=ids).values_list("order_id", flat=True))
        for order_id in sorted(order_ids):  # in id order, as every service that locks several orders
            order_recompute_status(order_id=order_id, now=now)
    return rows


def shipments_stop_at_provider(*, numbers: Sequence[str], provider: TrackingProvider) -> int:
    """Tell the provider to stop following ``numbers``, ≤ 40 a call; how many calls failed (logged).

    Called after the commit, never inside a transaction: a slow provider holds no row.
    """
    failures = 0
    for batch in batches(list(numbers), BATCH_SIZE):
        try:
            result = provider.stop(batch)
        except (ProviderError, MalformedPayload) as error:
            failures += 1
            logger.warning("expire: the provider did not stop %s numbers: %r", len(batch), error)
            continue
        for rejected in result.rejected:
            logger.info("expire: the provider refused to stop %s: %s", rejected.number, rejected.code)
    return failures


# --- Stalled ---------------------------------------------------------------------------------


def _no_tracking() -> Q:
    """A live order with a supplier order paid at its ``no_tracking_since`` or before and no parcel for it."""
    # The supplier order's model through the order's reverse relation: tracking imports no supplier module.
    supplier_orders = Order._meta.get_field("supplier_orders").related_model._default_manager  # type: ignore[union-attr]
    silent = (
        supplier_orders.filter(
            order_id=OuterRef("pk"), state=SupplierOrderState.PAID, paid_at__lte=OuterRef("no_tracking_since")
        )
        .exclude(Exists(Shipment.objects.filter(supplier_order_id=OuterRef("pk"))))
        .exclude(Exists(ShipmentOrder.objects.filter(supplier_order_id=OuterRef("pk"))))
    )
    return STALLABLE & Q(archived=False) & Q(Exists(silent))


def _no_event() -> Q:
    """An order in Awaiting Shipment / In Transit with a parcel on its way (not Expired) silent since
    its ``no_event_since``."""
    moving = (
        Shipment.objects.filter(tracking_status__in=IN_TRANSIT_TRACKING_STATUSES)
        .exclude(sub_status=SubStatus.EXPIRED)
        .alias(last_update=Coalesce("last_event_at", "created_at"))
    )
    own = moving.filter(order_id=OuterRef("pk"), last_update__lte=OuterRef("no_event_since"))
    shared = moving.filter(other_orders__order_id=OuterRef("pk"), last_update__lte=OuterRef("no_event_since"))
    return Q(status=OrderStatus.SHIPMENT, sub_status__in=STALLED_SUB_STATUSES, archived=False) & (
        Q(Exists(own)) | Q(Exists(shared))
    )


def orders_flag_stalled(*, now: datetime, account_id: int | None = None) -> tuple[int, int]:
    """Flag and clear stalled orders; (flagged, cleared). Four UPDATEs, however many orders and
    distinct settings the accounts have: each order is compared with its own account's days."""
    orders = Order.objects.all() if account_id is None else Order.objects.filter(account_id=account_id)
    orders = orders.alias(
        no_tracking_since=days_before(now, "account__stalled_no_tracking_days"),
        no_event_since=days_before(now, "account__stalled_no_event_days"),
    )
    no_tracking, no_event = _no_tracking(), _no_event()
    # No tracking first: where both hold it wins, and the no-event pass leaves its orders alone.
    cleared = (
        orders.filter(stalled=StalledReason.NO_TRACKING)
        .exclude(no_tracking)
        .update(stalled=StalledReason.NONE, stalled_since=None)
    )
    flagged = (
        orders.filter(no_tracking)
        .exclude(stalled=StalledReason.NO_TRACKING)
        .update(stalled=StalledReason.NO_TRACKING, stalled_since=now)
    )
    cleared += (
        orders.filter(stalled=StalledReason.NO_EVENT)
        .exclude(no_event)
        .update(stalled=StalledReason.NONE, stalled_since=None)
    )
    flagged += orders.filter(no_event, stalled=StalledReason.NONE).update(
        stalled=StalledReason.NO_EVENT, stalled_since=now
    )
    return flagged, cleared


# --- Settings --------------------------------------------------------------------------------


def account_tracking_settings_update(
    *, account: Account, expire_after_days: int, stalled_no_tracking_days: int, stalled_no_event_days: int
) -> Account:
    """Store the account's tracking settings; the job runs again for the account after the commit
    (``tracking.expire_and_flag_stalled`` with its id), so the flags follow the new values."""
    with transaction.atomic():
        Account.objects.filter(pk=account.pk).update(
            expire_after_days=expire_after_days,
            stalled_no_tracking_days=stalled_no_tracking_days,
            stalled_no_event_days=stalled_no_event_days,
        )
        account.expire_after_days = expire_after_days
        account.stalled_no_tracking_days = stalled_no_tracking_days
        account.stalled_no_event_days = stalled_no_event_days
        transaction.on_commit(partial(_rerun_for_account, account.pk))
    return account


def _rerun_for_account(account_id: int) -> None:
    try:
        current_app.send_task(EXPIRE_AND_STALLED_TASK, kwargs={"account_id": account_id})
    except BROKER_ERRORS:  # the settings are saved: the daily run applies them
        logger.warning("account %s: tracking job not queued after a settings change (broker unavailable)", account_id)
