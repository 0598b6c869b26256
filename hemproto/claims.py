"""The device's ``check`` challenge: its claims as typed bytes, parsing, verifying, signing.

It owns claim names, sizes and the body envelope ``{"check": token}``; token structure
and MAC rules belong to jws. Parsing never trusts the MAC; only verify_check does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _codec
from ._json import loads_object
from ._pycodec import BytesLike, as_bytes
from .errors import ClaimError, EncodingError, MalformedToken
from .jws import DecodedToken, check_mac, decode_ejwt, sign_ejwt
from .x25519 import KeyPair

__all__ = [
    "CHECK_CLAIMS",
    "MAX_BODY_LENGTH",
    "CheckChallenge",
    "ClaimSpec",
    "parse_check",
    "sign_check",
    "unwrap_body",
    "verify_check",
]

MAX_BODY_LENGTH = 16384


@dataclass(frozen=True, slots=True)
class ClaimSpec:
    """One binary claim: its name, decoded size, whether it may be absent, and meaning."""

    name: str
    size: int
    optional: bool
    meaning: str


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


def unwrap_body(token_or_body: object, member: str) -> str | BytesLike:
    """Return the token from a token, a body dict ``{member: token}`` or its JSON text.

    A body must be an object with exactly that one string member.
    """
    body: object = token_or_body
    if isinstance(token_or_body, (str, bytes, bytearray, memoryview)):
        raw = token_or_body
        first = raw[:1]
        if first not in ("{", b"{"):
            return raw
        if len(raw) > MAX_BODY_LENGTH:
            raise MalformedToken(f"body is longer than {MAX_BODY_LENGTH} bytes")
        text = raw if isinstance(raw, str) else bytes(raw)
        body = loads_object(text, lambda reason: MalformedToken(f"body: {reason}"))
    if not isinstance(body, Mapping):
        raise TypeError(f"expected a token or a body dict, not {type(body).__name__}")
    if set(body) != {member}:
        names = ", ".join(sorted(repr(name) for name in body))[:100]
        raise MalformedToken(f"body must be {{{member!r}: token}}, got members {names or 'none'}")
    token = body[member]
    if not isinstance(token, str):
        raise MalformedToken(f"body member {member!r} must be a string")
    return token


def claim_bytes(claims: Mapping[str, Any], spec: ClaimSpec) -> bytes | None:
    """Decode one canonical standard-base64 claim of exactly ``spec.size`` bytes."""
    value = claims.get(spec.name)
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
    if len(raw) != spec.size:
        raise ClaimError(
            f"claim {spec.name!r} must be {spec.size} bytes, got {len(raw)}", claim=spec.name
        )
    return raw


def _check_size(name: str, value: object, size: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if type(value) is not bytes or len(value) != size:
        raise ClaimError(f"{name} must be {size} bytes", claim=name)


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
        for spec in CHECK_CLAIMS:
            _check_size(spec.name, getattr(self, spec.name), spec.size, spec.optional)
        clash = _CHECK_NAMES.intersection(self.extra)
        if clash:
            raise ClaimError(f"extra claims shadow {sorted(clash)}", claim=min(clash))

    def to_dict(self) -> dict[str, Any]:
        """The claims as they travel: canonical standard base64, device order, extras last."""
        wire: dict[str, Any] = {}
        for spec in CHECK_CLAIMS:
            value = getattr(self, spec.name)
            if value is not None:
                wire[spec.name] = _codec.b64_encode(value)
        wire.update(self.extra)
        return wire

    @classmethod
    def from_decoded(cls, decoded: DecodedToken) -> CheckChallenge:
        """Build from a structurally valid token; raises ClaimError."""
        claims = decoded.claims
        values = {spec.name: claim_bytes(claims, spec) for spec in CHECK_CLAIMS}
        extra = {name: value for name, value in claims.items() if name not in _CHECK_NAMES}
        return cls(**values, token=decoded.token, header=decoded.header, extra=extra)  # type: ignore[arg-type]


def parse_check(token_or_body: object) -> CheckChallenge:
    """Parse a check token or the device's GET body ``{"check": token}``. No MAC check."""
    return CheckChallenge.from_decoded(decode_ejwt(unwrap_body(token_or_body, "check")))


def _key_pair(key: KeyPair | BytesLike) -> KeyPair:
    return key if isinstance(key, KeyPair) else KeyPair(key)


def verify_check(token_or_body: object, backend_private_key: KeyPair | BytesLike) -> CheckChallenge:
    """Parse and verify a check with the backend's private key.

    The key's public half must equal the check's ``aud`` (else ClaimError on ``aud``, before
    any MAC work); the MAC key is X25519(backend private, iss). Pass a KeyPair to skip
    re-deriving the public key on every call.
    """
    pair = _key_pair(backend_private_key)
    decoded = decode_ejwt(unwrap_body(token_or_body, "check"))
    challenge = CheckChallenge.from_decoded(decoded)
    if challenge.aud != pair.public:
        raise ClaimError("check is addressed to another backend key (aud)", claim="aud")
    check_mac(decoded, pair.shared(challenge.iss))
    return challenge


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
