"""A lossless CBOR envelope for tokens of the HEM family, for constrained links.

It owns the envelope layout (form 0 compact, form 1 verbatim) and its strict decoding;
token rules stay in jws. It never verifies a MAC (it holds no key) and does no I/O.
"""

from __future__ import annotations

import math
from typing import Any

import cbor2

from . import _codec
from ._bytes import BytesLike, as_bytes, byte_length
from ._json import MAX_DEPTH as JSON_MAX_DEPTH
from ._json import MAX_SAFE_INTEGER, dumps_compact
from ._pycodec import b64_canonical
from .errors import HemProtoError, MalformedToken
from .jws import DecodedToken, decode_ejwt
from .schema import CBOR_CLAIM_NUMBERS, HEADER_TEXTS, SIGNATURE_SIZE

__all__ = [
    "FORM_COMPACT",
    "FORM_VERBATIM",
    "KNOWN_CLAIMS",
    "KNOWN_HEADERS",
    "MAX_CBOR_LENGTH",
    "from_cbor",
    "to_cbor",
]

FORM_COMPACT = 0
FORM_VERBATIM = 1
# Above any envelope to_cbor writes (form 1 of an 8192-character token is under 6.2 KB);
# checked before any decoding.
MAX_CBOR_LENGTH = 8192
# Index = the number a header text travels as: the device's order, then the login order.
KNOWN_HEADERS: tuple[str, ...] = HEADER_TEXTS
# Index = the integer key a claim name travels as: each claim's ``cbor`` number in the
# claim table, which gives a number once and never reuses it, or old envelopes would change.
KNOWN_CLAIMS: tuple[str, ...] = tuple(
    sorted(CBOR_CLAIM_NUMBERS, key=CBOR_CLAIM_NUMBERS.__getitem__)
)
_HEADER_IDS = {text: number for number, text in enumerate(KNOWN_HEADERS)}
_CLAIM_KEYS = dict(CBOR_CLAIM_NUMBERS)
_ENVELOPE_SIZE = 4
# The envelope array and the claims array are two levels; the claims array stands for the
# payload object, so a payload at the JSON depth cap nests one level deeper than it in CBOR.
_MAX_NESTING = JSON_MAX_DEPTH + 1
# Major type 7 items a JSON value can need: false, true, null, half/single/double floats.
_ALLOWED_SIMPLE = frozenset({20, 21, 22, 25, 26, 27})
_KINDS = {
    bool: "boolean",
    int: "integer",
    float: "float",
    str: "text string",
    bytes: "byte string",
    list: "array",
    dict: "map",
    type(None): "null",
}


def _cbor_error(message: str, offset: int | None = None) -> MalformedToken:
    return MalformedToken(f"CBOR envelope: {message}", segment="cbor", offset=offset)


def _kind(value: object) -> str:
    return _KINDS.get(type(value), type(value).__name__)


# --- well-formedness scan -----------------------------------------------------------------
# cbor2 turns tags into objects of its choosing (datetimes, Decimals, shared or string
# references, even cycles), accepts indefinite lengths and ignores trailing bytes, and its
# options for refusing these differ between releases. So the bytes are walked head by head
# first, and cbor2 only ever sees definite-length, tag-free, shallow, exactly-sized input.


def _truncated(data: bytes) -> MalformedToken:
    return _cbor_error(f"input ends early (after {len(data)} bytes)", len(data))


def _head(data: bytes, pos: int) -> tuple[int, int, int, int]:
    """Read the item head at ``pos``: (major type, additional info, argument, next pos)."""
    if pos >= len(data):
        raise _truncated(data)
    major, info = data[pos] >> 5, data[pos] & 0x1F
    if info < 24:
        return major, info, info, pos + 1
    if info < 28:
        end = pos + 1 + (1 << (info - 24))
        if end > len(data):
            raise _truncated(data)
        return major, info, int.from_bytes(data[pos + 1 : end], "big"), end
    if info == 31 and 2 <= major <= 5:
        raise _cbor_error(f"indefinite-length item at byte {pos}: lengths must be definite", pos)
    if info == 31 and major == 7:
        raise _cbor_error(f"break byte at byte {pos} outside any indefinite-length item", pos)
    raise _cbor_error(f"invalid additional information {info} at byte {pos}", pos)


