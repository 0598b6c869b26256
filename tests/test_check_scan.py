"""The one-step scan of a check in the device's exact shape (csrc/hemcheck.c and
_pycodec.scan_check): the C and Python scanners agree on every input, a match is exactly
what the general path (jws.decode_parts, then CheckChallenge._from_parts) builds from the
same text, the fast path is the one real device tokens take, and taking it changes no
result and no error."""

from __future__ import annotations

import base64
import hmac
import json
import string
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import FrozenInstanceError, asdict, dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import pytest
from _both_codecs import CODEC_NAMES, get_codec, require_c_codec
from hypothesis import given, settings
from hypothesis import strategies as st

import hemproto
from hemproto import _codec, _pycodec, claims, schema
from hemproto.claims import CheckChallenge
from hemproto.errors import (
    BadSignature,
    ClaimError,
    HemProtoError,
    KeyAgreementError,
    MalformedToken,
    UnknownKey,
)

MAIN = settings(max_examples=1500, deadline=None)
SMALL = settings(max_examples=300, deadline=None)
# Hostile inputs are drawn per operation (below), so that each is tried this often.
PER_OPERATION = settings(max_examples=50, deadline=None)

# The shape of csrc/hemcheck.h, written out here so that the tests do not take it from the
# code under test.
NAMES = ("jti", "iss", "qid", "aud", "fws", "bls", "uis", "csn")
SIZES = {"jti": 32, "iss": 32, "qid": 32, "aud": 32, "fws": 64, "bls": 64, "uis": 32, "csn": 16}
HEADERS = (
    '{"ecdh":"x25519","typ":"JWT","alg":"HS256"}',  # the check's
    '{"ecdh":"x25519","alg":"HS256","typ":"JWT"}',  # the login token's
)
HAS_UIS = 2  # result bit; bit 0 is the header's index in HEADERS
SIGNED_SHIFT = 2  # the result shifted right by this: length of "header.payload"

# Base64 alphabets in index order (for setting a last character's unused bits).
URL_ORDER = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
STD_ORDER = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
NON_ASCII = ("\xe9", "\x85", "\xa0", "\u2028", "\u00ff", "\U0001f600")

BACKEND = hemproto.KeyPair(bytes(range(32)))
OTHER_BACKEND = hemproto.KeyPair(bytes(range(50, 82)))
DEVICE = hemproto.KeyPair(bytes(range(100, 132)))
KEYS = {BACKEND.public: BACKEND}

FIXED_VALUES = {
    "jti": bytes(range(32)),
    "iss": DEVICE.public,
    "qid": b"\x01" * 32,
    "aud": BACKEND.public,
    "fws": bytes(range(64)),
    "bls": bytes(range(64, 128)),
    "uis": b"\xfb\xff" * 16,  # '+' and '/' in its base64
    "csn": bytes(range(16)),
}


# --- a test-local encoder of the device's shape ---------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def std64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def render(members: list[list[str]]) -> str:
    """Compact JSON of members given as [name JSON, value JSON] pairs."""
    return "{" + ",".join(f"{name}:{value}" for name, value in members) + "}"


@dataclass(frozen=True)
class Check:
    """A check's claims, header and signature, before encoding. ``values`` holds the claims
    present; with ``mac_key`` the signature is the HS256 MAC of whatever text is built."""

    values: dict[str, bytes]
    variant: int = 0
    signature: bytes = bytes(32)
    mac_key: bytes | None = None

    def members(self, order: tuple[str, ...] = NAMES) -> list[list[str]]:
        return [
            [f'"{name}"', f'"{std64(self.values[name])}"'] for name in order if name in self.values
        ]

    def assemble(self, header: str, payload: str, signature: bytes | None = None) -> str:
        signing = f"{b64url(header.encode())}.{b64url(payload.encode())}"
        if signature is None:
            if self.mac_key is None:
                signature = self.signature
            else:
                signature = hmac.digest(self.mac_key, signing.encode("ascii"), "sha256")
        return f"{signing}.{b64url(signature)}"

    def build(self, members: list[list[str]] | None = None, header: str | None = None) -> str:
        return self.assemble(
            HEADERS[self.variant] if header is None else header,
            render(self.members() if members is None else members),
        )

    @property
    def token(self) -> str:
        """The canonical token a device sends for these claims."""
        return self.build()

    def expected_scan(self) -> tuple[int, tuple[bytes, ...], bytes]:
        """What scan_check must return for ``token``, by csrc/hemcheck.h."""
        text = self.token
        signing = text[: text.rindex(".")]
        signature = base64.urlsafe_b64decode(text[len(signing) + 1 :] + "=")
        flags = self.variant | (HAS_UIS if "uis" in self.values else 0)
        fields = (*(self.values.get(name, bytes(32)) for name in NAMES), signature)
        return flags | len(signing) << SIGNED_SHIFT, fields, signing.encode("ascii")


