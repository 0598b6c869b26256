"""Check-in groups: the whole verification, and the whole answer, against their floor.

``checkin verify_check``: ``hemproto.verify_check`` = decode the token, decode and
size-check eight claims, compare ``aud`` with the backend key, one X25519 exchange with
``iss``, the HS256 MAC. The baseline passes a ``KeyPair``; the "raw private" entry passes
the 32-byte private key, so every call also loads it and re-derives its public half.

``checkin Backend.answer``: a ``Backend`` with one key and a four-release registry
verifies a check, refuses a replayed jti, decides (all releases current: ``OK``) and signs
the ``checked`` reply. A backend answers each jti once, so every call gets a distinct
check, signed before timing starts (same device key, so one MAC key and one sign_ejwt per
check); pytest-benchmark times them one call per round. Each reply is verified with the
hand-written standard-library verifier, not with hemproto.

The floor entries do only the X25519 exchange hemproto cannot avoid, with the backend
private key loaded once: cryptography (OpenSSL, what hemproto uses) and PyNaCl
(libsodium). ``1 - floor ratio`` is the share of hemproto's time spent on everything else.
"""

from __future__ import annotations

import pytest
from _suite import measure, params
from pytest_benchmark.fixture import BenchmarkFixture

import hemproto_bench as bench


@pytest.mark.parametrize("case", params("checkin"))
def test_checkin(benchmark: BenchmarkFixture, bench_corpus: bench.Corpus, case: bench.Case) -> None:
    measure(benchmark, case, bench_corpus)
