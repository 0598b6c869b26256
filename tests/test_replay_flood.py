"""The in-memory replay store under a flood of distinct checks: its cap holds, memory stays flat.

A million distinct replay keys go straight to the store (no tokens: signing a million checks
would take minutes and prove nothing more about the store).
"""

from __future__ import annotations

import tracemalloc

import pytest

import hemproto

FLOOD = 1_000_000
CAP = 10_000
AUD, ISS = bytes([7]) * 32, bytes([9]) * 32
AUD_ISS = hemproto.replay_key(AUD, ISS, bytes(32))[:64]


def key(n: int) -> bytes:
    # replay_key(AUD, ISS, jti) without its size checks, a million times over.
    return AUD_ISS + n.to_bytes(32, "big")


@pytest.mark.slow
def test_a_million_distinct_checks_stay_within_the_cap() -> None:
    store = hemproto.MemoryReplayStore(max_entries=CAP)
    deadline = 2e9  # nothing expires during the flood: only the cap can bound it
    largest = 0
    tracemalloc.start()
    try:
        for n in range(CAP):
            assert store.seen_before(key(n), deadline) is False
        # Full: from here on every new key forgets the oldest. Memory must not grow.
        full, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for n in range(CAP, FLOOD):
            if store.seen_before(key(n), deadline):
                raise AssertionError(f"key {n} reported as seen")
            if n % 50_000 == 0:
                largest = max(largest, len(store))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(store) == CAP and largest == CAP
    # The store's own share: about 10,000 keys of 129 bytes, floats and dict slots, ~3 MB.
    # A store that kept every key would hold ~1,000,000 of them (~250 MB) and fail here;
    # the slack covers one rebuild of the dict's tables while it drops its oldest entries.
    assert peak - full < 4 * 1024 * 1024, (full, peak)
    assert full < 8 * 1024 * 1024, full
    # The newest keys are remembered, the oldest forgotten (the documented trade-off).
    assert store.seen_before(key(FLOOD - 1), deadline) is True
    assert store.seen_before(key(FLOOD - CAP + 1), deadline) is True
    assert store.seen_before(key(0), deadline) is False


def test_the_flood_keys_are_replay_keys() -> None:
    assert key(5) == hemproto.replay_key(AUD, ISS, (5).to_bytes(32, "big"))


def test_expired_entries_go_first_under_a_flood() -> None:
    now = [1_000.0]
    store = hemproto.MemoryReplayStore(max_entries=1_000, clock=lambda: now[0])
    for n in range(50_000):
        now[0] += 0.01
        assert store.seen_before(key(n), now[0] + 1.0) is False
        # Entries live one second, 100 arrive per second: never more than ~100 are kept.
        assert len(store) <= 101
    assert store.seen_before(key(49_999), now[0] + 1.0) is True
