"""The peer-key constructor KeyPair uses: cryptography's binding when it gives the public
method's keys, the public method otherwise; the same shared secrets and refusals either way."""

from __future__ import annotations

import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

import hemproto
from hemproto import x25519
from hemproto.errors import KeyAgreementError


def test_the_constructor_gives_the_public_methods_keys() -> None:
    load = x25519._public_key_loader()
    for _ in range(20):
        raw = X25519PrivateKey.generate().public_key().public_bytes_raw()
        key = load(raw)
        assert isinstance(key, X25519PublicKey)
        assert key == X25519PublicKey.from_public_bytes(raw)
        assert key.public_bytes_raw() == raw
    with pytest.raises(ValueError):
        load(bytes(31))


def test_without_the_binding_the_public_method_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.bindings._rust", None)
    assert x25519._public_key_loader() == X25519PublicKey.from_public_bytes


def test_a_binding_that_gives_other_keys_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.bindings._rust import openssl as rust_openssl

    other = X25519PrivateKey.generate().public_key()
    monkeypatch.setattr(rust_openssl.x25519, "from_public_bytes", lambda data: other)
    assert x25519._public_key_loader() == X25519PublicKey.from_public_bytes


def test_exchanges_agree_with_both_constructors(monkeypatch: pytest.MonkeyPatch) -> None:
    backend, device = hemproto.KeyPair.generate(), hemproto.KeyPair.generate()
    fast = backend.shared(device.public)
    monkeypatch.setattr(x25519, "_from_public_bytes", X25519PublicKey.from_public_bytes)
    assert backend.shared(device.public) == fast == device.shared(backend.public)
    assert hemproto.x25519_shared(backend.private_bytes(), device.public, provider="nacl") == fast
    with pytest.raises(KeyAgreementError):
        backend.shared(bytes(32))  # small order, refused the same way
