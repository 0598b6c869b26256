"""Objects shared between threads: the emulator, the backend, the replay store, KeyPair.

Threaded HTTP servers hand one object to many threads at once. Every test forces frequent
thread switches (sys.setswitchinterval) so that a missing lock shows up in a few hundred
trials, and every loop is bounded.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from _race import race

import hemproto

THREADS = 4


@pytest.fixture(autouse=True)
def tiny_switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def test_one_reply_handed_to_four_threads_gives_one_200() -> None:
    bk = hemproto.KeyPair.generate()
    backend = hemproto.Backend(bk)
    device = hemproto.DeviceEmulator(backend_public_key=bk.public, max_outstanding=4)
    tally: Counter[Any] = Counter()
    for _ in range(400):
        status, reply = backend.handle(device.challenge())
        assert status == 200
        results = race(lambda reply=reply: device.handle(reply)[0])
        assert all(type(r) is int for r in results), results  # never another exception
        tally.update(results)
        assert sorted(results) == [200, 401, 401, 401]
    assert tally == {200: 400, 401: 1200}


def test_challenges_from_many_threads_stay_bounded_and_answerable() -> None:
    bk = hemproto.KeyPair.generate()
    backend = hemproto.Backend(bk)
    device = hemproto.DeviceEmulator(backend_public_key=bk.public, max_outstanding=8)
    for _ in range(100):
        checks = race(device.challenge, threads=6)
        assert all(isinstance(c, dict) for c in checks), checks
        assert device.outstanding_nonces <= 8
    # The newest challenges are still outstanding and accepted once each.
    replies = [backend.handle(device.challenge())[1] for _ in range(3)]
    assert [device.handle(r)[0] for r in replies] == [200, 200, 200]


def test_replies_racing_a_reboot_never_raise() -> None:
    bk = hemproto.KeyPair.generate()
    backend = hemproto.Backend(bk)
    device = hemproto.DeviceEmulator(backend_public_key=bk.public)
    for _ in range(100):
        reply = backend.handle(device.challenge())[1]
        calls = iter([device.reboot, lambda: device.handle(reply)[0]] * 2)
        lock = threading.Lock()

        def next_call() -> Any:
            with lock:
                call = next(calls)
            return call()

        results = race(next_call)
        statuses = [r for r in results if r is not None]
        assert all(s in (200, 401) for s in statuses), results
        assert statuses.count(200) <= 1


def test_the_same_check_to_a_shared_backend_is_answered_once() -> None:
    bk = hemproto.KeyPair.generate()
    backend = hemproto.Backend(bk)
    device = hemproto.DeviceEmulator(backend_public_key=bk.public)
    for _ in range(200):
        check = device.challenge()
        results = race(lambda check=check: backend.handle(check)[0])
        assert sorted(results) == [200, 401, 401, 401]


def test_memory_store_first_use_is_atomic() -> None:
    store = hemproto.MemoryReplayStore()
    for n in range(300):
        key = n.to_bytes(96, "big")
        results = race(lambda key=key: store.seen_before(key, 1e12))
        assert sorted(results) == [False, True, True, True]


def test_key_pair_is_safe_to_share() -> None:
    pair = hemproto.KeyPair.generate()
    peers = [hemproto.KeyPair.generate() for _ in range(THREADS)]
    expected = [pair.shared(peer.public) for peer in peers]
    for _ in range(100):
        index = iter(range(THREADS))
        lock = threading.Lock()

        def one() -> tuple[int, bytes]:
            with lock:
                i = next(index)
            return i, pair.shared(peers[i].public)

        for i, secret in race(one):
            assert secret == expected[i]
