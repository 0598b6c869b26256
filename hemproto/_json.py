"""Strict JSON for token segments and request bodies: I-JSON (RFC 7493) and two size caps.

It refuses duplicate member names, NaN/Infinity, numbers outside IEEE double range,
integers beyond 2**53 - 1 in magnitude, other numbers longer than MAX_FLOAT_LENGTH, invalid
UTF-8, surrogates and noncharacters (also when escaped), nesting deeper than MAX_DEPTH and,
for an object it builds, more than MAX_VALUES values, raising the caller's error class, in
time linear in the input. It knows nothing about tokens or claims.

The strict decoder below (hooks on every value, a depth lexer) is the reference. With the
C codec, a one-pass scan (csrc/hemjson.h) first says what is in the text: a clean text goes
to the standard decoder without hooks, a refused one is worded from the scan's verdict, a
text over the value cap is refused by the scan's count, each with the reference's exact
error, so that nothing over the cap is ever built. loads_outline reads an object's top
level from the scan alone (member count, names, the one string member), for a caller that
decides from that whether to want the object at all.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import _codec

__all__ = [
    "MAX_DEPTH",
    "MAX_FLOAT_LENGTH",
    "MAX_SAFE_INTEGER",
    "MAX_VALUES",
    "OUTLINE_NAMES",
    "JsonRefused",
    "Outline",
    "dumps_compact",
    "loads_object",
    "loads_outline",
]

MAX_DEPTH = 16
MAX_SAFE_INTEGER = 2**53 - 1
# Characters of a number with a fraction or an exponent (HEM_JSON_MAX_FLOAT_LEN). A double
# holds 17 significant digits; converting a longer literal exactly takes up to 25 us.
MAX_FLOAT_LENGTH = 32
# Values (objects, arrays, strings, numbers, literals; member names are not values) in one
# object loads_object builds. A check carries 9, a reply at most 9, a header 4. The cap
# bounds what a hostile text costs to build (about 0.5 us a value at worst: a float that is
# hard to round), whatever its length up to the caps on that.
MAX_VALUES = 64
# An outline names the members of an object with at most this many (HEM_JSON_OUTLINE_MEMBERS).
OUTLINE_NAMES = 64

# One lexeme at a time for the exact depth scan: a JSON string (skipped whole, possibly
# unterminated), a run of other characters, or a bracket. The possessive quantifiers never
# give back what they took and every match consumes at least one character, so a scan is
# linear even on hostile text (many escaped quotes and no closing one).
_LEXEME = re.compile(r'"(?:[^"\\]++|\\.)*+"?|[^"\[\]{}]++|[\[\]{}]', re.DOTALL)
# RFC 7493 section 2.1: no surrogates and no noncharacters, escaped or not.
_FORBIDDEN_CODE_POINTS = re.compile(
    "[\ud800-\udfff\ufdd0-\ufdef"
    + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17))
    + "]"
)
# A number as the standard decoder reads it (ASCII digits only), to word a refused one.
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")

# The scan's verdict, packed by the C codec as kind | flags << 4 | offset << 8 at the head of
# what _codec.json_scan returns (then values, members, a syntax error's context and resume
# offset, and each member's name and value offsets when there are at most OUTLINE_NAMES);
# the kinds, flags and contexts are csrc/hemjson.h's HEM_JSON_* values.
_CLEAN, _UTF8, _DEPTH, _SYNTAX, _INTEGER, _NUMBER_RANGE, _CONSTANT, _DUPLICATE = range(8)
_RAW_NONCHARACTER = 1
_ESCAPED_FORBIDDEN = 2
_VALUES, _MEMBERS, _CONTEXT, _RESUME, _LOCATED = 1, 2, 3, 4, 5  # indexes into a scan
# What stands for the innermost unfinished thing before a syntax error's resume offset, by
# context (HEM_JSON_IN_TOP .. HEM_JSON_AFTER_MEMBER): a value that no text after it extends.
_RESUME_PREFIXES = ("", "null", "[", "[null,", "[null", "{", '{"":null,', '{"":null')

# Every message below is bounded whatever the input: a name or a number is cut short.
_NAME_SHOWN = 40
_CONSTANTS = {"N": "NaN", "I": "Infinity", "-": "-Infinity"}  # by their first character
_INTEGER_RANGE = "integer is out of the interoperable range (2**53 - 1)"
_RAW_NONCHARACTER_MESSAGE = "text holds a noncharacter (RFC 7493 section 2.1)"
_ESCAPED_MESSAGE = "a string holds a surrogate or noncharacter (RFC 7493 2.1)"


class JsonRefused(Exception):
    """Internal: why a text is not acceptable JSON; callers turn it into their own error."""


@dataclass(frozen=True, slots=True)
class Outline:
    """The top level of a strict JSON object, as loads_outline reads it.

    ``members`` counts its members; ``names`` are their names in text order when there are
    at most OUTLINE_NAMES (else None); ``sole_string`` is the value of its only member when
    it has exactly one and that value is a string (else None).
    """

    members: int
    names: tuple[str, ...] | None
    sole_string: str | None


def _duplicate(name: str) -> JsonRefused:
    # Cut before repr (a long name costs nothing to show) and after (escapes lengthen it).
    return JsonRefused(f"duplicate member {repr(name[:_NAME_SHOWN])[: 2 * _NAME_SHOWN]}")


def _out_of_range(literal: str) -> JsonRefused:
    return JsonRefused(f"number {literal[:20]!r} is out of range")


def _too_long(literal: str) -> JsonRefused:
    return JsonRefused(f"number {literal[:20]!r} is longer than {MAX_FLOAT_LENGTH} characters")


def _too_many_values(count: int) -> JsonRefused:
    return JsonRefused(f"text holds {count} values, more than {MAX_VALUES}")


def _not_an_object(type_name: str) -> JsonRefused:
    return JsonRefused(f"expected a JSON object, got {type_name}")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _duplicate(name)
            seen.add(name)
    return obj


def _constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not JSON")


def _float(text: str) -> float:
    # Length first, so that no long literal is ever converted.
    if len(text) > MAX_FLOAT_LENGTH:
        raise _too_long(text)
    value = float(text)
    if not math.isfinite(value):
        raise _out_of_range(text)
    return value


def _int(text: str) -> int:
    # Length first, so that no huge digit string is ever converted.
    if len(text.lstrip("-")) > 16:
        raise JsonRefused(_INTEGER_RANGE)
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise JsonRefused(_INTEGER_RANGE)
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float, parse_int=_int
)
# For texts the scan found clean: every hook above would return what the default does.
# Nothing over MAX_VALUES is built, so no parse makes enough containers to set off more than
# a young collection of the cyclic collector.
_PLAIN = json.JSONDecoder()

_scan_once: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_plain_scan_once: Callable[[str, int], tuple[Any, int]] = _PLAIN.scan_once  # type: ignore[attr-defined]
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


def _check_depth(text: str) -> None:
    # Fast paths: a flat object (one '{', no '['), or fewer brackets than the cap, cannot
    # nest deeper than it. Substring search is much cheaper than counting.
    if "[" not in text and text.find("{", 1) < 0:
        return
    if text.count("{") + text.count("[") <= MAX_DEPTH:
        return
    depth = 0
    for match in _LEXEME.finditer(text):
        lexeme = match.group()
        if lexeme == "[" or lexeme == "{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(match.start())
        elif lexeme == "]" or lexeme == "}":
            depth -= 1


def _too_deep(offset: int) -> JsonRefused:
    return JsonRefused(f"nesting deeper than {MAX_DEPTH} at offset {offset}")


def _check_code_points(text: str, value: Any) -> None:
    # Raw text is valid UTF-8 here, so only noncharacters can be in it, and only if it is not
    # ASCII (an O(1) test); escapes (\uXXXX) can spell anything, so then the parsed strings
    # are checked too. Neither happens in this family's tokens, so this is rarely any work.
    if not text.isascii() and _FORBIDDEN_CODE_POINTS.search(text):
        raise JsonRefused(_RAW_NONCHARACTER_MESSAGE)
    # A one-character search is a memchr; the two-character one is far slower, so it only
    # runs when there is a backslash at all.
    if "\\" in text and "\\u" in text:
        _check_strings(value)


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is str:
            if not item.isascii() and _FORBIDDEN_CODE_POINTS.search(item):
                raise JsonRefused(_ESCAPED_MESSAGE)
        elif type(item) is dict:
            stack.extend(item)
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)


def _strict(text: str) -> Any:
    """The reference: every rule checked by the decoder's hooks and the depth lexer."""
    # _check_depth's first fast path, inlined: a flat object needs no scan at all.
    if "[" in text or text.find("{", 1) >= 0:
        _check_depth(text)
    try:
        # One scan from offset 0 skips decode()'s two whitespace scans; anything it does
        # not take whole (leading or trailing whitespace, extra data, errors) goes the
        # full way, which also words the error.
        value, end = _scan_once(text, 0)
    except (StopIteration, json.JSONDecodeError):
        end = -1
    if end != len(text):
        value = _DECODER.decode(text)
    if not text.isascii() or "\\" in text:
        _check_code_points(text, value)
    return value


