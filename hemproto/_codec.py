"""Codec choice: the C extension when it is built, else the Python reference.

This is the only module that touches hemproto._hemcodec. HEMPROTO_PURE=1 forces the
Python codec; HEMPROTO_REQUIRE_C=1 turns a missing extension into an ImportError.
Both codecs export the same functions with identical behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from . import _pycodec
from ._bytes import BytesLike, as_ascii, as_bytes
from ._pycodec import encoding_error

__all__ = [
    "active_codec",
    "all_codecs",
    "b64_decode",
    "b64_encode",
    "b64url_decode",
    "b64url_encode",
    "c_codec",
    "ct_equal",
    "python_codec",
]

SCRATCH_SIZE = 8192
# Idle scratch buffers kept for reuse; more exist only while more calls are in flight.
SCRATCH_KEPT = 32
TOKEN_PACK_LIMIT = 1 << 21  # hemx_token_decode in csrc/build_codec.py packs offsets in 21 bits

# JSON texts up to this many bytes are scanned in a work area taken from a free list (about
# 12 bytes per text byte); longer ones get their own. A request body the backend reads
# (7300 bytes) and any body a token travels in (16384) fit.
JSON_WORK_TEXT = 16384
JSON_WORK_KEPT = 4


def _json_scan_python(data: bytes) -> None:
    """The Python codec has no JSON scan: _json's strict decoder, the reference, decides."""
    return None


python_codec = SimpleNamespace(
    name="python",
    b64url_encode=_pycodec.b64url_encode,
    b64url_decode=_pycodec.b64url_decode,
    b64_encode=_pycodec.b64_encode,
    b64_decode=_pycodec.b64_decode,
    ct_equal=_pycodec.ct_equal,
    split_token=_pycodec.split_token,
    scan_check=_pycodec.scan_check,
    hs256=_pycodec.hs256,
    hs256_verify=_pycodec.hs256_verify,
    json_scan=_json_scan_python,
    checked_sign=_pycodec.checked_sign,
    check_answer=_pycodec.check_answer,
)


def _load_c() -> SimpleNamespace | None:
    try:
        from ._hemcodec import ffi, lib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    return _make_c_backend(ffi, lib)


