"""Where verify_check spends its time, stage by stage.

Run: python benchmarks/profile_verify_check.py

Each stage is timed on its own with the same check token, median of several blocks; the
stages add up to about the whole. What is not X25519 is what hemproto adds to the floor.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

import hemproto
from hemproto import claims, jws


def median_ns(function: Callable[[], object], calls: int = 2000, blocks: int = 9) -> float:
    samples = []
    for _ in range(blocks):
        start = time.perf_counter_ns()
        for _ in range(calls):
            function()
        samples.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(samples)


def main() -> None:
    backend = hemproto.KeyPair(bytes(range(32)))
    device = hemproto.KeyPair(bytes(range(100, 132)))
    token = hemproto.sign_check(
        device,
        backend.public,
        qid=bytes(32),
        fws=bytes(64),
        bls=bytes(64),
        uis=bytes(32),
        csn=bytes(16),
    )
    header, payload, signing_input, signature = jws._decode(token)
    decoded = jws.DecodedToken(token, header, payload, signing_input, signature)
    mac_key = backend.shared(device.public)
    stages = {
        "split + base64url + JSON (jws._decode)": lambda: jws._decode(token),
        "claims to bytes (CheckChallenge.from_decoded)": (
            lambda: claims.CheckChallenge.from_decoded(decoded)
        ),
        "HS256 + constant-time compare": (
            lambda: jws.check_signature(signing_input, signature, mac_key)
        ),
        "X25519 (KeyPair.shared)": lambda: backend.shared(device.public),
    }
    whole = median_ns(lambda: hemproto.verify_check(token, backend), calls=500)
    private = X25519PrivateKey.from_private_bytes(backend.private_bytes())
    peer = device.public
    floor = median_ns(  # the bare exchange, with the private key loaded once
        lambda: private.exchange(X25519PublicKey.from_public_bytes(peer)), calls=500
    )
    print(f"{'stage':<48} {'median':>10}")
    total = 0.0
    for name, stage in stages.items():
        cost = median_ns(stage, calls=500 if "X25519" in name else 2000)
        total += cost
        print(f"{name:<48} {cost / 1000:>8.2f} us")
    print(f"{'sum of stages':<48} {total / 1000:>8.2f} us")
    print(f"{'verify_check as a whole':<48} {whole / 1000:>8.2f} us")
    print(f"{'floor: bare cryptography X25519 exchange':<48} {floor / 1000:>8.2f} us")
    added = (whole - floor) / 1000
    print(f"ratio to the floor: {whole / floor:.2f}; added to the floor: {added:.2f} us")


if __name__ == "__main__":
    main()
