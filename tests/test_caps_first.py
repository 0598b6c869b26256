"""Size caps come before any copy (docs/protocol.md, section 7): every entry point refuses an
oversized input by its length, before anything in proportion to it is copied, encoded,
decoded or serialised, whatever its type; and at each cap's boundary the decision, the error
type and the message are what they have always been.

Allocation is measured with tracemalloc (peak growth during the one refused call); time is
not asserted anywhere.
"""

from __future__ import annotations

import json
import math
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType, SimpleNamespace
from typing import Any

import pytest
from _both_codecs import CODEC_NAMES, get_codec
from _hostile_world import codec as using_codec
from hypothesis import given, settings
from hypothesis import strategies as st

import hemproto
from hemproto import bodies, cbor, claims, jws
from hemproto.claims import MAX_BODY_LENGTH, MAX_REQUEST_BODY, request_object, unwrap_body
from hemproto.device import DeviceEmulator
from hemproto.errors import BodyTooLarge, HemProtoError, MalformedToken, RelayError
from hemproto.relay import relay_checkin

HUGE = 100_000_000
# Far below the inputs: what a refusal may allocate is its own small change, never a copy.
ALLOCATION_CEILING = 1_000_000

BACKEND_KEY = hemproto.KeyPair(bytes(range(32)))
MAC_KEY = bytes(range(32, 64))


# --- the oversized inputs, built once ---------------------------------------------------------


class Huge:
    """Every form of a 100 MB input: text, wide text, bytes, bytearray, memoryviews."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.raw = text.encode("latin-1")
        self.array = bytearray(self.raw)

    def forms(self) -> dict[str, object]:
        return {
            "str": self.text,
            "bytes": self.raw,
            "bytearray": self.array,
            "memoryview": memoryview(self.array),
            # Every other byte: not contiguous, so copying it is the only way to get bytes.
            "strided memoryview": memoryview(self.array)[::2],
            # Elements of 4 bytes: its len() is a quarter of its size in bytes.
            "memoryview of ints": memoryview(self.array).cast("I"),
        }


_CACHE: dict[str, Any] = {}


def cached(name: str, make: Callable[[], Any]) -> Any:
    if name not in _CACHE:
        _CACHE[name] = make()
    return _CACHE[name]


@pytest.fixture(scope="module", autouse=True)
def release_inputs() -> Iterator[None]:
    # About a gigabyte in all: given back when this module's tests are done.
    yield
    _CACHE.clear()


def token_inputs() -> dict[str, object]:
    huge = cached("token", lambda: Huge("A" * HUGE))
    forms = huge.forms()
    forms["wide str"] = cached("wide", lambda: "\u00e9" * HUGE)
    return forms


def body_inputs() -> dict[str, object]:
    huge = cached("body", lambda: Huge('{"check":"' + "A" * HUGE + '"}'))
    forms = huge.forms()
    forms["wide str"] = cached("wide body", lambda: '{"check":"' + "\u00e9" * HUGE + '"}')
    return forms


def parsed_inputs() -> dict[str, object]:
    token = token_inputs()["str"]
    wide = token_inputs()["wide str"]
    return {
        "dict with a huge string": {"check": token},
        "dict with a huge wide string": {"check": wide},
        "dict with a huge member name": {token: "x"},
        "mapping proxy": MappingProxyType({"check": token}),
        "list of many strings": cached("strings", lambda: ["A"] * (HUGE // 8)),
        "many members": cached("members", lambda: {str(n): n for n in range(2_000_000)}),
        "huge integer": {"check": cached("integer", lambda: 1 << 10_000_000)},
    }


def deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


# --- measuring one refusal -------------------------------------------------------------------


def refusal(call: Callable[[], object]) -> tuple[object, int]:
    """What ``call`` returned or raised, and the peak bytes it allocated meanwhile."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        try:
            result: object = call()
        except Exception as exc:  # the test inspects what was raised
            result = exc
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    return result, peak


def refused_cheaply(call: Callable[[], object], expected: type[Exception], match: str) -> None:
    result, peak = refusal(call)
    assert isinstance(result, expected), f"expected {expected.__name__}, got {result!r:.200}"
    assert match in str(result), str(result)
    assert peak < ALLOCATION_CEILING, f"{peak:,} bytes allocated to refuse it"


