"""The strict base64 / base64url codec, on both codecs: RFC 4648 vectors, each refusal with
its exact reason and offset, accepted input types, ct_equal, and the choice of codec."""

from __future__ import annotations

import array
import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from _both_codecs import CODEC_NAMES, get_codec, pure_env, require_c_env

import hemproto
from hemproto import _codec
from hemproto.errors import EncodingError, HemProtoError

ROOT = Path(__file__).resolve().parent.parent
VECTORS = json.loads((ROOT / "tests" / "vectors" / "rfc4648.json").read_text())["vectors"]


@pytest.fixture(params=CODEC_NAMES)
def codec(request: pytest.FixtureRequest) -> SimpleNamespace:
    return get_codec(request.param)


def _vector_id(vector: dict[str, str]) -> str:
    return repr(vector["input"])


# --- RFC 4648 section 10 ---------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_rfc4648_base64_vectors_encode_and_decode(codec: SimpleNamespace, vector: Any) -> None:
    raw = vector["input"].encode("ascii")
    assert codec.b64_encode(raw) == vector["base64"]
    assert codec.b64_decode(vector["base64"]) == raw


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_rfc4648_base64url_vectors_encode_and_decode(codec: SimpleNamespace, vector: Any) -> None:
    raw = vector["input"].encode("ascii")
    assert codec.b64url_encode(raw) == vector["base64url"]
    assert codec.b64url_decode(vector["base64url"]) == raw


@pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
def test_rfc4648_base64url_vectors_are_base64_without_padding(vector: Any) -> None:
    # The base64url column is derived, not printed in the RFC: guard the derivation itself.
    assert vector["base64url"] == vector["base64"].rstrip("=")
    assert "+" not in vector["base64"] and "/" not in vector["base64"]


# The RFC vectors never reach the values 62 and 63, where the two alphabets differ.
# fb ff bf is 111110 111111 111110 111111: the sextets 62, 63, 62, 63.
@pytest.mark.parametrize(
    ("raw", "std", "url"),
    [
        (b"\xfb\xff\xbf", "+/+/", "-_-_"),
        (b"\xfb\xff", "+/8=", "-_8"),
        (b"\xff", "/w==", "_w"),
        (b"\xff\xff\xff", "////", "____"),
    ],
)
def test_values_62_and_63_use_each_alphabets_own_characters(
    codec: SimpleNamespace, raw: bytes, std: str, url: str
) -> None:
    assert codec.b64_encode(raw) == std == base64.b64encode(raw).decode()
    assert codec.b64url_encode(raw) == url
    assert codec.b64_decode(std) == raw
    assert codec.b64url_decode(url) == raw


# --- refusals ----------------------------------------------------------------------------

# (id, input, reason, offset). Offsets follow _pycodec's rules: the bad character's index;
# the input length for a length error; the third '=' for excess padding; the last data
# character for non-zero trailing bits.
URL_REFUSALS = [
    ("equals-as-padding", "Zg==", "character", 2),
    ("single-equals", "Zm8=", "character", 3),
    ("plus", "Zm9v+w", "character", 4),
    ("slash", "ab/c", "character", 2),
    ("space", "Zm 9v", "character", 2),
    ("newline-at-end", "Zm9v\n", "character", 4),
    ("tab-at-start", "\tZm9v", "character", 0),
    ("crlf-between-groups", "Zm9v\r\nZm9v", "character", 4),
    ("whitespace-only", " ", "character", 0),
    ("nul", "Zm\x009v", "character", 2),
    ("non-ascii-str", "Zm9v\u00e9", "character", 4),
    # U+1F600 is four UTF-8 bytes; the offset still counts characters of the str.
    ("non-bmp-str", "Zm\U0001f6009v", "character", 2),
    ("byte-0x80", b"Zm\x80v", "character", 2),
    ("byte-0xff-first", b"\xffZm9", "character", 0),
    ("length-1", "Z", "length", 1),
    ("length-5", "Zm9vY", "length", 5),
    ("length-9", "Zm9vYmFyY", "length", 9),
    # 'h' is 33 = 0b100001: with two characters the low four bits must be zero.
    ("trailing-bits-2-chars", "Zh", "trailing-bits", 1),
    # '9' is 61 = 0b111101: with three characters the low two bits must be zero.
    ("trailing-bits-3-chars", "Zm9", "trailing-bits", 2),
    ("trailing-bits-after-group", "Zm9vZh", "trailing-bits", 5),
    # A bad character is reported before a length or trailing-bits problem.
    ("bad-char-before-length", "Zm9v!", "character", 4),
    ("equals-before-length", "Zm9v=", "character", 4),
    ("bad-char-before-trailing-bits", "!Zh", "character", 0),
    ("non-ascii-before-length", "\u00e9", "character", 0),
]

