"""Tokens of the HEM family: signing, decoding, verification, and every structural refusal."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from _tamper import every_single_change
from _tokens import b64url, forge, ijson_text
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import hemproto
from hemproto import _codec, jws
from hemproto._json import MAX_VALUES
from hemproto.errors import BadSignature, HemProtoError, InvalidKey, MalformedToken

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
CLAIMS = {"jti": "kIA3YrCAbi1vCU1h8ypn2Kts1QSDOQUKNsaUIgWoSr0=", "n": 1, "s": "x"}


GOOD_HEADER = {"ecdh": "x25519", "typ": "JWT", "alg": "HS256"}


def test_sign_uses_the_device_header_and_compact_json() -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    header, payload, _ = token.split(".")
    assert hemproto.b64url_decode(header) == b'{"ecdh":"x25519","typ":"JWT","alg":"HS256"}'
    assert hemproto.b64url_decode(payload) == json.dumps(CLAIMS, separators=(",", ":")).encode()


def test_sign_is_deterministic_and_matches_an_independent_hs256() -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    assert token == hemproto.sign_ejwt(dict(CLAIMS), KEY)
    assert token == forge(GOOD_HEADER, CLAIMS)


def test_round_trip_and_decode_fields() -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    assert hemproto.verify_ejwt(token, KEY) == CLAIMS
    assert hemproto.verify_ejwt(token.encode(), bytearray(KEY)) == CLAIMS
    decoded = hemproto.decode_ejwt(token)
    assert decoded.token == token
    assert decoded.header == GOOD_HEADER
    assert decoded.claims == CLAIMS
    assert decoded.signing_input == token.rsplit(".", 1)[0].encode()
    assert decoded.signature == hmac.new(KEY, decoded.signing_input, hashlib.sha256).digest()


def test_claims_keep_insertion_order() -> None:
    claims = {"z": 1, "a": 2, "m": 3}
    assert list(hemproto.verify_ejwt(hemproto.sign_ejwt(claims, KEY), KEY)) == ["z", "a", "m"]


def test_header_member_order_does_not_matter() -> None:
    login_style = {"ecdh": "x25519", "alg": "HS256", "typ": "JWT"}
    token = hemproto.sign_ejwt(CLAIMS, KEY, header=login_style)
    assert hemproto.decode_ejwt(token).header == login_style
    assert hemproto.verify_ejwt(forge({"alg": "HS256", "ecdh": "x25519"}, CLAIMS), KEY) == CLAIMS


def test_wrong_key_is_a_bad_signature() -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    with pytest.raises(BadSignature):
        hemproto.verify_ejwt(token, OTHER_KEY)


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33), bytes(64)])
def test_mac_keys_must_be_32_bytes(key: bytes) -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    with pytest.raises(InvalidKey, match="32 bytes"):
        hemproto.verify_ejwt(token, key)
    with pytest.raises(InvalidKey):
        hemproto.sign_ejwt(CLAIMS, key)


@pytest.mark.parametrize("key", ["k" * 32, 32, None])
def test_mac_keys_must_be_bytes(key: Any) -> None:
    with pytest.raises(InvalidKey):
        hemproto.sign_ejwt(CLAIMS, key)


def test_mac_is_checked_by_the_codec_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # The codec's hs256_verify computes the MAC and compares it in constant time
    # (hem_ct_equal in C, hmac.compare_digest in Python); jws never compares MACs itself.
    calls: list[tuple[bytes, bytes, bytes]] = []
    real = _codec.hs256_verify

    def spy(key: bytes, message: bytes, mac: bytes) -> bool:
        calls.append((key, message, mac))
        return real(key, message, mac)

    monkeypatch.setattr(_codec, "hs256_verify", spy)
    monkeypatch.setattr(_codec, "ct_equal", None)  # any direct compare would now fail
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    hemproto.verify_ejwt(token, KEY)
    with pytest.raises(BadSignature):
        hemproto.verify_ejwt(token, OTHER_KEY)
    assert [key for key, _, _ in calls] == [KEY, OTHER_KEY]
    assert calls[0][1] == token.rsplit(".", 1)[0].encode()
    assert calls[0][2] == hemproto.decode_ejwt(token).signature


# --- PyJWT interoperability -------------------------------------------------------------


def test_pyjwt_verifies_hemproto_tokens() -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    assert jwt.get_unverified_header(token) == GOOD_HEADER
    assert jwt.decode(token, KEY, algorithms=["HS256"]) == CLAIMS


def test_hemproto_verifies_pyjwt_tokens() -> None:
    token = jwt.encode(CLAIMS, KEY, algorithm="HS256", headers={"ecdh": "x25519"})
    assert jwt.get_unverified_header(token)["ecdh"] == "x25519"
    assert hemproto.verify_ejwt(token, KEY) == CLAIMS
    with pytest.raises(BadSignature):
        hemproto.verify_ejwt(token, OTHER_KEY)


def test_pyjwt_token_without_ecdh_header_is_refused() -> None:
    token = jwt.encode(CLAIMS, KEY, algorithm="HS256")
    with pytest.raises(MalformedToken, match="ecdh"):
        hemproto.verify_ejwt(token, KEY)


# --- structural refusals -----------------------------------------------------------------


def refused(token: Any, segment: str | None = None, match: str | None = None) -> MalformedToken:
    with pytest.raises(MalformedToken, match=match) as info:
        hemproto.verify_ejwt(token, KEY)
    if segment is not None:
        assert info.value.segment == segment
    return info.value


@pytest.mark.parametrize(
    "header, match",
    [
        ({"ecdh": "x25519", "typ": "JWT", "alg": "none"}, "alg"),
        ({"ecdh": "x25519", "typ": "JWT", "alg": "HS512"}, "alg"),
        ({"ecdh": "x25519", "typ": "JWT", "alg": "RS256"}, "alg"),
        ({"ecdh": "x25519", "typ": "JWT", "alg": "hs256"}, "alg"),
        ({"ecdh": "x25519", "typ": "JWT"}, "'alg' is missing"),
        ({"typ": "JWT", "alg": "HS256"}, "'ecdh' is missing"),
        ({"ecdh": "x448", "alg": "HS256"}, "ecdh"),
        ({"ecdh": "P-256", "alg": "HS256"}, "ecdh"),
        ({"ecdh": "x25519", "alg": "HS256", "typ": "JOSE"}, "typ"),
        ({"ecdh": "x25519", "alg": "HS256", "crit": ["exp"]}, "crit"),
        ({"ecdh": "x25519", "alg": "HS256", "kid": "1"}, "kid"),
        ({"ecdh": "x25519", "alg": "HS256", "jwk": {}}, "jwk"),
        ({"ecdh": None, "alg": "HS256"}, "ecdh"),
        ({"ecdh": "x25519", "alg": ["HS256"]}, "alg"),
        ([], "object"),
        ("HS256", "object"),
        (1, "object"),
        (None, "object"),
    ],
)
def test_header_rules(header: Any, match: str) -> None:
    refused(forge(header, CLAIMS), "header", match)


@pytest.mark.parametrize(
    "header, payload, segment, match",
    [
        (GOOD_HEADER, [1, 2], "payload", "object"),
        (GOOD_HEADER, "claims", "payload", "object"),
        (GOOD_HEADER, None, "payload", "object"),
    ],
)
def test_payload_must_be_an_object(header: Any, payload: Any, segment: str, match: str) -> None:
    refused(forge(header, payload), segment, match)


HDR = json.dumps(GOOD_HEADER, separators=(",", ":"))


@pytest.mark.parametrize(
    "header_text, payload_text, segment, match",
    [
        ('{"alg":"HS256","alg":"HS256","ecdh":"x25519"}', "{}", "header", "duplicate"),
        (HDR, '{"a":1,"a":1}', "payload", "duplicate"),
        (HDR, '{"a":{"b":1,"b":2}}', "payload", "duplicate"),
        (HDR, '{"a":NaN}', "payload", "NaN"),
        (HDR, '{"a":Infinity}', "payload", "Infinity"),
        (HDR, '{"a":-Infinity}', "payload", "Infinity"),
        (HDR, '{"a":1e999}', "payload", "range"),
        (HDR, '{"a":9007199254740992}', "payload", "range"),
        (HDR, '{"a":-9007199254740992}', "payload", "range"),
        (HDR, '{"a":' + "9" * 5000 + "}", "payload", "range"),
        (HDR, '{"a":' + "[" * 17 + "]" * 17 + "}", "payload", "nesting"),
        (HDR, '{"a":' + "[" * 3000 + "]" * 3000 + "}", "payload", "nesting"),
        (HDR, '{"a":1', "payload", "invalid JSON"),
        (HDR, '{"a":1} x', "payload", "invalid JSON"),
        (HDR, "", "payload", "empty"),
        (HDR, "\ufeff{}", "payload", "invalid JSON"),
        (HDR, '{"a":"\\ud800"}', "payload", "surrogate"),
        (HDR, '{"a":"\\udc00\\ud800"}', "payload", "surrogate"),
        (HDR, '{"\\ud83d":1}', "payload", "surrogate"),
        (HDR, '{"a":["\\uffff"]}', "payload", "noncharacter"),
        (HDR, '{"a":"\\ufdd0"}', "payload", "noncharacter"),
        (HDR, '{"a":"\ufffe"}', "payload", "noncharacter"),
        (HDR, '{"a":"\U0010ffff"}', "payload", "noncharacter"),
    ],
)
def test_json_rules(header_text: str, payload_text: str, segment: str, match: str) -> None:
    refused(forge(header_text, payload_text, raw=True), segment, match)


def test_json_limits_admit_their_edge() -> None:
    edge = {"a": 9007199254740991, "b": -9007199254740991, "c": 1.5e300}
    assert hemproto.verify_ejwt(forge(GOOD_HEADER, edge), KEY) == edge
    nested = '{"a":' + "[" * 15 + "]" * 15 + "}"  # depth 16 with the outer object
    assert hemproto.verify_ejwt(forge(HDR, nested, raw=True), KEY)
    brackets_in_strings = {"s": "[" * 100 + "{" * 100}
    assert hemproto.verify_ejwt(forge(GOOD_HEADER, brackets_in_strings), KEY) == brackets_in_strings


def test_invalid_utf8_payload_is_refused() -> None:
    payload = b'{"a":"' + b"\xff" + b'"}'
    signing_input = f"{b64url(HDR.encode())}.{b64url(payload)}"
    mac = hmac.new(KEY, signing_input.encode(), hashlib.sha256).digest()
    refused(f"{signing_input}.{b64url(mac)}", "payload", "UTF-8")


def test_segment_count_and_emptiness() -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    h, p, s = token.split(".")
    refused(f"{h}.{p}", "token", "3 segments")
    refused(f"{h}.{p}.{s}.{s}", "token", "3 segments")
    refused(f"{h}.{p}.{s}.", "token", "3 segments")
    refused("", "token", "3 segments")
    refused("..", "header", "empty")
    refused(f".{p}.{s}", "header", "empty")
    refused(f"{h}..{s}", "payload", "empty")
    refused(f"{h}.{p}.", "signature", "empty")


def test_token_length_limit_is_checked_first() -> None:
    refused("." * (hemproto.MAX_TOKEN_LENGTH + 1), "token", "longer than")
    refused(b"x" * 10_000_000, "token", "longer than")


def test_token_at_the_limit_is_accepted_and_longer_ones_are_not() -> None:
    n = 6000
    while len(forge(GOOD_HEADER, {"f": "a" * (n + 1)})) <= hemproto.MAX_TOKEN_LENGTH:
        n += 1
    longest = hemproto.sign_ejwt({"f": "a" * n}, KEY)
    assert hemproto.MAX_TOKEN_LENGTH - 2 <= len(longest) <= hemproto.MAX_TOKEN_LENGTH
    assert hemproto.verify_ejwt(longest, KEY)["f"] == "a" * n
    too_long = forge(GOOD_HEADER, {"f": "a" * (n + 1)})
    assert len(too_long) > hemproto.MAX_TOKEN_LENGTH
    refused(too_long, "token", "longer than")
    with pytest.raises(MalformedToken, match="exceed"):
        hemproto.sign_ejwt({"f": "a" * (n + 1)}, KEY)


@pytest.mark.parametrize(
    "damage, segment",
    [
        (lambda h, p, s: f"{h}=.{p}.{s}", "header"),
        (lambda h, p, s: f"{h}.{p}==.{s}", "payload"),
        (lambda h, p, s: f"{h}.{p}.{s}=", "signature"),
        (lambda h, p, s: f"{h}.{p.replace('-', '+').replace('_', '/')}+.{s}", "payload"),
        (lambda h, p, s: f"{h}.{p}.{s[:-1]}/", "signature"),
        (lambda h, p, s: f" {h}.{p}.{s}", "header"),
        (lambda h, p, s: f"{h}.{p}.{s}\n", "signature"),
        (lambda h, p, s: f"{h}.{p[:10]} {p[10:]}.{s}", "payload"),
        (lambda h, p, s: f"{h}.{p}.{s[:-1]}é", "signature"),
    ],
)
def test_segments_must_be_canonical_base64url(damage: Any, segment: str) -> None:
    h, p, s = hemproto.sign_ejwt({"k": "v" * 40}, KEY).split(".")
    error = refused(damage(h, p, s), segment)
    assert error.offset is not None


def test_offset_points_into_the_whole_token() -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    h, p, s = token.split(".")
    damaged = f"{h}.{p[:5]}*{p[6:]}.{s}"
    error = refused(damaged, "payload")
    assert error.offset == len(h) + 1 + 5
    assert damaged[error.offset] == "*"


def test_non_zero_trailing_bits_in_the_signature_are_refused() -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    # 43 characters carry 258 bits for 256: the last character's low 2 bits must be zero.
    last = token[-1]
    value = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(last)
    alias = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[value | 1]
    refused(token[:-1] + alias, "signature", "unused bits")


@pytest.mark.parametrize(
    "change", [lambda m: m[:31], lambda m: m[:1], lambda m: m + b"\x00", lambda m: m + m]
)
def test_signature_must_be_32_bytes(change: Any) -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    h, p, s = token.split(".")
    mac = hemproto.b64url_decode(s)
    refused(f"{h}.{p}.{b64url(change(mac))}", "signature", "32 bytes")


def test_signature_from_another_token_is_refused() -> None:
    one = hemproto.sign_ejwt({"a": 1}, KEY)
    two = hemproto.sign_ejwt({"a": 2}, KEY)
    with pytest.raises(BadSignature):
        hemproto.verify_ejwt(one.rsplit(".", 1)[0] + "." + two.rsplit(".", 1)[1], KEY)


def test_non_ascii_bytes_token() -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY).encode()
    error = refused(token[:7] + b"\xc3\xa9" + token[9:], "token", "non-ASCII")
    assert error.offset == 7


@pytest.mark.parametrize("token", [None, 1, ["a.b.c"], {"t": "a.b.c"}])
def test_token_type(token: Any) -> None:
    with pytest.raises(TypeError):
        hemproto.decode_ejwt(token)


def test_every_single_character_change_is_refused() -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    for what, damaged in every_single_change(token):
        with pytest.raises(HemProtoError):
            hemproto.verify_ejwt(damaged, KEY)
            pytest.fail(f"{what} was accepted")


def test_sign_refuses_what_decode_would_refuse() -> None:
    with pytest.raises(MalformedToken):
        hemproto.sign_ejwt(CLAIMS, KEY, header={"alg": "none", "ecdh": "x25519"})
    with pytest.raises(MalformedToken):
        hemproto.sign_ejwt(CLAIMS, KEY, header={"alg": "HS256"})
    with pytest.raises(MalformedToken):
        hemproto.sign_ejwt({"a": float("nan")}, KEY)
    with pytest.raises(MalformedToken):
        hemproto.sign_ejwt({"a": 2**60}, KEY)
    with pytest.raises(TypeError):
        hemproto.sign_ejwt({1: "a"}, KEY)  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        hemproto.sign_ejwt([("a", 1)], KEY)  # type: ignore[arg-type]


def test_decoded_token_is_frozen() -> None:
    decoded = hemproto.decode_ejwt(hemproto.sign_ejwt(CLAIMS, KEY))
    with pytest.raises(AttributeError):
        decoded.claims = {}  # type: ignore[misc]


def test_errors_never_contain_the_key() -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    for key in (OTHER_KEY, KEY[:31]):
        with pytest.raises(HemProtoError) as info:
            hemproto.verify_ejwt(token, key)
        text = str(info.value) + repr(info.value)
        assert key.hex() not in text and repr(key) not in text


def test_module_constants() -> None:
    assert jws.MAX_TOKEN_LENGTH == hemproto.MAX_TOKEN_LENGTH == 8192
    assert hemproto.DEFAULT_HEADER == GOOD_HEADER


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | ijson_text(20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ijson_text(8), children, max_size=4)
    ),
    max_leaves=12,
)


def json_value_count(value: Any) -> int:
    """Values as hemproto's cap counts them: containers and scalars, not member names."""
    if isinstance(value, dict):
        return 1 + sum(json_value_count(item) for item in value.values())
    if isinstance(value, list):
        return 1 + sum(json_value_count(item) for item in value)
    return 1


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(ijson_text(10), json_values, max_size=6))
def test_any_json_claims_round_trip(claims: dict[str, Any]) -> None:
    # Claims over the JSON value cap are neither signed nor parsed (tests/test_worst_case.py).
    assume(json_value_count(claims) <= MAX_VALUES)
    assert hemproto.verify_ejwt(hemproto.sign_ejwt(claims, KEY), KEY) == claims


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_arbitrary_input_is_refused_with_a_hemproto_error(data: Any) -> None:
    with pytest.raises(HemProtoError):
        hemproto.verify_ejwt(data, KEY)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ABCab01-_.", max_size=120), st.binary(max_size=64))
