"""The backend role: key selection, verification, policy, certificates, replay, statuses."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from _clock import FakeClock
from _releases import BL_OK, CSN, FW_BAD, FW_NEW, FW_OLD, NOW, UI_NEW, UI_OLD, registry
from _tokens import forge

import hemproto
from hemproto.backend import Backend
from hemproto.claims import MAX_CERTIFICATE_SIZE, MAX_REQUEST_BODY
from hemproto.errors import (
    BadSignature,
    ClaimError,
    KeyAgreementError,
    MalformedToken,
    ReplayedNonce,
)
from hemproto.releases import Decision, Policy, Release
from hemproto.replay import MemoryReplayStore, ReplayStore


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture()
def backend(backend_key: hemproto.KeyPair, clock: FakeClock) -> Backend:
    return Backend(backend_key, releases=registry(), clock=clock)


@pytest.fixture()
def check(device_key: hemproto.KeyPair, backend_key: hemproto.KeyPair) -> Any:
    def make(fws: bytes = FW_NEW, uis: bytes | None = UI_NEW, **overrides: Any) -> str:
        fields: dict[str, Any] = dict(qid=bytes(32), fws=fws, bls=BL_OK, uis=uis, csn=CSN)
        fields.update(overrides)
        return hemproto.sign_check(device_key, backend_key.public, **fields)

    return make


def reply_of(backend: Backend, token: str, device_key: hemproto.KeyPair) -> hemproto.CheckedReply:
    body = backend.answer({"check": token})
    assert set(body) == {"checked"}
    mac_key = device_key.shared(backend.public_keys[0])
    return hemproto.verify_checked(body, mac_key, audience=device_key.public)


# --- answering ------------------------------------------------------------------------------


def test_current_release_gets_ok_bound_to_the_check(
    backend: Backend, check: Any, device_key: hemproto.KeyPair, backend_key: hemproto.KeyPair
) -> None:
    token = check()
    reply = reply_of(backend, token, device_key)
    challenge = hemproto.parse_check(token)
    assert reply.act == "OK"
    assert reply.jti == challenge.jti
    assert reply.iss == backend_key.public == challenge.aud
    assert reply.aud == challenge.iss == device_key.public
    assert reply.iat == int(NOW)
    assert reply.crt is None and reply.newfws is None and reply.newuis is None


def test_outdated_firmware_and_dashboard_get_the_current_ones(
    backend: Backend, check: Any, device_key: hemproto.KeyPair
) -> None:
    reply = reply_of(backend, check(fws=FW_OLD, uis=UI_OLD), device_key)
    assert (reply.act, reply.newfws, reply.newuis) == ("OK", FW_NEW, UI_NEW)
    only_ui = reply_of(backend, check(fws=FW_NEW, uis=UI_OLD), device_key)
    assert (only_ui.newfws, only_ui.newuis) == (None, UI_NEW)


def test_revoked_firmware_is_locked_and_told_of_the_fix(
    backend: Backend, check: Any, device_key: hemproto.KeyPair
) -> None:
    reply = reply_of(backend, check(fws=FW_BAD), device_key)
    assert reply.act == "L"
    assert reply.newfws == FW_NEW


def test_unknown_firmware_is_reported(
    backend: Backend, check: Any, device_key: hemproto.KeyPair
) -> None:
    reply = reply_of(backend, check(fws=os.urandom(64)), device_key)
    assert reply.act == "R"
    assert reply.newfws is None


def test_device_without_dashboard(backend: Backend, check: Any, device_key: Any) -> None:
    reply = reply_of(backend, check(uis=None), device_key)
    assert reply.act == "OK" and reply.newuis is None


def test_worst_finding_wins(backend: Backend, check: Any, device_key: Any) -> None:
    # Revoked firmware outranks an unknown bootloader, which outranks an outdated dashboard.
    reply = reply_of(backend, check(fws=FW_BAD, bls=os.urandom(64), uis=UI_OLD), device_key)
    assert reply.act == "L"
    decision = backend.decide(hemproto.parse_check(check(fws=FW_OLD, bls=os.urandom(64))))
    assert decision.act == "R"
    assert any("bootloader: unknown" in finding for finding in decision.findings)


def test_custom_policy(backend_key: Any, check: Any, device_key: Any, clock: FakeClock) -> None:
    strict = Backend(
        backend_key,
        releases=registry(),
        policy=Policy(outdated="U", unknown="B", revoked="W"),
        clock=clock,
    )
    assert reply_of(strict, check(fws=FW_OLD), device_key).act == "U"
    assert reply_of(strict, check(fws=os.urandom(64)), device_key).act == "B"
    assert reply_of(strict, check(fws=FW_BAD), device_key).act == "W"
    assert reply_of(strict, check(), device_key).act == "OK"
    with pytest.raises(ValueError):
        Policy(unknown="X")


def test_no_registry_means_everything_is_unknown(
    backend_key: Any, check: Any, device_key: Any
) -> None:
    assert reply_of(Backend(backend_key), check(), device_key).act == "R"


def test_certificate_pushed_by_serial(backend_key: Any, check: Any, device_key: Any) -> None:
    der = b"\x30\x82\x0b\xfc" + os.urandom(MAX_CERTIFICATE_SIZE - 4)
    backend = Backend(backend_key, releases=registry(), certificates={CSN: der})
    reply = reply_of(backend, check(fws=FW_OLD, uis=UI_OLD), device_key)
    assert reply.crt == der
    # Even the largest certificate with every optional claim fits the device's body limit.
    assert len(json.dumps({"checked": reply.token})) <= MAX_REQUEST_BODY
    other = reply_of(backend, check(csn=bytes(16)), device_key)
    assert other.crt is None


@pytest.mark.parametrize(
    "certificates",
    [{CSN: b""}, {CSN: bytes(MAX_CERTIFICATE_SIZE + 1)}, {b"short": b"\x30"}, {CSN: "text"}],
)
def test_bad_certificates_fail_at_construction(backend_key: Any, certificates: Any) -> None:
    with pytest.raises(ValueError):
        Backend(backend_key, certificates=certificates)


# --- keys -------------------------------------------------------------------------------------


def test_key_rotation_selects_the_key_by_aud(device_key: Any, clock: FakeClock) -> None:
    old, new = hemproto.KeyPair.generate(), hemproto.KeyPair.generate()
    backend = Backend([old, new.private_bytes()], releases=registry(), clock=clock)
    assert set(backend.public_keys) == {old.public, new.public}
    for key in (old, new):
        token = hemproto.sign_check(
            device_key, key.public, qid=bytes(32), fws=FW_NEW, bls=BL_OK, csn=CSN
        )
        body = backend.answer(token)
        reply = hemproto.verify_checked(body, device_key.shared(key.public), issuer=key.public)
        assert reply.iss == key.public


def test_unknown_aud_is_refused(backend: Backend, device_key: Any) -> None:
    stranger = hemproto.KeyPair.generate()
    token = hemproto.sign_check(
        device_key, stranger.public, qid=bytes(32), fws=FW_NEW, bls=BL_OK, csn=CSN
    )
    with pytest.raises(ClaimError) as info:
        backend.answer(token)
    assert info.value.claim == "aud"
    assert backend.handle({"check": token}) == (401, None)


def test_backend_needs_a_key() -> None:
    with pytest.raises(ValueError):
        Backend([])
    with pytest.raises(hemproto.InvalidKey):
        Backend(b"short")
    with pytest.raises(TypeError):
        Backend(42)  # type: ignore[arg-type]


def test_repr_shows_no_private_key(backend: Backend, backend_key: Any) -> None:
    assert backend_key.private_bytes().hex()[:16] not in repr(backend)
    assert backend_key.public.hex()[:16] in repr(backend)


# --- replay -------------------------------------------------------------------------------------


def test_replayed_check_is_refused_within_the_window(
    backend: Backend, check: Any, clock: FakeClock
) -> None:
    token = check()
    backend.answer(token)
    with pytest.raises(ReplayedNonce):
        backend.answer(token)
    assert backend.handle({"check": token}) == (401, None)
    clock.now += backend.replay_window + 1
    assert backend.handle({"check": token})[0] == 200


def test_refused_checks_do_not_spend_their_nonce(backend: Backend, check: Any) -> None:
    token = check()
    h, p, s = token.split(".")
    assert backend.handle({"check": f"{h}.{p}.{s[:-2]}AA"})[0] in (400, 401)
    assert backend.handle({"check": token})[0] == 200


def test_memory_store_is_atomic_and_expires() -> None:
    clock = FakeClock(100.0)
    store = MemoryReplayStore(clock=clock)
    assert isinstance(store, ReplayStore)
    assert store.seen_before(b"a", 110.0) is False
    assert store.seen_before(b"a", 120.0) is True
    clock.now = 111.0
    assert store.seen_before(b"a", 130.0) is False
    assert store.seen_before(b"a", 130.0) is True


def test_memory_store_is_bounded_under_a_flood() -> None:
    clock = FakeClock(0.0)
    store = MemoryReplayStore(max_entries=1000, clock=clock)
    for n in range(50_000):
        assert store.seen_before(n.to_bytes(32, "big"), 600.0) is False
    assert len(store) == 1000
    # The newest survive; the oldest were forgotten.
    assert store.seen_before((49_999).to_bytes(32, "big"), 600.0) is True
    clock.now = 601.0
    store.seen_before(b"fresh", 1200.0)
    assert len(store) == 1


def test_backend_store_is_bounded(backend_key: Any, device_key: Any) -> None:
    store = MemoryReplayStore(max_entries=10)
    backend = Backend(backend_key, replay=store)
    for _ in range(30):
        token = hemproto.sign_check(
            device_key, backend_key.public, qid=bytes(32), fws=FW_NEW, bls=BL_OK, csn=CSN
        )
        assert backend.handle({"check": token})[0] == 200
    assert len(store) == 10


def test_a_shared_store_plugs_in(backend_key: Any, check: Any) -> None:
    class SharedStore:
        def __init__(self) -> None:
            self.calls: list[tuple[bytes, float]] = []
            self.seen: set[bytes] = set()

        def seen_before(self, key: bytes, expires_at: float) -> bool:
            self.calls.append((key, expires_at))
            if key in self.seen:
                return True
            self.seen.add(key)
            return False

    shared = SharedStore()
    clock = FakeClock(NOW)
    one = Backend(backend_key, replay=shared, clock=clock, replay_window=30)
    two = Backend(backend_key, replay=shared, clock=clock, replay_window=30)
    token = check()
    assert one.handle({"check": token})[0] == 200
    assert two.handle({"check": token}) == (401, None)
    parsed = hemproto.parse_check(token)
    # The record names the addressee, the signer and the nonce, never the nonce alone.
    assert shared.calls[0] == (parsed.aud + parsed.iss + parsed.jti, NOW + 30)
    assert shared.calls[0][0] == hemproto.replay_key(parsed.aud, parsed.iss, parsed.jti)


# --- handle(): statuses --------------------------------------------------------------------------


def test_handle_accepts_dict_bytes_and_text(backend: Backend, check: Any, device_key: Any) -> None:
    for wrap in (
        lambda t: {"check": t},
        lambda t: json.dumps({"check": t}).encode(),
        lambda t: json.dumps({"check": t}),
    ):
        status, body = backend.handle(wrap(check()))
        assert status == 200
        assert body is not None
        hemproto.verify_checked(body, device_key.shared(backend.public_keys[0]))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"check": 1}',
        b'{"check": "a.b.c"}',
        b'{"checked": "a.b.c"}',
        b'{"check": "x", "check": "y"}',
        {"check": None},
        {"check": "a.b.c", "extra": 1},
        [],
        None,
        12,
        "\ud800",
    ],
)
def test_malformed_bodies_get_400(backend: Backend, body: Any) -> None:
    assert backend.handle(body) == (400, None)


def test_oversized_bodies_get_413_before_parsing(backend: Backend) -> None:
    assert backend.handle(b"{" + b" " * MAX_REQUEST_BODY + b"}") == (413, None)
    assert backend.handle(b"x" * 10_000_000) == (413, None)
    assert backend.handle({"check": "a" * MAX_REQUEST_BODY}) == (413, None)
    just_fits = b'{"check":"' + b"a" * (MAX_REQUEST_BODY - 12) + b'"}'
    assert len(just_fits) == MAX_REQUEST_BODY
    assert backend.handle(just_fits) == (400, None)


def test_bad_mac_gets_401(backend: Backend, check: Any) -> None:
    token = check()
    h, p, _ = token.split(".")
    forged = f"{h}.{p}.{hemproto.b64url_encode(bytes(32))}"
    with pytest.raises(BadSignature):
        backend.answer(forged)
    assert backend.handle({"check": forged}) == (401, None)


def test_small_order_session_key_gets_401(backend: Backend, backend_key: Any, seed: Any) -> None:
    payload = dict(hemproto.decode_ejwt(seed["token"]).claims)
    payload["iss"] = hemproto.b64_encode(bytes(32))
    payload["aud"] = hemproto.b64_encode(backend_key.public)
    token = forge(hemproto.DEFAULT_HEADER, payload)
    with pytest.raises(KeyAgreementError):
        backend.answer(token)
    assert backend.handle({"check": token}) == (401, None)


def test_a_checked_reply_is_not_a_check(backend: Backend, check: Any) -> None:
    reply_body = backend.answer(check())
    with pytest.raises(MalformedToken):
        backend.answer(reply_body)  # wrong envelope
    with pytest.raises(ClaimError):
        backend.answer(reply_body["checked"])  # right envelope, wrong claims
    assert backend.handle({"check": reply_body["checked"]}) == (400, None)


def test_refusals_are_logged_without_secrets(
    backend: Backend, backend_key: Any, check: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = check()
    with caplog.at_level("INFO", logger="hemproto.backend"):
        backend.handle({"check": token[:-3] + "AAA"})
    assert "refused with 4" in caplog.text
    assert backend_key.private_bytes().hex() not in caplog.text


def test_decision_is_a_frozen_value() -> None:
    decision = Decision("OK")
    with pytest.raises(AttributeError):
        decision.act = "L"  # type: ignore[misc]


def test_registry_rules() -> None:
    reg = registry()
    assert reg.current("firmware") is not None and reg.current("firmware").version == "1.2"
    assert reg.assess("firmware", FW_BAD) == "revoked"
    assert reg.assess("firmware", os.urandom(64)) == "unknown"
    with pytest.raises(ValueError, match="already has a current"):
        reg.add(Release("firmware", os.urandom(64), "1.3", "current"))
    with pytest.raises(ValueError, match="already known"):
        reg.add(Release("firmware", FW_OLD, "1.1", "outdated"))
    with pytest.raises(ValueError):
        Release("kernel", FW_OLD, "1")
    with pytest.raises(ValueError):
        Release("firmware", bytes(32), "1")
    with pytest.raises(ValueError):
        Release("firmware", FW_OLD, "1", "stale")
    with pytest.raises(ValueError):
        Release("firmware", FW_OLD, "")


@pytest.mark.parametrize("window", [0, -1, float("nan"), float("inf")])
def test_replay_window_must_be_a_positive_finite_time(backend_key: Any, window: float) -> None:
    # Regression: NaN passed "<= 0" and silently turned replay protection off.
    with pytest.raises(ValueError):
        Backend(backend_key, replay_window=window)


def test_malformed_aud_is_400_and_only_an_unknown_key_is_401(
    backend: Backend, check: Any, backend_key: Any
) -> None:
    payload = dict(hemproto.decode_ejwt(check()).claims)
    for bad in (None, "AAAA", 5):
        mangled = dict(payload, aud=bad)
        assert backend.handle({"check": forge(hemproto.DEFAULT_HEADER, mangled)}) == (400, None)
    stranger = hemproto.b64_encode(hemproto.KeyPair.generate().public)
    token = forge(hemproto.DEFAULT_HEADER, dict(payload, aud=stranger))
    with pytest.raises(hemproto.UnknownKey):
        backend.answer(token)
    assert backend.handle({"check": token}) == (401, None)