def _differ(iss: bytes, aud: bytes) -> bytes:
    """``aud``, changed in one bit should it equal ``iss``."""
    return aud if aud != iss else bytes([aud[0] ^ 1]) + aud[1:]


@st.composite
def checks(draw: st.DrawFn) -> Check:
    """Arbitrary claim bytes, with or without uis, either header, a random signature."""
    values = {name: draw(st.binary(min_size=size, max_size=size)) for name, size in SIZES.items()}
    values["aud"] = _differ(values["iss"], values["aud"])
    if draw(st.booleans()):
        del values["uis"]
    return Check(values, draw(st.integers(0, 1)), draw(st.binary(min_size=32, max_size=32)))


def _mac_key(iss: bytes) -> bytes | None:
    try:
        return BACKEND.shared(iss)
    except KeyAgreementError:  # a small-order iss: no MAC can be made for it
        return None


@st.composite
def signed_checks(draw: st.DrawFn) -> Check:
    """Checks a backend holding BACKEND may accept: MACed under its key (mostly), addressed
    to it (mostly), so that verify_check reaches every rule, not only the MAC."""
    check = draw(checks())
    iss = draw(st.one_of(st.just(DEVICE.public), st.binary(min_size=32, max_size=32)))
    aud = draw(
        st.sampled_from([BACKEND.public, BACKEND.public, BACKEND.public, OTHER_BACKEND.public])
    )
    values = {**check.values, "iss": iss, "aud": _differ(iss, aud)}
    forged = draw(st.integers(0, 9)) == 0
    return replace(check, values=values, mac_key=None if forged else _mac_key(iss))


# --- hostile variants of a check -------------------------------------------------------------
#
# Each operation returns (text, refused): refused means no correct scanner can match the
# text. An operation that may or may not keep the shape says False; C and Python must still
# agree on it, and a match must still be what the general path builds.

Operation = Callable[[st.DrawFn, Check], tuple[str, bool]]

_url_char = st.sampled_from(URL_ORDER)
token_char = st.one_of(
    _url_char,
    _url_char,
    _url_char,
    _url_char,
    st.sampled_from(".=+/ \t\n\x00"),
    st.sampled_from(NON_ASCII),
)
json_char = st.one_of(
    st.sampled_from(STD_ORDER),
    st.sampled_from(STD_ORDER),
    st.sampled_from('{}[]:,"\\= \t\n-_.0'),
    st.sampled_from(NON_ASCII),
)
OTHER_HEADERS = (
    '{"typ":"JWT","ecdh":"x25519","alg":"HS256"}',
    '{"typ":"JWT","alg":"HS256","ecdh":"x25519"}',
    '{"alg":"HS256","ecdh":"x25519","typ":"JWT"}',
    '{"alg":"HS256","typ":"JWT","ecdh":"x25519"}',
    '{"ecdh":"x25519","alg":"HS256"}',
    '{"alg":"HS256","ecdh":"x25519"}',
    '{"ecdh":"x25519","typ":"JWT","alg":"HS256","kid":"1"}',
    '{"ecdh": "x25519","typ":"JWT","alg":"HS256"}',
    '{"ecdh":"x25519","typ":"JWT","alg":"HS256"} ',
    '{"ecdh":"x25519","typ":"JWT","alg":"hs256"}',
    '{"ecdh":"X25519","typ":"JWT","alg":"HS256"}',
    '{"ecdh":"x25519","typ":"JWS","alg":"HS256"}',
    '{"ecdh":"x25519","typ":"JWT","alg":"HS\\u0032\\u0035\\u0036"}',
    '{"ecdh":"x25519","typ":"JWT","alg":"HS256","alg":"HS256"}',
    '{"ecdh":"x25519","alg":"HS256","typ":"JWT","typ":"JWT"}',
)


