"""The hostile inputs of the worst-case group: each the largest of its shape the backend
still reads (a body of MAX_REQUEST_BODY bytes, a token of MAX_TOKEN_LENGTH characters).

Owns how each input is made and how it must be refused; the entries that time them are in
``cases``. Every input is made once per corpus, on first use.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from hemproto import DEFAULT_HEADER, MAX_REQUEST_BODY, MAX_TOKEN_LENGTH

from .corpus import Corpus, b64url, check_body, fixed_bytes, forge

__all__ = [
    "WORST_BODY",
    "WORST_CASES",
    "WORST_TOKEN",
    "HostileInput",
    "payload_token",
    "worst_inputs",
]

# The largest request body the backend reads, and the longest token verify_check takes.
WORST_BODY = MAX_REQUEST_BODY
WORST_TOKEN = MAX_TOKEN_LENGTH
_ENVELOPE = len(b'{"check":""}')
# Any 32 bytes: the hostile tokens are refused before their MAC is checked, or fail it.
_WORST_SIGNATURE = b64url(fixed_bytes("worst signature", 32))
_HEADER_SEGMENT = b64url(json.dumps(DEFAULT_HEADER, separators=(",", ":")).encode())
# Sixteen arrays deep, the most the strict JSON rules allow.
_DEEP = "[" * 15 + "0" + "]" * 15


def _longest(part: Callable[[int], str], opening: str, closing: str, size: int) -> str:
    """``opening``, then part(0), part(1), ... joined by ',', then ``closing``: the longest
    such text of at most ``size`` bytes of UTF-8."""
    pieces: list[str] = []
    used = len(opening.encode()) + len(closing.encode()) - 1
    for number in itertools.count():
        piece = part(number)
        if used + len(piece.encode()) + 1 > size:
            break
        pieces.append(piece)
        used += len(piece.encode()) + 1
    return opening + ",".join(pieces) + closing


def _short_name(number: int) -> str:
    """Distinct member names, as short as they come: a, b, ..., 9, aa, ab, ..."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    name = alphabet[number % 62]
    while number >= 62:
        number = number // 62 - 1
        name = alphabet[number % 62] + name
    return name


def _escaped(name: str) -> str:
    return "".join(f"\\u{ord(character):04x}" for character in name)


def _header_token(header_json: str) -> str:
    return f"{b64url(header_json.encode())}.e30.{_WORST_SIGNATURE}"


def payload_token(payload_json: str) -> str:
    return f"{_HEADER_SEGMENT}.{b64url(payload_json.encode())}.{_WORST_SIGNATURE}"


def _header_room(token_chars: int) -> int:
    """Bytes of header JSON a token of ``token_chars`` carries, beside payload ``{}``."""
    return (token_chars - len(".e30.") - len(_WORST_SIGNATURE)) * 3 // 4


def _payload_room(token_chars: int) -> int:
    """Bytes of payload JSON a token of ``token_chars`` carries, beside the usual header."""
    return (token_chars - len(_HEADER_SEGMENT) - 2 - len(_WORST_SIGNATURE)) * 3 // 4


def _forged_check(claims: dict[str, Any]) -> str:
    """A check token of ``claims`` MACed with another key, whatever hemproto would sign."""
    return forge(payload_token(json.dumps(claims, separators=(",", ":"))))