def _make_c_backend(ffi: Any, lib: Any) -> SimpleNamespace:
    # Output buffers are overwritten before they are read, so skip zero-filling them.
    alloc = ffi.new_allocator(should_clear_after_alloc=False)
    from_buffer = ffi.from_buffer
    unpack = ffi.unpack
    null = ffi.NULL
    # Outputs up to SCRATCH_SIZE bytes go to a scratch buffer taken from a free list:
    # allocating one per call costs more than the decoding. A call owns the buffer it took
    # until it has copied its result out (unpack) and given the buffer back, so no two calls
    # in flight ever share one: not two threads (cffi releases the GIL during the C call),
    # and not a call and the Python signal handler that CPython may run on the same thread
    # just after the C call returns, which can call hemproto too. list.pop and list.append
    # are atomic; an empty list means every buffer is in use, and the call makes a new one.
    # One list for all threads is cheaper than a thread-local lookup. A call that raises
    # between taking and giving back drops its buffer, which is merely not reused.
    scratch: list[Any] = []
    take = scratch.pop
    give = scratch.append
    scratch_size = SCRATCH_SIZE
    kept = SCRATCH_KEPT

    def _take(cap: int) -> Any:
        # Callers give back only what they took from here, and only when cap <= scratch_size.
        if cap > scratch_size:
            return alloc("char[]", cap)
        try:
            return take()
        except IndexError:
            return alloc("char[]", scratch_size)

    def _give(out: Any, cap: int) -> None:
        if cap <= scratch_size and len(scratch) < kept:
            give(out)

    def _pointer(data: BytesLike) -> Any:
        # bytes go to `const char *` without a copy; other buffers need a view.
        return data if type(data) is bytes else from_buffer(data)

    def _encoder(c_function: Any) -> Any:
        def encode(data: BytesLike) -> str:
            data = as_bytes(data)
            n = len(data)
            cap = n // 3 * 4 + 4
            out = _take(cap)
            written = c_function(_pointer(data), n, out, cap)
            result = unpack(out, written)
            if cap <= scratch_size and len(scratch) < kept:  # _give, inlined
                give(out)
            return result.decode("ascii")  # type: ignore[no-any-return]

        return encode

    def _decoder(c_function: Any, alphabet: str) -> Any:
        def decode(text: str | BytesLike) -> bytes:
            # The common case inline (an ASCII str): every call here is on the hot path.
            if type(text) is str:
                try:
                    data: Any = text.encode("ascii")
                except UnicodeEncodeError:
                    data = as_ascii(text)
            else:
                data = as_ascii(text)
            n = len(data)
            cap = n // 4 * 3 + 3
            if cap <= scratch_size:  # _take and _give, inlined: the hottest call there is
                try:
                    out = take()
                except IndexError:
                    out = alloc("char[]", scratch_size)
                written = c_function(
                    data if type(data) is bytes else from_buffer(data), n, out, cap, null
                )
                if written >= 0:
                    result = unpack(out, written)
                    if len(scratch) < kept:
                        give(out)
                    return result  # type: ignore[no-any-return]
            else:
                out = alloc("char[]", cap)
                written = c_function(_pointer(data), n, out, cap, null)
                if written >= 0:
                    return unpack(out, written)  # type: ignore[no-any-return]
            offset = ffi.new("size_t *")
            code = c_function(_pointer(data), n, out, cap, offset)
            _give(out, cap)
            raise encoding_error(code, offset[0], text, data, alphabet)

        return decode

    def ct_equal(a: BytesLike, b: BytesLike) -> bool:
        if type(a) is bytes and type(b) is bytes:  # the MAC check's case, passed as they are
            return len(a) == len(b) and lib.hemx_ct_equal(a, b, len(a)) == 1
        a = as_bytes(a, "a")
        b = as_bytes(b, "b")
        if len(a) != len(b):
            return False
        return lib.hemx_ct_equal(_pointer(a), _pointer(b), len(a)) == 1  # type: ignore[no-any-return]

    token_decode = lib.hemx_token_decode

    def split_token(text: str) -> tuple[int, int, bytes] | None:
        # Beyond what the packed result can carry; measured before the text is copied (an
        # ASCII text has as many bytes as characters, and any other is refused either way).
        if len(text) >= TOKEN_PACK_LIMIT:
            return _pycodec.split_token(text)
        try:
            data = text.encode("ascii")
        except UnicodeEncodeError:
            return None
        n = len(data)
        cap = n // 4 * 3 + 3
        out = _take(cap)
        packed = token_decode(data, n, out, cap)
        if packed < 0:
            _give(out, cap)
            return None
        result = packed & 0x1FFFFF, packed >> 21 & 0x1FFFFF, unpack(out, packed >> 42)
        _give(out, cap)
        return result

    check_scan = lib.hemx_check_scan
    check_fields = _pycodec.CHECK_FIELDS
    check_size = check_fields.size
    unpack_fields = check_fields.unpack_from
    view = ffi.buffer
    signed_shift = _pycodec.CHECK_SIGNED_SHIFT

    check_max_length = _pycodec.CHECK_MAX_LENGTH
    # The scan's own free list (see scratch above): each entry is a buffer and a view of it,
    # made together once.
    check_scratch: list[tuple[Any, Any]] = []
    take_check = check_scratch.pop
    give_check = check_scratch.append

    def scan_check(text: str | bytes) -> _pycodec.ScannedCheck | None:
        if len(text) > check_max_length:  # before the copy: no such text can match
            return None
        if type(text) is bytes:  # a token sliced from a body: no copy to make
            data = text
        else:
            try:
                data = text.encode("ascii")  # type: ignore[union-attr]
            except UnicodeEncodeError:
                return None
        try:
            out, fields = entry = take_check()
        except IndexError:
            out = alloc("char[]", check_size)
            entry = out, (fields := view(out, check_size))
        packed = check_scan(data, len(data), out)
        values = unpack_fields(fields) if packed >= 0 else None
        if len(check_scratch) < kept:
            give_check(entry)
        if values is None:
            return None
        return packed, values, data[: packed >> signed_shift]

    mac_size = 32
    c_hmac = lib.hemx_hmac_sha256
    c_verify = lib.hemx_hs256_verify

    def hs256(key: bytes, message: bytes) -> bytes:
        try:  # _take and _give, inlined
            out = take()
        except IndexError:
            out = alloc("char[]", scratch_size)
        c_hmac(key, len(key), message, len(message), out)
        mac = unpack(out, mac_size)
        if len(scratch) < kept:
            give(out)
        return mac  # type: ignore[no-any-return]

    def hs256_verify(key: bytes, message: bytes, mac: bytes) -> bool:
        return len(mac) == mac_size and c_verify(key, len(key), message, len(message), mac) == 1

    c_json_scan = lib.hemx_json_scan
    json_work_size = lib.hem_json_work_size
    json_work_bytes = json_work_size(JSON_WORK_TEXT)
    json_max_length = 0x7FFFFFFF  # HEM_JSON_MAX_LEN
    json_entries = 5 + 2 * lib.HEM_JSON_OUTLINE_MEMBERS
    # Work areas, each with the array its outline is written to, lent as the scratch
    # buffers are (see there).
    json_scratch: list[tuple[Any, Any]] = []
    take_json = json_scratch.pop
    give_json = json_scratch.append

    def json_scan(data: bytes) -> list[int] | None:
        n = len(data)
        if n > json_max_length:
            return None
        try:
            work, out = entry = take_json()
        except IndexError:
            work = alloc("char[]", json_work_bytes)
            out = alloc("long long[]", json_entries)
            entry = work, out
        if n > JSON_WORK_TEXT:
            size = json_work_size(n)
            written = c_json_scan(data, n, alloc("char[]", size), size, out)
        else:
            written = c_json_scan(data, n, work, json_work_bytes, out)
        scanned: list[int] | None = unpack(out, written) if written >= 0 else None
        if len(json_scratch) < JSON_WORK_KEPT:
            give_json(entry)
        return scanned

    c_checked_sign = lib.hemx_checked_sign
    reply_actions = {act: act.encode("ascii") for act in _pycodec.REPLY_ACTIONS}
    reply_max_iat = _pycodec.REPLY_MAX_IAT
    reply_cap = _pycodec.REPLY_MAX_LENGTH  # within SCRATCH_SIZE: a scratch buffer always fits

    def checked_sign(
        key: BytesLike,
        header: bytes,
        jti: bytes,
        iss: bytes,
        aud: bytes,
        iat: int,
        act: str,
        crt: bytes | None,
        newfws: bytes | None,
        newuis: bytes | None,
    ) -> str | None:
        # Types and sizes here, before C reads the fixed-size arrays; C checks the rest.
        if not (
            type(key) is bytes
            and len(key) == 32
            and type(jti) is bytes
            and len(jti) == 32
            and type(iss) is bytes
            and len(iss) == 32
            and type(aud) is bytes
            and len(aud) == 32
            and type(iat) is int
            and 0 <= iat <= reply_max_iat
            and type(act) is str
            and (crt is None or type(crt) is bytes)
            and (newfws is None or (type(newfws) is bytes and len(newfws) == 64))
            and (newuis is None or (type(newuis) is bytes and len(newuis) == 32))
            and type(header) is bytes
        ):
            return None
        act_bytes = reply_actions.get(act)
        if act_bytes is None:
            return None
        try:  # _take and _give, inlined
            out = take()
        except IndexError:
            out = alloc("char[]", scratch_size)
        written = c_checked_sign(
            key,
            jti,
            iss,
            aud,
            iat,
            act_bytes,
            len(act_bytes),
            null if crt is None else crt,
            0 if crt is None else len(crt),
            null if newfws is None else newfws,
            null if newuis is None else newuis,
            header,
            len(header),
            out,
            reply_cap,
        )
        token = unpack(out, written) if written >= 0 else None
        if len(scratch) < kept:
            give(out)
        return None if token is None else token.decode("ascii")

    c_check_answer = lib.hemx_check_answer
    mac_mismatch = lib.HEM_REPLY_E_MAC

    def check_answer(
        key: BytesLike,
        signed: bytes,
        signature: bytes,
        header: bytes,
        jti: bytes,
        iss: bytes,
        aud: bytes,
        iat: int,
        act: str,
        crt: bytes | None,
        newfws: bytes | None,
        newuis: bytes | None,
    ) -> str | None:
        # As in checked_sign: types and sizes here, the rest in C.
        act_bytes = reply_actions.get(act) if type(act) is str else None
        if not (
            act_bytes is not None
            and type(key) is bytes
            and len(key) == 32
            and type(signed) is bytes
            and type(signature) is bytes
            and len(signature) == 32
            and type(jti) is bytes
            and len(jti) == 32
            and type(iss) is bytes
            and len(iss) == 32
            and type(aud) is bytes
            and len(aud) == 32
            and type(iat) is int
            and 0 <= iat <= reply_max_iat
            and (crt is None or type(crt) is bytes)
            and (newfws is None or (type(newfws) is bytes and len(newfws) == 64))
            and (newuis is None or (type(newuis) is bytes and len(newuis) == 32))
            and type(header) is bytes
        ):
            raise ValueError(_pycodec.REPLY_FIELDS_REFUSED)
        try:  # _take and _give, inlined
            out = take()
        except IndexError:
            out = alloc("char[]", scratch_size)
        written = c_check_answer(
            key,
            signed,
            len(signed),
            signature,
            jti,
            iss,
            aud,
            iat,
            act_bytes,
            len(act_bytes),
            null if crt is None else crt,
            0 if crt is None else len(crt),
            null if newfws is None else newfws,
            null if newuis is None else newuis,
            header,
            len(header),
            out,
            reply_cap,
        )
        token = unpack(out, written) if written >= 0 else None
        if len(scratch) < kept:
            give(out)
        if token is not None:
            return token.decode("ascii")  # type: ignore[no-any-return]
        if written == mac_mismatch:
            return None
        raise ValueError(_pycodec.REPLY_FIELDS_REFUSED)

    # Without the CPU's SHA extensions the portable C block function is slower than
    # hashlib's (OpenSSL's assembly), so the C codec uses the Python one: same bytes.
    accelerated = lib.hem_sha256_accelerated() == 1

    return SimpleNamespace(
        name="c",
        b64url_encode=_encoder(lib.hemx_b64url_encode),
        b64url_decode=_decoder(lib.hemx_b64url_decode, "base64url"),
        b64_encode=_encoder(lib.hemx_b64_encode),
        b64_decode=_decoder(lib.hemx_b64_decode, "base64"),
        ct_equal=ct_equal,
        split_token=split_token,
        scan_check=scan_check,
        hs256=hs256 if accelerated else _pycodec.hs256,
        hs256_verify=hs256_verify if accelerated else _pycodec.hs256_verify,
        c_hs256=hs256,
        c_hs256_verify=hs256_verify,
        sha256_select=lib.hem_sha256_select,
        json_scan=json_scan,
        # The reply writer's two MACs too: on portable C, the reference is faster.
        checked_sign=checked_sign if accelerated else _pycodec.checked_sign,
        check_answer=check_answer if accelerated else _pycodec.check_answer,
        c_checked_sign=checked_sign,
        c_check_answer=check_answer,
    )


