"""``prefetched``: the pull's next page is fetched while the current one is stored."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from channels_sync.services.pull import prefetched


def test_items_arrive_in_order_and_the_next_is_fetched_meanwhile() -> None:
    fetched: list[int] = []
    ahead = threading.Event()

    def pages() -> Iterator[int]:
        for n in range(5):
            fetched.append(n)
            if n == 1:
                ahead.set()
            yield n

    seen = []
    for n in prefetched(pages()):
        if n == 0:  # while the caller works on page 0, page 1 is being fetched
            assert ahead.wait(timeout=5)
        seen.append(n)
    assert seen == [0, 1, 2, 3, 4]
    assert fetched == [0, 1, 2, 3, 4]


def test_an_error_in_the_fetching_thread_is_raised_to_the_caller_after_the_pages_before_it() -> None:
    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("page 3 is malformed")

    seen: list[int] = []
    with pytest.raises(ValueError, match="page 3 is malformed"):
        seen.extend(prefetched(pages()))
    assert seen == [1, 2]


def test_a_caller_that_stops_early_stops_the_fetching() -> None:
    fetched: list[int] = []
    finished = threading.Event()

    def pages() -> Iterator[int]:
        try:
            for n in range(1000):
                fetched.append(n)
                yield n
        finally:
            finished.set()

    def pull() -> None:
        for n in prefetched(pages()):
            if n == 1:
                raise RuntimeError("the upsert of page 1 failed")

    with pytest.raises(RuntimeError):
        pull()
    assert finished.wait(timeout=5)  # the thread let go of the pages (closed the provider's iterator)
    time.sleep(0.3)  # a producer that did not stop would go on fetching
    assert len(fetched) <= 4  # at most the pages already in hand when the caller stopped