def _index(draw: st.DrawFn, sequence: Any) -> int:
    return draw(st.integers(0, len(sequence) - 1))


def _replace_char(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    text = check.token
    i = _index(draw, text)
    return text[:i] + draw(token_char) + text[i + 1 :], False


def _insert_char(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    text = check.token
    i = draw(st.integers(0, len(text)))
    return text[:i] + draw(token_char) + text[i:], True


def _delete_char(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    text = check.token
    i = _index(draw, text)
    return text[:i] + text[i + 1 :], True


def _truncate(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    text = check.token
    return text[: _index(draw, text)], True


def _append(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    return check.token + draw(st.sampled_from([".", "=", "A", ".A", "\n", " ", "\x00"])), True


def _segment_unused_bits(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    segments = check.token.split(".")
    k = draw(st.integers(0, 2))
    segment = segments[k]
    unused = {2: 4, 3: 2}[len(segment) % 4]  # every segment of the shape has some
    last = URL_ORDER.index(segment[-1]) | draw(st.integers(1, (1 << unused) - 1))
    segments[k] = segment[:-1] + URL_ORDER[last]
    return ".".join(segments), True


def _segment_padding(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    segments = check.token.split(".")
    k = draw(st.integers(0, 2))
    segments[k] += "=" * draw(st.integers(1, 2))
    return ".".join(segments), True


def _std_alphabet(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    text = check.token
    i = draw(st.sampled_from([i for i, c in enumerate(text) if c != "."]))
    return text[:i] + draw(st.sampled_from("+/")) + text[i + 1 :], True


def _non_ascii(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    text = check.token
    i = _index(draw, text)
    return text[:i] + draw(st.sampled_from(NON_ASCII)) + text[i + 1 :], True


def _signature_size(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    size = draw(st.sampled_from([0, 1, 31, 33, 64]))
    signature = draw(st.binary(min_size=size, max_size=size))
    return check.assemble(HEADERS[check.variant], render(check.members()), signature), True


def _segment_count(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    text = check.token
    return draw(
        st.sampled_from([text + ".QQ", text + ".", text[: text.rindex(".")], "." + text])
    ), True


def _swap_members(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    members = check.members()
    i, j = draw(st.lists(st.integers(0, len(members) - 1), min_size=2, max_size=2, unique=True))
    members[i], members[j] = members[j], members[i]
    return check.build(members), True


def _payload_whitespace(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    payload = render(check.members())
    structural = [i for i, c in enumerate(payload) if c in "{}:,"]
    i = draw(st.sampled_from(structural)) + draw(st.integers(0, 1))
    payload = payload[:i] + draw(st.sampled_from([" ", "\t", "\n", "\r", "  "])) + payload[i:]
    return check.assemble(HEADERS[check.variant], payload), True


def _escape(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    """The same JSON value, spelled with an escape: '\\/' or a '\\u' escape."""
    members = check.members()
    member = members[_index(draw, members)]
    k = draw(st.integers(0, 1))  # the name or the value
    inner = member[k][1:-1]
    if k == 1 and "/" in inner and draw(st.booleans()):
        i = inner.index("/")
        inner = inner[:i] + "\\/" + inner[i + 1 :]
    else:
        i = _index(draw, inner)
        inner = inner[:i] + f"\\u{ord(inner[i]):04x}" + inner[i + 1 :]
    member[k] = f'"{inner}"'
    return check.build(members), True


def _value_unused_bits(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    members = check.members()
    member = members[_index(draw, members)]
    inner = member[1][1:-1]
    data = inner.rstrip("=")
    unused = len(data) * 6 - len(base64.b64decode(inner)) * 8  # 2 for 32 bytes, 4 for 16/64
    last = STD_ORDER.index(data[-1]) | draw(st.integers(1, (1 << unused) - 1))
    member[1] = f'"{data[:-1]}{STD_ORDER[last]}{inner[len(data) :]}"'
    return check.build(members), True


def _value_url_alphabet(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    members = check.members()
    member = members[_index(draw, members)]
    inner = member[1][1:-1]
    i = _index(draw, inner.rstrip("="))
    member[1] = f'"{inner[:i]}{draw(st.sampled_from("-_"))}{inner[i + 1 :]}"'
    return check.build(members), True


def _value_padding(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    members = check.members()
    member = members[_index(draw, members)]
    inner = member[1][1:-1]
    inner = inner.rstrip("=") if draw(st.booleans()) else inner + "="
    member[1] = f'"{inner}"'
    return check.build(members), True


def _wrong_size(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    name = draw(st.sampled_from(sorted(check.values)))
    size = SIZES[name]
    wrong = draw(st.sampled_from(sorted({0, 1, size - 1, size + 1, 16, 32, 64} - {size})))
    values = {**check.values, name: draw(st.binary(min_size=wrong, max_size=wrong))}
    return replace(check, values=values).token, True


def _iss_is_aud(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    same = check.values[draw(st.sampled_from(["iss", "aud"]))]
    return replace(check, values={**check.values, "iss": same, "aud": same}).token, True


def _extra_member(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    members = check.members()
    extra = draw(
        st.sampled_from(
            [
                ['"ext"', '"AAAA"'],
                ['"iat"', "1"],
                ['""', '""'],
                list(members[_index(draw, members)]),
            ]
        )
    )
    members.insert(draw(st.integers(0, len(members))), extra)
    return check.build(members), True


def _drop_member(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    members = check.members()
    required = [i for i, member in enumerate(members) if member[0] != '"uis"']
    del members[draw(st.sampled_from(required))]
    return check.build(members), True


def _value_type(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    members = check.members()
    member = members[_index(draw, members)]
    member[1] = draw(st.sampled_from(["null", "1", "true", "[]", "{}", '""', f"[{member[1]}]"]))
    return check.build(members), True


def _rename_member(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    members = check.members()
    member = members[_index(draw, members)]
    name = member[0][1:-1]
    candidates = {name.upper(), name[:2] + "x", name + "s", *NAMES} - {name}
    member[0] = f'"{draw(st.sampled_from(sorted(candidates)))}"'
    return check.build(members), True


def _payload_replace(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    payload = render(check.members())
    i = _index(draw, payload)
    return check.assemble(
        HEADERS[check.variant], payload[:i] + draw(json_char) + payload[i + 1 :]
    ), False


def _payload_insert(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    payload = render(check.members())
    i = draw(st.integers(0, len(payload)))
    return check.assemble(HEADERS[check.variant], payload[:i] + draw(json_char) + payload[i:]), True


def _payload_delete(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    payload = render(check.members())
    i = _index(draw, payload)
    return check.assemble(HEADERS[check.variant], payload[:i] + payload[i + 1 :]), True


def _value_non_ascii(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    members = check.members()
    member = members[_index(draw, members)]
    inner = member[1][1:-1]
    i = _index(draw, inner)
    member[1] = f'"{inner[:i]}{draw(st.sampled_from(NON_ASCII))}{inner[i + 1 :]}"'
    return check.build(members), True


def _other_header(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    return check.build(header=draw(st.sampled_from(OTHER_HEADERS))), True


def _header_char(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    header = HEADERS[check.variant]
    i = _index(draw, header)
    char = draw(st.sampled_from(STD_ORDER + '{}:," ').filter(lambda c: c != header[i]))
    return check.build(header=header[:i] + char + header[i + 1 :]), True


def _signature_char(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    """Another signature: any character but the last (which has unused bits) may change."""
    text = check.token
    i = draw(st.integers(text.rindex(".") + 1, len(text) - 2))
    return text[:i] + draw(_url_char) + text[i + 1 :], False


def _value_char(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    """Other claim bytes, still canonical: any data character but a value's last may change."""
    members = check.members()
    member = members[_index(draw, members)]
    inner = member[1][1:-1]
    i = _index(draw, inner.rstrip("=")[:-1])
    member[1] = f'"{inner[:i]}{draw(st.sampled_from(STD_ORDER))}{inner[i + 1 :]}"'
    return check.build(members), False


def _unchanged(draw: st.DrawFn, check: Check) -> tuple[str, bool]:
    return check.token, False


OPERATIONS: dict[str, Operation] = {
    operation.__name__.lstrip("_"): operation
    for operation in (
        _unchanged,
        _replace_char,
        _insert_char,
        _delete_char,
        _truncate,
        _append,
        _segment_unused_bits,
        _segment_padding,
        _std_alphabet,
        _non_ascii,
        _signature_size,
        _segment_count,
        _swap_members,
        _payload_whitespace,
        _escape,
        _value_unused_bits,
        _value_url_alphabet,
        _value_padding,
        _wrong_size,
        _iss_is_aud,
        _extra_member,
        _drop_member,
        _value_type,
        _rename_member,
        _payload_replace,
        _payload_insert,
        _payload_delete,
        _value_non_ascii,
        _other_header,
        _header_char,
        _signature_char,
        _value_char,
    )
}


# --- helpers ------------------------------------------------------------------------------


def _no_scan(text: str) -> None:
    return None


@dataclass
class Paths:
    """Calls to the fast path's scan and to the general path's decoder."""

    calls: Counter[str] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def c_codec() -> SimpleNamespace:
    # Module scope: Hypothesis re-runs the test body, not the fixture, for each example.
    return require_c_codec()


@pytest.fixture(scope="module", params=CODEC_NAMES)
def codec(request: pytest.FixtureRequest) -> SimpleNamespace:
    return get_codec(request.param)


def general_parts(text: object) -> tuple[CheckChallenge, bytes, bytes]:
    """claims._scan_parts with the scan disabled: the general path alone."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_codec, "scan_check", _no_scan)
        return claims._scan_parts(text)


def fast_parts(text: str, scan: Callable[[str], Any]) -> tuple[CheckChallenge, bytes, bytes]:
    """claims._scan_parts with ``scan`` as the codec's scan_check; the general path's
    decoder fails the test should it be reached."""

    def unexpected(token: object) -> Any:
        raise AssertionError(f"the general path was taken for {token!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_codec, "scan_check", scan)
        patch.setattr(claims, "decode_parts", unexpected)
        return claims._scan_parts(text)


def assert_same_parts(
    fast: tuple[CheckChallenge, bytes, bytes], general: tuple[CheckChallenge, bytes, bytes]
) -> None:
    assert fast == general
    challenge = fast[0]
    assert type(challenge.header) is dict
    assert list(challenge.header.items()) == list(general[0].header.items())
    assert type(challenge.extra) is dict
    assert challenge.extra == {}


def assert_general_path_agrees(text: str, scanned: Any, scan: Callable[[str], Any]) -> None:
    """A match of ``scan`` is the challenge, signing input and signature the general path
    builds from the same text."""
    general = general_parts(text)
    fast = fast_parts(text, scan)
    assert_same_parts(fast, general)
    packed, fields, signing_input = scanned
    challenge, general_signing_input, signature = general
    assert signing_input == general_signing_input == text[: text.rindex(".")].encode("ascii")
    assert packed >> SIGNED_SHIFT == len(signing_input)
    assert fields[8] == signature
    uis = challenge.uis if challenge.uis is not None else bytes(32)
    assert fields[:8] == (challenge.jti, challenge.iss, challenge.qid, challenge.aud,
                          challenge.fws, challenge.bls, uis, challenge.csn)  # fmt: skip
    assert bool(packed & HAS_UIS) == (challenge.uis is not None)
    assert challenge.header == json.loads(HEADERS[packed & 1])
    assert challenge.token == text


@pytest.fixture()
def paths(monkeypatch: pytest.MonkeyPatch) -> Iterator[Paths]:
    """Count the calls each path makes, leaving both working."""
    record = Paths()
    scan, decode = _codec.scan_check, claims.decode_parts

    def counting_scan(text: str) -> Any:
        record.calls["scan"] += 1
        result = scan(text)
        record.calls["matched" if result is not None else "refused"] += 1
        return result

    def counting_decode(token: Any) -> Any:
        record.calls["general"] += 1
        return decode(token)

    monkeypatch.setattr(_codec, "scan_check", counting_scan)
    monkeypatch.setattr(claims, "decode_parts", counting_decode)
    yield record


# --- the shape, as documented -----------------------------------------------------------------


def test_the_documented_shape_constants() -> None:
    assert tuple(header.encode() for header in HEADERS) == _pycodec.CHECK_HEADERS
    assert _pycodec.CHECK_HAS_UIS == HAS_UIS
    assert _pycodec.CHECK_HEADER_MASK == 1
    assert _pycodec.CHECK_SIGNED_SHIFT == SIGNED_SHIFT
    assert schema.CHECK_SCAN_LAYOUT.size == sum(SIZES.values()) + 32
    assert tuple(spec.name for spec in hemproto.CHECK_CLAIMS) == NAMES
    assert {spec.name: spec.size for spec in hemproto.CHECK_CLAIMS} == SIZES


# --- C against Python, and both against the encoder -------------------------------------------


@MAIN
@given(checks())
def test_a_device_check_is_matched_with_its_exact_fields(
    codec: SimpleNamespace, check: Check
) -> None:
    assert codec.scan_check(check.token) == check.expected_scan()


OPERATION_NAMES = sorted(OPERATIONS)


@pytest.mark.parametrize("operation", OPERATION_NAMES)
@PER_OPERATION
@given(checks(), st.data())
def test_c_and_python_scanners_agree_on_hostile_checks(
    c_codec: SimpleNamespace, operation: str, check: Check, data: st.DataObject
) -> None:
    text, refused = OPERATIONS[operation](data.draw, check)
    c_result = c_codec.scan_check(text)
    assert c_result == _codec.python_codec.scan_check(text)
    if refused:
        assert c_result is None
    if operation == "unchanged":
        assert c_result == check.expected_scan()


def test_both_scanners_refuse_the_edges(codec: SimpleNamespace) -> None:
    check = Check(FIXED_VALUES)
    token = check.token
    no_uis = replace(check, values={k: v for k, v in FIXED_VALUES.items() if k != "uis"}).token
    for text in ("", ".", "..", "a.b.c", token[:59], token.replace(".", ""), no_uis + "A"):
        assert codec.scan_check(text) is None, text
    assert codec.scan_check(token) == check.expected_scan()
    assert codec.scan_check(no_uis) is not None


# --- the fast path and the general path ---------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATION_NAMES)
@settings(PER_OPERATION, max_examples=30)
@given(checks(), st.data())
def test_a_match_is_what_the_general_path_builds(
    operation: str, check: Check, data: st.DataObject
) -> None:
    text, _ = OPERATIONS[operation](data.draw, check)
    for codec in _codec.all_codecs:
        scanned = codec.scan_check(text)
        if scanned is not None:
            assert_general_path_agrees(text, scanned, codec.scan_check)
        elif operation == "unchanged":
            pytest.fail(f"the {codec.name} scanner refused a device check: {text}")


@st.composite
def reordered(draw: st.DrawFn) -> tuple[Check, tuple[str, ...]]:
    check = draw(checks())
    present = tuple(name for name in NAMES if name in check.values)
    return check, tuple(draw(st.permutations(present)))


@SMALL
@given(reordered())
def test_scan_parts_gives_the_same_check_in_any_claim_order(
    case: tuple[Check, tuple[str, ...]],
) -> None:
    check, order = case
    device_order = check.token
    other_order = check.build(check.members(order))
    fast = fast_parts(device_order, _codec.scan_check)
    if other_order == device_order:  # the device's own order: the fast path again
        general = fast_parts(other_order, _codec.scan_check)
    else:
        assert _codec.scan_check(other_order) is None
        general = claims._scan_parts(other_order)
    challenge, general_challenge = fast[0], general[0]
    assert replace(challenge, token=other_order) == general_challenge
    assert challenge.token == device_order
    assert list(challenge.header.items()) == list(general_challenge.header.items())
    assert challenge.extra == general_challenge.extra == {}
    assert fast[1] == device_order[: device_order.rindex(".")].encode()
    assert general[1] == other_order[: other_order.rindex(".")].encode()
    assert fast[2] == general[2] == check.signature


@pytest.mark.parametrize("with_uis", [True, False], ids=["uis", "no-uis"])
def test_signed_checks_take_the_fast_path(with_uis: bool, paths: Paths) -> None:
    token = hemproto.sign_check(
        DEVICE,
        BACKEND.public,
        qid=FIXED_VALUES["qid"],
        fws=FIXED_VALUES["fws"],
        bls=FIXED_VALUES["bls"],
        csn=FIXED_VALUES["csn"],
        uis=FIXED_VALUES["uis"] if with_uis else None,
    )
    for codec in _codec.all_codecs:
        scanned = codec.scan_check(token)
        assert scanned is not None, codec.name
        assert bool(scanned[0] & HAS_UIS) is with_uis
    challenge = hemproto.parse_check(token)
    assert challenge.uis == (FIXED_VALUES["uis"] if with_uis else None)
    assert hemproto.verify_check(token, BACKEND) == challenge
    assert hemproto.verify_check({"check": token}, BACKEND) == challenge
    assert hemproto.verify_check(json.dumps({"check": token}), BACKEND) == challenge
    assert claims.verify_check_with(token, KEYS)[0] == challenge
    assert hemproto.Backend(BACKEND).verify(token)[0] == challenge
    assert set(hemproto.Backend(BACKEND).answer(token)) == {"checked"}
    assert paths.calls["general"] == 0
    assert paths.calls["matched"] == paths.calls["scan"] == 7
    # Bytes take the general path (the scan reads text), with the same result.
    assert hemproto.parse_check(token.encode()) == challenge
    assert paths.calls["general"] == 1
    assert_general_path_agrees(token, _codec.scan_check(token), _codec.scan_check)


def test_the_seed_token_takes_the_fast_path(seed: dict[str, Any], paths: Paths) -> None:
    token = seed["token"]
    for codec in _codec.all_codecs:
        packed, fields, signing_input = codec.scan_check(token)
        assert packed & 1 == 0 and packed & HAS_UIS
        assert signing_input == token[: token.rindex(".")].encode()
        assert fields[:8] == tuple(bytes.fromhex(seed["claims_hex"][name]) for name in NAMES)
        assert fields[8] == base64.urlsafe_b64decode(token.rsplit(".", 1)[1] + "=")
    challenge = hemproto.parse_check(token)
    assert challenge.header == seed["header"]
    assert list(challenge.header) == list(seed["header"])
    assert paths.calls["general"] == 0 and paths.calls["matched"] == 1
    assert_general_path_agrees(token, _codec.scan_check(token), _codec.scan_check)


# --- verify_check: the same result and the same error on either path -------------------------


def _outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        value = call()
    except HemProtoError as error:
        details = {
            name: getattr(error, name)
            for name in ("segment", "offset", "claim", "reason")
            if hasattr(error, name)
        }
        return type(error), str(error), details
    return ("returned", value)


def verify_outcomes(text: object) -> tuple[tuple[Any, ...], ...]:
    """What verify_check, verify_check_with and Backend.verify do with ``text``."""
    return (
        _outcome(lambda: hemproto.verify_check(text, BACKEND)),
        _outcome(lambda: claims.verify_check_with(text, KEYS)),
        _outcome(lambda: hemproto.Backend(BACKEND).verify(text)),
    )


def outcomes_without_scan(text: object) -> tuple[tuple[Any, ...], ...]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_codec, "scan_check", _no_scan)
        return verify_outcomes(text)


def _signed(**changes: Any) -> Check:
    return Check({**FIXED_VALUES, **changes}, mac_key=DEVICE.shared(BACKEND.public))


def _flip_signature(token: str) -> str:
    """``token`` with one character of its signature changed (the MAC no longer matches)."""
    middle = token.rindex(".") + 20
    return token[:middle] + ("B" if token[middle] == "A" else "A") + token[middle + 1 :]


_VALID = _signed().token
_VALID_MEMBERS = _signed().members()
# name: (token, the error verify_check raises or None, whether the scan matches it)
HOSTILE_TOKENS: dict[str, tuple[object, type[Exception] | None, bool]] = {
    "valid": (_VALID, None, True),
    "valid-login-header": (replace(_signed(), variant=1).token, None, True),
    "valid-body": ({"check": _VALID}, None, True),
    "bad-mac": (_flip_signature(_VALID), BadSignature, True),
    "mac-of-other-key": (replace(_signed(), mac_key=bytes(32)).token, BadSignature, True),
    "unknown-aud": (_signed(aud=OTHER_BACKEND.public).token, UnknownKey, True),
    "iss-equals-aud": (_signed(iss=BACKEND.public).token, ClaimError, False),
    "small-order-iss": (_signed(iss=bytes(32)).token, KeyAgreementError, True),
    "truncated": (_VALID[:-1], MalformedToken, False),
    "no-signature": (_VALID[: _VALID.rindex(".")], MalformedToken, False),
    "non-ascii": (_VALID[:70] + "\xe9" + _VALID[71:], MalformedToken, False),
    "bad-header": (_signed().build(header=OTHER_HEADERS[6]), MalformedToken, False),
    "short-csn": (_signed(csn=bytes(15)).token, ClaimError, False),
    "no-qid": (_signed().build([m for m in _VALID_MEMBERS if m[0] != '"qid"']), ClaimError, False),
    "reordered": (_signed().build(_VALID_MEMBERS[::-1]), None, False),
    "whitespace": (
        _signed().assemble(HEADERS[0], render(_VALID_MEMBERS).replace(",", ", ")),
        None,
        False,
    ),
    "extra-claim": (_signed().build([*_VALID_MEMBERS, ['"ext"', "1"]]), None, False),
    "reordered-bad-mac": (
        _flip_signature(_signed().build(_VALID_MEMBERS[::-1])),
        BadSignature,
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_TOKENS))
def test_verify_check_answers_the_same_with_and_without_the_scan(name: str) -> None:
    token, error, matched = HOSTILE_TOKENS[name]
    text = token if isinstance(token, str) else token["check"]  # type: ignore[index]
    assert (_codec.scan_check(text) is not None) is matched
    with_scan = verify_outcomes(token)
    assert with_scan == outcomes_without_scan(token)
    for outcome in with_scan:
        assert outcome[0] == (error or "returned"), outcome


@pytest.mark.parametrize("operation", OPERATION_NAMES)
@settings(PER_OPERATION, max_examples=20)
@given(signed_checks(), st.data())
def test_verify_check_outcomes_do_not_depend_on_the_scan(
    operation: str, check: Check, data: st.DataObject
) -> None:
    text, _ = OPERATIONS[operation](data.draw, check)
    assert verify_outcomes(text) == outcomes_without_scan(text)


# --- the challenge is the caller's ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["fast", "general"])
@pytest.mark.parametrize("variant", [0, 1])
def test_a_parsed_challenge_owns_its_header_and_extra(variant: int, path: str) -> None:
    check = replace(_signed(), variant=variant)
    members = check.members()
    token = check.token if path == "fast" else check.build(members[1:] + members[:1])
    assert (_codec.scan_check(token) is not None) is (path == "fast")
    header = json.loads(HEADERS[variant])
    for parse in (hemproto.parse_check, lambda text: hemproto.verify_check(text, BACKEND)):
        first = parse(token)
        assert type(first.header) is dict and type(first.extra) is dict
        first.header["alg"] = "none"
        first.header["kid"] = "1"
        del first.header["typ"]
        first.extra["ext"] = 1
        second = parse(token)
        assert second.header == header and list(second.header) == list(header)
        assert type(second.extra) is dict and second.extra == {}
        assert second.header is not first.header and second.extra is not first.extra


def test_a_scanned_challenge_is_an_ordinary_frozen_check_challenge() -> None:
    # CheckChallenge._validated fills a twin class and assigns __class__: the result must be
    # exactly a CheckChallenge, as immutable, comparable and copyable as one built the long way.
    assert claims._Unfilled.__slots__ == CheckChallenge.__slots__
    token = _signed().token
    fast = hemproto.parse_check(token)
    assert _codec.scan_check(token) is not None
    general_text, header, decoded, _, _ = hemproto.jws.decode_parts(token)
    general = CheckChallenge._from_parts(general_text, dict(header), decoded)
    assert type(fast) is CheckChallenge and isinstance(fast, CheckChallenge)
    assert fast == general and general == fast
    assert repr(fast) == repr(general)
    with pytest.raises(FrozenInstanceError):
        fast.jti = bytes(32)  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del fast.iss  # type: ignore[misc]
    assert replace(fast, qid=bytes(32)).qid == bytes(32)
    assert asdict(fast) == asdict(general)
    assert not hasattr(fast, "__dict__")
