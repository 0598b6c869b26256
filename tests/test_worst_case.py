"""The worst case at the cap: hostile JSON refused exactly as before, decided by the C scan.

With the C codec, _json.loads_object and loads_outline take the one-pass scan's verdict and
outline (csrc/hemjson.h) instead of running the hooked reference decoder. Every test here
holds the two to the same answer for the same input: the same object or outline, or the
same error class with the same message, on handcrafted texts, generated ones (Hypothesis),
the hostile corpus (every case and role) and the worst-case inputs of ``hemproto bench``.
They also check that the C path decides alone: the reference decoder never runs, a value
other than an object is never built, an outline builds nothing, a text over the value cap
is not built, and a syntax error is worded without reading again what came before it. Then
the rules that bound what a check costs: the value cap, the float length, and at most
MAX_EXTRA_CLAIMS extra claims in a check or a reply, on both codecs.
No test here times anything; the benchmark group "worst case at the cap" measures.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from _both_codecs import CODEC_NAMES, get_codec, require_c_codec
from _hostile_world import HANDLE_ROLES, Outcome, codec, load_corpus, run
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import hemproto
import hemproto_bench as bench
from hemproto import _codec, _json, claims
from hemproto.errors import ClaimError, MalformedToken
from hemproto_bench.corpus import OTHER_MAC_KEY, b64, forge
from hemproto_bench.worst import payload_token

MAIN = settings(max_examples=600, deadline=None)
SMALL = settings(max_examples=200, deadline=None)

# 2**1024 - 2**970: the smallest magnitude that a correctly rounded conversion makes an
# infinity (csrc/hemjson.c holds the same 309 digits).
OVERFLOW = str((2**54 - 1) * 2**970)


class Refused(Exception):
    """The error class loads_object is given here: it carries the reason as its message."""


Scan = Callable[[bytes], "list[int] | None"]


@contextlib.contextmanager
def json_scan(scan: Scan) -> Iterator[list[str]]:
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


def decide(
    data: bytes | str, scan: Scan, load: Callable[..., Any] = _json.loads_object
) -> tuple[tuple[str, str], bool]:
    """(("ok", repr of the object or outline) or ("refused", message), whether the
    reference ran), for ``load`` (loads_object or loads_outline)."""
    with json_scan(scan) as reference_calls:
        try:
            value = load(data, Refused)
        except Refused as exc:
            result = ("refused", str(exc))
        else:
            # repr, not ==: 1, 1.0 and True are equal but not the same JSON.
            result = ("ok", repr(value))
    return result, bool(reference_calls)


def c_scan() -> Scan:
    return require_c_codec().json_scan  # type: ignore[no-any-return]


@contextlib.contextmanager
def nothing_built() -> Iterator[None]:
    """Fail if the plain decoder builds a whole text meanwhile."""
    built: list[str] = []
    plain = _json._plain

    def spy(text: str) -> Any:
        built.append(text)
        return plain(text)

    _json._plain = spy
    try:
        yield
    finally:
        _json._plain = plain
    assert built == []


def assert_same(data: bytes | str) -> tuple[str, str]:
    """Both decide ``data`` alike, for an object and for an outline, and the C path never
    falls back to the reference; its outline builds nothing."""
    by_scan, fell_back = decide(data, c_scan())
    by_reference, _ = decide(data, _codec.python_codec.json_scan)
    assert by_scan == by_reference, data
    # A str the scan cannot take (a lone surrogate has no UTF-8) goes to the reference.
    takes_it = not isinstance(data, str) or not any(0xD800 <= ord(c) < 0xE000 for c in data)
    assert fell_back == (not takes_it), data
    with nothing_built():
        outline_by_scan, outline_fell_back = decide(data, c_scan(), _json.loads_outline)
    outline_by_reference, _ = decide(data, _codec.python_codec.json_scan, _json.loads_outline)
    assert outline_by_scan == outline_by_reference, data
    assert outline_fell_back == (not takes_it), data
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
    # the value cap: 64 values are built, 65 are not (names are not values)
    '{"a":[' + ",".join(["0"] * 62) + "]}",
    '{"a":[' + ",".join(["0"] * 63) + "]}",
    "{" + ",".join(f'"k{i}":{{}}' for i in range(63)) + "}",
    "{" + ",".join(f'"k{i}":{{}}' for i in range(64)) + "}",
    '{"a":[' + ",".join(["[[[[[[[[[[[[[[0]]]]]]]]]]]]]]"] * 5) + "]}",
    # a clean text over the cap that is not an object, and one with a repeat: those first
    "[" + ",".join(["0"] * 100) + "]",
    '{"a":[' + ",".join(["0"] * 100) + '],"a":1}',
    # floats: 32 characters are converted, 33 are not; integers are not floats
    "[-0.00000000000000000000000000001]",
    "[-0.000000000000000000000000000001]",
    '{"a":[1.234567890123456789012345678e-5, 1.2345678901234567890123456789e-5]}',
    "[1e-00000000000000000000000000000005]",
    "[1, 0.5, 0.00000000000000000000000000000000005x",
    "[7.4661089480257535180e-301, 2.2250738585072012595738211e-308]",
    # syntax errors in every context, after many values (read again only from the context)
    "[" + "1," * 500 + "]",
    "[" + "1," * 500 + "1 2]",
    "[" + "1," * 500 + "[1,2] 3]",
    "[" + "1," * 500 + "1.e5]",
    "[" + "1," * 500 + "-]",
    "[" + '"\\u00e9",' * 200 + '"\\x"]',
    '{"a":[' + "1," * 500 + '1],"b" 1}',
    '{"a":[' + "1," * 500 + '1],"b":tru}',
    '{"a":[' + "1," * 500 + "1],}",
    '{"a":[' + "1," * 500 + "1] x}",
    '{"a":[' + "1," * 500 + "1]}}",
    '{"a":[' + "1," * 500 + '1]} {"b":1}',
    '{"a":{"b":[' + "{}," * 300 + '{"c":1 "d":2}]}}',
    '{"a":{"b":[' + "{}," * 300 + '{"c":1,"d":2},\n ]}}',
    '{"\u00e9":[' + "1," * 200 + '"\u00e9" 1]}',
    '["\u00e9\u00e9", {"\u00e9": [1, 2' + ",3" * 100 + "] ,}]",
    '  {"a" : [ 1 , 2 , { } ] , "b" : ] }  ',
    "[1," * 15 + "1" + "]" * 14 + ",,",
    # outlines: no member, one, the one string (escaped, non-ASCII), past the names shown
    '{"check":"a.b.c"}',
    '{"check":"\\u0041\\u00e9\u00e9\\ud83d\\ude00"}',
    '{ "\u00e9" : "\u00e9" }',
    '{"check":1}',
    '{"check":["a"]}',
    '{"check":null}',
    '{"check":"x","\\u0063heck":"y"}',
    "{" + ",".join(f'"{chr(0x41 + i % 26) * (i + 1)}":{i}' for i in range(64)) + "}",
    "{" + ",".join(f'"\\u00{0x41 + i % 26:02x}{i}":{i}' for i in range(65)) + "}",
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
        '{"a":[' + "0," * 63 + "0]}": "refused text holds 66 values, more than 64",
        "[0.0000000000000000000000000000000001]": "refused number "
        "'0.000000000000000000' is longer than 32 characters",
        '{"a":[' + "1," * 500 + "1] x}": "refused invalid JSON: "
        "Expecting ',' delimiter at offset 1009",
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
    assert _codec.python_codec.json_scan(b"{}") is None
    # verdict, values, members, context, resume, then name and value offsets
    assert c_scan()(b'{"a":[1,2], "b" : 0}') == [0, 5, 2, 0, 0, 1, 5, 12, 18]
    assert c_scan()(b'{"a":1,"a":2}') == [7 | 7 << 8, 0, 0, 0, 0]
    assert c_scan()(b"[1,2 3]") == [3 | 5 << 8, 0, 0, 4, 4]
    many = c_scan()(("{" + ",".join(f'"k{i}":0' for i in range(65)) + "}").encode())
    assert many == [0, 66, 65, 0, 0]  # more members than an outline locates: none located
    assert _codec.json_scan is (
        _codec.python_codec.json_scan if hemproto.active_codec() == "python" else c_scan()
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
    codec: SimpleNamespace,
    scan: Callable[[bytes], int | None],
    caplog: pytest.LogCaptureFixture,
) -> tuple[Outcome, list[str]]:
    caplog.clear()
    with json_scan(scan), caplog.at_level(logging.INFO, logger="hemproto"):
        outcome = run(case, role, codec)
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


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_corpus_outcomes_do_not_depend_on_the_scan(
    case: Any, codec_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    scan = c_scan()
    codec = require_c_codec() if codec_name == "c" else _codec.python_codec
    for role in case.roles:
        by_scan, logged_by_scan = run_with(case, role, codec, scan, caplog)
        by_reference, logged_by_reference = run_with(
            case, role, codec, _codec.python_codec.json_scan, caplog
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
    for scan in (c_scan(), _codec.python_codec.json_scan):
        caplog.clear()
        with json_scan(scan) as reference_calls, caplog.at_level(logging.INFO, "hemproto"):
            if isinstance(data, str):
                with pytest.raises(hemproto.HemProtoError) as refused:
                    hemproto.verify_check(data, corpus.backend)
                results.append((type(refused.value).__name__, str(refused.value)))
            else:
                backend = hemproto.Backend(corpus.backend, releases=corpus.registry())
                results.append((backend.handle(data), [r.getMessage() for r in caplog.records]))
        if scan is not _codec.python_codec.json_scan:
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


# --- syntax errors -----------------------------------------------------------------------------


class RecordingDecoder(json.JSONDecoder):
    """The plain decoder, noting how far it read each text it was given before it failed."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[int] = []

    def decode(self, s: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().decode(s, *args, **kwargs)
        except json.JSONDecodeError as exc:
            self.read.append(exc.pos)
            raise


@pytest.mark.parametrize(
    "text",
    [
        "[" + "1," * 3000 + "]",
        '{"check":[' + "[[[[[[[[[[[[[[0]]]]]]]]]]]]]]," * 200 + "[],}",
        '{"a":' + '{"b":[1,2,3],"c":' * 14 + "[" + "1e-300," * 500 + "}",
        '{"a":' + '{"b":[1,2,3],' * 14 + '"c":[' + "1e-300," * 500 + "}",
        '{"check":["' + "\\u00e9" * 1000 + '"] x',
        '{"check":' + "[1," * 15 + ",".join(["1"] * 2000) + "]" * 15 + "}}",
    ],
)
def test_a_syntax_error_reads_again_only_its_own_context(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What stands for the context, then the text from where it began: the values that were
    # complete before the error are neither read again nor built.
    decoder = RecordingDecoder()
    monkeypatch.setattr(_json, "_PLAIN", decoder)
    with json_scan(c_scan()) as reference_calls, nothing_built():
        with pytest.raises(Refused, match="invalid JSON: "):
            _json.loads_object(text.encode(), Refused)
    assert reference_calls == []
    assert len(decoder.read) == 1 and decoder.read[0] < 40, decoder.read
    monkeypatch.undo()
    assert_same(text.encode())


# --- outlines, and bodies refused from them ----------------------------------------------------


def body_refusal(call: Callable[[], object]) -> tuple[str, str]:
    try:
        result = call()
    except (MalformedToken, TypeError) as exc:
        return type(exc).__name__, str(exc)
    return "accepted", repr(result)


names = st.text(st.characters(blacklist_categories=["Cs"]), max_size=120)
body_dicts = st.dictionaries(
    names | st.sampled_from(["check", "checked", "\\x00"]),
    st.none() | st.integers(-5, 5) | names | st.lists(st.integers(0, 3), max_size=3),
    max_size=80,
)


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
@SMALL
@given(body=body_dicts, ascii_only=st.booleans(), spaced=st.booleans())
def test_a_body_text_is_refused_as_its_dict_is(
    codec_name: str, body: dict[str, Any], ascii_only: bool, spaced: bool
) -> None:
    # unwrap_body and request_object(member=...) read a body text as an outline; their
    # decision and message are those the dict it spells gets, on both codecs.
    # A surrogate or noncharacter has no acceptable JSON spelling (RFC 7493 section 2.1):
    # such a text is refused as JSON, whatever its dict would get.
    assume(not _json._FORBIDDEN_CODE_POINTS.search(json.dumps(body, ensure_ascii=False)))
    backend = get_codec(codec_name)
    separators = (", ", " : ") if spaced else (",", ":")
    text = json.dumps(body, ensure_ascii=ascii_only, separators=separators)
    raw = text.encode("utf-8")
    by_dict = body_refusal(lambda: claims.unwrap_body(body, "check"))
    with codec(backend), json_scan(backend.json_scan):
        for data in (text, raw, bytearray(raw), memoryview(raw)):
            assert body_refusal(lambda data=data: claims.unwrap_body(data, "check")) == by_dict
        if len(raw) <= claims.MAX_REQUEST_BODY:
            by_request = body_refusal(lambda: claims.request_object(raw, member="check")["check"])
            assert by_request == by_dict


def test_the_refusal_of_a_body_names_its_members_as_ever() -> None:
    bodies = {
        b"{}": "body must be {'check': token}, got members none",
        b'{"check": "x", "a": 1}': "body must be {'check': token}, got members 'a', 'check'",
        b'{"checked":"x"}': "body must be {'check': token}, got members 'checked'",
        ("{" + ",".join(f'"{n}":{n}' for n in range(64)) + "}").encode(): (
            "body must be {'check': token}, got members "
            + ", ".join(sorted(repr(str(n)) for n in range(64)))[:100]
        ),
        ("{" + ",".join(f'"{n}":{n}' for n in range(65)) + "}").encode(): (
            "body must be {'check': token}, got 65 members"
        ),
        b'{"\\u0063heck": 1}': "body member 'check' must be a string",
        b'{"check": ["x"]}': "body member 'check' must be a string",
        ('{"' + "\u00e9" * 300 + '":0}').encode(): (
            "body must be {'check': token}, got members " + repr("\u00e9" * 100)[:100]
        ),
    }
    for scan in (c_scan(), _codec.python_codec.json_scan):
        with json_scan(scan):
            for body, message in bodies.items():
                assert body_refusal(lambda body=body: claims.unwrap_body(body, "check")) == (
                    "MalformedToken",
                    message,
                )
            token = claims.unwrap_body(b'{ "check" : "\\u0041.b\xc3\xa9" }', "check")
            assert token == "A.b\u00e9"


def test_a_refused_body_is_never_built() -> None:
    # The backend's body, whatever its shape, goes from the scan's outline to its refusal:
    # neither the plain decoder nor the reference builds it.
    corpus = bench.shared_corpus()
    backend = hemproto.Backend(corpus.backend, releases=corpus.registry())
    inputs = bench.worst_inputs(corpus)
    bodies = [
        inputs["body-members"],
        inputs["body-integers"],
        inputs["body-deep-legal"],
        inputs["body-named-members"],
        b'{"check":"x","n":' + b"[" * 15 + b"1" + b"]" * 15 + b"}",
    ]
    with json_scan(c_scan()) as reference_calls, nothing_built():
        for body in bodies:
            result = backend.process(body)
            assert result.status == 400
            assert result.reason.startswith("MalformedToken: body"), result.reason
    assert reference_calls == []


# --- the rules that bound a check ------------------------------------------------------------


def checked_claims(corpus: bench.Corpus) -> dict[str, Any]:
    return {
        "jti": corpus.claims["jti"],
        "iss": corpus.claims["aud"],
        "aud": corpus.claims["iss"],
        "iat": 1764000000,
        "act": "OK",
    }


def with_extras(base: dict[str, Any], count: int) -> dict[str, Any]:
    return {**base, **{f"x{number:02d}": number for number in range(count)}}


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
def test_a_check_or_reply_carries_at_most_16_extra_claims(codec_name: str) -> None:
    backend = get_codec(codec_name)
    corpus = bench.shared_corpus()
    assert claims.MAX_EXTRA_CLAIMS == 16
    with codec(backend), json_scan(backend.json_scan):
        check = hemproto.sign_ejwt(with_extras(corpus.claims, 16), corpus.mac_key)
        challenge = hemproto.verify_check(check, corpus.backend)
        assert list(challenge.extra) == [f"x{number:02d}" for number in range(16)]
        reply = hemproto.sign_ejwt(with_extras(checked_claims(corpus), 16), corpus.mac_key)
        assert len(hemproto.parse_checked(reply).extra) == 16

        over = hemproto.sign_ejwt(with_extras(corpus.claims, 17), corpus.mac_key)
        with pytest.raises(ClaimError) as refused:
            hemproto.verify_check(over, corpus.backend)
        assert str(refused.value) == "check carries 17 claims beyond its own, more than 16"
        assert refused.value.claim == "x16"  # the first one past the limit
        reply = hemproto.sign_ejwt(with_extras(checked_claims(corpus), 40), corpus.mac_key)
        with pytest.raises(ClaimError) as refused:
            hemproto.parse_checked(reply)
        assert str(refused.value) == "reply carries 40 claims beyond its own, more than 16"
        assert refused.value.claim == "x16"


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
def test_too_many_extras_are_refused_before_any_key_work(codec_name: str) -> None:
    # Addressed to a key the backend does not hold and MACed with another: the count is
    # what is refused, before the key is looked up, so before any X25519 or MAC.
    backend = get_codec(codec_name)
    corpus = bench.shared_corpus()
    payload = {**with_extras(corpus.claims, 17), "aud": b64(bytes(range(1, 33)))}
    body = json.dumps({"check": hemproto.sign_ejwt(payload, OTHER_MAC_KEY)}).encode()
    with codec(backend), json_scan(backend.json_scan):
        result = hemproto.Backend(corpus.backend).process(body)
    assert (result.status, result.reason) == (
        400,
        "ClaimError: check carries 17 claims beyond its own, more than 16",
    )


def test_hemproto_never_signs_what_it_would_refuse() -> None:
    corpus = bench.shared_corpus()
    fields = {name: corpus.fields[name] for name in ("qid", "fws", "bls", "csn", "uis", "jti")}
    extra = {f"x{number:02d}": number for number in range(17)}
    with pytest.raises(ClaimError, match="check carries 17 claims beyond its own"):
        hemproto.sign_check(corpus.device, corpus.backend.public, **fields, extra=extra)
    with pytest.raises(ClaimError, match="reply carries 17 claims beyond its own"):
        hemproto.sign_checked(
            corpus.mac_key,
            jti=corpus.fields["jti"],
            iss=corpus.backend.public,
            aud=corpus.device.public,
            iat=1764000000,
            act="OK",
            extra=extra,
        )
    # Nor a token over the JSON value cap.
    with pytest.raises(MalformedToken, match="text holds 65 values, more than 64"):
        hemproto.sign_ejwt({"a": list(range(63))}, corpus.mac_key)


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
def test_a_token_over_the_value_cap_is_refused_before_it_is_built(codec_name: str) -> None:
    backend = get_codec(codec_name)
    corpus = bench.shared_corpus()
    payload = json.dumps({**corpus.claims, "x": list(range(55))}, separators=(",", ":"))
    token = forge(payload_token(payload))
    with codec(backend), json_scan(backend.json_scan) as reference_calls, nothing_built():
        with pytest.raises(MalformedToken) as refused:
            hemproto.verify_check(token, corpus.backend)
    assert str(refused.value) == "payload segment: text holds 65 values, more than 64"
    assert refused.value.segment == "payload"
    # The C scan counts them; only the Python codec builds the payload to count.
    assert bool(reference_calls) == (codec_name == "python")
