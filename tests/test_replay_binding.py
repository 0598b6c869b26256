"""The replay record is bound to the addressee and the signer: (aud, iss, jti), never jti alone.

Regression for nonce squatting: anyone can sign a check under a session key of their own, so
a party that sees a device's check on its way could send its own check with the same jti
first. Keyed by jti alone, the backend answered the squatter and then refused the device.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import hemproto
from hemproto.errors import ReplayedNonce, ReplayStoreUnavailable


def squat_of(victim: dict[str, str], backend_public: bytes, **overrides: Any) -> str:
    fields: dict[str, Any] = dict(qid=bytes(32), fws=bytes(64), bls=bytes(64), csn=bytes(16))
    fields.update(overrides)
    jti = hemproto.parse_check(victim).jti
    return hemproto.sign_check(hemproto.KeyPair.generate(), backend_public, jti=jti, **fields)


def test_a_squatted_nonce_does_not_block_the_genuine_check() -> None:
    bk = hemproto.KeyPair.generate()
    backend = hemproto.Backend(bk)
    victim = hemproto.DeviceEmulator(backend_public_key=bk.public).challenge()
    squat = squat_of(victim, bk.public)
    assert backend.handle({"check": squat})[0] == 200
    assert backend.handle(victim)[0] == 200
    # The same genuine check twice stays refused, and so does the squatter's.
    assert backend.handle(victim) == (401, None)
    assert backend.handle({"check": squat}) == (401, None)


def test_many_squatters_with_the_same_nonce_never_block_the_device() -> None:
    bk = hemproto.KeyPair.generate()
    backend = hemproto.Backend(bk)
    device = hemproto.DeviceEmulator(backend_public_key=bk.public)
    victim = device.challenge()
    for _ in range(20):
        assert backend.handle({"check": squat_of(victim, bk.public)})[0] == 200
    status, reply = backend.handle(victim)
    assert status == 200
    # ... and the device accepts the reply to its own challenge.
    assert device.handle(reply)[0] == 200


def test_the_record_is_bound_to_the_addressed_key() -> None:
    # With two keys live (rotation), a check to each key with the same session key and
    # nonce are two records: aud is part of the key.
    old, new = hemproto.KeyPair.generate(), hemproto.KeyPair.generate()
    backend = hemproto.Backend([old, new])
    device = hemproto.KeyPair.generate()
    jti = bytes(range(32))
    fields: dict[str, Any] = dict(qid=bytes(32), fws=bytes(64), bls=bytes(64), csn=bytes(16))
    to_old = hemproto.sign_check(device, old.public, jti=jti, **fields)
    to_new = hemproto.sign_check(device, new.public, jti=jti, **fields)
    assert backend.handle({"check": to_old})[0] == 200
    assert backend.handle({"check": to_new})[0] == 200
    assert backend.handle({"check": to_old})[0] == 401
    assert backend.handle({"check": to_new})[0] == 401


def test_replay_key_is_aud_iss_jti_and_checks_sizes() -> None:
    aud, iss, jti = bytes([1]) * 32, bytes([2]) * 32, bytes([3]) * 32
    assert hemproto.replay_key(aud, iss, jti) == aud + iss + jti
    assert len(hemproto.replay_key(aud, iss, jti)) == 96
    with pytest.raises(ValueError, match=r"^jti must be 32 bytes, got 31$"):
        hemproto.replay_key(aud, iss, jti[:31])
    with pytest.raises(ValueError, match=r"^aud must be 32 bytes, got 33$"):
        hemproto.replay_key(aud + b"x", iss, jti)
    with pytest.raises(ValueError, match=r"^iss must be 32 bytes, got 0$"):
        hemproto.replay_key(aud, b"", jti)
    # Distinct triples that would concatenate alike cannot exist: every part is 32 bytes.
    assert hemproto.replay_key(aud, jti, iss) != hemproto.replay_key(aud, iss, jti)


def test_answer_raises_replayed_nonce_for_the_same_check(make_check: Any, backend_key: Any) -> None:
    backend = hemproto.Backend(backend_key)
    token = make_check()
    backend.answer(token)
    with pytest.raises(ReplayedNonce):
        backend.answer(token)


# --- the richer result and failing closed ------------------------------------------------------


class BrokenStore:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.calls = 0

    def seen_before(self, key: bytes, expires_at: float) -> bool:
        self.calls += 1
        raise self.exc

    def ping(self) -> None:
        raise self.exc


def test_process_reports_the_decision_and_challenge(make_check: Any, backend_key: Any) -> None:
    backend = hemproto.Backend(backend_key, clock=lambda: 1_764_000_000.5)
    token = make_check()
    result = backend.process({"check": token})
    assert result.status == 200 and result.body is not None
    assert result.response == (200, result.body)
    assert result.challenge == hemproto.parse_check(token)
    assert result.decision is not None and result.decision.act == "R"  # unknown firmware
    assert result.iat == 1_764_000_000 and result.reason == ""
    reply = hemproto.parse_checked(result.body)
    assert (reply.act, reply.iat) == (result.decision.act, result.iat)
    again = backend.process({"check": token})
    assert (again.status, again.body, again.decision) == (401, None, None)
    assert again.challenge == result.challenge  # verified, then refused as a replay
    assert again.reason.startswith("ReplayedNonce")


def test_process_refusals_have_bounded_reasons(backend_key: Any) -> None:
    backend = hemproto.Backend(backend_key)
    for body, status in (
        (b"{" + b" " * 8000 + b"}", 413),
        ({"check": "x" * 7000}, 400),
        ({"nope" * 1000: 1}, 400),
    ):
        result = backend.process(body)
        assert result.status == status
        assert result.challenge is None and result.body is None
        assert 0 < len(result.reason) <= 200


@pytest.mark.parametrize("exc", [ConnectionError("redis://:hunter2@db down"), TimeoutError()])
def test_a_failing_store_fails_closed_with_503(
    make_check: Any, backend_key: Any, exc: BaseException
) -> None:
    store = BrokenStore(exc)
    backend = hemproto.Backend(backend_key, replay=store)
    token = make_check()
    result = backend.process({"check": token})
    assert (result.status, result.body) == (503, None)
    assert result.challenge is not None and result.decision is None
    assert "hunter2" not in result.reason
    with pytest.raises(ReplayStoreUnavailable):
        backend.answer(token)
    with pytest.raises(ReplayStoreUnavailable):
        backend.ping()
    with pytest.raises(ReplayStoreUnavailable):
        asyncio.run(backend.ping_async())
    assert asyncio.run(backend.process_async({"check": token})).status == 503


def test_a_store_raising_unavailable_is_503(make_check: Any, backend_key: Any) -> None:
    backend = hemproto.Backend(backend_key, replay=BrokenStore(ReplayStoreUnavailable("down")))
    assert backend.handle({"check": make_check()}) == (503, None)


def test_process_async_uses_the_async_twin_or_a_thread(make_check: Any, backend_key: Any) -> None:
    import threading

    class AsyncStore:
        def __init__(self) -> None:
            self.keys: set[bytes] = set()

        def seen_before(self, key: bytes, expires_at: float) -> bool:
            raise AssertionError("the async twin must be used")

        async def seen_before_async(self, key: bytes, expires_at: float) -> bool:
            await asyncio.sleep(0)
            seen = key in self.keys
            self.keys.add(key)
            return seen

    class BlockingStore:
        def __init__(self) -> None:
            self.threads: list[int] = []
            self.keys: set[bytes] = set()

        def seen_before(self, key: bytes, expires_at: float) -> bool:
            self.threads.append(threading.get_ident())
            seen = key in self.keys
            self.keys.add(key)
            return seen

    token = make_check()
    backend = hemproto.Backend(backend_key, replay=AsyncStore())
    assert asyncio.run(backend.handle_async({"check": token}))[0] == 200
    assert asyncio.run(backend.handle_async({"check": token})) == (401, None)

    blocking = BlockingStore()
    backend = hemproto.Backend(backend_key, replay=blocking)

    async def run() -> tuple[int, int]:
        loop_thread = threading.get_ident()
        first = await backend.process_async({"check": token})
        second = await backend.process_async({"check": token})
        assert loop_thread not in blocking.threads  # never on the event loop's thread
        return first.status, second.status

    assert asyncio.run(run()) == (200, 401)
    assert len(blocking.threads) == 2
