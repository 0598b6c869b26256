"""The worst case at the cap: hostile JSON refused exactly as before, decided by the C scan.

With the C codec, _json.loads_object takes the one-pass scan's verdict (csrc/hemjson.h)
instead of running the hooked reference decoder. Every test here holds the two to the same
answer for the same input: the same object, or the same error class with the same message,
on handcrafted texts, generated ones (Hypothesis), the hostile corpus (every case and role)
and the worst-case inputs of ``hemproto bench``. They also check that the C path decides
alone: the reference decoder never runs, and a value other than an object is never built.
No test here times anything; the benchmark group "worst case at the cap" measures.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from _backends import BACKEND_NAMES, require_c_backend
from _hostile_world import HANDLE_ROLES, Outcome, load_corpus, run
from hypothesis import given, settings
from hypothesis import strategies as st

import hemproto
from hemproto import _codec, _json, bench
from hemproto.errors import MalformedToken

MAIN = settings(max_examples=600, deadline=None)
SMALL = settings(max_examples=200, deadline=None)

# 2**1024 - 2**970: the smallest magnitude that a correctly rounded conversion makes an
# infinity (csrc/hemjson.c holds the same 309 digits).
OVERFLOW = str((2**54 - 1) * 2**970)


class Refused(Exception):
    """The error class loads_object is given here: it carries the reason as its message."""


@contextlib.contextmanager
def json_scan(scan: Callable[[bytes], int | None]) -> Iterator[list[str]]:
    """Make ``scan`` the codec's JSON scan; yields the texts the reference decoder ran on."""
    reference_calls: list[str] = []
    reference = _json._strict
    saved = _codec.json_scan

    def spy(text: str) -> Any:
        reference_calls.append(text)
        return reference(text)

    _codec.json_scan = scan
    _json._strict = spy
    try:
        yield reference_calls
    finally:
        _codec.json_scan = saved
        _json._strict = reference


def decide(data: bytes | str, scan: Callable[[bytes], int | None]) -> tuple[tuple[str, str], bool]:
    """(("ok", repr of the object) or ("refused", message), whether the reference ran)."""
    with json_scan(scan) as reference_calls:
        try:
            value = _json.loads_object(data, Refused)
        except Refused as exc:
            result = ("refused", str(exc))
        else:
            # repr, not ==: 1, 1.0 and True are equal but not the same JSON.
            result = ("ok", repr(value))
    return result, bool(reference_calls)


def c_scan() -> Callable[[bytes], int | None]:
    return require_c_backend().json_scan  # type: ignore[no-any-return]


def assert_same(data: bytes | str) -> tuple[str, str]:
    """Both decide ``data`` alike, and the C path never falls back to the reference."""
    by_scan, fell_back = decide(data, c_scan())
    by_reference, _ = decide(data, _codec.python_backend.json_scan)
    assert by_scan == by_reference, data
    # A str the scan cannot take (a lone surrogate has no UTF-8) goes to the reference.
    takes_it = not isinstance(data, str) or not any(0xD800 <= ord(c) < 0xE000 for c in data)
    assert fell_back == (not takes_it), data
    return by_scan


# --- handcrafted -----------------------------------------------------------------------------