def _skip_item(data: bytes, pos: int, depth: int) -> int:
    """Check the item at ``pos`` (``depth`` containers enclose it); return where it ends."""
    start = pos
    major, info, argument, pos = _head(data, pos)
    if major <= 1:
        return pos
    if major <= 3:
        if argument > len(data) - pos:
            raise _truncated(data)
        return pos + argument
    if major == 6:
        raise _cbor_error(f"tag {argument} at byte {start}: tags are not allowed", start)
    if major == 7:
        if info in _ALLOWED_SIMPLE:
            return pos
        raise _cbor_error(
            f"simple value at byte {start}: only false, true, null and floats are allowed", start
        )
    if depth >= _MAX_NESTING:
        raise _cbor_error(f"nesting deeper than {_MAX_NESTING} at byte {start}", start)
    count = argument * 2 if major == 5 else argument
    # Each item takes at least one byte, so a count beyond the bytes left is refused here,
    # before a loop of up to 2**64 steps could start.
    if count > len(data) - pos:
        raise _truncated(data)
    if major == 4:
        for _ in range(count):
            pos = _skip_item(data, pos, depth + 1)
        return pos
    # cbor2 keeps the last of duplicate keys without a word, so they are caught here; keys
    # equal under a longer head differ in bytes, and the deterministic-encoding check
    # refuses those later.
    keys: set[bytes] = set()
    for _ in range(argument):
        key_start = pos
        pos = _skip_item(data, pos, depth + 1)
        key = data[key_start:pos]
        if key in keys:
            raise _cbor_error(f"duplicate map key at byte {key_start}", key_start)
        keys.add(key)
        pos = _skip_item(data, pos, depth + 1)
    return pos


# --- layout -------------------------------------------------------------------------------


def _header_item(text: str) -> int | str:
    return _HEADER_IDS.get(text, text)


def _known_or_text(item: object, known: tuple[str, ...], ids: dict[str, int], what: str) -> str:
    """A header or claim name: a number into ``known``, or a text that is not in it (one
    token, one encoding: a known text always travels as its number)."""
    if type(item) is int:
        if 0 <= item < len(known):
            return known[item]
        raise _cbor_error(f"unknown {what} {item}")
    if type(item) is str:
        if item in ids:
            raise _cbor_error(f"a known {what} must travel as its number {ids[item]}")
        return item
    raise _cbor_error(f"a {what} must be a number or a text string, got {_kind(item)}")


def _header_text(item: object) -> str:
    return _known_or_text(item, KNOWN_HEADERS, _HEADER_IDS, "header number")


def _json_value(value: object, where: str) -> Any:
    """Check that a nested claim value is a JSON value; byte strings are refused here."""
    # Exact types: cbor2 decodes only these from tag-free input, and bool is not an int here.
    if value is None or type(value) is bool or type(value) is str:
        return value
    if type(value) is int:
        if abs(value) > MAX_SAFE_INTEGER:
            raise _cbor_error(f"{where}: integer beyond 2**53 - 1")
        return value
    if type(value) is float:
        if not math.isfinite(value):
            raise _cbor_error(f"{where}: NaN and infinities are not JSON")
        return value
    if type(value) is list:
        return [_json_value(item, where) for item in value]
    if type(value) is dict:
        members: dict[str, Any] = {}
        for name, item in value.items():
            if type(name) is not str:
                raise _cbor_error(f"{where}: map keys must be text strings, got {_kind(name)}")
            members[name] = _json_value(item, where)
        return members
    raise _cbor_error(f"{where}: a {_kind(value)} is not allowed inside a claim value")


def _claim_name(key: object) -> str:
    return _known_or_text(key, KNOWN_CLAIMS, _CLAIM_KEYS, "claim key")


def _claim_value(name: str, value: object) -> Any:
    if type(value) is bytes:
        return _codec.b64_encode(value)
    if type(value) is str and b64_canonical(value) is not None:
        # One token, one compact encoding: such a string always travels as its bytes.
        raise _cbor_error(f"claim {name!r:.60}: canonical base64 text must travel as bytes")
    return _json_value(value, f"claim {name!r:.60}")


def _payload_text(pairs: object) -> str:
    if type(pairs) is not list:
        raise _cbor_error(f"the claims must be an array, got {_kind(pairs)}")
    if len(pairs) % 2:
        raise _cbor_error("the claims array must hold name, value pairs (odd length)")
    claims: dict[str, Any] = {}
    for index in range(0, len(pairs), 2):
        name = _claim_name(pairs[index])
        if name in claims:
            raise _cbor_error(f"claim {name!r:.60} appears twice")
        claims[name] = _claim_value(name, pairs[index + 1])
    return dumps_compact(claims)


