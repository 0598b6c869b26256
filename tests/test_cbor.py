"""The CBOR envelope: exact round trips, the compact/verbatim choice, and strict refusals."""

from __future__ import annotations

import json
import struct
from typing import Any

import cbor2
import pytest
from _tokens import forge, ijson_text
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import hemproto
from hemproto import cbor
from hemproto._json import MAX_VALUES
from hemproto.cbor import FORM_COMPACT, FORM_VERBATIM, from_cbor, to_cbor
from hemproto.errors import MalformedToken

KEY = bytes(range(32))
DEVICE_HEADER = {"ecdh": "x25519", "typ": "JWT", "alg": "HS256"}
LOGIN_HEADER = {"ecdh": "x25519", "alg": "HS256", "typ": "JWT"}
HDR = json.dumps(DEVICE_HEADER, separators=(",", ":"))
SEED_ENVELOPE_SIZE = 365


def b64(data: bytes) -> str:
    return hemproto.b64_encode(data)


def form_of(envelope: bytes) -> int:
    return cbor2.loads(envelope)[0]  # type: ignore[no-any-return]


def round_trip(token: str) -> bytes:
    """Encode, decode, and check the text comes back exactly and the bytes are canonical."""
    envelope = to_cbor(token)
    assert from_cbor(envelope) == token
    assert cbor2.dumps(cbor2.loads(envelope), canonical=True) == envelope
    assert len(envelope) <= cbor.MAX_CBOR_LENGTH
    return envelope


def checked_claims(**extra: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "jti": b64(bytes(range(32))),
        "iss": b64(bytes(range(32, 64))),
        "aud": b64(bytes(range(64, 96))),
        "iat": 1764000000,
        "act": "OK",
    }
    claims.update(extra)
    return claims


# --- the seed sample ---------------------------------------------------------------------


def test_seed_sample_round_trips_in_365_bytes(seed: dict[str, Any]) -> None:
    token = seed["token"]
    assert len(token) == 761
    envelope = round_trip(token)
    assert len(envelope) == SEED_ENVELOPE_SIZE <= 400
    # Array of 4, form 0, device header 0, 16-item claims array, key 0 (jti), 32-byte string.
    assert envelope[:7] == bytes.fromhex("84 00 00 90 00 5820")
    assert envelope == to_cbor(token.encode()) == to_cbor(bytearray(token.encode()))


def test_seed_claims_travel_as_their_raw_bytes(seed: dict[str, Any]) -> None:
    _, header, pairs, signature = cbor2.loads(to_cbor(seed["token"]))
    assert header == 0
    names = [cbor.KNOWN_CLAIMS[key] for key in pairs[0::2]]
    assert names == seed["claim_order"]
    assert [value.hex() for value in pairs[1::2]] == [seed["claims_hex"][n] for n in names]
    assert signature == hemproto.decode_ejwt(seed["token"]).signature


# --- check and checked tokens -------------------------------------------------------------


def test_check_tokens_round_trip_and_still_verify(make_check: Any, backend_key: Any) -> None:
    for token in (make_check(), make_check(uis=None)):
        envelope = round_trip(token)
        assert form_of(envelope) == FORM_COMPACT
        back = from_cbor(envelope)
        assert hemproto.verify_check(back, backend_key).token == token


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"crt": b64(b"\x30\x82\x01\x0a" + bytes(266))},
        {"newfws": b64(bytes(64)), "newuis": b64(bytes(32))},
        {"act": "U", "newfws": b64(bytes(range(64))), "note": "kept as text"},
    ],
)
def test_checked_tokens_round_trip_compact_and_still_verify(extra: dict[str, Any]) -> None:
    claims = checked_claims(**extra)
    token = hemproto.sign_ejwt(claims, KEY)
    envelope = round_trip(token)
    assert form_of(envelope) == FORM_COMPACT
    assert hemproto.verify_ejwt(from_cbor(envelope), KEY) == claims
    assert len(envelope) < len(token) * 3 // 4


