"""The sandbox server a bench measures against: ``gunicorn zopi.wsgi`` (sandbox on) started as
another process on a free port of 127.0.0.1, its CPU read from /proc, and the machine's facts.
As ``bench_placement`` does it (tracking may not import suppliers, so it is repeated here)."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django
import requests
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection

HTTP_TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pids: list[int]) -> float | None:
    """utime + stime of the processes (from /proc), or None where /proc is not there."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        for pid in pids:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    except (OSError, IndexError, ValueError):
        return None
    return total


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


def machine() -> dict[str, Any]:
    memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    info: dict[str, Any] = {"cpu_count": os.cpu_count(), "memory_gib": memory, "python": platform.python_version()}
    info.update(load_avg_1m=round(os.getloadavg()[0], 2), django=django.get_version(), database=connection.vendor)
    info["rate_limit_store"] = "redis" if settings.REDIS_URL else "process"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version')")
            info["postgres_version"] = cursor.fetchone()[0]
    return info


def control(base_url: str, method: str, path: str, body: Any) -> Any:
    response = requests.request(method, f"{base_url}/sandbox/_control/{path}", json=body, timeout=HTTP_TIMEOUT)
    if response.status_code not in (200, 201):
        raise CommandError(f"sandbox {method} {path} → {response.status_code}: {response.text[:300]}")
    return response.json()


@contextmanager
def running(base_url: str) -> Iterator[tuple[str, list[int]]]:
    yield base_url.rstrip("/"), []


@contextmanager
def gunicorn(*, workers: int, threads: int) -> Iterator[tuple[str, list[int]]]:
    """gunicorn serving zopi.wsgi (sandbox on) with this process's environment, stopped at the end."""
    port = _free_port()
    hosts = os.environ.get("ALLOWED_HOSTS", "")
    env = {**os.environ, "SANDBOX_ENABLED": "1"}
    env["ALLOWED_HOSTS"] = ",".join(filter(None, [hosts, "127.0.0.1"]))
    command = [sys.executable, "-m", "gunicorn", "zopi.wsgi", "-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    command += ["-w", str(workers), "--threads", str(threads)]
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env)  # noqa: S603
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise CommandError(f"gunicorn exited with {process.returncode}")
            try:
                if requests.get(f"{base_url}/sandbox/_control/faults", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not up yet
                pass
            if time.monotonic() > deadline:
                raise CommandError("gunicorn did not answer /sandbox/_control/faults within 60 s")
            time.sleep(0.2)
        yield base_url, [process.pid, *_children(process.pid)]
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
