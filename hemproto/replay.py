"""Replay protection for the backend: has this check been answered within its window?

It owns the replay key (which check a record stands for), the store interface and a
bounded in-memory default. It knows nothing about tokens; a shared store for several
backend instances plugs in through the same method.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .schema import CHECK_SIZES

__all__ = ["REPLAY_KEY_SIZE", "MemoryReplayStore", "ReplayStore", "replay_key"]

# aud, iss and jti, in that order (see replay_key), at their sizes in the claim table.
_PARTS = tuple((name, CHECK_SIZES[name]) for name in ("aud", "iss", "jti"))
REPLAY_KEY_SIZE = sum(size for _, size in _PARTS)


def replay_key(aud: bytes, iss: bytes, jti: bytes) -> bytes:
    """The record that stands for one check: ``aud || iss || jti`` (3 x 32 bytes).

    The nonce alone is not enough. Anyone can sign a check under a session key of their
    own, so a party who sees a device's check on its way could send its own check with the
    same ``jti`` first; keyed by ``jti`` alone, that would spend the genuine check's nonce.
    A check's MAC binds ``iss`` (only the holder of that session key, or the backend, can
    sign under it) and ``aud`` picks the backend key, so the triple names one signer's one
    challenge to one backend key.
    """
    for (name, size), value in zip(_PARTS, (aud, iss, jti), strict=True):
        if len(value) != size:
            raise ValueError(f"{name} must be {size} bytes, got {len(value)}")
    return aud + iss + jti


@runtime_checkable
class ReplayStore(Protocol):
    """What a backend needs from a replay store.

    ``key`` is the check's :func:`replay_key` (``aud || iss || jti``, 96 bytes), never the
    ``jti`` alone. ``seen_before`` must be atomic: record ``key`` until ``expires_at`` (unix
    seconds) and return False, or return True when it is already recorded and not yet
    expired. Two concurrent calls with the same key must not both get False. A store that
    cannot answer (a fault, a timeout) raises ``ReplayStoreUnavailable``: the backend then
    answers nothing (HTTP 503). In a deployment of several backend instances the store is
    shared, e.g. Redis ``SET <prefix><key> 1 NX EXAT <expires_at>`` (a reply of "OK" means
    first sight, so False; nil means seen, so True; see ``hemproto.redis_store``) or an SQL
    insert into a table whose primary key is the replay key (a unique violation means seen).

    Optional members a backend uses when present: ``async seen_before_async(key,
    expires_at)``, the same answer without blocking an event loop; ``ping()`` and ``async
    ping_async()``, raising ``ReplayStoreUnavailable`` when the store cannot answer (health
    checks).
    """

    def seen_before(self, key: bytes, expires_at: float) -> bool: ...


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
        # Arrival order, oldest first. An OrderedDict, not a dict: a dict finds its first
        # entry by scanning past the slots its deleted entries left at the front, so taking
        # entries from the front, as a full store does on every call, grew to ~100 us a call
        # at 100,000 entries; here the first entry is a step away.
        self._expiry: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()
        # At most the expiry of the entry at the front (inf when there is none): until the
        # clock reaches it, no entry at the front has expired, and a call need not look.
        # Whatever may put another entry at the front lowers it to -inf: the next call looks.
        self._sweep_at = math.inf

    def __len__(self) -> int:
        return len(self._expiry)

    def _drop_expired_front(self, now: float) -> None:
        # Entries arrive with expiries that mostly grow, so expired ones gather at the front;
        # each entry is dropped once, so the work is amortised O(1) per call.
        expiry = self._expiry
        while expiry:
            oldest = next(iter(expiry))
            if expiry[oldest] > now:
                self._sweep_at = expiry[oldest]
                return
            del expiry[oldest]
        self._sweep_at = math.inf

    def seen_before(self, key: bytes, expires_at: float) -> bool:
        if type(key) is not bytes:
            key = bytes(key)
        expiry = self._expiry
        with self._lock:
            now = self._clock()
            if not now < self._sweep_at:
                self._drop_expired_front(now)
            known = expiry.get(key)
            if known is not None:
                self._sweep_at = -math.inf  # the front may be another entry now
                if known > now:
                    expiry.move_to_end(key)  # kept, with its own deadline, as the newest
                    return True
                del expiry[key]
            expiry[key] = expires_at
            if not expires_at >= self._sweep_at:  # the first entry, or one expiring sooner
                self._sweep_at = expires_at
            if len(expiry) > self._max_entries:
                self._sweep_at = -math.inf
                while len(expiry) > self._max_entries:
                    expiry.popitem(last=False)
            return False

    async def seen_before_async(self, key: bytes, expires_at: float) -> bool:
        # A dict update under a lock held for microseconds: no I/O, so no thread needed.
        return self.seen_before(key, expires_at)

    def ping(self) -> None:
        """The in-memory store always answers."""

    async def ping_async(self) -> None:
        """The in-memory store always answers."""

    def __repr__(self) -> str:
        return f"MemoryReplayStore(entries={len(self)}, max_entries={self._max_entries})"
