"""``scale verify_ejwt``: cost per token as the payload grows from 1 to 8 KiB.

Check tokens with an extra ``pad`` claim, grown to 1023, 2047, 4095 and 8191 characters
(the largest fits hemproto's 8192-character limit; payload JSON of about 0.7, 1.5, 3 and
6 KB). The summary adds two columns: time per KiB of token, which falls as the fixed cost
is spread, and time per *added* KiB over the 1 KiB token, the slope, which stays flat
when the cost grows linearly.
"""

from __future__ import annotations

import pytest
from _suite import measure, params
from pytest_benchmark.fixture import BenchmarkFixture

import hemproto_bench as bench


@pytest.mark.parametrize("case", params("scale"))
def test_scale(benchmark: BenchmarkFixture, bench_corpus: bench.Corpus, case: bench.Case) -> None:
    measure(benchmark, case, bench_corpus)


@pytest.mark.bench_untimed
def test_scale_tokens_fit_the_limit(bench_corpus: bench.Corpus) -> None:
    lengths = [len(token) for token, _ in bench_corpus.scale_tokens.values()]
    assert lengths == sorted(lengths)
    for target, length in zip(bench.SCALE_TARGETS, lengths, strict=True):
        assert target - 4 <= length <= min(target, 8192)