HANDCRAFTED: list[bytes | str] = [
    # every JSON type at the top, with and without whitespace
    "{}",
    ' {"a": 1} ',
    "[]",
    '"x"',
    "true",
    "false",
    "null",
    "1",
    "-1.5e3",
    "0.0",
    " [1] ",
    # syntax errors, including those a hook would have met first
    "",
    " ",
    "[1,]",
    '{"a":1,}',
    '{"a" 1}',
    "[1 2]",
    "01",
    "[1.]",
    "1e",
    '"\\x"',
    '"a\tb"',
    '"\\u12G4"',
    "[1,2",
    '{"a":1} x',
    "\ufeff{}",
    b"\xef\xbb\xbf{}",
    # integers
    "[9007199254740991, -9007199254740991]",
    "[9007199254740992]",
    "[-9007199254740992]",
    "[12345678901234567.]",
    "[12345678901234567",
    "[1, 2, 99999999999999999999999999999999999999, 3",
    '{"a": 1' + "1" * 5000 + "}",
    # doubles, at the threshold
    "[1.7976931348623157e308]",
    "[1.7976931348623158e308]",
    "[1.797693134862315807937e308]",
    "[1.797693134862315807938e308]",
    "[1.7976931348623159e308]",
    "[-1e309]",
    "[1e-400, 0e99999, -0.0E+1000]",
    "[" + OVERFLOW + ".0]",
    "[" + str(int(OVERFLOW) - 1) + ".99999]",
    "[0." + OVERFLOW + "e309]",
    "[1e99999999999999999999999]",
    "[1.5, 2.5, 1e999",
    "[1.5, 2.5, 1e999x",
    # NaN and the infinities, where a value starts and elsewhere
    "NaN",
    "[1, Infinity]",
    '{"a": -Infinity}',
    "[NaNx",
    "[Na]",
    "[-Inf]",
    "{NaN: 1}",
    # nesting: 16 deep is allowed, 17 refused wherever it is
    "[" * 16 + "]" * 16,
    "[" * 17 + "]" * 17,
    '{"a":' * 16 + "1" + "}" * 16,
    '{"a":' * 17 + "1" + "}" * 17,
    '["' + "[" * 30 + '"]',
    "x " + "[" * 17,
    "[99999999999999999999, " + "[" * 17,
    "]]]]" + "[" * 21,
    '"\\' + "[" * 20,
    "\u00e9" * 7 + "[" * 17,
    # repeated names
    '{"a":1,"a":2}',
    '{"a":1,"\\u0061":2}',
    '{"\\ud83d\\ude00":1,"\U0001f600":2}',
    '{"\\ud800":1,"\\ud800":2}',
    '{"\\ud800":1,"\\udc00":2}',
    '{"x":{"b":1,"b":2},"x":1}',
    '{"x":1,"y":1,"y":1,"x":1}',
    '{"a":1,"a":2',
    '{"a":1,"a":2,"b":1e999}',
    '[{"a":1,"a":2},1e999]',
    '{"\u00e9\u00e9":1, "\\u00e9\u00e9":2}',
    '{"' + "n" * 5000 + '":1,"' + "n" * 5000 + '":2}',
    "{" + ",".join(f'"k{i}":{i}' for i in range(300)) + ',"k150":0}',
    "{" + ",".join(f'"k{i}":{i}' for i in range(300)) + "}",
    # code points
    '["\ufdd0"]',
    '["\uffff", "\\ud800"]',
    '["\\ud800"]',
    '["\\udc00\\ud800"]',
    '["\\ufdd0"]',
    '["\\ud83f\\udffe"]',
    '["\\ud83d\\ude00"]',
    '{"\\ud83dx": 1}',
    '["\\ud800", 1e999]',
    # invalid UTF-8 and lone surrogates in a str
    b'["\xff"]',
    b'{"a": "\xed\xa0\x80"}',
    b'["ok", "\xc0\x80"]',
    '["\ud800"]',
    '{"\udc80": 1}',
    # longer than the scan's kept work area: a work area of its own
    "[" + ",".join(["{}"] * 9000) + "]",
    "{" + ",".join(f'"k{i}":[]' for i in range(3000)) + ',"k1":0}',
]


@pytest.mark.parametrize("data", HANDCRAFTED, ids=range(len(HANDCRAFTED)))
def test_scan_and_reference_agree(data: bytes | str) -> None:
    assert_same(data)
    if isinstance(data, str):
        try:
            assert_same(data.encode("utf-8"))
        except UnicodeEncodeError:
            pass


