"""The reply written whole by the codec (csrc/hemreply.h, the reference in _pycodec): the C
functions and the reference give the same tokens and refuse the same fields, the token is
the one the general path signs, and the MAC-checked form answers only a matching MAC."""

from __future__ import annotations

import hmac
from types import SimpleNamespace
from typing import Any

import pytest
from _both_codecs import CODEC_NAMES, get_codec, require_c_codec
from hypothesis import given, settings
from hypothesis import strategies as st

import hemproto
from hemproto import _codec, _fastpath, _pycodec
from hemproto.claims import ACTIONS, MAX_CERTIFICATE_SIZE, CheckedReply
from hemproto.jws import _DEFAULT_HEADER_SEGMENT, MAX_TOKEN_LENGTH, sign_ejwt

HEADER = _DEFAULT_HEADER_SEGMENT.encode("ascii")
MAIN = settings(max_examples=400, deadline=None)

keys = st.binary(min_size=32, max_size=32)
reply_fields = st.fixed_dictionaries(
    {
        "jti": keys,
        "iss": keys,
        "aud": keys,
        "iat": st.integers(min_value=0, max_value=2**53 - 1) | st.sampled_from([0, 9, 10, 99]),
        "act": st.sampled_from(ACTIONS),
        "crt": st.none() | st.binary(min_size=1, max_size=MAX_CERTIFICATE_SIZE),
        "newfws": st.none() | st.binary(min_size=64, max_size=64),
        "newuis": st.none() | st.binary(min_size=32, max_size=32),
    }
)
ORDER = ("jti", "iss", "aud", "iat", "act", "crt", "newfws", "newuis")


def c_functions() -> SimpleNamespace:
    """The C functions themselves, whichever the C codec serves (without the CPU's SHA
    extensions it serves the reference)."""
    c = require_c_codec()
    return SimpleNamespace(checked_sign=c.c_checked_sign, check_answer=c.c_check_answer)


IMPLEMENTATIONS = {
    "c": c_functions,
    "python": lambda: SimpleNamespace(
        checked_sign=_pycodec.checked_sign, check_answer=_pycodec.check_answer
    ),
}


@pytest.fixture(params=list(IMPLEMENTATIONS))
def impl(request: pytest.FixtureRequest) -> SimpleNamespace:
    return IMPLEMENTATIONS[request.param]()  # type: ignore[no-any-return]


def positional(fields: dict[str, Any]) -> list[Any]:
    return [fields[name] for name in ORDER]


def general(key: bytes, fields: dict[str, Any]) -> str:
    reply = CheckedReply(token="", **fields)
    return sign_ejwt(reply.to_dict(), key)


def valid() -> dict[str, Any]:
    return {
        "jti": bytes(32),
        "iss": bytes([1]) * 32,
        "aud": bytes([2]) * 32,
        "iat": 1_764_000_000,
        "act": "OK",
        "crt": None,
        "newfws": None,
        "newuis": None,
    }


@MAIN
@given(key=keys, fields=reply_fields)
def test_both_write_the_general_paths_token(key: bytes, fields: dict[str, Any]) -> None:
    if fields["iss"] == fields["aud"]:
        return
    expected = general(key, fields)
    c = c_functions()
    for sign in (c.checked_sign, _pycodec.checked_sign):
        assert sign(key, HEADER, *positional(fields)) == expected
    assert len(expected) <= _pycodec.REPLY_MAX_LENGTH


@MAIN
@given(key=keys, fields=reply_fields, signed=st.binary(max_size=900), flip=st.integers(0, 255))
def test_the_mac_checked_form_answers_a_matching_mac_only(
    key: bytes, fields: dict[str, Any], signed: bytes, flip: int
) -> None:
    if fields["iss"] == fields["aud"]:
        return
    mac = hmac.digest(key, signed, "sha256")
    wrong = bytearray(mac)
    wrong[flip % 32] ^= 1 << (flip % 8)
    expected = general(key, fields)
    c = c_functions()
    for answer in (c.check_answer, _pycodec.check_answer):
        assert answer(key, signed, mac, HEADER, *positional(fields)) == expected
        assert answer(key, signed, bytes(wrong), HEADER, *positional(fields)) is None
        assert answer(key, signed + b"x", mac, HEADER, *positional(fields)) is None


# Each changes one field of valid() (or the key or header) to one checked_sign refuses.
REFUSED: dict[str, dict[str, Any]] = {
    "key short": {"key": bytes(31)},
    "key long": {"key": bytes(33)},
    "key bytearray": {"key": bytearray(32)},
    "key str": {"key": "k" * 32},
    "jti short": {"jti": bytes(31)},
    "jti bytearray": {"jti": bytearray(32)},
    "iss long": {"iss": bytes(33)},
    "aud memoryview": {"aud": memoryview(bytes([2]) * 32)},
    "aud equals iss": {"aud": bytes([1]) * 32},
    "iat negative": {"iat": -1},
    "iat 2**53": {"iat": 2**53},
    "iat 2**64": {"iat": 2**64},
    "iat bool": {"iat": True},
    "iat float": {"iat": 1.0},
    "act X": {"act": "X"},
    "act empty": {"act": ""},
    "act lower": {"act": "ok"},
    "act bytes": {"act": b"OK"},
    "act list": {"act": ["OK"]},
    "crt empty": {"crt": b""},
    "crt too long": {"crt": bytes(MAX_CERTIFICATE_SIZE + 1)},
    "crt bytearray": {"crt": bytearray(3)},
    "newfws short": {"newfws": bytes(63)},
    "newfws bytearray": {"newfws": bytearray(64)},
    "newuis long": {"newuis": bytes(33)},
    "header str": {"header": HEADER.decode()},
    "header empty": {"header": b""},
    "header with a dot": {"header": b"e30.e30"},
    "header padded": {"header": b"e30="},
    "header bits": {"header": b"e31"},
    "header of no length": {"header": b"e30AA"},
    "header too long": {"header": b"A" * 257},
}


