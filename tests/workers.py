"""Real Celery workers for tests, nothing eager: a thread consuming the real broker (Redis in CI),
or worker processes (``worker_processes``) that a test can kill with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
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


# Worker processes ---------------------------------------------------------------------------


@dataclass
class WorkerProcess:
    """A ``celery -A zopi worker`` subprocess (prefork pool) and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def pool(self) -> list[int]:
        """The pids of its pool processes (the main process's children, from /proc)."""
        pid = self.process.pid
        try:
            return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return []

    def kill_one(self) -> int:
        """SIGKILL one pool process (as the OOM killer would): its task is lost mid-run, and the
        main process requeues the message (acks_late, reject_on_worker_lost) and starts another."""
        victim = self.pool()[0]
        os.kill(victim, signal.SIGKILL)
        return victim


def database_url_for_workers() -> str:
    """A DATABASE_URL for the test database this process uses (the workers' must be the same)."""
    db = connection.settings_dict
    assert db["ENGINE"].endswith("postgresql"), "worker processes need PostgreSQL"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def worker_processes(
    count: int, *, queues: list[str], concurrency: int, env: dict[str, str], log_dir: Path
) -> Iterator[list[WorkerProcess]]:
    """``count`` worker processes on ``queues`` (purged first) against this test database and
    broker, with ``env`` on top of this process's environment; stopped (then killed) at the end."""
    assert celery_app.conf.broker_url.startswith("redis://")
    with celery_app.connection_for_write() as conn:
        for queue in queues:
            conn.default_channel.queue_purge(queue)
    base = {**os.environ, "DATABASE_URL": database_url_for_workers(), "REDIS_URL": settings.REDIS_URL, **env}
    workers: list[WorkerProcess] = []
    try:
        for index in range(count):
            log = log_dir / f"worker-{index}.log"
            command = [sys.executable, "-m", "celery", "-A", "zopi", "worker", "-Q", ",".join(queues)]
            command += ["-P", "prefork", "-c", str(concurrency), "-n", f"test{index}-{os.getpid()}@%h"]
            command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"]
            with log.open("wb") as output:  # the banner and the log, for a failing test's message
                process = subprocess.Popen(  # noqa: S603
                    command, cwd=settings.BASE_DIR, env=base, stdout=output, stderr=subprocess.STDOUT
                )
            workers.append(WorkerProcess(f"worker-{index}", process, log))
        for worker in workers:
            ready = wait_for(lambda w=worker: w.log.exists() and " ready." in w.log.read_text(), timeout=60)
            assert ready, f"{worker.name} did not start: {worker.log.read_text() if worker.log.exists() else ''}"
        yield workers
    finally:
        for worker in workers:
            worker.process.terminate()  # warm shutdown: running tasks finish
        for worker in workers:
            try:
                worker.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
