"""The backend's short way with a check: the codec's scan read by field name, the check's
MAC key, and the reply signed in the same codec call that checks the check's MAC.

It builds no message object (claims does, and uses these) and does no I/O. Everything it
accepts is already valid: a check that exists, or the codec's scan of one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Protocol

from . import _codec
from .errors import BadSignature, UnknownKey
from .jws import _DEFAULT_HEADER_SEGMENT, MAC_MISMATCH
from .schema import CHECK_SCAN_FIELDS
from .x25519 import KeyPair

__all__ = ["REPLY_HEADER", "answer_check", "check_mac_with", "scanned_fields"]

# The header segment of every reply hemproto signs. Every reply the codec writes with it
# fits in _pycodec.REPLY_MAX_LENGTH characters, under MAX_TOKEN_LENGTH (tested): nothing
# over the cap is ever signed.
REPLY_HEADER = _DEFAULT_HEADER_SEGMENT.encode("ascii")

_NO_KEY = "check is addressed to a key this backend does not hold (aud)"


def scanned_fields(*names: str) -> Callable[[Sequence[bytes]], tuple[bytes, ...]]:
    """A getter of two or more named fields (claims of the check, or "signature") from the
    fields the codec's scan gives, as a tuple in the order named. Their positions come from
    the scan's layout in hemproto.schema, so a claim added there shifts nothing here."""
    if len(names) < 2:
        raise ValueError("name two or more fields")
    return itemgetter(*(CHECK_SCAN_FIELDS.index(name) for name in names))


class _Addressed(Protocol):
    """What check_mac_with reads of a check: the device's session key."""

    @property
    def iss(self) -> bytes: ...


def check_mac_with(
    challenge: _Addressed, pair: KeyPair | None, signing_input: bytes, signature: bytes
) -> bytes:
    """The check's MAC key from ``pair`` (the key its aud names), once the MAC matches it."""
    if pair is None:
        raise UnknownKey(_NO_KEY)
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
        raise UnknownKey(_NO_KEY)
    mac_key = pair._exchange(iss)
    token = _codec.check_answer(
        mac_key,
        signing_input,
        signature,
        REPLY_HEADER,
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
