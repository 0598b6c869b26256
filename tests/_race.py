"""Run one call on several threads released together, for tests of shared objects."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def race(call: Callable[[], Any], threads: int = 4) -> list[Any]:
    """``call`` on ``threads`` threads released by one barrier: each result or exception,
    in thread order. Every thread is joined with a bound, and must have finished."""
    barrier = threading.Barrier(threads)
    results: list[Any] = [None] * threads

    def run(index: int) -> None:
        barrier.wait(timeout=10)
        try:
            results[index] = call()
        except BaseException as exc:  # collected: the test asserts on it
            results[index] = exc

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
        assert not worker.is_alive()
    return results
