"""How many Python frames and C calls one check takes, counted, not timed.

Run: python benchmarks/frames.py [--list]

sys.setprofile counts, during one call after a warm-up: each Python frame entered
('call' events) and each call into the C core (a 'c_call' of a function of
hemproto._hemcodec's lib), and, apart, every other call of a C function (builtins, cffi's
ffi helpers, the X25519 provider). The counts do not depend on the machine or its load, so
two trees can be compared exactly. --list prints the frames and C calls in order.

Cases: verify_check_with of a check in the device's shape (the scan's fast path) and of the
same check with its claims in another order (the general path); Backend.handle of a device's
raw body (bytes, as a server reads it) and of the same body parsed into a dict; and
Backend.process of the raw body (what the ASGI app calls, through process_async: the same
steps, and the CheckinResult its log line reads).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import hemproto
from hemproto import claims
from hemproto.backend import Backend

BACKEND_KEY = hemproto.KeyPair(bytes(range(32)))
DEVICE_KEY = hemproto.KeyPair(bytes(range(100, 132)))
C_CORE = "hemproto._hemcodec"


@dataclass
class Count:
    frames: list[str] = field(default_factory=list)
    core_calls: list[str] = field(default_factory=list)
    other_c_calls: list[str] = field(default_factory=list)


def counted(function: Callable[..., Any], *args: Any) -> Count:
    """One call of ``function(*args)`` with every frame and C call recorded."""
    count = Count()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            code = frame.f_code
            module = frame.f_globals.get("__name__", "?")
            count.frames.append(f"{module}.{code.co_qualname}")
        elif event == "c_call":
            name = getattr(arg, "__qualname__", arg.__name__)
            if arg is sys.setprofile:
                return
            if getattr(arg, "__module__", None) == C_CORE:
                count.core_calls.append(arg.__name__)
            else:
                count.other_c_calls.append(name)

    sys.setprofile(profile)
    try:
        function(*args)
    finally:
        sys.setprofile(None)
    return count


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def device_check(jti: bytes) -> str:
    return hemproto.sign_check(
        DEVICE_KEY,
        BACKEND_KEY.public,
        qid=bytes(32),
        fws=bytes([1]) * 64,
        bls=bytes([2]) * 64,
        uis=bytes([3]) * 32,
        csn=bytes(16),
        jti=jti,
    )


def reordered(token: str) -> str:
    """The same claims, rotated by one and MACed again: a valid check the scan does not match."""
    header, payload, _ = token.split(".")
    items = list(json.loads(base64.urlsafe_b64decode(payload + "==")).items())
    text = json.dumps(dict(items[1:] + items[:1]), separators=(",", ":")).encode()
    signing_input = f"{header}.{b64url(text)}"
    key = DEVICE_KEY.shared(BACKEND_KEY.public)
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def cases() -> dict[str, Count]:
    keys = {BACKEND_KEY.public: BACKEND_KEY}
    results: dict[str, Count] = {}
    for name, token in (
        ("verify_check_with, device shape", device_check(bytes([1]) * 32)),
        ("verify_check_with, claims reordered", reordered(device_check(bytes([2]) * 32))),
    ):
        claims.verify_check_with(token, keys)  # warm: caches, lazily built tables
        results[name] = counted(claims.verify_check_with, token, keys)

    backend = Backend(BACKEND_KEY)
    serial = iter(range(3, 256))

    def body() -> bytes:  # a fresh check each time: the backend refuses a replay
        return (
            json.dumps({"check": device_check(bytes([next(serial)]) * 32)})
            .replace(" ", "")
            .encode()
        )

    for name, make, call in (
        ("Backend.handle, device's raw body", body, backend.handle),
        ("Backend.handle, parsed body", lambda: json.loads(body()), backend.handle),
        # Older trees had no process: the case is left out there.
        ("Backend.process, device's raw body", body, getattr(backend, "process", None)),
    ):
        if call is None:
            continue
        call(make())  # warm: decisions remembered, stores sized
        request = make()
        results[name] = counted(call, request)
        assert backend.handle(make())[0] == 200
    return results


def main() -> None:
    show = "--list" in sys.argv[1:]
    # Older trees named the codec choice otherwise: the script counts them too.
    for name in ("active_codec", "active_backend", "codec_backend"):
        active = getattr(hemproto, name, None)
        if active is not None:
            print(f"hemproto {hemproto.__version__}, codec {active()}")
            break
    print(f"{'case':40} {'frames':>7} {'C core':>7} {'other C':>8}")
    for name, count in cases().items():
        print(
            f"{name:40} {len(count.frames):7d} {len(count.core_calls):7d}"
            f" {len(count.other_c_calls):8d}"
        )
        if show:
            print("  frames:  " + ", ".join(count.frames))
            print("  C core:  " + ", ".join(count.core_calls))
            print("  other C: " + ", ".join(count.other_c_calls))


if __name__ == "__main__":
    main()
