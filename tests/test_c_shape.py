"""The C core's copy of the message shapes against hemproto.schema: csrc/hemshape.h is what
csrc/gen_shape.py makes of the schema today, the generator follows the schema (and refuses
a shape the C scan cannot follow), and every value the C library compiled in, read from C
through the extension's cdef, is the schema's or the Python codec's: offsets, sizes,
header texts, limits, actions, error codes and the packing of the scan's result."""

from __future__ import annotations

import base64
import dataclasses
import importlib.util
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _both_codecs import require_c_codec

from hemproto import _pycodec, schema

ROOT = Path(__file__).resolve().parents[1]
GEN_SHAPE = ROOT / "csrc" / "gen_shape.py"


def run_gen_shape(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def load_gen_shape() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_shape", GEN_SHAPE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the generated header ----------------------------------------------------------------


def test_the_checked_in_header_is_what_the_schema_makes() -> None:
    ran = run_gen_shape(GEN_SHAPE, "--check")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "is current" in ran.stdout


def test_check_fails_on_a_stale_header(tmp_path: Path) -> None:
    # A copy of the generator beside a changed header: the checkout is never written.
    (tmp_path / "csrc").mkdir()
    script = tmp_path / "csrc" / "gen_shape.py"
    script.write_text(GEN_SHAPE.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "hemproto").mkdir()
    for source in (ROOT / "hemproto").glob("*.py"):
        (tmp_path / "hemproto" / source.name).write_bytes(source.read_bytes())
    header = (ROOT / "csrc" / "hemshape.h").read_text(encoding="ascii")
    stale = header.replace("#define HEM_CHECK_CSN ", "#define HEM_CHECK_CSN 1 + ")
    assert stale != header
    (tmp_path / "csrc" / "hemshape.h").write_text(stale, encoding="ascii")

    ran = run_gen_shape(script, "--check")
    assert ran.returncode == 1
    assert "stale" in ran.stderr
    assert "-#define HEM_CHECK_CSN 1 + " in ran.stderr

    assert run_gen_shape(script).returncode == 0
    assert (tmp_path / "csrc" / "hemshape.h").read_text(encoding="ascii") == header
    assert run_gen_shape(script, "--check").returncode == 0


def schema_with_check_claims(claims: tuple[schema.ClaimSpec, ...]) -> ModuleType:
    """A stand-in for hemproto.schema whose check has these claims."""
    fake = ModuleType("fake_schema")
    for name in dir(schema):
        if not name.startswith("__"):
            setattr(fake, name, getattr(schema, name))
    layout = struct.Struct(
        "".join(f"{spec.size}s" for spec in claims) + f"{schema.SIGNATURE_SIZE}s"
    )
    payload = 2 + sum(len(s.name) + 5 + ((s.size or 0) + 2) // 3 * 4 for s in claims)
    payload += len(claims) - 1
    max_length = (
        (len(schema.HEADER_TEXTS[0]) * 4 + 2) // 3
        + 1
        + (payload * 4 + 2) // 3
        + 1
        + (schema.SIGNATURE_SIZE * 4 + 2) // 3
    )
    setattr(fake, "CHECK_CLAIMS", claims)
    setattr(fake, "CHECK_SCAN_LAYOUT", layout)
    setattr(fake, "CHECK_MAX_LENGTH", max_length)
    return fake


def test_a_new_check_claim_needs_only_the_generator() -> None:
    gen_shape = load_gen_shape()
    at = [spec.name for spec in schema.CHECK_CLAIMS].index("csn")
    extra = schema.ClaimSpec("xyz0", 8, False, "a claim for this test", cbor=99)
    claims = (*schema.CHECK_CLAIMS[:at], extra, *schema.CHECK_CLAIMS[at:])
    text = gen_shape.render(schema_with_check_claims(claims))
    csn = layout_offsets()[at]
    assert f"#define HEM_CHECK_XYZ0 {csn}\n" in text
    assert f"#define HEM_CHECK_CSN {csn + 8}\n" in text
    assert f"#define HEM_CHECK_OUT {schema.CHECK_SCAN_LAYOUT.size + 8}\n" in text
    assert f"#define HEM_SHAPE_CHECK_CLAIMS {len(claims)}u\n" in text
    assert '{"xyz0", 4u, 12u, 8u, HEM_CHECK_XYZ0}' in text


@pytest.mark.parametrize(
    "change",
    [
        "csn optional",  # a second optional claim: the payload's length no longer tells
        "uis required",  # hem_check_found.has_uis names the optional claim
        "csn as time",  # the scan matches bytes claims only
        "aud longer",  # iss == aud is compared over one size
        "NAME",  # not a name the C tables carry unescaped
    ],
)
def test_a_shape_the_c_scan_cannot_follow_is_refused(change: str) -> None:
    gen_shape = load_gen_shape()
    by_name = {spec.name: spec for spec in schema.CHECK_CLAIMS}
    edits: dict[str, dict[str, Any]] = {
        "csn optional": {"csn": {"optional": True}},
        "uis required": {"uis": {"optional": False}},
        "csn as time": {"csn": {"kind": "time"}},
        "aud longer": {"aud": {"size": 33}},
        "NAME": {"jti": {"name": "JTI"}},
    }
    for name, fields in edits[change].items():
        by_name[name] = dataclasses.replace(by_name[name], **fields)
    claims = tuple(by_name[spec.name] for spec in schema.CHECK_CLAIMS)
    with pytest.raises(gen_shape.ShapeError):
        gen_shape.render(schema_with_check_claims(claims))


def test_reply_claims_in_another_order_are_refused() -> None:
    gen_shape = load_gen_shape()
    fake = schema_with_check_claims(schema.CHECK_CLAIMS)
    setattr(fake, "CHECKED_CLAIMS", tuple(reversed(schema.CHECKED_CLAIMS)))
    with pytest.raises(gen_shape.ShapeError, match=r"hemreply\.c writes"):
        gen_shape.render(fake)


# --- the values compiled into the C library ------------------------------------------------


@pytest.fixture(scope="module")
def c() -> tuple[Any, Any]:
    """The extension's ffi and lib: skipped without it, a failure under HEMPROTO_REQUIRE_C=1."""
    require_c_codec()
    from hemproto._hemcodec import ffi, lib  # type: ignore[import-not-found,unused-ignore]

    return ffi, lib


def layout_offsets() -> list[int]:
    """The start of each field of CHECK_SCAN_LAYOUT, in order (claims, then signature)."""
    sizes = [int(size) for size in re.findall(r"(\d+)s", schema.CHECK_SCAN_LAYOUT.format)]
    return [sum(sizes[:k]) for k in range(len(sizes))]


def test_the_scan_offsets_are_the_layouts(c: tuple[Any, Any]) -> None:
    _, lib = c
    offsets = layout_offsets()
    assert len(offsets) == len(schema.CHECK_CLAIMS) + 1
    for spec, offset in zip(schema.CHECK_CLAIMS, offsets, strict=False):
        assert getattr(lib, f"HEM_CHECK_{spec.name.upper()}") == offset, spec.name
    assert lib.HEM_CHECK_SIG == offsets[-1]
    assert lib.HEM_CHECK_OUT == schema.CHECK_SCAN_LAYOUT.size
    assert lib.HEM_CHECK_MAX_LEN == schema.CHECK_MAX_LENGTH
    # No offset of a claim the schema no longer has.
    others = {"SIG", "OUT", "MAX_LEN", "OTHER", "HEADER_MASK", "HAS_UIS", "SIGNED_SHIFT"}
    named = {name[len("HEM_CHECK_") :] for name in dir(lib) if name.startswith("HEM_CHECK_")}
    assert named - others == {spec.name.upper() for spec in schema.CHECK_CLAIMS}


def test_the_packed_scan_result_is_what_the_python_codec_unpacks(c: tuple[Any, Any]) -> None:
    _, lib = c
    assert lib.HEM_CHECK_OTHER == -1
    assert lib.HEM_CHECK_HEADER_MASK == _pycodec.CHECK_HEADER_MASK
    assert lib.HEM_CHECK_HAS_UIS == _pycodec.CHECK_HAS_UIS
    assert lib.HEM_CHECK_SIGNED_SHIFT == _pycodec.CHECK_SIGNED_SHIFT


def test_the_error_codes_are_the_python_codecs(c: tuple[Any, Any]) -> None:
    _, lib = c
    assert lib.HEM_E_CHAR == _pycodec.ERR_CHAR
    assert lib.HEM_E_LENGTH == _pycodec.ERR_LENGTH
    assert lib.HEM_E_PADDING == _pycodec.ERR_PADDING
    assert lib.HEM_E_TRAILING == _pycodec.ERR_TRAILING
    # The codes only C has (hemcodec.h, hemreply.h): distinct from these and each other.
    codes = [lib.HEM_E_CHAR, lib.HEM_E_LENGTH, lib.HEM_E_PADDING, lib.HEM_E_TRAILING]
    codes += [lib.HEM_E_SPACE, lib.HEM_E_SEGMENTS, lib.HEM_REPLY_E_FIELD, lib.HEM_REPLY_E_MAC]
    assert len(set(codes)) == len(codes) and all(code < 0 for code in codes)


def test_the_reply_limits_are_the_schemas(c: tuple[Any, Any]) -> None:
    _, lib = c
    crt = next(spec for spec in schema.CHECKED_CLAIMS if spec.name == "crt")
    assert lib.HEM_REPLY_MAX_IAT == schema.MAX_IAT == _pycodec.REPLY_MAX_IAT
    assert lib.HEM_REPLY_MAX_CRT == crt.max_size == schema.MAX_CERTIFICATE_SIZE
    assert lib.HEM_REPLY_MAX_HEADER == _pycodec.REPLY_MAX_HEADER
    assert lib.HEM_REPLY_MAX_LEN == _pycodec.REPLY_MAX_LENGTH


# --- the shape, through the C functions ----------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def field_values(with_optional: bool) -> dict[str, bytes]:
    """Distinct bytes for every check claim (iss != aud), the optional ones when asked."""
    return {
        spec.name: bytes((k * 37 + i) % 256 for i in range(spec.size or 0))
        for k, spec in enumerate(schema.CHECK_CLAIMS, start=1)
        if with_optional or not spec.optional
    }


def check_token(header: str, values: dict[str, bytes], signature: bytes) -> str:
    payload = (
        "{"
        + ",".join(
            f'"{name}":"{base64.b64encode(value).decode("ascii")}"'
            for name, value in values.items()
        )
        + "}"
    )
    return ".".join(
        (b64url(header.encode("ascii")), b64url(payload.encode("ascii")), b64url(signature))
    )


def c_scan(c: tuple[Any, Any], token: str) -> tuple[int, bytes]:
    ffi, lib = c
    out = ffi.new("char[]", lib.HEM_CHECK_OUT)
    data = token.encode("ascii")
    return lib.hemx_check_scan(data, len(data), out), ffi.unpack(out, lib.HEM_CHECK_OUT)


@pytest.mark.parametrize("with_optional", [True, False])
def test_each_schema_header_text_is_matched(c: tuple[Any, Any], with_optional: bool) -> None:
    _, lib = c
    signature = bytes(range(100, 100 + schema.SIGNATURE_SIZE))
    values = field_values(with_optional)
    for number, text in enumerate(schema.HEADER_TEXTS):
        token = check_token(text, values, signature)
        packed, out = c_scan(c, token)
        assert packed >= 0, text
        assert packed & lib.HEM_CHECK_HEADER_MASK == number
        assert bool(packed & lib.HEM_CHECK_HAS_UIS) == with_optional
        assert packed >> lib.HEM_CHECK_SIGNED_SHIFT == token.rindex(".")
        fields = schema.CHECK_SCAN_LAYOUT.unpack(out)
        for spec, got in zip(schema.CHECK_CLAIMS, fields, strict=False):
            assert got == values.get(spec.name, bytes(spec.size or 0)), spec.name
        assert fields[-1] == signature


def other_headers() -> list[str]:
    members = json.loads(schema.HEADER_TEXTS[0])
    texts = [
        json.dumps(members),  # spaces after the separators
        json.dumps(dict(reversed(list(members.items()))), separators=(",", ":")),
        json.dumps({**members, "alg": "HS384"}, separators=(",", ":")),
        json.dumps({**members, "kid": "1"}, separators=(",", ":")),
        json.dumps({"alg": members["alg"]}, separators=(",", ":")),
        schema.HEADER_TEXTS[0].upper(),
        schema.HEADER_TEXTS[0] + " ",
    ]
    return [text for text in texts if text not in schema.HEADER_TEXTS]


@pytest.mark.parametrize("header", other_headers())
def test_any_other_header_is_not_matched(c: tuple[Any, Any], header: str) -> None:
    token = check_token(header, field_values(True), bytes(schema.SIGNATURE_SIZE))
    assert c_scan(c, token)[0] == -1


def test_the_claims_are_matched_by_the_schemas_names_and_sizes(c: tuple[Any, Any]) -> None:
    header = schema.HEADER_TEXTS[0]
    signature = bytes(schema.SIGNATURE_SIZE)
    values = field_values(True)
    assert c_scan(c, check_token(header, values, signature))[0] >= 0
    for spec in schema.CHECK_CLAIMS:
        renamed = {(k + "x" if k == spec.name else k): v for k, v in values.items()}
        assert c_scan(c, check_token(header, renamed, signature))[0] == -1, spec.name
        longer = {**values, spec.name: values[spec.name] + b"\0"}
        assert c_scan(c, check_token(header, longer, signature))[0] == -1, spec.name
        without = {k: v for k, v in values.items() if k != spec.name}
        matched = c_scan(c, check_token(header, without, signature))[0] >= 0
        assert matched == spec.optional, spec.name
    reordered = dict(reversed(list(values.items())))
    assert c_scan(c, check_token(header, reordered, signature))[0] == -1


def c_checked_sign(c: tuple[Any, Any], act: bytes, iat: int) -> tuple[int, str]:
    ffi, lib = c
    sizes = {spec.name: spec.size for spec in schema.CHECKED_CLAIMS}
    key, jti, iss, aud = (bytes([k]) * schema.KEY_SIZE for k in range(1, 5))
    crt = b"\x30" * lib.HEM_REPLY_MAX_CRT
    newfws, newuis = b"\x05" * (sizes["newfws"] or 0), b"\x06" * (sizes["newuis"] or 0)
    header = b64url(schema.HEADER_TEXTS[0].encode("ascii")).encode("ascii")
    out = ffi.new("char[]", lib.HEM_REPLY_MAX_LEN)
    written = lib.hemx_checked_sign(
        key, jti, iss, aud, iat, act, len(act), crt, len(crt), newfws, newuis,
        header, len(header), out, lib.HEM_REPLY_MAX_LEN,
    )  # fmt: skip
    return written, ffi.unpack(out, max(written, 0)).decode("ascii")


def test_the_reply_is_written_in_the_schemas_order_and_sizes(c: tuple[Any, Any]) -> None:
    written, token = c_checked_sign(c, schema.ACTIONS[0].encode("ascii"), schema.MAX_IAT)
    assert written > 0
    payload = token.split(".")[1]
    members = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert list(members) == [spec.name for spec in schema.CHECKED_CLAIMS]
    for spec in schema.CHECKED_CLAIMS:
        if spec.kind == "bytes":
            size = len(base64.b64decode(members[spec.name], validate=True))
            assert size == (spec.size or spec.max_size), spec.name
    assert members["iat"] == schema.MAX_IAT


def test_the_reply_takes_exactly_the_schemas_actions(c: tuple[Any, Any]) -> None:
    _, lib = c
    for action in schema.ACTIONS:
        assert c_checked_sign(c, action.encode("ascii"), 0)[0] > 0, action
    for other in ("", "ok", "X", "OKK", "LL", *(action + "\0" for action in schema.ACTIONS)):
        assert other not in schema.ACTIONS
        assert c_checked_sign(c, other.encode("ascii"), 0)[0] == lib.HEM_REPLY_E_FIELD, other
    first = schema.ACTIONS[0].encode("ascii")
    assert c_checked_sign(c, first, schema.MAX_IAT + 1)[0] == lib.HEM_REPLY_E_FIELD
