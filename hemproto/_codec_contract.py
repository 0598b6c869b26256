"""The codec contract: every function a codec provides, with its exact signature.

Both codecs satisfy it as modules (hemproto._pycodec, hemproto._ccodec), and _codec types
them with it, so mypy refuses a codec that lacks a function or changes a signature. It holds
only types; behaviour (results, refusals, error offsets) is defined by _pycodec.
"""

from __future__ import annotations

from typing import Protocol

from ._bytes import BytesLike

__all__ = ["CODEC_MEMBERS", "Codec", "ScannedCheck"]

# What scan_check gives for a check in the device's exact shape: (flags | the signed text's
# length << CHECK_SIGNED_SHIFT, the fields of schema.CHECK_SCAN_LAYOUT, the signed text).
ScannedCheck = tuple[int, tuple[bytes, ...], bytes]


class Codec(Protocol):
    """The functions of a codec. Arguments keep _pycodec's names: callers may name them."""

    @property
    def name(self) -> str:
        """``"c"`` or ``"python"``: what ``hemproto.active_codec()`` reports."""

    def b64url_encode(self, data: BytesLike) -> str:
        """Base64url without padding."""

    def b64url_decode(self, text: str | BytesLike) -> bytes:
        """Canonical unpadded base64url, or EncodingError with reason and offset."""

    def b64_encode(self, data: BytesLike) -> str:
        """Standard base64 with ``=`` padding."""

    def b64_decode(self, text: str | BytesLike) -> bytes:
        """Canonical padded standard base64, or EncodingError with reason and offset."""

    def ct_equal(self, a: BytesLike, b: BytesLike) -> bool:
        """Equality in time independent of the contents (not of the lengths)."""

    def split_token(self, text: str) -> tuple[int, int, bytes] | None:
        """(first '.', second '.', the three segments decoded back to back), or None when
        the text is not three non-empty canonical segments; the caller explains a None."""

    def scan_check(self, text: str | bytes) -> ScannedCheck | None:
        """A check token (a str, or its ASCII bytes) in the exact shape devices send,
        decoded in one step, or None: the caller then takes the general path."""

    def hs256(self, key: bytes, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message`` under ``key``."""

    def hs256_verify(self, key: bytes, message: bytes, mac: bytes) -> bool:
        """Whether ``mac`` is hs256(key, message), compared in constant time."""

    def json_scan(self, data: bytes) -> list[int] | None:
        """The C scan of a JSON text (csrc/hemjson.h): [the verdict packed as kind |
        flags << 4 | offset << 8, a clean text's values and top-level members, a syntax
        error's context and resume offset, then each member's name and value offsets when
        there are at most HEM_JSON_OUTLINE_MEMBERS]; None from the Python codec, or when
        the C scan cannot take the text (_json's strict decoder then decides)."""

    def checked_sign(
        self,
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
        """The reply token written whole (csrc/hemreply.h), or None when a field is
        outside the rules there."""

    def check_answer(
        self,
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
        """checked_sign behind the check's MAC: the reply, or None when ``signature`` is
        not hs256(key, signed); ValueError for fields checked_sign refuses."""


# The contract's members by name, in the order above: what a codec must have at run time.
CODEC_MEMBERS: tuple[str, ...] = tuple(member for member in vars(Codec) if member[0] != "_")
