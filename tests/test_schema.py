"""Every fact hemproto derives from the claim table (hemproto.schema) is what the table says.

The check's shape (the reference scan's pattern, the scan's field layout, the longest
check), the header texts, the CBOR numbers, the message classes' fields, the reply's
limits, the sizes other modules check, and the one issuer/audience rule with the message
each message gives. A claim added to the table must show up everywhere, or fail here.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

import pytest
from _both_codecs import CODEC_NAMES, get_codec
from _tokens import KEY, forge
from hypothesis import given, settings
from hypothesis import strategies as st

import hemproto
from hemproto import (
    _fastpath,
    _pycodec,
    backend,
    bodies,
    cbor,
    claims,
    cli,
    jws,
    releases,
    replay,
    schema,
    serve,
    status,
    x25519,
)
from hemproto.claims import CheckChallenge, CheckedReply
from hemproto.errors import ClaimError, EncodingError

CHECK = {spec.name: spec for spec in schema.CHECK_CLAIMS}
CHECKED = {spec.name: spec for spec in schema.CHECKED_CLAIMS}
DEVICE_HEADER = json.loads(schema.HEADER_TEXTS[0])


def check_values(byte: int = 0x5A) -> dict[str, bytes]:
    """A value of the right size for every claim of the check, each a different byte
    repeated (so iss and aud differ)."""
    return {
        spec.name: bytes([(byte + index) % 256]) * (spec.size or 0)
        for index, spec in enumerate(schema.CHECK_CLAIMS)
    }


def payload_text(values: dict[str, bytes], order: tuple[str, ...] = schema.CHECK_NAMES) -> str:
    """The compact payload a device writes for ``values`` (those present), in ``order``."""
    members = (
        f'"{name}":"{base64.b64encode(values[name]).decode()}"' for name in order if name in values
    )
    return "{" + ",".join(members) + "}"


def device_token(values: dict[str, bytes], header: int = 0) -> str:
    return forge(schema.HEADER_TEXTS[header], payload_text(values), raw=True)


# --- the table itself ------------------------------------------------------------------------


def test_names_are_the_tables_in_order() -> None:
    assert schema.CHECK_NAMES == tuple(spec.name for spec in schema.CHECK_CLAIMS)
    assert schema.CHECKED_NAMES == tuple(spec.name for spec in schema.CHECKED_CLAIMS)
    assert len(set(schema.CHECK_NAMES)) == len(schema.CHECK_NAMES)
    assert len(set(schema.CHECKED_NAMES)) == len(schema.CHECKED_NAMES)
    assert schema.CHECK_SCAN_FIELDS == (*schema.CHECK_NAMES, "signature")


def test_every_claim_of_the_check_is_fixed_size_bytes() -> None:
    # The device's shape has no variable member: the scan and its longest length rely on it.
    for spec in schema.CHECK_CLAIMS:
        assert spec.kind == "bytes" and spec.size is not None and spec.max_size is None


def test_claim_sizes_are_the_tables_and_the_protocol_s() -> None:
    # A second statement of the sizes (FACTS.md, docs/protocol.md): a change to the table
    # that changes what goes on the wire fails here first.
    assert schema.CHECK_SIZES == {
        "jti": 32, "iss": 32, "qid": 32, "aud": 32, "fws": 64, "bls": 64, "uis": 32, "csn": 16
    }  # fmt: skip
    assert schema.CHECKED_SIZES == {"jti": 32, "iss": 32, "aud": 32, "newfws": 64, "newuis": 32}
    for table, sizes in ((schema.CHECK_CLAIMS, schema.CHECK_SIZES),
                         (schema.CHECKED_CLAIMS, schema.CHECKED_SIZES)):  # fmt: skip
        assert sizes == {spec.name: spec.size for spec in table if spec.size is not None}
    assert schema.KEY_SIZE == schema.CHECK_SIZES["iss"] == schema.CHECK_SIZES["aud"]


def test_every_reply_claim_has_a_kind_its_class_validates() -> None:
    for spec in schema.CHECKED_CLAIMS:
        assert spec.kind in claims._CHECK_KIND
        if spec.kind == "bytes":
            assert (spec.size is None) != (spec.max_size is None)
        else:
            assert spec.size is None and spec.max_size is None


def test_cbor_numbers_are_one_per_name_and_equal_across_tables() -> None:
    numbers: dict[str, int] = {}
    for spec in (*schema.CHECK_CLAIMS, *schema.CHECKED_CLAIMS):
        assert numbers.setdefault(spec.name, spec.cbor) == spec.cbor
    assert numbers == schema.CBOR_CLAIM_NUMBERS
    assert sorted(numbers.values()) == list(range(len(numbers)))


def test_cbor_numbers_are_the_ones_envelopes_have_always_carried() -> None:
    # Append only: an envelope written before keeps its meaning.
    assert cbor.KNOWN_CLAIMS == (
        "jti",
        "iss",
        "qid",
        "aud",
        "fws",
        "bls",
        "uis",
        "csn",
        "iat",
        "act",
        "crt",
        "newfws",
        "newuis",
    )
    for name, number in schema.CBOR_CLAIM_NUMBERS.items():
        assert cbor.KNOWN_CLAIMS[number] == name and cbor._CLAIM_KEYS[name] == number


def test_a_claim_given_two_numbers_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    twice = (*schema.CHECK_CLAIMS, dataclasses.replace(schema.CHECK_CLAIMS[0], cbor=99))
    monkeypatch.setattr(schema, "CHECK_CLAIMS", twice)
    with pytest.raises(ValueError, match="two CBOR numbers"):
        schema._cbor_claim_numbers()


# --- header texts ----------------------------------------------------------------------------


def test_header_texts_are_what_every_module_uses() -> None:
    assert cbor.KNOWN_HEADERS == schema.HEADER_TEXTS
    assert _pycodec.CHECK_HEADERS == tuple(text.encode() for text in schema.HEADER_TEXTS)
    assert jws.DEFAULT_HEADER == DEVICE_HEADER == schema.DEFAULT_HEADER
    assert (
        base64.urlsafe_b64decode(jws._DEFAULT_HEADER_SEGMENT + "==").decode()
        == (schema.HEADER_TEXTS[0])
    )
    assert _fastpath.REPLY_HEADER == jws._DEFAULT_HEADER_SEGMENT.encode()
    for text in schema.HEADER_TEXTS:
        segment = base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()
        assert jws._HEADER_CACHE[segment] == json.loads(text)
        header = json.loads(text)
        assert set(header) == set(schema.HEADER_VALUES)
        assert all(header[name] == value for name, value in schema.HEADER_VALUES.items())
    assert set(schema.REQUIRED_HEADER) <= set(schema.HEADER_VALUES)


# --- the check's shape -----------------------------------------------------------------------


def test_the_scan_layout_holds_each_claim_at_its_offset() -> None:
    layout = schema.CHECK_SCAN_LAYOUT
    sizes = [spec.size or 0 for spec in schema.CHECK_CLAIMS] + [schema.SIGNATURE_SIZE]
    assert layout.size == sum(sizes)
    fields = [bytes([index]) * size for index, size in enumerate(sizes)]
    assert layout.unpack(b"".join(fields)) == tuple(fields)
    pick = _fastpath.scanned_fields(*reversed(schema.CHECK_SCAN_FIELDS))
    assert pick(tuple(fields)) == tuple(reversed(fields))


def test_scanned_fields_needs_two_names() -> None:
    with pytest.raises(ValueError):
        _fastpath.scanned_fields("jti")


@pytest.mark.parametrize("with_optional", [True, False])
@pytest.mark.parametrize("header", range(len(schema.HEADER_TEXTS)))
def test_the_longest_check_is_check_max_length(with_optional: bool, header: int) -> None:
    values = check_values(0xFF)
    if not with_optional:
        for spec in schema.CHECK_CLAIMS:
            if spec.optional:
                del values[spec.name]
    token = device_token(values, header)
    longest = len(schema.HEADER_TEXTS[header]) == max(map(len, schema.HEADER_TEXTS))
    assert (len(token) == schema.CHECK_MAX_LENGTH) is (with_optional and longest)
    assert len(token) <= schema.CHECK_MAX_LENGTH


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
def test_the_scan_takes_every_check_the_table_describes(codec_name: str) -> None:
    codec = get_codec(codec_name)
    for header in range(len(schema.HEADER_TEXTS)):
        for with_optional in (True, False):
            values = check_values()
            if not with_optional:
                for spec in schema.CHECK_CLAIMS:
                    if spec.optional:
                        del values[spec.name]
            token = device_token(values, header)
            scanned = codec.scan_check(token)
            assert scanned is not None
            flags, fields, signed = scanned
            assert flags & _pycodec.CHECK_HEADER_MASK == header
            assert signed == token[: token.rindex(".")].encode()
            assert flags >> _pycodec.CHECK_SIGNED_SHIFT == len(signed)
            for name, value in zip(schema.CHECK_NAMES, fields, strict=False):
                present = _pycodec.CHECK_PRESENT.get(name)
                if name in values:
                    assert value == values[name]
                    assert present is None or flags & present
                else:
                    assert present is not None and not flags & present
                    assert value == bytes(CHECK[name].size or 0)


def _shape_breaks() -> dict[str, str]:
    """Payloads one step outside the shape, each by the table's own facts."""
    values = check_values()
    names = schema.CHECK_NAMES
    breaks = {
        "claims swapped": payload_text(values, (names[1], names[0], *names[2:])),
        "space": payload_text(values).replace(",", ", ", 1),
    }
    for spec in schema.CHECK_CLAIMS:
        if not spec.optional:
            breaks[f"{spec.name} missing"] = payload_text(
                {name: value for name, value in values.items() if name != spec.name}
            )
        for size in ((spec.size or 0) - 1, (spec.size or 0) + 1):
            breaks[f"{spec.name} of {size} bytes"] = payload_text(
                {**values, spec.name: bytes(size)}
            )
        text = base64.b64encode(values[spec.name]).decode()
        breaks[f"{spec.name} unpadded"] = payload_text(values).replace(text, text.rstrip("="), 1)
    return breaks


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
@pytest.mark.parametrize("case", sorted(_shape_breaks()))
def test_the_scan_refuses_what_the_table_does_not_describe(codec_name: str, case: str) -> None:
    payload = _shape_breaks()[case]
    assert _pycodec._CHECK_SHAPE.fullmatch(payload.encode()) is None
    token = forge(schema.HEADER_TEXTS[0], payload, raw=True)
    assert get_codec(codec_name).scan_check(token) is None


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_reference_pattern_reads_each_claim_as_its_group(data: st.DataObject) -> None:
    values = {
        spec.name: data.draw(st.binary(min_size=spec.size or 0, max_size=spec.size or 0))
        for spec in schema.CHECK_CLAIMS
        if not spec.optional or data.draw(st.booleans())
    }
    match = _pycodec._CHECK_SHAPE.fullmatch(payload_text(values).encode())
    assert match is not None
    for name, group in zip(schema.CHECK_NAMES, match.groups(), strict=True):
        assert (group is None) is (name not in values)
        if group is not None:
            assert base64.b64decode(group) == values[name]