@pytest.fixture(params=CODEC_NAMES)
def codec(request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    namespace = get_codec(request.param)
    with using_codec(namespace):
        yield namespace


# --- tokens ------------------------------------------------------------------------------------

TOKEN_ENTRIES: dict[str, Callable[[object], object]] = {
    "verify_check": lambda token: hemproto.verify_check(token, BACKEND_KEY),
    "verify_check_with": lambda token: claims.verify_check_with(
        token, {BACKEND_KEY.public: BACKEND_KEY}
    ),
    "parse_check": hemproto.parse_check,
    "parse_checked": hemproto.parse_checked,
    "verify_checked": lambda token: hemproto.verify_checked(token, MAC_KEY),
    "decode_ejwt": hemproto.decode_ejwt,
    "verify_ejwt": lambda token: hemproto.verify_ejwt(token, MAC_KEY),
    "to_cbor": cbor.to_cbor,
}
TOKEN_FORMS = (
    "str",
    "wide str",
    "bytes",
    "bytearray",
    "memoryview",
    "strided memoryview",
    "memoryview of ints",
)


@pytest.mark.parametrize("form", TOKEN_FORMS)
@pytest.mark.parametrize("entry", TOKEN_ENTRIES)
def test_a_huge_token_is_refused_by_its_length(
    codec: SimpleNamespace, entry: str, form: str
) -> None:
    token = token_inputs()[form]
    refused_cheaply(
        lambda: TOKEN_ENTRIES[entry](token), MalformedToken, "token is longer than 8192"
    )


BODY_ENTRIES = {
    name: TOKEN_ENTRIES[name]
    for name in (
        "verify_check",
        "verify_check_with",
        "parse_check",
        "parse_checked",
        "verify_checked",
    )
}


@pytest.mark.parametrize("form", TOKEN_FORMS)
@pytest.mark.parametrize("entry", BODY_ENTRIES)
def test_a_huge_body_is_refused_by_its_length(
    codec: SimpleNamespace, entry: str, form: str
) -> None:
    body = body_inputs()[form]
    if form == "memoryview of ints":
        # Not a body (its first element is not the byte '{'): taken as a token.
        match = "token is longer than 8192"
    else:
        match = f"body is longer than {MAX_BODY_LENGTH}"
    refused_cheaply(lambda: BODY_ENTRIES[entry](body), MalformedToken, match)


@pytest.mark.parametrize("entry", BODY_ENTRIES)
def test_a_parsed_body_with_a_huge_token_is_refused_by_its_length(
    codec: SimpleNamespace, entry: str
) -> None:
    body = {"checked" if "checked" in entry else "check": token_inputs()["str"]}
    refused_cheaply(lambda: BODY_ENTRIES[entry](body), MalformedToken, "token is longer than")


@pytest.mark.parametrize("form", ("many members", "dict with a huge member name"))
@pytest.mark.parametrize("entry", BODY_ENTRIES)
def test_a_parsed_body_of_other_members_is_refused_without_copying_them(
    codec: SimpleNamespace, entry: str, form: str
) -> None:
    body = parsed_inputs()[form]
    refused_cheaply(lambda: BODY_ENTRIES[entry](body), MalformedToken, "body must be")


# --- request bodies ----------------------------------------------------------------------------

REQUEST_FORMS = (
    "str",
    "wide str",
    "bytes",
    "bytearray",
    "memoryview",
    "strided memoryview",
    "memoryview of ints",
)
PARSED_FORMS = (
    "dict with a huge string",
    "dict with a huge wide string",
    "dict with a huge member name",
    "mapping proxy",
    "list of many strings",
    "many members",
    "huge integer",
)


def request_input(form: str) -> object:
    if form in REQUEST_FORMS:
        return body_inputs()[form]
    return parsed_inputs()[form]


@pytest.mark.parametrize("form", REQUEST_FORMS + PARSED_FORMS)
def test_a_huge_request_body_is_refused_by_its_size(codec: SimpleNamespace, form: str) -> None:
    body = request_input(form)
    refused_cheaply(lambda: request_object(body), BodyTooLarge, f"is over {MAX_REQUEST_BODY}")


@pytest.mark.parametrize("form", REQUEST_FORMS + PARSED_FORMS)
def test_the_roles_answer_a_huge_request_with_413(codec: SimpleNamespace, form: str) -> None:
    body = request_input(form)
    backend_role = hemproto.Backend(BACKEND_KEY)
    device = DeviceEmulator(backend_public_key=BACKEND_KEY.public)
    for handle in (backend_role.handle, device.handle):
        result, peak = refusal(lambda handle=handle: handle(body))
        assert result == (413, None)
        assert peak < ALLOCATION_CEILING, f"{peak:,} bytes allocated to refuse it"


def test_a_nesting_bomb_is_refused_as_not_json_as_ever(codec: SimpleNamespace) -> None:
    # Nested past the recursion limit, it is no JSON that dumps_compact can write: refused
    # as malformed (400) as it always was, and found without walking all of it.
    body = cached("deep", lambda: deep_list(200_000))
    refused_cheaply(lambda: request_object(body), MalformedToken, "request body is not JSON")
    for handle in (
        hemproto.Backend(BACKEND_KEY).handle,
        DeviceEmulator(backend_public_key=BACKEND_KEY.public).handle,
    ):
        result, peak = refusal(lambda handle=handle: handle(body))
        assert result == (400, None)
        assert peak < ALLOCATION_CEILING, f"{peak:,} bytes allocated to refuse it"


# --- CBOR envelopes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form", ("bytes", "bytearray", "memoryview", "strided memoryview", "memoryview of ints")
)
def test_a_huge_cbor_envelope_is_refused_by_its_length(codec: SimpleNamespace, form: str) -> None:
    data = token_inputs()[form]
    refused_cheaply(lambda: cbor.from_cbor(data), MalformedToken, "input is longer than 8192")


