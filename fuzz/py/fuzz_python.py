#!/usr/bin/env python3
"""Fuzz target for hemproto's Python surface: both codec backends, split_token,
decode_ejwt and from_cbor.

Every input is fed, as bytes, bytearray, memoryview (contiguous and strided) and as its
latin-1 and UTF-8 (surrogateescape) str forms, to whichever functions take that type.
The invariants, any breach of which raises Finding:

* the C and the Python backend give the same result, or raise the same exception class
  with the same message, reason, segment and offset;
* a decoder either accepts, and the output re-encodes to exactly the input (and the
  standard library decodes it to the same bytes), or raises EncodingError with a
  documented reason and an offset in [0, len] that points where hemcodec.h says;
* split_token accepts exactly the texts with two '.' and three non-empty canonical
  base64url segments, and returns the '.' offsets and the three decodes back to back;
* decode_ejwt and from_cbor raise MalformedToken or nothing (TypeError only for a wrong
  argument type); a token they accept is the text given (decode_ejwt) or one that
  decode_ejwt accepts and that survives to_cbor -> from_cbor unchanged (from_cbor);
* nothing else is ever raised.

decode_ejwt and from_cbor reach the codec through hemproto._codec's module attributes, so
each is run twice with those attributes pointing at one backend, then the other.

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
import importlib
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
        from hemproto import _codec, jws
        from hemproto.cbor import from_cbor, to_cbor
        from hemproto.errors import EncodingError, MalformedToken
else:
    import hemproto
    from hemproto import _codec, jws
    from hemproto.cbor import from_cbor, to_cbor
    from hemproto.errors import EncodingError, MalformedToken

C: Any = _codec.c_backend
PY: Any = _codec.python_backend
URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
STD_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# hemproto._codec attributes that jws and cbor look up at call time.
_SWAPPED = ("b64url_decode", "b64url_encode", "b64_decode", "b64_encode", "ct_equal", "split_token")

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


def TestOneInput(data: bytes) -> None:
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


def check_wrong_types() -> None:
    """Once per run: wrong argument types give the same TypeError on both backends."""
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


def main() -> int:
    if C is None and os.environ.get("HEMFUZZ_ALLOW_PURE") != "1":
        print(
            "fuzz_python: hemproto has no C backend here, so nothing to compare against "
            "(set HEMFUZZ_ALLOW_PURE=1 to fuzz the Python backend alone)",
            file=sys.stderr,
        )
        return 2
    if C is None:
        globals()["C"] = PY
    driver = "atheris" if atheris is not None else "stdlib"
    print(
        f"fuzz_python: hemproto {hemproto.__version__} from "
        f"{os.path.dirname(hemproto.__file__)}, C backend "
        f"{'present' if _codec.c_backend else 'absent'}, driver {driver}",
        flush=True,
    )
    check_wrong_types()
    if atheris is not None:

        def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
            if seed % 4 == 0:
                out = segment_mutation(
                    data, lambda b: atheris.Mutate(b, max(len(b) + 8, 16)), seed >> 2
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

    return minifuzz.run(TestOneInput, _ARGS[1:], features=FEATURES, structured=segment_mutation)


if __name__ == "__main__":
    sys.exit(main())
