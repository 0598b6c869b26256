"""hemproto: the Encedo HEM check-in protocol, strict, fast and without I/O.

The public API in one place; each name lives in the module that owns its concern.
"""

from __future__ import annotations

from ._codec import active_codec, b64_decode, b64_encode, b64url_decode, b64url_encode, ct_equal
from .backend import Backend, CheckinResult
from .cbor import from_cbor, to_cbor
from .claims import (
    ACTIONS,
    CHECK_CLAIMS,
    CHECKED_CLAIMS,
    MAX_REQUEST_BODY,
    CheckChallenge,
    CheckedReply,
    parse_check,
    parse_checked,
    sign_check,
    sign_checked,
    verify_check,
    verify_checked,
)
from .device import DeviceEmulator
from .errors import (
    BadSignature,
    BodyTooLarge,
    ClaimError,
    DeviceStopped,
    EncodingError,
    HemProtoError,
    InvalidKey,
    KeyAgreementError,
    KeyFileError,
    MalformedToken,
    RelayError,
    RelayNetworkError,
    ReleaseFileError,
    ReplayedNonce,
    ReplayStoreUnavailable,
    UnknownKey,
)
from .jws import DEFAULT_HEADER, MAX_TOKEN_LENGTH, DecodedToken, decode_ejwt, sign_ejwt, verify_ejwt
from .relay import RelayOutcome, relay_checkin, relay_checkin_async
from .releases import Decision, Policy, Release, ReleaseFileWatcher, ReleaseRegistry
from .replay import MemoryReplayStore, ReplayStore, replay_key
from .x25519 import KeyPair, read_public_key, x25519_keypair, x25519_public, x25519_shared

__version__ = "0.1.0"

__all__ = [
    "ACTIONS",
    "CHECKED_CLAIMS",
    "CHECK_CLAIMS",
    "DEFAULT_HEADER",
    "MAX_REQUEST_BODY",
    "MAX_TOKEN_LENGTH",
    "Backend",
    "BadSignature",
    "BodyTooLarge",
    "CheckChallenge",
    "CheckedReply",
    "CheckinResult",
    "ClaimError",
    "Decision",
    "DecodedToken",
    "DeviceEmulator",
    "DeviceStopped",
    "EncodingError",
    "HemProtoError",
    "InvalidKey",
    "KeyAgreementError",
    "KeyFileError",
    "KeyPair",
    "MalformedToken",
    "MemoryReplayStore",
    "Policy",
    "RelayError",
    "RelayNetworkError",
    "RelayOutcome",
    "Release",
    "ReleaseFileError",
    "ReleaseFileWatcher",
    "ReleaseRegistry",
    "ReplayStore",
    "ReplayStoreUnavailable",
    "ReplayedNonce",
    "UnknownKey",
    "__version__",
    "active_codec",
    "b64_decode",
    "b64_encode",
    "b64url_decode",
    "b64url_encode",
    "ct_equal",
    "decode_ejwt",
    "from_cbor",
    "parse_check",
    "parse_checked",
    "read_public_key",
    "relay_checkin",
    "relay_checkin_async",
    "replay_key",
    "sign_check",
    "sign_checked",
    "sign_ejwt",
    "to_cbor",
    "verify_check",
    "verify_checked",
    "verify_ejwt",
    "x25519_keypair",
    "x25519_public",
    "x25519_shared",
]
