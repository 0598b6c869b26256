"""Shared fixtures, and the guard that makes a silent fallback to Python fail the run."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hemproto

VECTORS = Path(__file__).parent / "vectors"


def pytest_report_header(config: pytest.Config) -> str:
    return f"hemproto {hemproto.__version__}, codec: {hemproto.active_codec()}"


def pytest_configure(config: pytest.Config) -> None:
    codec = hemproto.active_codec()
    if os.environ.get("HEMPROTO_PURE") == "1":
        if codec != "python":
            raise pytest.UsageError(f"HEMPROTO_PURE=1 but the codec is {codec!r}")
    elif os.environ.get("HEMPROTO_REQUIRE_C") == "1" and codec != "c":
        raise pytest.UsageError(f"HEMPROTO_REQUIRE_C=1 but the codec is {codec!r}")


@pytest.fixture(autouse=True)
def _no_timer_left_behind() -> Iterator[None]:
    """Fail a test that leaves SIGALRM's handler changed or an interval timer armed.

    Either would end the whole run later with "Alarm clock", inside some other test.
    """
    handler = signal.getsignal(signal.SIGALRM)
    yield
    armed = signal.getitimer(signal.ITIMER_REAL)
    signal.setitimer(signal.ITIMER_REAL, 0)
    changed = signal.getsignal(signal.SIGALRM) is not handler
    signal.signal(signal.SIGALRM, handler)
    assert armed == (0.0, 0.0) and not changed, (
        f"the test left SIGALRM behind: timer {armed}, handler changed: {changed}"
    )


def load_vector(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


@pytest.fixture(scope="session")
def seed() -> dict[str, Any]:
    return load_vector("seed_check.json")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def backend_key() -> hemproto.KeyPair:
    return hemproto.KeyPair(bytes(range(32)))


@pytest.fixture(scope="session")
def device_key() -> hemproto.KeyPair:
    return hemproto.KeyPair(bytes(range(100, 132)))


@pytest.fixture(scope="session")
def seed_challenge(seed: dict[str, Any]) -> hemproto.CheckChallenge:
    return hemproto.parse_check(seed["token"])


@pytest.fixture()
def make_check(
    device_key: hemproto.KeyPair, backend_key: hemproto.KeyPair, seed_challenge: Any
) -> Any:
    """Sign a check from the test device to the test backend, with the seed's firmware."""

    def make(**overrides: Any) -> str:
        fields: dict[str, Any] = {
            "qid": seed_challenge.qid,
            "fws": seed_challenge.fws,
            "bls": seed_challenge.bls,
            "uis": seed_challenge.uis,
            "csn": seed_challenge.csn,
        }
        fields.update(overrides)
        return hemproto.sign_check(device_key, backend_key.public, **fields)

    return make