# --- the message classes ---------------------------------------------------------------------


def _claim_fields(cls: type) -> tuple[str, ...]:
    others = ("token", "header", "extra")
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in others)


def test_message_fields_are_the_tables_names() -> None:
    assert _claim_fields(CheckChallenge) == schema.CHECK_NAMES
    assert _claim_fields(CheckedReply) == schema.CHECKED_NAMES


def test_a_message_class_off_the_table_fails_at_import() -> None:
    with pytest.raises(ImportError, match="not the table's"):
        claims._fields_are(CheckChallenge, (*schema.CHECK_NAMES, "new"))


def test_optional_claims_default_to_none_in_the_reply() -> None:
    for f in dataclasses.fields(CheckedReply):
        if f.name in CHECKED:
            assert (f.default is None) is CHECKED[f.name].optional


def _reply_fields() -> dict[str, Any]:
    return {
        "jti": bytes(CHECKED["jti"].size or 0),
        "iss": b"\x01" * (CHECKED["iss"].size or 0),
        "aud": b"\x02" * (CHECKED["aud"].size or 0),
        "iat": schema.MAX_IAT,
        "act": max(schema.ACTIONS, key=len),
        "crt": b"\x03" * (CHECKED["crt"].max_size or 0),
        "newfws": b"\x04" * (CHECKED["newfws"].size or 0),
        "newuis": b"\x05" * (CHECKED["newuis"].size or 0),
    }


