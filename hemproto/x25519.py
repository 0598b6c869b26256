"""X25519 key agreement for the HEM token family (RFC 7748), over cryptography or PyNaCl.

It checks the type and length of every key before calling a library and refuses an
all-zero shared secret. It never logs, prints or puts key material in a message or repr.
"""

from __future__ import annotations

from typing import Literal

import nacl.bindings
import nacl.exceptions
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ._pycodec import BytesLike, as_bytes
from .errors import InvalidKey, KeyAgreementError

__all__ = ["KEY_SIZE", "KeyPair", "key_bytes", "x25519_keypair", "x25519_public", "x25519_shared"]

KEY_SIZE = 32
Backend = Literal["cryptography", "nacl"]
_ZERO = bytes(KEY_SIZE)
_SMALL_ORDER = "X25519 gave an all-zero shared secret (small-order peer key)"
_from_public_bytes = X25519PublicKey.from_public_bytes


def key_bytes(key: object, what: str) -> bytes:
    """``key`` as 32 bytes, or InvalidKey naming ``what`` (never showing the key)."""
    if type(key) is bytes and len(key) == KEY_SIZE:
        return key
    try:
        raw = bytes(as_bytes(key, what))
    except TypeError as exc:
        raise InvalidKey(str(exc)) from None
    if len(raw) != KEY_SIZE:
        raise InvalidKey(f"{what} must be {KEY_SIZE} bytes, got {len(raw)}")
    return raw


def _checked_secret(secret: bytes) -> bytes:
    # Constant time is not needed: an all-zero result is public (it follows from the peer key).
    if secret == _ZERO:
        raise KeyAgreementError(_SMALL_ORDER)
    return secret


def _nacl_shared(private: bytes, peer_public: bytes) -> bytes:
    try:
        return nacl.bindings.crypto_scalarmult(private, peer_public)
    except nacl.exceptions.RuntimeError:
        # libsodium refuses an all-zero result with a generic error.
        raise KeyAgreementError(_SMALL_ORDER) from None


def x25519_keypair() -> tuple[bytes, bytes]:
    """Generate a fresh key pair: ``(private, public)``, 32 bytes each."""
    pair = KeyPair.generate()
    return pair.private_bytes(), pair.public


def x25519_public(private: BytesLike) -> bytes:
    """Return the public key (u-coordinate) of a 32-byte private key."""
    raw = key_bytes(private, "private key")
    return X25519PrivateKey.from_private_bytes(raw).public_key().public_bytes_raw()


def x25519_shared(
    private: BytesLike, peer_public: BytesLike, *, backend: Backend = "cryptography"
) -> bytes:
    """Return X25519(private, peer_public), the raw 32-byte shared secret.

    ``backend`` is ``"cryptography"`` (OpenSSL) or ``"nacl"`` (libsodium); both give the
    same bytes. A small-order peer key raises KeyAgreementError.
    """
    raw_private = key_bytes(private, "private key")
    raw_peer = key_bytes(peer_public, "peer public key")
    if backend == "cryptography":
        return KeyPair(raw_private)._exchange(raw_peer)
    if backend == "nacl":
        return _checked_secret(_nacl_shared(raw_private, raw_peer))
    raise ValueError(f"unknown X25519 backend {backend!r} (use 'cryptography' or 'nacl')")


class KeyPair:
    """An X25519 private key loaded once, with its public key computed once.

    Reuse one for many exchanges (a backend's key): loading a key and deriving its public
    half cost as much as an exchange. The repr shows the public key only.
    """

    __slots__ = ("_key", "public")

    def __init__(self, private: BytesLike) -> None:
        self._key = X25519PrivateKey.from_private_bytes(key_bytes(private, "private key"))
        self.public: bytes = self._key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> KeyPair:
        """A fresh random key pair."""
        return cls(X25519PrivateKey.generate().private_bytes_raw())

    def private_bytes(self) -> bytes:
        """The raw 32-byte private key (handle with care: it is the secret)."""
        return self._key.private_bytes_raw()

    def shared(self, peer_public: BytesLike) -> bytes:
        """X25519 with ``peer_public``; a small-order peer raises KeyAgreementError."""
        return self._exchange(key_bytes(peer_public, "peer public key"))

    def _exchange(self, peer_public: bytes) -> bytes:
        """shared() for hemproto's own callers, whose peer key is already 32 bytes."""
        peer = _from_public_bytes(peer_public)
        try:
            secret: bytes = self._key.exchange(peer)
        except ValueError:
            # OpenSSL refuses an all-zero result with a generic ValueError.
            raise KeyAgreementError(_SMALL_ORDER) from None
        if secret == _ZERO:
            raise KeyAgreementError(_SMALL_ORDER)
        return secret

    def __repr__(self) -> str:
        return f"KeyPair(public={self.public.hex()})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("KeyPair holds a private key and is not picklable")
