"""The statuses both roles answer with, what each means here, and the shape of an answer.

It owns the Response type, ``(status, body)``, and the tables that turn a hemproto error
into the status a backend or a device refuses with. It is data and imports nothing of
hemproto but its errors and the schema's body cap; the HTTP layer (asgi) sends these
statuses and adds only HTTP's own.
"""

from __future__ import annotations

from typing import Final, TypeAlias

from .errors import (
    BadSignature,
    BodyTooLarge,
    ClaimError,
    HemProtoError,
    KeyAgreementError,
    MalformedToken,
    ReplayedNonce,
    ReplayStoreUnavailable,
    UnknownKey,
)
from .schema import MAX_REQUEST_BODY

__all__ = [
    "BACKEND_REFUSALS",
    "BAD_REQUEST",
    "DEVICE_REFUSALS",
    "HTTP_STATUS_MEANINGS",
    "METHOD_NOT_ALLOWED",
    "NOT_FOUND",
    "OK",
    "ROLE_STATUS_MEANINGS",
    "SERVER_ERROR",
    "TOO_LARGE",
    "UNAUTHORIZED",
    "UNAVAILABLE",
    "UNSUPPORTED_MEDIA_TYPE",
    "Refusals",
    "Response",
    "backend_status",
    "device_status",
]

# The statuses a role's handle(body) returns. 200, 400, 401 and 413 are the device's, as
# the vendor describes them (docs/protocol.md, section 1); the backend answers with the
# same words, and 503 is hemproto's (section 2).
OK: Final = 200
BAD_REQUEST: Final = 400
UNAUTHORIZED: Final = 401
TOO_LARGE: Final = 413
UNAVAILABLE: Final = 503

ROLE_STATUS_MEANINGS: Final[dict[int, str]] = {
    OK: 'answered: the backend\'s {"checked": token}, the device\'s {"status": action, ...}',
    BAD_REQUEST: "malformed: not the body, envelope or token structure the role reads",
    UNAUTHORIZED: "well formed but refused: MAC, key, issuer, audience, nonce or replay",
    TOO_LARGE: f"request body over {MAX_REQUEST_BODY} bytes, refused before it is parsed",
    UNAVAILABLE: "backend: replay store unavailable, nothing answered; device: soft-bricked",
}

# Statuses only the HTTP layer sends: no role returns them.
NOT_FOUND: Final = 404
METHOD_NOT_ALLOWED: Final = 405
UNSUPPORTED_MEDIA_TYPE: Final = 415
SERVER_ERROR: Final = 500

HTTP_STATUS_MEANINGS: Final[dict[int, str]] = {
    NOT_FOUND: "no endpoint at this path",
    METHOD_NOT_ALLOWED: "the endpoint takes another method (the Allow header names it)",
    UNSUPPORTED_MEDIA_TYPE: "a backend request that is neither JSON nor CBOR",
    SERVER_ERROR: "an exception escaped the endpoint",
}

# What a role's handle(body) returns: the status and the JSON object to send, or None for
# an empty body (every device refusal; a backend refusal, whose reason goes to logs only).
Response: TypeAlias = tuple[int, "dict[str, str] | None"]

# Error classes and the status they map to, read in order: the first row the error is an
# instance of wins, so a subclass that answers differently comes before its base.
Refusals: TypeAlias = tuple[
    tuple["type[HemProtoError] | tuple[type[HemProtoError], ...]", int], ...
]

# The backend reads a check's claims before it can check the MAC (aud picks the key), so
# a claim fault is a malformed request (400); a check addressed to a key it does not hold
# (UnknownKey, a ClaimError) is well formed and refused (401). Every refusal has a status.
BACKEND_REFUSALS: Final[Refusals] = (
    (BodyTooLarge, TOO_LARGE),
    ((BadSignature, KeyAgreementError, ReplayedNonce, UnknownKey), UNAUTHORIZED),
    (ReplayStoreUnavailable, UNAVAILABLE),
    (HemProtoError, BAD_REQUEST),
)

# The device refuses a reply's claim faults with 401, as the vendor lists "reply invalid":
# a check echoed back carries this boot's MAC and fails first on its missing iat; it is an
# invalid reply, not a malformed request. Nonce, session and expiry refusals (401) and the
# soft-brick (503) are the device's own state, not errors, and never pass through here.
DEVICE_REFUSALS: Final[Refusals] = (
    (BodyTooLarge, TOO_LARGE),
    (MalformedToken, BAD_REQUEST),
    ((ClaimError, BadSignature), UNAUTHORIZED),
)


def _refusal_status(exc: HemProtoError, refusals: Refusals) -> int | None:
    for classes, status in refusals:
        if isinstance(exc, classes):
            return status
    return None


def backend_status(exc: HemProtoError) -> int:
    """The status a backend refuses with for ``exc`` (BACKEND_REFUSALS)."""
    status = _refusal_status(exc, BACKEND_REFUSALS)
    return BAD_REQUEST if status is None else status


def device_status(exc: HemProtoError) -> int | None:
    """The status a device refuses a reply with for ``exc`` (DEVICE_REFUSALS), or None for
    an error the device does not answer (it is raised to the caller instead)."""
    return _refusal_status(exc, DEVICE_REFUSALS)