STD_REFUSALS = [
    ("dash", "Zm-v", "character", 2),
    ("underscore", "_m9v", "character", 0),
    ("space-between-groups", "Zm9v Zm9v", "character", 4),
    ("newline-at-end", "Zm9v\n", "character", 4),
    # The newline hides the padding, so the first '=' is a misplaced character.
    ("newline-after-padding", "Zg==\n", "character", 2),
    ("tab-at-start", "\tZm9v", "character", 0),
    ("nul", "Zm9v\x00", "character", 4),
    ("non-ascii-str", "Zm9v\u20ac", "character", 4),
    ("non-bmp-str", "\U0001f600Zm9", "character", 0),
    ("byte-0x80", b"\x80m9v", "character", 0),
    ("byte-0xff-in-padded", b"Zm9v\xff===", "character", 4),
    ("missing-padding-2", "Zg", "length", 2),
    ("missing-padding-3", "Zm8", "length", 3),
    ("short-padding", "Zg=", "length", 3),
    ("length-5", "Zm9vY", "length", 5),
    ("lone-equals", "=", "length", 1),
    ("two-equals-only", "==", "length", 2),
    # Excess padding is reported at the third '=', even when the length is also wrong.
    ("excess-padding-3", "Zg===", "padding", 4),
    ("excess-padding-4", "Zm9vZg====", "padding", 8),
    ("padding-only", "====", "padding", 2),
    ("three-equals-only", "===", "padding", 2),
    ("equals-in-the-middle", "Zg==Zm8=", "character", 2),
    ("equals-inside-a-group", "Z=g=", "character", 1),
    ("data-after-padding", "Zm8=A", "character", 3),
    ("data-after-full-padding", "Zg==Zg==", "character", 2),
    ("trailing-bits-one-pad", "Zm9=", "trailing-bits", 2),
    ("trailing-bits-two-pad", "Zh==", "trailing-bits", 1),
    ("trailing-bits-after-group", "Zm9vZh==", "trailing-bits", 5),
    # A bad character is reported before padding, length and trailing-bits problems.
    ("bad-char-before-length", "Zm-", "character", 2),
    ("bad-char-before-padding", "Zg-===", "character", 2),
    ("bad-char-before-trailing-bits", "!h==", "character", 0),
]


def _refusal_cases(table: list[tuple[str, Any, str, int]]) -> list[Any]:
    """Each case as given, plus its bytes twin when the input is an ASCII str (the offset is
    the same: one byte per character)."""
    cases = []
    for name, text, reason, offset in table:
        cases.append(pytest.param(text, reason, offset, id=name))
        if isinstance(text, str) and text.isascii():
            cases.append(pytest.param(text.encode(), reason, offset, id=f"{name}-bytes"))
    return cases


def _check_refusal(decode: Any, text: Any, reason: str, offset: int) -> EncodingError:
    with pytest.raises(EncodingError) as info:
        decode(text)
    error = info.value
    assert (error.reason, error.offset) == (reason, offset)
    # The message must say where: the offset appears as a number of its own.
    assert re.search(rf"(?<!\d){offset}(?!\d)", str(error)), str(error)
    if reason == "character":
        # The message names the refused character: repr for str input, hex for bytes.
        if isinstance(text, str):
            assert repr(text[offset]) in str(error)
        else:
            assert f"byte 0x{text[offset]:02x}" in str(error)
    return error


