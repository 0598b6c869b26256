"""Codec groups: decoding base64url and standard base64, and the constant-time compare.

``codec b64url_decode 43/600/6000``: unpadded base64url text of 43 characters (a signature
segment, 32 bytes), 600 (about a check payload) and 6000 (per-byte cost once the call
overhead is amortised). Entries: hemproto's C codec (the baseline) and Python codec,
``base64.urlsafe_b64decode`` and ``pybase64.urlsafe_b64decode``. Neither peer accepts
unpadded input, so they get the padding re-added, which is part of their time; neither
validates (they drop or translate what they do not like), while hemproto refuses padding,
the other alphabet, stray characters and non-canonical trailing bits.

``codec b64_decode 44/600/6000``: padded standard base64 (44 is a 32-byte claim; 43 is
not a valid padded length), each ending in one ``=``. The peers run with
``validate=True``, their strict mode: ``base64.b64decode`` and ``pybase64.b64decode``.

``codec ct_equal 32``: two equal 32-byte MACs in distinct objects (a full-length
comparison, the worst case): hemproto's C and Python ``ct_equal`` against
``hmac.compare_digest``.
"""

from __future__ import annotations

import pytest
from _suite import measure, params
from pytest_benchmark.fixture import BenchmarkFixture

import hemproto_bench as bench


@pytest.mark.parametrize("case", params("codec"))
def test_codec(benchmark: BenchmarkFixture, bench_corpus: bench.Corpus, case: bench.Case) -> None:
    measure(benchmark, case, bench_corpus)
