#!/usr/bin/env python3
"""Fuzz target for hemproto's Python surface: both codecs, split_token,
decode_ejwt, from_cbor, the device check's scan_check, HS256 and the strict JSON decoder.

Every input is fed, as bytes, bytearray, memoryview (contiguous and strided) and as its
latin-1 and UTF-8 (surrogateescape) str forms, to whichever functions take that type.
The invariants, any breach of which raises Finding:

* the C and the Python codec give the same result, or raise the same exception class
  with the same message, reason, segment and offset;
* a decoder either accepts, and the output re-encodes to exactly the input (and the
  standard library decodes it to the same bytes), or raises EncodingError with a
  documented reason and an offset in [0, len] that points where hemcodec.h says;
* split_token accepts exactly the texts with two '.' and three non-empty canonical
  base64url segments, and returns the '.' offsets and the three decodes back to back;
* decode_ejwt and from_cbor raise MalformedToken or nothing (TypeError only for a wrong
  argument type); a token they accept is the text given (decode_ejwt) or one that
  decode_ejwt accepts and that survives to_cbor -> from_cbor unchanged (from_cbor);
* scan_check gives the same result on both codecs (None, or the packed flags and signed
  length, the nine fields and the signed text); a match is a token the device template
  re-encodes (with the standard library) to exactly the text, its signed length is the
  index of the second '.', iss != aud, and the general path (jws.decode_parts, then
  CheckChallenge._from_parts) accepts it with the same field values, header and no extra
  claims, and parse_check gives that same challenge on both codecs; a token of a check's
  length that the general path accepts and that is in the device shape is never refused;
* the strict JSON decoder (_json.loads_object) gives the same object, and loads_outline the
  same outline, or the same error message, whether the C codec's one-pass scan
  (csrc/hemjson.h) or the Python codec's reference decoder decides, for the input as
  bytes and as text;
* hs256 of the C codec (under the best SHA-256 block function, and for one input in four
  under the portable one too) and of the Python codec equal the standard library's
  HMAC-SHA256, and both verifiers accept that MAC and refuse it with a bit flipped or cut
  short;
* nothing else is ever raised.

decode_ejwt, from_cbor, parse_check and verify_check reach the codec through
hemproto._codec's module attributes, so each is run twice with those attributes pointing
at one backend, then the other.

Check tokens. Besides the input itself (taken as a token), every input is turned into a
check token in the device shape: field bytes, header and "uis" taken from the input,
encoded by the template here, then half of the time given one small edit (a JSON
character, a claim value's unused bits, an inserted or dropped character, a character of
the header or signature). One input in eight also signs such a check with sign_check and
verifies it with verify_check. The custom mutators put such tokens into the corpus too.

Drivers. With atheris installed this runs under atheris (libFuzzer flags, coverage of
hemproto's bytecode). Without it, or with --stdlib or HEMFUZZ_DRIVER=stdlib, it runs
under minifuzz.py beside it, a time-bounded mutational loop that takes the same flags
(-max_total_time=, -runs=, -seed=, -artifact_prefix=, -max_len=, -dict=) and the same
corpus directories or single files to replay.

This imports whichever hemproto the interpreter finds: run it from a directory outside
the source tree (fuzz/run.sh does) to test the installed package. It prints which one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import os
import re
import sys
from typing import Any

_ARGS = [a for a in sys.argv if a != "--stdlib"]
_WANT_STDLIB = "--stdlib" in sys.argv or os.environ.get("HEMFUZZ_DRIVER") == "stdlib"

atheris: Any = None
if not _WANT_STDLIB:
    try:
        atheris = importlib.import_module("atheris")
    except ImportError:
        if os.environ.get("HEMFUZZ_DRIVER") == "atheris":
            raise

if atheris is not None:
    # Coverage feedback comes from hemproto's own bytecode; the C extension is compared,
    # not instrumented.
    with atheris.instrument_imports(include=["hemproto"]):
        import hemproto
        from hemproto import _codec, _json, jws, schema
        from hemproto.cbor import from_cbor, to_cbor
        from hemproto.claims import CheckChallenge, parse_check, sign_check, verify_check
        from hemproto.errors import BadSignature, ClaimError, EncodingError, MalformedToken
        from hemproto.x25519 import KeyPair
else:
    import hemproto
    from hemproto import _codec, _json, jws, schema
    from hemproto.cbor import from_cbor, to_cbor
    from hemproto.claims import CheckChallenge, parse_check, sign_check, verify_check
    from hemproto.errors import BadSignature, ClaimError, EncodingError, MalformedToken
    from hemproto.x25519 import KeyPair

C: Any = _codec.c_codec
PY: Any = _codec.python_codec
URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
STD_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# hemproto._codec attributes that jws, cbor and claims look up at call time.
_SWAPPED = (
    "b64url_decode",
    "b64url_encode",
    "b64_decode",
    "b64_encode",
    "ct_equal",
    "split_token",
    "scan_check",
    "hs256",
    "hs256_verify",
    "json_scan",
)

# Messages with their numbers and quoted parts blanked: each stands for one refusal path.
# The stdlib driver keeps an input that reaches a path not seen before (its only feedback).
FEATURES: set[tuple[str, ...]] = set()
_NUMBERS = re.compile(r"\d+|'[^']*'|\"[^\"]*\"")


class Finding(AssertionError):
    """An invariant does not hold: a bug in hemproto (or in this target)."""


def require(condition: bool, what: str, *context: object) -> None:
    if not condition:
        detail = "; ".join(repr(c)[:300] for c in context)
        raise Finding(f"{what}" + (f" [{detail}]" if detail else ""))


def outcome(
    where: str, allowed: tuple[type[BaseException], ...], fn: Any, *args: Any
) -> tuple[Any, ...]:
    """("ok", result) or ("raised", class, message, attributes); anything outside
    `allowed` is itself a finding."""
    try:
        result = fn(*args)
    except allowed as exc:
        FEATURES.add((where, type(exc).__name__, _NUMBERS.sub("#", str(exc))[:80]))
        attributes = tuple(
            getattr(exc, name, None) for name in ("offset", "reason", "segment", "claim")
        )
        return ("raised", type(exc), str(exc), attributes)
    except Exception as exc:
        raise Finding(f"{where}: unexpected {type(exc).__name__}: {exc}") from exc
    FEATURES.add((where, "ok"))
    return ("ok", result)


def on_backend(backend: Any, fn: Any, *args: Any) -> Any:
    """Call fn with hemproto._codec pointing at `backend` for the duration."""
    saved = {name: getattr(_codec, name) for name in _SWAPPED}
    try:
        for name in _SWAPPED:
            setattr(_codec, name, getattr(backend, name))
        return fn(*args)
    finally:
        for name, value in saved.items():
            setattr(_codec, name, value)


def both(
    where: str, allowed: tuple[type[BaseException], ...], c_fn: Any, py_fn: Any, *args: Any
) -> tuple[Any, ...]:
    c_out = outcome(where, allowed, c_fn, *args)
    py_out = outcome(where, allowed, py_fn, *args)
    require(c_out == py_out, f"{where}: the backends disagree", args, c_out, py_out)
    return c_out


def as_text_bytes(form: Any) -> bytes | None:
    """The input as the bytes a decoder sees, or None for a str that is not ASCII."""
    if isinstance(form, str):
        try:
            return form.encode("ascii")
        except UnicodeEncodeError:
            return None
    return bytes(form)


def unit(form: Any, index: int) -> int:
    """The character at `index` as a byte value; non-ASCII characters map to 0x3F ('?'),
    which neither alphabet holds, as the decoders document."""
    if isinstance(form, str):
        ch = form[index]
        return ord(ch) if ord(ch) < 0x80 else 0x3F
    return bytes(form)[index]


# --- decoders ------------------------------------------------------------------------------


def check_refusal(form: Any, padded: bool, exc_attrs: tuple[Any, ...], message: str) -> None:
    offset, reason = exc_attrs[0], exc_attrs[1]
    alphabet = STD_ALPHABET if padded else URL_ALPHABET
    n = len(form)
    pad = 0
    while padded and pad < n and unit(form, n - 1 - pad) == 0x3D:
        pad += 1
    require(isinstance(offset, int) and 0 <= offset <= n, "offset outside [0, len]", form, offset)
    require(
        f"offset {offset}" in message or f"length {offset}" in message,
        "message does not give the offset",
        message,
    )
    if reason == "character":
        require(offset < n - pad, "bad character past the data", form, offset)
        require(
            unit(form, offset) not in alphabet, "refused character is in the alphabet", form, offset
        )
        require(
            all(unit(form, i) in alphabet for i in range(offset)),
            "an earlier character is outside the alphabet",
            form,
            offset,
        )
    elif reason == "length":
        require(offset == n, "length error not at the end", form, offset)
        require(n % 4 != 0 if padded else n % 4 == 1, "length error on a valid length", form)
    elif reason == "padding":
        require(
            padded and pad > 2 and offset == n - pad + 2,
            "padding error not at third '='",
            form,
            offset,
        )
    elif reason == "trailing-bits":
        require(
            n - pad > 0 and offset == n - pad - 1,
            "trailing bits not at last data char",
            form,
            offset,
        )
    else:
        require(False, "undocumented reason", reason)


def check_decoder(form: Any, padded: bool) -> None:
    name = "b64_decode" if padded else "b64url_decode"
    result = both(name, (EncodingError,), getattr(C, name), getattr(PY, name), form)
    if result[0] == "raised":
        check_refusal(form, padded, result[3], result[2])
        return
    decoded = result[1]
    text = as_text_bytes(form)
    if text is None:
        raise Finding(f"accepted a non-ASCII str [{form!r}]")
    encode = "b64_encode" if padded else "b64url_encode"
    for backend in (C, PY):
        again = getattr(backend, encode)(decoded)
        require(
            again.encode("ascii") == text,
            "accepted text does not re-encode to itself",
            backend.name,
            form,
            again,
        )
    # An outside opinion on the bytes: the standard library, which is laxer about
    # canonical form but agrees on what canonical text means.
    if padded:
        require(base64.b64decode(text, validate=True) == decoded, "stdlib decodes differently")
    else:
        require(
            base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4)) == decoded,
            "stdlib decodes differently",
        )


def check_encoders(raw: bytes) -> None:
    for name, decode in (("b64url_encode", "b64url_decode"), ("b64_encode", "b64_decode")):
        c_text = getattr(C, name)(raw)
        py_text = getattr(PY, name)(raw)
        require(c_text == py_text, f"{name}: the backends disagree", raw, c_text, py_text)
        for backend in (C, PY):
            require(getattr(backend, decode)(c_text) == raw, f"{name}: no round trip", raw)


def check_ct_equal(raw: bytes) -> None:
    half = len(raw) // 2
    a, b = raw[:half], raw[half : 2 * half]
    for x, y in ((a, b), (raw, raw), (a, a + b"\0"), (bytearray(a), memoryview(b))):
        c_eq = C.ct_equal(x, y)
        py_eq = PY.ct_equal(x, y)
        require(c_eq is py_eq and c_eq == (bytes(x) == bytes(y)), "ct_equal is wrong", x, y)


# --- split_token -------------------------------------------------------------------------


def check_split(text: str) -> None:
    result = both("split_token", (), C.split_token, PY.split_token, text)[1]
    segments = text.split(".")
    decoded: list[bytes] | None = None
    if len(segments) == 3 and all(segments):
        try:
            decoded = [PY.b64url_decode(s) for s in segments]
        except EncodingError:
            decoded = None
    if decoded is None:
        require(result is None, "split_token accepted a non-token", text, result)
        return
    require(result is not None, "split_token refused a valid token", text)
    dot1, dot2, blob = result
    require(
        (dot1, dot2) == (len(segments[0]), len(segments[0]) + 1 + len(segments[1])),
        "split_token: wrong '.' offsets",
        text,
        result,
    )
    require(blob == b"".join(decoded), "split_token: wrong bytes", text, result)
    require(
        ".".join(PY.b64url_encode(d) for d in decoded) == text,
        "split_token: accepted segments do not re-encode to the token",
        text,
    )


# --- strict JSON ----------------------------------------------------------------------------


def _json_refused(reason: str) -> MalformedToken:
    return MalformedToken(reason)


def _loads(form: Any) -> str:
    # The repr: == would take 1, 1.0 and True for one another.
    return repr(_json.loads_object(form, _json_refused))


def _outline(form: Any) -> str:
    return repr(_json.loads_outline(form, _json_refused))


def check_loads(form: Any) -> None:
    both(
        "loads_object",
        (MalformedToken,),
        lambda f: on_backend(C, _loads, f),
        lambda f: on_backend(PY, _loads, f),
        form,
    )
    both(
        "loads_outline",
        (MalformedToken,),
        lambda f: on_backend(C, _outline, f),
        lambda f: on_backend(PY, _outline, f),
        form,
    )


# --- decode_ejwt, from_cbor ----------------------------------------------------------------


def check_decode_ejwt(form: Any) -> None:
    result = both(
        "decode_ejwt",
        (MalformedToken,),
        lambda t: on_backend(C, jws.decode_ejwt, t),
        lambda t: on_backend(PY, jws.decode_ejwt, t),
        form,
    )
    if result[0] == "raised":
        return
    token = result[1]
    text = form if isinstance(form, str) else bytes(form).decode("ascii")
    require(token.token == text, "decode_ejwt changed the token text", form)
    head, payload, signature = text.split(".")
    require(token.signing_input == f"{head}.{payload}".encode("ascii"), "wrong signing input")
    require(PY.b64url_encode(token.signature) == signature, "signature does not re-encode")
    # Lossless envelope: what decode_ejwt accepts, to_cbor wraps and from_cbor gives back.
    envelope = both(
        "to_cbor",
        (),
        lambda t: on_backend(C, to_cbor, t),
        lambda t: on_backend(PY, to_cbor, t),
        text,
    )[1]
    back = both(
        "from_cbor(to_cbor)",
        (),
        lambda e: on_backend(C, from_cbor, e),
        lambda e: on_backend(PY, from_cbor, e),
        envelope,
    )[1]
    require(back == text, "to_cbor -> from_cbor does not give back the token", text, envelope)


def check_from_cbor(form: Any) -> None:
    result = both(
        "from_cbor",
        (MalformedToken,),
        lambda d: on_backend(C, from_cbor, d),
        lambda d: on_backend(PY, from_cbor, d),
        form,
    )
    if result[0] == "raised":
        return
    text = result[1]
    require(type(text) is str, "from_cbor returned a non-str", text)
    require(jws.decode_ejwt(text).token == text, "from_cbor returned a token decode_ejwt changes")
    require(from_cbor(to_cbor(text)) == text, "from_cbor's token is not stable under to_cbor")


# --- the device check: scan_check and the general path -------------------------------------

# The device check's exact shape, from the claim table (hemproto.schema): the header texts,
# the claims in device order with their sizes ("uis" optional), then the signature. The
# scan's packed result (csrc/hemcheck.h) is restated below.
CHECK_HEADERS = tuple(text.encode("ascii") for text in schema.HEADER_TEXTS)
CHECK_CLAIMS = tuple((spec.name, spec.size or 0) for spec in schema.CHECK_CLAIMS)
UIS = schema.CHECK_NAMES.index("uis")
CHECK_FIELD_SIZES = (*(size for _, size in CHECK_CLAIMS), schema.SIGNATURE_SIZE)
CHECK_FIELD_BYTES = sum(CHECK_FIELD_SIZES)
CHECK_HAS_UIS = 2
CHECK_SIGNED_SHIFT = 2


def url64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def check_json(values: tuple[bytes | None, ...]) -> str:
    """The payload JSON of the shape: claims in order, each standard base64, None left out."""
    members = (
        f'"{name}":"{base64.b64encode(value).decode()}"'
        for (name, _), value in zip(CHECK_CLAIMS, values, strict=True)
        if value is not None
    )
    return "{" + ",".join(members) + "}"


def device_token(values: tuple[bytes | None, ...], variant: int, signature: bytes) -> str:
    """The token the device template makes of these claim values (stdlib encoders only)."""
    header = url64(CHECK_HEADERS[variant])
    return f"{header}.{url64(check_json(values).encode())}.{url64(signature)}"


def zero_claims(with_uis: bool) -> tuple[bytes | None, ...]:
    return tuple(
        None if index == UIS and not with_uis else bytes(size)
        for index, (_, size) in enumerate(CHECK_CLAIMS)
    )


# A check in the shape has one of two lengths: with and without "uis".
CHECK_TOKEN_LENGTHS = frozenset(
    len(device_token(zero_claims(with_uis), 0, bytes(32))) for with_uis in (True, False)
)


def general_parts(text: str) -> tuple[CheckChallenge, bytes, bytes]:
    """The general path: decode_parts, then CheckChallenge._from_parts."""
    token, header, claims, signing_input, signature = jws.decode_parts(text)
    challenge = CheckChallenge._from_parts(token, dict(header), claims)
    return challenge, signing_input, signature


def general_check(text: str) -> tuple[Any, ...]:
    return both(
        "check general path",
        (MalformedToken, ClaimError),
        lambda t: on_backend(C, general_parts, t),
        lambda t: on_backend(PY, general_parts, t),
        text,
    )


def check_parse_check(text: str, expected: tuple[Any, ...]) -> None:
    """parse_check, which takes scan_check's way when it matches, gives what the general
    path gives, on both codecs (for a token: text starting '{' is taken as a body)."""
    if text[:1] == "{":
        return
    got = both(
        "parse_check",
        (MalformedToken, ClaimError),
        lambda t: on_backend(C, parse_check, t),
        lambda t: on_backend(PY, parse_check, t),
        text,
    )
    want = ("ok", expected[1][0]) if expected[0] == "ok" else expected
    require(got == want, "parse_check differs from the general path", text, got, want)


def challenge_values(challenge: CheckChallenge) -> tuple[bytes | None, ...]:
    return tuple(getattr(challenge, name) for name, _ in CHECK_CLAIMS)


# Inputs run, check tokens scanned, and how many matched: said now and then (at 2**k inputs),
# since a run in which no token matched has not tested what only a match reaches.
CHECK_STATS = {"inputs": 0, "scanned": 0, "matched": 0}


def check_scan(text: str) -> None:
    scanned = both("scan_check", (), C.scan_check, PY.scan_check, text)[1]
    CHECK_STATS["scanned"] += 1
    CHECK_STATS["matched"] += scanned is not None
    if scanned is None:
        FEATURES.add(("scan_check", "other"))
        if len(text) not in CHECK_TOKEN_LENGTHS:
            return  # no token of another length is in the shape
        general = general_check(text)
        check_parse_check(text, general)
        if general[0] == "ok":
            challenge, _, signature = general[1]
            values = challenge_values(challenge)
            in_shape = not challenge.extra and any(
                device_token(values, variant, signature) == text for variant in (0, 1)
            )
            require(not in_shape, "scan_check refused a check in the device shape", text)
        return
    packed, fields, signed = scanned
    FEATURES.add(("scan_check", packed & 3))
    require(
        type(packed) is int and type(fields) is tuple and type(signed) is bytes,
        "scan_check: wrong result types",
        scanned,
    )
    require(
        tuple(len(f) for f in fields) == CHECK_FIELD_SIZES
        and all(type(f) is bytes for f in fields),
        "scan_check: wrong field sizes",
        scanned,
    )
    require(packed >= 0, "scan_check: negative packed result", scanned)
    variant, with_uis = packed & 1, bool(packed & CHECK_HAS_UIS)
    dot1 = text.find(".")
    dot2 = text.find(".", dot1 + 1)
    require(dot1 >= 0 and dot2 > dot1, "scan_check matched a text without two '.'", text)
    require(packed >> CHECK_SIGNED_SHIFT == dot2, "signed length is not the second '.'", text)
    require(signed == text[:dot2].encode("ascii"), "wrong signed text", text, signed)
    require(fields[1] != fields[3], "scan_check matched a check whose iss equals its aud", text)
    if not with_uis:
        require(fields[UIS] == bytes(32), "uis absent but its bytes are not zero", text)
    values = tuple(
        None if index == UIS and not with_uis else value
        for index, value in enumerate(fields[: len(CHECK_CLAIMS)])
    )
    template = device_token(values, variant, fields[-1])
    require(template == text, "the fields do not re-encode to the token", text, template)

    general = general_check(text)
    require(general[0] == "ok", "the general path refuses what scan_check matched", text, general)
    challenge, signing_input, signature = general[1]
    require(challenge_values(challenge) == values, "the general path decodes other fields", text)
    require(signature == fields[-1], "the general path decodes another signature", text)
    require(signing_input == signed, "the general path signs other text", text)
    require(challenge.token == text, "the general path changed the token", text)
    require(
        dict(challenge.header) == json.loads(CHECK_HEADERS[variant]),
        "the general path sees another header",
        text,
        challenge.header,
    )
    require(not challenge.extra, "the general path sees extra claims", text, challenge.extra)
    check_parse_check(text, general)


# What derived_check may put where it edits: characters that matter to JSON and the codecs.
EDIT_CHARACTERS = b'"=,:{} \\/+-_.Aa0'


def check_material(data: bytes) -> tuple[bytes, ...]:
    """The nine field values, from the input's bytes (repeated as needed)."""
    material = data[1:] or b"\x00"
    stream = (material * (CHECK_FIELD_BYTES // len(material) + 1))[:CHECK_FIELD_BYTES]
    values = []
    at = 0
    for size in CHECK_FIELD_SIZES:
        values.append(stream[at : at + size])
        at += size
    return tuple(values)


def derived_check(data: bytes) -> str:
    """A check token in the device shape made from the input's bytes, or one small edit off
    it. A control byte (the first byte xor the input's length, so that both kinds of
    mutation vary it): bit 0 the header, bit 1 "uis", bit 2 whether to edit, bits 3-4
    which edit. The last two bytes say where; the bytes after the first are field material.
    """
    control = (data[0] ^ len(data)) & 0xFF if data else 0
    where = int.from_bytes(data[-2:], "little") if len(data) > 2 else 0
    character = EDIT_CHARACTERS[where % len(EDIT_CHARACTERS)]
    *material, signature = check_material(data)
    claims: list[bytes | None] = list(material)
    if not control & 2:
        claims[UIS] = None
    header = CHECK_HEADERS[control & 1]
    payload = check_json(tuple(claims)).encode("ascii")
    edit = control >> 3 & 3 if control & 4 else None
    if edit == 0:  # one JSON character replaced
        i = where % len(payload)
        payload = payload[:i] + bytes([character]) + payload[i + 1 :]
    elif edit == 1:  # one claim value's last data character moved on: unused bits set
        present = [value for value in claims if value is not None]
        text = base64.b64encode(present[where % len(present)])
        body = text.rstrip(b"=")
        alphabet = STD_ALPHABET
        bumped = body[:-1] + bytes([alphabet[(alphabet.index(body[-1]) + 1) % 64]])
        payload = payload.replace(b'"' + text + b'"', b'"' + bumped + text[len(body) :] + b'"', 1)
    elif edit == 2:  # one character inserted or dropped
        i = where % len(payload)
        payload = (
            payload[:i] + bytes([character]) + payload[i:]
            if where & 0x8000
            else payload[:i] + payload[i + 1 :]
        )
    token = f"{url64(header)}.{url64(payload)}.{url64(signature)}"
    if edit == 3:  # one character of the token text (header, dots, signature) replaced
        outside = [i for i in range(len(token)) if not 59 <= i < token.rindex(".")]
        i = outside[where % len(outside)]
        token = token[:i] + chr(character) + token[i + 1 :]
    return token


def check_signed(data: bytes) -> None:
    """sign_check then verify_check, on both codecs, for keys and fields from the input."""
    device = KeyPair(hashlib.sha256(b"device" + data).digest())
    backend_key = KeyPair(hashlib.sha256(b"backend" + data).digest())
    jti, _, qid, _, fws, bls, uis, csn, _ = check_material(data)
    token = sign_check(
        device,
        backend_key.public,
        qid=qid,
        fws=fws,
        bls=bls,
        csn=csn,
        uis=uis if len(data) & 1 else None,
        jti=jti,
    )
    require(C.scan_check(token) is not None, "scan_check refuses what sign_check makes", token)
    check_scan(token)
    parsed = parse_check(token)
    for codec in (C, PY):
        verified = on_backend(codec, verify_check, token, backend_key)
        require(verified == parsed, "verify_check gives another check", codec.name, token)
        tampered = token[:-1] + ("A" if token[-1] != "A" else "Q")
        result = outcome(
            "verify_check(tampered)",
            (BadSignature,),
            on_backend,
            codec,
            verify_check,
            tampered,
            backend_key,
        )
        require(result[0] == "raised", "verify_check accepts a tampered MAC", tampered)


# --- HS256 ---------------------------------------------------------------------------------


def check_hs256(data: bytes, both_block_functions: bool) -> None:
    """C and Python HS256 against the standard library, for a key and message from data;
    the C one under the best SHA-256 block function and, when both_block_functions, under
    the portable one too (switching costs a CPUID each way, slow in a virtual machine)."""
    key = data[:32].ljust(32, b"\x00")
    message = data[32:]
    want = hmac.digest(key, message, "sha256")
    flipped = bytearray(want)
    flipped[len(data) % 32] ^= 1 << (len(data) % 8)
    wrong = bytes(flipped)
    for backend in (C, PY):
        require(backend.hs256(key, message) == want, "hs256 is wrong", backend.name, data)
        require(backend.hs256_verify(key, message, want) is True, "hs256_verify refuses", data)
        require(not backend.hs256_verify(key, message, wrong), "hs256_verify accepts", data)
    if getattr(C, "c_hs256", None) is None:
        return
    for force_portable in (1, 0) if both_block_functions else (0,):
        if force_portable:
            C.sha256_select(1)
        try:
            mac = C.c_hs256(key, message)
            ok = C.c_hs256_verify(key, message, want)
            bad = C.c_hs256_verify(key, message, wrong)
            short = C.c_hs256_verify(key, message, want[:31])
        finally:
            if force_portable:
                C.sha256_select(0)
        which = "portable" if force_portable else "best"
        require(mac == want, f"c_hs256 ({which} block function) is wrong", data, mac, want)
        require(ok is True, f"c_hs256_verify ({which}) refuses the right MAC", data)
        require(bad is False, f"c_hs256_verify ({which}) accepts a flipped MAC", data)
        require(short is False, f"c_hs256_verify ({which}) accepts a short MAC", data)


# --- the target -----------------------------------------------------------------------------


def forms_of(data: bytes) -> tuple[list[Any], list[str]]:
    """Bytes-like forms (contiguous and strided) and the distinct str forms of data."""
    doubled = bytearray(2 * len(data))
    doubled[::2] = data
    strided = memoryview(bytes(doubled))[::2]
    byte_forms: list[Any] = [data, bytearray(data), memoryview(data), strided]
    texts = [data.decode("latin-1")]
    utf8 = data.decode("utf-8", "surrogateescape")
    if utf8 != texts[0]:
        texts.append(utf8)
    return byte_forms, texts


def say_stats() -> None:
    inputs = CHECK_STATS["inputs"]
    if inputs >= 256 and inputs & (inputs - 1) == 0:
        print(
            f"fuzz_python: {inputs} inputs, {CHECK_STATS['matched']} of "
            f"{CHECK_STATS['scanned']} check tokens scanned matched the device shape",
            file=sys.stderr,
            flush=True,
        )


def TestOneInput(data: bytes) -> None:
    CHECK_STATS["inputs"] += 1
    say_stats()
    byte_forms, texts = forms_of(data)
    for form in byte_forms + texts:
        check_decoder(form, padded=False)
        check_decoder(form, padded=True)
    check_encoders(data)
    check_ct_equal(data)
    for text in texts:
        check_split(text)
    for form in (data, bytearray(data), *texts):
        check_decode_ejwt(form)
    for form in byte_forms:
        check_from_cbor(form)
    for form in (data, *texts):
        check_loads(form)
    for text in texts:
        check_scan(text)
    check_scan(derived_check(data))
    # Chosen by a hash, so that every kind of input gets its turn: one input in eight is
    # also signed and verified, one in four hashed on both SHA-256 block functions.
    digest = hashlib.sha256(data).digest()
    if digest[0] < 32:
        check_signed(data)
    check_hs256(data, both_block_functions=digest[1] < 64)


def check_wrong_types() -> None:
    """Once per run: wrong argument types give the same TypeError on both codecs."""
    for value in (None, 5, 1.5, ["AAAA"], {"a": 1}, object()):
        for name in ("b64url_decode", "b64_decode", "b64url_encode", "b64_encode"):
            result = both(
                f"{name}(wrong type)", (TypeError,), getattr(C, name), getattr(PY, name), value
            )
            require(result[0] == "raised", f"{name} accepted {type(value).__name__}")
        for fn in (jws.decode_ejwt, from_cbor):
            result = outcome(f"{fn.__name__}(wrong type)", (TypeError,), fn, value)
            require(result[0] == "raised", f"{fn.__name__} accepted {type(value).__name__}")
    for name in ("b64url_encode", "b64_encode"):
        both(f"{name}(str)", (TypeError,), getattr(C, name), getattr(PY, name), "AAAA")
    outcome("from_cbor(str)", (TypeError,), from_cbor, "AAAA")


def segment_mutation(data: bytes, mutate: Any, rng_value: int) -> bytes | None:
    """Mutate the bytes under one base64url segment and re-encode it, so that the JSON and
    claim layers below the encoding get exercised; None when no segment decodes."""
    segments = data.split(b".")
    index = rng_value % len(segments)
    try:
        inner = PY.b64url_decode(segments[index])
    except EncodingError:
        return None
    segments[index] = PY.b64url_encode(mutate(inner)).encode("ascii")
    return b".".join(segments)


def structured_mutation(data: bytes, mutate: Any, rng_value: int) -> bytes | None:
    """One time in four, the check token derived_check makes of the input (so that the
    corpus holds check tokens to mutate further); else segment_mutation."""
    if rng_value % 4 == 0:
        return derived_check(data).encode("ascii")
    return segment_mutation(data, mutate, rng_value >> 2)


def main() -> int:
    if C is None and os.environ.get("HEMFUZZ_ALLOW_PURE") != "1":
        print(
            "fuzz_python: hemproto has no C codec here, so nothing to compare against "
            "(set HEMFUZZ_ALLOW_PURE=1 to fuzz the Python codec alone)",
            file=sys.stderr,
        )
        return 2
    if C is None:
        globals()["C"] = PY
    driver = "atheris" if atheris is not None else "stdlib"
    print(
        f"fuzz_python: hemproto {hemproto.__version__} from "
        f"{os.path.dirname(hemproto.__file__)}, C codec "
        f"{'present' if _codec.c_codec else 'absent'}, driver {driver}",
        flush=True,
    )
    check_wrong_types()
    if atheris is not None:

        def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
            if seed % 3 == 0:
                out = structured_mutation(
                    data, lambda b: atheris.Mutate(b, max(len(b) + 8, 16)), seed // 3
                )
                if out is not None and len(out) <= max_size:
                    return out
            return bytes(atheris.Mutate(data, max_size))

        atheris.Setup(_ARGS, TestOneInput, custom_mutator=custom_mutator)
        atheris.Fuzz()
        return 0
    # No __pycache__ beside the script: a run must leave the source tree as it was.
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import minifuzz

    return minifuzz.run(TestOneInput, _ARGS[1:], features=FEATURES, structured=structured_mutation)


if __name__ == "__main__":
    sys.exit(main())
