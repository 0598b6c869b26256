"""sign_checked's direct path writes exactly the bytes of the general path, and only takes
well-formed fields; anything else still goes through CheckedReply and its errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hemproto
from hemproto.claims import ACTIONS, MAX_CERTIFICATE_SIZE, CheckedReply
from hemproto.errors import ClaimError, InvalidKey
from hemproto.jws import sign_ejwt

keys = st.binary(min_size=32, max_size=32)


def general(key: bytes, **fields: Any) -> str:
    reply = CheckedReply(token="", **fields)
    return sign_ejwt(reply.to_dict(), key)


@settings(max_examples=300, deadline=None)
@given(
    key=keys,
    jti=keys,
    iss=keys,
    aud=keys,
    iat=st.integers(min_value=0, max_value=2**53 - 1),
    act=st.sampled_from(ACTIONS),
    crt=st.none() | st.binary(min_size=1, max_size=MAX_CERTIFICATE_SIZE),
    newfws=st.none() | st.binary(min_size=64, max_size=64),
    newuis=st.none() | st.binary(min_size=32, max_size=32),
)
def test_direct_path_equals_the_general_path(key: bytes, **fields: Any) -> None:
    if fields["iss"] == fields["aud"]:
        return
    token = hemproto.sign_checked(key, **fields)
    assert token == general(key, **fields)
    reply = hemproto.verify_checked(token, key)
    for name, value in fields.items():
        assert getattr(reply, name) == value


def test_the_largest_certificate_still_signs() -> None:
    key = bytes(range(32))
    fields: dict[str, Any] = dict(
        jti=bytes(32),
        iss=bytes([1]) * 32,
        aud=bytes([2]) * 32,
        iat=2**53 - 1,
        act="OK",
        crt=bytes([0x30]) * MAX_CERTIFICATE_SIZE,
        newfws=bytes(64),
        newuis=bytes(32),
    )
    token = hemproto.sign_checked(key, **fields)
    assert token == general(key, **fields)
    assert len(token) <= hemproto.MAX_TOKEN_LENGTH


@pytest.mark.parametrize(
    "change, error",
    [
        ({"jti": bytes(31)}, ClaimError),
        ({"iss": bytearray(32)}, ClaimError),
        ({"aud": bytes([1]) * 32}, ClaimError),  # equal to iss: a reflected token
        ({"iat": -1}, ClaimError),
        ({"iat": 2**53}, ClaimError),
        ({"iat": True}, ClaimError),
        ({"act": "X"}, ClaimError),
        ({"crt": b""}, ClaimError),
        ({"crt": bytes(MAX_CERTIFICATE_SIZE + 1)}, ClaimError),
        ({"newfws": bytes(63)}, ClaimError),
        ({"newuis": bytes(33)}, ClaimError),
    ],
)
def test_bad_fields_are_refused_as_before(change: dict[str, Any], error: type[Exception]) -> None:
    fields: dict[str, Any] = dict(
        jti=bytes(32), iss=bytes([1]) * 32, aud=bytes([2]) * 32, iat=1, act="OK"
    )
    fields.update(change)
    with pytest.raises(error):
        hemproto.sign_checked(bytes(32), **fields)


def test_a_bad_key_is_refused_and_other_key_types_sign_the_same() -> None:
    fields: dict[str, Any] = dict(
        jti=bytes(32), iss=bytes([1]) * 32, aud=bytes([2]) * 32, iat=1, act="OK"
    )
    with pytest.raises(InvalidKey):
        hemproto.sign_checked(bytes(31), **fields)
    key = bytes(range(32))
    assert hemproto.sign_checked(bytearray(key), **fields) == hemproto.sign_checked(key, **fields)


def test_extra_claims_take_the_general_path() -> None:
    fields: dict[str, Any] = dict(
        jti=bytes(32), iss=bytes([1]) * 32, aud=bytes([2]) * 32, iat=1, act="OK"
    )
    token = hemproto.sign_checked(bytes(32), extra={"note": "x"}, **fields)
    assert hemproto.parse_checked(token).extra == {"note": "x"}
    with pytest.raises(ClaimError):
        hemproto.sign_checked(bytes(32), extra={"iat": 5}, **fields)
