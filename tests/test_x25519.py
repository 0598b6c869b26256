"""X25519 over both libraries: the RFC 7748 vectors, refusal of all-zero secrets, key
checks, and the handling of private key material (repr, pickling)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hemproto
from hemproto.errors import HemProtoError, InvalidKey, KeyAgreementError
from hemproto.x25519 import KeyPair, x25519_keypair, x25519_public, x25519_shared

RFC7748 = json.loads((Path(__file__).parent / "vectors" / "rfc7748.json").read_text())
PROVIDERS = ("cryptography", "nacl")
DH = RFC7748["diffie_hellman"]
ALICE_PRIVATE = bytes.fromhex(DH["alice_private"])
ALICE_PUBLIC = bytes.fromhex(DH["alice_public"])
BOB_PRIVATE = bytes.fromhex(DH["bob_private"])
BOB_PUBLIC = bytes.fromhex(DH["bob_public"])
SHARED = bytes.fromhex(DH["shared"])


def _scalar_mult_cases() -> list[Any]:
    return [
        pytest.param(
            bytes.fromhex(v["scalar"]),
            bytes.fromhex(v["u"]),
            bytes.fromhex(v["output"]),
            id=f"5.2-vector-{number}",
        )
        for number, v in enumerate(RFC7748["scalar_mult"]["vectors"], start=1)
    ]


def _low_order_cases() -> list[Any]:
    return [
        pytest.param(bytes.fromhex(point["u"]), id=point["name"])
        for point in RFC7748["all_zero_output"]["points"]
    ]


# --- RFC 7748 vectors -------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("scalar", "u", "output"), _scalar_mult_cases())
def test_rfc7748_scalar_multiplication_vectors(
    provider: str, scalar: bytes, u: bytes, output: bytes
) -> None:
    # The second vector's u has its top bit set: it passes only if the library masks it.
    assert x25519_shared(scalar, u, provider=provider) == output


@pytest.mark.parametrize(("scalar", "u", "output"), _scalar_mult_cases())
def test_rfc7748_scalar_multiplication_vectors_through_keypair(
    scalar: bytes, u: bytes, output: bytes
) -> None:
    assert KeyPair(scalar).shared(u) == output


def test_rfc7748_public_keys_of_alice_and_bob() -> None:
    assert x25519_public(ALICE_PRIVATE) == ALICE_PUBLIC
    assert x25519_public(BOB_PRIVATE) == BOB_PUBLIC
    assert KeyPair(ALICE_PRIVATE).public == ALICE_PUBLIC
    assert KeyPair(BOB_PRIVATE).public == BOB_PUBLIC


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rfc7748_diffie_hellman_gives_k_in_both_directions(provider: str) -> None:
    assert x25519_shared(ALICE_PRIVATE, BOB_PUBLIC, provider=provider) == SHARED
    assert x25519_shared(BOB_PRIVATE, ALICE_PUBLIC, provider=provider) == SHARED


def test_rfc7748_diffie_hellman_through_keypair() -> None:
    assert KeyPair(ALICE_PRIVATE).shared(BOB_PUBLIC) == SHARED
    assert KeyPair(BOB_PRIVATE).shared(ALICE_PUBLIC) == SHARED


def test_default_provider_gives_the_rfc7748_shared_secret() -> None:
    assert x25519_shared(ALICE_PRIVATE, BOB_PUBLIC) == SHARED
    assert hemproto.x25519_shared(BOB_PRIVATE, ALICE_PUBLIC) == SHARED


def _iterate(provider: str, iterations: int) -> bytes:
    """Section 5.2's chain: k = u = 9, then k, u = X25519(k, u), k. Every k after the first
    is a full 32-byte string used as a scalar, and the old k is fed back as a u-coordinate
    (its top bit may be set). None of them is of small order, so the zero check is inert."""
    k = u = bytes.fromhex(RFC7748["iterated"]["start"])
    for _ in range(iterations):
        k, u = x25519_shared(k, u, provider=provider), k
    return k


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rfc7748_iterated_vector_after_one_iteration(provider: str) -> None:
    assert _iterate(provider, 1).hex() == RFC7748["iterated"]["after"]["1"]


@pytest.mark.slow
@pytest.mark.parametrize("provider", PROVIDERS)
def test_rfc7748_iterated_vector_after_one_thousand_iterations(provider: str) -> None:
    assert _iterate(provider, 1000).hex() == RFC7748["iterated"]["after"]["1000"]


# --- all-zero shared secrets ---------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("point", _low_order_cases())
def test_low_order_peer_keys_raise_key_agreement_error(provider: str, point: bytes) -> None:
    # Both a fixed RFC key and a fresh random one: the result is zero whatever the scalar.
    for private in (ALICE_PRIVATE, x25519_keypair()[0]):
        with pytest.raises(KeyAgreementError):
            x25519_shared(private, point, provider=provider)


@pytest.mark.parametrize("point", _low_order_cases())
def test_low_order_peer_keys_raise_key_agreement_error_through_keypair(point: bytes) -> None:
    with pytest.raises(KeyAgreementError) as info:
        KeyPair(ALICE_PRIVATE).shared(point)
    # One except clause for the library's errors must catch it.
    assert isinstance(info.value, HemProtoError)


# --- key checks ------------------------------------------------------------------------------

BAD_KEYS = [
    pytest.param(bytes(31), id="31-bytes"),
    pytest.param(bytes(33), id="33-bytes"),
    pytest.param(b"", id="empty"),
    pytest.param(bytes(64), id="64-bytes"),
    pytest.param("00" * 32, id="hex-str"),
    pytest.param("x" * 32, id="32-char-str"),
    pytest.param(None, id="None"),
    pytest.param(32, id="int"),
    pytest.param(list(range(32)), id="list"),
]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_private_key_raises_invalid_key(provider: str, key: Any) -> None:
    with pytest.raises(InvalidKey) as info:
        x25519_shared(key, BOB_PUBLIC, provider=provider)
    assert isinstance(info.value, HemProtoError)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_peer_key_raises_invalid_key(provider: str, key: Any) -> None:
    with pytest.raises(InvalidKey):
        x25519_shared(ALICE_PRIVATE, key, provider=provider)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_raise_invalid_key_in_public_and_keypair(key: Any) -> None:
    with pytest.raises(InvalidKey):
        x25519_public(key)
    with pytest.raises(InvalidKey):
        KeyPair(key)
    with pytest.raises(InvalidKey):
        KeyPair(ALICE_PRIVATE).shared(key)


def test_invalid_key_message_gives_the_size_not_the_key() -> None:
    short = bytes(range(1, 32))
    with pytest.raises(InvalidKey) as info:
        x25519_shared(short, BOB_PUBLIC)
    assert "31" in str(info.value)
    assert short.hex() not in str(info.value)


def test_keys_may_be_any_bytes_like() -> None:
    assert x25519_shared(bytearray(ALICE_PRIVATE), memoryview(BOB_PUBLIC)) == SHARED
    assert (
        x25519_shared(memoryview(ALICE_PRIVATE), bytearray(BOB_PUBLIC), provider="nacl") == SHARED
    )
    assert KeyPair(bytearray(BOB_PRIVATE)).shared(memoryview(ALICE_PUBLIC)) == SHARED


def test_unknown_provider_raises_value_error() -> None:
    with pytest.raises(ValueError, match="openssl"):
        x25519_shared(ALICE_PRIVATE, BOB_PUBLIC, provider="openssl")  # type: ignore[arg-type]


# --- private key handling ----------------------------------------------------------------------


def test_keypair_repr_shows_the_public_key_but_not_the_private_key() -> None:
    text = repr(KeyPair(ALICE_PRIVATE))
    assert ALICE_PRIVATE.hex() not in text.lower()
    assert repr(ALICE_PRIVATE) not in text
    assert ALICE_PUBLIC.hex() in text


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_keypair_refuses_pickling(protocol: int) -> None:
    # A pickle would write the private key to wherever the bytes end up.
    with pytest.raises(TypeError):
        pickle.dumps(KeyPair(ALICE_PRIVATE), protocol=protocol)


def test_keypair_private_bytes_round_trips() -> None:
    pair = KeyPair(ALICE_PRIVATE)
    assert pair.private_bytes() == ALICE_PRIVATE
    assert KeyPair(pair.private_bytes()).public == pair.public


def test_x25519_keypair_returns_a_matching_fresh_pair() -> None:
    private, public = x25519_keypair()
    assert type(private) is bytes and type(public) is bytes
    assert len(private) == len(public) == 32
    assert x25519_public(private) == public
    # Two calls draw fresh randomness (a repeat would mean a fixed or broken generator).
    assert x25519_keypair()[0] != private


def test_generated_key_pairs_agree_on_a_shared_secret() -> None:
    alice, bob = KeyPair.generate(), KeyPair.generate()
    secret = alice.shared(bob.public)
    assert secret == bob.shared(alice.public)
    assert secret == x25519_shared(bob.private_bytes(), alice.public, provider="nacl")


# --- both libraries agree --------------------------------------------------------------------

keys = st.binary(min_size=32, max_size=32)


def _outcome(private: bytes, peer: bytes, provider: str) -> tuple[str, bytes]:
    try:
        return ("secret", x25519_shared(private, peer, provider=provider))
    except KeyAgreementError:
        return ("all-zero", b"")


@settings(max_examples=200, deadline=None)
@given(keys, keys)
def test_providers_agree_on_arbitrary_keys(private: bytes, peer: bytes) -> None:
    # Arbitrary 32-byte peers include Hypothesis's favourites (all zeros, all ones), some of
    # them of small order: then both must refuse, never one refuse and one answer.
    expected = _outcome(private, peer, "cryptography")
    assert _outcome(private, peer, "nacl") == expected
    try:
        through_keypair = ("secret", KeyPair(private).shared(peer))
    except KeyAgreementError:
        through_keypair = ("all-zero", b"")
    assert through_keypair == expected


@settings(max_examples=200, deadline=None)
@given(keys, keys)
def test_providers_agree_on_a_diffie_hellman_exchange(a: bytes, b: bytes) -> None:
    a_public, b_public = x25519_public(a), x25519_public(b)
    secret = x25519_shared(a, b_public, provider="cryptography")
    assert x25519_shared(a, b_public, provider="nacl") == secret
    assert x25519_shared(b, a_public, provider="cryptography") == secret
    assert x25519_shared(b, a_public, provider="nacl") == secret