def test_the_messages_are_the_references() -> None:
    # A few by hand, so that a change to both paths at once still shows.
    expected = {
        "[1e999]": "refused number '1e999' is out of range",
        "[12345678901234567]": "refused integer is out of the interoperable range (2**53 - 1)",
        "[NaN]": "refused NaN is not JSON",
        "[-Infinity]": "refused -Infinity is not JSON",
        '{"a":1,"\\u0061":2}': "refused duplicate member 'a'",
        "\u00e9 " + "[" * 17: "refused nesting deeper than 16 at offset 18",
        "[1,]": "refused invalid JSON: Expecting value at offset 3",
        "[1]": "refused expected a JSON object, got list",
        "1.5": "refused expected a JSON object, got float",
        "-1": "refused expected a JSON object, got int",
        "false": "refused expected a JSON object, got bool",
        "null": "refused expected a JSON object, got NoneType",
        '"x"': "refused expected a JSON object, got str",
        '["\\ud800"]': "refused a string holds a surrogate or noncharacter (RFC 7493 2.1)",
        '["\ufdd0"]': "refused text holds a noncharacter (RFC 7493 section 2.1)",
    }
    for text, message in expected.items():
        status, reason = assert_same(text.encode())
        assert f"{status} {reason}" == message


def test_a_value_other_than_an_object_is_never_built(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    plain = _json._plain

    def spy(text: str) -> Any:
        built.append(text)
        return plain(text)

    monkeypatch.setattr(_json, "_plain", spy)
    with json_scan(c_scan()):
        for text in (
            "[" + "{}," * 2000 + "{}]",
            '"' + "a" * 5000 + '"',
            "[1," * 3000 + "1" + "]" * 3000,
        ):
            with pytest.raises(Refused):
                _json.loads_object(text.encode(), Refused)
        assert _json.loads_object(b'{"a": [1]}', Refused) == {"a": [1]}
    assert built == ['{"a": [1]}']


def test_each_backend_has_the_scan_it_says() -> None:
    assert _codec.python_backend.json_scan(b"{}") is None
    verdict = c_scan()(b'{"a":[1,2]}')
    assert verdict is not None and verdict & 15 == 0
    assert c_scan()(b'{"a":1,"a":2}') == 7 | 7 << 8
    assert _codec.json_scan is (
        _codec.python_backend.json_scan if hemproto.codec_backend() == "python" else c_scan()
    )


# --- generated -------------------------------------------------------------------------------

# Pieces that reach every rule: numbers at the boundaries, escapes, names that collide only
# once decoded, constants, brackets, non-ASCII and control characters.
PIECES = [
    '"',
    "\\u",
    "\\ud800",
    "\\udc00",
    "\\ud83d\\ude00",
    "\\ufdd0",
    "\\uffff",
    '\\"',
    "\\\\",
    "\\x",
    "NaN",
    "Infinity",
    "-Infinity",
    "Inf",
    "Na",
    "true",
    "false",
    "null",
    "tru",
    "9007199254740991",
    "9007199254740992",
    "-9007199254740992",
    "12345678901234567",
    "1e308",
    "1.8e308",
    "1e400",
    "1.7976931348623157e308",
    "1.7976931348623159e308",
    "0.0",
    "01",
    "1.",
    "1e",
    "1e+",
    "-",
    "-0",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    " ",
    "\n",
    '"a"',
    '"\\u0061"',
    '"a":',
    '"\\u0061":',
    "\u00e9",
    "\ufdd0",
    "\x00",
    "\x1f",
    "\U0001f600",
    '"\U0001f600"',
    '"\\ud83d\\ude00"',
    "[" * 8,
    "]" * 8,
    '{"x":',
    "0",
    "5",
    ".5",
    "e5",
]
piece_soup = st.lists(st.sampled_from(PIECES), max_size=16).map("".join)

json_values = st.recursive(
    st.one_of(
        st.integers(-(2**60), 2**60),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=6),
        st.booleans(),
        st.none(),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(max_size=4), children, max_size=5),
    ),
    max_leaves=30,
)