@pytest.mark.parametrize(("text", "reason", "offset"), _refusal_cases(URL_REFUSALS))
def test_b64url_decode_refuses_with_reason_and_offset(
    codec: SimpleNamespace, text: Any, reason: str, offset: int
) -> None:
    _check_refusal(codec.b64url_decode, text, reason, offset)


@pytest.mark.parametrize(("text", "reason", "offset"), _refusal_cases(STD_REFUSALS))
def test_b64_decode_refuses_with_reason_and_offset(
    codec: SimpleNamespace, text: Any, reason: str, offset: int
) -> None:
    _check_refusal(codec.b64_decode, text, reason, offset)


def test_encoding_error_is_a_hemproto_error_and_a_value_error(codec: SimpleNamespace) -> None:
    with pytest.raises(EncodingError) as info:
        codec.b64url_decode("Zg==")
    # Callers may catch the library's root error or plain ValueError.
    assert isinstance(info.value, HemProtoError)
    assert isinstance(info.value, ValueError)
    assert hemproto.EncodingError is EncodingError


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", b""), ("AA", b"\x00"), ("AAA", b"\x00\x00"), ("AAAA", b"\x00\x00\x00"), ("Zw", b"g")],
)
def test_b64url_decode_accepts_the_shortest_canonical_forms(
    codec: SimpleNamespace, text: str, expected: bytes
) -> None:
    assert codec.b64url_decode(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", b""),
        ("AA==", b"\x00"),
        ("AAA=", b"\x00\x00"),
        ("AAAA", b"\x00\x00\x00"),
        ("Zw==", b"g"),
    ],
)
def test_b64_decode_accepts_the_shortest_canonical_forms(
    codec: SimpleNamespace, text: str, expected: bytes
) -> None:
    assert codec.b64_decode(text) == expected


# --- input types -------------------------------------------------------------------------

ENCODER_INPUTS = [
    pytest.param(b"foobar", id="bytes"),
    pytest.param(bytearray(b"foobar"), id="bytearray"),
    pytest.param(memoryview(b"foobar"), id="memoryview"),
    pytest.param(memoryview(bytearray(b"foobar")), id="writable-memoryview"),
    pytest.param(memoryview(b"f-o-o-b-a-r-")[::2], id="non-contiguous-memoryview"),
    pytest.param(memoryview(array.array("H", [0x0102, 0xFFFE, 0x8000])), id="memoryview-format-H"),
    pytest.param(memoryview(array.array("i", [-1, 7, 1 << 20])), id="memoryview-format-i"),
    pytest.param(memoryview(b"foobar").cast("c"), id="memoryview-format-c"),
    pytest.param(memoryview(b"foobar").cast("B", (2, 3)), id="memoryview-2d"),
    pytest.param(memoryview(b"xfooxbarx")[1:4], id="memoryview-slice"),
    pytest.param(b"", id="empty-bytes"),
    pytest.param(memoryview(bytearray()), id="empty-memoryview"),
]


@pytest.mark.parametrize("data", ENCODER_INPUTS)
def test_encoders_accept_every_bytes_like_and_return_str(codec: SimpleNamespace, data: Any) -> None:
    # Whatever the view's shape or format, its raw bytes in memory order are encoded.
    raw = memoryview(data).tobytes()
    std = codec.b64_encode(data)
    url = codec.b64url_encode(data)
    assert type(std) is str and type(url) is str
    assert std == base64.b64encode(raw).decode("ascii")
    assert url == base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


DECODER_INPUTS = [
    pytest.param("Zm9vYmFy", id="str"),
    pytest.param(b"Zm9vYmFy", id="bytes"),
    pytest.param(bytearray(b"Zm9vYmFy"), id="bytearray"),
    pytest.param(memoryview(b"Zm9vYmFy"), id="memoryview"),
    pytest.param(memoryview(b"Z.m.9.v.Y.m.F.y.")[::2], id="non-contiguous-memoryview"),
    pytest.param(memoryview(b"Zm9vYmFy").cast("c"), id="memoryview-format-c"),
    pytest.param(memoryview(b"..Zm9vYmFy..")[2:10], id="memoryview-slice"),
]


