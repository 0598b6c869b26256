"""Codec backend choice: the C extension when it is built, else the Python reference.

This is the only module that touches hemproto._hemcodec. HEMPROTO_PURE=1 forces the
Python backend; HEMPROTO_REQUIRE_C=1 turns a missing extension into an ImportError.
Both backends export the same five functions with identical behaviour.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from . import _pycodec
from ._pycodec import BytesLike, as_ascii, as_bytes, encoding_error

__all__ = [
    "b64_decode",
    "b64_encode",
    "b64url_decode",
    "b64url_encode",
    "backends",
    "c_backend",
    "codec_backend",
    "ct_equal",
    "python_backend",
]

SCRATCH_SIZE = 8192
TOKEN_PACK_LIMIT = 1 << 21  # hemx_token_decode in csrc/build_codec.py packs offsets in 21 bits

python_backend = SimpleNamespace(
    name="python",
    b64url_encode=_pycodec.b64url_encode,
    b64url_decode=_pycodec.b64url_decode,
    b64_encode=_pycodec.b64_encode,
    b64_decode=_pycodec.b64_decode,
    ct_equal=_pycodec.ct_equal,
    split_token=_pycodec.split_token,
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
    # Each thread decodes into its own scratch buffer: allocating one per call costs more than
    # the decoding. Per thread, because cffi releases the GIL during the C call; the result is
    # copied out (unpack) before the buffer can be used again. Larger outputs get their own.
    scratch = threading.local()

    def _out(cap: int) -> Any:
        if cap > SCRATCH_SIZE:
            return alloc("char[]", cap)
        try:
            return scratch.buffer
        except AttributeError:
            scratch.buffer = alloc("char[]", SCRATCH_SIZE)
            return scratch.buffer

    def _pointer(data: BytesLike) -> Any:
        # bytes go to `const char *` without a copy; other buffers need a view.
        return data if type(data) is bytes else from_buffer(data)

    def b64url_encode(data: BytesLike) -> str:
        data = as_bytes(data)
        n = len(data)
        out = _out(n // 3 * 4 + 4)
        written = lib.hemx_b64url_encode(_pointer(data), n, out, n // 3 * 4 + 4)
        return unpack(out, written).decode("ascii")  # type: ignore[no-any-return]

    def b64_encode(data: BytesLike) -> str:
        data = as_bytes(data)
        n = len(data)
        out = _out(n // 3 * 4 + 4)
        written = lib.hemx_b64_encode(_pointer(data), n, out, n // 3 * 4 + 4)
        return unpack(out, written).decode("ascii")  # type: ignore[no-any-return]

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
            try:  # _out(cap), inlined: this is the hottest call in the library
                out = scratch.buffer if cap <= SCRATCH_SIZE else alloc("char[]", cap)
            except AttributeError:
                out = _out(cap)
            pointer = data if type(data) is bytes else from_buffer(data)
            written = c_function(pointer, n, out, cap, null)
            if written >= 0:
                return unpack(out, written)  # type: ignore[no-any-return]
            offset = ffi.new("size_t *")
            code = c_function(pointer, n, out, cap, offset)
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
        try:
            data = text.encode("ascii")
        except UnicodeEncodeError:
            return None
        if len(data) >= TOKEN_PACK_LIMIT:  # beyond what the packed result can carry
            return _pycodec.split_token(text)
        n = len(data)
        cap = n // 4 * 3 + 3
        try:
            out = scratch.buffer if cap <= SCRATCH_SIZE else alloc("char[]", cap)
        except AttributeError:
            out = _out(cap)
        packed = token_decode(data, n, out, cap)
        if packed < 0:
            return None
        return packed & 0x1FFFFF, packed >> 21 & 0x1FFFFF, unpack(out, packed >> 42)

    return SimpleNamespace(
        name="c",
        b64url_encode=b64url_encode,
        b64url_decode=_decoder(lib.hemx_b64url_decode, "base64url"),
        b64_encode=b64_encode,
        b64_decode=_decoder(lib.hemx_b64_decode, "base64"),
        ct_equal=ct_equal,
        split_token=split_token,
    )


c_backend = _load_c()
backends = [b for b in (c_backend, python_backend) if b is not None]

if os.environ.get("HEMPROTO_PURE") == "1":
    _active = python_backend
elif c_backend is not None:
    _active = c_backend
elif os.environ.get("HEMPROTO_REQUIRE_C") == "1":
    raise ImportError(
        "hemproto: HEMPROTO_REQUIRE_C=1 but the C extension hemproto._hemcodec is not built"
    )
else:
    _active = python_backend

b64url_encode: Callable[[BytesLike], str] = _active.b64url_encode
b64url_decode: Callable[[str | BytesLike], bytes] = _active.b64url_decode
b64_encode: Callable[[BytesLike], str] = _active.b64_encode
b64_decode: Callable[[str | BytesLike], bytes] = _active.b64_decode
ct_equal: Callable[[BytesLike, BytesLike], bool] = _active.ct_equal
# (first '.', second '.', the three segments decoded back to back), or None when the text
# is not three non-empty canonical base64url segments; the caller explains a None.
split_token: Callable[[str], tuple[int, int, bytes] | None] = _active.split_token


def codec_backend() -> str:
    """Return ``"c"`` or ``"python"``: the codec backend this process uses."""
    return str(_active.name)