# --- the relay ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ("newfws", "newuis"))
def test_the_relay_refuses_a_huge_device_field_by_its_length(
    codec: SimpleNamespace, field: str
) -> None:
    device = DeviceEmulator(backend_public_key=BACKEND_KEY.public)
    backend_role = hemproto.Backend(BACKEND_KEY)
    huge = token_inputs()["str"]

    def post_device(body: dict[str, Any]) -> dict[str, Any]:
        return {"status": "OK", field: huge}

    result, peak = refusal(
        lambda: relay_checkin(device.challenge, backend_role.handle, post_device)
    )
    assert isinstance(result, RelayError), repr(result)[:200]
    assert result.step == "post_device"
    assert field in str(result)
    assert peak < ALLOCATION_CEILING, f"{peak:,} bytes allocated to refuse it"


# --- the boundaries: decisions and messages as they always were --------------------------------


def error_of(call: Callable[[], object]) -> tuple[str, str]:
    try:
        call()
    except (HemProtoError, TypeError) as exc:
        return type(exc).__name__, str(exc)
    return "accepted", ""


def filler_token(length: int) -> str:
    """Three base64url segments, ``length`` characters in all: past the size check."""
    return "A" * (length - 10) + ".AAAA.AAAA"


TOKEN_BOUNDARY = [
    ("8192 characters", filler_token(8192), "MalformedToken", "signature must be 32 bytes, got 3"),
    (
        "8193 characters",
        filler_token(8193),
        "MalformedToken",
        "token is longer than 8192 characters",
    ),
    (
        "8192 bytes",
        filler_token(8192).encode(),
        "MalformedToken",
        "signature must be 32 bytes, got 3",
    ),
    (
        "8193 bytes",
        filler_token(8193).encode(),
        "MalformedToken",
        "token is longer than 8192 characters",
    ),
    (
        "8193 bytes, non-ASCII",
        b"\xff" * 8193,
        "MalformedToken",
        "token is longer than 8192 characters",
    ),
    (
        "8192 bytes, non-ASCII",
        b"\xff" * 8192,
        "MalformedToken",
        "token has a non-ASCII byte at offset 0",
    ),
    (
        "8192 non-ASCII characters",
        "\u00e9" * 8192,
        "MalformedToken",
        "token must have 3 segments separated by '.', found 1",
    ),
    (
        "8193 non-ASCII characters",
        "\u00e9" * 8193,
        "MalformedToken",
        "token is longer than 8192 characters",
    ),
    (
        "2048 ints (8192 bytes)",
        memoryview(filler_token(8192).encode()).cast("I"),
        "MalformedToken",
        "signature must be 32 bytes, got 3",
    ),
    (
        "2049 ints (8196 bytes)",
        memoryview(filler_token(8196).encode()).cast("I"),
        "MalformedToken",
        "token is longer than 8192 characters",
    ),
]