@pytest.mark.parametrize("text", DECODER_INPUTS)
def test_decoders_accept_str_and_every_bytes_like_and_return_bytes(
    codec: SimpleNamespace, text: Any
) -> None:
    # "Zm9vYmFy" is canonical in both alphabets (no padding needed, no '+/-_').
    std = codec.b64_decode(text)
    url = codec.b64url_decode(text)
    assert type(std) is bytes and type(url) is bytes
    assert std == url == b"foobar"


def test_decoders_return_bytes_for_empty_input_of_every_type(codec: SimpleNamespace) -> None:
    for empty in ("", b"", bytearray(), memoryview(b"")):
        assert type(codec.b64_decode(empty)) is bytes and codec.b64_decode(empty) == b""
        assert type(codec.b64url_decode(empty)) is bytes and codec.b64url_decode(empty) == b""


def test_decoder_offsets_count_elements_of_a_non_contiguous_view(codec: SimpleNamespace) -> None:
    # The view holds b"Zm!9"; the '!' is its element 2, whatever its address in the buffer.
    view = memoryview(b"Z.m.!.9.")[::2]
    error = _check_refusal(codec.b64url_decode, view, "character", 2)
    assert "0x21" in str(error)


def test_decoders_refuse_bytearray_with_byte_offsets(codec: SimpleNamespace) -> None:
    _check_refusal(codec.b64_decode, bytearray(b"Zm9v\xc3\xa9==="), "character", 4)


NOT_BYTES = [
    pytest.param(1, id="int"),
    pytest.param(None, id="None"),
    pytest.param([90, 103], id="list"),
    pytest.param(1.5, id="float"),
]


@pytest.mark.parametrize("value", [*NOT_BYTES, pytest.param("Zm9v", id="str")])
def test_encoders_refuse_non_bytes_like_with_type_error(codec: SimpleNamespace, value: Any) -> None:
    # A str is text, not bytes: encoding it would need a charset the caller did not choose.
    with pytest.raises(TypeError):
        codec.b64_encode(value)
    with pytest.raises(TypeError):
        codec.b64url_encode(value)


@pytest.mark.parametrize("value", NOT_BYTES)
def test_decoders_refuse_non_text_with_type_error(codec: SimpleNamespace, value: Any) -> None:
    with pytest.raises(TypeError):
        codec.b64_decode(value)
    with pytest.raises(TypeError):
        codec.b64url_decode(value)


def test_type_errors_are_not_encoding_errors(codec: SimpleNamespace) -> None:
    # A wrong type is a programming error, not bad input: it must not be caught as one.
    with pytest.raises(TypeError) as info:
        codec.b64_decode(None)
    assert not isinstance(info.value, HemProtoError)


# --- ct_equal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param(b"secret", b"secret", True, id="equal"),
        pytest.param(b"secret", b"secreT", False, id="last-byte-differs"),
        pytest.param(b"Secret", b"secret", False, id="first-byte-differs"),
        pytest.param(b"\x00" * 32, b"\x00" * 31 + b"\x01", False, id="one-bit-differs"),
        pytest.param(b"secret", b"secret!", False, id="longer"),
        pytest.param(b"secret", b"secre", False, id="shorter"),
        pytest.param(b"", b"", True, id="both-empty"),
        pytest.param(b"", b"\x00", False, id="empty-vs-nul"),
        pytest.param(b"secret", bytearray(b"secret"), True, id="bytes-vs-bytearray"),
        pytest.param(
            bytearray(b"secret"), memoryview(b"secret"), True, id="bytearray-vs-memoryview"
        ),
        pytest.param(memoryview(b"s.e.c.r.e.t.")[::2], b"secret", True, id="non-contiguous-view"),
        pytest.param(memoryview(b"secret"), memoryview(b"secreT"), False, id="memoryviews-differ"),
        pytest.param(
            memoryview(array.array("H", [1, 2])),
            b"\x01\x00\x02\x00" if sys.byteorder == "little" else b"\x00\x01\x00\x02",
            True,
            id="format-H",
        ),
    ],
)
def test_ct_equal_compares_contents(codec: SimpleNamespace, a: Any, b: Any, expected: bool) -> None:
    assert codec.ct_equal(a, b) is expected
    assert codec.ct_equal(b, a) is expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param("secret", "secret", id="str-str"),
        pytest.param("secret", b"secret", id="str-bytes"),
        pytest.param(b"secret", "secret", id="bytes-str"),
        pytest.param(None, b"", id="None"),
        pytest.param(b"", 0, id="int"),
    ],
)
def test_ct_equal_refuses_non_bytes_with_type_error(codec: SimpleNamespace, a: Any, b: Any) -> None:
    # hmac.compare_digest would take two ASCII strs; ct_equal takes bytes only, on both
    # codecs, so the choice of codec never changes what a caller may pass.
    with pytest.raises(TypeError):
        codec.ct_equal(a, b)


