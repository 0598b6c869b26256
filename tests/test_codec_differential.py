"""Property tests: the C and Python codecs agree on every input, and both agree with the
standard library on what they encode and on which texts are canonical."""

from __future__ import annotations

import base64
import string
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from _both_codecs import require_c_codec
from hypothesis import given, settings
from hypothesis import strategies as st

from hemproto import _codec
from hemproto.errors import EncodingError

MAIN = settings(max_examples=2000, deadline=None)
SMALL = settings(max_examples=500, deadline=None)

URL_ALPHABET = string.ascii_letters + string.digits + "-_"
STD_ALPHABET = string.ascii_letters + string.digits + "+/"
BOTH_ALPHABETS = sorted(set(URL_ALPHABET) | set(STD_ALPHABET))
WHITESPACE = " \t\n\r\x0b\x0c\x85\xa0\u2028"

# One character of adversarial text. Alphabet characters are listed several times so that
# most strings are close to valid and reach the length, padding and trailing-bits checks,
# not only the first bad character.
_alphabet_char = st.sampled_from(BOTH_ALPHABETS)
adversarial_char = st.one_of(
    _alphabet_char,
    _alphabet_char,
    _alphabet_char,
    _alphabet_char,
    _alphabet_char,
    st.just("="),
    st.just("="),
    st.sampled_from(WHITESPACE),
    st.just("\x00"),
    st.characters(min_codepoint=0x80),
    st.characters(),
)

adversarial_text = st.one_of(
    st.lists(adversarial_char, max_size=40).map("".join),
    # Near-valid: an alphabet run with some '=' appended, the classic padding mistakes.
    st.builds(
        lambda body, pad: body + "=" * pad,
        st.text(alphabet=BOTH_ALPHABETS, max_size=20),
        st.integers(0, 5),
    ),
    st.text(max_size=40),
)


@st.composite
def mutated_encodings(draw: st.DrawFn) -> str:
    """A valid encoding (in either alphabet) of random bytes, then at most one mutation:
    replace, insert or delete one character, change the last data character (its unused
    bits), or add or strip '=' padding."""
    data = draw(st.binary(max_size=64))
    encode = draw(
        st.sampled_from([_codec.python_codec.b64_encode, _codec.python_codec.b64url_encode])
    )
    text = encode(data)
    operation = draw(
        st.sampled_from(["none", "replace", "insert", "delete", "last-data", "padding"])
    )
    if operation in ("replace", "delete", "last-data") and not text:
        operation = "insert"
    if operation == "none":
        return text
    if operation == "padding":
        return text.rstrip("=") + "=" * draw(st.integers(0, 4))
    if operation == "last-data":
        body = text.rstrip("=")
        if not body:
            return text
        return body[:-1] + draw(_alphabet_char) + text[len(body) :]
    if operation == "insert":
        index = draw(st.integers(0, len(text)))
        return text[:index] + draw(adversarial_char) + text[index:]
    index = draw(st.integers(0, len(text) - 1))
    if operation == "delete":
        return text[:index] + text[index + 1 :]
    return text[:index] + draw(adversarial_char) + text[index + 1 :]


def _as_form(text: str, form: str) -> Any:
    """``text`` as the decoder input type ``form``. Bytes forms use UTF-8, so non-ASCII
    characters become bytes >= 0x80 (and lone surrogates survive as their own bytes)."""
    if form == "str":
        return text
    raw = text.encode("utf-8", "surrogatepass")
    if form == "bytes":
        return raw
    if form == "bytearray":
        return bytearray(raw)
    return memoryview(raw)


