"""The performance goals of ``hemproto bench`` are held by the cases they are about: every
goal has a holder, every entry it is compared with exists in the holder's group, and a
catalogue that loses either is refused. Nothing here runs or times an entry."""

from __future__ import annotations

from dataclasses import replace

import pytest

import hemproto_bench as bench
from hemproto_bench import goals
from hemproto_bench.cases import Case, check_goals


def holders(goal: goals.Goal) -> list[Case]:
    return [case for case in bench.all_cases() if any(g.name == goal.name for g in case.goals)]


@pytest.mark.parametrize("goal", bench.GOALS, ids=lambda goal: goal.name)
def test_every_goal_is_held_and_compared_with_entries_of_its_group(goal: goals.Goal) -> None:
    held = holders(goal)
    assert held, goal.name
    keys = {(case.group, case.key) for case in bench.all_cases()}
    for case in held:
        (attached,) = [g for g in case.goals if g.name == goal.name]
        assert replace(attached, versus=()) == goal  # the limit and direction of GOALS
        assert (case.group, case.key) in keys
        # A ratio has a reference in the same group; a byte count has none.
        assert bool(attached.versus) == (goal.unit == "x")
        for reference in attached.versus:
            assert (case.group, reference) in keys and reference != case.key
        if goal.memory:
            assert case.group in bench.memory_groups()


def test_goal_names_are_distinct() -> None:
    names = [goal.name for goal in bench.GOALS]
    assert len(set(names)) == len(names)


def test_goals_shared_by_many_cases() -> None:
    worst = holders(goals.WORST_HANDLE)
    assert {case.group for case in worst} == {bench.WORST_GROUP}
    assert len(worst) == len(bench.WORST_CASES)  # every hostile input, not the baseline
    fallback = holders(goals.FALLBACK_DECODE)
    assert sorted(case.key for case in fallback) == sorted(
        f"{function}-{size}-python"
        for function, sizes in (("b64url_decode", (43, 600, 6000)), ("b64_decode", (44, 600, 6000)))
        for size in sizes
    )


def test_a_renamed_reference_is_refused() -> None:
    cases = bench.all_cases()
    renamed = [
        replace(case, key="verify_check-nacl") if case.key == "verify_check-pynacl" else case
        for case in cases
    ]
    with pytest.raises(
        ValueError, match=r"verify_check / fastest bare X25519.*verify_check-pynacl"
    ):
        check_goals(renamed)


def test_a_case_that_drops_its_goal_is_refused() -> None:
    cases = [
        replace(case, goals=()) if case.key == "handle-hemproto" else case
        for case in bench.all_cases()
    ]
    with pytest.raises(ValueError, match=r"no case holds.*Backend\.handle\(raw body\)"):
        check_goals(cases)


def test_a_goal_changed_where_it_is_held_is_refused() -> None:
    cases = [
        replace(case, goals=(replace(case.goals[0], limit=9),)) if case.goals else case
        for case in bench.all_cases()
    ]
    with pytest.raises(ValueError, match="not as defined in GOALS"):
        check_goals(cases)


def test_a_memory_goal_needs_a_memory_group() -> None:
    # The scale group's peak bytes are not measured: a memory goal there could never be met.
    cases = [
        replace(case, goals=(goals.PEAK_VERIFY_CHECK,)) if case.key == "scale-1024" else case
        for case in bench.all_cases()
    ]
    with pytest.raises(ValueError, match="'scale verify_ejwt' has no memory group"):
        check_goals(cases)
