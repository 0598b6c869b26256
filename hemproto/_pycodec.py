"""Reference codec in Python: strict base64 / base64url and constant-time comparison.

It defines the behaviour the C extension must match exactly (results, refusals, error
offsets). It owns the error wording for both codecs (input coercion is _bytes'); it never
imports C. The module itself is the Python codec: it has every member of _codec_contract.Codec.

Canonical-form rules, checked in this order (the first that fails is reported):
  base64url: every character in ``A-Z a-z 0-9 - _`` (``=`` is refused); length mod 4 is
             never 1; the unused low bits of the last character are zero.
  base64:    ``p`` trailing ``=`` are set apart; every other character in ``A-Z a-z 0-9 + /``;
             ``p <= 2``; total length a multiple of 4; unused low bits of the last data
             character are zero.
Offsets: the bad character's index; for a length error, the input length (input ends early);
for excess padding, the index of the third ``=``; for trailing bits, the last data character.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re

from . import schema
from ._bytes import BytesLike, as_ascii, as_bytes
from .errors import EncodingError

__all__ = [
    "ERR_CHAR",
    "ERR_LENGTH",
    "ERR_PADDING",
    "ERR_TRAILING",
    "b64_canonical",
    "b64_decode",
    "b64_encode",
    "b64url_decode",
    "b64url_encode",
    "check_answer",
    "checked_sign",
    "ct_equal",
    "encoding_error",
    "hs256",
    "hs256_verify",
    "json_scan",
    "name",
    "scan_check",
    "split_token",
]

# The codec's name, as hemproto.active_codec() reports it (this module is the Python codec).
name = "python"

# Return codes shared with csrc/hemcodec.h.
ERR_CHAR = -1
ERR_LENGTH = -2
ERR_PADDING = -3
ERR_TRAILING = -4

_REASONS = {
    ERR_CHAR: "character",
    ERR_LENGTH: "length",
    ERR_PADDING: "padding",
    ERR_TRAILING: "trailing-bits",
}

_URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_STD_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_URL_BAD = re.compile(rb"[^A-Za-z0-9_\-]")
_STD_BAD = re.compile(rb"[^A-Za-z0-9+/]")
_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
_STD_TO_URL = bytes.maketrans(b"+/", b"-_")
_URL_VALUE = {c: i for i, c in enumerate(_URL_ALPHABET)}
_STD_VALUE = {c: i for i, c in enumerate(_STD_ALPHABET)}
# Unused low bits of the last character, by the number of data characters mod 4.
_TRAILING_MASK = {0: 0, 2: 0x0F, 3: 0x03}


def encoding_error(
    code: int, offset: int, source: object, data: BytesLike, alphabet: str
) -> EncodingError:
    """Build the error for refusal ``code`` at ``offset``; ``source`` is what the caller
    passed and ``data`` its coerced bytes (a refused character is not secret material)."""
    reason = _REASONS[code]
    if code == ERR_CHAR:
        shown = repr(source[offset]) if isinstance(source, str) else f"byte 0x{data[offset]:02x}"
        message = f"invalid {alphabet} character {shown} at offset {offset}"
    elif code == ERR_LENGTH:
        message = f"{alphabet} input of length {offset} is truncated (no canonical length)"
    elif code == ERR_PADDING:
        message = f"{alphabet} input has excess '=' padding at offset {offset}"
    else:
        message = f"{alphabet} character at offset {offset} has non-zero unused bits"
    return EncodingError(message, offset=offset, reason=reason)


def _url_check(data: BytesLike) -> tuple[int, int]:
    """Return ``(0, 0)`` for canonical base64url, else ``(code, offset)``."""
    n = len(data)
    bad = _URL_BAD.search(data)
    if bad is not None:
        return ERR_CHAR, bad.start()
    if n % 4 == 1:
        return ERR_LENGTH, n
    if n and _URL_VALUE[data[n - 1]] & _TRAILING_MASK[n % 4]:
        return ERR_TRAILING, n - 1
    return 0, 0


def _std_check(data: BytesLike) -> tuple[int, int]:
    """Return ``(0, 0)`` for canonical padded base64, else ``(code, offset)``."""
    n = len(data)
    pad = 0
    while pad < n and data[n - 1 - pad] == 0x3D:
        pad += 1
    body = n - pad
    bad = _STD_BAD.search(data, 0, body)
    if bad is not None:
        return ERR_CHAR, bad.start()
    if pad > 2:
        return ERR_PADDING, body + 2
    if n % 4:
        return ERR_LENGTH, n
    if body and _STD_VALUE[data[body - 1]] & _TRAILING_MASK[body % 4]:
        return ERR_TRAILING, body - 1
    return 0, 0


def b64url_encode(data: BytesLike) -> str:
    """Encode bytes as base64url without padding."""
    raw = binascii.b2a_base64(as_bytes(data), newline=False)
    return raw.rstrip(b"=").translate(_STD_TO_URL).decode("ascii")


def b64url_decode(text: str | BytesLike) -> bytes:
    """Decode canonical unpadded base64url, or raise EncodingError."""
    data = as_ascii(text)
    code, offset = _url_check(data)
    if code:
        raise encoding_error(code, offset, text, data, "base64url")
    std = bytes(data).translate(_URL_TO_STD)
    return binascii.a2b_base64(std + b"=" * (-len(std) % 4))


def b64_encode(data: BytesLike) -> str:
    """Encode bytes as standard base64 with ``=`` padding."""
    return binascii.b2a_base64(as_bytes(data), newline=False).decode("ascii")


def b64_decode(text: str | BytesLike) -> bytes:
    """Decode canonical padded standard base64, or raise EncodingError."""
    data = as_ascii(text)
    code, offset = _std_check(data)
    if code:
        raise encoding_error(code, offset, text, data, "base64")
    return binascii.a2b_base64(data)


def split_token(text: str) -> tuple[int, int, bytes] | None:
    """Split an ASCII compact token and decode its three base64url segments.

    Returns (offset of the first '.', offset of the second '.', the decoded segments back
    to back), or None when there are not exactly three non-empty canonical segments.
    """
    parts = text.split(".")
    if len(parts) != 3 or not all(parts):
        return None
    try:
        blob = b"".join([b64url_decode(part) for part in parts])
    except EncodingError:
        return None
    return len(parts[0]), len(parts[0]) + 1 + len(parts[1]), blob


def ct_equal(a: BytesLike, b: BytesLike) -> bool:
    """Compare two byte strings in time independent of their contents (not their lengths)."""
    return hmac.compare_digest(as_bytes(a, "a"), as_bytes(b, "b"))


# HMAC-SHA256 (RFC 2104) over hashlib: the key padded to the 64-byte block and XOR-ed with
# ipad / opad by translation tables, as CPython's own hmac module does. The same bytes as
# hmac.digest for any key (tested), without OpenSSL's per-call HMAC set-up.
_IPAD = bytes(value ^ 0x36 for value in range(256))
_OPAD = bytes(value ^ 0x5C for value in range(256))
_BLOCK = 64
_sha256 = hashlib.sha256


def hs256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 of ``message`` under ``key`` (HS256 uses 32-byte keys)."""
    if len(key) > _BLOCK:
        key = _sha256(key).digest()
    block = key.ljust(_BLOCK, b"\0")
    inner = _sha256(block.translate(_IPAD))
    inner.update(message)
    return _sha256(block.translate(_OPAD) + inner.digest()).digest()


