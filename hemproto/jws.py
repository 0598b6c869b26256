"""Compact JWS of the HEM token family: HS256 keyed by an X25519 secret, ``ecdh`` header.

It splits, decodes, verifies and signs tokens and enforces the family's structural rules.
It knows no claim semantics (see claims) and has no switch that skips a check.

An *ejwt* (ECDH JWT) is hemproto's word for a token of this family: a compact JWS whose
``ecdh`` header member names the key agreement that made its HS256 key. decode_ejwt,
verify_ejwt and sign_ejwt take any of them (a check, a checked reply, a login token).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from . import _codec
from ._bytes import BytesLike, as_bytes, byte_length
from ._json import dumps_compact, loads_object
from .errors import BadSignature, EncodingError, InvalidKey, MalformedToken
from .schema import (
    DEFAULT_HEADER,
    HEADER_TEXTS,
    HEADER_VALUES,
    KEY_SIZE,
    REQUIRED_HEADER,
    SIGNATURE_SIZE,
)

__all__ = [
    "DEFAULT_HEADER",
    "MAC_KEY_SIZE",
    "MAX_TOKEN_LENGTH",
    "DecodedToken",
    "decode_ejwt",
    "sign_ejwt",
    "verify_ejwt",
]

MAX_TOKEN_LENGTH = 8192
MAC_KEY_SIZE = KEY_SIZE
MAC_MISMATCH = "token MAC does not match the key"
_SEGMENTS = ("header", "payload", "signature")
# Decoded bytes of the last, partial group of a canonical segment, by its length mod 4.
_TAIL_BYTES = (0, 0, 1, 2)
# DEFAULT_HEADER's text is HEADER_TEXTS[0], the device's.
_DEFAULT_HEADER_SEGMENT = _codec.b64url_encode(HEADER_TEXTS[0].encode("ascii"))
_HEADER_CACHE_SIZE = 16
# Seeded with the header texts the family uses (device order, login order), so that a
# flood of odd but valid headers filling the cache can never push these out.
_HEADER_CACHE: dict[str, dict[str, Any]] = {
    _codec.b64url_encode(text.encode("ascii")): json.loads(text) for text in HEADER_TEXTS
}


@dataclass(frozen=True, slots=True)
class DecodedToken:
    """A structurally valid token, not yet verified.

    ``signing_input`` is the ASCII ``header.payload`` text the MAC covers; ``signature``
    the 32 MAC bytes. ``header`` and ``claims`` are fresh dicts owned by this object.
    """

    token: str
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _token_text(token: object) -> str:
    """The token as text, refused by its length before anything is copied or decoded."""
    if type(token) is str:
        if len(token) > MAX_TOKEN_LENGTH:
            raise MalformedToken(f"token is longer than {MAX_TOKEN_LENGTH} characters")
        return token
    if isinstance(token, str):
        text = token
    elif isinstance(token, (bytes, bytearray, memoryview)):
        if byte_length(token) > MAX_TOKEN_LENGTH:
            raise MalformedToken(f"token is longer than {MAX_TOKEN_LENGTH} characters")
        raw = bytes(token)
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise MalformedToken(
                f"token has a non-ASCII byte at offset {exc.start}", offset=exc.start
            ) from None
    else:
        raise TypeError(f"token must be str or bytes, not {type(token).__name__}")
    if len(text) > MAX_TOKEN_LENGTH:
        raise MalformedToken(f"token is longer than {MAX_TOKEN_LENGTH} characters")
    return text


def _decode_segment(text: str, start: int, segment: str) -> bytes:
    try:
        return _codec.b64url_decode(text)
    except EncodingError as exc:
        raise MalformedToken(
            f"{segment} segment: {exc} (token offset {start + exc.offset})",
            segment=segment,
            offset=start + exc.offset,
        ) from None


def _check_header(header: dict[str, Any]) -> None:
    for name, value in header.items():
        expected = HEADER_VALUES.get(name)
        if expected is None:
            # The name is the sender's: cut short, so that no header makes a long message.
            raise MalformedToken(f"header member {name!r:.60} is not allowed", segment="header")
        if type(value) is not str or value != expected:
            raise MalformedToken(
                f"header {name!r} must be {expected!r}, got {value!r}"[:120], segment="header"
            )
    for name in REQUIRED_HEADER:
        if name not in header:
            raise MalformedToken(f"header member {name!r} is missing", segment="header")


def _segment_error(segment: str) -> Callable[[str], MalformedToken]:
    def error(reason: str) -> MalformedToken:
        return MalformedToken(f"{segment} segment: {reason}", segment=segment)

    return error


_SEGMENT_ERRORS = {segment: _segment_error(segment) for segment in ("header", "payload")}
_PAYLOAD_ERROR = _SEGMENT_ERRORS["payload"]


def _json_object(data: bytes, segment: str) -> dict[str, Any]:
    return loads_object(data, _SEGMENT_ERRORS[segment])


def _decode_header(header_text: str, raw: bytes) -> dict[str, Any]:
    """The header dict for a header segment; a known segment text skips JSON entirely.

    A cached dict is returned as it is: callers that hand a header out must copy it.
    """
    known = _HEADER_CACHE.get(header_text)
    if known is not None:
        return known
    header = _json_object(raw, "header")
    _check_header(header)
    if len(_HEADER_CACHE) < _HEADER_CACHE_SIZE:
        # The text is canonical base64url of a header that passed every rule, so the same
        # text always yields the same header: caching it cannot admit anything new.
        _HEADER_CACHE[header_text] = dict(header)
        # Another thread, or a signal handler run between the test and the store, may have
        # added one as well: take this one back rather than let the cache outgrow its size.
        # The seeded texts are never missed, so never taken out.
        if len(_HEADER_CACHE) > _HEADER_CACHE_SIZE:
            _HEADER_CACHE.pop(header_text, None)
    return header


def decode_ejwt(token: str | BytesLike) -> DecodedToken:
    """Split and decode a token, enforcing every structural rule; no MAC check.

    Raises MalformedToken (with ``segment`` and, for encoding faults, ``offset``).
    """
    text, header, claims, signing_input, signature = decode_parts(token)
    return DecodedToken(text, dict(header), claims, signing_input, signature)


def decode_parts(
    token: str | BytesLike,
) -> tuple[str, dict[str, Any], dict[str, Any], bytes, bytes]:
    """decode_ejwt without the DecodedToken: (text, header, claims, signing input, signature).

    For hot paths inside hemproto. The header may be shared with a cache: copy it before
    handing it to anyone.
    """
    text = _token_text(token)
    return (text, *_decode(text))


_Parts = tuple[dict[str, Any], dict[str, Any], bytes, bytes]


def _decode(text: str) -> _Parts:
    """(header, claims, signing input, signature) of a token's text, every rule enforced."""
    parts = _codec.split_token(text)
    if parts is None:
        # Not three canonical segments: find out exactly what is wrong, and say so.
        _explain_segments(text)
    dot1, dot2, blob = parts
    header_end = dot1 // 4 * 3 + _TAIL_BYTES[dot1 % 4]
    payload_chars = dot2 - dot1 - 1
    payload_end = header_end + payload_chars // 4 * 3 + _TAIL_BYTES[payload_chars % 4]
    signature = blob[payload_end:]
    if len(signature) != SIGNATURE_SIZE:
        raise MalformedToken(
            f"signature must be {SIGNATURE_SIZE} bytes, got {len(signature)}", segment="signature"
        )
    header = _decode_header(text[:dot1], blob[:header_end])
    claims = loads_object(blob[header_end:payload_end], _PAYLOAD_ERROR)
    return header, claims, text[:dot2].encode("ascii"), signature


