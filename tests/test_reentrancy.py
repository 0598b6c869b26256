"""Every codec call gives its own result when a signal handler calls hemproto in the middle of it.

CPython runs a Python signal handler between two bytecodes of the code it interrupts, for
instance right after a C call has returned and before its output is copied out. A handler
that calls hemproto (a reload-on-SIGHUP decoding a key file) must not disturb that call, so
no output buffer may be shared by two calls in flight, on one thread or on several.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

import pytest
from _both_codecs import CODEC_NAMES, get_codec
from _hostile_world import codec

import hemproto
from hemproto import _codec
from hemproto.errors import HemProtoError

# Bounds of one run: whichever comes first. Not a timing assertion; a run that ends early
# still checks every result it produced.
ITERATIONS = 20_000
SECONDS = 3.0
# The handler re-arms a one-shot timer with a delay drawn from this range, so that it lands
# at every point of the main loop's calls, including just after a C call returns.
DELAY_RANGE = (20e-6, 300e-6)
# The handler must have run this often, or the run proved nothing.
MIN_INTERRUPTIONS = 200

BACKEND = hemproto.KeyPair(hashlib.sha256(b"hemproto reentrancy: backend").digest())
DEVICES = [
    hemproto.KeyPair(hashlib.sha256(f"hemproto reentrancy: device {n}".encode()).digest())
    for n in range(2)
]
MAC_KEYS = [hashlib.sha256(f"hemproto reentrancy: mac {n}".encode()).digest() for n in range(2)]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def check_token(device: hemproto.KeyPair, seed: int) -> str:
    """A check in the device's exact shape, MACed correctly, built with the standard library."""
    rng = random.Random(seed)
    sizes = (("qid", 32), ("fws", 64), ("bls", 64), ("uis", 32), ("csn", 16))
    values = {name: rng.randbytes(size) for name, size in sizes}
    claims = {
        "jti": rng.randbytes(32),
        "iss": device.public,
        "qid": values["qid"],
        "aud": BACKEND.public,
        "fws": values["fws"],
        "bls": values["bls"],
        "uis": values["uis"],
        "csn": values["csn"],
    }
    header = '{"ecdh":"x25519","typ":"JWT","alg":"HS256"}'
    payload = json.dumps(
        {name: base64.b64encode(value).decode() for name, value in claims.items()},
        separators=(",", ":"),
    )
    signing_input = f"{b64url(header.encode())}.{b64url(payload.encode())}"
    key = device.shared(BACKEND.public)
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


class Values:
    """Known inputs and their expected outputs, computed without hemproto's codec."""

    def __init__(self, seed: int, device: hemproto.KeyPair, mac_key: bytes) -> None:
        rng = random.Random(seed)
        self.raw_url = rng.randbytes(4500)  # 6,000 base64url characters
        self.url = b64url(self.raw_url)
        self.raw_std = rng.randbytes(450)
        self.std = base64.b64encode(self.raw_std).decode()
        self.raw_small = rng.randbytes(32)
        self.small = b64url(self.raw_small)
        self.token = check_token(device, seed)
        header, payload, signature = self.token.split(".")
        self.split = (
            len(header),
            len(header) + 1 + len(payload),
            b"".join(
                base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
                for part in (header, payload, signature)
            ),
        )
        self.claims = {
            name: base64.b64decode(value)
            for name, value in json.loads(base64.urlsafe_b64decode(payload + "==")).items()
        }
        self.signature = self.split[2][-32:]
        self.signing_input = f"{header}.{payload}".encode()
        self.mac_key = mac_key
        self.mac = hmac.new(mac_key, self.signing_input, hashlib.sha256).digest()


MAIN = Values(1, DEVICES[0], MAC_KEYS[0])
OTHER = Values(2, DEVICES[1], MAC_KEYS[1])


def scan_is_right(scanned: object, values: Values) -> bool:
    if not isinstance(scanned, tuple) or len(scanned) != 3:
        return False
    _, fields, signed = scanned
    expected = (
        *(values.claims[name] for name in ("jti", "iss", "qid", "aud", "fws", "bls", "uis", "csn")),
        values.signature,
    )
    return tuple(fields) == expected and signed == values.signing_input


def challenge_is_right(challenge: hemproto.CheckChallenge, values: Values) -> bool:
    return all(getattr(challenge, name) == value for name, value in values.claims.items())


