"""Measuring: build and prove each entry, time the entries of a group in turns, trace their
peak memory, and gather the results into a report.

The clock and tracemalloc are used here and nowhere else; what is measured is ``cases``,
and how a report is shown is ``report`` and ``plot``.
"""

from __future__ import annotations

import gc
import itertools
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from hemproto import __version__, _codec, active_codec

from .cases import Case, Subject, Unavailable, WrongResult, all_cases, group_names, memory_groups
from .corpus import Corpus, shared_corpus

__all__ = [
    "QUICK",
    "BenchUsageError",
    "EntryResult",
    "GroupResult",
    "Report",
    "Settings",
    "Unit",
    "machine",
    "peak_bytes",
    "run",
    "select_groups",
]

Unit = Literal["ns", "B"]


class BenchUsageError(ValueError):
    """A request the engine cannot serve (no such group, no matplotlib for a plot)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """How long to measure: ``rounds`` timed blocks per entry of about ``block_ns`` each,
    and ``memory_calls`` traced calls per entry (the median peak is kept)."""

    rounds: int = 25
    block_ns: int = 10_000_000
    memory_calls: int = 5
    groups: tuple[str, ...] = ()  # substrings of group names to run; empty: all


QUICK = Settings(rounds=5, block_ns=1_000_000, memory_calls=1)


@dataclass
class EntryResult:
    """One entry's outcome: ``median`` in ns per call (or peak bytes), ``spread`` the
    interquartile range over the median, ``ratio`` the median over the baseline's.

    For entries with an input size: ``per_kib`` is the median per KiB of input, and
    ``added_per_kib`` the extra time per extra KiB over the baseline (the slope: it stays
    flat across sizes when the cost grows linearly).
    """

    key: str
    entry: str
    kind: str
    status: Literal["ok", "unavailable", "failed"]
    reason: str = ""
    baseline: bool = False
    median: float | None = None
    spread: float | None = None
    ratio: float | None = None
    size: int | None = None
    per_kib: float | None = None
    added_per_kib: float | None = None


@dataclass
class GroupResult:
    group: str
    unit: Unit
    baseline: str | None
    entries: list[EntryResult]


@dataclass
class Report:
    info: dict[str, Any]
    groups: list[GroupResult] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [
            f"{group.group}: {entry.entry}: {entry.reason}"
            for group in self.groups
            for entry in group.entries
            if entry.status == "failed"
        ]


Timer = Callable[[int], int]


def _timer(subject: Subject) -> Timer:
    """A function that makes n calls and returns the nanoseconds they took.

    Arguments are bound to locals and the loop is specialised by their number so that the
    harness adds as little as possible to calls of a few hundred nanoseconds.
    """
    call = subject.call
    clock = time.perf_counter_ns
    fresh = subject.fresh
    if fresh is not None:

        def timed_fresh(n: int) -> int:
            batch = fresh(n)  # made before the clock starts
            start = clock()
            for argument in batch:
                call(argument)
            return clock() - start

        return timed_fresh
    args = subject.args
    if len(args) == 1:
        (a,) = args

        def timed_1(n: int) -> int:
            loop = itertools.repeat(None, n)
            start = clock()
            for _ in loop:
                call(a)
            return clock() - start

        return timed_1
    if len(args) == 2:
        a, b = args

        def timed_2(n: int) -> int:
            loop = itertools.repeat(None, n)
            start = clock()
            for _ in loop:
                call(a, b)
            return clock() - start

        return timed_2

    def timed_n(n: int) -> int:
        loop = itertools.repeat(None, n)
        start = clock()
        for _ in loop:
            call(*args)
        return clock() - start

    return timed_n


def _calibrate(timed: Timer, block_ns: int) -> int:
    """Calls per block so that one block takes about ``block_ns`` (also warms up)."""
    n = 1
    while True:
        elapsed = timed(n)
        if elapsed * 10 >= block_ns or n >= 1 << 24:
            return max(1, round(n * block_ns / max(elapsed, 1)))
        n *= 10


def _summary(samples: Sequence[float]) -> tuple[float, float]:
    median = statistics.median(samples)
    if len(samples) < 2 or median <= 0:
        return median, 0.0
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return median, (q3 - q1) / median


def _time_group(subjects: dict[str, Subject], settings: Settings) -> dict[str, list[float]]:
    """ns per call, one sample per round per entry.

    Entries take turns block by block (in a rotating order) rather than one after the
    other, so that a burst of load from elsewhere hits every entry of the group alike and
    the ratios stay fair on a busy machine.
    """
    timers = {key: _timer(subject) for key, subject in subjects.items()}
    counts = {key: _calibrate(timed, settings.block_ns) for key, timed in timers.items()}
    samples: dict[str, list[float]] = {key: [] for key in timers}
    keys = list(timers)
    for round_number in range(settings.rounds):
        shift = round_number % len(keys)
        for key in keys[shift:] + keys[:shift]:
            samples[key].append(timers[key](counts[key]) / counts[key])
    return samples


def peak_bytes(subject: Subject, calls: int) -> list[float]:
    """Peak bytes traced by tracemalloc during single calls, result included.

    One untraced-for-the-result warm-up call first, so that caches and lazily created
    buffers that live for the whole process are not charged to a call.
    """
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    enabled = gc.isenabled()
    gc.disable()  # a collection in the middle of a call would move the baseline
    try:
        subject.call(*subject.arguments())
        peaks: list[float] = []
        for _ in range(calls):
            arguments = subject.arguments()
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            result = subject.call(*arguments)
            peaks.append(float(tracemalloc.get_traced_memory()[1] - before))
            del result
        return peaks
    finally:
        if enabled:
            gc.enable()
        if started:
            tracemalloc.stop()


def _build(
    cases: Iterable[Case], corpus: Corpus
) -> tuple[dict[str, Subject], dict[str, EntryResult]]:
    subjects: dict[str, Subject] = {}
    results: dict[str, EntryResult] = {}
    for case in cases:
        result = EntryResult(case.key, case.entry, case.kind, "ok", size=case.size)
        results[case.key] = result
        try:
            subject = case.build(corpus)
            subject.prove()
        except Unavailable as exc:
            result.status, result.reason = "unavailable", str(exc)
            continue
        except WrongResult as exc:
            result.status, result.reason = "failed", str(exc) or "wrong result"
            continue
        subjects[case.key] = subject
    return subjects, results


def _finish(
    name: str, unit: Unit, cases: list[Case], results: dict[str, EntryResult]
) -> GroupResult:
    """Pick the baseline (lowest-ranked hemproto entry that ran) and compute the ratios."""
    ranked = [
        case for case in cases if case.rank is not None and results[case.key].median is not None
    ]
    base = min(ranked, key=lambda case: case.rank or 0) if ranked else None
    base_median = results[base.key].median if base is not None else None
    for case in cases:
        result = results[case.key]
        if result.median is None:
            continue
        if base_median:
            result.ratio = result.median / base_median
        if unit == "ns" and case.size:
            result.per_kib = result.median * 1024 / case.size
            if base is not None and base.size and base_median and case.size > base.size:
                added = (result.median - base_median) * 1024 / (case.size - base.size)
                result.added_per_kib = added
    if base is not None:
        results[base.key].baseline = True
    return GroupResult(
        name, unit, base.entry if base is not None else None, [results[c.key] for c in cases]
    )


def _time_cases(name: str, cases: list[Case], corpus: Corpus, settings: Settings) -> GroupResult:
    subjects, results = _build(cases, corpus)
    if subjects:
        samples = _time_group(subjects, settings)
        for key, values in samples.items():
            results[key].median, results[key].spread = _summary(values)
        for key, subject in subjects.items():
            try:  # still right after being timed
                subject.prove()
            except WrongResult as exc:
                results[key].status, results[key].reason = "failed", str(exc)
                results[key].median = results[key].spread = None
    return _finish(name, "ns", cases, results)


def _memory_cases(name: str, cases: list[Case], corpus: Corpus, settings: Settings) -> GroupResult:
    subjects, results = _build(cases, corpus)
    for key, subject in subjects.items():
        results[key].median, results[key].spread = _summary(
            peak_bytes(subject, max(1, settings.memory_calls))
        )
    return _finish(name, "B", cases, results)


def machine() -> dict[str, Any]:
    """What the numbers were measured on: they mean little without it."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
    }


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def select_groups(names: Iterable[str], filters: Sequence[str]) -> list[str]:
    """The names that contain any of ``filters`` (all, without filters); BenchUsageError
    when none does."""
    names = list(names)
    if not filters:
        return names
    chosen = [name for name in names if any(text in name for text in filters)]
    if not chosen:
        raise BenchUsageError(f"no group matches {', '.join(map(repr, filters))}")
    return chosen


def run(
    settings: Settings = Settings(),
    *,
    on_group: Callable[[Report, GroupResult], None] | None = None,
) -> Report:
    """Build, check and measure every selected group; ``on_group`` sees each as it ends."""
    started = time.perf_counter()
    cases = all_cases()
    selected = select_groups(group_names(), settings.groups)
    report = Report(
        info={
            "hemproto": __version__,
            "active_codec": active_codec(),
            "c_extension": _codec.c_codec is not None,
            "machine": machine(),
            "settings": asdict(settings),
            "load_average_start": _load_average(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        }
    )
    corpus = shared_corpus()
    timed = [name for name in dict.fromkeys(case.group for case in cases) if name in selected]
    memory = {source: name for source, name in memory_groups().items() if name in selected}
    for name in timed:
        group = _time_cases(name, [c for c in cases if c.group == name], corpus, settings)
        report.groups.append(group)
        if on_group is not None:
            on_group(report, group)
    for source, name in memory.items():
        group = _memory_cases(name, [c for c in cases if c.group == source], corpus, settings)
        report.groups.append(group)
        if on_group is not None:
            on_group(report, group)
    report.info["load_average_end"] = _load_average()
    report.info["seconds"] = round(time.perf_counter() - started, 1)
    return report
