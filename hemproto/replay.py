"""Replay protection for the backend: has this nonce (jti) been answered within its window?

It owns the store interface and a bounded in-memory default. It knows nothing about
tokens; a shared store for several backend instances plugs in through the same method.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["MemoryReplayStore", "ReplayStore"]


@runtime_checkable
class ReplayStore(Protocol):
    """What a backend needs from a replay store.

    ``seen_before`` must be atomic: record ``jti`` until ``expires_at`` (unix seconds) and
    return False, or return True when it is already recorded and not yet expired. Two
    concurrent calls with the same jti must not both get False. In a deployment of several
    backend instances the store is shared, e.g. Redis ``SET <jti> 1 NX EXAT <expires_at>``
    (a reply of "OK" means first sight, so False; nil means seen, so True) or an SQL insert
    into a table whose primary key is the jti (a unique-violation means seen).
    """

    def seen_before(self, jti: bytes, expires_at: float) -> bool: ...


class MemoryReplayStore:
    """A process-local store with a time-to-live per entry and a hard cap on entries.

    Memory stays bounded under a flood of distinct nonces: expired entries are dropped
    first, and past ``max_entries`` the oldest entry is forgotten. A forgotten nonce could
    be answered twice; the device still accepts a reply to a nonce only once, so the cap
    trades a duplicate reply under flood for bounded memory, never a second use.
    """

    def __init__(self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.time):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: dict[bytes, float] = {}  # insertion order = arrival order
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def _drop_expired_front(self, now: float) -> None:
        # Entries arrive with expiries that mostly grow, so expired ones gather at the front;
        # each entry is dropped once, so the work is amortised O(1) per call.
        expiry = self._expiry
        while expiry:
            oldest = next(iter(expiry))
            if expiry[oldest] > now:
                break
            del expiry[oldest]

    def seen_before(self, jti: bytes, expires_at: float) -> bool:
        key = bytes(jti)
        with self._lock:
            now = self._clock()
            self._drop_expired_front(now)
            known = self._expiry.pop(key, None)
            if known is not None and known > now:
                self._expiry[key] = known
                return True
            self._expiry[key] = expires_at
            while len(self._expiry) > self._max_entries:
                del self._expiry[next(iter(self._expiry))]
            return False

    def __repr__(self) -> str:
        return f"MemoryReplayStore(entries={len(self)}, max_entries={self._max_entries})"