def _explain_segments(text: str) -> NoReturn:
    """Raise the first fault of a text that is not three canonical segments, in text order."""
    parts = text.split(".")
    if len(parts) != 3:
        raise MalformedToken(f"token must have 3 segments separated by '.', found {len(parts)}")
    start = 0
    for segment, part in zip(_SEGMENTS, parts, strict=True):
        if not part:
            raise MalformedToken(f"{segment} segment is empty", segment=segment, offset=start)
        _decode_segment(part, start, segment)
        start += len(part) + 1
    # The codec's splitter and its decoder agree (differential tests); should they ever
    # not, the token is still refused.
    raise MalformedToken("token segments are not canonical base64url")


def _mac_key(key: object) -> bytes:
    if type(key) is bytes and len(key) == MAC_KEY_SIZE:
        return key
    try:
        size = byte_length(key, "key")  # measured first: a strided view would be copied
    except TypeError as exc:
        raise InvalidKey(str(exc)) from None
    if size != MAC_KEY_SIZE:
        raise InvalidKey(f"MAC key must be {MAC_KEY_SIZE} bytes, got {size}")
    return bytes(as_bytes(key, "key"))


def check_mac(decoded: DecodedToken, key: BytesLike) -> None:
    """Raise BadSignature unless ``decoded`` carries the HS256 MAC of ``key``."""
    check_signature(decoded.signing_input, decoded.signature, key)


def check_signature(signing_input: bytes, signature: bytes, key: BytesLike) -> None:
    """Raise BadSignature unless ``signature`` is the HS256 MAC of ``signing_input``."""
    if not _codec.hs256_verify(_mac_key(key), signing_input, signature):
        raise BadSignature(MAC_MISMATCH)


def verify_ejwt(token: str | BytesLike, key: BytesLike) -> dict[str, Any]:
    """Decode ``token``, verify its HS256 MAC with the 32-byte ``key``, return its claims."""
    _, claims, signing_input, signature = _decode(_token_text(token))
    check_signature(signing_input, signature, key)
    return claims


def sign_ejwt(
    claims: dict[str, Any], key: BytesLike, *, header: dict[str, Any] | None = None
) -> str:
    """Sign ``claims`` (compact JSON, insertion order) with HS256; deterministic.

    The header defaults to DEFAULT_HEADER; a given header must obey the same rules
    decode_ejwt enforces, so hemproto never signs a token it would refuse.
    """
    mac_key = _mac_key(key)
    if header is None:
        header_segment = _DEFAULT_HEADER_SEGMENT
    elif not isinstance(header, dict):
        raise TypeError("header must be a dict")
    else:
        _check_header(header)
        header_segment = _codec.b64url_encode(dumps_compact(header).encode())
    if not isinstance(claims, dict):
        raise TypeError("claims must be a dict")
    for name in claims:
        if type(name) is not str:
            raise TypeError(f"claim names must be str, got {type(name).__name__}")
    try:
        payload = dumps_compact(claims)
    except ValueError as exc:
        raise MalformedToken(f"claims are not JSON: {exc}", segment="payload") from None
    # The same strict parse the receiver runs: depth, integer range, finite numbers.
    _json_object(payload.encode(), "payload")
    signing_input = f"{header_segment}.{_codec.b64url_encode(payload.encode())}"
    signature = _codec.b64url_encode(_codec.hs256(mac_key, signing_input.encode("ascii")))
    token = f"{signing_input}.{signature}"
    if len(token) > MAX_TOKEN_LENGTH:
        raise MalformedToken(f"signed token would exceed {MAX_TOKEN_LENGTH} characters")
    return token