def hs256_verify(key: bytes, message: bytes, mac: bytes) -> bool:
    """Whether ``mac`` is hs256(key, message), compared in constant time."""
    return hmac.compare_digest(hs256(key, message), mac)


def json_scan(data: bytes) -> list[int] | None:
    """The Python codec has no JSON scan: _json's strict decoder, the reference, decides."""
    return None


# --- claim values: canonical standard base64, by the standard library's codec --------------


def b64_canonical(text: str | bytes) -> bytes | None:
    """The bytes of canonical padded standard base64 ``text``, or None for any other text.

    The standard library's lenient decoder only guesses; the round trip proves the text is
    exactly what the encoder writes for those bytes, so b64_decode accepts it and gives the
    same bytes. The quick way to a claim's bytes: on None the caller asks b64_decode,
    which explains the refusal.
    """
    try:
        raw = binascii.a2b_base64(text)
    except (binascii.Error, ValueError):  # ValueError: a str with a non-ASCII character
        return None
    encoded = binascii.b2a_base64(raw, newline=False)
    if encoded != (text if type(text) is bytes else text.encode("ascii")):  # type: ignore[union-attr]
        return None
    return raw


# --- the device check's exact shape (mirrors csrc/hemcheck.h) -------------------------------
# Every fact of the shape (claims, sizes, header texts, field layout, longest length) is
# hemproto.schema's; this is the reference scan that reads it.

CHECK_HEADERS = tuple(text.encode("ascii") for text in schema.HEADER_TEXTS)
# The packed result: the index of the header text in its low bits, one bit per optional
# claim present above them (in table order), and the signed length shifted past those.
CHECK_HEADER_MASK = (1 << (len(CHECK_HEADERS) - 1).bit_length()) - 1
CHECK_PRESENT = {
    spec.name: (CHECK_HEADER_MASK + 1) << index
    for index, spec in enumerate(spec for spec in schema.CHECK_CLAIMS if spec.optional)
}
CHECK_HAS_UIS = CHECK_PRESENT["uis"]
CHECK_SIGNED_SHIFT = (CHECK_HEADER_MASK | sum(CHECK_PRESENT.values())).bit_length()


