"""The hostile corpus: every case in tests/hostile/ refused by every role it names, under both
codecs, with the expected error, in bounded time, leaving the role's state as it was.

The case format is described in tests/hostile/README.md and read by _hostile_world. A case
that fails here is a finding: the corpus states what must happen, the library is what
changes.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from _both_codecs import CODEC_NAMES, get_codec, require_c_env
from _hostile_world import (
    CODEC_ATTRIBUTES,
    CORPUS,
    HANDLE_ROLES,
    ROLES,
    Case,
    Outcome,
    World,
    codec_list,
    load_corpus,
    problems,
    run,
    validate,
)
from conftest import load_vector

import hemproto
from hemproto import _codec, backend, cbor, claims, device, jws, releases, replay, x25519

CASES = load_corpus()
# Generous: the corpus refuses in well under a second; only a hang or a blow-up in cost
# can come near this.
CORPUS_HANG_GUARD_SECONDS = 5.0
# The corpus stays small enough to read and review; generated sizes come from recipes.
CORPUS_SIZE_LIMIT = 400_000


def case_params() -> list[Any]:
    return [
        pytest.param(case, role, name, id=f"{case.id}-{role}-{name}")
        for case in CASES
        for role in case.roles
        for name in CODEC_NAMES
    ]


# --- the corpus itself ----------------------------------------------------------------------


def test_corpus_is_large_and_well_formed() -> None:
    assert len(CASES) >= 80
    for case in CASES:
        validate(case)
    numbers = Counter(case.id.split("_", 1)[0] for case in CASES)
    assert [number for number, count in numbers.items() if count > 1] == []
    files = list(CORPUS.iterdir())
    assert {path.name for path in files} == {case.path.name for case in CASES} | {"README.md"}
    assert sum(path.stat().st_size for path in files) < CORPUS_SIZE_LIMIT


def test_every_role_is_exercised_many_times() -> None:
    counts = Counter(role for case in CASES for role in case.roles)
    assert {role: counts[role] >= 40 for role in ROLES} == dict.fromkeys(ROLES, True), counts


def test_every_small_order_point_is_a_case() -> None:
    points = {point["u"] for point in load_vector("rfc7748.json")["all_zero_output"]["points"]}
    covered = set()
    for case in CASES:
        issuer = case.input.get("recipe", {}).get("claims_patch", {}).get("iss")
        if isinstance(issuer, dict) and "$bytes" in issuer and "verify_check" in case.expect:
            assert case.expect["verify_check"]["error"] == "KeyAgreementError", case.id
            assert case.expect["backend"]["status"] == 401, case.id
            covered.add(issuer["$bytes"])
    assert covered == points


# --- the machinery is sound: only the rule under test refuses ---------------------------------


def base_case(deliver: str) -> Case:
    """The recipe with nothing changed: the valid message each role expects."""
    return Case(
        path=Path("000_unmodified.json"),
        name="unmodified",
        description="a valid input",
        input={"recipe": {}, "deliver": deliver},
        expect={},
    )


@pytest.mark.parametrize("backend_name", CODEC_NAMES)
@pytest.mark.parametrize("deliver", ["token", "token_bytes", "body", "body_text", "body_bytes"])
@pytest.mark.parametrize("role", ROLES)
def test_the_unmodified_recipe_is_accepted(role: str, deliver: str, backend_name: str) -> None:
    outcome = run(base_case(deliver), role, get_codec(backend_name))
    assert outcome.raised is None, outcome.raised
    if role in HANDLE_ROLES:
        status, body = outcome.returned
        assert status == 200, outcome.returned
        assert body is not None
    elif role == "verify_check":
        assert isinstance(outcome.returned, hemproto.CheckChallenge)
    else:
        assert isinstance(outcome.returned, hemproto.CheckedReply)


def test_the_roles_look_the_codec_up_at_call_time() -> None:
    # Swapping _codec's attributes reaches a module only if it never bound the functions
    # under its own names at import time.
    codec_functions = {
        id(getattr(namespace, name)) for namespace in codec_list() for name in CODEC_ATTRIBUTES
    }
    for module in (jws, claims, device, backend, cbor, releases, replay, x25519):
        for name in CODEC_ATTRIBUTES:
            bound = getattr(module, name, None)
            assert bound is None or id(bound) not in codec_functions, f"{module.__name__}.{name}"


@pytest.mark.parametrize("role", ROLES)
def test_the_swapped_codec_is_the_one_the_roles_call(role: str) -> None:
    calls: Counter[str] = Counter()

    def counting(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            calls[name] += 1
            return function(*args)

        return call

    python = _codec.python_codec
    spy = SimpleNamespace(
        name="counting",
        **{name: counting(name, getattr(python, name)) for name in CODEC_ATTRIBUTES},
    )
    outcome = run(base_case("token"), role, spy)
    assert outcome.raised is None
    if role in ("verify_check", "backend"):
        # A check in the device's exact shape is decoded by one scan, not split.
        assert calls["scan_check"] >= 1
    else:
        # Canonical claims take a standard-library fast path; the token split always runs.
        assert calls["split_token"] >= 1
    if role != "parse_checked":  # the only role that checks no MAC
        assert calls["hs256_verify"] >= 1


# --- the corpus, case by case ---------------------------------------------------------------


def describe(case: Case, role: str, outcome: Outcome, found: list[str]) -> str:
    lines = [f"{case.id} ({case.description}) on {role}:", *(f"  - {item}" for item in found)]
    if outcome.raised is not None and outcome.raised.__traceback__ is not None:
        lines.append(f"  raised: {type(outcome.raised).__name__}: {str(outcome.raised)[:300]}")
    return "\n".join(lines)


@pytest.mark.parametrize("case, role, backend_name", case_params())
def test_hostile_case(case: Case, role: str, backend_name: str) -> None:
    outcome = run(case, role, get_codec(backend_name))
    found = problems(case, role, outcome)
    assert not found, describe(case, role, outcome, found)


# --- bounded time -----------------------------------------------------------------------------


def test_the_whole_corpus_is_refused_in_bounded_time(capsys: pytest.CaptureFixture[str]) -> None:
    """A hang and complexity guard, not a performance test: the bound is generous, and the
    measured time is printed for the record. Correctness is test_hostile_case's business;
    here each role call is only timed."""
    backends = [_codec.python_codec]
    if _codec.c_codec is not None:
        backends.insert(0, _codec.c_codec)
    elif require_c_env():
        pytest.fail("HEMPROTO_REQUIRE_C=1 but the C extension hemproto._hemcodec is not built")
    timings: list[tuple[float, str]] = []
    start = time.perf_counter()
    for case in CASES:
        for role in case.roles:
            for namespace in backends:
                outcome = run(case, role, namespace)
                timings.append((outcome.seconds, f"{case.id} {role} {namespace.name}"))
    wall = time.perf_counter() - start
    in_roles = sum(seconds for seconds, _ in timings)
    slowest = sorted(timings, reverse=True)[:5]
    with capsys.disabled():
        print(
            f"\nhostile corpus: {len(CASES)} cases, {len(timings)} role calls on "
            f"{'+'.join(namespace.name for namespace in backends)} codecs: "
            f"{in_roles:.3f} s in the roles, {wall:.3f} s with building and setup"
        )
        for seconds, what in slowest:
            print(f"  {seconds * 1000:8.2f} ms  {what}")
    assert in_roles < CORPUS_HANG_GUARD_SECONDS


def best_time(function: Callable[[], object], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


# Body shapes whose refusal cost must grow with their size, not with its square. Each ends
# in 17 open brackets, one over the nesting limit, so the depth scan reads the whole body.
SHAPES: dict[str, Callable[[str, int], str]] = {
    "unterminated escaped quotes": lambda member, n: f'{{"{member}":"' + '\\"' * n + "[" * 17,
    "closed string of escaped quotes": lambda member, n: (
        f'{{"{member}":"' + '\\"' * (n - 1) + '",' + '"x":' + "[" * 17
    ),
    "many empty strings": lambda member, n: f'{{"{member}":[' + '"",' * (n * 2 // 3) + "[" * 17,
    "unterminated plain string": lambda member, n: f'{{"{member}":"' + "x" * (2 * n) + "[" * 17,
}
# (role, member, small n, large n): the large body stays within what the role reads.
ENTRIES = {
    "verify_check": ("check", 500, 4000),
    "parse_checked": ("checked", 500, 4000),
    "backend": ("check", 400, 3200),
    "device": ("checked", 400, 3200),
}


@pytest.mark.parametrize("role", ENTRIES)
@pytest.mark.parametrize("shape", SHAPES)
def test_refusal_cost_grows_linearly_with_the_body(shape: str, role: str) -> None:
    """A complexity guard: eight times the input may cost about eight times the time, never
    sixty-four. The slack (twice linear, plus 2 ms) absorbs timer noise on tiny inputs."""
    member, small, large = ENTRIES[role]
    world = World.create(role)
    bodies = [SHAPES[shape](member, n) for n in (small, large)]

    def refuse(body: str) -> Callable[[], object]:
        def call() -> object:
            try:
                return world.call(body)
            except hemproto.HemProtoError as exc:
                return exc

        return call

    for body in bodies:
        result = refuse(body)()
        refused = isinstance(result, hemproto.HemProtoError) or result == (400, None)
        assert refused, f"{shape} ({len(body)} bytes) was not refused: {result!r}"
    small_time, large_time = (best_time(refuse(body)) for body in bodies)
    assert large_time <= 16 * small_time + 0.002, (
        f"{shape} on {role}: {len(bodies[0])} bytes took {small_time * 1000:.2f} ms, "
        f"{len(bodies[1])} bytes took {large_time * 1000:.2f} ms "
        f"({large_time / small_time:.1f}x for 8x the input)"
    )


def test_case_files_are_plain_json() -> None:
    # Each file reads back to the same value: no comments, no trailing commas, UTF-8.
    for case in CASES:
        text = case.path.read_text(encoding="utf-8")
        assert json.loads(text)["name"] == case.name