def _token_text(envelope: object) -> str:
    """The token an envelope carries, rebuilt but not yet decoded."""
    if type(envelope) is not list:
        raise _cbor_error(f"the envelope must be an array, got {_kind(envelope)}")
    if not envelope or type(envelope[0]) is not int:
        raise _cbor_error("the envelope must start with its form number")
    form = envelope[0]
    if form not in (FORM_COMPACT, FORM_VERBATIM):
        raise _cbor_error(f"unknown form {form}")
    if len(envelope) != _ENVELOPE_SIZE:
        raise _cbor_error(f"form {form} has {_ENVELOPE_SIZE} elements, got {len(envelope)}")
    _, header_item, body, signature = envelope
    header = _header_text(header_item).encode("utf-8")
    if form == FORM_COMPACT:
        payload = _payload_text(body).encode("ascii")
    elif type(body) is bytes:
        payload = body
    else:
        raise _cbor_error(f"form 1 carries the payload as a byte string, got {_kind(body)}")
    if type(signature) is not bytes or len(signature) != SIGNATURE_SIZE:
        shown = f"{len(signature)} bytes" if type(signature) is bytes else _kind(signature)
        raise _cbor_error(f"the signature must be {SIGNATURE_SIZE} bytes, got {shown}")
    return ".".join(_codec.b64url_encode(part) for part in (header, payload, signature))


def _rebuild(data: bytes) -> str:
    """Every check of from_cbor except the final decode_ejwt; returns the token text."""
    if len(data) > MAX_CBOR_LENGTH:
        raise _cbor_error(f"input is longer than {MAX_CBOR_LENGTH} bytes")
    if not data:
        raise _cbor_error("input is empty", 0)
    end = _skip_item(data, 0, 0)
    if end != len(data):
        raise _cbor_error(f"{len(data) - end} trailing bytes after the envelope at byte {end}", end)
    try:
        envelope = cbor2.loads(data)
    except Exception as exc:  # cbor2's error classes vary by release; all mean bad input here
        raise _cbor_error(f"not decodable: {exc}"[:160]) from None
    token = _token_text(envelope)
    # One value, one encoding: shortest heads and floats, sorted map keys. An envelope that
    # cbor2 would write differently is refused, so encodings can be compared as bytes.
    if _dumps(envelope) != data:
        raise _cbor_error("not in deterministic encoding (shortest form, sorted map keys)")
    return token


def _dumps(value: object) -> bytes:
    return cbor2.dumps(value, canonical=True)  # type: ignore[no-any-return,unused-ignore]


def _compact(decoded: DecodedToken, header: int | str) -> bytes | None:
    """The form 0 envelope of ``decoded``, or None when it would not give back its text."""
    pairs: list[Any] = []
    for name, value in decoded.claims.items():
        pairs.append(_CLAIM_KEYS.get(name, name))
        raw = b64_canonical(value) if type(value) is str else None
        pairs.append(value if raw is None else raw)
    try:
        encoded = _dumps([FORM_COMPACT, header, pairs, decoded.signature])
    except (ValueError, cbor2.CBOREncodeError):
        # A JSON escape can name a lone surrogate, which no CBOR text string can hold.
        return None
    # The proof: the strict decoder must rebuild the very text that was signed. Escapes,
    # number spellings, spacing and member order that compact JSON would write otherwise
    # all show up here as a different text.
    try:
        rebuilt = _rebuild(encoded)
    except HemProtoError:
        return None
    return encoded if rebuilt == decoded.token else None


def to_cbor(token: str | BytesLike) -> bytes:
    """Encode a token that decode_ejwt accepts as a CBOR envelope; no MAC check.

    Form 0 when it provably gives back the exact token text and is no larger than form 1,
    else form 1. Deterministic. Raises what decode_ejwt raises.
    """
    decoded = decode_ejwt(token)
    header_segment, payload_segment, _ = decoded.token.split(".")
    header = _header_item(_codec.b64url_decode(header_segment).decode("utf-8"))
    payload = _codec.b64url_decode(payload_segment)
    verbatim = _dumps([FORM_VERBATIM, header, payload, decoded.signature])
    compact = _compact(decoded, header)
    if compact is not None and len(compact) <= len(verbatim):
        return compact
    return verbatim


def from_cbor(data: BytesLike) -> str:
    """Decode a CBOR envelope back to its token text, which decode_ejwt accepts; no MAC check.

    Raises MalformedToken (``segment="cbor"``, ``offset`` a byte offset into ``data``
    where known) for a faulty envelope, and MalformedToken with decode_ejwt's segment for
    a well-formed envelope carrying a token hemproto refuses. TypeError if not bytes-like.
    """
    # Measured before any copy (as_bytes copies a strided view), so an oversized buffer
    # costs nothing.
    if byte_length(data, "data") > MAX_CBOR_LENGTH:
        raise _cbor_error(f"input is longer than {MAX_CBOR_LENGTH} bytes")
    token = _rebuild(bytes(as_bytes(data, "data")))
    try:
        return decode_ejwt(token).token
    except MalformedToken as exc:
        # The rebuilt text's offsets mean nothing to the caller, who never saw it.
        raise MalformedToken(
            f"CBOR envelope carries a token hemproto refuses: {exc}", segment=exc.segment
        ) from None
