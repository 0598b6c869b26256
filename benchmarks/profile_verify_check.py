"""Where verify_check spends its time, stage by stage.

Run: python benchmarks/profile_verify_check.py

Each stage is timed on its own with the same check token, median of several blocks; the
stages add up to about the whole. What is not X25519 is what hemproto adds to the floor.
The general path (any valid token, e.g. claims in another order) is timed too: it is what
a check not in the device's exact shape costs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

import hemproto
from hemproto import _codec, claims, jws


def median_ns(function: Callable[[], object], calls: int = 2000, blocks: int = 9) -> float:
    samples = []
    for _ in range(blocks):
        start = time.perf_counter_ns()
        for _ in range(calls):
            function()
        samples.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(samples)


def general_path(token: str) -> object:
    """What _scan_parts does for a token the one-step scan does not match."""
    text, header, decoded, _signing_input, _signature = jws.decode_parts(token)
    return claims.CheckChallenge._from_parts(text, dict(header), decoded)


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
    challenge, signing_input, signature = claims._scan_parts(token)
    mac_key = backend.shared(device.public)
    stages = {
        "body check (unwrap_body)": lambda: claims.unwrap_body(token, "check"),
        "one-step C scan (_codec.scan_check)": lambda: _codec.scan_check(token),
        "scan + CheckChallenge (claims._scan_parts)": lambda: claims._scan_parts(token),
        "HS256 + constant-time compare": (
            lambda: _codec.hs256_verify(mac_key, signing_input, signature)
        ),
        "X25519 (KeyPair._exchange)": lambda: backend._exchange(challenge.iss),
    }
    counted = {  # the stages that add up to the whole (the scan is inside _scan_parts)
        "body check (unwrap_body)",
        "scan + CheckChallenge (claims._scan_parts)",
        "HS256 + constant-time compare",
        "X25519 (KeyPair._exchange)",
    }
    whole = median_ns(lambda: hemproto.verify_check(token, backend), calls=500)
    private = X25519PrivateKey.from_private_bytes(backend.private_bytes())
    peer = device.public
    floor = median_ns(  # the bare exchange, with the private key loaded once
        lambda: private.exchange(X25519PublicKey.from_public_bytes(peer)), calls=500
    )
    print(f"codec {_codec.active_codec()}; HS256 on {hs256_engine()}")
    print(f"{'stage':<48} {'median':>10}")
    total = 0.0
    for name, stage in stages.items():
        cost = median_ns(stage, calls=500 if "X25519" in name else 2000)
        if name in counted:
            total += cost
        print(f"{name:<48} {cost / 1000:>8.2f} us{'' if name in counted else '  (part of next)'}")
    print(f"{'sum of counted stages':<48} {total / 1000:>8.2f} us")
    print(f"{'verify_check as a whole':<48} {whole / 1000:>8.2f} us")
    print(f"{'floor: bare cryptography X25519 exchange':<48} {floor / 1000:>8.2f} us")
    added = (whole - floor) / 1000
    print(f"ratio to the floor: {whole / floor:.2f}; added to the floor: {added:.2f} us")
    general = median_ns(lambda: general_path(token))
    print(f"{'for comparison, the general path (decode + claims)':<48} {general / 1000:>8.2f} us")


def hs256_engine() -> str:
    if _codec.hs256 is _codec.python_codec.hs256:
        return "hashlib (Python codec, or no SHA extensions)"
    return "C with the CPU's SHA extensions"


if __name__ == "__main__":
    main()