def _count_values(value: Any) -> int:
    """The values in a parsed JSON value, as the scan counts them (names are not values)."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        count += 1
        if type(item) is dict:
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return count


def _plain(text: str) -> Any:
    """The standard decoder without hooks, called as _strict calls the strict one."""
    try:
        value, end = _plain_scan_once(text, 0)
    except (StopIteration, json.JSONDecodeError):
        end = -1
    if end != len(text):
        value = _PLAIN.decode(text)
    return value


# The type of a JSON value by its first character, when it is not an object or a number
# (the type is all that is said of a value other than an object).
_TYPE_NAMES = {"[": "list", '"': "str", "t": "bool", "f": "bool", "n": "NoneType"}


def _type_name(text: str, offset: int) -> str:
    """The type name of the clean value at ``offset``, without building it."""
    name = _TYPE_NAMES.get(text[offset])
    if name is not None:
        return name
    literal = _NUMBER.match(text, offset)
    return "float" if literal is None or literal.group().strip("-0123456789") else "int"


def _char_offset(text: str, raw: bytes, offset: int) -> int:
    # The scan counts bytes, the decoder characters; they differ only past non-ASCII text.
    return offset if len(raw) == len(text) else len(raw[:offset].decode("utf-8"))


def _syntax_error(text: str, raw: bytes, scanned: list[int]) -> None:
    """Raise the plain decoder's own error for a text the scan found not to be JSON, from
    the short text the scan's context describes (csrc/hemjson.h): what stands for the
    innermost unfinished thing, then the text from where it began. Its error is the whole
    text's, shifted; no value that was complete before it is read again, let alone built
    (a text of a thousand values and a stray comma at its end costs what the comma does).
    Returns only should the short text not fail.
    """
    context, resume = scanned[_CONTEXT], scanned[_RESUME]
    if context == 0:  # the top-level value itself: no container, nothing built before it
        _PLAIN.decode(text)
        return
    prefix = _RESUME_PREFIXES[context]
    start = _char_offset(text, raw, resume)
    try:
        _PLAIN.decode(prefix + text[start:])
    except json.JSONDecodeError as exc:
        raise json.JSONDecodeError(exc.msg, text, exc.pos - len(prefix) + start) from None


def _first_of_clean(text: str, raw: bytes, scanned: list[int]) -> str | None:
    """The first character of the value of a text the scan found clean; for any other
    verdict, _strict's error for ``text`` (UTF-8 ``raw``), raised.

    A strict decoder meets the verdict's event first (csrc/hemjson.h), so: a clean text
    parses the same without hooks, but for the code points it holds; a syntax error is the
    plain decoder's own, as no hook would have refused anything before it; any other
    refusal is worded directly. None only should the scan and the reference ever disagree
    (differential tests hold them together): the caller then lets the reference decide.
    """
    verdict = scanned[0]
    kind = verdict & 15
    if kind == _CLEAN:
        if verdict & _RAW_NONCHARACTER << 4:
            raise JsonRefused(_RAW_NONCHARACTER_MESSAGE)
        if verdict & _ESCAPED_FORBIDDEN << 4:
            raise JsonRefused(_ESCAPED_MESSAGE)
        # Leading whitespace is ASCII: the scan's offset of the value is a character one.
        return text[verdict >> 8]
    if kind == _SYNTAX:
        _syntax_error(text, raw, scanned)
    elif kind == _INTEGER:
        raise JsonRefused(_INTEGER_RANGE)
    elif kind != _UTF8:
        at = _char_offset(text, raw, verdict >> 8)
        if kind == _DEPTH:
            raise _too_deep(at)
        if kind == _NUMBER_RANGE:
            match = _NUMBER.match(text, at)
            if match is not None:
                literal = match.group()
                if len(literal) > MAX_FLOAT_LENGTH:
                    raise _too_long(literal)
                raise _out_of_range(literal)
        elif kind == _CONSTANT:
            raise JsonRefused(f"{_CONSTANTS[text[at]]} is not JSON")
        elif kind == _DUPLICATE:
            raise _duplicate(_scanstring(text, at + 1)[0])
    return None


def _scanned_object(text: str, raw: bytes, scanned: list[int]) -> dict[str, Any]:
    """_reference_object's result from the C scan of ``text``: only a clean object within
    the value cap is built; anything else is refused by the scan's verdict and count."""
    first = _first_of_clean(text, raw, scanned)
    if first is None:
        return _reference_object(text)
    if first != "{":
        raise _not_an_object(_type_name(text, scanned[0] >> 8))
    if scanned[_VALUES] > MAX_VALUES:
        raise _too_many_values(scanned[_VALUES])
    return _plain(text)  # type: ignore[no-any-return]


