"""The engine of ``hemproto bench``: hemproto timed against what a user would pick instead,
on the same inputs, in one run; and the list of comparisons ``benchmarks/`` runs too.

A package beside hemproto, shipped with it and never imported by it: ``hemproto bench``
loads it when run. Each module has one job: ``corpus`` (the fixed inputs), ``worst`` (the
hostile inputs at the cap), ``goals`` (the project's performance goals), ``cases`` (the
catalogue of groups and entries, each holding its goals), ``engine`` (timing, memory,
the run), ``report`` (table, JSON, the goals checked), ``plot`` (the chart); ``command``
below is what the command line calls.

Vocabulary: a *group* is one comparison (same input, same job); an *entry* is one way of
doing that job; each group has a hemproto entry as its *baseline*, and every entry's
*ratio* is its median divided by the baseline's median (time per call, or peak bytes
allocated per call for the memory groups).

Every entry proves it does the job before it is timed: its result is compared with a value
computed independently (the input the token was signed from, the bytes that were encoded,
the shared secret computed from the device side), and a verifier must also refuse a token
whose MAC was made with another key. An entry that fails this is reported as failed and
not timed, because a fast wrong answer is no answer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import TextIO

from .cases import (
    WORST_GROUP,
    Case,
    ForgedToken,
    Subject,
    Unavailable,
    WrongResult,
    all_cases,
    group_names,
    memory_groups,
    stdlib_verify,
)
from .corpus import SCALE_TARGETS, Corpus, shared_corpus
from .engine import (
    QUICK,
    BenchUsageError,
    EntryResult,
    GroupResult,
    Report,
    Settings,
    peak_bytes,
    run,
    select_groups,
)
from .goals import GOALS, Goal
from .plot import plot, plot_available
from .report import (
    Target,
    render_footer,
    render_group,
    render_header,
    render_json,
    render_table,
    render_targets,
    targets,
)
from .worst import WORST_BODY, WORST_CASES, WORST_TOKEN, worst_inputs

__all__ = [
    "GOALS",
    "QUICK",
    "SCALE_TARGETS",
    "WORST_BODY",
    "WORST_CASES",
    "WORST_GROUP",
    "WORST_TOKEN",
    "BenchUsageError",
    "Case",
    "Corpus",
    "EntryResult",
    "ForgedToken",
    "Goal",
    "GroupResult",
    "Report",
    "Settings",
    "Subject",
    "Target",
    "Unavailable",
    "WrongResult",
    "all_cases",
    "command",
    "group_names",
    "memory_groups",
    "peak_bytes",
    "plot",
    "plot_available",
    "render_group",
    "render_header",
    "render_json",
    "render_table",
    "render_targets",
    "run",
    "shared_corpus",
    "stdlib_verify",
    "targets",
    "worst_inputs",
]


def command(
    out: TextIO,
    *,
    quick: bool = False,
    rounds: int | None = None,
    groups: Sequence[str] = (),
    as_json: bool = False,
    plot_path: str | None = None,
) -> int:
    """``hemproto bench``: measure, print a table (as each group ends) or JSON, plot.

    Returns 0, or 1 when an entry gave a wrong answer. Raises BenchUsageError for a bad
    request, before measuring anything.
    """
    settings = QUICK if quick else Settings()
    if rounds is not None:
        if rounds < 1:
            raise BenchUsageError("--rounds must be at least 1")
        settings = replace(settings, rounds=rounds)
    settings = replace(settings, groups=tuple(groups))
    select_groups(group_names(), settings.groups)
    if plot_path is not None:
        if not plot_available():
            raise BenchUsageError("--plot needs matplotlib: install hemproto[plot]")
        # Found out now rather than after a full run.
        folder = os.path.dirname(os.path.abspath(plot_path))
        if not os.path.isdir(folder):
            raise BenchUsageError(f"cannot write {plot_path!r}: no directory {folder!r}")

    def show(report: Report, group: GroupResult) -> None:
        if not report.groups[:-1]:
            out.write(render_header(report))
        out.write(render_group(group))
        out.flush()

    report = run(settings, on_group=None if as_json else show)
    if plot_path is not None:
        plot(report, plot_path)
        report.info["plot"] = plot_path
    if as_json:
        out.write(render_json(report) + "\n")
    else:
        if not report.groups:
            out.write(render_header(report))
        out.write(render_footer(report))
        if plot_path is not None:
            out.write(f"plot written to {plot_path}\n")
    return 1 if report.failed else 0
