"""Writes csrc/hemshape.h, the check's and the reply's shape for the C core, from
hemproto/schema.py; with --check, says whether the checked-in header is still what the
schema makes. The C sources never restate a claim's name, size or order by hand.

    python csrc/gen_shape.py            write csrc/hemshape.h
    python csrc/gen_shape.py --check    exit 1, showing the difference, when it is stale

It reads this checkout's schema without running hemproto/__init__.py (which needs the
package's dependencies), so any Python 3.10 or later will do: csrc/Makefile's test target
runs the check with whatever python3 it finds. A schema the C code cannot follow (a second
optional check claim, reply claims in another order, ...) is refused with the reason and
exit status 2: those changes need C written by hand, not only a new header.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HEADER = HERE / "hemshape.h"

# The claims hemreply.c writes, in the order it writes them, with the kind it gives each:
# its fixed-argument API names them, so another list needs new C, not a new header.
REPLY_WRITTEN = (
    ("jti", "bytes"),
    ("iss", "bytes"),
    ("aud", "bytes"),
    ("iat", "time"),
    ("act", "action"),
    ("crt", "bytes"),
    ("newfws", "bytes"),
    ("newuis", "bytes"),
)
# hemcheck.h's API names the check's one optional claim (hem_check_found.has_uis).
CHECK_OPTIONAL = "uis"
# Names hemcheck.h gives to other things than claims: HEM_CHECK_SIG, _OUT, _OTHER.
CHECK_RESERVED = frozenset({"sig", "out", "other"})
# Names go into JSON and C unescaped, and upper-cased into macro names.
NAME = re.compile(r"[a-z][a-z0-9]*\Z")


class ShapeError(Exception):
    """The schema describes a shape the C code cannot follow without new code."""


def load_schema() -> types.ModuleType:
    """hemproto/schema.py of this checkout, loaded on its own (with errors.py, its one
    import) under a private package name: nothing here needs an installed or importable
    hemproto, and a hemproto already imported in this process is left as it is.
    """
    package = types.ModuleType("_gen_shape_hemproto")
    package.__path__ = [str(ROOT / "hemproto")]
    sys.modules[package.__name__] = package
    spec = importlib.util.spec_from_file_location(
        f"{package.__name__}.schema", ROOT / "hemproto" / "schema.py"
    )
    if spec is None or spec.loader is None:
        raise ShapeError("hemproto/schema.py cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


def b64_length(size: int) -> int:
    """Characters of the padded standard base64 of ``size`` bytes."""
    return (size + 2) // 3 * 4


def b64url_length(size: int) -> int:
    """Characters of the unpadded base64url of ``size`` bytes."""
    return (size * 4 + 2) // 3


def c_string(text: str) -> str:
    """``text`` as a C string literal; only printable ASCII is expected."""
    if not all(" " <= ch <= "~" for ch in text):
        raise ShapeError(f"{text!r}: only printable ASCII goes into the C tables")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quoted_member(name: str, chars: int) -> int:
    """Bytes of the JSON member "name":"value" with a value of ``chars`` characters."""
    return len(name) + 5 + chars


def json_length(members: list[int]) -> int:
    """Bytes of a compact JSON object with members of these lengths."""
    return 2 + sum(members) + len(members) - 1


def check_lines(schema: types.ModuleType) -> list[str]:
    claims = schema.CHECK_CLAIMS
    for spec in claims:
        if not NAME.match(spec.name) or spec.name in CHECK_RESERVED:
            raise ShapeError(f"check claim {spec.name!r}: not a name the C tables can carry")
        if spec.kind != "bytes" or not isinstance(spec.size, int) or spec.size < 1:
            raise ShapeError(
                f"check claim {spec.name!r}: the scan matches fixed-size bytes claims only"
            )
    names = [spec.name for spec in claims]
    if len(set(names)) != len(names):
        raise ShapeError("the check names a claim twice")
    optional = [k for k, spec in enumerate(claims) if spec.optional]
    if [names[k] for k in optional] != [CHECK_OPTIONAL]:
        raise ShapeError(
            f"the scan tells the one optional claim ({CHECK_OPTIONAL}) by the payload's "
            f"length; the schema makes {[names[k] for k in optional]} optional"
        )
    by_name = {spec.name: spec for spec in claims}
    if "iss" not in by_name or "aud" not in by_name or by_name["iss"].size != by_name["aud"].size:
        raise ShapeError("the scan refuses iss == aud: both must be claims of one size")
    texts = schema.HEADER_TEXTS
    if not 1 <= len(texts) <= 2 or len({len(text) for text in texts}) != 1:
        raise ShapeError(
            "the scan takes one or two header texts of one length (the Python binding "
            "packs the header's number in one bit)"
        )

    offsets = []
    offset = 0
    for spec in claims:
        offsets.append(offset)
        offset += spec.size
    signature_at = offset
    out_size = offset + schema.SIGNATURE_SIZE
    if schema.CHECK_SCAN_LAYOUT.size != out_size:
        raise ShapeError("CHECK_SCAN_LAYOUT is not the claims and the signature back to back")
    chars = [b64_length(spec.size) for spec in claims]
    members = [quoted_member(name, n) for name, n in zip(names, chars, strict=True)]
    full = json_length(members)
    short = json_length([size for k, size in enumerate(members) if k not in optional])
    header_bytes = len(texts[0])
    max_len = (
        b64url_length(header_bytes)
        + 1
        + b64url_length(full)
        + 1
        + b64url_length(schema.SIGNATURE_SIZE)
    )
    if max_len != schema.CHECK_MAX_LENGTH:
        raise ShapeError(f"CHECK_MAX_LENGTH is {schema.CHECK_MAX_LENGTH}, the shape {max_len}")

    width = max(len("signature"), *(len(name) for name in names))
    table = [f" *   {'claim':<{width}}  bytes  base64  offset"]
    for spec, n, at in zip(claims, chars, offsets, strict=True):
        note = "  optional" if spec.optional else ""
        table.append(f" *   {spec.name:<{width}}  {spec.size:5}  {n:6}  {at:6}{note}")
    signature_chars = b64url_length(schema.SIGNATURE_SIZE)
    table.append(
        f" *   {'signature':<{width}}  {schema.SIGNATURE_SIZE:5}  {signature_chars:6}  "
        f"{signature_at:6}  base64url: the token's third segment"
    )
    lines = [
        "/*",
        " * The check's claims, in the order devices write them (hemcheck.h): each a JSON",
        " * member whose value is the padded standard base64 of its bytes, decoded by",
        " * hem_check_scan to its offset in the output; the signature last.",
        *table,
        " */",
        "",
        "/* Where hem_check_scan puts each field (an absent optional claim as zeros), the",
        " * signature, and the output's size. */",
    ]
    for spec, at in zip(claims, offsets, strict=True):
        lines.append(f"#define HEM_CHECK_{spec.name.upper()} {at}")
    lines += [
        f"#define HEM_CHECK_SIG {signature_at}",
        f"#define HEM_CHECK_OUT {out_size}",
        "/* The longest token in the shape: every claim and the longer header. */",
        f"#define HEM_CHECK_MAX_LEN {max_len}",
        "",
        "/* Per claim, in order: { name, name length, base64 characters, bytes, offset }. */",
        f"#define HEM_SHAPE_CHECK_CLAIMS {len(claims)}u",
        f"#define HEM_SHAPE_CHECK_OPTIONAL {optional[0]}u /* the index of {CHECK_OPTIONAL} */",
        "#define HEM_SHAPE_CHECK_TABLE \\",
    ]
    rows = [
        f"    {{{c_string(spec.name)}, {len(spec.name)}u, {n}u, {spec.size}u, "
        f"HEM_CHECK_{spec.name.upper()}}}"
        for spec, n in zip(claims, chars, strict=True)
    ]
    lines += [row + ", \\" for row in rows[:-1]] + [rows[-1]]
    lines += [
        "/* The longest value's decoded room (hem_b64_decoded_max of its base64), and the",
        " * size of iss and of aud, which must differ. */",
        f"#define HEM_SHAPE_CHECK_VALUE_MAX {max(chars) // 4 * 3}u",
        f"#define HEM_SHAPE_CHECK_KEY_BYTES {by_name['iss'].size}u",
        "/* The payload JSON in bytes, and its base64url in characters: with every claim,",
        " * and without the optional one. */",
        f"#define HEM_SHAPE_CHECK_JSON_FULL {full}u",
        f"#define HEM_SHAPE_CHECK_JSON_SHORT {short}u",
        f"#define HEM_SHAPE_CHECK_PAYLOAD_FULL {b64url_length(full)}u",
        f"#define HEM_SHAPE_CHECK_PAYLOAD_SHORT {b64url_length(short)}u",
        "",
        "/* The header texts, by number (the check's own first), and their length. */",
        f"#define HEM_SHAPE_HEADERS {len(texts)}u",
        f"#define HEM_SHAPE_HEADER_BYTES {header_bytes}u",
        f"#define HEM_SHAPE_HEADER_CHARS {b64url_length(header_bytes)}u",
        "#define HEM_SHAPE_HEADER_TEXTS \\",
    ]
    quoted = [f"    {c_string(text)}" for text in texts]
    lines += [text + ", \\" for text in quoted[:-1]] + [quoted[-1]]
    lines += [
        "",
        "/* The signature, a token's third segment: an HS256 MAC. */",
        f"#define HEM_SHAPE_SIGNATURE_BYTES {schema.SIGNATURE_SIZE}u",
        f"#define HEM_SHAPE_SIGNATURE_CHARS {b64url_length(schema.SIGNATURE_SIZE)}u",
    ]
    return lines


def reply_lines(schema: types.ModuleType) -> list[str]:
    claims = schema.CHECKED_CLAIMS
    written = tuple((spec.name, spec.kind) for spec in claims)
    if written != REPLY_WRITTEN:
        raise ShapeError(
            f"hemreply.c writes the reply's claims as {REPLY_WRITTEN}; the schema has {written}"
        )
    actions = schema.ACTIONS
    for action in actions:
        if not NAME.match(action.lower()):
            raise ShapeError(f"action {action!r}: not a text the C table can carry")
    longest_action = max(len(action) for action in actions)
    max_iat = schema.MAX_IAT
    if not 0 < max_iat < 2**64:
        raise ShapeError("MAX_IAT must fit an unsigned long long")

    # The longest payload: every claim at its largest; iat is the one value without quotes.
    members = []
    for spec in claims:
        if spec.kind == "time":
            members.append(len(spec.name) + 3 + len(str(max_iat)))
        elif spec.kind == "action":
            members.append(quoted_member(spec.name, longest_action))
        else:
            members.append(quoted_member(spec.name, b64_length(spec.size or spec.max_size)))
    max_payload = json_length(members)

    lines = [
        "/* The reply's claims, in the order hemreply.c writes them: name and, for fixed-size",
        " * bytes, the size. */",
    ]
    for spec in claims:
        macro = f"HEM_SHAPE_REPLY_{spec.name.upper()}"
        lines.append(f"#define {macro} {c_string(spec.name)}")
        if spec.kind == "bytes" and spec.size is not None:
            lines.append(f"#define {macro}_BYTES {spec.size}u")
    crt = next(spec for spec in claims if spec.name == "crt")
    lines += [
        "/* The largest iat (every JSON reader holds it exactly) and certificate. */",
        f"#define HEM_REPLY_MAX_IAT {max_iat}ULL",
        f"#define HEM_REPLY_MAX_CRT {crt.max_size}u",
        "/* The actions a reply may order, and the longest one's length. */",
        f"#define HEM_SHAPE_REPLY_ACTIONS {len(actions)}u",
        f"#define HEM_SHAPE_REPLY_ACTION_MAX {longest_action}u",
        "#define HEM_SHAPE_REPLY_ACTION_TEXTS " + ", ".join(c_string(a) for a in actions),
        "/* Bytes of the longest payload JSON: every claim, the largest iat and certificate. */",
        f"#define HEM_SHAPE_REPLY_MAX_PAYLOAD {max_payload}u",
    ]
    return lines


def render(schema: types.ModuleType) -> str:
    lines = [
        "/*",
        " * hemshape.h: the shape of the check and of the reply, from hemproto/schema.py.",
        " * Generated by csrc/gen_shape.py, do not edit: change the schema, then run",
        " * `python csrc/gen_shape.py`; `python csrc/gen_shape.py --check` says whether this",
        " * file is current (csrc/Makefile's test target and tests/test_c_shape.py run it).",
        " *",
        " * Included by hemcheck.h and hemreply.h, whose public HEM_CHECK_* offsets and",
        " * HEM_REPLY_MAX_* limits are defined here; the HEM_SHAPE_* names are the library's",
        " * own. Plain C99 macros only: no data, no symbols.",
        " */",
        "#ifndef HEMSHAPE_H",
        "#define HEMSHAPE_H",
        "",
        *check_lines(schema),
        "",
        *reply_lines(schema),
        "",
        "#endif /* HEMSHAPE_H */",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv not in ([], ["--check"]):
        print("usage: python csrc/gen_shape.py [--check]", file=sys.stderr)
        return 2
    try:
        text = render(load_schema())
    except ShapeError as error:
        print(f"gen_shape: {error}", file=sys.stderr)
        return 2
    if argv == ["--check"]:
        current = HEADER.read_text(encoding="ascii") if HEADER.exists() else ""
        if current == text:
            print(f"gen_shape: {HEADER.name} is current")
            return 0
        sys.stderr.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"{HEADER.name} (checked in)",
                f"{HEADER.name} (from hemproto/schema.py)",
            )
        )
        print(
            f"gen_shape: {HEADER.name} is stale: run `python csrc/gen_shape.py`",
            file=sys.stderr,
        )
        return 1
    HEADER.write_text(text, encoding="ascii", newline="\n")
    print(f"gen_shape: wrote {HEADER.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
