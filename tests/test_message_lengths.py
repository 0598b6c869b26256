"""Every refusal message stays short, whatever an attacker puts in the input.

Refusals are logged (Backend.handle logs each at INFO) and shown to operators, so a
message that echoes a hostile member name or value would let one request write kilobytes
into a log. Here every public entry point that takes untrusted input is fed hostile inputs
at the size caps (an 8,192-character token, a 7,300-byte request body, a 16,384-byte body
text, an 8,192-byte CBOR envelope): huge member names and values in the header, the
payload and the body, long numbers, many members, repeated names. Every message, and every
log record, must be at most MESSAGE_BOUND characters, on both codecs.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import cbor2
import pytest
from _both_codecs import CODEC_NAMES, get_codec
from _clock import FakeClock
from _hostile_world import codec

import hemproto
from hemproto import cbor
from hemproto.claims import MAX_BODY_LENGTH, MAX_REQUEST_BODY, request_object, unwrap_body
from hemproto.jws import MAX_TOKEN_LENGTH

MESSAGE_BOUND = 200
BACKEND_KEY = hemproto.KeyPair(bytes(range(32)))
MAC_KEY = bytes(range(32, 64))
HUGE = 6000  # characters of a hostile name or value: within every cap below once encoded
LONG_NUMBER = "9" * HUGE
SIGNATURE = base64.urlsafe_b64encode(bytes(32)).rstrip(b"=").decode()


def b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode()


def token(header: str, payload: str) -> str:
    return f"{b64url(header)}.{b64url(payload)}.{SIGNATURE}"


HEADER = '{"ecdh":"x25519","typ":"JWT","alg":"HS256"}'
NAME = "n" * HUGE
ESCAPED_NAME = "\\u006e" * (HUGE // 6)
NON_ASCII_NAME = "\U0001f600" * (HUGE // 4)  # repr shows it as is; escapes lengthen others
CONTROL_NAME = "\\u0001" * (HUGE // 6)  # repr shows each as \x01: four times its length

# Header and payload JSON texts that are refused, each spending most of a token on the one
# thing a message could echo.
HOSTILE_HEADERS = {
    "huge member name": '{"' + NAME + '":"x"}',
    "huge escaped member name": '{"' + CONTROL_NAME + '":"x"}',
    "huge non-ASCII member name": '{"' + NON_ASCII_NAME[: HUGE // 8] + '":"x"}',
    "huge alg value": '{"alg":"' + NAME + '","ecdh":"x25519"}',
    "huge alg list": '{"alg":[' + ",".join(["1"] * (HUGE // 2)) + '],"ecdh":"x25519"}',
    "repeated huge name": '{"' + NAME[:2000] + '":1,"' + NAME[:2000] + '":2}',
    "repeated escaped name": '{"' + CONTROL_NAME[:2400] + '":1,"' + CONTROL_NAME[:2400] + '":2}',
    "long number": '{"alg":' + LONG_NUMBER + "}",
    "long float": '{"alg":1' + "0" * HUGE + ".0}",
    "brackets": "[" + ",".join(["{}"] * (HUGE // 3)) + "]",
    "too deep": "[" * 17 + "]" * 17,
    "not JSON": "{" + NAME,
}
HOSTILE_PAYLOADS = {
    "repeated huge claim": '{"' + NAME[:2000] + '":1,"' + NAME[:2000] + '":2}',
    "repeated escaped claim": '{"' + CONTROL_NAME[:2400] + '":1,"' + CONTROL_NAME[:2400] + '":2}',
    "huge jti": '{"jti":"' + "A" * HUGE + '"}',
    "huge jti with a bad character": '{"jti":"' + "A" * HUGE + '\\u00e9"}',
    "huge jti number": '{"jti":' + LONG_NUMBER + "}",
    "huge jti list": '{"jti":[' + ",".join(['"' + "A" * 40 + '"'] * 100) + "]}",
    "huge iat": '{"iat":' + "1" * 17 + "}",
    "huge act": '{"act":"' + NAME + '"}',
    "many members": "{" + ",".join(f'"m{i}":0' for i in range(HUGE // 10)) + "}",
    "huge extra claim": '{"' + NAME + '":0}',
    "NaN": '{"jti":NaN}',
    "huge float": '{"iat":1' + "0" * 400 + ".0}",
}


def hostile_tokens() -> dict[str, str]:
    tokens = {f"header: {k}": token(v, "{}") for k, v in HOSTILE_HEADERS.items()}
    tokens |= {f"payload: {k}": token(HEADER, v) for k, v in HOSTILE_PAYLOADS.items()}
    tokens |= {
        "too long": "a" * (MAX_TOKEN_LENGTH + 1),
        "many dots": "." * MAX_TOKEN_LENGTH,
        "one huge segment": "A" * MAX_TOKEN_LENGTH,
        "a bad character at the end": "A" * (MAX_TOKEN_LENGTH - 2) + "=.",
        "non-ASCII at the end": "A" * (MAX_TOKEN_LENGTH - 1) + "\u00e9",
        "huge signature": f"{b64url(HEADER)}.{b64url('{}')}.{'A' * 6000}",
    }
    for name, text in tokens.items():
        assert len(text) <= MAX_TOKEN_LENGTH + 1, name
    return tokens


def hostile_bodies(member: str) -> dict[str, bytes]:
    """Raw request bodies at most MAX_REQUEST_BODY bytes long (one over, for the 413)."""
    room = MAX_REQUEST_BODY - len(member) - 8
    bodies = {
        "huge member name": ('{"' + "n" * room + '":"x"}').encode(),
        "huge escaped member name": ('{"' + "\\u0001" * (room // 6) + '":"x"}').encode(),
        "two huge member names": (
            '{"' + "n" * (room // 2 - 8) + '":0,"m' + "n" * (room // 2 - 8) + '":0}'
        ).encode(),
        "repeated huge name": (
            '{"' + "n" * (room // 2 - 8) + '":0,"' + "n" * (room // 2 - 8) + '":0}'
        ).encode(),
        "huge value": (
            '{"' + member + '":' + "[" + ",".join(["1"] * (room // 2 - 4)) + "]}"
        ).encode(),
        "huge token": ('{"' + member + '":"' + "A" * room + '"}').encode(),
        "huge escaped token": ('{"' + member + '":"' + "\\u0041" * (room // 6) + '"}').encode(),
        "long number": ('{"' + member + '":"x","n":' + "9" * (room - 12) + "}").encode(),
        "long float": ('{"n":1' + "0" * (room - 4) + ".5}").encode(),
        "many members": ("{" + ",".join(f'"m{i}":0' for i in range(room // 10)) + "}").encode(),
        "brackets": ("[" + ",".join(["{}"] * (room // 3)) + "]").encode(),
        "not JSON": ("{" + "n" * room).encode(),
        "invalid UTF-8": b'{"' + b"n" * (room - 4) + b'\xff":0}',
        "one over the cap": b"{" + b" " * MAX_REQUEST_BODY + b"}",
    }
    bodies |= {
        f"token, {name}": json.dumps({member: text}).encode()
        for name, text in hostile_tokens().items()
        if len(json.dumps({member: text})) <= MAX_REQUEST_BODY
    }
    for name, body in bodies.items():
        assert len(body) <= MAX_REQUEST_BODY or name == "one over the cap", name
    return bodies


def envelopes() -> dict[str, bytes]:
    """CBOR envelopes of at most cbor.MAX_CBOR_LENGTH bytes that from_cbor refuses."""
    long_name = "n" * 7000
    signature = bytes(32)
    items: dict[str, Any] = {
        "huge claim name, base64 text": [0, 0, [long_name, "AAAA"], signature],
        "huge claim name, NaN": [0, 0, [long_name, float("nan")], signature],
        "huge claim name, huge integer": [0, 0, [long_name, 2**60], signature],
        "huge claim name, bytes inside": [0, 0, [long_name, [b"x"]], signature],
        "huge claim name, map key": [0, 0, [long_name, {1: 2}], signature],
        "huge claim name twice": [0, 0, [long_name[:3000], 1, long_name[:3000], 2], signature],
        "huge header text": [0, '{"' + long_name + '":1}', [], signature],
        "huge payload bytes": [1, 0, b"{" + b"n" * 7000, signature],
        "huge signature": [1, 0, b"{}", bytes(7000)],
        "unknown form": [2**63, 0, b"{}", signature],
        "unknown claim key": [0, 0, [2**63, 1], signature],
        "five elements": [0, 0, [], signature, long_name[:7000]],
    }
    made = {name: cbor2.dumps(value, canonical=True) for name, value in items.items()}
    made["trailing bytes"] = made["huge signature"] + b"\x00" * 100
    made["too long"] = bytes(cbor.MAX_CBOR_LENGTH + 1)
    for name, data in made.items():
        assert len(data) <= cbor.MAX_CBOR_LENGTH + 1, name
    return made


# --- checking -----------------------------------------------------------------------------------


def bounded(text: str, what: str) -> None:
    assert len(text) <= MESSAGE_BOUND, (
        f"{what}: a message of {len(text)} characters: {text[:300]!r}"
    )


def refusal(call: Callable[[], Any], what: str) -> str | None:
    """Run ``call``; return the message of the hemproto error it raises (checked short), or
    None when it returns."""
    try:
        call()
    except hemproto.HemProtoError as exc:
        bounded(str(exc), what)
        return str(exc)
    return None


@pytest.fixture(params=CODEC_NAMES)
def on_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    with codec(get_codec(request.param)):
        yield request.param


@pytest.fixture
def records(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[str]]]:
    with caplog.at_level(logging.DEBUG, logger="hemproto"):

        def messages() -> list[str]:
            found = [record.getMessage() for record in caplog.records]
            caplog.clear()
            return found

        yield messages


TOKENS = hostile_tokens()


@pytest.mark.parametrize("name", sorted(TOKENS))
def test_token_entry_points(name: str, on_backend: str) -> None:
    text = TOKENS[name]
    calls: dict[str, Callable[[], Any]] = {
        "decode_ejwt": lambda: hemproto.decode_ejwt(text),
        "decode_ejwt(bytes)": lambda: hemproto.decode_ejwt(text.encode("utf-8")),
        "verify_ejwt": lambda: hemproto.verify_ejwt(text, MAC_KEY),
        "parse_check": lambda: hemproto.parse_check(text),
        "verify_check": lambda: hemproto.verify_check(text, BACKEND_KEY),
        "parse_checked": lambda: hemproto.parse_checked(text),
        "verify_checked": lambda: hemproto.verify_checked(text, MAC_KEY),
        "to_cbor": lambda: hemproto.to_cbor(text),
    }
    refused = {what: refusal(call, f"{what} of {name}") for what, call in calls.items()}
    # decode_ejwt and to_cbor may take a token with odd claims; no message check does.
    checks = ("verify_ejwt", "parse_check", "verify_check", "parse_checked", "verify_checked")
    assert all(refused[what] is not None for what in checks), refused


@pytest.mark.parametrize("member", ["check", "checked"])
def test_body_entry_points(member: str, on_backend: str, records: Callable[[], list[str]]) -> None:
    backend = hemproto.Backend(BACKEND_KEY)
    device = hemproto.DeviceEmulator(backend_public_key=BACKEND_KEY.public, monotonic=FakeClock(0))
    for name, body in hostile_bodies(member).items():
        what = f"{name} ({member})"
        # Some of these are objects request_object takes; the rest must be refused briefly.
        refusal(lambda: request_object(body), f"request_object of {what}")
        if len(body) <= MAX_BODY_LENGTH:  # a well-formed envelope is unwrapped, not refused
            refusal(lambda: unwrap_body(body, member), f"unwrap_body of {what}")
            text = body.decode("utf-8", "replace")
            refusal(lambda: unwrap_body(text, member), f"unwrap_body of {what} as text")
        parse = hemproto.parse_check if member == "check" else hemproto.parse_checked
        assert refusal(lambda: parse(body), f"{parse.__name__} of {what}") is not None
        if member == "check":
            assert refusal(lambda: hemproto.verify_check(body, BACKEND_KEY), what) is not None
            status, reply = backend.handle(body)
            assert status in (400, 401, 413) and reply is None, what
            result = backend.process(body)
            bounded(result.reason, f"Backend.process reason for {what}")
        else:
            assert refusal(lambda: hemproto.verify_checked(body, MAC_KEY), what) is not None
            status, reply = device.handle(body)
            assert status in (400, 401, 413) and reply is None, what
        for message in records():
            bounded(message, f"a log record for {what}")


def test_the_backend_logs_each_refusal_in_one_short_line(
    on_backend: str, records: Callable[[], list[str]]
) -> None:
    backend = hemproto.Backend(BACKEND_KEY)
    bodies = hostile_bodies("check")
    for name, body in bodies.items():
        backend.handle(body)
        logged = records()
        assert len(logged) == 1, (name, logged)
        bounded(logged[0], f"the log line for {name}")
        assert "\n" not in logged[0]


@pytest.mark.parametrize("name", sorted(envelopes()))
def test_cbor_envelopes(name: str, on_backend: str) -> None:
    data = envelopes()[name]
    assert refusal(lambda: hemproto.from_cbor(data), f"from_cbor of {name}") is not None


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
def test_base64_decoders(codec_name: str) -> None:
    codec = get_codec(codec_name)
    hostile = [
        "A" * 8191 + "\u00e9",
        "A" * 8190 + "\U0001f600",
        "A" * 8191 + "\x00",
        "A" * 8189,
        "A" * 8000 + "=" * 100,
        "A" * 8191 + "B",
        ("A" * 8191 + "\udc80"),
    ]
    for text in hostile:
        for decode in (codec.b64url_decode, codec.b64_decode):
            for form in (text, text.encode("utf-8", "surrogatepass")):
                refusal(lambda: decode(form), f"{decode.__name__} of {len(text)} characters")


def test_the_bound_is_met_by_the_longest_known_message() -> None:
    # The longest fixed wording, with every echoed part at its cut: still under the bound.
    header = '{"' + CONTROL_NAME + '":"x"}'
    message = refusal(lambda: hemproto.decode_ejwt(token(header, "{}")), "header name")
    assert message is not None and "is not allowed" in message
    duplicate = '{"' + CONTROL_NAME[:600] + '":1,"' + CONTROL_NAME[:600] + '":2}'
    message = refusal(lambda: hemproto.decode_ejwt(token(HEADER, duplicate)), "repeated name")
    assert message is not None and "duplicate member" in message
