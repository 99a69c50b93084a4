"""A real Celery worker for tests: a thread consuming the real broker (Redis in CI), nothing eager."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connection

from zopi.celery import app as celery_app

WAIT_SECONDS = 20


@contextmanager
def running_worker(queues: list[str]) -> Iterator[list[tuple[str, str]]]:
    """A worker on ``queues`` (purged first: leftovers of an interrupted run); yields the list of
    (task name, thread name) of every task it ran."""
    assert not celery_app.conf.task_always_eager
    assert celery_app.conf.broker_url == settings.CELERY_BROKER_URL
    assert celery_app.conf.broker_url.startswith("redis://")
    with celery_app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_purge(queue)
    ran: list[tuple[str, str]] = []

    def after_task(sender: Any = None, **kwargs: Any) -> None:
        # In the worker's thread: note the task, and close the thread's connection (it must
        # not outlive the test database).
        ran.append((sender.name, threading.current_thread().name))
        connection.close()

    task_postrun.connect(after_task, weak=False)
    try:
        with start_worker(
            celery_app, pool="solo", concurrency=1, perform_ping_check=False, queues=queues, shutdown_timeout=30
        ):
            yield ran
    finally:
        task_postrun.disconnect(after_task)


def wait_for(condition: Callable[[], bool], *, timeout: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