# --- which form -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, payload",
    [
        # Text that is not canonical base64 travels as text, so form 0 still holds it.
        (HDR, '{"jti":"kIA3YrCAbi1vCU1h8ypn2Kts1QSDOQUKNsaUIgWoSr0"}'),
        (HDR, '{"jti":"kIA3YrCAbi1vCU1h8ypn2Kts1QSDOQUKNsaUIgWoSr0_"}'),
        (HDR, '{"s":"","t":"AA==","u":["AA=="]}'),
        (json.dumps(LOGIN_HEADER, separators=(",", ":")), '{"iat":1}'),
        ('{"alg":"HS256","ecdh":"x25519"}', '{"iat":1}'),
        ('{ "ecdh" : "x25519", "alg" : "HS256" }', '{"iat":1}'),
        ('{"ecdh":"x\\u0032\\u0035519","alg":"HS256"}', '{"iat":1}'),
        (HDR, '{"f":1.0,"g":1.5,"h":-0.0,"i":1.5e+300,"j":5e-324,"k":0.1}'),
        (HDR, '{"n":null,"t":true,"f":false,"i":-9007199254740991,"e":"\\u00e9\\n"}'),
        (HDR, '{"o":{"a":1,"b":{"c":[{}]}},"l":[[],[1,"x"]]}'),
        (HDR, "{}"),
    ],
)
def test_tokens_that_stay_compact(header: str, payload: str) -> None:
    envelope = round_trip(forge(header, payload, raw=True))
    assert form_of(envelope) == FORM_COMPACT


@pytest.mark.parametrize(
    "payload",
    [
        '{"a":1e5}',  # compact JSON would write 100000.0
        '{"a":1.50}',
        '{"a":-0}',
        '{"a":1.5e300}',  # compact JSON would write 1.5e+300
        '{"a":"\\u00E9"}',  # escape spelled in upper case
        '{"a":"\\/"}',
        '{"a":"é"}',  # raw UTF-8 where compact JSON escapes
        '{"a": 1}',
        '{"a":1}'.replace(":", ": "),
        '{"o":{"b":1,"a":2}}',  # nested members out of the deterministic CBOR key order
        '{"jti":"kIA3YrCAbi1vCU1h8ypn2Kts1QSDOQUKNsaUIgWoSr0=", "iat":1}',
    ],
)
def test_tokens_that_need_the_verbatim_form(payload: str) -> None:
    token = forge(HDR, payload, raw=True)
    envelope = round_trip(token)
    assert form_of(envelope) == FORM_VERBATIM
    assert hemproto.verify_ejwt(from_cbor(envelope), KEY) == hemproto.decode_ejwt(token).claims


def test_lone_surrogates_are_refused_before_encoding() -> None:
    # JSON can spell them and CBOR text cannot; hemproto refuses them in any token (I-JSON).
    token = forge(HDR, '{"a":"\\ud800","\\udc00":1}', raw=True)
    with pytest.raises(MalformedToken, match="surrogate"):
        to_cbor(token)


def test_header_travels_as_a_number_in_both_forms() -> None:
    login = json.dumps(LOGIN_HEADER, separators=(",", ":"))
    for header, number in ((HDR, 0), (login, 1)):
        for payload in ('{"a":1}', '{"a": 1}'):
            decoded = cbor2.loads(round_trip(forge(header, payload, raw=True)))
            assert decoded[1] == number


def test_verbatim_form_when_compact_would_be_larger() -> None:
    # Each 0.1 is 4 JSON characters but a 9-byte CBOR double: form 0 loses on size. (60 of
    # them: a token holds at most 64 JSON values.)
    token = hemproto.sign_ejwt({"a": [0.1] * 60}, KEY)
    assert form_of(round_trip(token)) == FORM_VERBATIM


def test_verbatim_size_of_the_seed_claims_written_with_spaces(seed: dict[str, Any]) -> None:
    claims = hemproto.parse_check(seed["token"]).to_dict()
    token = forge(HDR, json.dumps(claims, separators=(", ", ": ")), raw=True)
    envelope = round_trip(token)
    assert (len(token), len(envelope), form_of(envelope)) == (781, 548, FORM_VERBATIM)


def test_the_documented_examples() -> None:
    # docs/cbor.md shows these two envelopes byte by byte.
    claims = {"iat": 1764000000, "act": "OK", "jti": b64(bytes(range(8)))}
    compact = round_trip(hemproto.sign_ejwt(claims, KEY))
    assert compact.hex() == (
        "8400008608"
        "1a6924810009624f4b00480001020304050607"
        "582085a5803a911b7998cee1e9ef6d2ff9cbd4b9fa12c59d5b23706873ad20633e99"
    )
    verbatim = round_trip(forge(HDR, '{"iat": 1764000000,"act":"OK"}', raw=True))
    assert verbatim.hex() == (
        "840100581e" + b'{"iat": 1764000000,"act":"OK"}'.hex() + "5820"
        "d8b76770537f0a01b385f7e3dc7de2b6630f7d89ed3974507d7c544eb831a453"
    )
    assert (len(compact), len(verbatim)) == (58, 69)


