"""The check scan takes a token's bytes as it takes the token (the backend scans the slice of
a device's body without decoding it): the same answer from both codecs, for the same text,
and a refusal for bytes no ASCII text has."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from _both_codecs import CODEC_NAMES, get_codec
from hypothesis import given, settings
from hypothesis import strategies as st

from hemproto import _pycodec, schema


@pytest.fixture(params=CODEC_NAMES)
def codec(request: pytest.FixtureRequest) -> SimpleNamespace:
    return get_codec(request.param)


def variants(token: str) -> list[str]:
    head, payload, signature = token.split(".")
    return [
        token,
        f"{head}.{payload}.{signature[:-1]}A",  # another signature: still the shape
        f"{head}.{payload[:-1]}.{signature}",  # the payload cut short: not the shape
        f"{head}.{payload}",
        token + ".",
        token.replace(".", "-", 1),
        "",
        "a" * (schema.CHECK_MAX_LENGTH + 1),
    ]


def test_bytes_are_scanned_as_the_text_they_spell(codec: SimpleNamespace, make_check: Any) -> None:
    matched = 0
    for uis in (True, False):
        for text in variants(make_check() if uis else make_check(uis=None)):
            by_text = codec.scan_check(text)
            assert codec.scan_check(text.encode("ascii")) == by_text, text[:40]
            assert _pycodec.scan_check(text.encode("ascii")) == by_text
            matched += by_text is not None
    assert matched == 4  # the token and its other signature, with and without uis


def test_bytes_outside_ascii_are_refused(codec: SimpleNamespace, make_check: Any) -> None:
    token = make_check().encode("ascii")
    for position in (0, 10, len(token) // 2, len(token) - 1):
        for byte in (0x80, 0xC3, 0xFF):
            changed = token[:position] + bytes([byte]) + token[position + 1 :]
            assert codec.scan_check(changed) is None


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=800))
def test_any_bytes_get_the_same_answer_from_both(data: bytes) -> None:
    answers = [get_codec(name).scan_check(data) for name in CODEC_NAMES]
    assert answers[0] == answers[-1]
    if answers[0] is not None:
        assert answers[0] == _pycodec.scan_check(data.decode("ascii"))
