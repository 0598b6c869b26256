"""How a report reads: the table printed as each group ends, the JSON, and the check of
the project's goals against the run's own medians.

It only reads a finished report (or one group of it); measuring is ``engine``'s job.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

from .cases import all_cases, memory_groups
from .engine import GroupResult, Report, Unit
from .goals import GOALS

__all__ = [
    "Target",
    "format_value",
    "render_footer",
    "render_group",
    "render_header",
    "render_json",
    "render_table",
    "render_targets",
    "targets",
]


@dataclass(frozen=True, slots=True)
class Target:
    """One goal checked against a report: ``measured`` is the figure of ``subject`` (the
    entry key furthest from the goal among those holding it) over that of ``reference``
    (the fastest entry it is compared with), or its own bytes when there is none."""

    name: str
    measured: float
    goal: float
    at_most: bool  # True: measured <= goal; False: measured >= goal
    unit: Literal["x", "B"] = "x"
    group: str = ""
    subject: str = ""
    reference: str | None = None

    @property
    def met(self) -> bool:
        return self.measured <= self.goal if self.at_most else self.measured >= self.goal


def _medians(report: Report) -> dict[str, dict[str, float]]:
    return {
        group.group: {
            entry.key: entry.median
            for entry in group.entries
            if entry.status == "ok" and entry.median is not None
        }
        for group in report.groups
    }


def targets(report: Report) -> list[Target]:
    """The goals this report measured, in the order of ``GOALS`` (a partial run, or one
    without a peer or the C codec, checks fewer). A goal is measured when an entry that
    holds it ran, and so did at least one of the entries it is compared with."""
    medians = _medians(report)
    memory_of = memory_groups()
    found: dict[str, Target] = {}
    for case in all_cases():
        for goal in case.goals:
            group = memory_of[case.group] if goal.memory else case.group
            values = medians.get(group, {})
            figure = values.get(case.key)
            if figure is None:
                continue
            reference = None
            if goal.versus:
                ran = [key for key in goal.versus if values.get(key, 0) > 0]
                if not ran:
                    continue
                reference = min(ran, key=values.__getitem__)
                figure /= values[reference]
            known = found.get(goal.name)
            if known is None or goal.worse(figure, known.measured):
                found[goal.name] = Target(
                    goal.name,
                    figure,
                    goal.limit,
                    goal.at_most,
                    goal.unit,
                    group=group,
                    subject=case.key,
                    reference=reference,
                )
    return [found[goal.name] for goal in GOALS if goal.name in found]


def render_targets(report: Report) -> str:
    found = targets(report)
    if not found:
        return ""
    title = "targets (ratios of medians in this run)"
    lines = [f"\n{title:<48} {'measured':>9}  {'goal':>11}  met"]
    for target in found:
        sign = "<=" if target.at_most else ">="
        if target.unit == "B":
            measured, goal = f"{target.measured:,.0f} B", f"{sign} {target.goal:,.0f} B"
        else:
            measured, goal = f"x{target.measured:.2f}", f"{sign} {target.goal:g}"
        lines.append(
            f"  {target.name:<46} {measured:>9}  {goal:>11}  {'yes' if target.met else 'NO'}"
        )
    return "\n".join(lines) + "\n"


def format_value(value: float, unit: Unit) -> str:
    if unit == "B":
        return f"{value:.0f} B" if value < 10240 else f"{value / 1024:.1f} KiB"
    for suffix, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f} {suffix}"
    return f"{value:.0f} ns"


_WIDTH = 42


def render_header(report: Report) -> str:
    info = report.info
    host = info["machine"]
    settings = info["settings"]
    return (
        f"hemproto {info['hemproto']} bench: codec {info['active_codec']}, "
        f"{host['python']}, {host['cpu']} ({host['cores']} cores), {info['date']}\n"
        f"{settings['rounds']} rounds of ~{settings['block_ns'] / 1e6:g} ms per entry, entries "
        f"interleaved; load average {info['load_average_start']} at start\n"
        "ratio = median / median of the group's hemproto baseline (*); "
        "spread = IQR / median\n"
        "per KiB = median / input size; +per KiB = added time per added KiB over the "
        "baseline (flat when growth is linear)\n"
    )


def render_group(group: GroupResult) -> str:
    per_kib = any(entry.per_kib is not None for entry in group.entries)
    what = "peak per call" if group.unit == "B" else "median"
    lines = [
        f"\n{group.group:<{_WIDTH + 2}} {what:>13} {'ratio':>8} {'spread':>7}"
        + ("   per KiB  +per KiB" if per_kib else "")
    ]
    for entry in group.entries:
        mark = "*" if entry.baseline else " "
        label = f"{mark} {entry.entry}"[: _WIDTH + 2]
        if entry.status != "ok" or entry.median is None:
            lines.append(f"{label:<{_WIDTH + 2}} {entry.status}: {entry.reason}")
            continue
        ratio = f"x{entry.ratio:.2f}" if entry.ratio is not None else "-"
        spread = f"{entry.spread * 100:.0f}%" if entry.spread is not None else "-"
        line = (
            f"{label:<{_WIDTH + 2}} {format_value(entry.median, group.unit):>13} "
            f"{ratio:>8} {spread:>7}"
        )
        if entry.per_kib is not None:
            line += f" {format_value(entry.per_kib, 'ns'):>9}"
            if entry.added_per_kib is not None:
                line += f" {format_value(entry.added_per_kib, 'ns'):>9}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def render_footer(report: Report) -> str:
    info = report.info
    text = render_targets(report) + (
        f"\n{info['seconds']} s; load average {info['load_average_end']} at end "
        "(medians move with other work on the machine: compare ratios within one run)\n"
    )
    for failure in report.failed:
        text += f"FAILED {failure}\n"
    return text


def render_table(report: Report) -> str:
    return (
        render_header(report)
        + "".join(render_group(group) for group in report.groups)
        + render_footer(report)
    )


def render_json(report: Report) -> str:
    found = [{**asdict(target), "met": target.met} for target in targets(report)]
    return json.dumps(
        {**report.info, "groups": [asdict(group) for group in report.groups], "targets": found},
        indent=2,
    )