def test_the_reply_travels_in_table_order_each_claim_by_its_kind() -> None:
    fields = _reply_fields()
    reply = CheckedReply(**fields, token="")
    wire = reply.to_dict()
    assert tuple(wire) == schema.CHECKED_NAMES
    for spec in schema.CHECKED_CLAIMS:
        expected = fields[spec.name]
        if spec.kind == "bytes":
            expected = base64.b64encode(expected).decode()
        assert wire[spec.name] == expected
    token = hemproto.sign_checked(KEY, **fields)
    assert hemproto.parse_checked(token) == dataclasses.replace(
        reply, token=token, header=DEVICE_HEADER
    )


@pytest.mark.parametrize("name", [spec.name for spec in schema.CHECKED_CLAIMS])
def test_each_reply_claim_is_refused_by_its_kind(name: str) -> None:
    spec = CHECKED[name]
    fields = _reply_fields()
    fields[name] = "not bytes" if spec.kind == "bytes" else b"not a time or an action"
    with pytest.raises(ClaimError) as refused:
        CheckedReply(**fields, token="")
    assert refused.value.claim == name
    claims_on_wire = CheckedReply(**_reply_fields(), token="").to_dict()
    if spec.optional:
        del claims_on_wire[name]
        assert getattr(hemproto.parse_checked(forge(DEVICE_HEADER, claims_on_wire)), name) is None
    else:
        del claims_on_wire[name]
        with pytest.raises(ClaimError, match=f"claim '{name}' is missing"):
            hemproto.parse_checked(forge(DEVICE_HEADER, claims_on_wire))


