"""The two messages of the check-in: the device's ``check`` and the backend's ``checked``.

It owns claim names, types, sizes and the body envelopes (``{"check": token}``,
``{"checked": token}``); token structure and MAC rules belong to jws. Parsing never trusts
the MAC; only the verify_* functions do. Neither message can pass as the other.
"""

from __future__ import annotations

import binascii
import itertools
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _codec, _pycodec
from ._json import OUTLINE_NAMES, Outline, dumps_compact, loads_object, loads_outline
from ._pycodec import BytesLike, as_bytes, byte_length
from .errors import (
    BadSignature,
    BodyTooLarge,
    ClaimError,
    EncodingError,
    MalformedToken,
    UnknownKey,
)
from .jws import (
    _DEFAULT_HEADER_SEGMENT,
    MAC_MISMATCH,
    DecodedToken,
    check_mac,
    decode_ejwt,
    decode_parts,
    sign_ejwt,
)
from .x25519 import KeyPair

__all__ = [
    "ACTIONS",
    "ACTION_MEANINGS",
    "CHECKED_CLAIMS",
    "CHECK_CLAIMS",
    "MAX_BODY_LENGTH",
    "MAX_CERTIFICATE_SIZE",
    "MAX_EXTRA_CLAIMS",
    "MAX_REQUEST_BODY",
    "CheckChallenge",
    "CheckedReply",
    "ClaimSpec",
    "parse_check",
    "parse_checked",
    "request_object",
    "sign_check",
    "sign_checked",
    "unwrap_body",
    "verify_check",
    "verify_check_with",
    "verify_checked",
]

MAX_BODY_LENGTH = 16384
_a2b_base64 = binascii.a2b_base64
_b2a_base64 = binascii.b2a_base64
# The device refuses JSON request bodies over this many bytes (413), before parsing them;
# hemproto's backend applies the same limit.
MAX_REQUEST_BODY = 7300
# Parsed JSON values other than an object: well-typed bodies refused as malformed.
_JSON_NON_OBJECTS = (list, int, float, type(None))


# A certificate rides base64 inside base64url (16/9 of its size) inside a request body the
# device caps at 7300 bytes; with every other claim present, 3072 bytes still fit (~5.9 KB).
MAX_CERTIFICATE_SIZE = 3072


@dataclass(frozen=True, slots=True)
class ClaimSpec:
    """One binary claim: its name, decoded size, whether it may be absent, and meaning.

    ``size`` is exact; ``max_size`` is set instead for a variable-length claim (1..max).
    """

    name: str
    size: int | None
    optional: bool
    meaning: str
    max_size: int | None = None


CHECK_CLAIMS: tuple[ClaimSpec, ...] = (
    ClaimSpec("jti", 32, False, "nonce chosen by the device"),
    ClaimSpec("iss", 32, False, "device per-boot X25519 session public key"),
    ClaimSpec("qid", 32, False, "device id"),
    ClaimSpec("aud", 32, False, "backend X25519 public key the challenge is addressed to"),
    ClaimSpec("fws", 64, False, "firmware signature (Ed25519, key fwk)"),
    ClaimSpec("bls", 64, False, "bootloader signature (Ed25519, key blk)"),
    ClaimSpec("uis", 32, True, "web dashboard version hash (absent without a dashboard)"),
    ClaimSpec("csn", 16, False, "serial of the device's TLS certificate"),
)
_CHECK_NAMES = frozenset(spec.name for spec in CHECK_CLAIMS)
_CHECK_FIELDS = tuple(spec.name for spec in CHECK_CLAIMS)
_ISS, _AUD = _CHECK_FIELDS.index("iss"), _CHECK_FIELDS.index("aud")
_CHECK_SIZES = tuple((spec, spec.name, spec.size) for spec in CHECK_CLAIMS)
_new_object = object.__new__
_set_field = object.__setattr__


