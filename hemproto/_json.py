"""Strict JSON for token segments and request bodies: I-JSON (RFC 7493) and a depth cap.

It refuses duplicate member names, NaN/Infinity, numbers outside IEEE double range,
integers beyond 2**53 - 1 in magnitude, invalid UTF-8, surrogates and noncharacters (also
when escaped), and nesting deeper than MAX_DEPTH, raising the caller's error class, in
time linear in the input. It knows nothing about tokens or claims.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

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


class JsonRefused(Exception):
    """Internal: why a text is not acceptable JSON; callers turn it into their own error."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise JsonRefused(f"duplicate member {name!r}")
            seen.add(name)
    return obj


def _constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused(f"number {text[:20]!r} is out of range")
    return value


def _int(text: str) -> int:
    # Length first, so that no huge digit string is ever converted.
    if len(text.lstrip("-")) > 16:
        raise JsonRefused("integer is out of the interoperable range (2**53 - 1)")
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise JsonRefused("integer is out of the interoperable range (2**53 - 1)")
    return value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float, parse_int=_int
)


_scan_once: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


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
                raise JsonRefused(f"nesting deeper than {MAX_DEPTH} at offset {match.start()}")
        elif lexeme == "]" or lexeme == "}":
            depth -= 1


def _check_code_points(text: str, value: Any) -> None:
    # Raw text is valid UTF-8 here, so only noncharacters can be in it, and only if it is not
    # ASCII (an O(1) test); escapes (\uXXXX) can spell anything, so then the parsed strings
    # are checked too. Neither happens in this family's tokens, so this is rarely any work.
    if not text.isascii() and _FORBIDDEN_CODE_POINTS.search(text):
        raise JsonRefused("text holds a noncharacter (RFC 7493 section 2.1)")
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
                raise JsonRefused("a string holds a surrogate or noncharacter (RFC 7493 2.1)")
        elif type(item) is dict:
            stack.extend(item)
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)


def loads_object(data: bytes | str, error: Callable[[str], Exception]) -> dict[str, Any]:
    """Parse ``data`` as one strict JSON object, or raise ``error(reason)``."""
    try:
        text = data if isinstance(data, str) else data.decode("utf-8")
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
