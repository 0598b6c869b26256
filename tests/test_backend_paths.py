"""The backend's shortcuts give the answers of the long way: the device's exact body sliced
instead of parsed, and the stock policy's decisions remembered per release signatures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _clock import FakeClock

import hemproto
from hemproto.backend import _check_request
from hemproto.releases import Decision, Policy, Release, ReleaseRegistry

ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
FW_A, FW_B, BL = bytes([1]) * 64, bytes([2]) * 64, bytes([3]) * 64


def fresh(backend_key: hemproto.KeyPair, **kwargs: Any) -> hemproto.Backend:
    return hemproto.Backend(backend_key, clock=FakeClock(1_764_000_000.0), **kwargs)


def bodies(token: str) -> list[bytes]:
    """The device's body and near variants that must take the parser's way."""
    h, p, s = token.split(".")
    return [
        b'{"check":"' + token.encode() + b'"}',
        b'{"check": "' + token.encode() + b'"}',
        b' {"check":"' + token.encode() + b'"}',
        b'{"check":"' + token.encode() + b'"} ',
        b'{"check":"' + token.encode() + b'","x":1}',
        b'{"check":"' + token.encode() + b'\\u0041"}',
        b'{"check":"' + token.encode() + b'\\"}',
        b'{"check":"' + token.encode() + b'\n"}',
        b'{"check":"' + token.encode() + b'\xc3\xa9"}',
        b'{"check":"' + token.encode() + b'\xff"}',
        b'{"check":"{' + token.encode() + b'"}',
        b'{"check":"' + token.encode() + b' "}',
        b'{"check":"' + f"{h}..{s}".encode() + b'"}',
        b'{"check":"' + f"{h}.{p}".encode() + b'"}',
        b'{"check":""}',
        b'{"check":"' + b"A" * 7300 + b'"}',
        b'{"check":"' + token.encode() + b'"}}',
        b'{"check":"' + token.encode() + b'""}',
        b'{"check":"' + token.encode() + b'"',
    ]


def test_the_sliced_body_gives_what_the_parser_gives(make_check: Any, backend_key: Any) -> None:
    token = make_check()
    for body in bodies(token):
        quick = fresh(backend_key).process(body)
        slow = fresh(backend_key).process(bytearray(body))  # not bytes: always parsed
        assert (quick.status, quick.reason, quick.challenge) == (
            slow.status,
            slow.reason,
            slow.challenge,
        ), body[:60]
        assert quick.body == slow.body


def test_only_the_exact_device_body_is_sliced(make_check: Any) -> None:
    token = make_check()
    for body in bodies(token):
        inside = body[10:-2]
        exact = (
            body.startswith(b'{"check":"')
            and body.endswith(b'"}')
            and inside
            and all(chr(c) in ALPHABET for c in inside)
            and len(body) <= 7300
        )
        sliced = isinstance(_check_request_or_error(body), str)
        assert sliced == bool(exact), body[:60]
        if sliced:
            assert _check_request(body) == inside.decode()


def _check_request_or_error(body: bytes) -> object:
    try:
        return _check_request(body)
    except hemproto.HemProtoError as exc:
        return exc


def test_a_sliced_body_over_the_cap_is_still_413(backend_key: Any) -> None:
    body = b'{"check":"' + b"A" * 7300 + b'"}'
    assert fresh(backend_key).handle(body) == (413, None)


# --- remembered decisions ---------------------------------------------------------------------


def check_with(device_key: Any, backend_key: Any, fws: bytes) -> str:
    return hemproto.sign_check(
        device_key, backend_key.public, qid=bytes(32), fws=fws, bls=BL, csn=bytes(16)
    )


def act_of(backend: hemproto.Backend, token: str) -> str:
    result = backend.process({"check": token})
    assert result.status == 200 and result.decision is not None
    return result.decision.act


def test_a_registry_that_grows_is_seen(device_key: Any, backend_key: Any) -> None:
    registry = ReleaseRegistry([Release("bootloader", BL, "1", "current")])
    backend = fresh(backend_key, releases=registry)
    assert act_of(backend, check_with(device_key, backend_key, FW_A)) == "R"  # unknown
    registry.add(Release("firmware", FW_A, "1", "revoked"))
    assert act_of(backend, check_with(device_key, backend_key, FW_A)) == "L"


def test_a_replaced_registry_or_policy_is_seen(device_key: Any, backend_key: Any) -> None:
    backend = fresh(backend_key)
    assert act_of(backend, check_with(device_key, backend_key, FW_A)) == "R"
    backend.releases = ReleaseRegistry(
        [Release("firmware", FW_A, "1", "current"), Release("bootloader", BL, "1", "current")]
    )
    assert act_of(backend, check_with(device_key, backend_key, FW_A)) == "OK"
    backend.policy = Policy(current="U")
    assert act_of(backend, check_with(device_key, backend_key, FW_A)) == "U"


def test_another_policy_class_is_asked_every_time(device_key: Any, backend_key: Any) -> None:
    class ByDevice(Policy):
        calls = 0

        def decide(self, check: Any, registry: Any) -> Decision:
            ByDevice.calls += 1
            return Decision("W" if check.qid == bytes(32) else "OK")

    backend = fresh(backend_key, policy=ByDevice())
    for _ in range(3):
        assert act_of(backend, check_with(device_key, backend_key, FW_A)) == "W"
    assert ByDevice.calls == 3


def test_remembered_decisions_are_bounded(device_key: Any, backend_key: Any) -> None:
    backend = fresh(backend_key)
    for n in range(1030):
        challenge = hemproto.parse_check(check_with(device_key, backend_key, n.to_bytes(64, "big")))
        assert backend.decide(challenge).act == "R"
    assert len(backend._decisions[1]) <= 1024


@pytest.mark.parametrize("status", ["current", "outdated", "revoked"])
def test_remembered_decision_equals_the_policy(
    device_key: Any, backend_key: Any, status: str
) -> None:
    registry = ReleaseRegistry(
        [
            Release("firmware", FW_B, "2", "current" if status != "current" else "outdated"),
            Release("firmware", FW_A, "1", status),
            Release("bootloader", BL, "1", "current"),
        ]
    )
    backend = fresh(backend_key, releases=registry)
    challenge = hemproto.parse_check(check_with(device_key, backend_key, FW_A))
    first, again = backend.decide(challenge), backend.decide(challenge)
    assert first == again == Policy().decide(challenge, registry)
    assert json.dumps(first.findings)
