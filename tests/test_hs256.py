"""HS256 (HMAC-SHA256): the C MAC on either SHA-256 block function (portable C, the CPU's SHA
extensions) and the Python one give the standard library's bytes, their verify functions
answer exactly "is this the MAC", and the codec uses the faster implementation."""

from __future__ import annotations

import contextlib
import hmac
import platform
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from _both_codecs import pure_env, require_c_codec, require_c_env
from hypothesis import given, settings
from hypothesis import strategies as st

from hemproto import _codec, _pycodec

MAIN = settings(max_examples=600, deadline=None)
SMALL = settings(max_examples=300, deadline=None)

# RFC 4231 section 4: (key, data, HMAC-SHA256, bytes compared). Test case 5 compares the
# first 128 bits only. No key here is 32 bytes long (HS256's): both MACs take any key, as
# RFC 2104 defines it, so that C and Python never differ on one.
RFC4231 = {
    "1": (
        b"\x0b" * 20,
        b"Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        32,
    ),
    "2": (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        32,
    ),
    "3": (
        b"\xaa" * 20,
        b"\xdd" * 50,
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        32,
    ),
    "4": (
        bytes(range(1, 26)),
        b"\xcd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        32,
    ),
    "5": (b"\x0c" * 20, b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b", 16),
    "6": (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        32,
    ),
    "7": (
        b"\xaa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data."
        b" The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        32,
    ),
}

# Message lengths around SHA-256's 64-byte blocks and its padding (55 bytes is the most one
# block can take with the length; HMAC's inner hash adds one block of key in front).
EDGE_LENGTHS = sorted({*range(0, 140), 183, 184, 191, 192, 255, 256, 257, 1000, 4096})
KEY_LENGTHS = sorted({*range(0, 130), 200, 1000})
BLOCK_FUNCTIONS = ("portable", "accelerated")


@contextlib.contextmanager
def block_function(c_codec: SimpleNamespace, name: str) -> Iterator[None]:
    """Hash with the named SHA-256 block function inside the block; the best available one
    (the library's own choice) again afterwards, whatever happens."""
    try:
        accelerated = c_codec.sha256_select(1 if name == "portable" else 0)
        if name == "accelerated" and not accelerated:
            pytest.skip("the CPU has no SHA extensions (or the build has no code for them)")
        assert accelerated == (name == "accelerated")
        yield
    finally:
        c_codec.sha256_select(0)


@pytest.fixture(scope="module")
def c_codec() -> Iterator[SimpleNamespace]:
    # Module scope: Hypothesis re-runs the test body, not the fixture, for each example.
    backend = require_c_codec()
    yield backend
    backend.sha256_select(0)


@pytest.fixture(scope="module")
def accelerated(c_codec: SimpleNamespace) -> bool:
    """Whether the SHA extensions are available (the library's choice when loaded)."""
    return bool(c_codec.sha256_select(0))


def reference(key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, "sha256")


# --- known answers ---------------------------------------------------------------------------


@pytest.mark.parametrize("block", BLOCK_FUNCTIONS)
@pytest.mark.parametrize("case", sorted(RFC4231))
def test_rfc4231_vectors_on_the_c_mac(c_codec: SimpleNamespace, case: str, block: str) -> None:
    key, data, expected_hex, compared = RFC4231[case]
    expected = bytes.fromhex(expected_hex)
    assert reference(key, data)[:compared] == expected  # the table itself
    with block_function(c_codec, block):
        mac = c_codec.c_hs256(key, data)
        assert len(mac) == 32
        assert mac[:compared] == expected
        assert c_codec.c_hs256_verify(key, data, mac)
        assert not c_codec.c_hs256_verify(key, data + b"\x00", mac)


@pytest.mark.parametrize("block", BLOCK_FUNCTIONS)
def test_the_c_mac_takes_any_key_length(c_codec: SimpleNamespace, block: str) -> None:
    # Keys shorter than, equal to and longer than the 64-byte block (hashed first).
    messages = [bytes(range(n % 256)) * (n // 256 + 1) for n in (0, 1, 55, 56, 64, 65, 300)]
    with block_function(c_codec, block):
        for length in KEY_LENGTHS:
            key = bytes((7 * i + length) & 0xFF for i in range(length))
            for message in messages:
                expected = reference(key, message)
                assert c_codec.c_hs256(key, message) == expected, (length, len(message))
                assert c_codec.c_hs256_verify(key, message, expected), (length, len(message))


@pytest.mark.parametrize("block", BLOCK_FUNCTIONS)
def test_every_message_length_across_block_boundaries(c_codec: SimpleNamespace, block: str) -> None:
    key = bytes(range(0xA0, 0xC0))
    with block_function(c_codec, block):
        for length in EDGE_LENGTHS:
            message = bytes((i * 31 + 5) & 0xFF for i in range(length))
            expected = reference(key, message)
            assert c_codec.c_hs256(key, message) == expected, length
            assert _pycodec.hs256(key, message) == expected, length


@pytest.mark.parametrize("case", sorted(RFC4231))
def test_rfc4231_vectors_on_the_python_mac(case: str) -> None:
    key, data, expected_hex, compared = RFC4231[case]
    mac = _pycodec.hs256(key, data)
    assert len(mac) == 32 and mac[:compared] == bytes.fromhex(expected_hex)
    assert _pycodec.hs256_verify(key, data, mac)
    assert not _pycodec.hs256_verify(key, data + b"\x00", mac)


def test_the_python_mac_takes_any_key_length() -> None:
    messages = [bytes(range(n % 256)) * (n // 256 + 1) for n in (0, 1, 55, 56, 64, 65, 300)]
    for length in KEY_LENGTHS:
        key = bytes((7 * i + length) & 0xFF for i in range(length))
        for message in messages:
            assert _pycodec.hs256(key, message) == reference(key, message), length


def test_the_python_mac_matches_the_standard_library_for_32_byte_keys() -> None:
    # It runs without the C extension too: the MAC of every pure-Python install.
    for seed in range(64):
        key = bytes((seed * 37 + i * 11) & 0xFF for i in range(32))
        for length in (0, 1, 31, 32, 55, 56, 63, 64, 65, 127, 128, 129, 700):
            message = bytes((seed + i) & 0xFF for i in range(length))
            expected = reference(key, message)
            assert _pycodec.hs256(key, message) == expected
            assert _pycodec.hs256_verify(key, message, expected)
    assert _pycodec.hs256(b"\xff" * 32, b"") == reference(b"\xff" * 32, b"")
    assert _pycodec.hs256(bytes(32), b"") == reference(bytes(32), b"")


# --- every implementation against the others ------------------------------------------------


def _flip_bit(data: bytes, bit: int) -> bytes:
    return data[: bit // 8] + bytes([data[bit // 8] ^ 1 << bit % 8]) + data[bit // 8 + 1 :]


def _verify_answers(
    verify: Callable[[bytes, bytes, bytes], bool],
    key: bytes,
    message: bytes,
    mac: bytes,
    bit: int,
) -> list[bool]:
    """verify on: the right MAC, a one-bit change of it, the wrong key, a message one byte
    longer, and MACs of 31, 33 and 0 bytes (an answer each time, never an exception)."""
    return [
        verify(key, message, mac),
        verify(key, message, _flip_bit(mac, bit)),
        verify(_flip_bit(key, bit), message, mac),
        verify(key, message + b"\x00", mac),
        verify(key, message, mac[:31]),
        verify(key, message, mac + b"\x00"),
        verify(key, message, b""),
    ]


EXPECTED_VERIFY = [True, False, False, False, False, False, False]


@MAIN
@given(
    st.binary(min_size=32, max_size=32),
    # Short messages, and long ones of every length up to 3000 bytes (many blocks).
    st.one_of(
        st.binary(max_size=200),
        st.integers(200, 3000).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    ),
    st.integers(0, 255),
)
def test_every_implementation_agrees_with_the_standard_library(
    c_codec: SimpleNamespace, key: bytes, message: bytes, bit: int
) -> None:
    expected = reference(key, message)
    assert _pycodec.hs256(key, message) == expected
    assert _verify_answers(_pycodec.hs256_verify, key, message, expected, bit) == EXPECTED_VERIFY
    for block in BLOCK_FUNCTIONS:
        if block == "accelerated" and not c_codec.sha256_select(0):
            continue  # no SHA extensions: the portable one is all there is
        with block_function(c_codec, block):
            assert c_codec.c_hs256(key, message) == expected, block
            answers = _verify_answers(c_codec.c_hs256_verify, key, message, expected, bit)
            assert answers == EXPECTED_VERIFY, block
    # The codec's own functions, whichever they are.
    assert _codec.hs256(key, message) == expected
    assert _verify_answers(_codec.hs256_verify, key, message, expected, bit) == EXPECTED_VERIFY


@SMALL
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=300), st.integers(0, 255))
def test_the_python_mac_and_its_verify(key: bytes, message: bytes, bit: int) -> None:
    # Without the C extension too: the MAC of every pure-Python install.
    expected = reference(key, message)
    assert _pycodec.hs256(key, message) == expected
    assert _verify_answers(_pycodec.hs256_verify, key, message, expected, bit) == EXPECTED_VERIFY


# --- the block function switch and the codec's choice ------------------------------------------


def test_the_block_function_switch_reports_and_restores(
    c_codec: SimpleNamespace, accelerated: bool
) -> None:
    key, message = bytes(range(32)), b"m" * 100
    try:
        assert c_codec.sha256_select(1) == 0
        assert c_codec.sha256_select(1) == 0
        portable = c_codec.c_hs256(key, message)
    finally:
        assert c_codec.sha256_select(0) == int(accelerated)
    assert c_codec.sha256_select(0) == int(accelerated)
    assert c_codec.c_hs256(key, message) == portable == reference(key, message)


def _cpu_reports_sha_extensions() -> bool | None:
    """True or False on x86-64 Linux (from /proc/cpuinfo); None elsewhere (not known)."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return {"sha_ni", "sse4_1", "ssse3"} <= flags
    except OSError:
        return None
    return None


def test_the_sha_extensions_are_used_when_the_cpu_has_them(accelerated: bool) -> None:
    # On x86-64 Linux (GCC or Clang, as the extension is built there), a CPU with the SHA
    # extensions must get the accelerated block function, and one without must not.
    reported = _cpu_reports_sha_extensions()
    if reported is None:
        pytest.skip("the CPU's features are not known on this platform")
    assert accelerated is reported


def test_the_active_mac_is_the_fastest_available() -> None:
    # The C MAC is used only on the CPU's SHA extensions: without them the portable C block
    # function is slower than hashlib's (OpenSSL's assembly), so the Python MAC, built on
    # hashlib, is the faster one and the codec keeps it. Both give the same bytes.
    c_codec = _codec.c_codec
    if c_codec is not None:
        accelerated = c_codec.sha256_select(0) == 1
        expect_c = accelerated and not pure_env()
        assert (c_codec.hs256 is c_codec.c_hs256) is accelerated
        assert (c_codec.hs256_verify is c_codec.c_hs256_verify) is accelerated
    else:
        if require_c_env():
            pytest.fail("HEMPROTO_REQUIRE_C=1 but the C extension hemproto._hemcodec is not built")
        expect_c = False
    assert _codec.active_codec() == ("python" if pure_env() or c_codec is None else "c")
    if expect_c:
        assert c_codec is not None
        assert _codec.hs256 is c_codec.c_hs256
        assert _codec.hs256_verify is c_codec.c_hs256_verify
    else:
        assert _codec.hs256 is _pycodec.hs256
        assert _codec.hs256_verify is _pycodec.hs256_verify
