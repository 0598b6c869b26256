"""The chart of ``hemproto bench --plot``: each group's ratios as bars on a log scale.

matplotlib is optional (``hemproto[plot]``) and imported only when a chart is drawn, with
its object-oriented API: no display and no global figure state.
"""

from __future__ import annotations

import importlib
import math
import os
from typing import Any

from .engine import BenchUsageError, GroupResult, Report
from .report import format_value

__all__ = ["plot", "plot_available"]

_COLOURS = {"hemproto": "#1f77b4", "peer": "#ff7f0e", "floor": "#8c8c8c"}


def plot_available() -> bool:
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        return False
    return True


def plot(report: Report, path: str | os.PathLike[str]) -> None:
    """Bar chart of each group's ratios, log scale, baseline at 1; written as PNG."""
    try:
        # The object-oriented API without pyplot: no display, no global figure state.
        figure_module = importlib.import_module("matplotlib.figure")
        patches = importlib.import_module("matplotlib.patches")
    except ImportError:
        raise BenchUsageError("--plot needs matplotlib: install hemproto[plot]") from None
    groups = [group for group in report.groups if group.entries]
    columns = 2
    rows = [groups[i : i + columns] for i in range(0, len(groups), columns)]
    heights = [max(len(group.entries) for group in row) + 1.2 for row in rows]
    figure = figure_module.Figure(figsize=(15, 0.36 * sum(heights) + 1.0), layout="constrained")
    grid = figure.add_gridspec(len(rows), columns, height_ratios=heights)
    for row_number, row in enumerate(rows):
        for column, group in enumerate(row):
            _plot_group(figure.add_subplot(grid[row_number, column]), group)
    kinds = (("hemproto", "hemproto"), ("peer", "other library"), ("floor", "floor (X25519 only)"))
    figure.legend(
        handles=[patches.Patch(color=_COLOURS[kind], label=label) for kind, label in kinds],
        loc="outside lower center",
        ncols=3,
        fontsize=9,
    )
    info = report.info
    figure.suptitle(
        f"hemproto {info['hemproto']} bench: ratio to the hemproto baseline (lower is better), "
        f"log scale; {info['machine']['cpu']}, {info['machine']['python']}, {info['date']}",
        fontsize=11,
    )
    try:
        figure.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise BenchUsageError(f"cannot write {os.fspath(path)!r}: {exc.strerror}") from None


def _plot_group(axes: Any, group: GroupResult) -> None:
    entries = list(reversed(group.entries))  # barh draws bottom-up; keep the table's order
    positions = range(len(entries))
    ratios = [entry.ratio if entry.ratio else math.nan for entry in entries]
    axes.barh(
        list(positions), ratios, color=[_COLOURS.get(entry.kind, "#444444") for entry in entries]
    )
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8)
    labels = []
    for position, entry in zip(positions, entries, strict=True):
        labels.append(entry.entry + ("" if entry.status == "ok" else f" ({entry.status})"))
        if entry.ratio and entry.median is not None:
            axes.annotate(
                f" x{entry.ratio:.2f}  {format_value(entry.median, group.unit)}",
                (entry.ratio, position),
                va="center",
                fontsize=8,
            )
    axes.set_yticks(list(positions), labels, fontsize=8)
    finite = [ratio for ratio in ratios if not math.isnan(ratio)]
    if finite:
        # Room on the right for the annotations, on a log axis.
        low, high = min(min(finite), 1.0) / 1.5, max(max(finite), 1.0) * 6
        axes.set_xlim(low, high)
        # Plain "x2" labels at 1-2-5 steps: the default log labels (2x10^0...) collide.
        ticks = [
            step * 10.0**exponent
            for exponent in range(-3, 4)
            for step in (1, 2, 5)
            if low <= step * 10.0**exponent <= high
        ]
        axes.minorticks_off()
        axes.set_xticks(ticks, [f"x{tick:g}" for tick in ticks])
    axes.set_title(f"{group.group} ({'peak bytes' if group.unit == 'B' else 'time'})", fontsize=9)
    axes.tick_params(axis="x", labelsize=8)