def test_token_shaped_input_parses_or_raises_our_error(text: str, tail: bytes) -> None:
    for candidate in (text, text + "." + b64url(tail), forge(GOOD_HEADER, {}) + text):
        try:
            decoded = hemproto.decode_ejwt(candidate)
        except HemProtoError:
            continue
        assert decoded.token == candidate
        assert hemproto.b64url_encode(decoded.signature) == candidate.rsplit(".", 1)[1]


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=2000))
def test_the_hs256_implementation_matches_the_standard_library(key: bytes, message: bytes) -> None:
    expected = hmac.digest(key, message, "sha256")
    assert jws._codec.hs256(key, message) == expected
    assert jws._codec.hs256_verify(key, message, expected)


def test_header_cache_returns_fresh_dicts_and_stays_bounded() -> None:
    token = hemproto.sign_ejwt(CLAIMS, KEY)
    first = hemproto.decode_ejwt(token).header
    first["alg"] = "none"  # a caller mutating its copy must not poison later decodes
    assert hemproto.decode_ejwt(token).header == GOOD_HEADER
    for n in range(40):  # many distinct (valid) header texts
        header = {"ecdh": "x25519", "alg": "HS256"} if n % 2 else GOOD_HEADER
        text = json.dumps(header, separators=(",", ":"), indent=None if n < 2 else n)
        hemproto.decode_ejwt(forge(text, json.dumps(CLAIMS), raw=True))
    assert len(jws._HEADER_CACHE) <= jws._HEADER_CACHE_SIZE


def test_escaped_astral_characters_and_backslashes_are_fine() -> None:
    claims = {"emoji": "\U0001f600", "path": "C:\\ud800", "quote": '"\\u0041'}
    token = hemproto.sign_ejwt(claims, KEY)  # json.dumps escapes the emoji as a pair
    assert "\\ud83d" in hemproto.b64url_decode(token.split(".")[1]).decode()
    assert hemproto.verify_ejwt(token, KEY) == claims


@pytest.mark.parametrize(
    "token, segment, offset",
    [
        ("e=J9.e30.AA!A", "header", 1),  # regression: the signature used to be reported first
        ("eyJ9.e=30.AA!A", "payload", 6),
        ("e30.e30.AA!A", "signature", 10),
        ("!.e30.", "header", 0),
    ],
)
def test_the_first_fault_in_text_order_is_reported(token: str, segment: str, offset: int) -> None:
    error = refused(token, segment)
    assert error.offset == offset
