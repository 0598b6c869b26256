"""Fixtures for the benchmark suite, and a summary of each group's medians against hemproto.

This directory is collected only when named on the command line (the project's pytest
config has ``testpaths = ["tests"]``). Fixture names carry a ``bench_`` prefix so they
never shadow the test suite's fixtures when both directories run in one session.

Every benchmark marks its hemproto entry with ``extra_info["baseline_rank"]`` (lower wins
when a group has more than one hemproto entry) and labels itself with
``extra_info["entry"]``; the terminal summary divides each median by the baseline's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

import pytest

import hemproto

# Fixed keys, so every run measures the same token. Never use these anywhere real.
BACKEND_PRIVATE = bytes(range(32))
DEVICE_PRIVATE = bytes(range(100, 132))
OTHER_MAC_KEY = bytes(range(200, 232))


def fixed_bytes(label: str, size: int) -> bytes:
    """Deterministic, non-trivial bytes for a claim or an input (not secret, not random)."""
    return hashlib.shake_256(f"hemproto-bench:{label}".encode()).digest(size)


def b64(data: bytes) -> str:
    """Standard padded base64, as the check's claims travel."""
    return base64.b64encode(data).decode("ascii")


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWS segments travel."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class CheckFixture:
    """A real check token and everything needed to verify it, computed independently."""

    token: str
    forged: str  # same header and payload, MAC made with another key
    backend_private: bytes
    backend_pair: hemproto.KeyPair
    device_public: bytes
    shared_secret: bytes
    fields: dict[str, bytes]  # claim name -> raw bytes
    claims: dict[str, str]  # claim name -> wire value (standard base64)


@pytest.fixture(scope="session")
def bench_check() -> CheckFixture:
    backend = hemproto.KeyPair(BACKEND_PRIVATE)
    device = hemproto.KeyPair(DEVICE_PRIVATE)
    fields = {
        "jti": fixed_bytes("jti", 32),
        "iss": device.public,
        "qid": fixed_bytes("qid", 32),
        "aud": backend.public,
        "fws": fixed_bytes("fws", 64),
        "bls": fixed_bytes("bls", 64),
        "uis": fixed_bytes("uis", 32),
        "csn": fixed_bytes("csn", 16),
    }
    token = hemproto.sign_check(
        device,
        backend.public,
        jti=fields["jti"],
        qid=fields["qid"],
        fws=fields["fws"],
        bls=fields["bls"],
        uis=fields["uis"],
        csn=fields["csn"],
    )
    # The device side of the exchange: what the backend side must arrive at.
    shared = device.shared(backend.public)
    signing_input = token.rsplit(".", 1)[0]
    forged_mac = hmac.digest(OTHER_MAC_KEY, signing_input.encode("ascii"), "sha256")
    return CheckFixture(
        token=token,
        forged=f"{signing_input}.{b64url(forged_mac)}",
        backend_private=BACKEND_PRIVATE,
        backend_pair=backend,
        device_public=device.public,
        shared_secret=shared,
        fields=fields,
        claims={name: b64(value) for name, value in fields.items()},
    )


def pytest_report_header(config: pytest.Config) -> list[str]:
    from hemproto._codec import c_backend

    lines = [
        f"hemproto {hemproto.__version__}: active codec backend {hemproto.codec_backend()!r}, "
        f"C extension {'built' if c_backend is not None else 'NOT built'}"
    ]
    if os.environ.get("HEMPROTO_PURE") == "1":
        lines.append("HEMPROTO_PURE=1: token benchmarks measure the Python codec")
    return lines


# --- the "relative to hemproto" summary ---------------------------------------------------

_GROUPS = pytest.StashKey[list[tuple[str, list[dict[str, Any]]]]]()


@pytest.hookimpl(wrapper=True, optionalhook=True)
def pytest_benchmark_group_stats(
    config: pytest.Config, benchmarks: list[dict[str, Any]], group_by: str
) -> Any:
    groups = yield
    config.stash[_GROUPS] = list(groups)
    return groups


def _format_seconds(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:8.2f} {unit}"
    return f"{seconds / 1e-9:8.1f} ns"


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    groups = config.stash.get(_GROUPS, None)
    if not groups:
        return
    lines: list[str] = []
    for group, benches in groups:
        current = [b for b in benches if not b.get("path")]  # drop --benchmark-compare rows
        ranked = [b for b in current if "baseline_rank" in b["extra_info"]]
        if not ranked:
            continue
        base = min(ranked, key=lambda b: b["extra_info"]["baseline_rank"])
        lines.append(f"{group}  (baseline: {base['extra_info'].get('entry', base['name'])})")
        for bench in sorted(current, key=lambda b: b["median"]):
            label = bench["extra_info"].get("entry", bench["name"])
            ratio = bench["median"] / base["median"]
            lines.append(f"    {label:<34} {_format_seconds(bench['median'])}   x{ratio:6.2f}")
    if lines:
        terminalreporter.write_sep("-", "median per call, and its ratio to the hemproto entry")
        for line in lines:
            terminalreporter.write_line(line)