def _reference_object(text: str) -> dict[str, Any]:
    """The reference: parse with every rule, then the type and the value cap."""
    value = _strict(text)
    if type(value) is not dict:
        raise _not_an_object(type(value).__name__)
    count = _count_values(value)
    if count > MAX_VALUES:
        raise _too_many_values(count)
    return value


def _scanned_outline(text: str, raw: bytes, scanned: list[int]) -> Outline:
    """_reference_outline's result from the C scan of ``text``, building no value but the
    sole string and no name past the outline's: a name or string is decoded from the text
    where the scan located it."""
    first = _first_of_clean(text, raw, scanned)
    if first is None:
        return _reference_outline(text)
    if first != "{":
        raise _not_an_object(_type_name(text, scanned[0] >> 8))
    members = scanned[_MEMBERS]
    located = scanned[_LOCATED:]  # name and value offsets, in pairs, up to OUTLINE_NAMES
    ascii = len(raw) == len(text)

    def string_at(offset: int, end: int) -> str:
        # Byte offsets are character offsets in ASCII; elsewhere the string is decoded from
        # its own bytes (a quote and a value start are ASCII, so the slice is whole UTF-8).
        if ascii:
            return _scanstring(text, offset + 1)[0]
        return _scanstring(raw[offset:end].decode("utf-8"), 1)[0]

    names = None
    if members <= OUTLINE_NAMES:
        names = tuple(string_at(located[k], located[k + 1]) for k in range(0, len(located), 2))
    sole_string = None
    if members == 1 and raw[located[1]] == 0x22:  # a '"': the value is a string
        sole_string = string_at(located[1], len(raw))
    return Outline(members, names, sole_string)


