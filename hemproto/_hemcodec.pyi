# Types of the compiled cffi module hemproto._hemcodec (csrc/build_codec.py, CDEF), for
# mypy only: the extension carries none. Only _ccodec imports it. Every entry point here
# is one the CDEF declares (tests/test_codec_contract.py holds the two together); a
# `const char *` takes bytes as they are or a cdata pointer, a `char *` only a cdata.
# The classes below exist only in this stub: import them under TYPE_CHECKING.

from typing import Literal, overload

class CData:
    """A cffi pointer or array."""

class CharArray(CData):
    """``char[]``: a C codec's output buffer."""

class LongLongArray(CData):
    """``long long[]``: the JSON scan's outline."""

class SizeTPointer(CData):
    """``size_t *``: where a decoder reports the offset of a refusal."""

    def __getitem__(self, index: int) -> int: ...

class CBuffer:
    """``ffi.buffer``: the bytes of a cdata, readable in place (struct.unpack_from)."""

    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __len__(self) -> int: ...

class Allocator:
    @overload
    def __call__(self, cdecl: Literal["char[]"], init: int) -> CharArray: ...
    @overload
    def __call__(self, cdecl: Literal["long long[]"], init: int) -> LongLongArray: ...

Pointer = bytes | CData

class FFI:
    NULL: CData
    def new_allocator(self, *, should_clear_after_alloc: bool = ...) -> Allocator: ...
    def new(self, cdecl: Literal["size_t *"]) -> SizeTPointer: ...
    def from_buffer(self, python_buffer: bytes | bytearray | memoryview) -> CharArray: ...
    def buffer(self, cdata: CharArray, size: int) -> CBuffer: ...
    @overload
    def unpack(self, cdata: CharArray, length: int) -> bytes: ...
    @overload
    def unpack(self, cdata: LongLongArray, length: int) -> list[int]: ...

class Lib:
    # The CDEF's own constants. The values it takes from the generated csrc/hemshape.h (the
    # check's field offsets, the reply's limits) are in lib too, for tests; Python code
    # reads those facts from hemproto.schema.
    HEM_E_CHAR: int
    HEM_E_LENGTH: int
    HEM_E_PADDING: int
    HEM_E_TRAILING: int
    HEM_E_SPACE: int
    HEM_E_SEGMENTS: int
    HEM_CHECK_OTHER: int
    HEM_CHECK_HEADER_MASK: int
    HEM_CHECK_HAS_UIS: int
    HEM_CHECK_SIGNED_SHIFT: int
    HEM_JSON_OUTLINE_MEMBERS: int
    HEM_REPLY_MAX_HEADER: int
    HEM_REPLY_MAX_LEN: int
    HEM_REPLY_E_FIELD: int
    HEM_REPLY_E_MAC: int

    def hemx_b64url_encode(
        self, in_: Pointer, in_len: int, out: CharArray, out_cap: int
    ) -> int: ...
    def hemx_b64_encode(self, in_: Pointer, in_len: int, out: CharArray, out_cap: int) -> int: ...
    def hemx_b64url_decode(
        self, in_: Pointer, in_len: int, out: CharArray, out_cap: int, err_offset: CData
    ) -> int: ...
    def hemx_b64_decode(
        self, in_: Pointer, in_len: int, out: CharArray, out_cap: int, err_offset: CData
    ) -> int: ...
    def hemx_ct_equal(self, a: Pointer, b: Pointer, n: int) -> int: ...
    def hemx_token_decode(self, token: Pointer, n: int, out: CharArray, out_cap: int) -> int: ...
    def hemx_check_scan(self, token: Pointer, n: int, out: CharArray) -> int: ...
    def hemx_sha256(self, data: Pointer, n: int, out: CharArray) -> None: ...
    def hemx_hmac_sha256(
        self, key: Pointer, key_len: int, msg: Pointer, n: int, out: CharArray
    ) -> None: ...
    def hemx_hs256_verify(
        self, key: Pointer, key_len: int, msg: Pointer, n: int, mac: Pointer
    ) -> int: ...
    def hem_sha256_accelerated(self) -> int: ...
    def hem_sha256_select(self, force_portable: int) -> int: ...
    def hem_json_work_size(self, text_len: int) -> int: ...
    def hemx_json_scan(
        self, text: Pointer, n: int, work: CharArray, work_size: int, out: LongLongArray
    ) -> int: ...
    def hemx_checked_sign(
        self,
        key: Pointer,
        jti: Pointer,
        iss: Pointer,
        aud: Pointer,
        iat: int,
        act: Pointer,
        act_len: int,
        crt: Pointer,
        crt_len: int,
        newfws: Pointer,
        newuis: Pointer,
        header: Pointer,
        header_len: int,
        out: CharArray,
        out_cap: int,
    ) -> int: ...
    def hemx_check_answer(
        self,
        key: Pointer,
        check_signed: Pointer,
        check_signed_len: int,
        check_mac: Pointer,
        jti: Pointer,
        iss: Pointer,
        aud: Pointer,
        iat: int,
        act: Pointer,
        act_len: int,
        crt: Pointer,
        crt_len: int,
        newfws: Pointer,
        newuis: Pointer,
        header: Pointer,
        header_len: int,
        out: CharArray,
        out_cap: int,
    ) -> int: ...

ffi: FFI
lib: Lib