def unwrap_body(token_or_body: object, member: str) -> str | BytesLike:
    """Return the token from a token, a body dict ``{member: token}`` or its JSON text.

    A body must be an object with exactly that one string member. A body text is refused by
    its length before it is copied or parsed; a token is left to jws, which does the same.
    """
    if type(token_or_body) is str and token_or_body[:1] != "{":  # the common case, first
        return token_or_body
    body: object = token_or_body
    if isinstance(token_or_body, (str, bytes, bytearray, memoryview)):
        raw = token_or_body
        first = raw[:1]
        if first not in ("{", b"{"):
            return raw
        # Characters for a text, as ever (a text is parsed as it is, never encoded).
        size = len(raw) if isinstance(raw, str) else byte_length(raw)
        if size > MAX_BODY_LENGTH:
            raise MalformedToken(f"body is longer than {MAX_BODY_LENGTH} bytes")
        text = raw if isinstance(raw, str) else bytes(raw)
        # Read as an outline: a body of any other shape is refused without being built.
        outline = loads_outline(text, lambda reason: MalformedToken(f"body: {reason}"))
        return _sole_token(outline, member)
    if not isinstance(body, Mapping):
        raise TypeError(f"expected a token or a body dict, not {type(body).__name__}")
    if len(body) != 1 or member not in body:
        raise _not_the_body(member, len(body), body)
    token = body[member]
    if not isinstance(token, str):
        raise MalformedToken(f"body member {member!r} must be a string")
    return token


def _sole_token(outline: Outline, member: str) -> str:
    """unwrap_body's rule for a body read as an outline: the decision and the message it
    gives the dict the body would have built."""
    if outline.members != 1 or outline.names != (member,):
        raise _not_the_body(member, outline.members, outline.names)
    if outline.sole_string is None:
        raise MalformedToken(f"body member {member!r} must be a string")
    return outline.sole_string


# The members of a refused body are named up to this many (as many as an outline names); a
# larger body is described by its size, since sorting or copying every name of a huge dict
# only to show 100 characters of them would cost what a refusal must not.
_NAMED_MEMBERS = OUTLINE_NAMES
_SHOWN_NAME = 100  # characters of the names shown in all, so of any one name


def _not_the_body(member: str, count: int, names: Iterable[Any] | None) -> MalformedToken:
    """The refusal of a body of ``count`` members other than ``{member: token}``; ``names``
    may be None past _NAMED_MEMBERS."""
    if count > _NAMED_MEMBERS or names is None:
        described = f"{count} members"
    else:
        cut = (name[:_SHOWN_NAME] if isinstance(name, str) else name for name in names)
        shown = ", ".join(sorted(repr(name) for name in cut))[:_SHOWN_NAME]
        described = f"members {shown or 'none'}"
    return MalformedToken(f"body must be {{{member!r}: token}}, got {described}")


def request_object(
    body: object, limit: int = MAX_REQUEST_BODY, *, member: str | None = None
) -> Mapping[str, Any]:
    """A request body, raw (str or bytes) or already parsed, as one JSON object.

    Its size is checked before anything in proportion to it is copied, encoded, serialised
    or parsed (raw text in UTF-8 bytes; a parsed value as the compact JSON that would carry
    it): BodyTooLarge past ``limit``, MalformedToken for anything that is not one strict
    JSON object, TypeError for a non-JSON Python value.

    With ``member`` the body must be exactly ``{member: <string>}``, and anything else is
    refused as unwrap_body refuses it, with its message. A raw body is then read as an
    outline (the C codec builds nothing of a body it refuses) and ``{member: token}`` is
    returned; without ``member`` a raw body is parsed whole, under the JSON value cap.
    """
    if isinstance(body, str):
        if len(body) > limit:  # a character is at least one UTF-8 byte: over already
            raise _text_too_large(body, limit)
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no HTTP body carries it
            raise MalformedToken("request body is not valid Unicode text") from None
    elif isinstance(body, (bytes, bytearray, memoryview)):
        size = byte_length(body)
        if size > limit:
            raise _too_large(size, limit)
        raw = bytes(body)
    elif isinstance(body, (Mapping, *_JSON_NON_OBJECTS)):
        parsed = _parsed_object(body, limit)
        if member is not None:
            unwrap_body(parsed, member)
        return parsed
    else:
        raise TypeError(f"body must be a JSON value, str or bytes, not {type(body).__name__}")
    if len(raw) > limit:
        raise _too_large(len(raw), limit)
    if member is not None:
        outline = loads_outline(raw, lambda reason: MalformedToken(f"request body: {reason}"))
        return {member: _sole_token(outline, member)}
    return loads_object(raw, lambda reason: MalformedToken(f"request body: {reason}"))


