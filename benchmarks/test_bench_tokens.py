"""``token verify_ejwt``: verifying a check-sized token (761 characters) with a known key.

Every entry gets the raw 32-byte X25519 shared secret as the HS256 key, verifies the MAC,
parses the payload JSON and returns the claims dict; each must first refuse a forged token
(same header and payload, MAC made with another key).

- ``hemproto.verify_ejwt`` (the baseline): checks every header member and value,
  canonical base64url, the 32-byte MAC size and strict JSON, and compares the MAC in
  constant time.
- ``hand-written stdlib``: ``hemproto_bench.stdlib_verify``, what one writes with the
  standard library alone: split on '.', ``base64.urlsafe_b64decode`` with the padding
  restored, ``hmac.digest``, ``hmac.compare_digest``, ``json.loads`` of header and
  payload, and an ``alg`` check; no other rule.
- ``PyJWT jwt.decode``: prepares the key from bytes on every call and runs its claim
  checks; ``verify_aud`` is off because the check's ``aud`` is a base64 key, not an
  audience name (verify_ejwt does not read ``aud`` either).
- ``joserfc jwt.decode``: a key imported once (OctKey) and a registry that knows the
  ``ecdh`` header member, which joserfc would otherwise refuse.
- ``jwcrypto JWS.verify``: ``JWS().deserialize`` then ``verify`` with a JWK of kty
  ``oct`` made once from the raw key, then ``json.loads`` of the payload.

hemproto has no prepared-key form of the HS256 key yet, so only the raw-bytes call is
measured; a prepared key would be a second hemproto entry in ``hemproto_bench.cases``.
"""

from __future__ import annotations

import pytest
from _suite import measure, params
from pytest_benchmark.fixture import BenchmarkFixture

import hemproto
import hemproto_bench as bench


@pytest.mark.parametrize("case", params("token"))
def test_verify_ejwt(
    benchmark: BenchmarkFixture, bench_corpus: bench.Corpus, case: bench.Case
) -> None:
    if case.kind == "hemproto":
        benchmark.extra_info["active_codec"] = hemproto.active_codec()
    measure(benchmark, case, bench_corpus)


@pytest.mark.bench_untimed
def test_stdlib_peer_refuses_tampering(bench_corpus: bench.Corpus) -> None:
    """The hand-written peer is a real verifier: a changed payload or MAC is refused."""
    token, key = bench_corpus.token, bench_corpus.mac_key
    header, payload, mac = token.split(".")
    flipped = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
    for tampered in (f"{header}.{flipped}.{mac}", bench_corpus.forged):
        with pytest.raises(bench.ForgedToken):
            bench.stdlib_verify(tampered, key)
    assert bench.stdlib_verify(token, key) == bench_corpus.claims
