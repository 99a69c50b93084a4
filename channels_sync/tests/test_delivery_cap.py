"""A delivery that kills its worker is not redelivered forever: the claim counts the attempt
before any work, and at ``MAX_ATTEMPTS`` it is failed unworked; beat's sweep never queues one
at the cap again.

The worker loss is real: each attempt runs the task in a forked process that is SIGKILLed
while it waits on the channel, as the kernel's OOM killer or a hard time limit would. Celery
(``acks_late`` + ``reject_on_worker_lost``) then hands the same message to the next worker;
here the next fork stands for that redelivery.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from channels_sync.enums import DeliveryState
from channels_sync.models import WebhookDelivery
from channels_sync.services import deliveries_requeue_stuck
from channels_sync.services.processing import MAX_ATTEMPTS
from channels_sync.tasks import process_webhook_delivery
from orders.models import Order
from tests.factories import StoreFactory

REASON = f"gave up after {MAX_ATTEMPTS} attempts: the worker stopped while processing it"


class SilentChannel:
    """A TCP listener that accepts every connection and never answers: the worker hangs on it."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        self.server.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def silent_channel() -> Iterator[SilentChannel]:
    channel = SilentChannel()
    yield channel
    channel.close()


def tiktok_delivery(account: Any, base_url: str) -> WebhookDelivery:
    store = StoreFactory(account=account, channel="tiktok", base_url=base_url)
    store.credentials = {"app_key": "k", "app_secret": "s", "access_token": "t", "shop_cipher": "c"}
    store.save()
    body = json.dumps({"type": 1, "tts_notification_id": "n-1", "data": {"order_id": "576"}}).encode()
    return WebhookDelivery.objects.create(store=store, dedupe_key="n-1", topic="ORDER_STATUS_CHANGE", body=body)


def run_in_a_worker(work: Callable[[], object]) -> int:
    """Fork a worker process that does ``work`` (a task, as a worker runs it); returns its pid."""
    connection.close()  # the child opens its own connection; it must not share this socket
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            work()
            code = 0
        finally:
            os._exit(code)
    return pid


def run_task_in_a_worker(delivery_id: int) -> int:
    return run_in_a_worker(lambda: process_webhook_delivery.apply(args=[delivery_id]))


def wait_until(condition: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def exited(pid: int, timeout: float = 15.0) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_delivery_that_kills_its_worker_fails_after_its_attempts_instead_of_looping(
    account: Any, silent_channel: SilentChannel
) -> None:
    # given a TikTok event whose order fetch never comes back
    delivery = tiktok_delivery(account, silent_channel.url)

    # when its worker is killed while processing it, MAX_ATTEMPTS times (each redelivery a new worker)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        pid = run_task_in_a_worker(delivery.pk)
        assert wait_until(lambda n=attempt: len(silent_channel.connections) >= n), f"attempt {attempt} never called"
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        assert WebhookDelivery.objects.get(pk=delivery.pk).attempts == attempt  # counted before the work

    # then the next redeliveries fail it before any work: the channel is not called again
    for _ in range(3):
        pid = run_task_in_a_worker(delivery.pk)
        assert exited(pid) == 0, "the redelivered task worked on the delivery again"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.error) == (DeliveryState.FAILED, MAX_ATTEMPTS, REASON)
    assert len(silent_channel.connections) == MAX_ATTEMPTS
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_the_sweep_never_queues_a_delivery_that_used_its_attempts(account: Any) -> None:
    # given two deliveries whose tasks were lost 20 minutes ago: one with an attempt left, one without
    now = timezone.now()
    spent = tiktok_delivery(account, "http://127.0.0.1:9")
    left = WebhookDelivery.objects.create(store=spent.store, dedupe_key="n-2", topic="ORDER_STATUS_CHANGE", body=b"{}")
    lost_at = now - timedelta(minutes=20)
    WebhookDelivery.objects.filter(pk=left.pk).update(attempts=MAX_ATTEMPTS - 1, last_attempt_at=lost_at)
    WebhookDelivery.objects.filter(pk=spent.pk).update(attempts=MAX_ATTEMPTS, last_attempt_at=lost_at)

    # when beat's sweep runs (tasks are eager here: a queued one runs at once)
    queued = deliveries_requeue_stuck(now=now)

    # then only the one with an attempt left is queued (and its last attempt ran); the spent one
    # is failed with the reason, unworked
    assert queued == [left.pk]
    left.refresh_from_db()
    assert (left.state, left.attempts) == (DeliveryState.FAILED, MAX_ATTEMPTS)
    assert left.error.startswith("malformed:")
    spent.refresh_from_db()
    assert (spent.state, spent.attempts, spent.error) == (DeliveryState.FAILED, MAX_ATTEMPTS, REASON)
    assert deliveries_requeue_stuck(now=now) == []