@pytest.mark.parametrize(
    "token, kind, message",
    [case[1:] for case in TOKEN_BOUNDARY],
    ids=[case[0] for case in TOKEN_BOUNDARY],
)
@pytest.mark.parametrize("entry", ("parse_check", "decode_ejwt", "verify_checked"))
def test_the_token_cap_boundary_is_unchanged(
    codec: SimpleNamespace, entry: str, token: object, kind: str, message: str
) -> None:
    found_kind, found = error_of(lambda: TOKEN_ENTRIES[entry](token))
    assert found_kind == kind
    assert found.startswith(message), found


def body_text(length: int, fill: str = "a") -> str:
    """A body ``{"check":"..."}`` of ``length`` characters."""
    return '{"check":"' + fill * (length - 12) + '"}'


BODY_BOUNDARY = [
    ("16384 characters", body_text(MAX_BODY_LENGTH), "token is longer than 8192 characters"),
    ("16385 characters", body_text(MAX_BODY_LENGTH + 1), "body is longer than 16384 bytes"),
    ("16384 bytes", body_text(MAX_BODY_LENGTH).encode(), "token is longer than 8192 characters"),
    ("16385 bytes", body_text(MAX_BODY_LENGTH + 1).encode(), "body is longer than 16384 bytes"),
    # Sized in characters as ever: within the cap in characters, over it in UTF-8 bytes.
    (
        "16384 non-ASCII characters",
        body_text(MAX_BODY_LENGTH, "\u00e9"),
        "token is longer than 8192 characters",
    ),
    (
        "16385 non-ASCII characters",
        body_text(MAX_BODY_LENGTH + 1, "\u00e9"),
        "body is longer than 16384 bytes",
    ),
]


@pytest.mark.parametrize(
    "body, message", [case[1:] for case in BODY_BOUNDARY], ids=[case[0] for case in BODY_BOUNDARY]
)
def test_the_body_cap_boundary_is_unchanged(
    codec: SimpleNamespace, body: object, message: str
) -> None:
    found_kind, found = error_of(lambda: hemproto.parse_check(body))
    assert found_kind == "MalformedToken"
    assert found.startswith(message), found


def test_body_member_messages_are_unchanged() -> None:
    for body, message in (
        ({}, "body must be {'check': token}, got members none"),
        ({"check": "x", "a": 1}, "body must be {'check': token}, got members 'a', 'check'"),
        ({"checked": "x"}, "body must be {'check': token}, got members 'checked'"),
        (
            {str(n): n for n in range(40)},
            "body must be {'check': token}, got members "
            + ", ".join(sorted(repr(str(n)) for n in range(40)))[:100],
        ),
        ({"check": 1}, "body member 'check' must be a string"),
    ):
        assert error_of(lambda body=body: unwrap_body(body, "check")) == ("MalformedToken", message)


def request_text(length: int, fill: str = "a") -> str:
    return body_text(length, fill)