def test_verbatim_form_of_a_compact_token_is_accepted_too(seed: dict[str, Any]) -> None:
    # An encoder without the JSON rebuild (a small device) can always send form 1.
    token = seed["token"]
    _, payload, _ = token.split(".")
    decoded = hemproto.decode_ejwt(token)
    envelope = cbor2.dumps([1, 0, hemproto.b64url_decode(payload), decoded.signature])
    assert from_cbor(envelope) == token
    assert from_cbor(memoryview(envelope)) == token


def test_the_largest_tokens_fit() -> None:
    n = 6000
    while len(forge(DEVICE_HEADER, {"f": "a" * (n + 1)})) <= hemproto.MAX_TOKEN_LENGTH:
        n += 1
    longest = hemproto.sign_ejwt({"f": "a" * n}, KEY)
    assert form_of(round_trip(longest)) == FORM_COMPACT
    spaced = forge(HDR, '{"f": "' + "a" * (n - 2) + '"}', raw=True)
    assert len(spaced) <= hemproto.MAX_TOKEN_LENGTH
    assert form_of(round_trip(spaced)) == FORM_VERBATIM


def test_nesting_at_the_json_limit_round_trips() -> None:
    nested = '{"a":' + "[" * 15 + "]" * 15 + "}"
    assert form_of(round_trip(forge(HDR, nested, raw=True))) == FORM_COMPACT


