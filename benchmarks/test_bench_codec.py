"""b64url_decode of unpadded base64url text: hemproto's two backends against two peers.

Sizes are input lengths in characters: 43 is a signature segment (32 bytes), 600 is
about a check payload, 6000 shows the per-byte cost once call overhead is amortised.

The peers are not equivalent in what they check: hemproto refuses padding, the other
alphabet, stray characters and non-canonical trailing bits; the standard library and
pybase64 (both called without validation, as they usually are) drop or translate what
they do not like, and they need padding re-added first, which is part of their cost here.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from types import ModuleType

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from hemproto._codec import c_backend, python_backend

pybase64: ModuleType | None
try:
    import pybase64
except ImportError:  # pragma: no cover - pybase64 is a test extra
    pybase64 = None

SIZES = (43, 600, 6000)


def _sample(length: int) -> tuple[str, bytes]:
    """Canonical unpadded base64url text of exactly ``length`` characters, and its bytes."""
    data = hashlib.shake_256(f"hemproto-bench:b64url:{length}".encode()).digest(length * 3 // 4)
    text = base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
    assert len(text) == length
    return text, data


def _stdlib_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _pybase64_decode(text: str) -> bytes:
    return pybase64.urlsafe_b64decode(text + "=" * (-len(text) % 4))  # type: ignore[no-any-return,union-attr]


# entry id -> (label in the summary, baseline rank for hemproto entries, else None)
ENTRIES: dict[str, tuple[str, int | None]] = {
    "hemproto-c": ("hemproto C backend", 0),
    "hemproto-python": ("hemproto Python backend", 1),
    "stdlib": ("base64.urlsafe_b64decode", None),
    "pybase64": ("pybase64.urlsafe_b64decode", None),
}


def _decoder(entry: str) -> Callable[[str], bytes]:
    if entry == "hemproto-c":
        if c_backend is None:
            pytest.skip("the C extension hemproto._hemcodec is not built")
        return c_backend.b64url_decode  # type: ignore[no-any-return]
    if entry == "hemproto-python":
        return python_backend.b64url_decode  # type: ignore[no-any-return]
    if entry == "stdlib":
        return _stdlib_decode
    if entry == "pybase64":
        if pybase64 is None:
            pytest.skip("pybase64 is not installed")
        return _pybase64_decode
    raise AssertionError(entry)


@pytest.mark.parametrize("entry", list(ENTRIES))
@pytest.mark.parametrize(
    "length",
    [
        pytest.param(n, marks=pytest.mark.benchmark(group=f"b64url_decode-{n}"), id=str(n))
        for n in SIZES
    ],
)
def test_b64url_decode(benchmark: BenchmarkFixture, length: int, entry: str) -> None:
    decode = _decoder(entry)
    text, expected = _sample(length)
    label, rank = ENTRIES[entry]
    benchmark.extra_info["entry"] = label
    if rank is not None:
        benchmark.extra_info["baseline_rank"] = rank
    assert decode(text) == expected  # checked once before timing, and again after
    result = benchmark(decode, text)
    assert result == expected
