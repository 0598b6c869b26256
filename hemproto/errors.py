"""The exceptions hemproto raises: one root, one subclass per kind of failure.

Every message says what was wrong and where (offset, segment, claim). No message, field
or repr here may carry key material, a shared secret or a MAC key.
"""

from __future__ import annotations

__all__ = [
    "BadSignature",
    "BodyTooLarge",
    "ClaimError",
    "DeviceStopped",
    "EncodingError",
    "HemProtoError",
    "InvalidKey",
    "KeyAgreementError",
    "KeyFileError",
    "MalformedToken",
    "RelayError",
    "RelayNetworkError",
    "ReleaseFileError",
    "ReplayStoreUnavailable",
    "ReplayedNonce",
    "UnknownKey",
]


class HemProtoError(ValueError):
    """Root of every error hemproto raises on bad input."""


class EncodingError(HemProtoError):
    """Base64 or base64url text that is not the canonical encoding.

    ``offset`` is the position of the first bad character (equal to the input length when
    the input ends too early); ``reason`` is one of ``"character"``, ``"length"``,
    ``"padding"`` or ``"trailing-bits"``.
    """

    def __init__(self, message: str, *, offset: int, reason: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.reason = reason


class MalformedToken(HemProtoError):
    """A token that breaks a structural rule of the HEM token family.

    ``segment`` names the part at fault (``"token"``, ``"header"``, ``"payload"``,
    ``"signature"``, or ``"cbor"`` for a CBOR envelope) and ``offset``, when known, the
    character offset within the token (the byte offset within a CBOR envelope).
    """

    def __init__(self, message: str, *, segment: str = "token", offset: int | None = None) -> None:
        super().__init__(message)
        self.segment = segment
        self.offset = offset


class BadSignature(HemProtoError):
    """The token is well formed but its MAC does not match the key."""


class ClaimError(HemProtoError):
    """A claim is missing, of the wrong type or size, or has the wrong value.

    ``claim`` names the claim; ``offset``, when the claim's base64 was at fault, is the
    offset within the claim's text.
    """

    def __init__(self, message: str, *, claim: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.claim = claim
        self.offset = offset


class UnknownKey(ClaimError):
    """A well-formed check addressed (``aud``) to a key the backend does not hold."""

    def __init__(self, message: str) -> None:
        super().__init__(message, claim="aud")


class KeyAgreementError(HemProtoError):
    """X25519 produced no usable secret (a small-order peer key gives all zeros)."""


class InvalidKey(HemProtoError):
    """A key of the wrong type or size was given (X25519 keys and MAC keys are 32 bytes)."""


class KeyFileError(InvalidKey):
    """A key file that cannot be used: missing, unreadable, too open, or not one key.

    ``path`` is the file as given; ``reason`` is one of ``"missing"``, ``"unreadable"``,
    ``"not-a-file"``, ``"permissions"`` (a private key readable by group or others),
    ``"malformed"`` or ``"private-key"`` (a private key file given where a public key
    belongs). The message never shows the file's content.
    """

    def __init__(self, message: str, *, path: str, reason: str) -> None:
        super().__init__(message)
        self.path = path
        self.reason = reason


class ReleaseFileError(HemProtoError):
    """A release registry file that cannot be read or breaks its schema.

    ``path`` is the file; ``index`` the position of the ``[[release]]`` entry at fault
    (0 for the first) and ``field`` the key within it (or the top-level key), each None
    when the fault is not in one entry or key.
    """

    def __init__(
        self, message: str, *, path: str, index: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.index = index
        self.field = field


class ReplayedNonce(HemProtoError):
    """A nonce (jti) that was already answered, or used, within its window."""


class ReplayStoreUnavailable(HemProtoError):
    """The replay store could not record a nonce (fault, timeout): nothing may be answered.

    A backend fails closed on it (HTTP 503): a check whose first use cannot be recorded is
    never answered, so a store outage can delay check-ins but never let one be answered twice.
    """


class RelayError(HemProtoError):
    """A step of the client relay failed.

    ``step`` is ``"get_check"``, ``"post_backend"`` or ``"post_device"``; ``status`` the
    HTTP-style status that step reported, when it reported one.
    """

    def __init__(self, message: str, *, step: str, status: int | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.status = status


class RelayNetworkError(RelayError):
    """A relay step got no answer: the connection failed or broke, timed out, or its TLS
    peer was not trusted. ``status`` is always None.

    ``possibly_delivered`` is False only when no connection was made, so the request
    certainly never left; True means the peer may have received it and acted on it.
    """

    def __init__(self, message: str, *, step: str, possibly_delivered: bool) -> None:
        super().__init__(message, step=step)
        self.possibly_delivered = possibly_delivered


class BodyTooLarge(HemProtoError):
    """A request body over the size limit, refused before any parsing (HTTP 413)."""


class DeviceStopped(HemProtoError):
    """The emulated device was soft-bricked (action ``B``): its web servers no longer serve."""