def test_to_cbor_refuses_what_decode_ejwt_refuses() -> None:
    h, p, s = hemproto.sign_ejwt({"a": 1}, KEY).split(".")
    for bad in (f"{h}.{p}", f"{h}.{p}==.{s}", forge({"alg": "none", "ecdh": "x25519"}, {})):
        with pytest.raises(MalformedToken) as expected:
            hemproto.decode_ejwt(bad)
        with pytest.raises(MalformedToken) as got:
            to_cbor(bad)
        assert (str(got.value), got.value.segment, got.value.offset) == (
            str(expected.value),
            expected.value.segment,
            expected.value.offset,
        )
    with pytest.raises(TypeError):
        to_cbor(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        from_cbor("84000080")  # type: ignore[arg-type]


# --- refusals -----------------------------------------------------------------------------

SIG = bytes(32)
SMALL = hemproto.sign_ejwt(checked_claims(), KEY)
SMALL_ENVELOPE = to_cbor(SMALL)
VERBATIM_ENVELOPE = to_cbor(forge(HDR, '{"a": 1}', raw=True))


def dump(value: Any) -> bytes:
    return cbor2.dumps(value, canonical=True)  # type: ignore[no-any-return,unused-ignore]


def nested_arrays(depth: int) -> bytes:
    return b"\x84\x00\x00\x82\x61a" + b"\x81" * depth + b"\x80" + dump(SIG)


CBOR_FAULTS = [
    ("empty", b"", "empty"),
    ("truncated", SMALL_ENVELOPE[:-1], "ends early"),
    ("truncated head", b"\x84\x00\x00\x82\x61a\x19\x01", "ends early"),
    ("trailing byte", SMALL_ENVELOPE + b"\x00", "trailing"),
    ("tag", b"\xc1" + SMALL_ENVELOPE, "tag 1"),
    ("self-describe tag", b"\xd9\xd9\xf7" + SMALL_ENVELOPE, "tag 55799"),
    ("bignum tag", dump([0, 0, ["a", 2**64], SIG]), "tag 2"),
    ("tag inside", b"\x84\x00\x00\x82\x61a\xc0\x60" + dump(SIG), "tag 0"),
    ("wrong form number", dump([2, 0, [], SIG]), "unknown form 2"),
    ("negative form", dump([-1, 0, [], SIG]), "unknown form -1"),
    ("form as text", dump(["0", 0, [], SIG]), "form number"),
    ("empty array", dump([]), "form number"),
    ("map instead of array", dump({0: 0}), "must be an array, got map"),
    ("bare integer", b"\x00", "must be an array, got integer"),
    ("three elements", dump([0, 0, []]), "4 elements"),
    ("five elements", dump([0, 0, [], SIG, 0]), "4 elements"),
    ("signature of 31 bytes", dump([0, 0, [], SIG[:31]]), "32 bytes, got 31"),
    ("signature as text", dump([0, 0, [], "x" * 32]), "got text string"),
    ("indefinite-length array", b"\x9f\x00\x00\x80" + dump(SIG) + b"\xff", "indefinite"),
    ("indefinite-length bytes", b"\x84\x01\x00\x5f\x41{\x41}\xff" + dump(SIG), "indefinite"),
    ("stray break", b"\xff", "break"),
    ("reserved info", b"\x1c", "additional information 28"),
    ("9000 bytes", b"\x59\x23\x25" + bytes(9000 - 3), "longer than 8192"),
    ("huge byte string length", b"\x5b" + b"\xff" * 8, "ends early"),
    ("huge array count", b"\x9b" + b"\xff" * 8, "ends early"),
    ("nesting too deep", nested_arrays(16), "nesting deeper than 17"),
    ("undefined", dump([0, 0, ["a", cbor2.undefined], SIG]), "simple value"),
    ("simple value", b"\x84\x00\x00\x82\x61a\xf0" + dump(SIG), "simple value"),
    ("duplicate map key", b"\x84\x00\x00\x82\x61a\xa2\x61b\x01\x61b\x02" + dump(SIG), "duplicate"),
    ("unsorted map", b"\x84\x00\x00\x82\x61a\xa2\x61b\x01\x61a\x02" + dump(SIG), "deterministic"),
    ("long head", b"\x84\x18\x00\x00\x80" + dump(SIG), "deterministic"),
    ("wide float", b"\x84\x00\x00\x82\x61a\xfb" + struct.pack(">d", 1.5) + dump(SIG), "determ"),
    ("invalid UTF-8", b"\x84\x00\x00\x82\x61a\x61\xff" + dump(SIG), "not decodable"),
    ("odd claims", dump([0, 0, [0], SIG]), "pairs"),
    ("claims as a map", dump([0, 0, {"a": 1}, SIG]), "claims must be an array"),
    ("unknown claim key", dump([0, 0, [13, 1], SIG]), "unknown claim key 13"),
    ("negative claim key", dump([0, 0, [-1, 1], SIG]), "unknown claim key -1"),
    ("claim key as bytes", dump([0, 0, [b"a", 1], SIG]), "got byte string"),
    ("known name as text", dump([0, 0, ["jti", b"x"], SIG]), "its number 0"),
    ("claim twice", dump([0, 0, ["a", 1, "a", 2], SIG]), "twice"),
    ("known claim twice", dump([0, 0, [8, 1, 8, 2], SIG]), "twice"),
    ("base64 text", dump([0, 0, ["a", "AA=="], SIG]), "must travel as bytes"),
    ("nested bytes", dump([0, 0, ["a", [b"x"]], SIG]), "byte string is not allowed"),
    ("integer key in object", dump([0, 0, ["a", {1: 2}], SIG]), "text strings"),
    ("integer too big", dump([0, 0, ["a", 2**53], SIG]), "integer beyond"),
    ("integer too small", dump([0, 0, ["a", -(2**53)], SIG]), "integer beyond"),
    ("NaN", dump([0, 0, ["a", float("nan")], SIG]), "NaN"),
    ("infinity", dump([0, 0, ["a", [float("-inf")]], SIG]), "NaN"),
    ("unknown header number", dump([0, 2, [], SIG]), "unknown header number 2"),
    ("known header as text", dump([0, HDR, [], SIG]), "its number 0"),
    ("header as bytes", dump([0, HDR.encode(), [], SIG]), "got byte string"),
    ("form 1 payload as text", dump([1, 0, "{}", SIG]), "byte string, got text"),
]


@pytest.mark.parametrize(
    "data, match", [c[1:] for c in CBOR_FAULTS], ids=[c[0] for c in CBOR_FAULTS]
)
def test_faulty_envelopes_are_refused(data: bytes, match: str) -> None:
    with pytest.raises(MalformedToken, match=match) as info:
        from_cbor(data)
    assert info.value.segment == "cbor"
    assert str(info.value).startswith("CBOR envelope: ")


def test_offsets_point_into_the_input() -> None:
    data = SMALL_ENVELOPE + b"\x00\x00"
    with pytest.raises(MalformedToken) as info:
        from_cbor(data)
    assert info.value.offset == len(SMALL_ENVELOPE)
    with pytest.raises(MalformedToken) as info:
        from_cbor(b"\x84\x00\x00\x82\x61a\xc0\x60" + dump(SIG))
    assert info.value.offset == 6


@pytest.mark.parametrize(
    "envelope, segment, match",
    [
        ([1, '{"alg":"none","ecdh":"x25519"}', b"{}", SIG], "header", "alg"),
        ([1, '{"alg":"HS256"}', b"{}", SIG], "header", "ecdh"),
        ([1, "", b"{}", SIG], "header", "empty"),
        ([1, 0, b"[]", SIG], "payload", "object"),
        ([1, 0, b"", SIG], "payload", "empty"),
        ([1, 0, b'{"a":1,"a":2}', SIG], "payload", "duplicate"),
        ([1, 0, b'{"a":NaN}', SIG], "payload", "NaN"),
        ([1, 0, b'{"a":"\xff"}', SIG], "payload", "UTF-8"),
        ([1, 0, b'{"f":"' + b"a" * 6100 + b'"}', SIG], "token", "longer than"),
        ([0, 0, ["f", "-" * 6100], SIG], "token", "longer than"),
    ],
)
def test_envelopes_carrying_a_refused_token(envelope: Any, segment: str, match: str) -> None:
    with pytest.raises(MalformedToken, match=match) as info:
        from_cbor(dump(envelope))
    assert info.value.segment == segment
    assert str(info.value).startswith("CBOR envelope carries a token hemproto refuses")


def test_every_single_byte_change_of_a_small_envelope() -> None:
    data = SMALL_ENVELOPE
    for index in range(len(data)):
        for changed in (
            data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :],
            data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :],
            data[:index] + data[index + 1 :],
            data[:index] + b"\x00" + data[index:],
        ):
            assert_parses_or_is_refused(changed)


