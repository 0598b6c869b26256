"""A device's exact body answered in one step: its MAC checked and the reply signed in one
codec call (claims.answer_check), the reply sent only once the check is recorded. Every
outcome equals the general way's (a bytearray body always takes it), for every status."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from _clock import FakeClock
from _releases import BL_OK, CSN, FW_BAD, FW_NEW, FW_OLD, NOW, UI_NEW, UI_OLD, registry
from _tokens import forge

import hemproto
from hemproto import _codec
from hemproto import backend as backend_module
from hemproto.backend import Backend, CheckinResult
from hemproto.errors import ReplayStoreUnavailable
from hemproto.releases import Decision, Policy, ReleaseRegistry
from hemproto.replay import MemoryReplayStore

OTHER_CSN = bytes(16)
DER = bytes([0x30, 0x82, 0x01, 0x00]) + bytes(range(256))


def body_of(token: str) -> bytes:
    return b'{"check":"' + token.encode() + b'"}'


@pytest.fixture()
def make(device_key: hemproto.KeyPair, backend_key: hemproto.KeyPair) -> Callable[..., bytes]:
    def make_body(fws: bytes = FW_NEW, uis: bytes | None = UI_NEW, csn: bytes = CSN) -> bytes:
        token = hemproto.sign_check(
            device_key, backend_key.public, qid=bytes(32), fws=fws, bls=BL_OK, uis=uis, csn=csn
        )
        return body_of(token)

    return make_body


def backend(backend_key: hemproto.KeyPair, **kwargs: Any) -> Backend:
    kwargs.setdefault("releases", registry())
    kwargs.setdefault("clock", FakeClock(NOW))
    kwargs.setdefault("certificates", {CSN: DER})
    return Backend(backend_key, **kwargs)


def outcome(result: CheckinResult) -> tuple[Any, ...]:
    return (
        result.status,
        result.body,
        result.challenge,
        result.decision,
        result.iat,
        result.reason,
    )


def both_ways(backend_key: hemproto.KeyPair, bodies: list[bytes], **kwargs: Any) -> None:
    """The same bodies, in order, to a backend as bytes (one step where it applies) and to
    another as bytearrays (the general way): the same outcomes; and to a third through
    handle (which builds no CheckChallenge for a device's body): the same responses."""
    quick, slow = backend(backend_key, **kwargs), backend(backend_key, **kwargs)
    handling = backend(backend_key, **kwargs)
    for body in bodies:
        general = slow.process(bytearray(body))
        assert outcome(quick.process(body)) == outcome(general), body[:40]
        assert handling.handle(body) == general.response, body[:40]


def forged_mac(body: bytes) -> bytes:
    head, _, _ = body[10:-2].decode().rpartition(".")
    return body_of(f"{head}.{hemproto.b64url_encode(bytes(32))}")


def test_every_decision_equals_the_general_ways(
    backend_key: hemproto.KeyPair, make: Callable[..., bytes]
) -> None:
    bodies = [
        make(),
        make(fws=FW_OLD),  # outdated: newfws
        make(uis=UI_OLD),  # outdated dashboard: newuis
        make(fws=FW_OLD, uis=UI_OLD),
        make(fws=FW_BAD),  # revoked: L
        make(fws=bytes(64)),  # unknown: R
        make(uis=None),  # a device without a dashboard
        make(csn=OTHER_CSN),  # no certificate for this one
    ]
    both_ways(backend_key, bodies)
    both_ways(backend_key, bodies, policy=Policy(current="U", unknown="W"))


def test_refusals_equal_the_general_ways_and_spend_no_nonce(
    backend_key: hemproto.KeyPair, make: Callable[..., bytes], seed: Any
) -> None:
    genuine = make()
    other_key = hemproto.KeyPair(bytes(range(200, 232)))
    payload = dict(hemproto.decode_ejwt(seed["token"]).claims)
    payload["iss"] = hemproto.b64_encode(bytes(32))  # small order
    payload["aud"] = hemproto.b64_encode(backend_key.public)
    small_order = body_of(forge(hemproto.DEFAULT_HEADER, payload))
    unknown_key = body_of(
        hemproto.sign_check(
            other_key, bytes([9]) * 32, qid=bytes(32), fws=FW_NEW, bls=BL_OK, csn=CSN
        )
    )
    bodies = [forged_mac(genuine), small_order, unknown_key, genuine, genuine, forged_mac(genuine)]
    both_ways(backend_key, bodies)
    quick = backend(backend_key)
    statuses = [quick.process(body).status for body in bodies]
    assert statuses == [401, 401, 401, 200, 401, 401]
    reasons = [quick.process(body).reason.split(":")[0] for body in bodies[:3]]
    assert reasons == ["BadSignature", "KeyAgreementError", "UnknownKey"]


def test_the_reply_is_the_device_verified_one(
    backend_key: hemproto.KeyPair, device_key: hemproto.KeyPair, make: Callable[..., bytes]
) -> None:
    body = make(fws=FW_OLD, uis=UI_OLD)
    result = backend(backend_key).process(body)
    assert result.status == 200 and result.body is not None
    reply = hemproto.verify_checked(
        result.body, device_key.shared(backend_key.public), audience=device_key.public
    )
    assert (reply.act, reply.iat, reply.crt) == ("OK", int(NOW), DER)
    assert (reply.newfws, reply.newuis) == (FW_NEW, UI_NEW)
    assert reply.jti == hemproto.parse_check(body).jti


def test_the_codec_checks_and_signs_in_one_call(
    backend_key: hemproto.KeyPair, make: Callable[..., bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"check_answer": 0, "hs256_verify": 0, "checked_sign": 0}
    for name in calls:
        real = getattr(_codec, name)

        def counted(*arguments: Any, _real: Any = real, _name: str = name) -> Any:
            calls[_name] += 1
            return _real(*arguments)

        monkeypatch.setattr(_codec, name, counted)
    answering = backend(backend_key)
    assert answering.handle(make())[0] == 200
    assert calls == {"check_answer": 1, "hs256_verify": 0, "checked_sign": 0}
    # The general way: the MAC checked, the check recorded, then the reply signed.
    assert answering.handle(bytearray(make()))[0] == 200
    assert calls == {"check_answer": 1, "hs256_verify": 1, "checked_sign": 1}


class RecordingStore:
    """A replay store that records each call in a shared log, and answers as told."""

    def __init__(self, log: list[str], answer: bool | Exception = False) -> None:
        self.log, self.answer = log, answer

    def seen_before(self, key: bytes, expires_at: float) -> bool:
        self.log.append("store")
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_a_signed_reply_is_sent_only_once_the_check_is_recorded(
    backend_key: hemproto.KeyPair, make: Callable[..., bytes]
) -> None:
    log: list[str] = []
    body = make()
    seen = backend(backend_key, replay=RecordingStore(log, True)).process(body)
    assert (seen.status, seen.body, seen.reason.split(":")[0]) == (401, None, "ReplayedNonce")
    failed = backend(backend_key, replay=RecordingStore(log, ConnectionError("down")))
    assert outcome(failed.process(body))[:2] == (503, None)
    assert failed.handle(body) == (503, None)
    refused = backend(backend_key, replay=RecordingStore(log, ReplayStoreUnavailable("slow")))
    assert refused.handle(body) == (503, None)
    # A forged MAC never reaches the store: its nonce is not spent.
    assert backend(backend_key, replay=RecordingStore(log)).handle(forged_mac(body)) == (
        401,
        None,
    )
    assert log == ["store", "store", "store", "store"]


def test_another_policy_decides_after_the_record(
    backend_key: hemproto.KeyPair, make: Callable[..., bytes]
) -> None:
    log: list[str] = []

    class Logged(Policy):
        def decide(self, check: Any, registry: Any) -> Decision:
            log.append("decide")
            return Decision("B")

    class LoggedRegistry(ReleaseRegistry):
        pass

    for kwargs in ({"policy": Logged()}, {"releases": LoggedRegistry()}):
        log.clear()
        answering = backend(backend_key, replay=RecordingStore(log), **kwargs)
        if "releases" in kwargs:
            answering.policy = Logged()  # the stock policy class with another registry
        result = answering.process(make())
        assert result.status == 200 and result.decision == Decision("B")
        assert log == ["store", "decide"]
        assert answering.handle(make())[0] == 200
        assert log == ["store", "decide", "store", "decide"]


def test_handle_logs_each_refusal_as_process_does(
    backend_key: hemproto.KeyPair, make: Callable[..., bytes], caplog: pytest.LogCaptureFixture
) -> None:
    body = make()
    bodies = [forged_mac(body), body, body]
    caplog.set_level("INFO", logger="hemproto.backend")
    processing = backend(backend_key)
    for each in bodies:
        processing.process(each)
    by_process = [record.getMessage() for record in caplog.records]
    caplog.clear()
    handling = backend(backend_key)
    for each in bodies:
        handling.handle(each)
    assert [record.getMessage() for record in caplog.records] == by_process
    assert len(by_process) == 2 and "BadSignature" in by_process[0]
    assert "ReplayedNonce" in by_process[1]


def test_handle_asks_the_policy_once_per_release_signatures(
    backend_key: hemproto.KeyPair, make: Callable[..., bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[bytes] = []
    real = Policy.decide

    def counted(self: Policy, check: Any, registry: ReleaseRegistry) -> Decision:
        asked.append(check.fws)
        return real(self, check, registry)

    monkeypatch.setattr(Policy, "decide", counted)
    built: list[str] = []
    real_parts = backend_module.device_check_parts

    def parts(token: str) -> Any:
        built.append(token)
        return real_parts(token)

    # A CheckChallenge is built only when the policy must be asked.
    monkeypatch.setattr(backend_module, "device_check_parts", parts)
    handling = backend(backend_key)
    for fws in (FW_NEW, FW_OLD, FW_NEW, FW_OLD, FW_BAD):
        assert handling.handle(make(fws=fws))[0] == 200
    for _ in range(3):  # a device without a dashboard: remembered as such
        assert handling.handle(make(fws=FW_OLD, uis=None))[0] == 200
    assert asked == [FW_NEW, FW_OLD, FW_BAD, FW_OLD]
    assert len(built) == len(asked)


@pytest.mark.parametrize("now", [-1.0, math.nan, math.inf, 2.0**53, 2.0**60])
def test_a_clock_out_of_range_fails_as_before(
    backend_key: hemproto.KeyPair, make: Callable[..., bytes], now: float
) -> None:
    def failure(body: bytes | bytearray, how: str = "process") -> Any:
        answering = backend(backend_key, clock=FakeClock(now))
        try:
            if how == "handle":
                return answering.handle(body)
            return outcome(answering.process(body))
        except Exception as exc:
            return type(exc), str(exc)

    body = make()
    assert failure(body) == failure(bytearray(body))
    assert failure(body, "handle") == failure(bytearray(body), "handle")


def test_handle_is_process_without_the_result(
    backend_key: hemproto.KeyPair, make: Callable[..., bytes]
) -> None:
    bodies = [make(), make(fws=FW_OLD), forged_mac(make()), b"{}", b"[" * 20]
    bodies.append(bodies[0])  # replayed
    bodies.append(json.dumps({"check": make()[10:-2].decode()}).encode())  # parsed
    processing, handling = backend(backend_key), backend(backend_key)
    for body in bodies:
        assert handling.handle(body) == processing.process(body).response


def test_an_answer_is_a_genuine_checkin_result(
    backend_key: hemproto.KeyPair, make: Callable[..., bytes]
) -> None:
    result = backend(backend_key).process(make())
    assert type(result) is CheckinResult
    rebuilt = CheckinResult(200, result.body, result.challenge, result.decision, result.iat)
    assert result == rebuilt and hash(result.status) == hash(rebuilt.status)
    assert repr(result) == repr(rebuilt)
    assert dataclasses.asdict(result) == dataclasses.asdict(rebuilt)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = 500  # type: ignore[misc]


def test_the_event_loop_way_answers_the_same(
    backend_key: hemproto.KeyPair, make: Callable[..., bytes]
) -> None:
    bodies = [make(), make(fws=FW_BAD), forged_mac(make())]
    bodies.append(bodies[0])
    blocking, looping = backend(backend_key), backend(backend_key)

    async def run() -> list[CheckinResult]:
        return [await looping.process_async(body) for body in bodies]

    answered = asyncio.run(run())
    assert [outcome(r) for r in answered] == [outcome(blocking.process(b)) for b in bodies]


def test_each_check_is_recorded_with_its_deadline(
    backend_key: hemproto.KeyPair, make: Callable[..., bytes]
) -> None:
    store = MemoryReplayStore(clock=FakeClock(NOW))
    answering = backend(backend_key, replay=store, replay_window=30.0)
    body = make()
    assert answering.handle(body)[0] == 200
    check = hemproto.parse_check(body)
    assert store._expiry == {check.aud + check.iss + check.jti: NOW + 30.0}
