"""The shape of both messages, defined once: every claim of the check and of the reply
(name, kind, size, optionality, meaning, CBOR number), the two header texts, the actions
and the limits. Whatever else knows a claim's name, size or order derives it from here.

It is data and the rules that read it, and imports nothing of hemproto but its errors, so
every layer may import it, the Python codec included. The C scan's shape,
csrc/hemshape.h, is generated from it (``python csrc/gen_shape.py``); tests hold the C
values to these.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Literal

from .errors import ClaimError

__all__ = [
    "ACTIONS",
    "ACTION_MEANINGS",
    "CBOR_CLAIM_NUMBERS",
    "CHECKED_CLAIMS",
    "CHECKED_NAMES",
    "CHECKED_SIZES",
    "CHECK_CLAIMS",
    "CHECK_MAX_LENGTH",
    "CHECK_NAMES",
    "CHECK_SCAN_FIELDS",
    "CHECK_SCAN_LAYOUT",
    "CHECK_SIZES",
    "DEFAULT_HEADER",
    "HEADER_TEXTS",
    "HEADER_VALUES",
    "KEY_SIZE",
    "MAX_CERTIFICATE_SIZE",
    "MAX_EXTRA_CLAIMS",
    "MAX_IAT",
    "MAX_REQUEST_BODY",
    "REQUIRED_HEADER",
    "SIGNATURE_SIZE",
    "ClaimKind",
    "ClaimSpec",
    "MessageName",
    "b64_length",
    "b64url_length",
    "longest_payload",
    "parties_differ",
    "require_parties_differ",
]

# An X25519 public key, a shared secret (the MAC key) and a nonce are 32 bytes; so is the
# HS256 MAC a token carries as its signature.
KEY_SIZE = 32
SIGNATURE_SIZE = 32

# The device refuses JSON request bodies over this many bytes (413), before parsing them;
# hemproto's backend applies the same limit (hemproto.bodies).
MAX_REQUEST_BODY = 7300

# A certificate rides base64 inside base64url (16/9 of its size) inside a request body the
# device caps at MAX_REQUEST_BODY; with every other claim present, 3072 bytes still fit
# (~5.9 KB).
MAX_CERTIFICATE_SIZE = 3072

# hemproto's model (docs/protocol.md, section 2): a check or a reply carries at most this
# many claims beyond its own. Devices send none; without a bound, a check MACed with a
# session key of the sender's own could carry as many as its length allows, each parsed,
# kept and answered.
MAX_EXTRA_CLAIMS = 16

# The largest iat a reply carries: every JSON reader holds an integer up to 2**53 - 1 exactly.
MAX_IAT = 2**53 - 1

# What a reply may order, and what each order makes the device do.
ACTION_MEANINGS = {
    "OK": "nothing to do",
    "L": "lock: erase the user key",
    "W": "full wipe and reboot",
    "R": "report",
    "B": "soft-brick: stop the web servers",
    "U": "force an upgrade",
}
ACTIONS = tuple(ACTION_MEANINGS)

# "bytes": canonical padded standard base64 of ``size`` bytes (or 1..max_size); "time": an
# integer unix time, 0..MAX_IAT; "action": one of ACTIONS.
ClaimKind = Literal["bytes", "time", "action"]


@dataclass(frozen=True, slots=True)
class ClaimSpec:
    """One claim: its name, decoded size, whether it may be absent, and meaning.

    ``size`` is exact; ``max_size`` is set instead for a variable-length claim (1..max).
    Both are None for a claim that is not bytes (``kind``). ``cbor`` is the integer key
    the claim's name travels as in a CBOR envelope: given once, never reused.
    """

    name: str
    size: int | None
    optional: bool
    meaning: str
    max_size: int | None = None
    kind: ClaimKind = "bytes"
    cbor: int = field(default=-1, kw_only=True)


# The check, in the order devices write its claims.
CHECK_CLAIMS: tuple[ClaimSpec, ...] = (
    ClaimSpec("jti", 32, False, "nonce chosen by the device", cbor=0),
    ClaimSpec("iss", 32, False, "device per-boot X25519 session public key", cbor=1),
    ClaimSpec("qid", 32, False, "device id", cbor=2),
    ClaimSpec("aud", 32, False, "backend X25519 public key the challenge is addressed to", cbor=3),
    ClaimSpec("fws", 64, False, "firmware signature (Ed25519, key fwk)", cbor=4),
    ClaimSpec("bls", 64, False, "bootloader signature (Ed25519, key blk)", cbor=5),
    ClaimSpec("uis", 32, True, "web dashboard version hash (absent without a dashboard)", cbor=6),
    ClaimSpec("csn", 16, False, "serial of the device's TLS certificate", cbor=7),
)

# The reply, in the order the backend writes its claims.
CHECKED_CLAIMS: tuple[ClaimSpec, ...] = (
    ClaimSpec(
        "jti", 32, False, "the check's nonce, echoed: binds the reply to one challenge", cbor=0
    ),
    ClaimSpec("iss", 32, False, "backend X25519 public key (the trusted issuer)", cbor=1),
    ClaimSpec("aud", 32, False, "the check's iss (device session key), echoed", cbor=3),
    ClaimSpec("iat", None, False, "trusted unix time for the device's RTC", kind="time", cbor=8),
    ClaimSpec("act", None, False, "action the device is to run", kind="action", cbor=9),
    ClaimSpec(
        "crt", None, True, "DER certificate pushed to the device", MAX_CERTIFICATE_SIZE, cbor=10
    ),
    ClaimSpec("newfws", 64, True, "signature of the newer firmware release", cbor=11),
    ClaimSpec("newuis", 32, True, "hash of the newer dashboard release", cbor=12),
)

CHECK_NAMES = tuple(spec.name for spec in CHECK_CLAIMS)
CHECKED_NAMES = tuple(spec.name for spec in CHECKED_CLAIMS)
# The exact size in bytes of each claim that has one, by name: every claim of the check,
# and the reply's jti, iss, aud, newfws and newuis. The one place a claim's size is read by
# name; crt, which has only a maximum, is not here.
CHECK_SIZES: dict[str, int] = {s.name: s.size for s in CHECK_CLAIMS if s.size is not None}
CHECKED_SIZES: dict[str, int] = {s.name: s.size for s in CHECKED_CLAIMS if s.size is not None}


def _cbor_claim_numbers() -> dict[str, int]:
    """Each claim name's CBOR number over both messages: a name shared by both keeps one
    number, and the numbers are 0..n-1, each given to one name (an envelope's key is an
    index)."""
    numbers: dict[str, int] = {}
    for spec in (*CHECK_CLAIMS, *CHECKED_CLAIMS):
        if numbers.setdefault(spec.name, spec.cbor) != spec.cbor:
            raise ValueError(f"claim {spec.name!r} has two CBOR numbers")
    if sorted(numbers.values()) != list(range(len(numbers))):
        raise ValueError("CBOR claim numbers must be 0..n-1, each given once")
    return numbers


CBOR_CLAIM_NUMBERS = _cbor_claim_numbers()

# Each message names its two ends: ``iss`` the sender's key, ``aud`` the receiver's. They
# always differ, so a token can never be sent back to its sender as if from the other end.
MessageName = Literal["check", "reply"]
_SAME_PARTIES = {
    "check": "check issuer equals its audience",
    "reply": "reply issuer equals its audience (a reflected token)",
}


def parties_differ(iss: object, aud: object) -> bool:
    """Whether a message's issuer and audience differ, as both messages require."""
    return iss != aud


