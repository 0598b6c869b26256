"""Fixtures for the benchmark suite, and the summaries printed after the run.

This directory is collected only when named on the command line (the project's pytest
config has ``testpaths = ["tests"]``). Fixture names carry a ``bench_`` prefix so they
never shadow the test suite's fixtures when both directories run in one session.

Every benchmark labels itself with ``extra_info["entry"]`` and marks its hemproto entry
with ``extra_info["baseline_rank"]`` (lower wins when a group has more than one hemproto
entry); the terminal summary divides each median by the baseline's. The memory tests
record their figures through ``bench_memory_report`` and are printed in the same place.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from _suite import MemoryReport

import hemproto
import hemproto_bench as bench

UNTIMED_MARKER = "bench_untimed"


@pytest.fixture(scope="session")
def bench_corpus() -> bench.Corpus:
    return bench.shared_corpus()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{UNTIMED_MARKER}: not timed, but part of every run of the suite "
        "(memory measurements, checks of the inputs)",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # --benchmark-only skips every test that does not use the timing fixture. The memory
    # measurements and input checks time nothing, yet they belong to the suite's one
    # command, so the skip pytest-benchmark added to them is taken back; nothing else.
    if not config.getoption("benchmark_only", False):
        return
    for item in items:
        if item.get_closest_marker(UNTIMED_MARKER) is None:
            continue
        item.own_markers[:] = [
            mark
            for mark in item.own_markers
            if not (mark.name == "skip" and "--benchmark-only" in str(mark.kwargs.get("reason")))
        ]


def pytest_report_header(config: pytest.Config) -> list[str]:
    from hemproto._codec import c_codec

    lines = [
        f"hemproto {hemproto.__version__}: active codec {hemproto.active_codec()!r}, "
        f"C extension {'built' if c_codec is not None else 'NOT built'}"
    ]
    if os.environ.get("HEMPROTO_PURE") == "1":
        lines.append("HEMPROTO_PURE=1: token benchmarks measure the Python codec")
    return lines


# --- the "relative to hemproto" summaries --------------------------------------------------

_GROUPS = pytest.StashKey[list[tuple[str, list[dict[str, Any]]]]]()
_MEMORY = pytest.StashKey[MemoryReport]()


@pytest.hookimpl(wrapper=True, optionalhook=True)
def pytest_benchmark_group_stats(
    config: pytest.Config, benchmarks: list[dict[str, Any]], group_by: str
) -> Any:
    groups = yield
    config.stash[_GROUPS] = list(groups)
    return groups


@pytest.fixture(scope="session")
def bench_memory_report(pytestconfig: pytest.Config) -> MemoryReport:
    """Where the memory tests put their figures, for the summary at the end of the run."""
    return pytestconfig.stash.setdefault(_MEMORY, MemoryReport())


def _format_seconds(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:8.2f} {unit}"
    return f"{seconds / 1e-9:8.1f} ns"


def _timing_lines(groups: list[tuple[str, list[dict[str, Any]]]]) -> list[str]:
    lines: list[str] = []
    for group, benches in groups:
        current = [b for b in benches if not b.get("path")]  # drop --benchmark-compare rows
        ranked = [b for b in current if "baseline_rank" in b["extra_info"]]
        if not ranked:
            continue
        base = min(ranked, key=lambda b: b["extra_info"]["baseline_rank"])
        sized = "size" in base["extra_info"]
        lines.append(
            f"{group}  (baseline: {base['extra_info'].get('entry', base['name'])})"
            + ("   per KiB, +per KiB over the baseline" if sized else "")
        )
        for bench_ in sorted(current, key=lambda b: b["median"]):
            label = bench_["extra_info"].get("entry", bench_["name"])
            ratio = bench_["median"] / base["median"]
            line = f"    {label:<36} {_format_seconds(bench_['median'])}   x{ratio:6.2f}"
            size = bench_["extra_info"].get("size")
            if sized and size:
                line += f"   {_format_seconds(bench_['median'] * 1024 / size)}"
                extra = size - base["extra_info"]["size"]
                if extra > 0:
                    added = (bench_["median"] - base["median"]) * 1024 / extra
                    line += f"   +{_format_seconds(added).strip()}"
            lines.append(line)
    return lines


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = _timing_lines(config.stash.get(_GROUPS, []))
    if lines:
        terminalreporter.write_sep("-", "median per call, and its ratio to the hemproto entry")
        for line in lines:
            terminalreporter.write_line(line)
    memory = config.stash.get(_MEMORY, None)
    if memory is not None and memory.lines():
        terminalreporter.write_sep("-", "memory (tracemalloc): peak per call, and growth")
        for line in memory.lines():
            terminalreporter.write_line(line)
