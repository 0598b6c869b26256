"""The status table (hemproto.status) is what both roles answer with.

Each refusal is made for real, its typed error caught from the raising API, and the role's
``handle`` must answer exactly the status the table gives that error; the table itself is
pinned to the statuses the protocol documents.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from _clock import FakeClock
from _tokens import forge

import hemproto
from hemproto import backend, device, status
from hemproto.backend import Backend
from hemproto.claims import MAX_REQUEST_BODY, request_object, verify_checked
from hemproto.device import DeviceEmulator
from hemproto.errors import (
    BadSignature,
    BodyTooLarge,
    ClaimError,
    DeviceStopped,
    EncodingError,
    HemProtoError,
    InvalidKey,
    KeyAgreementError,
    MalformedToken,
    ReplayedNonce,
    ReplayStoreUnavailable,
    UnknownKey,
)

NOW = 1_764_000_000.0
LIFETIME = 300.0


# --- the table ------------------------------------------------------------------------------


def test_the_statuses_are_the_documented_numbers() -> None:
    assert (status.OK, status.BAD_REQUEST, status.UNAUTHORIZED) == (200, 400, 401)
    assert (status.TOO_LARGE, status.UNAVAILABLE) == (413, 503)
    assert set(status.ROLE_STATUS_MEANINGS) == {200, 400, 401, 413, 503}
    http_only = (
        status.NOT_FOUND,
        status.METHOD_NOT_ALLOWED,
        status.UNSUPPORTED_MEDIA_TYPE,
        status.SERVER_ERROR,
    )
    assert http_only == (404, 405, 415, 500)
    assert set(status.HTTP_STATUS_MEANINGS) == set(http_only)
    assert not set(status.ROLE_STATUS_MEANINGS) & set(status.HTTP_STATUS_MEANINGS)
    assert all(status.ROLE_STATUS_MEANINGS.values())
    assert all(status.HTTP_STATUS_MEANINGS.values())


def test_the_roles_share_one_response_type() -> None:
    assert backend.Response is status.Response
    assert device.Response is status.Response


BACKEND_TABLE = [
    (BodyTooLarge("x"), 413),
    (MalformedToken("x"), 400),
    (EncodingError("x", offset=0, reason="character"), 400),
    (ClaimError("x", claim="qid"), 400),
    (UnknownKey("x"), 401),  # a ClaimError, but a well-formed check for a key not held
    (BadSignature("x"), 401),
    (KeyAgreementError("x"), 401),
    (ReplayedNonce("x"), 401),
    (ReplayStoreUnavailable("x"), 503),
    (HemProtoError("x"), 400),
]


@pytest.mark.parametrize(("error", "expected"), BACKEND_TABLE)
def test_backend_refusal_classes(error: HemProtoError, expected: int) -> None:
    assert status.backend_status(error) == expected
    assert expected in status.ROLE_STATUS_MEANINGS


DEVICE_TABLE = [
    (BodyTooLarge("x"), 413),
    (MalformedToken("x"), 400),
    (ClaimError("x", claim="iat"), 401),
    (UnknownKey("x"), 401),
    (BadSignature("x"), 401),
    # Not a reply's refusal: the device raises these to its caller instead of answering.
    (EncodingError("x", offset=0, reason="character"), None),
    (InvalidKey("x"), None),
    (DeviceStopped("x"), None),
]


@pytest.mark.parametrize(("error", "expected"), DEVICE_TABLE)
def test_device_refusal_classes(error: HemProtoError, expected: int | None) -> None:
    assert status.device_status(error) == expected


def test_a_claim_fault_is_400_at_the_backend_and_401_at_the_device() -> None:
    fault = ClaimError("iat missing", claim="iat")
    assert status.backend_status(fault) == status.BAD_REQUEST
    assert status.device_status(fault) == status.UNAUTHORIZED


# --- the backend answers what the table says ---------------------------------------------------


class BrokenStore:
    def seen_before(self, key: bytes, expires_at: float) -> bool:
        raise OSError("redis://user:secret@host down")


@pytest.fixture()
def make_check(device_key: hemproto.KeyPair, backend_key: hemproto.KeyPair) -> Any:
    def make() -> str:
        return hemproto.sign_check(
            device_key,
            backend_key.public,
            qid=bytes(32),
            fws=bytes([1]) * 64,
            bls=bytes([2]) * 64,
            uis=None,
            csn=bytes(range(16)),
        )

    return make


def device_body(token: str) -> bytes:
    """A device's exact body: what the backend's fast path reads."""
    return b'{"check":"' + token.encode() + b'"}'


def refusal_of(answer: Any, body: object) -> HemProtoError:
    with pytest.raises(HemProtoError) as caught:
        answer(body)
    return caught.value


def posted(answering: Backend) -> Any:
    """Backend.answer for a POSTed body: the body cap and envelope first, as handle reads it."""
    return lambda body: answering.answer(request_object(body, MAX_REQUEST_BODY, member="check"))


def backend_refusals(make_check: Any, backend_key: hemproto.KeyPair) -> dict[str, object]:
    token = make_check()
    head, payload, _ = token.split(".")
    claims = dict(hemproto.decode_ejwt(token).claims)
    stranger = hemproto.b64_encode(hemproto.KeyPair(bytes([7]) * 32).public)
    small_order = dict(claims, iss=hemproto.b64_encode(bytes(32)))
    return {
        "too large": b"x" * (MAX_REQUEST_BODY + 1),
        "malformed": b"not json",
        "claim fault": forge(hemproto.DEFAULT_HEADER, dict(claims, qid="AAAA")),
        "unknown key": forge(hemproto.DEFAULT_HEADER, dict(claims, aud=stranger)),
        "bad MAC": f"{head}.{payload}.{hemproto.b64url_encode(bytes(32))}",
        "small order": forge(hemproto.DEFAULT_HEADER, small_order),
    }


@pytest.mark.parametrize(
    "case", ["too large", "malformed", "claim fault", "unknown key", "bad MAC", "small order"]
)
def test_backend_handle_answers_the_status_of_its_refusal(
    make_check: Any, backend_key: hemproto.KeyPair, case: str
) -> None:
    given = backend_refusals(make_check, backend_key)[case]
    bodies = [given] if isinstance(given, bytes) else [{"check": given}, device_body(given)]
    for body in bodies:
        answering = Backend(backend_key, clock=FakeClock(NOW))
        error = refusal_of(posted(answering), body)
        expected = status.backend_status(error)
        assert expected != status.OK
        assert answering.handle(body) == (expected, None)
        assert Backend(backend_key, clock=FakeClock(NOW)).process(body).status == expected


def test_backend_replay_and_store_refusals(make_check: Any, backend_key: hemproto.KeyPair) -> None:
    for body in ({"check": make_check()}, device_body(make_check())):
        answering = Backend(backend_key, clock=FakeClock(NOW))
        assert answering.handle(body)[0] == status.OK
        replayed = refusal_of(posted(answering), body)
        assert isinstance(replayed, ReplayedNonce)
        assert answering.handle(body) == (status.backend_status(replayed), None) == (401, None)

        broken = Backend(backend_key, replay=BrokenStore(), clock=FakeClock(NOW))
        down = refusal_of(posted(broken), body)
        assert isinstance(down, ReplayStoreUnavailable)
        assert broken.handle(body) == (status.backend_status(down), None) == (503, None)
        result = broken.process(body)
        assert result.status == 503 and "secret" not in result.reason


# --- the device answers what the table says ----------------------------------------------------


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock(1_000.0)


@pytest.fixture()
def emulator(backend_key: hemproto.KeyPair, clock: FakeClock) -> DeviceEmulator:
    return DeviceEmulator(
        backend_public_key=backend_key.public, nonce_lifetime=LIFETIME, monotonic=clock
    )


def reply_to(
    check_body: dict[str, str], backend_key: hemproto.KeyPair, **changes: Any
) -> dict[str, str]:
    challenge = hemproto.parse_check(check_body)
    fields: dict[str, Any] = {
        "jti": challenge.jti,
        "iss": backend_key.public,
        "aud": challenge.iss,
        "iat": int(NOW),
        "act": "OK",
    }
    fields.update(changes)
    key = backend_key.shared(challenge.iss)
    return {"checked": hemproto.sign_checked(key, **fields)}


def device_refusals(emulator: DeviceEmulator, backend_key: hemproto.KeyPair) -> dict[str, object]:
    check_body = emulator.challenge()
    good = reply_to(check_body, backend_key)["checked"]
    head, payload, _ = good.split(".")
    return {
        "too large": b"x" * (MAX_REQUEST_BODY + 1),
        "malformed": b'{"checked": "a.b.c"}',
        "not an object": b"[]",
        "echoed check": {"checked": check_body["check"]},
        "bad MAC": {"checked": f"{head}.{payload}.{hemproto.b64url_encode(bytes(32))}"},
        "wrong issuer": reply_to(check_body, backend_key, iss=bytes([9]) * 32),
    }


@pytest.mark.parametrize(
    "case", ["too large", "malformed", "not an object", "echoed check", "bad MAC", "wrong issuer"]
)
def test_device_handle_answers_the_status_of_its_refusal(
    emulator: DeviceEmulator, backend_key: hemproto.KeyPair, case: str
) -> None:
    body = device_refusals(emulator, backend_key)[case]
    mac_key = backend_key.shared(emulator.session_public_key)

    def verify(request: object) -> object:
        return verify_checked(
            request_object(request),
            mac_key,
            issuer=backend_key.public,
            audience=emulator.session_public_key,
        )

    error = refusal_of(verify, body)
    expected = status.device_status(error)
    assert expected is not None and expected != status.OK
    assert emulator.handle(body) == (expected, None)


def test_device_nonce_refusals_and_the_soft_brick(
    emulator: DeviceEmulator, backend_key: hemproto.KeyPair, clock: FakeClock
) -> None:
    check_body = emulator.challenge()
    unknown = reply_to(check_body, backend_key, jti=bytes(32))
    assert emulator.handle(unknown) == (status.UNAUTHORIZED, None)
    reply = reply_to(check_body, backend_key)
    assert emulator.handle(reply) == (status.OK, {"status": "OK"})
    assert emulator.handle(reply) == (status.UNAUTHORIZED, None)  # the nonce is spent

    late = emulator.challenge()
    clock.advance(LIFETIME)
    assert emulator.handle(reply_to(late, backend_key)) == (status.UNAUTHORIZED, None)

    bricking = emulator.challenge()
    assert emulator.handle(reply_to(bricking, backend_key, act="B"))[0] == status.OK
    assert emulator.handle(json.dumps(reply)) == (status.UNAVAILABLE, None)
