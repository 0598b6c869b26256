"""The device's check challenge: the seed sample, claim rules, verification with X25519."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from _tamper import every_single_change
from _tokens import forge
from hypothesis import given, settings
from hypothesis import strategies as st

import hemproto
from hemproto import claims as claims_module
from hemproto.errors import (
    BadSignature,
    ClaimError,
    HemProtoError,
    KeyAgreementError,
    MalformedToken,
)

CLAIM_NAMES = ["jti", "iss", "qid", "aud", "fws", "bls", "uis", "csn"]


# --- the seed sample ---------------------------------------------------------------------


def test_seed_sample_decodes_to_the_published_values(seed: dict[str, Any]) -> None:
    challenge = hemproto.parse_check(seed["token"])
    for name, value in seed["claims_hex"].items():
        assert getattr(challenge, name).hex() == value, name
    for name, size in seed["claim_sizes"].items():
        assert len(getattr(challenge, name)) == size, name
    assert challenge.header == seed["header"]
    assert challenge.extra == {}
    assert challenge.token == seed["token"]


def test_seed_sample_matches_an_independent_decoding(seed: dict[str, Any]) -> None:
    # The standard library's view of the same token, to guard against a shared mistake.
    payload_b64 = seed["token"].split(".")[1]
    payload = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    assert list(payload) == CLAIM_NAMES == seed["claim_order"]
    challenge = hemproto.parse_check(seed["token"])
    for name in CLAIM_NAMES:
        assert getattr(challenge, name) == base64.b64decode(payload[name], validate=True)
    assert challenge.to_dict() == payload
    assert list(challenge.to_dict()) == CLAIM_NAMES


def test_seed_sample_from_the_get_body_in_every_form(seed: dict[str, Any]) -> None:
    body = {"check": seed["token"]}
    expected = hemproto.parse_check(seed["token"])
    assert hemproto.parse_check(body) == expected
    assert hemproto.parse_check(json.dumps(body)) == expected
    assert hemproto.parse_check(json.dumps(body).encode()) == expected
    assert hemproto.parse_check(seed["token"].encode()) == expected


def test_seed_sample_is_not_addressed_to_our_key(seed: dict[str, Any], backend_key: Any) -> None:
    with pytest.raises(ClaimError) as info:
        hemproto.verify_check(seed["token"], backend_key)
    assert info.value.claim == "aud"


@pytest.mark.parametrize(
    "body, match",
    [
        ({}, "members none"),
        ({"checked": "a.b.c"}, "'checked'"),
        ({"check": "a.b.c", "more": 1}, "'more'"),
        ({"check": 1}, "string"),
        ({"check": None}, "string"),
        ('{"check": "a.b.c"', "invalid JSON"),
        ('{"check": "a", "check": "b"}', "duplicate"),
        ("{" + " " * 20000 + "}", "longer than"),
    ],
)
def test_body_envelope_rules(body: Any, match: str) -> None:
    with pytest.raises(MalformedToken, match=match):
        hemproto.parse_check(body)


@pytest.mark.parametrize("body", [None, 1, ["a.b.c"]])
def test_body_type(body: Any) -> None:
    with pytest.raises(TypeError):
        hemproto.parse_check(body)


# --- claim rules ---------------------------------------------------------------------------


def seed_payload(seed: dict[str, Any]) -> dict[str, Any]:
    return dict(hemproto.decode_ejwt(seed["token"]).claims)


def parse_with(payload: dict[str, Any]) -> hemproto.CheckChallenge:
    return hemproto.parse_check(forge(hemproto.DEFAULT_HEADER, payload))


@pytest.mark.parametrize("name", [n for n in CLAIM_NAMES if n != "uis"])
def test_every_required_claim_must_be_present(seed: dict[str, Any], name: str) -> None:
    payload = seed_payload(seed)
    del payload[name]
    with pytest.raises(ClaimError, match="missing") as info:
        parse_with(payload)
    assert info.value.claim == name


def test_uis_is_optional(seed: dict[str, Any]) -> None:
    payload = seed_payload(seed)
    del payload["uis"]
    challenge = parse_with(payload)
    assert challenge.uis is None
    assert "uis" not in challenge.to_dict()


@pytest.mark.parametrize("name", CLAIM_NAMES)
@pytest.mark.parametrize(
    "value, match",
    [
        (None, "null"),
        (1, "base64 string"),
        (1.5, "base64 string"),
        (True, "base64 string"),
        ([], "base64 string"),
        ({}, "base64 string"),
        ("", "bytes, got 0"),
        ("AAAA", "bytes, got 3"),
        ("not base64!", "character"),
    ],
)
def test_claim_types_and_sizes(seed: dict[str, Any], name: str, value: Any, match: str) -> None:
    payload = seed_payload(seed)
    payload[name] = value
    with pytest.raises(ClaimError, match=match) as info:
        parse_with(payload)
    assert info.value.claim == name


@pytest.mark.parametrize("name", CLAIM_NAMES)
def test_claims_one_byte_short_or_long_are_refused(seed: dict[str, Any], name: str) -> None:
    payload = seed_payload(seed)
    raw = base64.b64decode(payload[name])
    for wrong in (raw[:-1], raw + b"\x00"):
        payload[name] = base64.b64encode(wrong).decode()
        with pytest.raises(ClaimError, match=f"{len(raw)} bytes") as info:
            parse_with(payload)
        assert info.value.claim == name


@pytest.mark.parametrize(
    "damage",
    [
        lambda v: v.rstrip("="),  # padding dropped
        lambda v: v + "=",  # padding added
        lambda v: v.replace("+", "-").replace("/", "_") if ("+" in v or "/" in v) else v + "-",
        lambda v: " " + v,
        lambda v: v[:4] + "\n" + v[4:],
    ],
)
def test_claims_must_be_canonical_standard_base64(seed: dict[str, Any], damage: Any) -> None:
    for name in ("fws", "bls"):  # both hold '+' or '/' and padding in the seed
        payload = seed_payload(seed)
        payload[name] = damage(payload[name])
        with pytest.raises(ClaimError) as info:
            parse_with(payload)
        assert info.value.claim == name


def test_claim_with_non_zero_trailing_bits_is_refused(seed: dict[str, Any]) -> None:
    payload = seed_payload(seed)
    value = payload["csn"]  # 16 bytes: "....==" leaves 4 unused bits in the last character
    assert value.endswith("==")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet[alphabet.index(value[-3]) | 1]
    payload["csn"] = value[:-3] + last + "=="
    with pytest.raises(ClaimError, match="unused bits") as info:
        parse_with(payload)
    assert info.value.claim == "csn"
    assert info.value.offset == len(value) - 3


def test_unknown_claims_are_kept_in_extra(seed: dict[str, Any]) -> None:
    payload = seed_payload(seed)
    payload["xyz"] = {"n": [1, 2]}
    challenge = parse_with(payload)
    assert challenge.extra == {"xyz": {"n": [1, 2]}}
    assert challenge.to_dict() == payload


def test_challenge_is_frozen_and_validates_on_construction(seed_challenge: Any) -> None:
    with pytest.raises(AttributeError):
        seed_challenge.jti = bytes(32)
    fields = {name: getattr(seed_challenge, name) for name in CLAIM_NAMES}
    for name in CLAIM_NAMES:
        with pytest.raises(ClaimError) as info:
            hemproto.CheckChallenge(**{**fields, name: b"short"}, token="")
        assert info.value.claim == name
    with pytest.raises(ClaimError):
        hemproto.CheckChallenge(**fields, token="", extra={"jti": "x"})


# --- verification ---------------------------------------------------------------------------


def test_signed_check_verifies_with_the_backend_key(
    make_check: Any, backend_key: Any, device_key: Any, seed_challenge: Any
) -> None:
    token = make_check()
    for key in (backend_key, backend_key.private_bytes(), bytearray(backend_key.private_bytes())):
        challenge = hemproto.verify_check(token, key)
        assert challenge.iss == device_key.public
        assert challenge.aud == backend_key.public
        assert challenge.qid == seed_challenge.qid
        assert challenge.fws == seed_challenge.fws
        assert challenge.uis == seed_challenge.uis
        assert len(challenge.jti) == 32
    assert hemproto.verify_check({"check": token}, backend_key) == hemproto.parse_check(token)


def test_check_mac_key_is_the_raw_x25519_secret(
    make_check: Any, backend_key: Any, device_key: Any
) -> None:
    token = make_check()
    secret = hemproto.x25519_shared(backend_key.private_bytes(), device_key.public)
    assert secret == hemproto.x25519_shared(
        device_key.private_bytes(), backend_key.public, provider="nacl"
    )
    assert hemproto.verify_ejwt(token, secret) == hemproto.parse_check(token).to_dict()


def test_each_check_has_a_fresh_nonce(make_check: Any) -> None:
    nonces = {hemproto.parse_check(make_check()).jti for _ in range(20)}
    assert len(nonces) == 20


def test_signed_check_has_the_seed_shape(make_check: Any, seed: dict[str, Any]) -> None:
    token = make_check(jti=bytes.fromhex(seed["claims_hex"]["jti"]))
    assert len(token) == len(seed["token"])
    assert token.split(".")[0] == seed["token"].split(".")[0]
    assert list(hemproto.decode_ejwt(token).claims) == CLAIM_NAMES


def test_wrong_backend_key_fails_on_aud_before_any_mac_work(
    make_check: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = make_check()
    stranger = hemproto.KeyPair.generate()

    def no_exchange(self: Any, peer: bytes) -> bytes:
        raise AssertionError("X25519 must not run for a check addressed elsewhere")

    monkeypatch.setattr(hemproto.KeyPair, "shared", no_exchange)
    monkeypatch.setattr(claims_module, "check_mac", no_exchange)
    with pytest.raises(ClaimError) as info:
        hemproto.verify_check(token, stranger)
    assert info.value.claim == "aud"


def test_check_signed_by_another_device_key_is_refused(
    backend_key: Any, seed_challenge: Any
) -> None:
    # An attacker who swaps iss for their own key cannot reuse the device's MAC.
    device = hemproto.KeyPair.generate()
    impostor = hemproto.KeyPair.generate()
    fields = {n: getattr(seed_challenge, n) for n in ("qid", "fws", "bls", "uis", "csn")}
    token = hemproto.sign_check(device, backend_key.public, **fields)
    payload = dict(hemproto.decode_ejwt(token).claims)
    payload["iss"] = base64.b64encode(impostor.public).decode()
    h, _, s = token.split(".")
    swapped = forge(hemproto.DEFAULT_HEADER, payload).split(".")[1]
    with pytest.raises(BadSignature):
        hemproto.verify_check(f"{h}.{swapped}.{s}", backend_key)


LOW_ORDER_POINTS = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    (2**255 - 19 - 1).to_bytes(32, "little"),
    (2**255 - 19).to_bytes(32, "little"),
    (2**255 - 19 + 1).to_bytes(32, "little"),
]


@pytest.mark.parametrize("point", LOW_ORDER_POINTS, ids=lambda p: p.hex()[:8])
def test_small_order_iss_is_refused(seed: dict[str, Any], backend_key: Any, point: bytes) -> None:
    payload = seed_payload(seed)
    payload["iss"] = base64.b64encode(point).decode()
    payload["aud"] = base64.b64encode(backend_key.public).decode()
    with pytest.raises(KeyAgreementError):
        hemproto.verify_check(forge(hemproto.DEFAULT_HEADER, payload), backend_key)


def test_every_single_character_change_of_a_check_is_refused(
    make_check: Any, backend_key: Any
) -> None:
    token = make_check()
    outcomes: set[str] = set()
    for what, damaged in every_single_change(token):
        try:
            hemproto.verify_check(damaged, backend_key)
        except HemProtoError as exc:
            outcomes.add(type(exc).__name__)
        else:
            pytest.fail(f"{what} was accepted")
    assert {"MalformedToken", "BadSignature"} <= outcomes


def test_private_key_never_appears_in_errors_or_reprs(make_check: Any, backend_key: Any) -> None:
    secret_hex = backend_key.private_bytes().hex()
    token = make_check()
    texts = [repr(backend_key), repr(hemproto.verify_check(token, backend_key))]
    for damaged in (token[:-2] + "AA", token[:50], token.replace(".", "!", 1)):
        with pytest.raises(HemProtoError) as info:
            hemproto.verify_check(damaged, backend_key)
        texts += [str(info.value), repr(info.value)]
    shared = backend_key.shared(hemproto.parse_check(token).iss)
    for text in texts:
        assert secret_hex not in text
        assert shared.hex() not in text


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(st.text(max_size=300), st.binary(max_size=300), st.dictionaries(st.text(), st.text()))
)
def test_arbitrary_input_parses_or_raises_our_error(data: Any) -> None:
    try:
        hemproto.parse_check(data)
    except HemProtoError as exc:
        assert str(exc)
    else:
        pytest.fail("random data parsed as a check")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_claim_values_of_any_type_raise_claim_error(seed: dict[str, Any], data: Any) -> None:
    name = data.draw(st.sampled_from(CLAIM_NAMES))
    value = data.draw(
        st.one_of(
            st.integers(-(2**53) + 1, 2**53 - 1),
            st.text(max_size=100),
            st.booleans(),
            st.lists(st.integers(0, 9), max_size=3),
        )
    )
    payload = seed_payload(seed)
    payload[name] = value
    try:
        challenge = parse_with(payload)
    except ClaimError as exc:
        assert exc.claim == name
    else:
        assert getattr(challenge, name) == base64.b64decode(value, validate=True)
