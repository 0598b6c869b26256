"""``hemproto bench``: the structure of what it reports, never a time value.

The runs use ``--quick`` (a few short rounds) so the whole file takes seconds; the numbers
they produce are noise and nothing here looks at them beyond "a positive ratio".
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from _cli import run_cli

import hemproto_bench as bench
from hemproto import _codec, cli
from hemproto_bench import cases, goals

GROUPS = bench.group_names()


def no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def quick_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = run_cli("bench", "--quick", "--json", cwd=tmp_path_factory.mktemp("bench"))
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_groups_cover_every_comparison() -> None:
    prefixes = {name.split()[0] for name in GROUPS}
    assert prefixes == {"codec", "token", "checkin", "scale", "worst", "memory"}
    for size in ("43", "600", "6000"):
        assert f"codec b64url_decode {size}" in GROUPS
    assert {"codec ct_equal 32", "token verify_ejwt", "scale verify_ejwt"} <= set(GROUPS)
    assert {"checkin verify_check", "checkin Backend.answer"} <= set(GROUPS)
    assert "worst case at the cap" in GROUPS


def test_json_has_every_group_in_order(quick_json: dict[str, Any]) -> None:
    assert [group["group"] for group in quick_json["groups"]] == GROUPS
    assert quick_json["active_codec"] in ("c", "python")
    assert quick_json["machine"]["cores"] >= 1
    assert quick_json["settings"]["rounds"] == bench.QUICK.rounds


def test_every_ratio_is_a_positive_number(quick_json: dict[str, Any]) -> None:
    for group in quick_json["groups"]:
        entries = group["entries"]
        baselines = [entry for entry in entries if entry["baseline"]]
        assert len(baselines) == 1, group["group"]
        (baseline,) = baselines
        assert baseline["kind"] == "hemproto"
        assert baseline["entry"] == group["baseline"]
        assert baseline["ratio"] == 1.0
        for entry in entries:
            # Any entry may be unavailable (a peer not installed, no C extension); none
            # may have failed its correctness checks.
            assert entry["status"] in ("ok", "unavailable"), entry
            if entry["status"] == "ok":
                ratio = entry["ratio"]
                assert isinstance(ratio, float) and math.isfinite(ratio) and ratio > 0, entry
            else:
                assert entry["reason"] and entry["ratio"] is None


def test_scale_entries_report_cost_per_kib(quick_json: dict[str, Any]) -> None:
    (scale,) = [group for group in quick_json["groups"] if group["group"] == "scale verify_ejwt"]
    sizes = [entry["size"] for entry in scale["entries"]]
    assert sizes == sorted(sizes) and sizes[-1] <= 8192
    for entry in scale["entries"]:
        assert entry["per_kib"] > 0
        assert (entry["added_per_kib"] is None) == entry["baseline"]


def test_table_lists_every_group_with_ratios(tmp_path: Path) -> None:
    result = run_cli("bench", "--quick", cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    headers = [line.split("  ")[0] for line in lines if line and line[0] not in " *"]
    assert [header for header in headers if header in GROUPS] == GROUPS
    rows = [line for line in lines if line[:2] in ("* ", "  ")]
    ratios = [re.search(r" x(\d+\.\d+) ", row) for row in rows]
    available = [(row, ratio) for row, ratio in zip(rows, ratios, strict=True) if ratio]
    assert available, result.stdout
    for row, ratio in available:
        assert ratio is not None and float(ratio.group(1)) > 0, row
    baselines = [row for row in rows if row.startswith("* ")]
    assert len(baselines) == len(GROUPS)
    assert all(" x1.00 " in row for row in baselines)


def test_plot_writes_a_png(tmp_path: Path) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("matplotlib is not installed (pip install 'hemproto[plot]')")
    target = tmp_path / "bench.png"
    result = run_cli("bench", "--quick", "--plot", str(target), cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0
    assert f"plot written to {target}" in result.stdout


def test_plot_without_matplotlib_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes its import fail
    status = cli.main(["bench", "--quick", "--plot", str(tmp_path / "bench.png")])
    captured = capsys.readouterr()
    assert status == cli.EXIT_USAGE
    assert "install hemproto[plot]" in captured.err
    assert captured.err.count("\n") == 1
    assert captured.out == ""  # refused before measuring anything
    assert not (tmp_path / "bench.png").exists()


def _run_quick(groups: tuple[str, ...]) -> bench.Report:
    settings = bench.Settings(
        rounds=bench.QUICK.rounds,
        block_ns=bench.QUICK.block_ns,
        memory_calls=bench.QUICK.memory_calls,
        groups=groups,
    )
    return bench.run(settings)


def _entries(report: bench.Report, group: str) -> dict[str, bench.EntryResult]:
    (found,) = [result for result in report.groups if result.group == group]
    return {entry.entry: entry for entry in found.entries}


def test_missing_peer_is_reported_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)
    entries = _entries(_run_quick(("token",)), "token verify_ejwt")
    pyjwt = entries["PyJWT jwt.decode"]
    assert pyjwt.status == "unavailable"
    assert "PyJWT is not installed" in pyjwt.reason
    assert pyjwt.ratio is None
    assert entries["hemproto.verify_ejwt"].ratio == 1.0


def test_missing_c_backend_falls_back_to_the_python_baseline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_codec, "c_codec", None)
    report = _run_quick(("codec b64url_decode 43", "ct_equal"))
    assert report.info["c_extension"] is False
    for group in ("codec b64url_decode 43", "codec ct_equal 32"):
        entries = _entries(report, group)
        assert entries["hemproto C codec"].status == "unavailable"
        python = entries["hemproto Python codec"]
        assert python.baseline and python.ratio == 1.0


def test_a_wrong_entry_is_reported_failed_and_not_timed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def forgetful(token: str, key: bytes) -> dict[str, Any]:
        return {}

    monkeypatch.setattr(cases, "stdlib_verify", forgetful)
    status = cli.main(["bench", "--quick", "--group", "token", "--json"])
    assert status == cli.EXIT_INVALID
    (group,) = json.loads(capsys.readouterr().out)["groups"]
    (entry,) = [entry for entry in group["entries"] if entry["entry"] == "hand-written stdlib"]
    assert entry["status"] == "failed"
    assert entry["median"] is None and entry["ratio"] is None


def test_rounds_and_group_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "--rounds", "2", "--group", "ct_equal", "--json"]) == cli.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["rounds"] == 2
    assert [group["group"] for group in report["groups"]] == ["codec ct_equal 32"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--rounds", "0"], "--rounds must be at least 1"),
        (["--group", "no such group"], "no group matches"),
        (["--plot", "/no/such/directory/bench.png"], "cannot write"),
    ],
)
def test_usage_errors_are_one_line(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if "--plot" in arguments and importlib.util.find_spec("matplotlib") is None:
        message = "install hemproto[plot]"
    assert cli.main(["bench", *arguments]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert message in captured.err and captured.err.count("\n") == 1
    assert captured.out == ""


# What the JSON calls them, in report order: a rename shows here.
TARGET_NAMES = [
    "verify_check / fastest bare X25519",
    "Backend.handle(raw body) / fastest bare X25519",
    "joserfc / verify_ejwt",
    "PyJWT / verify_ejwt",
    "stdlib / C b64url_decode 600",
    "pybase64 / C b64url_decode 600",
    "Python fallback / C decode, slowest size",
    "worst case at the cap / Backend.handle",
    "peak bytes per verify_check",
]


def test_target_names_are_the_goals() -> None:
    assert [goal.name for goal in bench.GOALS] == TARGET_NAMES


def test_json_checks_every_target_it_measured(quick_json: dict[str, Any]) -> None:
    found = {target["name"]: target for target in quick_json["targets"]}
    # A peer or the C codec may be missing; whatever is reported is well formed.
    assert set(found) <= set(TARGET_NAMES)
    assert "verify_check / fastest bare X25519" in found
    for target in found.values():
        assert target["measured"] > 0
        expected = (
            target["measured"] <= target["goal"]
            if target["at_most"]
            else target["measured"] >= target["goal"]
        )
        assert target["met"] is expected


def test_json_reports_every_goal_whose_entries_ran(quick_json: dict[str, Any]) -> None:
    # Which goals a run can check follows from the catalogue and from what ran: a goal is
    # reported exactly when an entry holding it ran, and so did one it is compared with.
    ran = {
        (group["group"], entry["key"])
        for group in quick_json["groups"]
        for entry in group["entries"]
        if entry["status"] == "ok"
    }
    memory_of = bench.memory_groups()
    expected = set()
    for case in bench.all_cases():
        for goal in case.goals:
            group = memory_of[case.group] if goal.memory else case.group
            if (group, case.key) in ran and (
                not goal.versus or any((group, key) in ran for key in goal.versus)
            ):
                expected.add(goal.name)
    found = {target["name"]: target for target in quick_json["targets"]}
    assert set(found) == expected
    # Neither a peer nor the C codec is needed for these four; the codec's need C.
    always = (goals.VERIFY_CHECK_FLOOR, goals.HANDLE_FLOOR, goals.WORST_HANDLE)
    assert {goal.name for goal in (*always, goals.PEAK_VERIFY_CHECK)} <= set(found)
    if quick_json["c_extension"]:
        assert {goals.FALLBACK_DECODE.name, goals.STDLIB_DECODE.name} <= set(found)
    assert [name for name in TARGET_NAMES if name in found] == list(found)  # in GOALS order
    for target in found.values():
        assert (target["group"], target["subject"]) in ran, target
        if target["unit"] == "x":
            assert (target["group"], target["reference"]) in ran, target
        else:
            assert target["reference"] is None


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("verify_check", [goals.VERIFY_CHECK_FLOOR, goals.PEAK_VERIFY_CHECK]),
        ("worst", [goals.WORST_HANDLE]),
    ],
)
def test_one_group_reports_the_goals_its_entries_hold(
    group: str, expected: list[goals.Goal], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["bench", "--quick", "--json", "--group", group]) == cli.EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert [target["name"] for target in report["targets"]] == [goal.name for goal in expected]
    for target, goal in zip(report["targets"], expected, strict=True):
        assert (target["goal"], target["at_most"], target["unit"]) == (
            goal.limit,
            goal.at_most,
            goal.unit,
        )
        (source,) = [g for g in report["groups"] if g["group"] == target["group"]]
        keys = {entry["key"] for entry in source["entries"] if entry["status"] == "ok"}
        assert target["subject"] in keys
        assert target["reference"] is None or target["reference"] in keys


def _entry(key: str, median: float) -> bench.EntryResult:
    return bench.EntryResult(key=key, entry=key, kind="hemproto", status="ok", median=median)


def _report(groups: dict[str, dict[str, float]]) -> bench.Report:
    report = bench.Report(info={})
    for name, medians in groups.items():
        entries = [_entry(key, value) for key, value in medians.items()]
        report.groups.append(bench.GroupResult(name, "ns", None, entries))
    return report


def test_targets_use_the_fastest_floor_and_the_slowest_size() -> None:
    report = _report(
        {
            "checkin verify_check": {
                "verify_check-keypair": 28.0,
                "verify_check-cryptography": 25.0,
                "verify_check-pynacl": 24.0,  # the faster floor is the one that counts
            },
            "codec b64url_decode 43": {"b64url_decode-43-c": 4.0, "b64url_decode-43-python": 3.0},
            "codec b64_decode 600": {"b64_decode-600-c": 1.0, "b64_decode-600-python": 5.0},
            "memory verify_check": {"verify_check-keypair": 20000.0},
        }
    )
    found = {target.name: target for target in bench.targets(report)}
    assert set(found) == {
        "verify_check / fastest bare X25519",
        "Python fallback / C decode, slowest size",
        "peak bytes per verify_check",
    }
    assert found["verify_check / fastest bare X25519"].measured == pytest.approx(28 / 24)
    assert not found["verify_check / fastest bare X25519"].met  # 1.17 > 1.15
    assert found["verify_check / fastest bare X25519"].reference == "verify_check-pynacl"
    fallback = found["Python fallback / C decode, slowest size"]
    assert fallback.measured == pytest.approx(0.75)
    assert (fallback.subject, fallback.reference) == (
        "b64url_decode-43-python",
        "b64url_decode-43-c",
    )
    assert not fallback.met
    assert not found["peak bytes per verify_check"].met
    table = bench.render_targets(report)
    assert table.count(" NO") == 3 and "x1.17" in table


def test_targets_met_are_marked_yes() -> None:
    report = _report(
        {
            "checkin verify_check": {"verify_check-keypair": 27.0, "verify_check-pynacl": 25.0},
            "token verify_ejwt": {
                "verify_ejwt-hemproto": 4.0,
                "verify_ejwt-joserfc": 12.0,
                "verify_ejwt-pyjwt": 40.0,
            },
        }
    )
    found = bench.targets(report)
    assert [target.name for target in found] == [
        "verify_check / fastest bare X25519",
        "joserfc / verify_ejwt",
        "PyJWT / verify_ejwt",
    ]
    assert all(target.met for target in found)
    assert bench.render_targets(report).count(" yes") == 3
    assert bench.render_targets(_report({})) == ""
