"""The two messages of the check-in: the device's ``check`` and the backend's ``checked``.

It builds and validates both from hemproto.schema's claim table (which owns every claim's
name, kind and size) and turns tokens into them and back: parse_*, verify_*, sign_*. Token
structure and MAC rules belong to jws, body envelopes to bodies. Parsing never trusts the
MAC; only the verify_* functions do. Neither message can pass as the other.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from . import _codec
from ._bytes import BytesLike, as_bytes
from ._fastpath import REPLY_HEADER, check_mac_with
from ._pycodec import CHECK_HEADER_MASK, CHECK_PRESENT, b64_canonical
from .bodies import MAX_BODY_LENGTH, MAX_REQUEST_BODY, request_object, unwrap_body
from .errors import ClaimError, EncodingError
from .jws import DecodedToken, check_mac, decode_ejwt, decode_parts, sign_ejwt
from .schema import (
    ACTION_MEANINGS,
    ACTIONS,
    CHECK_CLAIMS,
    CHECK_NAMES,
    CHECK_SIZES,
    CHECKED_CLAIMS,
    CHECKED_NAMES,
    HEADER_TEXTS,
    MAX_CERTIFICATE_SIZE,
    MAX_EXTRA_CLAIMS,
    MAX_IAT,
    ClaimSpec,
    require_parties_differ,
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

_CHECK_NAME_SET = frozenset(CHECK_NAMES)
_CHECKED_NAME_SET = frozenset(CHECKED_NAMES)
_ISS, _AUD = CHECK_NAMES.index("iss"), CHECK_NAMES.index("aud")
_NONCE_SIZE = CHECK_SIZES["jti"]


# --- one claim, by its kind in the table -----------------------------------------------------


def claim_bytes(claims: Mapping[str, Any], spec: ClaimSpec) -> bytes | None:
    """Decode one canonical standard-base64 claim of ``spec``'s size (None: absent and
    optional); raises ClaimError saying what is wrong."""
    value = claims.get(spec.name)
    if type(value) is str:
        # The quick way; any doubt goes to the strict path, which decides and explains.
        raw = b64_canonical(value)
        if raw is not None and (
            len(raw) == spec.size or (spec.size is None and 1 <= len(raw) <= (spec.max_size or 0))
        ):
            return raw
    return _strict_claim_bytes(claims, spec, value)


def _strict_claim_bytes(claims: Mapping[str, Any], spec: ClaimSpec, value: object) -> bytes | None:
    """claim_bytes without its quick way: decides through the strict codec, and explains."""
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


def _check_bytes(spec: ClaimSpec, value: object) -> bytes:
    if type(value) is not bytes:
        raise ClaimError(f"{spec.name} must be bytes", claim=spec.name)
    if len(value) != spec.size:  # else of its one size: nothing more to look at
        _check_length(spec, len(value))
    return value


def _check_time(spec: ClaimSpec, value: object) -> int:
    if type(value) is not int:
        raise ClaimError(
            f"claim {spec.name!r} must be an integer, got {type(value).__name__}", claim=spec.name
        )
    if not 0 <= value <= MAX_IAT:
        raise ClaimError(f"claim {spec.name!r} must be a non-negative unix time", claim=spec.name)
    return value


def _check_action(spec: ClaimSpec, value: object) -> str:
    if type(value) is not str:
        raise ClaimError(
            f"claim {spec.name!r} must be a string, got {type(value).__name__}", claim=spec.name
        )
    if value not in ACTIONS:
        raise ClaimError(
            f"claim {spec.name!r} must be one of {', '.join(ACTIONS)}", claim=spec.name
        )
    return value


# A field's value checked at construction, by its claim's kind.
_CHECK_KIND: dict[str, Callable[[ClaimSpec, object], object]] = {
    "bytes": _check_bytes,
    "time": _check_time,
    "action": _check_action,
}


def _claim_checked(claims: Mapping[str, Any], spec: ClaimSpec) -> object:
    """A claim that is not bytes, from a decoded payload (None: absent and optional)."""
    if spec.name not in claims:
        if spec.optional:
            return None
        raise ClaimError(f"claim {spec.name!r} is missing", claim=spec.name)
    return _CHECK_KIND[spec.kind](spec, claims[spec.name])


# Per claim of a table: its name, spec, the check of its field's value and the reading of
# its value from a decoded payload, each chosen by its kind once, here.
_Rules = tuple[
    tuple[
        str,
        ClaimSpec,
        Callable[[ClaimSpec, object], object],
        Callable[[Mapping[str, Any], ClaimSpec], object],
    ],
    ...,
]


def _rules(specs: tuple[ClaimSpec, ...]) -> _Rules:
    return tuple(
        (
            spec.name,
            spec,
            _CHECK_KIND[spec.kind],
            claim_bytes if spec.kind == "bytes" else _claim_checked,
        )
        for spec in specs
    )


def _check_fields(message: object, rules: _Rules) -> None:
    """Validate a message object's claim fields at construction, in table order."""
    for name, spec, check, _ in rules:
        value = getattr(message, name)
        if value is None and spec.optional:
            continue
        check(spec, value)


