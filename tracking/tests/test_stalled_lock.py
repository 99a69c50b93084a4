"""The daily job's lock (``tracking.services.stalled.job_lock``): PostgreSQL session advisory locks,
so it holds across processes with or without Redis. The run over every account and a run for one
account (after a settings change) never overlap on that account; runs for two accounts may; a run
that cannot take its locks does nothing and never releases another's; a run lets go of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from orders.enums import SupplierOrderState
from orders.models import Order
from orders.services import order_recompute_status
from tests.factories import AccountFactory, OrderFactory, StoreFactory, SupplierOrderFactory
from tests.workers import wait_for
from tracking.enums import StalledReason
from tracking.services.stalled import LOCK_KEY, tracking_expire_and_flag_stalled

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NOW = timezone.now()


def paid_order(store: Any) -> Order:
    order = OrderFactory(store=store)
    SupplierOrderFactory(order=order, state=SupplierOrderState.PAID, paid_at=NOW - timedelta(days=10))
    return order_recompute_status(order_id=order.pk, now=NOW)


def flag(order: Order) -> str:
    return Order.objects.values_list("stalled", flat=True).get(pk=order.pk)


@contextmanager
def other_process(*locks: tuple[str, bool]) -> Iterator[Any]:
    """Another database session (another worker) holding ``locks`` ((key, shared) pairs)."""
    raw = connection.get_new_connection(connection.get_connection_params())
    raw.autocommit = True
    try:
        with raw.cursor() as cursor:
            for key, shared in locks:
                function = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
                cursor.execute(f"SELECT {function}(hashtextextended(%s, 0))", [key])
        yield raw
    finally:
        raw.close()


# The job's locks a database session holds (not the orders services' transaction locks).
HELD = (
    "SELECT count(*) FROM pg_locks l, (SELECT hashtextextended(k, 0) AS h FROM unnest(%s::text[]) AS k) keys"
    " WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.pid = %s"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND l.classid::bigint = (keys.h >> 32) & 4294967295 AND l.objid::bigint = keys.h & 4294967295"
)


def job_locks_held(pid: int | None = None, *, account_ids: tuple[int, ...] = ()) -> int:
    keys = [LOCK_KEY] + [f"{LOCK_KEY}:{account_id}" for account_id in account_ids]
    with connection.cursor() as cursor:
        if pid is None:
            cursor.execute("SELECT pg_backend_pid()")
            pid = int(cursor.fetchone()[0])
        cursor.execute(HELD, [keys, pid])
        return int(cursor.fetchone()[0])


def backend_pid(raw: Any) -> int:
    with raw.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def lock_free() -> bool:
    """No other session of this database holds the job's lock (another run, a dying worker)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0)) AND pg_advisory_unlock(hashtextextended(%s, 0))",
            [LOCK_KEY, LOCK_KEY],
        )
        return bool(cursor.fetchone()[0])


@pytest.fixture
def stores() -> tuple[Any, Any]:
    return (
        StoreFactory(account=AccountFactory(name="Edge A"), name="Edge A Shopify"),
        StoreFactory(account=AccountFactory(name="Edge B"), name="Edge B Shopify"),
    )


def test_a_run_for_one_account_waits_out_the_daily_run(stores: tuple[Any, Any]) -> None:
    mine, _ = stores
    order = paid_order(mine)
    # given the daily run over every account holds its lock in another process
    with other_process((LOCK_KEY, False)) as raw:
        # when the account's settings change and its own run starts, and a second daily run starts
        for_account = tracking_expire_and_flag_stalled(now=NOW, account_id=mine.account_id)
        daily = tracking_expire_and_flag_stalled(now=NOW)
        # then neither does anything, and the other process still holds its lock
        assert (for_account.ran, daily.ran) == (False, False)
        assert flag(order) == ""
        assert job_locks_held(backend_pid(raw)) == 1
        assert job_locks_held(account_ids=(mine.account_id,)) == 0  # the shared half it took was let go
    # and once that run is over, the account's run goes ahead and lets go of its locks
    assert wait_for(lock_free)
    assert tracking_expire_and_flag_stalled(now=NOW, account_id=mine.account_id).ran
    assert flag(order) == StalledReason.NO_TRACKING
    assert job_locks_held(account_ids=(mine.account_id,)) == 0


def test_the_daily_run_does_not_start_beside_a_run_for_one_account(stores: tuple[Any, Any]) -> None:
    mine, theirs = stores
    order, other = paid_order(mine), paid_order(theirs)
    # given a run for the first account in another process
    with other_process((LOCK_KEY, True), (f"{LOCK_KEY}:{mine.account_id}", False)):
        # then the daily run and a second run for that account do nothing
        assert not tracking_expire_and_flag_stalled(now=NOW).ran
        assert not tracking_expire_and_flag_stalled(now=NOW, account_id=mine.account_id).ran
        assert flag(order) == ""
        # but a run for another account goes on beside it
        assert tracking_expire_and_flag_stalled(now=NOW, account_id=theirs.account_id).ran
        assert (flag(order), flag(other)) == ("", StalledReason.NO_TRACKING)
    # the daily run, once alone, does the rest
    assert wait_for(lock_free)
    assert tracking_expire_and_flag_stalled(now=NOW).ran
    assert flag(order) == StalledReason.NO_TRACKING
    assert job_locks_held(account_ids=(mine.account_id, theirs.account_id)) == 0


def test_a_killed_workers_lock_goes_with_its_connection(stores: tuple[Any, Any]) -> None:
    mine, _ = stores
    order = paid_order(mine)
    with other_process((LOCK_KEY, False)):
        assert not tracking_expire_and_flag_stalled(now=NOW).ran
    # the other process's connection ended (its worker died, never unlocking): the server drops
    # its locks as the session ends, no expiry to wait for
    assert wait_for(lock_free)
    assert tracking_expire_and_flag_stalled(now=NOW).ran
    assert flag(order) == StalledReason.NO_TRACKING