def test_the_reply_limits_are_the_tables() -> None:
    assert _pycodec.REPLY_MAX_CRT == CHECKED["crt"].max_size == schema.MAX_CERTIFICATE_SIZE
    assert _pycodec.REPLY_ACTIONS == schema.ACTIONS == tuple(schema.ACTION_MEANINGS)
    assert _pycodec.REPLY_MAX_IAT == schema.MAX_IAT
    largest = hemproto.sign_checked(KEY, **_reply_fields())
    payload = base64.urlsafe_b64decode(largest.split(".")[1] + "==")
    assert len(payload) == schema.longest_payload(schema.CHECKED_CLAIMS)


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
@pytest.mark.parametrize("name", ["jti", "iss", "aud", "newfws", "newuis"])
def test_the_reply_writer_takes_exactly_the_tables_sizes(codec_name: str, name: str) -> None:
    sign = get_codec(codec_name).checked_sign
    fields = _reply_fields()
    size = CHECKED[name].size or 0
    for length in (size - 1, size, size + 1):
        fields[name] = b"\x07" * length
        token = sign(KEY, _fastpath.REPLY_HEADER, *fields.values())
        assert (token is not None) is (length == size)


# --- sizes elsewhere -------------------------------------------------------------------------


def test_other_modules_check_the_tables_sizes() -> None:
    for claim, size in releases.COMPONENTS.values():
        assert size == CHECK[claim].size
    assert x25519.KEY_SIZE is schema.KEY_SIZE
    assert x25519._KEY_TEXT_LENGTH == schema.b64_length(schema.KEY_SIZE)
    assert replay.REPLAY_KEY_SIZE == sum(CHECK[name].size or 0 for name in ("aud", "iss", "jti"))
    assert backend._SERIAL_SIZE == CHECK["csn"].size
    assert claims._NONCE_SIZE == CHECK["jti"].size
    for name, size in serve._IDENTITY_SIZES.items():
        assert size == CHECK[name].size
    # The device's body cap (FACTS.md), the one number the backend, the ASGI layer and the
    # 413's wording share.
    assert schema.MAX_REQUEST_BODY == 7300
    assert bodies.MAX_REQUEST_BODY is schema.MAX_REQUEST_BODY
    assert f"over {schema.MAX_REQUEST_BODY} bytes" in status.ROLE_STATUS_MEANINGS[status.TOO_LARGE]
    assert cli._CHECK_ONLY == {"qid", "fws", "bls", "uis", "csn"}
    assert cli._CHECKED_ONLY == {"iat", "act"}
    assert cli._CHECKED_MEANINGS == {spec.name: spec.meaning for spec in schema.CHECKED_CLAIMS}