@pytest.mark.parametrize("change", list(REFUSED.values()), ids=list(REFUSED))
def test_both_refuse_the_same_fields(impl: SimpleNamespace, change: dict[str, Any]) -> None:
    fields, change = valid(), dict(change)
    key, header = change.pop("key", bytes(32)), change.pop("header", HEADER)
    fields.update(change)
    assert impl.checked_sign(key, header, *positional(fields)) is None
    signed = b"header.payload"
    with pytest.raises(ValueError, match="outside the rules"):
        impl.check_answer(key, signed, bytes(32), header, *positional(fields))


@pytest.mark.parametrize(
    "signed, signature",
    [
        ("text", bytes(32)),
        (b"text", bytes(31)),
        (b"text", bytearray(32)),
        (bytearray(b"t"), bytes(32)),
    ],
)
def test_both_refuse_a_bad_check_text_or_mac(
    impl: SimpleNamespace, signed: Any, signature: Any
) -> None:
    with pytest.raises(ValueError, match="outside the rules"):
        impl.check_answer(bytes(32), signed, signature, HEADER, *positional(valid()))


def test_the_limits_agree_with_the_messages() -> None:
    assert _pycodec.REPLY_ACTIONS == ACTIONS
    assert _pycodec.REPLY_MAX_CRT == MAX_CERTIFICATE_SIZE
    assert _pycodec.REPLY_MAX_IAT == 2**53 - 1
    assert _pycodec.REPLY_MAX_LENGTH <= MAX_TOKEN_LENGTH
    # The longest reply valid fields make is exactly REPLY_MAX_LENGTH characters.
    largest = {
        **valid(),
        "iat": 2**53 - 1,
        "crt": bytes(MAX_CERTIFICATE_SIZE),
        "newfws": bytes(64),
        "newuis": bytes(32),
    }
    for sign in (c_functions().checked_sign, _pycodec.checked_sign):
        token = sign(bytes(32), b"A" * _pycodec.REPLY_MAX_HEADER, *positional(largest))
        assert token is not None and len(token) == _pycodec.REPLY_MAX_LENGTH


def test_the_empty_check_text_is_a_message_like_any_other(impl: SimpleNamespace) -> None:
    key = bytes(range(32))
    mac = hmac.digest(key, b"", "sha256")
    token = impl.check_answer(key, b"", mac, HEADER, *positional(valid()))
    assert token == general(key, valid())


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_each_backend_serves_a_reply_writer_with_the_references_answers(name: str) -> None:
    backend = get_codec(name)
    key = bytes(range(32))
    mac = hmac.digest(key, b"a.b", "sha256")
    expected = general(key, valid())
    assert backend.checked_sign(key, HEADER, *positional(valid())) == expected
    assert backend.check_answer(key, b"a.b", mac, HEADER, *positional(valid())) == expected
    assert backend.check_answer(key, b"a.c", mac, HEADER, *positional(valid())) is None


def test_the_c_backend_writes_replies_in_c_on_the_sha_extensions() -> None:
    c = require_c_codec()
    accelerated = c.sha256_select(0) == 1
    assert (c.checked_sign is c.c_checked_sign) == accelerated
    assert (c.check_answer is c.c_check_answer) == accelerated
    if not accelerated:
        assert c.checked_sign is _pycodec.checked_sign


def test_the_c_functions_give_the_same_bytes_on_the_portable_block_function() -> None:
    c = require_c_codec()
    key = bytes(range(32))
    fields = {**valid(), "crt": bytes(range(200)), "newfws": bytes(64), "newuis": bytes(32)}
    mac = hmac.digest(key, b"x" * 700, "sha256")
    expected = general(key, fields)
    try:
        c.sha256_select(1)
        assert c.c_checked_sign(key, HEADER, *positional(fields)) == expected
        assert c.c_check_answer(key, b"x" * 700, mac, HEADER, *positional(fields)) == expected
        assert c.c_check_answer(key, b"x" * 699, mac, HEADER, *positional(fields)) is None
    finally:
        c.sha256_select(0)


def test_sign_checked_uses_the_codec_for_valid_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, ...]] = []
    real = _codec.checked_sign

    def counted(*arguments: Any) -> str | None:
        calls.append(arguments)
        return real(*arguments)

    monkeypatch.setattr(_codec, "checked_sign", counted)
    key = bytes(range(32))
    fields = valid()
    token = hemproto.sign_checked(key, **fields)
    assert token == general(key, fields) and len(calls) == 1
    # Refused by the codec: the message class explains, as it always has.
    fields["act"] = "X"
    with pytest.raises(hemproto.ClaimError, match="act"):
        hemproto.sign_checked(key, **fields)
    assert len(calls) == 2
    assert _fastpath.REPLY_HEADER == HEADER
