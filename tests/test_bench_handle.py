"""hemproto bench's Backend.handle entry: the raw bytes of a device's body, a distinct
check each call, timed beside the bare X25519 floors; and its target against the faster."""

from __future__ import annotations

import pytest

import hemproto_bench as bench
from hemproto.claims import device_check_parts

GROUP = "checkin Backend.answer"


def handle_case() -> bench.Case:
    (case,) = [case for case in bench.all_cases() if case.key == "handle-hemproto"]
    return case


def test_the_entry_sits_beside_the_floors_it_is_compared_with() -> None:
    case = handle_case()
    assert (case.group, case.kind, case.rank) == (GROUP, "hemproto", 1)
    keys = {c.key for c in bench.all_cases() if c.group == GROUP}
    assert {"answer-hemproto", "answer-cryptography", "answer-pynacl"} <= keys


def test_each_call_gets_a_distinct_device_body_as_raw_bytes() -> None:
    subject = handle_case().build(bench.shared_corpus())
    assert subject.fresh is not None and subject.args == ()
    bodies = subject.fresh(5)
    assert len(set(bodies)) == 5
    for body in bodies:
        # Exactly what a device sends: the one-step way applies to it.
        assert type(body) is bytes and body.startswith(b'{"check":"') and body.endswith(b'"}')
        assert device_check_parts(body[10:-2].decode()) is not None
    subject.prove()
    status, reply = subject.call(bodies[0])
    assert status == 200 and set(reply) == {"checked"}
    assert subject.call(bodies[0]) == (401, None)  # a replay: why each call needs a new one


def report(medians: dict[str, float]) -> bench.Report:
    entries = [
        bench.EntryResult(key=key, entry=key, kind="hemproto", status="ok", median=median)
        for key, median in medians.items()
    ]
    result = bench.Report(info={})
    result.groups.append(bench.GroupResult(GROUP, "ns", None, entries))
    return result


@pytest.mark.parametrize(
    "medians, ratio, met",
    [
        ({"handle-hemproto": 29.0, "answer-cryptography": 25.0, "answer-pynacl": 27.0}, 1.16, True),
        (
            {"handle-hemproto": 31.0, "answer-cryptography": 25.0, "answer-pynacl": 24.0},
            1.2917,
            False,
        ),
        ({"handle-hemproto": 30.0, "answer-pynacl": 25.0}, 1.2, True),
    ],
)
def test_the_target_divides_by_the_faster_floor(
    medians: dict[str, float], ratio: float, met: bool
) -> None:
    found = {target.name: target for target in bench.targets(report(medians))}
    target = found["Backend.handle(raw body) / fastest bare X25519"]
    assert target.measured == pytest.approx(ratio, abs=1e-4)
    assert (target.goal, target.at_most, target.met) == (1.2, True, met)


def test_no_target_without_the_entry_or_a_floor() -> None:
    for medians in ({"answer-cryptography": 25.0}, {"handle-hemproto": 29.0}):
        names = [target.name for target in bench.targets(report(medians))]
        assert "Backend.handle(raw body) / fastest bare X25519" not in names
