"""Prefetching: the pull's next page is fetched in a thread while the current one is stored."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

from django.db import connections

T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterable[T]) -> Generator[T, None, None]:
    """``items`` with the next one fetched in a thread while the caller works on the current one.

    A pull waits on the channel (HTTP) and on the database in turn; overlapping the two makes a
    pull take about the longer of them instead of their sum. The thread's only database work is
    the provider's attempt records; its connection is closed when the thread ends (not after
    each write: a reconnect per page). An exception in the thread is raised here, in
    order; when the caller stops early (an upsert failed), the thread stops after its fetch.
    """
    handoff: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item: object, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                handoff.put((item, error), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    return
            hand_over(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            hand_over(_DONE, error)
        finally:
            connections.close_all()  # this thread's own: none outlives it

    threading.Thread(target=produce, name="pull-prefetch", daemon=True).start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()  # a fetch under way finishes on its own; nothing more is fetched
