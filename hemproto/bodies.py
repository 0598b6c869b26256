"""The HTTP bodies that carry the two messages: ``{"check": token}``, ``{"checked": token}``
and any JSON request body, sized before anything in proportion to it is copied or parsed.

It owns the body limits and refusals; what a token or its claims mean is jws's and
claims'. It imports no message, key or token module.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._bytes import BytesLike, byte_length
from ._json import OUTLINE_NAMES, Outline, dumps_compact, loads_object, loads_outline
from .errors import BodyTooLarge, MalformedToken
from .schema import MAX_REQUEST_BODY

__all__ = ["MAX_BODY_LENGTH", "MAX_REQUEST_BODY", "request_object", "unwrap_body"]

# A body that carries a token is refused past this many bytes (characters for a text),
# before it is copied or parsed.
MAX_BODY_LENGTH = 16384
# Parsed JSON values other than an object: well-typed bodies refused as malformed.
_JSON_NON_OBJECTS = (list, int, float, type(None))


def unwrap_body(token_or_body: object, member: str) -> str | BytesLike:
    """Return the token from a token, a body dict ``{member: token}`` or its JSON text.

    A body must be an object with exactly that one string member. A body text is refused by
    its length before it is copied or parsed; a token is left to jws, which does the same.
    """
    if type(token_or_body) is str and token_or_body[:1] != "{":  # the common case, first
        return token_or_body
    body: object = token_or_body
    if isinstance(token_or_body, (str, bytes, bytearray, memoryview)):
        raw = token_or_body
        first = raw[:1]
        if first not in ("{", b"{"):
            return raw
        # Characters for a text, as ever (a text is parsed as it is, never encoded).
        size = len(raw) if isinstance(raw, str) else byte_length(raw)
        if size > MAX_BODY_LENGTH:
            raise MalformedToken(f"body is longer than {MAX_BODY_LENGTH} bytes")
        text = raw if isinstance(raw, str) else bytes(raw)
        # Read as an outline: a body of any other shape is refused without being built.
        outline = loads_outline(text, lambda reason: MalformedToken(f"body: {reason}"))
        return _sole_token(outline, member)
    if not isinstance(body, Mapping):
        raise TypeError(f"expected a token or a body dict, not {type(body).__name__}")
    if len(body) != 1 or member not in body:
        raise _not_the_body(member, len(body), body)
    token = body[member]
    if not isinstance(token, str):
        raise MalformedToken(f"body member {member!r} must be a string")
    return token


def _sole_token(outline: Outline, member: str) -> str:
    """unwrap_body's rule for a body read as an outline: the decision and the message it
    gives the dict the body would have built."""
    if outline.members != 1 or outline.names != (member,):
        raise _not_the_body(member, outline.members, outline.names)
    if outline.sole_string is None:
        raise MalformedToken(f"body member {member!r} must be a string")
    return outline.sole_string


# The members of a refused body are named up to this many (as many as an outline names); a
# larger body is described by its size, since sorting or copying every name of a huge dict
# only to show 100 characters of them would cost what a refusal must not.
_NAMED_MEMBERS = OUTLINE_NAMES
_SHOWN_NAME = 100  # characters of the names shown in all, so of any one name


def _not_the_body(member: str, count: int, names: Iterable[Any] | None) -> MalformedToken:
    """The refusal of a body of ``count`` members other than ``{member: token}``; ``names``
    may be None past _NAMED_MEMBERS."""
    if count > _NAMED_MEMBERS or names is None:
        described = f"{count} members"
    else:
        cut = (name[:_SHOWN_NAME] if isinstance(name, str) else name for name in names)
        shown = ", ".join(sorted(repr(name) for name in cut))[:_SHOWN_NAME]
        described = f"members {shown or 'none'}"
    return MalformedToken(f"body must be {{{member!r}: token}}, got {described}")


def request_object(
    body: object, limit: int = MAX_REQUEST_BODY, *, member: str | None = None
) -> Mapping[str, Any]:
    """A request body, raw (str or bytes) or already parsed, as one JSON object.

    Its size is checked before anything in proportion to it is copied, encoded, serialised
    or parsed (raw text in UTF-8 bytes; a parsed value as the compact JSON that would carry
    it): BodyTooLarge past ``limit``, MalformedToken for anything that is not one strict
    JSON object, TypeError for a non-JSON Python value.

    With ``member`` the body must be exactly ``{member: <string>}``, and anything else is
    refused as unwrap_body refuses it, with its message. A raw body is then read as an
    outline (the C codec builds nothing of a body it refuses) and ``{member: token}`` is
    returned; without ``member`` a raw body is parsed whole, under the JSON value cap.
    """
    if isinstance(body, str):
        if len(body) > limit:  # a character is at least one UTF-8 byte: over already
            raise _text_too_large(body, limit)
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no HTTP body carries it
            raise MalformedToken("request body is not valid Unicode text") from None
    elif isinstance(body, (bytes, bytearray, memoryview)):
        size = byte_length(body)
        if size > limit:
            raise _too_large(size, limit)
        raw = bytes(body)
    elif isinstance(body, (Mapping, *_JSON_NON_OBJECTS)):
        parsed = _parsed_object(body, limit)
        if member is not None:
            unwrap_body(parsed, member)
        return parsed
    else:
        raise TypeError(f"body must be a JSON value, str or bytes, not {type(body).__name__}")
    if len(raw) > limit:
        raise _too_large(len(raw), limit)
    if member is not None:
        outline = loads_outline(raw, lambda reason: MalformedToken(f"request body: {reason}"))
        return {member: _sole_token(outline, member)}
    return loads_object(raw, lambda reason: MalformedToken(f"request body: {reason}"))


def _too_large(size: int, limit: int, *, exact: bool = True) -> BodyTooLarge:
    return BodyTooLarge(
        f"request body of {'' if exact else 'at least '}{size} bytes is over {limit}"
    )


def _exact_size_bound(limit: int) -> int:
    """Up to what size a body over ``limit`` is still measured exactly, for the message:
    learning it costs work in proportion to that size, so beyond it a body is only said
    to be at least so large."""
    return 2 * max(limit, MAX_REQUEST_BODY)


def _text_too_large(text: str, limit: int) -> BodyTooLarge:
    if text.isascii():  # one byte a character, known without looking
        return _too_large(len(text), limit)
    if len(text) <= _exact_size_bound(limit):
        return _too_large(len(text.encode("utf-8", "surrogatepass")), limit)
    return _too_large(len(text), limit, exact=False)


def _parsed_object(body: object, limit: int) -> Mapping[str, Any]:
    """request_object for a parsed value: sized as its compact JSON, without serialising a
    value far over the limit. Within the bound of _exact_size_bound the value is serialised
    as ever, so size, decision and message are exactly those of its compact JSON."""
    bound = _exact_size_bound(limit)
    floor = _json_size_floor(body, bound)
    if floor is not None and floor > bound:
        raise _too_large(floor, limit, exact=False)
    try:
        encoded = dumps_compact(dict(body) if isinstance(body, Mapping) else body)
    except (TypeError, ValueError, RecursionError):
        raise MalformedToken("request body is not JSON") from None
    if len(encoded) > limit:  # ASCII only, so characters are bytes
        raise _too_large(len(encoded), limit)
    if not isinstance(body, Mapping):
        raise MalformedToken(f"request body must be a JSON object, not {type(body).__name__}")
    return body


_END = object()


def _json_size_floor(value: object, stop: int) -> int | None:
    """A lower bound on len(dumps_compact(value)), walked only until it passes ``stop`` (the
    bound so far is returned then); None when dumps_compact refuses the value for its shape:
    it contains itself, or nests deeper than the recursion limit.

    Each value counts the fewest bytes its compact JSON can take (a character or a digit at
    least one, a float three, true and null four) and nothing for a type dumps_compact
    refuses. Every container adds at least two, so the walk ends within ``stop`` steps,
    cycles included, holding one iterator per level it is in.
    """
    deepest = sys.getrecursionlimit()  # dumps_compact counts its nesting against it too
    size = 0
    levels: list[tuple[Iterator[Any], bool, int]] = []
    path: set[int] = set()  # the containers being walked, to tell a cycle from sharing
    item: Any = value
    while True:
        members: Iterator[Any] | None = None
        mapping = False
        if isinstance(item, str):
            size += len(item) + 2
        elif isinstance(item, (list, tuple)):
            members = iter(item)
            size += 2 + max(len(item) - 1, 0)  # brackets and commas
        elif isinstance(item, dict) or (item is value and isinstance(item, Mapping)):
            members, mapping = iter(item.items()), True
            size += (1 + 2 * len(item)) if item else 2  # braces, colons and commas
        elif isinstance(item, bool) or item is None:
            size += 4
        elif isinstance(item, int):
            # At least floor(log10(2) * (bits - 1)) + 1 digits, and a sign; never converted.
            size += (item < 0) + max(1, (item.bit_length() - 1) * 3 // 10 + 1)
        elif isinstance(item, float):
            size += 3
        if members is not None:
            if id(item) in path or len(levels) >= deepest:
                return None
            path.add(id(item))
            levels.append((members, mapping, id(item)))
        if size > stop:
            return size
        while levels:
            iterator, in_mapping, container = levels[-1]
            entry: Any = next(iterator, _END)
            if entry is _END:
                levels.pop()
                path.discard(container)
                continue
            if in_mapping:
                name, item = entry
                size += len(name) + 2 if isinstance(name, str) else 2  # a name is quoted
            else:
                item = entry
            break
        else:
            return size
