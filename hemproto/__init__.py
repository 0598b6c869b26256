"""hemproto: the Encedo HEM check-in protocol, strict, fast and without I/O.

The public API in one place; each name lives in the module that owns its concern.
"""

from __future__ import annotations

from ._codec import b64_decode, b64_encode, b64url_decode, b64url_encode, codec_backend, ct_equal
from .claims import CHECK_CLAIMS, CheckChallenge, parse_check, sign_check, verify_check
from .errors import (
    BadSignature,
    ClaimError,
    EncodingError,
    HemProtoError,
    InvalidKey,
    KeyAgreementError,
    MalformedToken,
)
from .jws import DEFAULT_HEADER, MAX_TOKEN_LENGTH, DecodedToken, decode_ejwt, sign_ejwt, verify_ejwt
from .x25519 import KeyPair, x25519_keypair, x25519_public, x25519_shared

__version__ = "0.1.0"

__all__ = [
    "CHECK_CLAIMS",
    "DEFAULT_HEADER",
    "MAX_TOKEN_LENGTH",
    "BadSignature",
    "CheckChallenge",
    "ClaimError",
    "DecodedToken",
    "EncodingError",
    "HemProtoError",
    "InvalidKey",
    "KeyAgreementError",
    "KeyPair",
    "MalformedToken",
    "__version__",
    "b64_decode",
    "b64_encode",
    "b64url_decode",
    "b64url_encode",
    "codec_backend",
    "ct_equal",
    "decode_ejwt",
    "parse_check",
    "sign_check",
    "sign_ejwt",
    "verify_check",
    "verify_ejwt",
    "x25519_keypair",
    "x25519_public",
    "x25519_shared",
]
