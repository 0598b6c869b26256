"""Strict JSON for token segments and request bodies: I-JSON (RFC 7493) and a depth cap.

It refuses duplicate member names, NaN/Infinity, numbers outside IEEE double range,
integers beyond 2**53 - 1 in magnitude, invalid UTF-8, surrogates and noncharacters (also
when escaped), and nesting deeper than MAX_DEPTH, raising the caller's error class, in
time linear in the input. It knows nothing about tokens or claims.

The strict decoder below (hooks on every value, a depth lexer) is the reference. With the
C codec, a one-pass scan (csrc/hemjson.h) first says what is in the text: a clean text goes
to the standard decoder without hooks, a refused one is worded from the scan's verdict,
each with the reference's exact error, so no body costs more than a plain parse.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Callable
from typing import Any

from . import _codec

__all__ = ["MAX_DEPTH", "MAX_SAFE_INTEGER", "JsonRefused", "dumps_compact", "loads_object"]

MAX_DEPTH = 16
MAX_SAFE_INTEGER = 2**53 - 1

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

# The scan's verdict, packed by the C codec as kind | flags << 4 | offset << 8; the kinds and
# flags are csrc/hemjson.h's HEM_JSON_* values.
_CLEAN, _UTF8, _DEPTH, _SYNTAX, _INTEGER, _NUMBER_RANGE, _CONSTANT, _DUPLICATE = range(8)
_RAW_NONCHARACTER = 1
_ESCAPED_FORBIDDEN = 2

# Every message below is bounded whatever the input: a name or a number is cut short.
_NAME_SHOWN = 40
_CONSTANTS = {"N": "NaN", "I": "Infinity", "-": "-Infinity"}  # by their first character
_INTEGER_RANGE = "integer is out of the interoperable range (2**53 - 1)"
_RAW_NONCHARACTER_MESSAGE = "text holds a noncharacter (RFC 7493 section 2.1)"
_ESCAPED_MESSAGE = "a string holds a surrogate or noncharacter (RFC 7493 2.1)"


class JsonRefused(Exception):
    """Internal: why a text is not acceptable JSON; callers turn it into their own error."""


def _duplicate(name: str) -> JsonRefused:
    # Cut before repr (a long name costs nothing to show) and after (escapes lengthen it).
    return JsonRefused(f"duplicate member {repr(name[:_NAME_SHOWN])[: 2 * _NAME_SHOWN]}")


def _out_of_range(literal: str) -> JsonRefused:
    return JsonRefused(f"number {literal[:20]!r} is out of range")


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
_PLAIN = json.JSONDecoder()
# Texts from this many characters are parsed with the cyclic collector paused (_plain).
_GC_PAUSE_TEXT = 2048

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


def _plain(text: str) -> Any:
    """The standard decoder without hooks, called as _strict calls the strict one."""
    if len(text) < _GC_PAUSE_TEXT or not gc.isenabled():
        return _plain_parse(text)
    # Building thousands of containers at once sets off the cyclic collector mid-parse,
    # then its older generations over the whole heap: on a 7 KB body of nested arrays that
    # costs more than the parse, and more in a larger process. JSON values hold no cycles,
    # so the collector would find nothing; the parse holds the GIL throughout.
    gc.disable()
    try:
        return _plain_parse(text)
    finally:
        gc.enable()


def _plain_parse(text: str) -> Any:
    try:
        value, end = _plain_scan_once(text, 0)
    except (StopIteration, json.JSONDecodeError):
        end = -1
    if end != len(text):
        value = _PLAIN.decode(text)
    return value


# A value of the right type for each first character of a JSON value that is not an object
# or a number (the type is all loads_object reports of those).
_STAND_INS: dict[str, Any] = {"[": [], '"': "", "t": True, "f": False, "n": None}


def _number_stand_in(text: str, offset: int) -> int | float:
    literal = _NUMBER.match(text, offset)
    return 0.0 if literal is None or literal.group().strip("-0123456789") else 0


def _char_offset(text: str, raw: bytes, offset: int) -> int:
    # The scan counts bytes, the decoder characters; they differ only past non-ASCII text.
    return offset if len(raw) == len(text) else len(raw[:offset].decode("utf-8"))


def _scanned(text: str, raw: bytes, verdict: int) -> Any:
    """_strict's result for ``text`` (UTF-8 ``raw``) from the C scan's verdict on it, except
    that a value other than an object comes back as a stand-in of its type.

    A strict decoder meets the verdict's event first (csrc/hemjson.h), so: a clean text
    parses the same without hooks; a syntax error is the plain decoder's own, as no hook
    would have refused anything before it; any other refusal is worded directly.
    """
    kind = verdict & 15
    if kind == _CLEAN:
        if verdict & _RAW_NONCHARACTER << 4:
            raise JsonRefused(_RAW_NONCHARACTER_MESSAGE)
        if verdict & _ESCAPED_FORBIDDEN << 4:
            raise JsonRefused(_ESCAPED_MESSAGE)
        # Leading whitespace is ASCII: the scan's offset of the value is a character one.
        first = text[verdict >> 8]
        if first != "{":
            # Only an object is ever returned: for anything else the caller needs its type
            # alone, which the first character says; building it could cost far more.
            if first in _STAND_INS:
                return _STAND_INS[first]
            return _number_stand_in(text, verdict >> 8)
        return _plain(text)
    if kind == _SYNTAX:
        _plain(text)  # raises JSONDecodeError, worded by the caller
    elif kind == _INTEGER:
        raise JsonRefused(_INTEGER_RANGE)
    elif kind != _UTF8:
        at = _char_offset(text, raw, verdict >> 8)
        if kind == _DEPTH:
            raise _too_deep(at)
        if kind == _NUMBER_RANGE:
            match = _NUMBER.match(text, at)
            if match is not None:
                raise _out_of_range(match.group())
        elif kind == _CONSTANT:
            raise JsonRefused(f"{_CONSTANTS[text[at]]} is not JSON")
        elif kind == _DUPLICATE:
            raise _duplicate(_scanstring(text, at + 1)[0])
    # Unreachable when the scan and the decoders agree (differential tests); should they
    # ever not, the reference decides.
    return _strict(text)


def loads_object(data: bytes | str, error: Callable[[str], Exception]) -> dict[str, Any]:
    """Parse ``data`` as one strict JSON object, or raise ``error(reason)``."""
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
        if raw is not None and (verdict := _codec.json_scan(raw)) is not None:
            value = _scanned(text, raw, verdict)
        else:
            value = _strict(text)
    except UnicodeDecodeError as exc:
        raise error(f"invalid UTF-8 at byte {exc.start}") from None
    except JsonRefused as exc:
        raise error(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise error(f"invalid JSON: {exc.msg} at offset {exc.pos}") from None
    except (ValueError, RecursionError) as exc:
        raise error(f"invalid JSON: {type(exc).__name__}") from None
    if type(value) is not dict:
        raise error(f"expected a JSON object, got {type(value).__name__}")
    return value


def dumps_compact(value: Any) -> str:
    """Compact JSON, members in insertion order, ASCII only, no NaN."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)
