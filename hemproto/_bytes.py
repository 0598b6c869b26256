"""Input coercion every module shares: what counts as bytes, and how it is read.

It owns the BytesLike alias and the checks that turn a caller's object into bytes or a
TypeError. It imports nothing from hemproto, so any module (codec, keys, messages) can use it.
"""

from __future__ import annotations

from typing import Union

__all__ = ["BytesLike", "as_ascii", "as_bytes", "byte_length"]

BytesLike = Union[bytes, bytearray, memoryview]  # noqa: UP007 (a runtime alias)


def as_bytes(data: object, what: str = "data") -> BytesLike:
    """Return ``data`` if it is bytes-like (contiguous bytes view), else raise TypeError."""
    if isinstance(data, (bytes, bytearray)):
        return data
    if isinstance(data, memoryview):
        if not data.c_contiguous:
            return data.tobytes()
        return data if data.format == "B" and data.ndim == 1 else data.cast("B")
    raise TypeError(f"{what} must be bytes-like, not {type(data).__name__}")


def byte_length(data: object, what: str = "data") -> int:
    """The size in bytes of a bytes-like ``data``, measured without copying it, else TypeError.

    Callers compare it to their cap before any copy (a memoryview's len() counts elements,
    and copying a strided one is the only way to get its bytes).
    """
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    if isinstance(data, memoryview):
        return data.nbytes
    raise TypeError(f"{what} must be bytes-like, not {type(data).__name__}")


def as_ascii(text: object) -> BytesLike:
    """Coerce decoder input to bytes, keeping character offsets.

    Non-ASCII characters of a ``str`` become ``?``, which no alphabet contains, so the
    decoder refuses them at their own offset.
    """
    if isinstance(text, str):
        try:
            return text.encode("ascii")
        except UnicodeEncodeError:
            return text.encode("ascii", "replace")
    return as_bytes(text, "text")
