"""A worker killed after the supplier made the refund but before our commit: the request is
still one refund at the supplier. Real Celery worker processes (SIGKILL on the pool process),
real PostgreSQL and Redis, the sandbox over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from orders.enums import RefundSend
from orders.models import Refund
from suppliers.enums import SupplierProvider
from suppliers.services.refund_send import refunds_sync_due, send_lease
from suppliers.tests.refunding import ask, shipped_order, sim_refunds
from tests.workers import WorkerProcess, wait_for, worker_processes

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True),
]

ANSWER_DELAY = 6  # seconds the sandbox holds its answer after making the refund


@pytest.fixture
def worker(live_server: Any, tmp_path: Path) -> Iterator[WorkerProcess]:
    with worker_processes(1, queues=["suppliers"], concurrency=1, env={}, log_dir=tmp_path) as running:
        yield running[0]


@pytest.mark.parametrize("provider", [SupplierProvider.CJ, SupplierProvider.TEMU])
def test_a_worker_killed_after_the_supplier_call_leaves_one_refund_there(
    control: Any, worker: WorkerProcess, provider: str, settings: Any
) -> None:
    settings.REFUND_SEND_TASK = "suppliers.refund_send"
    # given a supplier that answers a refund request late, after making it
    shipped = shipped_order(control, provider, refund_answer_delay=ANSWER_DELAY)
    # when the request is made (its send task queued on commit) and the worker is killed while
    # the supplier's answer is on its way
    refund = ask(shipped)
    assert wait_for(lambda: len(sim_refunds(refund)) == 1, timeout=30), worker.log.read_text()
    victim = worker.kill_one()
    refund.refresh_from_db()
    assert (refund.send_state, refund.send_attempts) == (RefundSend.PENDING, 1), victim

    # then while its hold lasts (longer than the task may run) the send is not taken again
    control.options(provider, shipped.sim_name, refund_answer_delay=None)
    refund.refresh_from_db()
    assert refund.claimed_until is not None
    assert refund.claimed_until - timezone.now() > timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    assert refunds_sync_due(now=timezone.now() + timedelta(minutes=10)) == 0
    # and once it has passed (the database clock cannot be moved: the hold is aged by hand, the
    # one thing this test does not run for real), beat's sweep queues the send again: it finds
    # the refund by looking it up first
    Refund.objects.filter(pk=refund.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert refunds_sync_due(now=timezone.now() + timedelta(minutes=11) + send_lease()) == 1
    assert wait_for(lambda: Refund.objects.get(pk=refund.pk).send_state == RefundSend.SENT, timeout=60), (
        worker.log.read_text()
    )

    refund.refresh_from_db()
    assert refund.send_attempts >= 2
    assert refund.external_id
    assert len(sim_refunds(refund)) == 1