def _reference_outline(text: str) -> Outline:
    """The reference: build the object with every rule, then read its top level."""
    value = _strict(text)
    if type(value) is not dict:
        raise _not_an_object(type(value).__name__)
    sole = next(iter(value.values())) if len(value) == 1 else None
    return Outline(
        len(value),
        tuple(value) if len(value) <= OUTLINE_NAMES else None,
        sole if type(sole) is str else None,
    )


def _decide(
    data: bytes | str,
    error: Callable[[str], Exception],
    scanned: Callable[[str, bytes, list[int]], Any],
    reference: Callable[[str], Any],
) -> Any:
    """``scanned`` on the C scan of ``data``, or ``reference`` when there is none; any
    refusal raised as ``error(reason)``."""
    try:
        raw: bytes | None
        if isinstance(data, str):
            text = data
            try:
                raw = text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: only the reference words it
                raw = None
        else:
            raw = data if type(data) is bytes else bytes(data)
            text = raw.decode("utf-8")
        if raw is not None and (scan := _codec.json_scan(raw)) is not None:
            return scanned(text, raw, scan)
        return reference(text)
    except UnicodeDecodeError as exc:
        raise error(f"invalid UTF-8 at byte {exc.start}") from None
    except JsonRefused as exc:
        raise error(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise error(f"invalid JSON: {exc.msg} at offset {exc.pos}") from None
    except (ValueError, RecursionError) as exc:
        raise error(f"invalid JSON: {type(exc).__name__}") from None


def loads_object(data: bytes | str, error: Callable[[str], Exception]) -> dict[str, Any]:
    """Parse ``data`` as one strict JSON object of at most MAX_VALUES values, or raise
    ``error(reason)``."""
    return _decide(data, error, _scanned_object, _reference_object)  # type: ignore[no-any-return]


def loads_outline(data: bytes | str, error: Callable[[str], Exception]) -> Outline:
    """The top level of ``data`` as one strict JSON object, or ``error(reason)`` raised as
    loads_object raises it. There is no value cap here: with the C codec nothing is built
    but what the Outline holds, so a caller can refuse any object by its top level for the
    cost of the scan. The Python codec builds the object, and reads the same outline."""
    return _decide(data, error, _scanned_outline, _reference_outline)  # type: ignore[no-any-return]


def dumps_compact(value: Any) -> str:
    """Compact JSON, members in insertion order, ASCII only, no NaN."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)