@st.composite
def edited_json(draw: st.DrawFn) -> str:
    """A JSON text from a random value (escaped or not), with up to three edits: a piece
    inserted, a stretch deleted, a stretch repeated (members repeated too)."""
    text = json.dumps(draw(json_values), ensure_ascii=draw(st.booleans()))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.integers(0, 2))
        if edit == 0:
            text = text[:at] + draw(st.sampled_from(PIECES)) + text[at:]
        elif edit == 1:
            text = text[:at] + text[at + draw(st.integers(1, 4)) :]
        else:
            end = draw(st.integers(at, len(text)))
            text = text[:at] + text[at:end] * 2 + text[at:]
    return text


NAME_FRAGMENTS = [
    "a",
    "b",
    "\\u0061",
    "\\u0000",
    "\u00e9",
    "\\u00e9",
    "\\ud83d\\ude00",
    "\U0001f600",
    "abcdefgh",
    "\\n",
    "\n",
    "\\\\",
    "\\/",
    "/",
    "x" * 9,
    "\\ud800",
    "\\udc00",
]


@st.composite
def big_objects(draw: st.DrawFn) -> str:
    """Objects of 9 to 300 members (the scan sorts their names) whose names are spelled
    from fragments that collide once decoded, sometimes nested in each other."""
    names = draw(
        st.lists(
            st.lists(st.sampled_from(NAME_FRAGMENTS), max_size=4).map("".join),
            min_size=9,
            max_size=300,
        )
    )
    values = ["0", "[]", "{}", '"s"', "1e999", "-1"]
    members = ",".join(f'"{name}":{draw(st.sampled_from(values))}' for name in names)
    text = "{" + members + "}"
    if draw(st.booleans()):
        text = '{"z":' + text + ',"y":[' + text + "]}"
    return text


def _encoded(text: str) -> bytes | str:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text


@MAIN
@given(st.one_of(piece_soup, edited_json()))
def test_generated_texts_agree(text: str) -> None:
    assert_same(_encoded(text))


@SMALL
@given(big_objects())
def test_many_names_agree(text: str) -> None:
    assert_same(_encoded(text))


@SMALL
@given(st.binary(max_size=64), st.sampled_from(["", "[", '{"a":"', '["\\u']))
def test_any_bytes_agree(data: bytes, prefix: str) -> None:
    assert_same(prefix.encode() + data)


@SMALL
@given(st.lists(st.sampled_from(['"', "\\", "[", "]", "{", "}", "a", "\u00e9"]), max_size=60))
def test_bracket_counts_agree(pieces: list[str]) -> None:
    # Brackets inside and outside strings, escaped quotes, unterminated strings: the depth
    # rule counts outside strings over the whole text, whatever its syntax.
    text = "".join(pieces) + "[" * 17
    assert_same(text.encode())


# --- the hostile corpus ----------------------------------------------------------------------


def run_with(
    case: Any,
    role: str,
    backend: SimpleNamespace,
    scan: Callable[[bytes], int | None],
    caplog: pytest.LogCaptureFixture,
) -> tuple[Outcome, list[str]]:
    caplog.clear()
    with json_scan(scan), caplog.at_level(logging.INFO, logger="hemproto"):
        outcome = run(case, role, backend)
    return outcome, [record.getMessage() for record in caplog.records]


def _described(outcome: Outcome) -> tuple[Any, ...]:
    raised = outcome.raised
    if raised is not None:
        return ("raised", type(raised).__name__, str(raised))
    return (
        "returned",
        repr(outcome.returned)
        if outcome.returned is None or isinstance(outcome.returned, tuple)
        else type(outcome.returned).__name__,
    )


CASES = load_corpus()


