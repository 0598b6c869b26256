"""X25519 key agreement for the HEM token family (RFC 7748), over cryptography or PyNaCl.

It checks the type and length of every key before calling a library and refuses an
all-zero shared secret, and reads the key files ``hemproto keygen`` writes. It never logs,
prints or puts key material in a message or repr.
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Callable
from typing import Literal

import nacl.bindings
import nacl.exceptions
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from . import _codec
from ._bytes import BytesLike, as_bytes, byte_length
from .errors import HemProtoError, InvalidKey, KeyAgreementError, KeyFileError
from .schema import KEY_SIZE, b64_length

__all__ = [
    "KEY_SIZE",
    "KeyPair",
    "key_bytes",
    "read_public_key",
    "x25519_keypair",
    "x25519_public",
    "x25519_shared",
]

Provider = Literal["cryptography", "nacl"]
_ZERO = bytes(KEY_SIZE)
_SMALL_ORDER = "X25519 gave an all-zero shared secret (small-order peer key)"


def _public_key_loader() -> Callable[[bytes], X25519PublicKey]:
    """X25519PublicKey.from_public_bytes, or the binding's constructor it ends in.

    The public method imports a module and asks OpenSSL whether it has X25519 on every call,
    which costs as much as the rest of a backend's work on a check besides the exchange. The
    answer cannot change within a process: it is asked once, here, and the constructor is
    used directly when the binding has it and it gives back a probe key; with any other
    version of cryptography the public method is.
    """
    public = X25519PublicKey.from_public_bytes
    try:
        from cryptography.hazmat.bindings._rust import openssl as rust_openssl

        constructor: Callable[[bytes], X25519PublicKey] = rust_openssl.x25519.from_public_bytes
        probe = X25519PrivateKey.generate().public_key()  # made without either of the two
        key = constructor(probe.public_bytes_raw())
    except Exception:  # an internal layout this version of cryptography does not have
        return public
    # The probe also showed that OpenSSL has X25519, all the public method checks first.
    return constructor if isinstance(key, X25519PublicKey) and key == probe else public


_from_public_bytes = _public_key_loader()
# A key file holds 44 characters and a newline; anything much longer is not one.
_MAX_KEY_FILE_SIZE = 1024
_KEY_TEXT_LENGTH = b64_length(KEY_SIZE)
_FORMAT = f"one {KEY_SIZE}-byte key in standard base64, as hemproto keygen writes"


def key_bytes(key: object, what: str) -> bytes:
    """``key`` as 32 bytes, or InvalidKey naming ``what`` (never showing the key)."""
    if type(key) is bytes and len(key) == KEY_SIZE:
        return key
    try:
        size = byte_length(key, what)  # before any copy: a huge buffer is refused as it is
    except TypeError as exc:
        raise InvalidKey(str(exc)) from None
    if size != KEY_SIZE:
        raise InvalidKey(f"{what} must be {KEY_SIZE} bytes, got {size}")
    return bytes(as_bytes(key, what))


def _read_key_file(path: str | os.PathLike[str], *, private: bool) -> bytes:
    """The 32 bytes of a key file (base64 on one line); KeyFileError without its content."""
    name = os.fspath(path)
    what = "private key file" if private else "public key file"
    # Non-blocking, so that a FIFO given by mistake is refused rather than waited on.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(name, flags)
    except FileNotFoundError:
        raise KeyFileError(f"{what} {name!r} does not exist", path=name, reason="missing") from None
    except OSError as exc:
        raise KeyFileError(
            f"cannot read {what} {name!r}: {exc.strerror or type(exc).__name__}",
            path=name,
            reason="unreadable",
        ) from None
    try:
        # fstat of the open file, not stat of the name: what is checked is what is read.
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(
                f"{what} {name!r} is not a regular file", path=name, reason="not-a-file"
            )
        mode = stat.S_IMODE(info.st_mode)
        if private and os.name == "posix" and mode & 0o077:
            # As ssh does: a secret others can read may already be theirs, so refuse it
            # rather than use it and leave the file open.
            raise KeyFileError(
                f"permissions {mode:04o} for private key file {name!r} are too open (group or "
                f"others can read it); run: chmod 600 {shlex.quote(name)}",
                path=name,
                reason="permissions",
            )
    except BaseException:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as handle:
        try:
            data = handle.read(_MAX_KEY_FILE_SIZE + 1)
        except OSError as exc:
            raise KeyFileError(
                f"cannot read {what} {name!r}: {exc.strerror or type(exc).__name__}",
                path=name,
                reason="unreadable",
            ) from None
    malformed = KeyFileError(f"{what} {name!r} must hold {_FORMAT}", path=name, reason="malformed")
    if len(data) > _MAX_KEY_FILE_SIZE:
        raise malformed
    try:
        raw = _codec.b64_decode(data.strip())
    except (HemProtoError, TypeError):
        raise malformed from None
    if len(raw) != KEY_SIZE:
        raise malformed
    return raw


def read_public_key(path_or_base64: str | os.PathLike[str]) -> bytes:
    """A 32-byte X25519 public key from a file or from its base64 text.

    A string that is the standard base64 of 32 bytes (44 characters, as ``hemproto keygen``
    prints it) is the key itself; anything else is the path of a file holding it, as
    keygen writes ``NAME.pub``. A file with ``NAME.pub`` beside it is taken for the private
    half and refused. Raises KeyFileError.
    """
    if isinstance(path_or_base64, str):
        text = path_or_base64.strip()
        if len(text) == _KEY_TEXT_LENGTH:
            try:
                return key_bytes(_codec.b64_decode(text), "public key")
            except HemProtoError:
                pass  # not a key: try it as a file name
    name = os.fspath(path_or_base64)
    if not isinstance(name, str):
        raise TypeError("read_public_key takes a str or a path, not bytes")
    if os.path.isfile(name + ".pub"):
        raise KeyFileError(
            f"{name!r} looks like a private key file ({name + '.pub'!r} is beside it); "
            f"pass {name + '.pub'!r}",
            path=name,
            reason="private-key",
        )
    try:
        return _read_key_file(name, private=False)
    except KeyFileError as exc:
        if exc.reason == "missing" and isinstance(path_or_base64, str):
            raise KeyFileError(
                f"{name!r} is neither a public key file nor a 32-byte key in standard base64",
                path=name,
                reason="missing",
            ) from None
        raise


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
    private: BytesLike, peer_public: BytesLike, *, provider: Provider = "cryptography"
) -> bytes:
    """Return X25519(private, peer_public), the raw 32-byte shared secret.

    ``provider`` is ``"cryptography"`` (OpenSSL) or ``"nacl"`` (libsodium); both give the
    same bytes. A small-order peer key raises KeyAgreementError.
    """
    raw_private = key_bytes(private, "private key")
    raw_peer = key_bytes(peer_public, "peer public key")
    if provider == "cryptography":
        return KeyPair(raw_private)._exchange(raw_peer)
    if provider == "nacl":
        return _checked_secret(_nacl_shared(raw_private, raw_peer))
    raise ValueError(f"unknown X25519 provider {provider!r} (use 'cryptography' or 'nacl')")


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
    def from_file(cls, path: str | os.PathLike[str]) -> KeyPair:
        """Load a private key file as ``hemproto keygen`` writes it: the key in standard
        base64 on one line.

        On POSIX a file that group or others may read (mode & 0o077) is refused, as ssh
        refuses such a key: fix it with ``chmod 600 FILE``. A missing, unreadable or
        malformed file raises KeyFileError (an InvalidKey) naming the path and never
        showing what the file holds.
        """
        return cls(_read_key_file(path, private=True))

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
