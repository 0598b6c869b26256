"""Memory: peak allocation per verification, and no growth over many verifications.

Measured with tracemalloc, which sees what is allocated through Python's allocators (what
OpenSSL or libsodium allocate on their own is not seen). These tests time nothing; they
assert memory figures and print them in the summary at the end of the run.

- Peak per call, for the entries of ``token verify_ejwt``, ``checkin verify_check`` and
  ``checkin Backend.answer`` (the same groups ``hemproto bench`` reports as ``memory
  ...``): the highest traced size during one call, minus the size before it, result
  included; after one warm-up call, the median of five calls. hemproto's entries must stay
  within 16 times the token's length: a verification holds the token, its decoded bytes,
  the signing input and the claims, a few copies of it; sixteen would mean something
  buffers far more than it needs.
- Growth: traced size after a loop of 100,000 verifications (verify_ejwt, verify_check)
  minus the size before it, after a warm-up and a collection at both ends: at most 64 KiB,
  that is under one byte per call. Backend.answer is left out on purpose: its replay
  store remembers every answered jti for the replay window, so it grows by design (and is
  bounded by its max_entries).
"""

from __future__ import annotations

import gc
import statistics
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from _suite import MemoryReport, build

import hemproto
import hemproto_bench as bench

pytestmark = pytest.mark.bench_untimed

GROWTH_SLACK = 64 * 1024
WARMUP_CALLS = 1000


def _memory_params() -> list[Any]:
    groups = bench.memory_groups()
    return [pytest.param(case, id=case.key) for case in bench.all_cases() if case.group in groups]


@pytest.mark.parametrize("case", _memory_params())
def test_peak_per_call(
    bench_corpus: bench.Corpus, bench_memory_report: MemoryReport, case: bench.Case
) -> None:
    subject = build(case, bench_corpus)
    subject.prove()
    peak = statistics.median(bench.peak_bytes(subject, 5))
    group = bench.memory_groups()[case.group]
    bench_memory_report.peaks.append((group, case.entry, case.rank, peak))
    assert peak > 0
    if case.kind == "hemproto":
        bound = 16 * len(bench_corpus.token)
        assert peak <= bound, f"{case.entry}: peak {peak:.0f} B per call, over {bound} B"


def _loop(call: Callable[..., Any], args: tuple[Any, ...], calls: int) -> tuple[int, int, Any]:
    """Traced size before and after ``calls`` calls (one result alive at both points)."""
    tracemalloc.start()
    try:
        for _ in range(WARMUP_CALLS):  # caches, free lists and interned strings settle
            result = call(*args)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(calls):
            result = call(*args)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return before, after, result


@pytest.mark.parametrize(("name", "calls"), [("verify_ejwt", 100_000), ("verify_check", 100_000)])
def test_no_growth(
    bench_corpus: bench.Corpus, bench_memory_report: MemoryReport, name: str, calls: int
) -> None:
    if name == "verify_ejwt":
        before, after, result = _loop(
            hemproto.verify_ejwt, (bench_corpus.token, bench_corpus.mac_key), calls
        )
        assert result == bench_corpus.claims
    else:
        before, after, result = _loop(
            hemproto.verify_check, (bench_corpus.token, bench_corpus.backend), calls
        )
        assert result.jti == bench_corpus.fields["jti"]
    growth = after - before
    bench_memory_report.growth.append(
        f"{name} x {calls}: traced {before} B before, {after} B after, growth {growth:+d} B "
        f"(allowed {GROWTH_SLACK} B)"
    )
    assert growth <= GROWTH_SLACK, f"{name}: traced memory grew by {growth} B over {calls} calls"
