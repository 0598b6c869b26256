"""Glue between hemproto_bench's case list and pytest-benchmark.

The cases (what is compared, on which input, and what the right answer is) live in
``hemproto_bench.cases`` so that ``hemproto bench`` and this suite measure the same
things; this module turns them into parametrized benchmarks and runs each one with its
checks.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import hemproto_bench as bench

# Timed calls for entries that need a fresh input per call (Backend.answer refuses a jti
# it has answered): each round is one call, and every input is made before timing starts.
FRESH_ROUNDS = 4000
FRESH_WARMUP = 50


def params(prefix: str) -> list[Any]:
    """One pytest param per case whose group starts with ``prefix``, grouped as in the CLI."""
    return [
        pytest.param(case, id=case.key, marks=pytest.mark.benchmark(group=case.group))
        for case in bench.all_cases()
        if case.group.startswith(prefix)
    ]


def build(case: bench.Case, corpus: bench.Corpus) -> bench.Subject:
    """Build an entry, skipping it (with the reason) when it cannot run here."""
    try:
        return case.build(corpus)
    except bench.Unavailable as exc:
        pytest.skip(str(exc))


def measure(benchmark: BenchmarkFixture, case: bench.Case, corpus: bench.Corpus) -> None:
    """Check the entry, time it, and check it again on the result of the timed run.

    Checking means: the right result, computed independently of the entry, and for
    verifiers the refusal of a token whose MAC was made with another key. A wrong entry
    fails here (WrongResult is an AssertionError) instead of reporting a time.
    """
    subject = build(case, corpus)
    benchmark.extra_info["entry"] = case.entry
    benchmark.extra_info["kind"] = case.kind
    if case.rank is not None:
        benchmark.extra_info["baseline_rank"] = case.rank
    if case.size is not None:
        benchmark.extra_info["size"] = case.size
    subject.prove()
    if subject.fresh is None:
        result = benchmark(subject.call, *subject.args)
    else:
        rounds = 1 if benchmark.disabled else FRESH_ROUNDS
        warmup = 0 if benchmark.disabled else FRESH_WARMUP
        inputs = iter(subject.fresh(rounds + warmup + 1))

        def next_input() -> tuple[tuple[Any, ...], dict[str, Any]]:
            return (next(inputs),), {}

        result = benchmark.pedantic(  # type: ignore[no-untyped-call]
            subject.call, setup=next_input, rounds=rounds, warmup_rounds=warmup
        )
    assert subject.accept(result), f"{case.entry}: wrong result from the timed run"
    subject.prove()


class MemoryReport:
    """What the memory tests measured, printed in the summary at the end of the run."""

    def __init__(self) -> None:
        # (memory group, entry, baseline rank or None, median peak bytes per call)
        self.peaks: list[tuple[str, str, int | None, float]] = []
        self.growth: list[str] = []

    def lines(self) -> list[str]:
        lines: list[str] = []
        for group in dict.fromkeys(group for group, *_ in self.peaks):
            rows = [row for row in self.peaks if row[0] == group]
            ranked = [row for row in rows if row[2] is not None]
            base = min(ranked, key=lambda row: row[2] or 0)[3] if ranked else None
            lines.append(f"{group}  (peak bytes per call, ratio to the hemproto entry)")
            for _, entry, _, peak in sorted(rows, key=lambda row: row[3]):
                ratio = f"x{peak / base:6.2f}" if base else ""
                lines.append(f"    {entry:<36} {peak:8.0f} B   {ratio}")
        return lines + self.growth
