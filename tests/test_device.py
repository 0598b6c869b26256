"""The device emulator: challenges, replies and their orders, refusals, nonces, reboots.

Replies are signed here with the test backend key, so these tests stand on the claims module
alone. Time comes from a fake monotonic clock; nothing sleeps.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from _clock import FakeClock
from _tokens import b64url
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

import hemproto
from hemproto.claims import MAX_REQUEST_BODY
from hemproto.device import FLS_LOCKED, FLS_SHUTDOWN, DeviceEmulator, LogEntry, Report
from hemproto.errors import ClaimError, DeviceStopped, InvalidKey, KeyAgreementError

START = 1_000.0
IAT = 1_764_000_000
LIFETIME = 300.0
QID = bytes(range(32))
FWS = bytes([0xF1]) * 64
BLS = bytes([0xB1]) * 64
UIS = bytes([0xD1]) * 32
CSN = bytes(range(16))
READABLE = (
    "rtc",
    "fls_state",
    "user_key_present",
    "certificate",
    "upgrade_pending",
    "reports",
    "serving",
    "log",
    "session_public_key",
    "outstanding_nonces",
    "last_action",
)


def make_certificate() -> bytes:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(32))
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "my.ence.do")])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int.from_bytes(CSN, "big"))
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .sign(key, None)
    )
    return certificate.public_bytes(serialization.Encoding.DER)


CERTIFICATE = make_certificate()


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture()
def make_device(backend_key: hemproto.KeyPair, clock: FakeClock) -> Callable[..., DeviceEmulator]:
    def make(**options: Any) -> DeviceEmulator:
        fields: dict[str, Any] = {
            "backend_public_key": backend_key.public,
            "qid": QID,
            "fws": FWS,
            "bls": BLS,
            "uis": UIS,
            "csn": CSN,
            "nonce_lifetime": LIFETIME,
            "monotonic": clock,
        }
        fields.update(options)
        return DeviceEmulator(**fields)

    return make


@pytest.fixture()
def device(make_device: Callable[..., DeviceEmulator]) -> DeviceEmulator:
    return make_device()


def answer(
    check_body: dict[str, str],
    backend: hemproto.KeyPair,
    *,
    act: str = "OK",
    iat: int = IAT,
    **fields: Any,
) -> dict[str, str]:
    """The reply a backend holding ``backend`` gives to ``check_body``.

    ``fields`` add or override claims; ``key`` overrides the MAC key.
    """
    challenge = hemproto.parse_check(check_body)
    signed: dict[str, Any] = {
        "jti": challenge.jti,
        "iss": backend.public,
        "aud": challenge.iss,
        "iat": iat,
        "act": act,
    }
    signed.update(fields)
    key = signed.pop("key") if "key" in signed else backend.shared(challenge.iss)
    return {"checked": hemproto.sign_checked(key, **signed)}


def snapshot(device: DeviceEmulator) -> dict[str, Any]:
    state = {name: getattr(device, name) for name in READABLE}
    state["now"] = device.now()
    return state


# --- the challenge ---------------------------------------------------------------------------


def test_challenge_is_a_check_for_the_trusted_backend(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    body = device.challenge()
    assert list(body) == ["check"]
    challenge = hemproto.verify_check(body, backend_key)
    assert challenge.iss == device.session_public_key
    assert challenge.aud == backend_key.public == device.backend_public_key
    assert (challenge.qid, challenge.fws, challenge.bls, challenge.uis, challenge.csn) == (
        QID,
        FWS,
        BLS,
        UIS,
        CSN,
    )
    assert device.outstanding_nonces == 1


def test_each_challenge_has_a_fresh_nonce(device: DeviceEmulator) -> None:
    nonces = {hemproto.parse_check(device.challenge()).jti for _ in range(10)}
    assert len(nonces) == 10
    assert device.outstanding_nonces == 10


def test_defaults_give_a_random_unit_without_dashboard(backend_key: hemproto.KeyPair) -> None:
    first = DeviceEmulator(backend_public_key=backend_key.public)
    second = DeviceEmulator(backend_public_key=backend_key.public)
    one, two = (hemproto.verify_check(d.challenge(), backend_key) for d in (first, second))
    assert one.uis is None
    assert (len(one.qid), len(one.fws), len(one.bls), len(one.csn)) == (32, 64, 64, 16)
    assert one.qid != two.qid
    assert first.session_public_key != second.session_public_key
    assert first.rtc is None and first.now() is None
    assert (first.fls_state, first.serving, first.user_key_present) == (0, True, True)
    assert (first.certificate, first.upgrade_pending, first.last_action) == (None, False, None)
    assert first.reports == () and first.log == ()


def test_the_check_mac_key_is_the_reply_mac_key(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    body = device.challenge()
    key = backend_key.shared(device.session_public_key)
    assert hemproto.verify_ejwt(body["check"], key)
    assert device.handle(answer(body, backend_key, key=key)) == (200, {"status": "OK"})


# --- accepted replies and their orders --------------------------------------------------------


def test_ok_reply_sets_the_rtc_and_consumes_the_nonce(
    device: DeviceEmulator, backend_key: hemproto.KeyPair, clock: FakeClock
) -> None:
    body = device.challenge()
    assert device.handle(answer(body, backend_key)) == (200, {"status": "OK"})
    assert device.rtc == IAT and device.now() == IAT
    assert device.log == (LogEntry("RTC_SET", IAT),)
    assert device.last_action == "OK"
    assert device.outstanding_nonces == 0
    clock.advance(61.7)
    assert device.now() == IAT + 61
    assert device.rtc == IAT


@pytest.mark.parametrize("act", hemproto.ACTIONS)
def test_every_action_with_trusted_backend(
    make_device: Callable[..., DeviceEmulator], backend_key: hemproto.KeyPair, act: str
) -> None:
    device = make_device()
    # A certificate installed first shows what a wipe removes and what the others keep.
    assert device.handle(answer(device.challenge(), backend_key, crt=CERTIFICATE))[0] == 200
    session = device.session_public_key
    spare = device.challenge()
    body = device.challenge()
    status, response = device.handle(answer(body, backend_key, act=act))
    assert (status, response) == (200, {"status": act})
    assert device.last_action == act
    jti = hemproto.parse_check(body).jti
    expected = {
        "fls_state": 0,
        "user_key_present": True,
        "certificate": CERTIFICATE,
        "upgrade_pending": False,
        "reports": (),
        "serving": True,
        "session_public_key": session,
        "rtc": IAT,
        "outstanding_nonces": 1,
    }
    shutdown: tuple[LogEntry, ...] = ()
    if act == "L":
        expected.update(fls_state=FLS_LOCKED, user_key_present=False)
        shutdown = (LogEntry("SHUTDOWN", IAT, "L"),)
    elif act == "B":
        expected.update(fls_state=FLS_SHUTDOWN, serving=False)
        shutdown = (LogEntry("SHUTDOWN", IAT, "B"),)
    elif act == "W":
        expected.update(
            user_key_present=False,
            certificate=None,
            session_public_key=device.session_public_key,
            rtc=None,
            outstanding_nonces=0,
        )
        assert device.session_public_key != session
        shutdown = (LogEntry("SHUTDOWN", IAT, "W"),)
    elif act == "U":
        expected.update(upgrade_pending=True)
    elif act == "R":
        expected.update(reports=(Report(jti, IAT),))
    assert {name: getattr(device, name) for name in expected} == expected
    assert device.log == (LogEntry("RTC_SET", IAT),) * 2 + shutdown
    # The other challenge is still answerable unless the device rebooted or stopped.
    expected_spare = {"W": 401, "B": 503}.get(act, 200)
    assert device.handle(answer(spare, backend_key))[0] == expected_spare


@pytest.mark.parametrize("act", hemproto.ACTIONS)
def test_actions_are_suppressed_without_trusted_backend(
    make_device: Callable[..., DeviceEmulator], backend_key: hemproto.KeyPair, act: str
) -> None:
    device = make_device(trusted_backend=False)
    before = snapshot(device)
    status, response = device.handle(answer(device.challenge(), backend_key, act=act))
    assert (status, response) == (200, {"status": "OK"})
    after = snapshot(device)
    # Only the trusted time and its log entry changed; no order ran.
    assert after.pop("rtc") == IAT and after.pop("now") == IAT
    assert after.pop("log") == (LogEntry("RTC_SET", IAT),)
    assert after.pop("last_action") == "OK"
    for name in ("rtc", "now", "log", "last_action"):
        del before[name]
    assert after == before


def test_without_trusted_ts_the_rtc_is_not_set(
    make_device: Callable[..., DeviceEmulator], backend_key: hemproto.KeyPair
) -> None:
    device = make_device(trusted_ts=False)
    body = device.challenge()
    assert device.handle(answer(body, backend_key, act="R")) == (200, {"status": "R"})
    assert device.rtc is None and device.now() is None
    assert device.log == ()
    assert device.reports == (Report(hemproto.parse_check(body).jti, None),)
    assert device.handle(answer(device.challenge(), backend_key, act="L"))[0] == 200
    assert device.log == (LogEntry("SHUTDOWN", None, "L"),)


def test_rtc_follows_each_accepted_reply(
    device: DeviceEmulator, backend_key: hemproto.KeyPair, clock: FakeClock
) -> None:
    device.handle(answer(device.challenge(), backend_key, iat=IAT))
    clock.advance(100)
    device.handle(answer(device.challenge(), backend_key, iat=IAT + 5))
    assert device.rtc == IAT + 5 and device.now() == IAT + 5
    clock.advance(10)
    assert device.now() == IAT + 15


def test_a_certificate_is_installed(device: DeviceEmulator, backend_key: hemproto.KeyPair) -> None:
    status, response = device.handle(answer(device.challenge(), backend_key, crt=CERTIFICATE))
    assert (status, response) == (200, {"status": "OK", "newcrt": "OK"})
    assert device.certificate == CERTIFICATE


def short_form(content: bytes) -> bytes:
    return b"\x30" + bytes([len(content)]) + content


BAD_CERTIFICATES = {
    "not a sequence": b"\x31" + CERTIFICATE[1:],
    "one byte short": CERTIFICATE[:-1],
    "one byte over": CERTIFICATE + b"\x00",
    "indefinite length": b"\x30\x80\x02\x01\x01\x00\x00",
    "long form for a short length": b"\x30\x81\x03\x02\x01\x01",
    "leading zero length byte": b"\x30\x82\x00\x03\x02\x01\x01",
    "five length bytes": b"\x30\x85" + (3).to_bytes(5, "big") + b"\x02\x01\x01",
    "length byte missing": b"\x30\x82\x01",
    "empty sequence": b"\x30\x00",
    "one byte": b"\x30",
    "text": b"-----BEGIN CERTIFICATE-----",
}


@pytest.mark.parametrize("crt", BAD_CERTIFICATES.values(), ids=BAD_CERTIFICATES.keys())
def test_a_certificate_that_is_not_der_is_refused(
    device: DeviceEmulator, backend_key: hemproto.KeyPair, crt: bytes
) -> None:
    device.handle(answer(device.challenge(), backend_key, crt=CERTIFICATE))
    status, response = device.handle(answer(device.challenge(), backend_key, crt=crt))
    assert (status, response) == (200, {"status": "OK", "newcrt": "ERROR"})
    assert device.certificate == CERTIFICATE


def test_short_and_long_form_lengths_are_both_accepted(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    for crt in (short_form(b"\x02\x01\x01"), b"\x30\x81\x80" + bytes(128)):
        response = device.handle(answer(device.challenge(), backend_key, crt=crt))
        assert response == (200, {"status": "OK", "newcrt": "OK"})
        assert device.certificate == crt


def test_no_certificate_pushed_means_no_newcrt(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    assert device.handle(answer(device.challenge(), backend_key, act="U")) == (
        200,
        {"status": "U"},
    )


def test_a_certificate_is_refused_without_trusted_backend(
    make_device: Callable[..., DeviceEmulator], backend_key: hemproto.KeyPair
) -> None:
    device = make_device(trusted_backend=False)
    response = device.handle(answer(device.challenge(), backend_key, crt=CERTIFICATE))
    assert response == (200, {"status": "OK", "newcrt": "ERROR"})
    assert device.certificate is None


def test_a_certificate_pushed_with_a_wipe_is_reported_as_not_installed(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    reply = answer(device.challenge(), backend_key, act="W", crt=CERTIFICATE)
    assert device.handle(reply) == (200, {"status": "W", "newcrt": "ERROR"})
    assert device.certificate is None


@pytest.mark.parametrize("trusted_backend", [True, False])
def test_newer_release_information_is_passed_on(
    make_device: Callable[..., DeviceEmulator],
    backend_key: hemproto.KeyPair,
    trusted_backend: bool,
) -> None:
    device = make_device(trusted_backend=trusted_backend)
    # 0xfb bytes encode to "+" and "/": the answer must use the standard alphabet.
    newfws, newuis = bytes([0xFB]) * 64, bytes([0xFF]) * 32
    reply = answer(device.challenge(), backend_key, crt=CERTIFICATE, newfws=newfws, newuis=newuis)
    status, response = device.handle(reply)
    assert status == 200 and response is not None
    assert list(response) == ["status", "newcrt", "newfws", "newuis"]
    assert response["newfws"] == base64.b64encode(newfws).decode()
    assert response["newuis"] == base64.b64encode(newuis).decode()
    assert "+" in response["newfws"] and "/" in response["newuis"]
    only_uis = answer(device.challenge(), backend_key, newuis=newuis)
    assert device.handle(only_uis)[1] == {"status": "OK", "newuis": response["newuis"]}


# --- request bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        lambda body: body,
        json.dumps,
        lambda body: json.dumps(body).encode(),
        lambda body: bytearray(json.dumps(body).encode()),
        lambda body: memoryview(json.dumps(body).encode()),
        lambda body: json.dumps(body, indent=2),
    ],
    ids=["dict", "str", "bytes", "bytearray", "memoryview", "indented str"],
)
def test_every_body_form_is_accepted(
    device: DeviceEmulator, backend_key: hemproto.KeyPair, form: Callable[[Any], Any]
) -> None:
    assert device.handle(form(answer(device.challenge(), backend_key))) == (200, {"status": "OK"})


def padded(body: dict[str, str], size: int) -> bytes:
    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw + b" " * (size - len(raw))


def test_a_body_of_the_limit_is_read_and_one_byte_more_is_too_large(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    body = device.challenge()
    reply = answer(body, backend_key)
    before = snapshot(device)
    assert device.handle(padded(reply, MAX_REQUEST_BODY + 1)) == (413, None)
    assert device.handle(padded(reply, MAX_REQUEST_BODY + 1).decode()) == (413, None)
    assert snapshot(device) == before
    assert device.handle(padded(reply, MAX_REQUEST_BODY)) == (200, {"status": "OK"})


def test_a_dict_body_is_sized_by_its_compact_json(device: DeviceEmulator) -> None:
    overhead = len('{"checked":""}')
    assert device.handle({"checked": "x" * (MAX_REQUEST_BODY - overhead)}) == (400, None)
    assert device.handle({"checked": "x" * (MAX_REQUEST_BODY - overhead + 1)}) == (413, None)
    # Non-ASCII text is escaped in compact JSON, six bytes a character.
    assert device.handle({"checked": "\u00e9" * 1217}) == (413, None)


def test_a_str_body_is_sized_in_utf8_bytes(device: DeviceEmulator) -> None:
    text = '{"checked":"' + "\u00e9" * 3644 + '"}'
    assert len(text) <= MAX_REQUEST_BODY < len(text.encode())
    assert device.handle(text) == (413, None)


def test_size_is_checked_before_parsing(device: DeviceEmulator) -> None:
    assert device.handle(b"\xff" * (MAX_REQUEST_BODY + 1)) == (413, None)
    assert device.handle("[" * (MAX_REQUEST_BODY + 1)) == (413, None)
    assert device.handle([0] * 5000) == (413, None)


def test_a_body_of_no_json_type_is_a_programming_error(device: DeviceEmulator) -> None:
    with pytest.raises(TypeError):
        device.handle(object())


# --- refusals --------------------------------------------------------------------------------


def assert_refused(device: DeviceEmulator, body: Any, status: int) -> None:
    before = snapshot(device)
    assert device.handle(body) == (status, None)
    assert snapshot(device) == before


MALFORMED = {
    "not JSON": b"not json",
    "empty": b"",
    "JSON array text": "[]",
    "parsed array": [],
    "parsed null": None,
    "parsed number": 7,
    "bare token": "eyJhbGciOiJIUzI1NiJ9.e30.AAAA",
    "invalid UTF-8": b'{"checked":"\xff"}',
    "duplicate member": '{"checked":"a.b.c","checked":"a.b.c"}',
    "NaN": '{"checked":NaN}',
    "lone surrogate": '{"checked":"\ud800"}',
    "not a string": {"checked": 1},
    "null token": {"checked": None},
    "no member": {},
    "extra member": {"checked": "a.b.c", "status": "OK"},
    "garbage token": {"checked": "garbage"},
    "empty segments": {"checked": "a.b.c"},
    "two segments": {"checked": "eyJhbGciOiJIUzI1NiJ9.e30"},
    "non-finite number": {"checked": float("inf")},
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_requests_are_400(
    device: DeviceEmulator, backend_key: hemproto.KeyPair, body: Any
) -> None:
    device.handle(answer(device.challenge(), backend_key))
    device.challenge()
    assert_refused(device, body, 400)


def test_the_check_envelope_is_400(device: DeviceEmulator) -> None:
    check = device.challenge()
    assert_refused(device, check, 400)
    assert_refused(device, json.dumps(check), 400)


def test_a_header_the_family_forbids_is_400(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    token = answer(device.challenge(), backend_key)["checked"]
    header = b64url(b'{"alg":"none","ecdh":"x25519"}')
    assert_refused(device, {"checked": header + token[token.index(".") :]}, 400)


def test_a_bad_mac_is_401(device: DeviceEmulator, backend_key: hemproto.KeyPair) -> None:
    assert_refused(device, answer(device.challenge(), backend_key, key=bytes(32)), 401)


def test_a_reply_from_another_backend_key_is_401(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    body = device.challenge()
    stranger = hemproto.KeyPair.generate()
    # Named as itself, and impersonating the trusted key: neither has the right MAC key.
    assert_refused(device, answer(body, stranger), 401)
    impostor = answer(body, stranger, iss=backend_key.public)
    assert_refused(device, impostor, 401)
    assert device.handle(answer(body, backend_key))[0] == 200


def test_a_reply_for_another_devices_session_is_401(
    make_device: Callable[..., DeviceEmulator], backend_key: hemproto.KeyPair
) -> None:
    device, other = make_device(), make_device()
    device.challenge()
    assert_refused(device, answer(other.challenge(), backend_key), 401)
    assert other.outstanding_nonces == 1


def test_a_reply_to_a_nonce_never_issued_is_401(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    device.challenge()
    assert_refused(device, answer(device.challenge(), backend_key, jti=bytes(32)), 401)


def test_a_replayed_reply_is_401(device: DeviceEmulator, backend_key: hemproto.KeyPair) -> None:
    reply = answer(device.challenge(), backend_key, act="R")
    assert device.handle(reply) == (200, {"status": "R"})
    assert_refused(device, reply, 401)
    assert len(device.reports) == 1


def test_a_nonce_expires_after_its_lifetime(
    device: DeviceEmulator, backend_key: hemproto.KeyPair, clock: FakeClock
) -> None:
    late, in_time = device.challenge(), device.challenge()
    clock.advance(LIFETIME - 0.5)
    assert device.outstanding_nonces == 2
    assert device.handle(answer(in_time, backend_key)) == (200, {"status": "OK"})
    clock.advance(0.5)
    assert device.outstanding_nonces == 0
    assert_refused(device, answer(late, backend_key), 401)


def test_nonces_from_before_a_reboot_are_forgotten(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    device.handle(answer(device.challenge(), backend_key))
    old = device.challenge()
    old_session = device.session_public_key
    device.reboot()
    assert device.session_public_key != old_session
    assert (device.outstanding_nonces, device.rtc, device.now()) == (0, None, None)
    assert device.log == (LogEntry("RTC_SET", IAT),)
    # The reply as the backend signed it names the old session; and re-aimed at the new
    # session with the old nonce, the nonce is unknown.
    assert_refused(device, answer(old, backend_key), 401)
    fresh = hemproto.parse_check(device.challenge())
    reaimed = answer(old, backend_key, aud=fresh.iss, key=backend_key.shared(fresh.iss))
    assert_refused(device, reaimed, 401)


def test_a_check_reflected_as_a_reply_is_401(device: DeviceEmulator) -> None:
    check = device.challenge()
    assert_refused(device, {"checked": check["check"]}, 401)


def forge_reply(body: dict[str, str], backend: hemproto.KeyPair, change: dict[str, Any]) -> str:
    """A reply to ``body`` with its claims changed, MACed with ``change["key"]`` or the real key."""
    challenge = hemproto.parse_check(body)
    claims: dict[str, Any] = {
        "jti": challenge.jti,
        "iss": backend.public,
        "aud": challenge.iss,
        "iat": IAT,
        "act": "OK",
    }
    claims.update(change)
    key = claims.pop("key", backend.shared(challenge.iss))
    wire = {
        name: base64.b64encode(value).decode() if isinstance(value, bytes) else value
        for name, value in claims.items()
    }
    return hemproto.sign_ejwt(wire, key)


@pytest.mark.parametrize(
    "change",
    [
        {"key": bytes(range(32))},
        {"iss": bytes(32), "key": bytes(32)},
        {"aud": bytes(range(32))},
        {"act": "X"},
        {"iat": -1},
        {"iat": "1764000000"},
        {"newfws": bytes(63)},
    ],
    ids=["mac", "issuer", "audience", "action", "negative iat", "string iat", "short newfws"],
)
def test_a_refused_reply_does_not_burn_the_nonce(
    device: DeviceEmulator, backend_key: hemproto.KeyPair, change: dict[str, Any]
) -> None:
    body = device.challenge()
    genuine = answer(body, backend_key)
    token = forge_reply(body, backend_key, change)
    assert_refused(device, {"checked": token}, 401)
    assert device.handle(genuine) == (200, {"status": "OK"})


def test_outstanding_nonces_are_bounded(
    make_device: Callable[..., DeviceEmulator], backend_key: hemproto.KeyPair
) -> None:
    device = make_device(max_outstanding=4)
    bodies = [device.challenge() for _ in range(5)]
    assert device.outstanding_nonces == 4
    assert_refused(device, answer(bodies[0], backend_key), 401)
    for body in bodies[1:]:
        assert device.handle(answer(body, backend_key))[0] == 200
    for _ in range(1000):
        device.challenge()
    assert device.outstanding_nonces == 4


# --- soft-brick, wipe, reboot ----------------------------------------------------------------


def test_a_soft_bricked_device_stops_serving(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    pending = device.challenge()
    assert device.handle(answer(device.challenge(), backend_key, act="B")) == (
        200,
        {"status": "B"},
    )
    assert device.serving is False
    before = snapshot(device)
    for body in (answer(pending, backend_key), b"not json", b" " * (MAX_REQUEST_BODY + 1)):
        assert device.handle(body) == (503, None)
    with pytest.raises(DeviceStopped, match="soft-bricked"):
        device.challenge()
    assert snapshot(device) == before
    device.reboot()
    assert device.serving is False
    assert device.fls_state & FLS_SHUTDOWN
    with pytest.raises(hemproto.HemProtoError):
        device.challenge()


def test_a_wipe_reboots_into_a_new_session(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    old_session = device.session_public_key
    assert device.handle(answer(device.challenge(), backend_key, act="W"))[0] == 200
    assert device.session_public_key != old_session
    challenge = hemproto.verify_check(device.challenge(), backend_key)
    assert challenge.iss == device.session_public_key
    assert challenge.qid == QID
    assert device.handle(answer(device.challenge(), backend_key)) == (200, {"status": "OK"})


def test_a_locked_device_still_checks_in(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    device.handle(answer(device.challenge(), backend_key, act="L"))
    assert device.serving
    assert device.handle(answer(device.challenge(), backend_key, act="B"))[0] == 200
    assert device.fls_state == FLS_LOCKED | FLS_SHUTDOWN
    assert device.user_key_present is False


def test_a_wipe_keeps_latched_faults_and_the_audit_log(
    device: DeviceEmulator, backend_key: hemproto.KeyPair
) -> None:
    device.handle(answer(device.challenge(), backend_key, act="L"))
    device.handle(answer(device.challenge(), backend_key, act="U"))
    device.handle(answer(device.challenge(), backend_key, act="W"))
    assert device.fls_state == FLS_LOCKED
    assert device.upgrade_pending is True
    assert [entry.event for entry in device.log] == [
        "RTC_SET",
        "SHUTDOWN",
        "RTC_SET",
        "RTC_SET",
        "SHUTDOWN",
    ]


# --- construction ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, error",
    [
        ({"backend_public_key": bytes(31)}, InvalidKey),
        ({"backend_public_key": "00" * 32}, InvalidKey),
        ({"backend_public_key": bytes(32)}, KeyAgreementError),
        ({"qid": bytes(31)}, ClaimError),
        ({"fws": bytes(32)}, ClaimError),
        ({"bls": bytes(65)}, ClaimError),
        ({"uis": bytes(64)}, ClaimError),
        ({"csn": bytes(32)}, ClaimError),
        ({"qid": "00" * 32}, TypeError),
        ({"trusted_backend": 1}, TypeError),
        ({"trusted_ts": None}, TypeError),
        ({"nonce_lifetime": "300"}, TypeError),
        ({"nonce_lifetime": True}, TypeError),
        ({"nonce_lifetime": 0}, ValueError),
        ({"nonce_lifetime": float("inf")}, ValueError),
        ({"max_outstanding": 2.0}, TypeError),
        ({"max_outstanding": 0}, ValueError),
        ({"monotonic": 0.0}, TypeError),
    ],
)
def test_construction_validates_every_argument(
    make_device: Callable[..., DeviceEmulator], options: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        make_device(**options)


def test_identity_claim_errors_name_the_claim(
    make_device: Callable[..., DeviceEmulator],
) -> None:
    with pytest.raises(ClaimError) as info:
        make_device(csn=bytes(15))
    assert info.value.claim == "csn"


def test_the_backend_key_is_required() -> None:
    with pytest.raises(TypeError):
        DeviceEmulator()  # type: ignore[call-arg]


def test_bytes_like_arguments_are_accepted(
    make_device: Callable[..., DeviceEmulator], backend_key: hemproto.KeyPair
) -> None:
    device = make_device(qid=bytearray(QID), backend_public_key=memoryview(backend_key.public))
    assert device.qid == QID and type(device.qid) is bytes
    assert type(device.backend_public_key) is bytes


def test_no_secret_in_repr_or_errors(device: DeviceEmulator, backend_key: hemproto.KeyPair) -> None:
    text = repr(device)
    assert QID.hex() in text and device.session_public_key.hex() in text
    secrets = [device._session.private_bytes().hex(), device._mac_key.hex()]
    device.handle(answer(device.challenge(), backend_key, act="B"))
    with pytest.raises(DeviceStopped) as info:
        device.challenge()
    for secret in secrets:
        assert secret not in text
        assert secret not in str(info.value)


# --- any input -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.text(max_size=400),
        st.dictionaries(st.text(max_size=10), st.text(max_size=50), max_size=3),
        st.fixed_dictionaries({"checked": st.text(max_size=300)}),
    )
)
def test_arbitrary_bodies_are_refused_without_a_change(body: Any) -> None:
    backend = hemproto.KeyPair(bytes(range(32)))
    device = DeviceEmulator(backend_public_key=backend.public, monotonic=FakeClock(START))
    device.challenge()
    before = snapshot(device)
    status, response = device.handle(body)
    assert status in (400, 401) and response is None
    assert snapshot(device) == before