def _claim_pattern(spec: schema.ClaimSpec) -> bytes:
    """'"name":"<base64>"' for one claim of the shape, its base64 in one group: the data
    characters, then exactly the padding its size gives."""
    size = spec.size or 0
    data = schema.b64url_length(size)  # padded base64 carries as many data characters
    padding = b"=" * (schema.b64_length(size) - data)
    return b'"%s":"([A-Za-z0-9+/]{%d}%s)"' % (spec.name.encode("ascii"), data, padding)


def _shape_pattern() -> bytes:
    """The payload of the shape: every claim in table order, commas between, an optional
    claim (with its comma) allowed to be absent. Group i + 1 is claim i."""
    if schema.CHECK_CLAIMS[0].optional:  # its comma would have to follow it instead
        raise ValueError("the check's first claim must not be optional")
    members = []
    for index, spec in enumerate(schema.CHECK_CLAIMS):
        member = (b"," if index else b"") + _claim_pattern(spec)
        members.append(b"(?:%s)?" % member if spec.optional else member)
    return rb"\{" + b"".join(members) + rb"\}"


_CHECK_SHAPE = re.compile(_shape_pattern())
# Per claim: the flag its presence sets (0 for a required one) and the zeros an absent
# optional one reads as, as in the C scan's fields.
_SCAN_CLAIMS = tuple(
    (CHECK_PRESENT.get(spec.name, 0), bytes(spec.size or 0)) for spec in schema.CHECK_CLAIMS
)
_CHECK_MAX_LENGTH = schema.CHECK_MAX_LENGTH
_SCAN_ISS = schema.CHECK_NAMES.index("iss")
_SCAN_AUD = schema.CHECK_NAMES.index("aud")

ScannedCheck = tuple[int, tuple[bytes, ...], bytes]


def scan_check(text: str | bytes) -> ScannedCheck | None:
    """Match a token against the exact shape devices send (csrc/hemcheck.h) and decode it.

    Returns (flags | signed length << CHECK_SIGNED_SHIFT, the fields of
    schema.CHECK_SCAN_LAYOUT, the signed text as bytes), or None for any other token: the
    caller then takes the general path, which accepts the same tokens with the same fields
    and explains every refusal. The token is a str or its bytes (any byte outside the
    shape's alphabet is simply refused).
    """
    if len(text) > _CHECK_MAX_LENGTH:  # no longer text has the shape
        return None
    if type(text) is bytes:
        data = text
    else:
        try:
            data = text.encode("ascii")  # type: ignore[union-attr]
        except UnicodeEncodeError:
            return None
    parts = data.split(b".")
    if len(parts) != 3:
        return None
    try:
        header, payload, signature = (b64url_decode(part) for part in parts)
    except EncodingError:
        return None
    match = _CHECK_SHAPE.fullmatch(payload)
    if header not in CHECK_HEADERS or len(signature) != schema.SIGNATURE_SIZE or match is None:
        return None
    flags = CHECK_HEADERS.index(header)
    values = []
    for group, (present, absent) in zip(match.groups(), _SCAN_CLAIMS, strict=True):
        if group is None:  # an optional claim left out
            values.append(absent)
            continue
        # The pattern fixes the alphabet, length and padding; canonical means the unused
        # low bits are zero too.
        value = b64_canonical(group)
        if value is None:
            return None
        values.append(value)
        flags |= present
    if not schema.parties_differ(values[_SCAN_ISS], values[_SCAN_AUD]):
        return None  # the general path explains the refusal
    signed = len(parts[0]) + 1 + len(parts[1])
    return flags | signed << CHECK_SIGNED_SHIFT, (*values, signature), data[:signed]


# --- the backend's reply, written whole (mirrors csrc/hemreply.h) ---------------------------

# The reply's rules as hemproto.schema gives them (tests compare the C library's to these).
REPLY_ACTIONS = schema.ACTIONS
REPLY_MAX_IAT = schema.MAX_IAT