# --- the choice of codec -------------------------------------------------------------------


def test_active_codec_names_the_codec_behind_the_module_functions() -> None:
    name = _codec.active_codec()
    assert name in ("c", "python")
    active = _codec.c_codec if name == "c" else _codec.python_codec
    assert active is not None
    for function in ("b64_encode", "b64_decode", "b64url_encode", "b64url_decode", "ct_equal"):
        assert getattr(_codec, function) is getattr(active, function)
    assert hemproto.active_codec() == name


def test_all_codecs_lists_c_then_python_when_built() -> None:
    names = [codec.name for codec in _codec.all_codecs]
    assert names == (["c", "python"] if _codec.c_codec is not None else ["python"])


def test_active_codec_follows_the_documented_rule() -> None:
    # HEMPROTO_PURE=1 wins; otherwise the C extension whenever it is built.
    if pure_env():
        expected = "python"
    else:
        expected = "c" if _codec.c_codec is not None else "python"
    assert _codec.active_codec() == expected


def test_the_environment_variables_decide_the_codec() -> None:
    # CI runs the suite once with each variable; whichever is set, it must have taken effect
    # (a silent fallback to Python under HEMPROTO_REQUIRE_C=1 fails here).
    if require_c_env():
        assert _codec.c_codec is not None, "HEMPROTO_REQUIRE_C=1 but the C extension is missing"
    if pure_env():
        assert _codec.active_codec() == "python"
    elif require_c_env():
        assert _codec.active_codec() == "c"
    else:
        assert _codec.active_codec() == ("python" if _codec.c_codec is None else "c")


def _imported_from_source_tree() -> bool:
    return Path(_codec.__file__).resolve().parent == ROOT / "hemproto"


def _child_env(**overrides: str | None) -> dict[str, str]:
    env = os.environ.copy()
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    if _imported_from_source_tree():
        # The child runs from a neutral directory, so point it at the same source tree.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


_PROBE = "import hemproto._codec as c; print(c.active_codec()); print(c.__file__)"


def _run_probe(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _same_module(path: str) -> bool:
    return Path(path).resolve() == Path(_codec.__file__).resolve()


def test_subprocess_with_hemproto_pure_uses_python(tmp_path: Path) -> None:
    result = _run_probe(tmp_path, _child_env(HEMPROTO_PURE="1"))
    assert result.returncode == 0, result.stderr
    codec, module = result.stdout.split()
    assert codec == "python"
    assert _same_module(module)


def test_subprocess_with_hemproto_require_c_uses_c(tmp_path: Path) -> None:
    result = _run_probe(tmp_path, _child_env(HEMPROTO_REQUIRE_C="1", HEMPROTO_PURE=None))
    if _codec.c_codec is not None:
        assert result.returncode == 0, result.stderr
        codec, module = result.stdout.split()
        assert codec == "c"
        assert _same_module(module)
    else:
        # Without the extension the import itself must fail loudly, naming the variable.
        assert result.returncode != 0
        assert "ImportError" in result.stderr
        assert "HEMPROTO_REQUIRE_C" in result.stderr


def test_subprocess_without_variables_prefers_c_when_built(tmp_path: Path) -> None:
    result = _run_probe(tmp_path, _child_env(HEMPROTO_REQUIRE_C=None, HEMPROTO_PURE=None))
    assert result.returncode == 0, result.stderr
    codec, module = result.stdout.split()
    assert codec == ("c" if _codec.c_codec is not None else "python")
    assert _same_module(module)