def operations(backend: object) -> list[tuple[str, Callable[[Values], bool]]]:
    """Each call under test, with the check of its result against a Values."""
    hs256s = [getattr(backend, "hs256")]
    if getattr(backend, "c_hs256", None) is not None:
        hs256s.append(getattr(backend, "c_hs256"))
    ops: list[tuple[str, Callable[[Values], bool]]] = [
        ("b64url_decode", lambda v: _codec.b64url_decode(v.url) == v.raw_url),
        ("b64url_decode small", lambda v: _codec.b64url_decode(v.small) == v.raw_small),
        ("b64url_decode bytes", lambda v: _codec.b64url_decode(v.url.encode()) == v.raw_url),
        ("b64_decode", lambda v: _codec.b64_decode(v.std) == v.raw_std),
        ("b64url_encode", lambda v: _codec.b64url_encode(v.raw_url) == v.url),
        ("b64_encode", lambda v: _codec.b64_encode(v.raw_std) == v.std),
        ("split_token", lambda v: _codec.split_token(v.token) == v.split),
        ("scan_check", lambda v: scan_is_right(_codec.scan_check(v.token), v)),
    ]
    for number, hs256 in enumerate(hs256s):
        ops.append((f"hs256 {number}", lambda v, f=hs256: f(v.mac_key, v.signing_input) == v.mac))
    return ops


def gives_right(check: Callable[[Values], bool], values: Values) -> bool:
    # A clobbered buffer can also raise (an encoder's output that is no longer ASCII):
    # that is a wrong result too, and the run goes on counting.
    try:
        return check(values)
    except Exception:
        return False


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
def test_calls_interrupted_by_a_handler_that_calls_hemproto(codec_name: str) -> None:
    backend = get_codec(codec_name)
    rng = random.Random(20)
    ops = operations(backend)
    mismatches: dict[str, int] = {}
    refused: list[str] = []
    handler_failures: list[str] = []
    interruptions = 0

    def delay() -> float:
        return rng.uniform(*DELAY_RANGE)

    # Set before the timer is disarmed. CPython runs a Python handler some bytecodes after
    # its signal arrived, so a handler can run after the `setitimer(0)` below; were it to
    # re-arm the timer then, the next SIGALRM would meet the default action and end pytest.
    stopping = False

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        nonlocal interruptions
        interruptions += 1
        # A different value than the main loop's, so that a shared buffer shows up as a
        # wrong result on one side or the other.
        try:
            name, check = ops[interruptions % len(ops)]
            if not check(OTHER) or _codec.b64url_decode(OTHER.url) != OTHER.raw_url:
                handler_failures.append(name)
        except Exception as exc:  # reported, never raised into the main loop
            handler_failures.append(f"{name}: {type(exc).__name__}")
        if not stopping:
            signal.setitimer(signal.ITIMER_REAL, delay())

    calls = 0
    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        with codec(backend):
            signal.setitimer(signal.ITIMER_REAL, delay())
            deadline = time.monotonic() + SECONDS
            while calls < ITERATIONS and time.monotonic() < deadline:
                for name, check in ops:
                    if not gives_right(check, MAIN):
                        mismatches[name] = mismatches.get(name, 0) + 1
                try:
                    challenge = hemproto.verify_check(MAIN.token, BACKEND)
                except HemProtoError as exc:
                    refused.append(type(exc).__name__)
                else:
                    if not challenge_is_right(challenge, MAIN):
                        mismatches["verify_check"] = mismatches.get("verify_check", 0) + 1
                calls += 1
    finally:
        stopping = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0), "the timer outlived the test"
    assert interruptions >= MIN_INTERRUPTIONS, (interruptions, calls)
    found = {
        "wrong results": mismatches,
        "valid checks refused": len(refused),
        "handler failures": handler_failures[:10],
    }
    assert found == {"wrong results": {}, "valid checks refused": 0, "handler failures": []}, (
        f"in {calls} rounds with {interruptions} interruptions"
    )


@pytest.mark.parametrize("codec_name", CODEC_NAMES)
def test_calls_on_several_threads_keep_their_own_results(codec_name: str) -> None:
    backend = get_codec(codec_name)
    workers = 4
    rounds = 300
    values = [Values(10 + n, DEVICES[n % 2], MAC_KEYS[n % 2]) for n in range(workers)]
    failures: list[str] = []
    start = threading.Barrier(workers)

    def work(mine: Values) -> None:
        ops = operations(backend)
        start.wait()
        for _ in range(rounds):
            for name, check in ops:
                if not gives_right(check, mine):
                    failures.append(name)

    with codec(backend):
        threads = [threading.Thread(target=work, args=(v,)) for v in values]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