@pytest.mark.parametrize("backend_name", BACKEND_NAMES)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_corpus_outcomes_do_not_depend_on_the_scan(
    case: Any, backend_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    scan = c_scan()
    backend = require_c_backend() if backend_name == "c" else _codec.python_backend
    for role in case.roles:
        by_scan, logged_by_scan = run_with(case, role, backend, scan, caplog)
        by_reference, logged_by_reference = run_with(
            case, role, backend, _codec.python_backend.json_scan, caplog
        )
        assert _described(by_scan) == _described(by_reference), (case.id, role)
        if role in HANDLE_ROLES:
            assert logged_by_scan == logged_by_reference, (case.id, role)


# --- the worst case at the cap -------------------------------------------------------------


WORST = bench.worst_inputs(bench.shared_corpus())


@pytest.mark.parametrize("key", sorted(WORST))
def test_worst_case_inputs_are_refused_alike_and_decided_by_the_scan(
    key: str, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = bench.shared_corpus()
    data = WORST[key]
    results: list[Any] = []
    for scan in (c_scan(), _codec.python_backend.json_scan):
        caplog.clear()
        with json_scan(scan) as reference_calls, caplog.at_level(logging.INFO, "hemproto"):
            if isinstance(data, str):
                with pytest.raises(hemproto.HemProtoError) as refused:
                    hemproto.verify_check(data, corpus.backend)
                results.append((type(refused.value).__name__, str(refused.value)))
            else:
                backend = hemproto.Backend(corpus.backend, releases=corpus.registry())
                results.append((backend.handle(data), [r.getMessage() for r in caplog.records]))
        if scan is not _codec.python_backend.json_scan:
            assert reference_calls == [], key
    assert results[0] == results[1]
    expected = bench.WORST_CASES[key]
    if isinstance(data, str):
        assert len(data) <= bench.WORST_TOKEN
        assert results[0][0] == expected.error
    else:
        assert len(data) <= bench.WORST_BODY
        assert results[0][0] == (expected.status, None)


def test_worst_case_inputs_fill_the_cap() -> None:
    # Each is within a few bytes of its cap, so that the benchmark measures the worst size.
    for key, data in WORST.items():
        cap = bench.WORST_TOKEN if isinstance(data, str) else bench.WORST_BODY
        assert cap - 40 <= len(data) <= cap, key


def test_a_refused_body_never_turns_into_a_malformed_token_error() -> None:
    # The scan changes how a refusal is found, never whether: a body a strict decoder
    # refuses is still a MalformedToken with the reference's message.
    body = b'{"check": "x", "check": "y"}'
    with pytest.raises(MalformedToken, match="duplicate member 'check'"):
        hemproto.parse_check(body)


def test_the_target_is_the_slowest_hostile_entry_over_the_normal_case() -> None:
    def entry(key: str, median: float) -> bench.EntryResult:
        return bench.EntryResult(key=key, entry=key, kind="hemproto", status="ok", median=median)

    medians = {"worst-handle": 40.0, "worst-body-objects": 50.0, "worst-body-members": 130.0}
    report = bench.Report(info={})
    report.groups.append(
        bench.GroupResult(
            bench.WORST_GROUP, "ns", None, [entry(key, value) for key, value in medians.items()]
        )
    )
    (target,) = bench.targets(report)
    assert target.name == "worst case at the cap / Backend.handle"
    assert target.measured == pytest.approx(130 / 40) and target.goal == 3 and target.at_most
    assert not target.met
    report.groups[0].entries[2].median = 110.0
    assert bench.targets(report)[0].met


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_it_was(enabled: bool) -> None:
    # Large texts are parsed with the cyclic collector paused; whatever the outcome, it is
    # enabled or disabled afterwards exactly as before.
    texts = [
        b'{"a":[' + b"[]," * 3000 + b"[]]}",  # parsed
        b'{"a":[' + b"[]," * 3000 + b"[]],}",  # the plain decoder raises mid-pause
        b'{"a":[' + b"[]," * 3000 + b"1e999]}",  # refused from the verdict
    ]
    was = gc.isenabled()
    try:
        if enabled:
            gc.enable()
        else:
            gc.disable()
        with json_scan(c_scan()):
            for text in texts:
                with contextlib.suppress(Refused):
                    _json.loads_object(text, Refused)
                assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()