def _inputs(texts: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.builds(_as_form, texts, st.sampled_from(["str", "bytes", "bytearray", "memoryview"]))


decoder_inputs = st.one_of(
    _inputs(adversarial_text),
    _inputs(mutated_encodings()),
    st.binary(max_size=40),
    # Not text at all: both codecs must raise TypeError.
    st.sampled_from([None, 0, 1.5, [65, 65], ["AA"], object()]),
)
canonical_candidates = st.one_of(_inputs(mutated_encodings()), _inputs(adversarial_text))


def outcome(function: Callable[[Any], Any], argument: Any) -> tuple[Any, ...]:
    """What a call did, in a form two backends can be compared on."""
    try:
        result = function(argument)
    except EncodingError as error:
        return ("EncodingError", error.reason, error.offset, str(error))
    except TypeError:
        return ("TypeError",)
    return ("value", type(result), result)


@pytest.fixture(scope="module")
def c_codec() -> SimpleNamespace:
    # Module scope: Hypothesis re-runs the test body, not the fixture, for each example.
    return require_c_codec()


# --- C against Python ----------------------------------------------------------------------


@MAIN
@given(decoder_inputs)
def test_c_and_python_decoders_agree_on_adversarial_input(
    c_codec: SimpleNamespace, text: Any
) -> None:
    python = _codec.python_codec
    assert outcome(c_codec.b64url_decode, text) == outcome(python.b64url_decode, text)
    assert outcome(c_codec.b64_decode, text) == outcome(python.b64_decode, text)


@MAIN
@given(_inputs(mutated_encodings()))
def test_c_and_python_decoders_agree_on_mutated_encodings(
    c_codec: SimpleNamespace, text: Any
) -> None:
    python = _codec.python_codec
    assert outcome(c_codec.b64url_decode, text) == outcome(python.b64url_decode, text)
    assert outcome(c_codec.b64_decode, text) == outcome(python.b64_decode, text)


@SMALL
@given(st.binary(max_size=64), st.sampled_from(["bytes", "bytearray", "memoryview"]))
def test_c_and_python_encoders_agree(c_codec: SimpleNamespace, data: bytes, form: str) -> None:
    value = {"bytes": data, "bytearray": bytearray(data), "memoryview": memoryview(data)}[form]
    python = _codec.python_codec
    assert outcome(c_codec.b64_encode, value) == outcome(python.b64_encode, value)
    assert outcome(c_codec.b64url_encode, value) == outcome(python.b64url_encode, value)


@SMALL
@given(st.binary(max_size=48), st.one_of(st.none(), st.binary(max_size=48)))
def test_c_and_python_ct_equal_agree(c_codec: SimpleNamespace, a: bytes, b: bytes | None) -> None:
    # None stands for "compare a with a copy of itself", so equal pairs are common.
    other = bytes(a) if b is None else b
    expected = a == other
    assert c_codec.ct_equal(a, other) is expected
    assert _codec.python_codec.ct_equal(a, other) is expected


# --- every backend against the standard library -------------------------------------------


@MAIN
@given(st.binary(max_size=200))
def test_encoders_match_the_standard_library_and_round_trip(data: bytes) -> None:
    std = base64.b64encode(data).decode("ascii")
    url = base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
    for backend in _codec.all_codecs:
        assert backend.b64_encode(data) == std
        assert backend.b64url_encode(data) == url
        assert backend.b64_decode(std) == data
        assert backend.b64url_decode(url) == data


def _ascii_bytes(text: Any) -> bytes | None:
    if isinstance(text, str):
        return text.encode("ascii") if text.isascii() else None
    return bytes(text)


def _stdlib_std_canonical(raw: bytes) -> bytes | None:
    """The bytes ``raw`` stands for, if the standard library accepts it in strict mode and
    re-encodes them to exactly ``raw``; else None."""
    try:
        decoded = base64.b64decode(raw, validate=True)
    except ValueError:
        return None
    return decoded if base64.b64encode(decoded) == raw else None


def _stdlib_url_canonical(raw: bytes) -> bytes | None:
    """The same for unpadded base64url. urlsafe_b64decode is lenient (it skips foreign
    characters, takes '+' '/' too), so exact re-encoding is what makes this strict."""
    try:
        decoded = base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except ValueError:
        return None
    return decoded if base64.urlsafe_b64encode(decoded).rstrip(b"=") == raw else None


def _accepted(decode: Callable[[Any], bytes], text: Any) -> bytes | None:
    try:
        return decode(text)
    except EncodingError:
        return None


@MAIN
@given(canonical_candidates)
def test_accepted_text_is_canonical_and_agrees_with_the_standard_library(text: Any) -> None:
    raw = _ascii_bytes(text)
    std_expected = None if raw is None else _stdlib_std_canonical(raw)
    url_expected = None if raw is None else _stdlib_url_canonical(raw)
    for backend in _codec.all_codecs:
        std = _accepted(backend.b64_decode, text)
        url = _accepted(backend.b64url_decode, text)
        # Accepted exactly when the standard library decodes it to the same bytes and
        # re-encodes those bytes to the same text: one encoding per byte string.
        assert std == std_expected, backend.name
        assert url == url_expected, backend.name
        if std is not None:
            assert raw is not None
            assert backend.b64_encode(std) == raw.decode("ascii")
            assert base64.b64decode(raw, validate=True) == std
        if url is not None:
            assert raw is not None
            assert backend.b64url_encode(url) == raw.decode("ascii")
            assert base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)) == url


@st.composite
def token_like(draw: st.DrawFn) -> str:
    """Three (or some other number of) segments: valid encodings, mutated ones, or noise."""
    segment = st.one_of(
        st.binary(max_size=40).map(lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")),
        mutated_encodings(),
        st.text(alphabet=URL_ALPHABET + ".=+/ é", max_size=12),
    )
    count = draw(st.sampled_from([3, 3, 3, 3, 1, 2, 4]))
    return ".".join(draw(st.lists(segment, min_size=count, max_size=count)))


@MAIN
@given(token_like())
def test_c_and_python_token_splitters_agree(c_codec: SimpleNamespace, text: str) -> None:
    c_parts = c_codec.split_token(text)
    assert c_parts == _codec.python_codec.split_token(text)
    if c_parts is not None:
        dot1, dot2, blob = c_parts
        assert text[dot1] == text[dot2] == "."
        segments = text.split(".")
        expected = b"".join(
            base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in segments
        )
        assert blob == expected


def test_token_splitters_agree_beyond_the_packed_range(c_codec: SimpleNamespace) -> None:
    # Regression: the C splitter packs offsets in 21 bits and once answered None for longer
    # (valid) text where the Python one split it.
    text = "QUJD.QUJD." + "A" * (c_codec.TOKEN_PACK_LIMIT + 8)
    assert c_codec.split_token(text) == _codec.python_codec.split_token(text)
    assert c_codec.split_token(text) is not None