def _too_large(size: int, limit: int, *, exact: bool = True) -> BodyTooLarge:
    return BodyTooLarge(
        f"request body of {'' if exact else 'at least '}{size} bytes is over {limit}"
    )


def _exact_size_bound(limit: int) -> int:
    """Up to what size a body over ``limit`` is still measured exactly, for the message:
    learning it costs work in proportion to that size, so beyond it a body is only said
    to be at least so large."""
    return 2 * max(limit, MAX_REQUEST_BODY)


def _text_too_large(text: str, limit: int) -> BodyTooLarge:
    if text.isascii():  # one byte a character, known without looking
        return _too_large(len(text), limit)
    if len(text) <= _exact_size_bound(limit):
        return _too_large(len(text.encode("utf-8", "surrogatepass")), limit)
    return _too_large(len(text), limit, exact=False)


def _parsed_object(body: object, limit: int) -> Mapping[str, Any]:
    """request_object for a parsed value: sized as its compact JSON, without serialising a
    value far over the limit. Within the bound of _exact_size_bound the value is serialised
    as ever, so size, decision and message are exactly those of its compact JSON."""
    bound = _exact_size_bound(limit)
    floor = _json_size_floor(body, bound)
    if floor is not None and floor > bound:
        raise _too_large(floor, limit, exact=False)
    try:
        encoded = dumps_compact(dict(body) if isinstance(body, Mapping) else body)
    except (TypeError, ValueError, RecursionError):
        raise MalformedToken("request body is not JSON") from None
    if len(encoded) > limit:  # ASCII only, so characters are bytes
        raise _too_large(len(encoded), limit)
    if not isinstance(body, Mapping):
        raise MalformedToken(f"request body must be a JSON object, not {type(body).__name__}")
    return body


_END = object()