c_codec = _load_c()
all_codecs = [b for b in (c_codec, python_codec) if b is not None]

if os.environ.get("HEMPROTO_PURE") == "1":
    _active = python_codec
elif c_codec is not None:
    _active = c_codec
elif os.environ.get("HEMPROTO_REQUIRE_C") == "1":
    raise ImportError(
        "hemproto: HEMPROTO_REQUIRE_C=1 but the C extension hemproto._hemcodec is not built"
    )
else:
    _active = python_codec

b64url_encode: Callable[[BytesLike], str] = _active.b64url_encode
b64url_decode: Callable[[str | BytesLike], bytes] = _active.b64url_decode
b64_encode: Callable[[BytesLike], str] = _active.b64_encode
b64_decode: Callable[[str | BytesLike], bytes] = _active.b64_decode
ct_equal: Callable[[BytesLike, BytesLike], bool] = _active.ct_equal
# (first '.', second '.', the three segments decoded back to back), or None when the text
# is not three non-empty canonical base64url segments; the caller explains a None.
split_token: Callable[[str], tuple[int, int, bytes] | None] = _active.split_token
# A check token (a str, or its ASCII bytes) in the exact shape devices send, decoded in one
# step (see _pycodec.scan_check), or None: the caller then takes the general path.
scan_check: Callable[[str | bytes], _pycodec.ScannedCheck | None] = _active.scan_check
# HMAC-SHA256 under a 32-byte key (HS256), and its constant-time check against a MAC.
hs256: Callable[[bytes, bytes], bytes] = _active.hs256
hs256_verify: Callable[[bytes, bytes, bytes], bool] = _active.hs256_verify