def require_parties_differ(message: MessageName, iss: object, aud: object) -> None:
    """Raise ClaimError (claim ``iss``) unless ``message``'s issuer and audience differ."""
    if not parties_differ(iss, aud):
        raise ClaimError(_SAME_PARTIES[message], claim="iss")


# The two header texts of the token family, byte for byte: index 0 the device's order
# (the check's), index 1 the login token's. A header may hold only these members, each
# with this one value, and must hold REQUIRED_HEADER.
HEADER_TEXTS: tuple[str, ...] = (
    '{"ecdh":"x25519","typ":"JWT","alg":"HS256"}',
    '{"ecdh":"x25519","alg":"HS256","typ":"JWT"}',
)
DEFAULT_HEADER: dict[str, str] = json.loads(HEADER_TEXTS[0])
HEADER_VALUES: dict[str, str] = dict(DEFAULT_HEADER)
REQUIRED_HEADER = ("alg", "ecdh")

# The fields of a check in the device's exact shape as the scan gives them (csrc/hemcheck.h),
# back to back: every claim of CHECK_CLAIMS in order (an absent optional one as zeros),
# then the signature. CHECK_SCAN_FIELDS names them, in that order.
CHECK_SCAN_LAYOUT = struct.Struct(
    "".join(f"{spec.size}s" for spec in CHECK_CLAIMS) + f"{SIGNATURE_SIZE}s"
)
CHECK_SCAN_FIELDS = (*CHECK_NAMES, "signature")


def b64_length(size: int) -> int:
    """Characters of the padded standard base64 of ``size`` bytes."""
    return (size + 2) // 3 * 4


def b64url_length(size: int) -> int:
    """Characters of the unpadded base64url of ``size`` bytes."""
    return (size * 4 + 2) // 3


def longest_payload(claims: tuple[ClaimSpec, ...]) -> int:
    """Characters of the compact JSON payload of ``claims`` with every claim present at its
    longest: braces, commas between members, and per claim '"name":' and its value (padded
    base64 in quotes, the largest time's digits, or the longest action in quotes)."""
    values = 0
    for spec in claims:
        if spec.kind == "time":
            values += len(str(MAX_IAT))
        elif spec.kind == "action":
            values += 2 + max(len(action) for action in ACTIONS)
        else:
            values += 2 + b64_length(spec.size or spec.max_size or 0)
    return 2 + sum(len(spec.name) + 3 for spec in claims) + values + len(claims) - 1


# The longest check in the device's shape: the longer header, every claim present, and the
# signature; no longer text can have the shape, so a scanner refuses one by its length.
CHECK_MAX_LENGTH = (
    b64url_length(max(len(text) for text in HEADER_TEXTS))
    + 1
    + b64url_length(longest_payload(CHECK_CLAIMS))
    + 1
    + b64url_length(SIGNATURE_SIZE)
)