def _wire(message: object, specs: tuple[ClaimSpec, ...]) -> dict[str, Any]:
    """The claims as they travel, in table order: bytes as canonical standard base64, the
    rest as they are; absent ones left out."""
    wire: dict[str, Any] = {}
    for spec in specs:
        value = getattr(message, spec.name)
        if value is not None:
            wire[spec.name] = _codec.b64_encode(value) if spec.kind == "bytes" else value
    return wire


_CHECK_RULES = _rules(CHECK_CLAIMS)
_CHECKED_RULES = _rules(CHECKED_CLAIMS)
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


def _fields_are(cls: type, names: tuple[str, ...]) -> None:
    """Fail at import unless the message's claim fields are the table's, in its order:
    values in table order fill them by position."""
    claim_fields = tuple(f.name for f in fields(cls) if f.name not in ("token", "header", "extra"))
    if claim_fields != names:
        raise ImportError(f"{cls.__name__} fields {claim_fields} are not the table's {names}")


# --- the device's check ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckChallenge:
    """A device's check challenge. Exists only with every claim present and well sized.

    ``token`` is the compact token it came from (or was signed as); ``extra`` holds claims
    hemproto does not know, kept as they were. The claim fields are schema.CHECK_CLAIMS,
    in its order.
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
        _check_fields(self, _CHECK_RULES)
        require_parties_differ("check", self.iss, self.aud)
        _check_extra(self.extra, _CHECK_NAME_SET, "check")

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
        """Build from a token's parts, validating each claim once, in __post_init__'s order."""
        values = [claim_bytes(claims, spec) for spec in CHECK_CLAIMS]
        require_parties_differ("check", values[_ISS], values[_AUD])
        present = len(values) - values.count(None)
        # Every known claim present is a key of ``claims``: equal counts mean no extras.
        extra: dict[str, Any] = {}
        if len(claims) != present:
            if len(claims) - present > MAX_EXTRA_CLAIMS:
                extra_names = (name for name in claims if name not in _CHECK_NAME_SET)
                raise _too_many_extras("check", len(claims) - present, extra_names)
            # A copy less the known names keeps the extras in order without a Python step
            # per member.
            extra = dict(claims)
            for name in CHECK_NAMES:
                extra.pop(name, None)
        return cls._validated(values, token, header, extra)

    @classmethod
    def _validated(
        cls,
        values: Sequence[bytes | None],
        token: str,
        header: Mapping[str, Any],
        extra: Mapping[str, Any],
    ) -> CheckChallenge:
        """The one way to build a check from fields already validated, skipping
        __post_init__ (as h11 builds an event it parsed itself): ``values`` are the claims
        in schema.CHECK_CLAIMS order, each as __post_init__ would accept it, issuer and
        audience differing, and ``extra`` within its rules. Only _from_parts and
        device_check_parts call it, having validated exactly that.
        """
        # _Unfilled has these slots without the frozen __setattr__: filled in one go, then
        # made a CheckChallenge by assigning __class__ (CPython allows it between classes
        # with the same slots and base), which is cheaper than setting eleven frozen slots.
        check = _Unfilled()
        (
            check.jti,
            check.iss,
            check.qid,
            check.aud,
            check.fws,
            check.bls,
            check.uis,
            check.csn,
        ) = values
        check.token = token
        check.header = header
        check.extra = extra
        try:
            check.__class__ = cls  # type: ignore[assignment]
        except TypeError:  # a subclass that lays its slots out otherwise: the sure way
            return cls(*values, token, header, extra)  # type: ignore[arg-type,call-arg]
        return check  # type: ignore[return-value]


class _Unfilled:
    """CheckChallenge's slots without its frozen ``__setattr__``: CheckChallenge._validated
    uses it, and nothing else may."""

    __slots__ = CheckChallenge.__slots__
    jti: bytes | None
    iss: bytes | None
    qid: bytes | None
    aud: bytes | None
    fws: bytes | None
    bls: bytes | None
    uis: bytes | None
    csn: bytes | None
    token: str
    header: Mapping[str, Any]
    extra: Mapping[str, Any]


_fields_are(CheckChallenge, CHECK_NAMES)


# A check in the exact shape devices send is decoded by _codec.scan_check in one step; the
# general path (decode_parts, then CheckChallenge._from_parts) accepts that same token with
# the same fields, so this only saves time.
_SCAN_HEADERS = tuple(json.loads(text) for text in HEADER_TEXTS)
_SCAN_CLAIMS = len(CHECK_CLAIMS)  # the scan's fields: the claims, then the signature
_ALL_PRESENT = sum(CHECK_PRESENT.values())
_OPTIONAL = tuple((CHECK_NAMES.index(name), flag) for name, flag in CHECK_PRESENT.items())
_validated = CheckChallenge._validated  # bound once: this is the hot path


def device_check_parts(token: str) -> tuple[CheckChallenge, bytes, bytes] | None:
    """_scan_parts for a check in the device's exact shape; None for any other token (no
    error: the caller then takes the general way, which explains every refusal)."""
    scanned = _codec.scan_check(token)
    if scanned is None:
        return None
    flags, scan_fields, signing_input = scanned
    values: Sequence[bytes | None] = scan_fields[:_SCAN_CLAIMS]
    if flags & _ALL_PRESENT != _ALL_PRESENT:  # the scan gives an absent claim as zeros
        listed: list[bytes | None] = list(values)
        for index, flag in _OPTIONAL:
            if not flags & flag:
                listed[index] = None
        values = listed
    check = _validated(values, token, dict(_SCAN_HEADERS[flags & CHECK_HEADER_MASK]), {})
    return check, signing_input, scan_fields[_SCAN_CLAIMS]


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
        jti=os.urandom(_NONCE_SIZE) if jti is None else jti,
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


@dataclass(frozen=True, slots=True)
class CheckedReply:
    """The backend's reply to one check. Exists only with valid, well-sized claims.

    ``iss`` (backend key) and ``aud`` (device session key) always differ, so a check
    echoed back can never pass for a reply. The claim fields are schema.CHECKED_CLAIMS, in
    its order.
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
        _check_fields(self, _CHECKED_RULES)
        require_parties_differ("reply", self.iss, self.aud)
        _check_extra(self.extra, _CHECKED_NAME_SET, "reply")

    def to_dict(self) -> dict[str, Any]:
        """The claims as they travel: jti iss aud iat act, then the optional ones, extras."""
        wire = _wire(self, CHECKED_CLAIMS)
        wire.update(self.extra)
        return wire

    @classmethod
    def from_decoded(cls, decoded: DecodedToken) -> CheckedReply:
        """Build from a structurally valid token; raises ClaimError."""
        claims = decoded.claims
        values = {name: read(claims, spec) for name, spec, _, read in _CHECKED_RULES}
        extra = {name: value for name, value in claims.items() if name not in _CHECKED_NAME_SET}
        return cls(**values, token=decoded.token, header=decoded.header, extra=extra)  # type: ignore[arg-type]


_fields_are(CheckedReply, CHECKED_NAMES)


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
        token = _codec.checked_sign(key, REPLY_HEADER, jti, iss, aud, iat, act, crt, newfws, newuis)
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