def _json_size_floor(value: object, stop: int) -> int | None:
    """A lower bound on len(dumps_compact(value)), walked only until it passes ``stop`` (the
    bound so far is returned then); None when dumps_compact refuses the value for its shape:
    it contains itself, or nests deeper than the recursion limit.

    Each value counts the fewest bytes its compact JSON can take (a character or a digit at
    least one, a float three, true and null four) and nothing for a type dumps_compact
    refuses. Every container adds at least two, so the walk ends within ``stop`` steps,
    cycles included, holding one iterator per level it is in.
    """
    deepest = sys.getrecursionlimit()  # dumps_compact counts its nesting against it too
    size = 0
    levels: list[tuple[Iterator[Any], bool, int]] = []
    path: set[int] = set()  # the containers being walked, to tell a cycle from sharing
    item: Any = value
    while True:
        members: Iterator[Any] | None = None
        mapping = False
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, (list, tuple)):
            members = iter(item)
            size += 2 + max(len(item) - 1, 0)  # brackets and commas
        elif isinstance(item, dict) or (item is value and isinstance(item, Mapping)):
            members, mapping = iter(item.items()), True
            size += (1 + 2 * len(item)) if item else 2  # braces, colons and commas
        elif isinstance(item, bool) or item is None:
            size += 4
        elif isinstance(item, int):
            # At least floor(log10(2) * (bits - 1)) + 1 digits, and a sign; never converted.
            size += (item < 0) + max(1, (item.bit_length() - 1) * 3 // 10 + 1)
        elif isinstance(item, float):
            size += 3
        if members is not None:
            if id(item) in path or len(levels) >= deepest:
                return None
            path.add(id(item))
            levels.append((members, mapping, id(item)))
        if size > stop:
            return size
        while levels:
            iterator, in_mapping, container = levels[-1]
            entry: Any = next(iterator, _END)
            if entry is _END:
                levels.pop()
                path.discard(container)
                continue
            if in_mapping:
                name, item = entry
                size += len(name) + 2 if isinstance(name, str) else 2  # a name is quoted
            else:
                item = entry
            break
        else:
            return size


def claim_bytes(claims: Mapping[str, Any], spec: ClaimSpec) -> bytes | None:
    """Decode one canonical standard-base64 claim of exactly ``spec.size`` bytes."""
    value = claims.get(spec.name)
    if type(value) is str:
        # Fast path. The lenient standard-library decoder is only a guess: the round trip
        # proves the text is exactly what the encoder writes for those bytes, i.e. canonical,
        # which is precisely what the strict decoder accepts (and it would give the same
        # bytes). Anything else takes the strict path below, which explains the refusal.
        try:
            raw = _a2b_base64(value)
        except (binascii.Error, ValueError):
            pass
        else:
            size = len(raw)
            if (
                size == spec.size or (spec.size is None and 1 <= size <= (spec.max_size or 0))
            ) and _b2a_base64(raw, newline=False) == value.encode("ascii"):
                return raw
    return _strict_claim_bytes(claims, spec, value)


def _strict_claim_bytes(claims: Mapping[str, Any], spec: ClaimSpec, value: object) -> bytes | None:
    """claim_bytes without its fast path: decides through the strict codec, and explains."""
    if value is None:
        if spec.name in claims:
            raise ClaimError(f"claim {spec.name!r} is null", claim=spec.name)
        if spec.optional:
            return None
        raise ClaimError(f"claim {spec.name!r} is missing", claim=spec.name)
    if type(value) is not str:
        raise ClaimError(
            f"claim {spec.name!r} must be a base64 string, got {type(value).__name__}",
            claim=spec.name,
        )
    try:
        raw = _codec.b64_decode(value)
    except EncodingError as exc:
        message = f"claim {spec.name!r}: {exc}"
        raise ClaimError(message, claim=spec.name, offset=exc.offset) from None
    _check_length(spec, len(raw))
    return raw


def _check_length(spec: ClaimSpec, length: int) -> None:
    if spec.size is not None and length != spec.size:
        raise ClaimError(
            f"claim {spec.name!r} must be {spec.size} bytes, got {length}", claim=spec.name
        )
    if spec.max_size is not None and not 1 <= length <= spec.max_size:
        raise ClaimError(
            f"claim {spec.name!r} must be 1 to {spec.max_size} bytes, got {length}",
            claim=spec.name,
        )


def _check_fields(message: object, specs: tuple[ClaimSpec, ...]) -> None:
    """Validate the binary fields of a message object at construction."""
    for spec in specs:
        value = getattr(message, spec.name)
        if value is None and spec.optional:
            continue
        if type(value) is not bytes:
            raise ClaimError(f"{spec.name} must be bytes", claim=spec.name)
        _check_length(spec, len(value))


# hemproto's model (docs/protocol.md, section 2): a check or a reply carries at most this
# many claims beyond its own. Devices send none; without a bound, a check MACed with a
# session key of the sender's own could carry as many as its length allows, each parsed,
# kept and answered.
MAX_EXTRA_CLAIMS = 16
_NAME_SHOWN = 40  # characters of a claim name an error's ``claim`` carries


def _too_many_extras(message: str, count: int, extra_names: Iterable[str]) -> ClaimError:
    """The refusal of a ``message`` ("check" or "reply") with ``count`` extra claims; the
    error's ``claim`` is the first one past the limit, in token order."""
    first_past = next(itertools.islice(extra_names, MAX_EXTRA_CLAIMS, None), "")
    return ClaimError(
        f"{message} carries {count} claims beyond its own, more than {MAX_EXTRA_CLAIMS}",
        claim=first_past[:_NAME_SHOWN],
    )


def _check_extra(extra: Mapping[str, Any], names: frozenset[str], message: str) -> None:
    if len(extra) > MAX_EXTRA_CLAIMS:
        raise _too_many_extras(message, len(extra), iter(extra))
    clash = names.intersection(extra)
    if clash:
        raise ClaimError(f"extra claims shadow {sorted(clash)}", claim=min(clash))


def _wire(message: object, specs: tuple[ClaimSpec, ...]) -> dict[str, Any]:
    """Binary fields as canonical standard base64, in spec order, absent ones left out."""
    wire: dict[str, Any] = {}
    for spec in specs:
        value = getattr(message, spec.name)
        if value is not None:
            wire[spec.name] = _codec.b64_encode(value)
    return wire


@dataclass(frozen=True, slots=True)
class CheckChallenge:
    """A device's check challenge. Exists only with every claim present and well sized.

    ``token`` is the compact token it came from (or was signed as); ``extra`` holds claims
    hemproto does not know, kept as they were.
    """

    jti: bytes
    iss: bytes
    qid: bytes
    aud: bytes
    fws: bytes
    bls: bytes
    uis: bytes | None
    csn: bytes
    token: str
    header: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_fields(self, CHECK_CLAIMS)
        if self.iss == self.aud:
            raise ClaimError("check issuer equals its audience", claim="iss")
        _check_extra(self.extra, _CHECK_NAMES, "check")

    def to_dict(self) -> dict[str, Any]:
        """The claims as they travel: canonical standard base64, device order, extras last."""
        wire = _wire(self, CHECK_CLAIMS)
        wire.update(self.extra)
        return wire

    @classmethod
    def from_decoded(cls, decoded: DecodedToken) -> CheckChallenge:
        """Build from a structurally valid token; raises ClaimError."""
        return cls._from_parts(decoded.token, decoded.header, decoded.claims)

    @classmethod
    def _from_parts(
        cls, token: str, header: Mapping[str, Any], claims: Mapping[str, Any]
    ) -> CheckChallenge:
        values: list[bytes | None] = []
        for spec, name, size in _CHECK_SIZES:
            # claim_bytes' fast path, inlined for the common case (see there); any doubt goes
            # to the strict path, which decides and explains a refusal.
            value = claims.get(name)
            raw = None
            if type(value) is str:
                try:
                    raw = _a2b_base64(value)
                except (binascii.Error, ValueError):
                    pass
                else:
                    if len(raw) != size or _b2a_base64(raw, newline=False) != value.encode():
                        raw = None
            values.append(raw if raw is not None else _strict_claim_bytes(claims, spec, value))
        # Each field was just validated; build without running every check a second time,
        # keeping the ones that relate fields to each other, in __post_init__'s order.
        if values[_ISS] == values[_AUD]:
            raise ClaimError("check issuer equals its audience", claim="iss")
        present = len(values) - values.count(None)
        # Every known claim present is a key of ``claims``: equal counts mean no extras.
        extra: dict[str, Any] = {}
        if len(claims) != present:
            if len(claims) - present > MAX_EXTRA_CLAIMS:
                extra_names = (name for name in claims if name not in _CHECK_NAMES)
                raise _too_many_extras("check", len(claims) - present, extra_names)
            # A copy less the known names keeps the extras in order without a Python step
            # per member.
            extra = dict(claims)
            for name in _CHECK_NAMES:
                extra.pop(name, None)
        challenge = _new_object(cls)
        for name, value in zip(_CHECK_FIELDS, values, strict=True):
            _set_field(challenge, name, value)
        _set_field(challenge, "token", token)
        _set_field(challenge, "header", header)
        _set_field(challenge, "extra", extra)
        return challenge


# A check in the exact shape devices send is decoded by _codec.scan_check in one step; the
# general path (decode_parts, then CheckChallenge._from_parts) accepts that same token with
# the same fields, so this only saves time.
_SCAN_HEADERS = tuple(json.loads(header) for header in _pycodec.CHECK_HEADERS)
_HAS_UIS, _HEADER_MASK = _pycodec.CHECK_HAS_UIS, _pycodec.CHECK_HEADER_MASK


class _ScannedCheck:
    """CheckChallenge's slots without its frozen ``__setattr__``, to fill in one go.

    _scan_parts fills one and turns it into a CheckChallenge by assigning ``__class__``,
    which CPython allows between classes with the same slots and base: the result is an
    ordinary, frozen CheckChallenge. Every field was validated by the scan, exactly as
    _from_parts validates them. Cheaper than setting eleven frozen slots one by one.
    """

    __slots__ = CheckChallenge.__slots__
    jti: bytes
    iss: bytes
    qid: bytes
    aud: bytes
    fws: bytes
    bls: bytes
    uis: bytes | None
    csn: bytes
    token: str
    header: dict[str, Any]
    extra: dict[str, Any]


def device_check_parts(token: str) -> tuple[CheckChallenge, bytes, bytes] | None:
    """_scan_parts for a check in the device's exact shape; None for any other token (no
    error: the caller then takes the general way, which explains every refusal)."""
    scanned = _codec.scan_check(token)
    if scanned is None:
        return None
    flags, fields, signing_input = scanned
    check = _ScannedCheck()
    (
        check.jti,
        check.iss,
        check.qid,
        check.aud,
        check.fws,
        check.bls,
        uis,
        check.csn,
        signature,
    ) = fields
    check.uis = uis if flags & _HAS_UIS else None
    check.token = token
    check.header = dict(_SCAN_HEADERS[flags & _HEADER_MASK])
    check.extra = {}
    check.__class__ = CheckChallenge  # type: ignore[assignment]
    return check, signing_input, signature  # type: ignore[return-value]


def _scan_parts(token: object) -> tuple[CheckChallenge, bytes, bytes]:
    """(challenge, signing input, signature) of a check token; no MAC check."""
    parts = device_check_parts(token) if type(token) is str else None
    if parts is None:
        text, header, claims, signing_input, signature = decode_parts(token)  # type: ignore[arg-type]
        return CheckChallenge._from_parts(text, dict(header), claims), signing_input, signature
    return parts


def parse_check(token_or_body: object) -> CheckChallenge:
    """Parse a check token or the device's GET body ``{"check": token}``. No MAC check."""
    return _scan_parts(unwrap_body(token_or_body, "check"))[0]


def _key_pair(key: KeyPair | BytesLike) -> KeyPair:
    return key if isinstance(key, KeyPair) else KeyPair(key)


def verify_check(token_or_body: object, backend_private_key: KeyPair | BytesLike) -> CheckChallenge:
    """Parse and verify a check with the backend's private key.

    The key's public half must equal the check's ``aud`` (else UnknownKey, before any
    X25519 or MAC work); the MAC key is X25519(backend private, iss). Pass a KeyPair to skip
    re-deriving the public key on every call.
    """
    pair = _key_pair(backend_private_key)
    challenge, signing_input, signature = _scan_parts(unwrap_body(token_or_body, "check"))
    check_mac_with(
        challenge, pair if challenge.aud == pair.public else None, signing_input, signature
    )
    return challenge


def verify_check_with(
    token_or_body: object, keys: Mapping[bytes, KeyPair]
) -> tuple[CheckChallenge, bytes]:
    """verify_check for a backend holding several keys, by public key: the check's ``aud``
    picks one (UnknownKey when none matches, before any X25519 or MAC work).
    Returns the check and its MAC key, which also keys the reply."""
    token = (
        token_or_body
        if type(token_or_body) is str and token_or_body[:1] != "{"  # unwrap_body's first case
        else unwrap_body(token_or_body, "check")
    )
    challenge, signing_input, signature = _scan_parts(token)
    return challenge, check_mac_with(challenge, keys.get(challenge.aud), signing_input, signature)


def check_mac_with(
    challenge: CheckChallenge, pair: KeyPair | None, signing_input: bytes, signature: bytes
) -> bytes:
    """The check's MAC key from ``pair`` (the key its aud names), once the MAC matches it."""
    if pair is None:
        raise UnknownKey("check is addressed to a key this backend does not hold (aud)")
    mac_key = pair._exchange(challenge.iss)
    if not _codec.hs256_verify(mac_key, signing_input, signature):
        raise BadSignature(MAC_MISMATCH)
    return mac_key


def answer_check(
    pair: KeyPair | None,
    jti: bytes,
    iss: bytes,
    aud: bytes,
    signing_input: bytes,
    signature: bytes,
    iat: int,
    act: str,
    crt: bytes | None,
    newfws: bytes | None,
    newuis: bytes | None,
) -> tuple[bytes, str]:
    """check_mac_with and sign_checked in one step: (MAC key, reply token), for a check
    with these ``jti``, ``iss`` and ``aud`` (valid: from a check that exists, or from the
    codec's scan of one) and this signing input and signature.

    The reply (jti echoed, iss and aud swapped) is signed in the same codec call that
    checks the check's MAC (csrc/hemreply.h, hem_check_answer), and only once it matches;
    the refusals are check_mac_with's, in its order. The fields must be ones sign_checked
    signs directly (valid, no extra claims): ValueError otherwise. Nothing is recorded: a
    caller that must first record the check keeps the token until then.
    """
    if pair is None:
        raise UnknownKey("check is addressed to a key this backend does not hold (aud)")
    mac_key = pair._exchange(iss)
    token = _codec.check_answer(
        mac_key,
        signing_input,
        signature,
        _REPLY_HEADER,
        jti,
        aud,
        iss,
        iat,
        act,
        crt,
        newfws,
        newuis,
    )
    if token is None:
        raise BadSignature(MAC_MISMATCH)
    return mac_key, token


def sign_check(
    device_key: KeyPair | BytesLike,
    backend_public_key: BytesLike,
    *,
    qid: bytes,
    fws: bytes,
    bls: bytes,
    csn: bytes,
    uis: bytes | None = None,
    jti: bytes | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Make a check token as a device does: iss is the device key, aud the backend key.

    ``jti`` defaults to 32 fresh random bytes.
    """
    pair = _key_pair(device_key)
    challenge = CheckChallenge(
        jti=os.urandom(32) if jti is None else jti,
        iss=pair.public,
        qid=qid,
        aud=bytes(as_bytes(backend_public_key, "backend public key")),
        fws=fws,
        bls=bls,
        uis=uis,
        csn=csn,
        token="",
        extra=dict(extra or {}),
    )
    return sign_ejwt(challenge.to_dict(), pair.shared(challenge.aud))


# --- the backend's reply ---------------------------------------------------------------------

ACTIONS = ("OK", "L", "W", "R", "B", "U")
ACTION_MEANINGS = {
    "OK": "nothing to do",
    "L": "lock: erase the user key",
    "W": "full wipe and reboot",
    "R": "report",
    "B": "soft-brick: stop the web servers",
    "U": "force an upgrade",
}
CHECKED_CLAIMS: tuple[ClaimSpec, ...] = (
    ClaimSpec("jti", 32, False, "the check's nonce, echoed: binds the reply to one challenge"),
    ClaimSpec("iss", 32, False, "backend X25519 public key (the trusted issuer)"),
    ClaimSpec("aud", 32, False, "the check's iss (device session key), echoed"),
    ClaimSpec("crt", None, True, "DER certificate pushed to the device", MAX_CERTIFICATE_SIZE),
    ClaimSpec("newfws", 64, True, "signature of the newer firmware release"),
    ClaimSpec("newuis", 32, True, "hash of the newer dashboard release"),
)
_CHECKED_NAMES = frozenset(spec.name for spec in CHECKED_CLAIMS) | {"iat", "act"}
_MAX_IAT = 2**53 - 1


def _check_iat(value: object) -> int:
    if type(value) is not int:
        raise ClaimError(f"claim 'iat' must be an integer, got {type(value).__name__}", claim="iat")
    if not 0 <= value <= _MAX_IAT:
        raise ClaimError("claim 'iat' must be a non-negative unix time", claim="iat")
    return value


def _check_act(value: object) -> str:
    if type(value) is not str:
        raise ClaimError(f"claim 'act' must be a string, got {type(value).__name__}", claim="act")
    if value not in ACTIONS:
        raise ClaimError(f"claim 'act' must be one of {', '.join(ACTIONS)}", claim="act")
    return value


@dataclass(frozen=True, slots=True)
class CheckedReply:
    """The backend's reply to one check. Exists only with valid, well-sized claims.

    ``iss`` (backend key) and ``aud`` (device session key) always differ, so a check
    echoed back can never pass for a reply.
    """

    jti: bytes
    iss: bytes
    aud: bytes
    iat: int
    act: str
    token: str
    crt: bytes | None = None
    newfws: bytes | None = None
    newuis: bytes | None = None
    header: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_fields(self, CHECKED_CLAIMS)
        _check_iat(self.iat)
        _check_act(self.act)
        if self.iss == self.aud:
            raise ClaimError("reply issuer equals its audience (a reflected token)", claim="iss")
        _check_extra(self.extra, _CHECKED_NAMES, "reply")

    def to_dict(self) -> dict[str, Any]:
        """The claims as they travel: jti iss aud iat act, then the optional ones, extras."""
        wire = _wire(self, CHECKED_CLAIMS[:3])
        wire["iat"] = self.iat
        wire["act"] = self.act
        wire.update(_wire(self, CHECKED_CLAIMS[3:]))
        wire.update(self.extra)
        return wire

    @classmethod
    def from_decoded(cls, decoded: DecodedToken) -> CheckedReply:
        """Build from a structurally valid token; raises ClaimError."""
        claims = decoded.claims
        values: dict[str, Any] = {spec.name: claim_bytes(claims, spec) for spec in CHECKED_CLAIMS}
        for name, check in (("iat", _check_iat), ("act", _check_act)):
            if name not in claims:
                raise ClaimError(f"claim {name!r} is missing", claim=name)
            values[name] = check(claims[name])
        extra = {name: value for name, value in claims.items() if name not in _CHECKED_NAMES}
        return cls(**values, token=decoded.token, header=decoded.header, extra=extra)


def parse_checked(token_or_body: object) -> CheckedReply:
    """Parse a checked token or the backend's body ``{"checked": token}``. No MAC check."""
    return CheckedReply.from_decoded(decode_ejwt(unwrap_body(token_or_body, "checked")))


def verify_checked(
    token_or_body: object,
    key: BytesLike,
    *,
    issuer: BytesLike | None = None,
    audience: BytesLike | None = None,
    jti: BytesLike | None = None,
) -> CheckedReply:
    """Parse and verify a reply with its 32-byte MAC key, X25519(device session, backend).

    The device derives that key from the backend key it trusts, so the MAC already binds
    the issuer; ``issuer``, ``audience`` and ``jti``, when given, must also equal the
    reply's ``iss``, ``aud`` and ``jti`` (ClaimError naming the claim otherwise).
    """
    decoded = decode_ejwt(unwrap_body(token_or_body, "checked"))
    reply = CheckedReply.from_decoded(decoded)
    for name, expected in (("iss", issuer), ("aud", audience), ("jti", jti)):
        if expected is not None and getattr(reply, name) != bytes(as_bytes(expected, name)):
            raise ClaimError(f"reply {name!r} is not the expected value", claim=name)
    check_mac(decoded, key)
    return reply


def sign_checked(
    key: BytesLike,
    *,
    jti: bytes,
    iss: bytes,
    aud: bytes,
    iat: int,
    act: str,
    crt: bytes | None = None,
    newfws: bytes | None = None,
    newuis: bytes | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """Make a checked token as a backend does, MACed with the check's key."""
    if not extra:
        # Valid fields are written whole by the codec (csrc/hemreply.h): the same bytes as
        # the general path below, member for member (tests compare the two), without the
        # message class, a dict, the JSON encoder and the strict parser. It takes exactly
        # the fields CheckedReply accepts, with a 32-byte key; None means anything else.
        token = _codec.checked_sign(
            key, _REPLY_HEADER, jti, iss, aud, iat, act, crt, newfws, newuis
        )
        if token is not None:
            return token
    # Anything else goes through the message class, which explains what is wrong.
    reply = CheckedReply(
        jti=jti,
        iss=iss,
        aud=aud,
        iat=iat,
        act=act,
        token="",
        crt=crt,
        newfws=newfws,
        newuis=newuis,
        extra=dict(extra or {}),
    )
    return sign_ejwt(reply.to_dict(), key)


# Every reply checked_sign writes fits in _pycodec.REPLY_MAX_LENGTH characters, under
# MAX_TOKEN_LENGTH (tested): nothing over the cap is ever signed.
_REPLY_HEADER = _DEFAULT_HEADER_SEGMENT.encode("ascii")