# The C scan of a JSON text (csrc/hemjson.h): [its verdict packed as kind | flags << 4 |
# offset << 8, a clean text's values and top-level members, a syntax error's context and
# resume offset, then each member's name and value offsets when there are at most
# HEM_JSON_OUTLINE_MEMBERS]; None from the Python codec, or when the C scan cannot take
# the text.
json_scan: Callable[[bytes], list[int] | None] = _active.json_scan

# The backend's reply token written whole (csrc/hemreply.h): key, header segment, jti, iss,
# aud, iat, act, crt, newfws, newuis; None when a field is outside the rules there.
checked_sign: Callable[
    [BytesLike, bytes, bytes, bytes, bytes, int, str, bytes | None, bytes | None, bytes | None],
    str | None,
] = _active.checked_sign
# checked_sign behind the check's MAC, in one step (hem_check_answer): key, the text the
# check's MAC covers, its 32 MAC bytes, then checked_sign's fields after the key. The
# reply, or None when the MAC does not match; ValueError for fields checked_sign refuses.
check_answer: Callable[
    [
        BytesLike,
        bytes,
        bytes,
        bytes,
        bytes,
        bytes,
        bytes,
        int,
        str,
        bytes | None,
        bytes | None,
        bytes | None,
    ],
    str | None,
] = _active.check_answer


def active_codec() -> str:
    """Return ``"c"`` or ``"python"``: the codec this process uses."""
    return str(_active.name)