def escaped_length(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")))


REQUEST_BOUNDARY: list[tuple[str, object, str, str]] = [
    ("7300 characters", request_text(7300), "accepted", ""),
    (
        "7301 characters",
        request_text(7301),
        "BodyTooLarge",
        "request body of 7301 bytes is over 7300",
    ),
    ("7300 bytes", request_text(7300).encode(), "accepted", ""),
    (
        "7301 bytes",
        request_text(7301).encode(),
        "BodyTooLarge",
        "request body of 7301 bytes is over 7300",
    ),
    (
        "7301 bytes in a bytearray",
        bytearray(request_text(7301).encode()),
        "BodyTooLarge",
        "request body of 7301 bytes is over 7300",
    ),
    (
        "1826 ints (7304 bytes)",
        memoryview(request_text(7304).encode()).cast("I"),
        "BodyTooLarge",
        "request body of 7304 bytes is over 7300",
    ),
    ("1825 ints (7300 bytes)", memoryview(request_text(7300).encode()).cast("I"), "accepted", ""),
    # Within the cap in characters, over it in UTF-8 bytes.
    (
        "7300 characters, 7301 bytes",
        '{"check":"' + "a" * 7287 + "\u00e9" + '"}',
        "BodyTooLarge",
        "request body of 7301 bytes is over 7300",
    ),
    (
        "7300 non-ASCII characters",
        request_text(7300, "\u00e9"),
        "BodyTooLarge",
        f"request body of {7300 + 7288} bytes is over 7300",
    ),
    (
        "7301 non-ASCII characters",
        request_text(7301, "\u00e9"),
        "BodyTooLarge",
        f"request body of {7301 + 7289} bytes is over 7300",
    ),
    (
        "7300 characters, a lone surrogate",
        request_text(7299) + "\ud800",
        "MalformedToken",
        "request body is not valid Unicode text",
    ),
    (
        "not JSON",
        "{",
        "MalformedToken",
        "request body: invalid JSON: Expecting property name enclosed in double quotes at offset 1",
    ),
    ("dict of 7300", {"check": "a" * 7288}, "accepted", ""),
    (
        "dict of 7301",
        {"check": "a" * 7289},
        "BodyTooLarge",
        "request body of 7301 bytes is over 7300",
    ),
    (
        "dict, escaped past 7300",
        {"checked": "\u00e9" * 1217},
        "BodyTooLarge",
        f"request body of {escaped_length({'checked': chr(0xE9) * 1217})} bytes is over 7300",
    ),
    ("dict, escaped to 7300", {"check": "\u00e9" * 1214 + "aaaa"}, "accepted", ""),
    (
        "dict of 7301 with an astral character",
        {"check": "a" * 7277 + "\U0001f600"},
        "BodyTooLarge",
        "request body of 7301 bytes is over 7300",
    ),
    ("list of 7301", ["a" * 7297], "BodyTooLarge", "request body of 7301 bytes is over 7300"),
    (
        "list of 7300",
        ["a" * 7296],
        "MalformedToken",
        "request body must be a JSON object, not list",
    ),
    ("NaN", {"check": math.nan}, "MalformedToken", "request body is not JSON"),
    ("a set", {"check": {1}}, "MalformedToken", "request body is not JSON"),
    ("non-str member name", {1: "x", None: "y", 1.5: "z", False: "f"}, "accepted", ""),
    ("tuple member name", {(1,): "x"}, "MalformedToken", "request body is not JSON"),
    ("5000 zeros", [0] * 5000, "BodyTooLarge", "request body of 10001 bytes is over 7300"),
    ("int of 7293 digits", {"c": 10**7292}, "MalformedToken", "request body is not JSON"),
    (
        "int of 4300 digits",
        [10**4299] * 2,
        "BodyTooLarge",
        "request body of 8603 bytes is over 7300",
    ),
    (
        "negative ints",
        [-(10**15)] * 430,
        "BodyTooLarge",
        f"request body of {escaped_length([-(10**15)] * 430)} bytes is over 7300",
    ),
    (
        "floats",
        [1.2345678901234567e-300] * 320,
        "BodyTooLarge",
        f"request body of {escaped_length([1.2345678901234567e-300] * 320)} bytes is over 7300",
    ),
    ("nesting 3000 deep", deep_list(3000), "MalformedToken", "request body is not JSON"),
    (
        "a mapping proxy",
        MappingProxyType({"check": "a" * 7289}),
        "BodyTooLarge",
        "request body of 7301 bytes is over 7300",
    ),
    ("null", None, "MalformedToken", "request body must be a JSON object, not NoneType"),
    ("an object", object(), "TypeError", "body must be a JSON value, str or bytes, not object"),
]


def cyclic() -> dict[str, Any]:
    body: dict[str, Any] = {"check": "x"}
    body["self"] = body
    return body


REQUEST_BOUNDARY.append(("a cycle", cyclic(), "MalformedToken", "request body is not JSON"))


@pytest.mark.parametrize(
    "body, kind, message",
    [case[1:] for case in REQUEST_BOUNDARY],
    ids=[case[0] for case in REQUEST_BOUNDARY],
)
def test_the_request_cap_boundary_is_unchanged(body: object, kind: str, message: str) -> None:
    assert error_of(lambda: request_object(body)) == (kind, message)


def test_a_caller_given_limit_is_kept() -> None:
    assert error_of(lambda: request_object('{"a":1}', 6)) == (
        "BodyTooLarge",
        "request body of 7 bytes is over 6",
    )
    assert error_of(lambda: request_object({"a": 12}, 7)) == (
        "BodyTooLarge",
        "request body of 8 bytes is over 7",
    )
    assert request_object({"a": 1}, 7) == {"a": 1}


# --- the size walk against serialising, on many small values -------------------------------------


def serialised_decision(body: object, limit: int) -> tuple[str, str]:
    """request_object's answer for a parsed value as it was: serialise, then measure."""
    if not isinstance(body, (Mapping, list, int, float, type(None))):
        return "TypeError", f"body must be a JSON value, str or bytes, not {type(body).__name__}"
    try:
        encoded = json.dumps(
            dict(body) if isinstance(body, Mapping) else body,
            separators=(",", ":"),
            allow_nan=False,
        )
    except (TypeError, ValueError, RecursionError):
        return "MalformedToken", "request body is not JSON"
    if len(encoded) > limit:
        return "BodyTooLarge", f"request body of {len(encoded)} bytes is over {limit}"
    if not isinstance(body, Mapping):
        return "MalformedToken", f"request body must be a JSON object, not {type(body).__name__}"
    return "accepted", ""


def encoded_decision(text: str, limit: int) -> tuple[str, str]:
    """request_object's answer for a text as it was: encode, then measure, then parse."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return "MalformedToken", "request body is not valid Unicode text"
    if len(raw) > limit:
        return "BodyTooLarge", f"request body of {len(raw)} bytes is over {limit}"
    return error_of(lambda: request_object(raw, limit))


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
# What dumps_compact refuses: NaN, bytes, sets, key types JSON cannot name.
ODD_LEAVES = st.sampled_from([math.nan, math.inf, b"x", {1}, object()])
NAMES = st.text(max_size=6) | st.integers(-99, 99) | st.none() | st.booleans() | st.floats(0, 9)
SHARED = ["x" * 40]


def values(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=6)
            | st.dictionaries(NAMES, children, max_size=6)
            | st.tuples(children, children)
            | st.just([SHARED, SHARED])
        ),
        max_leaves=40,
    )


@settings(max_examples=400, deadline=None)
@given(values(JSON_LEAVES))
def test_the_size_floor_never_exceeds_the_compact_json(value: Any) -> None:
    floor = bodies._json_size_floor(value, 10**9)
    assert floor is not None
    assert floor <= len(json.dumps(value, separators=(",", ":")))


@settings(max_examples=600, deadline=None)
@given(
    values(JSON_LEAVES | ODD_LEAVES).filter(lambda value: not isinstance(value, (str, bytes)))
    | st.dictionaries(st.tuples(st.integers()), st.integers(), min_size=1, max_size=2),
    st.integers(0, 400),
)
def test_a_parsed_body_is_decided_as_serialising_decided(value: Any, limit: int) -> None:
    assert error_of(lambda: request_object(value, limit)) == serialised_decision(value, limit)


@settings(max_examples=600, deadline=None)
@given(st.text(max_size=300), st.integers(0, 300))
def test_a_text_body_is_decided_as_encoding_decided(text: str, limit: int) -> None:
    if len(text) > limit and any("\ud800" <= c <= "\udfff" for c in text):
        # Size first: an oversized text is too large whatever it holds (it was refused as
        # invalid Unicode when encoding came first).
        assert error_of(lambda: request_object(text, limit))[0] == "BodyTooLarge"
        return
    assert error_of(lambda: request_object(text, limit)) == encoded_decision(text, limit)


CBOR_BOUNDARY = [
    ("8192 bytes", b"\x59\x1f\xfd" + bytes(8189), "the envelope must be an array, got byte string"),
    ("8193 bytes", b"\x59\x1f\xfe" + bytes(8190), "input is longer than 8192 bytes"),
]


@pytest.mark.parametrize(
    "data, message", [case[1:] for case in CBOR_BOUNDARY], ids=[case[0] for case in CBOR_BOUNDARY]
)
def test_the_cbor_cap_boundary_is_unchanged(data: bytes, message: str) -> None:
    kind, found = error_of(lambda: cbor.from_cbor(data))
    assert kind == "MalformedToken"
    assert message in found, found
    kind, found = error_of(lambda: cbor.from_cbor(memoryview(bytearray(data))[::1]))
    assert message in found, found


def test_the_token_cap_is_jws_own() -> None:
    assert jws.MAX_TOKEN_LENGTH == 8192
    assert claims.MAX_BODY_LENGTH == 16384
    assert claims.MAX_REQUEST_BODY == 7300


# --- keys and device fields given by the caller ---------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda big: hemproto.KeyPair(big),
        lambda big: hemproto.x25519_public(big),
        lambda big: hemproto.DeviceEmulator(backend_public_key=big),
        lambda big: hemproto.DeviceEmulator(backend_public_key=bytes(range(1, 33)), fws=big),
    ],
)
def test_caller_keys_and_fields_are_measured_before_they_are_copied(make: Any) -> None:
    import tracemalloc

    big = memoryview(bytearray(50_000_000))
    tracemalloc.start()
    try:
        with pytest.raises((hemproto.InvalidKey, hemproto.ClaimError)):
            make(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
