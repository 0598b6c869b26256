"""The C codec: thin wrappers over the compiled core (hemproto._hemcodec, csrc/).

Each wrapper checks its argument types and sizes, lends itself an output buffer, calls C
once and copies the result out as Python objects; it behaves exactly as _pycodec's function
of the same name. It is the only module that imports _hemcodec; importing it raises
ImportError when the extension is not built, and _codec then chooses the Python codec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from . import _pycodec, schema
from ._bytes import BytesLike, as_ascii, as_bytes
from ._hemcodec import ffi, lib
from ._pycodec import encoding_error

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._codec_contract import ScannedCheck
    from ._hemcodec import CBuffer, CData, CharArray, LongLongArray, Pointer
    from .errors import EncodingError

    # hemx_b64url_decode and hemx_b64_decode: in, length, out, capacity, where it stopped.
    Decoder = Callable[[Pointer, int, CharArray, int, CData], int]

__all__ = [
    "b64_decode",
    "b64_encode",
    "b64url_decode",
    "b64url_encode",
    "c_check_answer",
    "c_checked_sign",
    "c_hs256",
    "c_hs256_verify",
    "check_answer",
    "checked_sign",
    "ct_equal",
    "hs256",
    "hs256_verify",
    "json_scan",
    "name",
    "scan_check",
    "sha256_select",
    "split_token",
]

name: Final = "c"

SCRATCH_SIZE: Final = 8192
# Idle scratch buffers kept for reuse; more exist only while more calls are in flight.
SCRATCH_KEPT: Final = 32
TOKEN_PACK_LIMIT: Final = 1 << 21  # hemx_token_decode packs offsets in 21 bits (see there)

# JSON texts up to this many bytes are scanned in a work area taken from a free list (about
# 12 bytes per text byte); longer ones get their own. A request body the backend reads
# (7300 bytes) and any body a token travels in (16384) fit.
JSON_WORK_TEXT: Final = 16384
JSON_WORK_KEPT: Final = 4

# The wrappers reach everything below as module globals: CPython 3.11 reads those about as
# fast as the closure cells this module was once built from (measured per call).

# Output buffers are overwritten before they are read, so skip zero-filling them.
_alloc = ffi.new_allocator(should_clear_after_alloc=False)
_from_buffer = ffi.from_buffer
_unpack = ffi.unpack
_view = ffi.buffer
_NULL = ffi.NULL

# Outputs up to SCRATCH_SIZE bytes go to a scratch buffer taken from a free list: allocating
# one per call costs more than the decoding. A call owns the buffer it took until it has
# copied its result out (_unpack) and given the buffer back, so no two calls in flight ever
# share one: not two threads (cffi releases the GIL during the C call), and not a call and
# the Python signal handler that CPython may run on the same thread just after the C call
# returns, which can call hemproto too. list.pop and list.append are atomic; an empty list
# means every buffer is in use, and the call makes a new one. One list for all threads is
# cheaper than a thread-local lookup. A call that raises between taking and giving back
# drops its buffer, which is merely not reused. The hot wrappers inline _take and _give.
_scratch: list[CharArray] = []
_take_scratch = _scratch.pop
_give_scratch = _scratch.append


def _take(cap: int) -> CharArray:
    # Callers give back only what they took from here, and only when cap <= SCRATCH_SIZE.
    if cap > SCRATCH_SIZE:
        return _alloc("char[]", cap)
    try:
        return _take_scratch()
    except IndexError:
        return _alloc("char[]", SCRATCH_SIZE)


def _give(out: CharArray, cap: int) -> None:
    if cap <= SCRATCH_SIZE and len(_scratch) < SCRATCH_KEPT:
        _give_scratch(out)


def _pointer(data: BytesLike) -> Pointer:
    # bytes go to `const char *` without a copy; other buffers need a view.
    return data if type(data) is bytes else _from_buffer(data)


# --- base64 and base64url -------------------------------------------------------------------

_url_encode = lib.hemx_b64url_encode
_std_encode = lib.hemx_b64_encode
_url_decode = lib.hemx_b64url_decode
_std_decode = lib.hemx_b64_decode


def b64url_encode(data: BytesLike) -> str:
    data = as_bytes(data)
    n = len(data)
    cap = n // 3 * 4 + 4
    out = _take(cap)
    written = _url_encode(_pointer(data), n, out, cap)
    result = _unpack(out, written)
    if cap <= SCRATCH_SIZE and len(_scratch) < SCRATCH_KEPT:  # _give, inlined
        _give_scratch(out)
    return result.decode("ascii")


def b64_encode(data: BytesLike) -> str:
    data = as_bytes(data)
    n = len(data)
    cap = n // 3 * 4 + 4
    out = _take(cap)
    written = _std_encode(_pointer(data), n, out, cap)
    result = _unpack(out, written)
    if cap <= SCRATCH_SIZE and len(_scratch) < SCRATCH_KEPT:  # _give, inlined
        _give_scratch(out)
    return result.decode("ascii")


def _decoder(decode: Decoder, alphabet: str, name: str) -> Callable[[str | BytesLike], bytes]:
    """The wrapper of one of the two C decoders: the alphabets differ in nothing else."""

    def decoder(text: str | BytesLike) -> bytes:
        # The common case inline (an ASCII str, a scratch buffer): the hottest call there is.
        data: BytesLike
        if type(text) is str:
            try:
                data = text.encode("ascii")
            except UnicodeEncodeError:
                data = as_ascii(text)
        else:
            data = as_ascii(text)
        n = len(data)
        cap = n // 4 * 3 + 3
        if cap <= SCRATCH_SIZE:
            try:
                out = _take_scratch()
            except IndexError:
                out = _alloc("char[]", SCRATCH_SIZE)
            written = decode(
                data if type(data) is bytes else _from_buffer(data), n, out, cap, _NULL
            )
            if written >= 0:
                result = _unpack(out, written)
                if len(_scratch) < SCRATCH_KEPT:
                    _give_scratch(out)
                return result
            error = _refusal(decode, alphabet, text, data, out, cap)
            _give(out, cap)
            raise error
        return _decode_large(decode, alphabet, text, data)

    decoder.__name__ = decoder.__qualname__ = name
    return decoder


b64url_decode = _decoder(_url_decode, "base64url", "b64url_decode")
b64_decode = _decoder(_std_decode, "base64", "b64_decode")


def _decode_large(decode: Decoder, alphabet: str, text: object, data: BytesLike) -> bytes:
    """A decode whose output may exceed SCRATCH_SIZE, into a buffer of its own."""
    n = len(data)
    cap = n // 4 * 3 + 3
    out = _alloc("char[]", cap)
    written = decode(_pointer(data), n, out, cap, _NULL)
    if written >= 0:
        return _unpack(out, written)
    raise _refusal(decode, alphabet, text, data, out, cap)


def _refusal(
    decode: Decoder, alphabet: str, text: object, data: BytesLike, out: CharArray, cap: int
) -> EncodingError:
    """The error for a text C refused: C is asked again, this time where it stopped."""
    offset = ffi.new("size_t *")
    code = decode(_pointer(data), len(data), out, cap, offset)
    return encoding_error(code, offset[0], text, data, alphabet)


# --- comparison, tokens and the check's shape ---------------------------------------------

_ct_equal = lib.hemx_ct_equal


def ct_equal(a: BytesLike, b: BytesLike) -> bool:
    if type(a) is bytes and type(b) is bytes:  # the MAC check's case, passed as they are
        return len(a) == len(b) and _ct_equal(a, b, len(a)) == 1
    a = as_bytes(a, "a")
    b = as_bytes(b, "b")
    if len(a) != len(b):
        return False
    return _ct_equal(_pointer(a), _pointer(b), len(a)) == 1


# Packed results, the one rule (csrc/build_codec.py states it for the shims): the C entry
# points with several numbers to give (hemx_token_decode, hemx_check_scan) return them in
# one integer, since every cffi out-parameter would be an allocation per call. A negative
# value means no result, and the caller explains a refusal on its general path; otherwise
# the C result struct's fields sit side by side in the order it lists them, the first from
# bit 0 and each next at a fixed shift, then the call's own total, if it has one:
#   hemx_token_decode: hem_token_parts' dot1 (bits 0-20) and dot2 (21-41), then the decoded
#                      total (from bit 42);
#   hemx_check_scan:   hem_check_found's header (HEM_CHECK_HEADER_MASK) and has_uis
#                      (HEM_CHECK_HAS_UIS), then signed_len from bit HEM_CHECK_SIGNED_SHIFT.
_token_decode = lib.hemx_token_decode


def split_token(text: str) -> tuple[int, int, bytes] | None:
    # Beyond what the packed result can carry; measured before the text is copied (an ASCII
    # text has as many bytes as characters, and any other is refused either way).
    if len(text) >= TOKEN_PACK_LIMIT:
        return _pycodec.split_token(text)
    try:
        data = text.encode("ascii")
    except UnicodeEncodeError:
        return None
    n = len(data)
    cap = n // 4 * 3 + 3
    out = _take(cap)
    packed = _token_decode(data, n, out, cap)
    if packed < 0:
        _give(out, cap)
        return None
    result = packed & 0x1FFFFF, packed >> 21 & 0x1FFFFF, _unpack(out, packed >> 42)
    _give(out, cap)
    return result


_check_scan = lib.hemx_check_scan
_CHECK_SIZE: Final = schema.CHECK_SCAN_LAYOUT.size
_unpack_check = schema.CHECK_SCAN_LAYOUT.unpack_from
_CHECK_MAX_LENGTH: Final = schema.CHECK_MAX_LENGTH
_SIGNED_SHIFT: Final = lib.HEM_CHECK_SIGNED_SHIFT  # see Packed results
# The scan's own free list (see _scratch): each entry is a buffer and a view of it, made
# together once.
_check_scratch: list[tuple[CharArray, CBuffer]] = []
_take_check = _check_scratch.pop
_give_check = _check_scratch.append


def scan_check(text: str | bytes) -> ScannedCheck | None:
    if len(text) > _CHECK_MAX_LENGTH:  # before the copy: no such text can match
        return None
    if type(text) is bytes:  # a token sliced from a body: no copy to make
        data = text
    else:
        try:
            data = text.encode("ascii")  # type: ignore[union-attr]
        except UnicodeEncodeError:
            return None
    try:
        out, fields = entry = _take_check()
    except IndexError:
        out = _alloc("char[]", _CHECK_SIZE)
        entry = out, (fields := _view(out, _CHECK_SIZE))
    packed = _check_scan(data, len(data), out)
    values = _unpack_check(fields) if packed >= 0 else None
    if len(_check_scratch) < SCRATCH_KEPT:
        _give_check(entry)
    if values is None:
        return None
    return packed, values, data[: packed >> _SIGNED_SHIFT]


# --- HS256 ---------------------------------------------------------------------------------

_MAC_SIZE: Final = schema.SIGNATURE_SIZE  # an HS256 MAC, as a token carries it
_hmac = lib.hemx_hmac_sha256
_hs256_verify = lib.hemx_hs256_verify


def c_hs256(key: bytes, message: bytes) -> bytes:
    try:  # _take and _give, inlined
        out = _take_scratch()
    except IndexError:
        out = _alloc("char[]", SCRATCH_SIZE)
    _hmac(key, len(key), message, len(message), out)
    mac = _unpack(out, _MAC_SIZE)
    if len(_scratch) < SCRATCH_KEPT:
        _give_scratch(out)
    return mac


def c_hs256_verify(key: bytes, message: bytes, mac: bytes) -> bool:
    return len(mac) == _MAC_SIZE and _hs256_verify(key, len(key), message, len(message), mac) == 1


# --- the JSON scan ---------------------------------------------------------------------------

_json_scan = lib.hemx_json_scan
_json_work_size = lib.hem_json_work_size
_JSON_WORK_BYTES: Final = _json_work_size(JSON_WORK_TEXT)
_JSON_MAX_LENGTH: Final = 0x7FFFFFFF  # HEM_JSON_MAX_LEN
_JSON_ENTRIES: Final = 5 + 2 * lib.HEM_JSON_OUTLINE_MEMBERS
# Work areas, each with the array its outline is written to, lent as the scratch buffers
# are (see _scratch).
_json_scratch: list[tuple[CharArray, LongLongArray]] = []
_take_json = _json_scratch.pop
_give_json = _json_scratch.append


def json_scan(data: bytes) -> list[int] | None:
    n = len(data)
    if n > _JSON_MAX_LENGTH:
        return None
    try:
        work, out = entry = _take_json()
    except IndexError:
        work = _alloc("char[]", _JSON_WORK_BYTES)
        out = _alloc("long long[]", _JSON_ENTRIES)
        entry = work, out
    if n > JSON_WORK_TEXT:
        size = _json_work_size(n)
        written = _json_scan(data, n, _alloc("char[]", size), size, out)
    else:
        written = _json_scan(data, n, work, _JSON_WORK_BYTES, out)
    scanned = _unpack(out, written) if written >= 0 else None
    if len(_json_scratch) < JSON_WORK_KEPT:
        _give_json(entry)
    return scanned


# --- the reply, written whole ----------------------------------------------------------------

_checked_sign = lib.hemx_checked_sign
_check_answer = lib.hemx_check_answer
_REPLY_ACTIONS: Final = {act: act.encode("ascii") for act in schema.ACTIONS}
_MAX_IAT: Final = schema.MAX_IAT
# The sizes C reads the fixed arrays at (hemreply.h has them from the same table), checked
# here before the call: a shorter bytes would be read past its end.
_KEY: Final = schema.KEY_SIZE
_REPLY_SIZES: Final = {spec.name: spec.size for spec in schema.CHECKED_CLAIMS}
_JTI, _ISS, _AUD, _NEWFWS, _NEWUIS = (
    _REPLY_SIZES[name] for name in ("jti", "iss", "aud", "newfws", "newuis")
)
_REPLY_CAP: Final = lib.HEM_REPLY_MAX_LEN  # within SCRATCH_SIZE: a scratch buffer fits
_MAC_MISMATCH: Final = lib.HEM_REPLY_E_MAC


def _reply_act(
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
) -> bytes | None:
    """``act`` as the bytes C takes, when every field has the type and size C reads (the
    fixed-size arrays are read without a length: a shorter bytes would be read past its
    end); None otherwise. C checks the rest: iss != aud, the action, crt's size, the header.
    """
    if (
        type(key) is bytes
        and len(key) == _KEY
        and type(jti) is bytes
        and len(jti) == _JTI
        and type(iss) is bytes
        and len(iss) == _ISS
        and type(aud) is bytes
        and len(aud) == _AUD
        and type(iat) is int
        and 0 <= iat <= _MAX_IAT
        and type(act) is str
        and (crt is None or type(crt) is bytes)
        and (newfws is None or (type(newfws) is bytes and len(newfws) == _NEWFWS))
        and (newuis is None or (type(newuis) is bytes and len(newuis) == _NEWUIS))
        and type(header) is bytes
    ):
        return _REPLY_ACTIONS.get(act)
    return None


def c_checked_sign(
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
    act_bytes = _reply_act(key, header, jti, iss, aud, iat, act, crt, newfws, newuis)
    if act_bytes is None:
        return None
    try:  # _take and _give, inlined
        out = _take_scratch()
    except IndexError:
        out = _alloc("char[]", SCRATCH_SIZE)
    written = _checked_sign(
        key,  # type: ignore[arg-type]  # bytes: _reply_act checked it
        jti,
        iss,
        aud,
        iat,
        act_bytes,
        len(act_bytes),
        _NULL if crt is None else crt,
        0 if crt is None else len(crt),
        _NULL if newfws is None else newfws,
        _NULL if newuis is None else newuis,
        header,
        len(header),
        out,
        _REPLY_CAP,
    )
    token = _unpack(out, written) if written >= 0 else None
    if len(_scratch) < SCRATCH_KEPT:
        _give_scratch(out)
    return None if token is None else token.decode("ascii")


def c_check_answer(
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
    act_bytes = _reply_act(key, header, jti, iss, aud, iat, act, crt, newfws, newuis)
    if (
        act_bytes is None
        or type(signed) is not bytes
        or type(signature) is not bytes
        or len(signature) != _MAC_SIZE
    ):
        raise ValueError(_pycodec.REPLY_FIELDS_REFUSED)
    try:  # _take and _give, inlined
        out = _take_scratch()
    except IndexError:
        out = _alloc("char[]", SCRATCH_SIZE)
    written = _check_answer(
        key,  # type: ignore[arg-type]  # bytes: _reply_act checked it
        signed,
        len(signed),
        signature,
        jti,
        iss,
        aud,
        iat,
        act_bytes,
        len(act_bytes),
        _NULL if crt is None else crt,
        0 if crt is None else len(crt),
        _NULL if newfws is None else newfws,
        _NULL if newuis is None else newuis,
        header,
        len(header),
        out,
        _REPLY_CAP,
    )
    token = _unpack(out, written) if written >= 0 else None
    if len(_scratch) < SCRATCH_KEPT:
        _give_scratch(out)
    if token is not None:
        return token.decode("ascii")
    if written == _MAC_MISMATCH:
        return None
    raise ValueError(_pycodec.REPLY_FIELDS_REFUSED)


# --- which MAC each name gives ------------------------------------------------------------

sha256_select = lib.hem_sha256_select

# Without the CPU's SHA extensions the portable C block function is slower than hashlib's
# (OpenSSL's assembly), so the C codec then uses the Python one: the same bytes. The reply
# writer's two MACs too. The c_ names stay the C functions, for tests and benchmarks.
_ACCELERATED: Final = lib.hem_sha256_accelerated() == 1
hs256 = c_hs256 if _ACCELERATED else _pycodec.hs256
hs256_verify = c_hs256_verify if _ACCELERATED else _pycodec.hs256_verify
checked_sign = c_checked_sign if _ACCELERATED else _pycodec.checked_sign
check_answer = c_check_answer if _ACCELERATED else _pycodec.check_answer
