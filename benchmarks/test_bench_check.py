"""verify_check against the X25519 exchange it cannot avoid (the floor).

verify_check = decode the token + decode and size-check eight claims + compare ``aud``
with the backend public key + one X25519 exchange with ``iss`` + the HS256 MAC. The
floor entries do only the exchange, with the backend private key loaded once:
cryptography (OpenSSL, what hemproto uses) and PyNaCl (libsodium).

The "raw private bytes" entry passes the 32-byte private key instead of a KeyPair, so
every call also loads the key and re-derives its public half (about one more exchange).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import hemproto

GROUP = "verify_check"


def _assert_challenge(challenge: hemproto.CheckChallenge, check: Any) -> None:
    for name, value in check.fields.items():
        assert getattr(challenge, name) == value, name
    assert challenge.token == check.token


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize(
    ("entry", "label", "rank"),
    [
        pytest.param("keypair", "hemproto.verify_check(KeyPair)", 0, id="hemproto-keypair"),
        pytest.param("raw", "hemproto.verify_check(raw private)", 1, id="hemproto-raw-private"),
    ],
)
def test_verify_check(
    benchmark: BenchmarkFixture, bench_check: Any, entry: str, label: str, rank: int
) -> None:
    key = bench_check.backend_pair if entry == "keypair" else bench_check.backend_private
    benchmark.extra_info["entry"] = label
    benchmark.extra_info["baseline_rank"] = rank

    with pytest.raises(hemproto.BadSignature):
        hemproto.verify_check(bench_check.forged, key)
    _assert_challenge(hemproto.verify_check(bench_check.token, key), bench_check)

    challenge = benchmark(hemproto.verify_check, bench_check.token, key)
    _assert_challenge(challenge, bench_check)


def _cryptography_exchange(check: Any) -> Callable[[bytes], bytes]:
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    private = X25519PrivateKey.from_private_bytes(check.backend_private)  # loaded once
    from_public_bytes = X25519PublicKey.from_public_bytes

    def exchange(peer: bytes) -> bytes:
        return private.exchange(from_public_bytes(peer))

    return exchange


def _nacl_exchange(check: Any) -> Callable[[bytes], bytes]:
    from nacl.bindings import crypto_scalarmult

    private = check.backend_private

    def exchange(peer: bytes) -> bytes:
        return crypto_scalarmult(private, peer)

    return exchange


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize(
    ("make", "label"),
    [
        pytest.param(_cryptography_exchange, "floor: cryptography exchange", id="cryptography"),
        pytest.param(_nacl_exchange, "floor: PyNaCl crypto_scalarmult", id="pynacl"),
    ],
)
def test_x25519_floor(benchmark: BenchmarkFixture, bench_check: Any, make: Any, label: str) -> None:
    exchange = make(bench_check)
    benchmark.extra_info["entry"] = label
    iss = bench_check.device_public
    assert exchange(iss) == bench_check.shared_secret

    secret = benchmark(exchange, iss)
    assert secret == bench_check.shared_secret