def test_backend_refuses_a_serial_not_of_the_tables_size() -> None:
    size = CHECK["csn"].size or 0
    hemproto.Backend(KEY, certificates={bytes(size): b"\x30"})
    with pytest.raises(ValueError, match=f"must be {size} bytes"):
        hemproto.Backend(KEY, certificates={bytes(size + 1): b"\x30"})


# --- issuer and audience ---------------------------------------------------------------------


def test_the_parties_rule_words_each_message() -> None:
    with pytest.raises(ClaimError, match=r"^check issuer equals its audience$") as check:
        schema.require_parties_differ("check", b"x", b"x")
    with pytest.raises(ClaimError, match=r"reply issuer equals its audience \(a reflected"):
        schema.require_parties_differ("reply", b"x", b"x")
    assert check.value.claim == "iss"
    schema.require_parties_differ("check", b"x", b"y")
    assert schema.parties_differ(b"x", b"y") and not schema.parties_differ(b"x", b"x")


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
def test_every_home_of_the_check_applies_the_parties_rule(codec_name: str) -> None:
    values = check_values()
    values["aud"] = values["iss"]
    token = device_token(values)
    assert get_codec(codec_name).scan_check(token) is None
    with pytest.raises(ClaimError, match=r"^check issuer equals its audience$"):
        hemproto.parse_check(token)
    with pytest.raises(ClaimError, match=r"^check issuer equals its audience$"):
        CheckChallenge(**values, token="")


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
def test_every_home_of_the_reply_applies_the_parties_rule(codec_name: str) -> None:
    fields = _reply_fields()
    fields["aud"] = fields["iss"]
    assert get_codec(codec_name).checked_sign(KEY, _fastpath.REPLY_HEADER, *fields.values()) is None
    reflected = r"^reply issuer equals its audience \(a reflected token\)$"
    with pytest.raises(ClaimError, match=reflected):
        hemproto.sign_checked(KEY, **fields)
    wire = CheckedReply(**_reply_fields(), token="").to_dict()
    wire["aud"] = wire["iss"]
    with pytest.raises(ClaimError, match=reflected):
        hemproto.parse_checked(forge(DEVICE_HEADER, wire))


# --- canonical base64, written once ----------------------------------------------------------

_BASE64_ISH = st.text(alphabet="AQgwBz019+/=-_ \n\u00e9", max_size=12)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(_BASE64_ISH, st.binary(max_size=9).map(lambda raw: base64.b64encode(raw).decode()))
)
def test_b64_canonical_takes_exactly_what_the_strict_decoder_takes(text: str) -> None:
    try:
        expected: bytes | None = _pycodec.b64_decode(text)
    except EncodingError:
        expected = None
    assert _pycodec.b64_canonical(text) == expected
    if text.isascii():
        assert _pycodec.b64_canonical(text.encode()) == expected