_REPLY_CLAIMS = {spec.name: spec for spec in schema.CHECKED_CLAIMS}
REPLY_MAX_CRT = _REPLY_CLAIMS["crt"].max_size or 0  # bytes of DER certificate
REPLY_MAX_HEADER = 256  # characters of the header segment
# The longest token valid fields make: every claim, the largest iat, certificate and header.
REPLY_MAX_LENGTH = (
    REPLY_MAX_HEADER
    + 1
    + schema.b64url_length(schema.longest_payload(schema.CHECKED_CLAIMS))
    + 1
    + schema.b64url_length(schema.SIGNATURE_SIZE)
)
_KEY_SIZE = schema.KEY_SIZE
_JTI_SIZE, _ISS_SIZE, _AUD_SIZE, _NEWFWS_SIZE, _NEWUIS_SIZE = (
    _REPLY_CLAIMS[name].size for name in ("jti", "iss", "aud", "newfws", "newuis")
)
_ACTIONS = schema.ACTIONS
_MAX_IAT = schema.MAX_IAT
_parties_differ = schema.parties_differ


def _reply_fields_valid(
    key: object,
    header: object,
    jti: object,
    iss: object,
    aud: object,
    iat: object,
    act: object,
    crt: object,
    newfws: object,
    newuis: object,
) -> bool:
    """Whether checked_sign signs these fields: the types and sizes the C wrapper checks
    before its call, then the rules csrc/hemreply.h checks."""
    return (
        type(key) is bytes
        and len(key) == _KEY_SIZE
        and type(jti) is bytes
        and len(jti) == _JTI_SIZE
        and type(iss) is bytes
        and len(iss) == _ISS_SIZE
        and type(aud) is bytes
        and len(aud) == _AUD_SIZE
        and type(iat) is int
        and type(act) is str
        and (crt is None or type(crt) is bytes)
        and (newfws is None or (type(newfws) is bytes and len(newfws) == _NEWFWS_SIZE))
        and (newuis is None or (type(newuis) is bytes and len(newuis) == _NEWUIS_SIZE))
        and type(header) is bytes
        and _parties_differ(iss, aud)
        and 0 <= iat <= _MAX_IAT
        and act in _ACTIONS
        and (crt is None or 1 <= len(crt) <= REPLY_MAX_CRT)
        and 1 <= len(header) <= REPLY_MAX_HEADER
        and _url_check(header) == (0, 0)
    )


def _b64url_bytes(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_STD_TO_URL).rstrip(b"=")


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
    """The reply token for these fields, MACed with ``key`` (csrc/hemreply.h), or None when
    a field is not what that header allows: the caller then explains the refusal.

    ``header`` is the header segment (base64url). The payload is the compact JSON of jti
    iss aud (standard base64), iat, act, then crt, newfws and newuis when given.
    """
    if type(key) is not bytes or not _reply_fields_valid(
        key, header, jti, iss, aud, iat, act, crt, newfws, newuis
    ):
        return None
    return _write_reply(key, header, jti, iss, aud, iat, act, crt, newfws, newuis)


REPLY_FIELDS_REFUSED = "reply fields outside the rules of csrc/hemreply.h"


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
    """checked_sign behind the check's MAC (csrc/hemreply.h, hem_check_answer): the reply,
    or None when ``signature`` is not hs256(key, signed), compared in constant time.

    ``signed`` is the text the check's MAC covers, ``signature`` its 32 MAC bytes. Fields
    checked_sign would not sign raise ValueError, before the MAC is looked at: a caller
    passes only fields it knows to be valid.
    """
    if (
        type(key) is not bytes
        or type(signed) is not bytes
        or type(signature) is not bytes
        or len(signature) != schema.SIGNATURE_SIZE
        or not _reply_fields_valid(key, header, jti, iss, aud, iat, act, crt, newfws, newuis)
    ):
        raise ValueError(REPLY_FIELDS_REFUSED)
    if not hs256_verify(key, signed, signature):
        return None
    return _write_reply(key, header, jti, iss, aud, iat, act, crt, newfws, newuis)


def _write_reply(
    key: bytes,
    header: bytes,
    jti: bytes,
    iss: bytes,
    aud: bytes,
    iat: int,
    act: str,
    crt: bytes | None,
    newfws: bytes | None,
    newuis: bytes | None,
) -> str:
    encode = binascii.b2a_base64
    payload = b"".join(
        (
            b'{"jti":"',
            encode(jti, newline=False),
            b'","iss":"',
            encode(iss, newline=False),
            b'","aud":"',
            encode(aud, newline=False),
            b'","iat":',
            b"%d" % iat,
            b',"act":"',
            act.encode("ascii"),
            b'"',
            b"" if crt is None else b',"crt":"' + encode(crt, newline=False) + b'"',
            b"" if newfws is None else b',"newfws":"' + encode(newfws, newline=False) + b'"',
            b"" if newuis is None else b',"newuis":"' + encode(newuis, newline=False) + b'"',
            b"}",
        )
    )
    signing_input = header + b"." + _b64url_bytes(payload)
    token = signing_input + b"." + _b64url_bytes(hs256(key, signing_input))
    return token.decode("ascii")