def _many_claims(corpus: Corpus) -> bytes:
    """A check with every claim right and as many one-letter extra claims as a body holds,
    MACed with another key: refused for its values, before the payload is built."""
    claims: dict[str, Any] = dict(corpus.claims)
    # Grown in steps of about an eighth of what still fits, then one by one: few signatures.
    number = 0
    while True:
        room = WORST_BODY - len(check_body(_forged_check(claims)))
        step = max(1, room // 70)
        trial = dict(claims)
        for extra in range(number, number + step):
            trial[_short_name(extra)] = 0
        if len(check_body(_forged_check(trial))) > WORST_BODY:
            if step == 1:
                return check_body(_forged_check(claims))
            claims[_short_name(number)] = 0
            number += 1
        else:
            claims, number = trial, number + step


# A double that is slow to convert within the 32 characters hemproto takes: 20 significant
# digits close to halfway between two doubles near 1e-300 (about 0.55 us here, where 1.5
# takes 0.05). Written as it is: json.dumps would write the shortest form instead.
_HARD_FLOAT = "7.4661089480257535180e-301"


def _floats_check(corpus: Corpus, extras: int, values: int) -> bytes:
    """A check with every claim right, ``extras`` extra claims and ``values`` JSON values in
    all, every value beyond the claims a hard float (in one array where the extras run
    out), and a string that fills the body to the cap; MACed with another key."""
    floats = values - len(corpus.claims) - 1 - extras  # less the object and the extras
    members = [f'"{_short_name(number)}":{_HARD_FLOAT}' for number in range(extras - 2)]
    members.append(f'"floats":[{",".join([_HARD_FLOAT] * floats)}]')
    start = json.dumps(corpus.claims, separators=(",", ":"))[:-1] + "," + ",".join(members)

    def body(pad: int) -> bytes:
        return check_body(forge(payload_token(start + ',"pad":"' + "p" * pad + '"}')))

    pad = (WORST_BODY - len(body(0))) * 3 // 4
    while len(body(pad)) > WORST_BODY:
        pad -= 1
    return body(pad)


def _named_members(corpus: Corpus) -> bytes:
    """A body of as many members as a refusal names, each name as long as the body allows
    and written in \\u escapes: every name is decoded to word the refusal."""

    def body(length: int) -> bytes:
        # The first names one character longer than the rest, to come close to the cap.
        names = (
            _escaped(_short_name(number) + "n" * (length // 64 + (number < length % 64)))
            for number in range(64)
        )
        return ("{" + ",".join(f'"{name}":0' for name in names) + "}").encode()

    length = 0
    while len(body(length + 1)) <= WORST_BODY:
        length += 1
    return body(length)


_IN_BODY = WORST_BODY - _ENVELOPE  # token characters a body carries


@dataclass(frozen=True)
class HostileInput:
    """A hostile input at the cap: for Backend.handle (raw body bytes, refused with
    ``status``) or for verify_check (a token, refused with the hemproto ``error``)."""

    label: str
    make: Callable[[Corpus], bytes | str]
    status: int = 400
    error: str = "MalformedToken"


WORST_CASES: dict[str, HostileInput] = {
    "header-objects": HostileInput(
        "header [{},{},...], in a body",
        lambda corpus: check_body(
            _header_token(_longest(lambda _: "{}", "[", "]", _header_room(_IN_BODY)))
        ),
    ),
    "header-objects-token": HostileInput(
        "header [{},{},...], verify_check",
        lambda corpus: _header_token(_longest(lambda _: "{}", "[", "]", _header_room(WORST_TOKEN))),
    ),
    "payload-brackets": HostileInput(
        "payload [[],[],...], in a body",
        lambda corpus: check_body(
            payload_token(_longest(lambda _: "[]", "[", "]", _payload_room(_IN_BODY)))
        ),
    ),
    "payload-brackets-token": HostileInput(
        "payload [[],[],...], verify_check",
        lambda corpus: payload_token(
            _longest(lambda _: "[]", "[", "]", _payload_room(WORST_TOKEN))
        ),
    ),
    "body-objects": HostileInput(
        "body [{},{},...]", lambda corpus: _longest(lambda _: "{}", "[", "]", WORST_BODY).encode()
    ),
    "body-members": HostileInput(
        "body: 1,000 members",
        lambda corpus: _longest(
            lambda number: f'"{_short_name(number)}":0', "{", "}", WORST_BODY
        ).encode(),
    ),
    "payload-members": HostileInput("payload: claims + 700 more, forged MAC", _many_claims),
    "payload-escaped-names-token": HostileInput(
        "payload of \\u-escaped names, verify_check",
        lambda corpus: payload_token(
            _longest(
                lambda number: f'"{_escaped(_short_name(number))}":0',
                "{",
                "}",
                _payload_room(WORST_TOKEN),
            )
        ),
    ),
    # The most a payload within every rule costs: 16 extra claims, 64 values, each value
    # beyond the claims a float that is slow to convert; parsed, then X25519 and the MAC.
    "payload-hard-floats": HostileInput(
        "payload: 16 extras, 64 values, hard floats",
        partial(_floats_check, extras=16, values=64),
        401,
    ),
    # The same values as extra claims: built, then refused for their number.
    "payload-extras": HostileInput(
        "payload: claims + 55 extras, hard floats",
        partial(_floats_check, extras=55, values=64),
    ),
    "body-named-members": HostileInput("body: 64 \\u-escaped names", _named_members),
    "body-escapes": HostileInput(
        "body: a token of \\u0041 escapes",
        lambda corpus: ('{"check":"' + "\\u0041" * (_IN_BODY // 6) + '"}').encode(),
    ),
    "body-integers": HostileInput(
        "body: 3,600 integers",
        lambda corpus: _longest(lambda _: "1", '{"check":[', "]}", WORST_BODY).encode(),
    ),
    "body-floats-last-too-large": HostileInput(
        "body: 1,800 numbers, the last 1e999",
        lambda corpus: _longest(lambda _: "1.5", '{"check":[', ",1e999]}", WORST_BODY).encode(),
    ),
    "body-long-integer": HostileInput(
        "body: a 7,000-digit integer",
        lambda corpus: ('{"check":"x","n":' + "9" * (_IN_BODY - 6) + "}").encode(),
    ),
    "body-long-fraction": HostileInput(
        "body: a 7,000-digit fraction",
        lambda corpus: ('{"n":0.' + "0" * (WORST_BODY - 9) + "1}").encode(),
    ),
    "body-deep-legal": HostileInput(
        "body: 16 deep, over and over",
        lambda corpus: _longest(
            lambda number: f'"{_short_name(number)}":{_DEEP}', "{", "}", WORST_BODY
        ).encode(),
    ),
    # Syntax errors at the very end: worded from the stretch of text around them.
    "body-stray-comma": HostileInput(
        "body: 1,000 numbers, then a stray comma",
        lambda corpus: _longest(lambda _: "1e-300", '{"check":[', ",]}", WORST_BODY).encode(),
    ),
    "body-deep-stray-comma": HostileInput(
        "body: 16 deep, over and over, then a ','",
        lambda corpus: _longest(
            lambda number: f'"{_short_name(number)}":{_DEEP}', "{", ",}", WORST_BODY
        ).encode(),
    ),
}


def worst_inputs(corpus: Corpus) -> dict[str, bytes | str]:
    """The hostile inputs of the worst-case group, by entry key (made once per corpus)."""
    for key, hostile in WORST_CASES.items():
        if key not in corpus.worst:
            corpus.worst[key] = hostile.make(corpus)
    return dict(corpus.worst)