# --- properties ---------------------------------------------------------------------------


def assert_parses_or_is_refused(data: bytes) -> None:
    try:
        token = from_cbor(data)
    except MalformedToken:
        return
    decoded = hemproto.decode_ejwt(token)
    assert decoded.token == token
    again = to_cbor(token)
    assert from_cbor(again) == token
    # Form 0 has one encoding per token; only the size rule may pick form 1 instead.
    if data[1] == FORM_COMPACT:
        assert again == data or form_of(again) == FORM_VERBATIM


# Lone surrogates are valid in JSON escapes but not in UTF-8, so they force form 1.
# The neighbours of the surrogate block (surrogates themselves are refused in any token).
near_surrogates = st.characters(
    min_codepoint=0xD7FF, max_codepoint=0xE000, exclude_categories=("Cs",)
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | ijson_text(20)
    | st.text(near_surrogates, max_size=3),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ijson_text(8), children, max_size=4)
    ),
    max_leaves=12,
)
claim_values = json_values | st.binary(max_size=70).map(b64)
claim_names = st.sampled_from(cbor.KNOWN_CLAIMS) | ijson_text(10)
headers = st.sampled_from(
    [
        DEVICE_HEADER,
        LOGIN_HEADER,
        {"alg": "HS256", "ecdh": "x25519"},
        {"ecdh": "x25519", "alg": "HS256"},
    ]
)


def _json_values(value: Any) -> int:
    """How many JSON values ``value`` is, itself and everything inside it (names are not)."""
    if isinstance(value, dict):
        return 1 + sum(_json_values(member) for member in value.values())
    if isinstance(value, list):
        return 1 + sum(_json_values(item) for item in value)
    return 1


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(claim_names, claim_values, max_size=8), headers)
def test_any_json_claims_round_trip_and_still_verify(
    claims: dict[str, Any], header: dict[str, str]
) -> None:
    # A payload over the JSON value cap is refused when read back (tests/test_worst_case.py).
    assume(_json_values(claims) <= MAX_VALUES)
    token = hemproto.sign_ejwt(claims, KEY, header=header)
    envelope = round_trip(token)
    # Compared with the token's own claims: JSON joins an escaped surrogate pair into one.
    assert hemproto.verify_ejwt(from_cbor(envelope), KEY) == hemproto.decode_ejwt(token).claims
    assert to_cbor(from_cbor(envelope)) == envelope


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_are_refused(data: bytes) -> None:
    assert_parses_or_is_refused(data)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([SMALL_ENVELOPE, VERBATIM_ENVELOPE]),
    st.sampled_from(["flip", "insert", "delete"]),
    st.integers(min_value=0),
    st.integers(0, 255),
)
def test_one_byte_mutations_parse_or_are_refused(
    base: bytes, how: str, position: int, byte: int
) -> None:
    data = base
    index = position % (len(data) + (how == "insert"))
    if how == "flip":
        changed = data[:index] + bytes([data[index] ^ (byte or 1)]) + data[index + 1 :]
    elif how == "insert":
        changed = data[:index] + bytes([byte]) + data[index:]
    else:
        changed = data[:index] + data[index + 1 :]
    assert_parses_or_is_refused(changed)


def test_seed_envelope_mutations_parse_or_are_refused(seed: dict[str, Any]) -> None:
    data = to_cbor(seed["token"])
    for index in range(0, len(data), 7):
        assert_parses_or_is_refused(data[:index] + bytes([data[index] ^ 0x20]) + data[index + 1 :])
        assert_parses_or_is_refused(data[:index] + data[index + 1 :])
