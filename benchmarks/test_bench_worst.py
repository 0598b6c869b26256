"""``worst case at the cap``: hostile inputs of the largest size the backend reads, against
the normal case.

The baseline is ``Backend.handle`` of a device's own raw body, answered (a fresh check per
call, as a backend answers each jti once). Every other entry is one request an attacker can
send without any key, at the cap: a 7,300-byte body for ``Backend.handle``, or an
8,192-character token for ``verify_check``: brackets in the header, the payload or the
body, an object of a thousand one-letter members, a payload of valid claims and hundreds of
extra ones under a forged MAC (parsed whole, then an X25519 exchange), ``\\u0041`` escapes,
3,600 integers, numbers whose last one overflows, 7,000-digit numbers, and nesting at the
depth cap over and over. Each entry proves its refusal (the status, or the error class)
before and after it is timed. The project's goal is a worst case at most three times the
normal case, with the C codec; ``hemproto bench`` reports it as a target.
"""

from __future__ import annotations

import pytest
from _suite import measure, params
from pytest_benchmark.fixture import BenchmarkFixture

import hemproto_bench as bench


@pytest.mark.parametrize("case", params("worst"))
def test_worst(benchmark: BenchmarkFixture, bench_corpus: bench.Corpus, case: bench.Case) -> None:
    measure(benchmark, case, bench_corpus)


@pytest.mark.bench_untimed
def test_worst_inputs_fill_the_cap(bench_corpus: bench.Corpus) -> None:
    for key, data in bench.worst_inputs(bench_corpus).items():
        cap = bench.WORST_TOKEN if isinstance(data, str) else bench.WORST_BODY
        assert cap - 40 <= len(data) <= cap, key
