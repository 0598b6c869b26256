"""hemproto.client and ``hemproto checkin`` against real HTTP servers on 127.0.0.1.

A device emulator and a backend, each served by hemproto.asgi behind uvicorn on a free
port in a thread of its own; a Site in front of each counts and records every request and
can misbehave on cue (an error status, a body that is not JSON, an answer that never
comes, a dropped connection), so every test can say exactly what reached which server.
The command line runs through hemproto.cli.main, and once as a child process.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import hashlib
import inspect
import json
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from _certs import self_signed
from _cli import run_cli

import hemproto
from hemproto import (
    Backend,
    DeviceEmulator,
    KeyPair,
    RelayOutcome,
    Release,
    ReleaseRegistry,
    checkin_cli,
)
from hemproto import cli as hemproto_cli
from hemproto.asgi import backend_app, device_app
from hemproto.client import DEFAULT_BACKEND_URL, checkin, checkin_async, parse_pin
from hemproto.device import FLS_LOCKED
from hemproto.errors import RelayError, RelayNetworkError

CHECKIN_PATH = "/api/system/checkin"
FW = {name: bytes([n]) * 64 for n, name in enumerate(("current", "outdated", "revoked"), 1)}
BL = bytes([9]) * 64
UI_CURRENT, UI_OUTDATED = bytes([10]) * 32, bytes([11]) * 32
# Short enough that a test which times out stays quick, long enough for a loaded machine.
QUICK_TIMEOUT = 1.0
TIMEOUT = 5.0

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def registry() -> ReleaseRegistry:
    return ReleaseRegistry(
        [
            Release("firmware", FW["current"], "2.0", "current"),
            Release("firmware", FW["outdated"], "1.9", "outdated"),
            Release("firmware", FW["revoked"], "1.0", "revoked"),
            Release("bootloader", BL, "1.0", "current"),
            Release("dashboard", UI_CURRENT, "3.1", "current"),
            Release("dashboard", UI_OUTDATED, "3.0", "outdated"),
        ]
    )


# --- the servers --------------------------------------------------------------------------------


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def respond(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if body:
        headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


Fault = Callable[[Send, threading.Event], Awaitable[None]]


def status_fault(status: int) -> Fault:
    async def fault(send: Send, release: threading.Event) -> None:
        await respond(send, status, b"")

    return fault


async def hang(send: Send, release: threading.Event) -> None:
    """Never answer (until the test ends and releases the server)."""
    while not release.is_set():
        await asyncio.sleep(0.02)
    await respond(send, 503, b"")


async def drop(send: Send, release: threading.Event) -> None:
    """Start an answer, then fail: uvicorn closes the connection mid-answer."""
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
    )
    raise ConnectionAbortedError("the server died mid-answer")


async def not_json(send: Send, release: threading.Event) -> None:
    await respond(send, 200, b"<html>busy</html>")


class Site:
    """ASGI middleware that records each request (method, body) and what was answered, and
    runs the next queued fault for a method instead of the app when one is queued."""

    def __init__(self, app: App, release: threading.Event) -> None:
        self.app = app
        self.release = release
        self.requests: list[tuple[str, bytes]] = []
        self.answers: list[bytes] = []
        self.faults: dict[str, list[Fault]] = {}
        self.before: dict[str, Callable[[], Awaitable[None]]] = {}
        self.lock = threading.Lock()

    def count(self, method: str) -> int:
        with self.lock:
            return sum(1 for seen, _ in self.requests if seen == method)

    def bodies(self, method: str) -> list[bytes]:
        with self.lock:
            return [body for seen, body in self.requests if seen == method]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        method = scope["method"]
        with self.lock:
            self.requests.append((method, body))
            queued = self.faults.get(method)
            fault = queued.pop(0) if queued else None
        hook = self.before.get(method)
        if hook is not None:
            await hook()
        if fault is not None:
            await fault(send, self.release)
            return
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                with self.lock:
                    self.answers.append(message["body"])
            await send(message)

        await self.app(scope, replay, record)


class Server:
    """uvicorn serving one app on a free 127.0.0.1 port, in a thread, until stop()."""

    def __init__(self, app: App, *, tls: tuple[Path, Path] | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.scheme = "http" if tls is None else "https"
        options: dict[str, Any] = {}
        if tls is not None:
            options = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])}
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="critical",
            access_log=False,
            timeout_graceful_shutdown=2,
            **options,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        for _ in range(1000):  # at most 10 s
            if self.server.started or not self.thread.is_alive():
                break
            time.sleep(0.01)
        if not self.server.started:
            self.stop()
            raise RuntimeError("the test server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()
        assert not self.thread.is_alive(), "the test server did not stop"


class Harness:
    """Starts servers for one test and stops every one of them at its end."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.servers: list[Server] = []

    def serve(self, app: App, *, tls: tuple[Path, Path] | None = None) -> Server:
        server = Server(app, tls=tls)
        self.servers.append(server)
        server.start()
        return server

    def close(self) -> None:
        self.release.set()
        for server in reversed(self.servers):
            if server.thread.is_alive():
                server.stop()


@pytest.fixture()
def harness() -> Iterator[Harness]:
    harness = Harness()
    try:
        yield harness
    finally:
        harness.close()


class World:
    """A backend and a device that trusts it, each served by its own uvicorn."""

    def __init__(
        self,
        harness: Harness,
        *,
        fws: bytes = FW["current"],
        uis: bytes | None = UI_CURRENT,
        device_tls: tuple[Path, Path] | None = None,
        backend_tls: tuple[Path, Path] | None = None,
        trusted_key: bytes | None = None,
    ) -> None:
        self.backend_key = KeyPair.generate()
        self.backend = Backend(self.backend_key, releases=registry())
        self.device = DeviceEmulator(
            backend_public_key=trusted_key or self.backend_key.public, fws=fws, bls=BL, uis=uis
        )
        self.device_site = Site(device_app(self.device), harness.release)
        self.backend_site = Site(backend_app(self.backend), harness.release)
        self.device_server = harness.serve(self.device_site, tls=device_tls)
        self.backend_server = harness.serve(self.backend_site, tls=backend_tls)

    @property
    def backend_url(self) -> str:
        return self.backend_server.url + "/checkin"

    def options(self, options: dict[str, Any]) -> dict[str, Any]:
        options.setdefault("backend_url", self.backend_url)
        options.setdefault("timeout", TIMEOUT)
        options.setdefault("retry_delay", 0)
        return options

    def checkin(self, **options: Any) -> RelayOutcome:
        return checkin(self.device_server.url, **self.options(options))

    def checkin_async(self, **options: Any) -> RelayOutcome:
        return asyncio.run(checkin_async(self.device_server.url, **self.options(options)))

    def run(self, driver: str, **options: Any) -> RelayOutcome:
        return self.checkin(**options) if driver == "sync" else self.checkin_async(**options)

    def counts(self) -> tuple[int, int, int]:
        """(device GETs, backend POSTs, device POSTs) seen so far."""
        return (
            self.device_site.count("GET"),
            self.backend_site.count("POST"),
            self.device_site.count("POST"),
        )


def fails(call: Callable[[], object], kind: type[RelayError] = RelayError) -> RelayError:
    with pytest.raises(kind) as caught:
        call()
    return caught.value


def jti_of(check_body: bytes) -> bytes:
    return hemproto.parse_check(json.loads(check_body)).jti


DRIVERS = ("sync", "async")


# --- TLS material ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def device_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    return self_signed(tmp_path_factory.mktemp("tls"), "device")


@pytest.fixture(scope="module")
def backend_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    return self_signed(tmp_path_factory.mktemp("tls"), "backend")


# --- successful bounces ---------------------------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_bounce_checks_the_device_in_and_forwards_bytes_verbatim(
    harness: Harness, driver: str
) -> None:
    world = World(harness)
    outcome = world.run(driver)
    assert outcome.status == "OK" and outcome.checked.act == "OK"
    assert (outcome.newfws, outcome.newuis, outcome.newcrt) == (None, None, None)
    assert world.device.rtc == outcome.checked.iat
    assert outcome.check.qid == world.device.qid
    assert world.counts() == (1, 1, 1)
    # The backend got exactly the bytes the device served, and the device exactly the
    # bytes the backend answered.
    check_bytes, device_answer = world.device_site.answers
    (checked_bytes,) = world.backend_site.answers
    assert world.backend_site.bodies("POST") == [check_bytes]
    assert world.device_site.bodies("POST") == [checked_bytes]
    assert json.loads(device_answer) == outcome.device_response == {"status": "OK"}
    assert type(outcome.device_response) is dict


@pytest.mark.parametrize("driver", DRIVERS)
def test_an_outdated_device_learns_of_the_new_releases(harness: Harness, driver: str) -> None:
    world = World(harness, fws=FW["outdated"], uis=UI_OUTDATED)
    outcome = world.run(driver)
    assert outcome.status == "OK"
    assert outcome.newfws == FW["current"]
    assert outcome.newuis == UI_CURRENT


@pytest.mark.parametrize("driver", DRIVERS)
def test_revoked_firmware_locks_the_device(harness: Harness, driver: str) -> None:
    world = World(harness, fws=FW["revoked"])
    outcome = world.run(driver)
    assert outcome.status == "L"
    assert world.device.fls_state & FLS_LOCKED
    assert world.device.user_key_present is False


@pytest.mark.parametrize("driver", DRIVERS)
def test_unknown_firmware_is_reported(harness: Harness, driver: str) -> None:
    world = World(harness, fws=bytes([77]) * 64)
    outcome = world.run(driver)
    assert outcome.status == "R"
    (report,) = world.device.reports
    assert report.jti == outcome.check.jti


def test_the_checkin_endpoint_may_be_given_in_full(harness: Harness) -> None:
    world = World(harness)
    url = world.device_server.url + CHECKIN_PATH
    outcome = checkin(url, backend_url=world.backend_url, timeout=TIMEOUT)
    assert outcome.status == "OK"
    assert world.counts() == (1, 1, 1)


# --- TLS towards the device -----------------------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
def test_the_right_pin_trusts_a_self_signed_device(
    harness: Harness, device_cert: tuple[Path, Path, str], driver: str
) -> None:
    cert, key, pin = device_cert
    world = World(harness, device_tls=(cert, key))
    assert world.run(driver, device_pin=pin).status == "OK"
    # Upper case with colons between bytes, as certificate tools print it: the same pin.
    spelled = ":".join(pin[i : i + 2] for i in range(0, 64, 2)).upper()
    assert parse_pin(spelled) == bytes.fromhex(pin)
    assert world.run(driver, device_pin=spelled).status == "OK"
    assert world.counts() == (2, 2, 2)


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_wrong_pin_fails_before_any_request_reaches_the_device(
    harness: Harness, device_cert: tuple[Path, Path, str], driver: str
) -> None:
    cert, key, _ = device_cert
    world = World(harness, device_tls=(cert, key))
    wrong = hashlib.sha256(b"another certificate").hexdigest()
    error = fails(lambda: world.run(driver, device_pin=wrong), RelayNetworkError)
    assert error.step == "get_check" and error.status is None
    assert error.possibly_delivered is False
    assert "pin" in str(error)
    # Nothing was sent on the connection: no GET, so no check, no reply, no POST.
    assert world.device_site.requests == []
    assert world.counts() == (0, 0, 0)
    assert world.device.rtc is None


def test_a_wrong_pin_is_not_retried_and_names_no_url(
    harness: Harness, device_cert: tuple[Path, Path, str]
) -> None:
    cert, key, _ = device_cert
    world = World(harness, device_tls=(cert, key))
    error = fails(lambda: world.checkin(device_pin="00" * 32, attempts=3), RelayNetworkError)
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert world.device.outstanding_nonces == 0
    assert world.device_server.url not in str(error)


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_ca_file_trusts_the_device(
    harness: Harness, device_cert: tuple[Path, Path, str], driver: str
) -> None:
    cert, key, _ = device_cert
    world = World(harness, device_tls=(cert, key))
    assert world.run(driver, device_ca=cert).status == "OK"
    assert world.counts() == (1, 1, 1)


def test_a_ca_file_for_another_certificate_is_refused(
    harness: Harness, device_cert: tuple[Path, Path, str], backend_cert: tuple[Path, Path, str]
) -> None:
    cert, key, _ = device_cert
    world = World(harness, device_tls=(cert, key))
    error = fails(lambda: world.checkin(device_ca=backend_cert[0]), RelayNetworkError)
    assert error.step == "get_check"
    assert world.counts() == (0, 0, 0)


@pytest.mark.parametrize("driver", DRIVERS)
def test_without_an_option_a_self_signed_device_fails_verification(
    harness: Harness, device_cert: tuple[Path, Path, str], driver: str
) -> None:
    cert, key, _ = device_cert
    world = World(harness, device_tls=(cert, key))
    error = fails(lambda: world.run(driver), RelayNetworkError)
    assert error.step == "get_check" and error.possibly_delivered is False
    assert "TLS certificate not accepted" in str(error)
    assert world.counts() == (0, 0, 0)


@pytest.mark.parametrize("driver", DRIVERS)
def test_insecure_device_skips_verification(
    harness: Harness, device_cert: tuple[Path, Path, str], driver: str
) -> None:
    cert, key, _ = device_cert
    world = World(harness, device_tls=(cert, key))
    assert world.run(driver, insecure_device=True).status == "OK"


def test_device_trust_options_exclude_each_other(device_cert: tuple[Path, Path, str]) -> None:
    cert, _, pin = device_cert
    url = "https://127.0.0.1:9"
    for options in (
        {"device_ca": cert, "device_pin": pin},
        {"device_ca": cert, "insecure_device": True},
        {"device_pin": pin, "insecure_device": True},
    ):
        with pytest.raises(ValueError, match="exclude each other"):
            checkin(url, **options)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="https://"):
        checkin("http://127.0.0.1:9", device_pin=pin)
    for bad in ("12" * 31, "zz" * 32, "1:23" + "45" * 30, "12" * 32 + ":"):
        with pytest.raises(ValueError, match="SHA-256"):
            parse_pin(bad)


# --- TLS towards the backend ----------------------------------------------------------------------


def test_the_backend_is_verified_against_the_system_store_or_backend_ca(
    harness: Harness, backend_cert: tuple[Path, Path, str]
) -> None:
    cert, key, _ = backend_cert
    world = World(harness, backend_tls=(cert, key))
    error = fails(world.checkin, RelayNetworkError)
    assert error.step == "post_backend"
    assert "TLS certificate not accepted" in str(error)
    # Not retried (a certificate does not change), and nothing reached the device's POST.
    assert world.counts() == (1, 0, 0)
    assert world.checkin(backend_ca=cert).status == "OK"
    assert world.counts() == (2, 1, 1)


def test_there_is_no_switch_to_skip_the_backend_check() -> None:
    import inspect

    from hemproto import client

    for function in (client.checkin, client.checkin_async):
        names = set(inspect.signature(function).parameters)
        assert not {name for name in names if "verify" in name or "insecure_backend" in name}
    with pytest.raises(TypeError):
        client.checkin("http://127.0.0.1:9", backend_verify=False)  # type: ignore[call-arg]


# --- timeouts, dead servers and retries -----------------------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_device_that_never_answers_times_out_and_is_asked_again(
    harness: Harness, driver: str
) -> None:
    world = World(harness)
    world.device_site.faults["GET"] = [hang, hang]
    error = fails(lambda: world.run(driver, timeout=QUICK_TIMEOUT, attempts=2), RelayNetworkError)
    assert error.step == "get_check" and "timed out" in str(error)
    assert isinstance(error.__cause__, httpx.ReadTimeout)
    assert world.counts() == (2, 0, 0)


def test_a_backend_that_never_answers_times_out_and_the_bounce_restarts(harness: Harness) -> None:
    world = World(harness)
    world.backend_site.faults["POST"] = [hang]
    outcome = world.checkin(timeout=QUICK_TIMEOUT * 4, attempts=2)
    assert outcome.status == "OK"
    assert world.counts() == (2, 2, 1)
    first, second = world.backend_site.bodies("POST")
    assert jti_of(first) != jti_of(second)  # a fresh challenge, not the same check again


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_device_that_never_answers_the_reply_is_not_sent_it_again(
    harness: Harness, driver: str
) -> None:
    world = World(harness)
    world.device_site.faults["POST"] = [hang]
    error = fails(lambda: world.run(driver, timeout=QUICK_TIMEOUT, attempts=3), RelayNetworkError)
    assert error.step == "post_device" and error.possibly_delivered is True
    # The device may have acted: no second bounce, and the reply was posted once.
    assert world.counts() == (1, 1, 1)


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_connection_dropped_after_the_reply_is_not_retried(harness: Harness, driver: str) -> None:
    world = World(harness)
    world.device_site.faults["POST"] = [drop]
    error = fails(lambda: world.run(driver, attempts=3), RelayNetworkError)
    assert error.step == "post_device" and error.possibly_delivered is True
    assert world.counts() == (1, 1, 1)


def test_a_device_killed_mid_bounce_gives_a_network_error(harness: Harness) -> None:
    world = World(harness)

    async def kill_the_device() -> None:
        await asyncio.to_thread(world.device_server.stop)

    # The backend answers only once the device is gone: step 3 finds nobody listening.
    world.backend_site.before["POST"] = kill_the_device
    error = fails(lambda: world.checkin(attempts=2), RelayNetworkError)
    # Step 3 could not connect, so the reply certainly never left: a new bounce was tried,
    # and its GET found the device still gone.
    assert error.step == "get_check" and error.possibly_delivered is False
    assert world.counts() == (1, 1, 0)


def test_a_backend_killed_mid_bounce_gives_a_network_error(harness: Harness) -> None:
    world = World(harness)

    async def kill_the_backend() -> None:
        await asyncio.to_thread(world.backend_server.stop)

    world.device_site.before["GET"] = kill_the_backend
    error = fails(lambda: world.checkin(attempts=2), RelayNetworkError)
    assert error.step == "post_backend"
    assert world.counts() == (2, 0, 0)


def test_a_closed_port_is_a_network_failure_after_every_attempt(harness: Harness) -> None:
    world = World(harness)
    url = world.device_server.url
    world.device_server.stop()
    error = fails(
        lambda: checkin(url, backend_url=world.backend_url, attempts=3, retry_delay=0),
        RelayNetworkError,
    )
    assert error.step == "get_check" and error.possibly_delivered is False
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert error.__notes__ == ["check-in attempt 3 of 3"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_busy_device_is_asked_again_for_a_fresh_challenge(harness: Harness, driver: str) -> None:
    world = World(harness)
    world.device_site.faults["GET"] = [status_fault(503), not_json]
    outcome = world.run(driver, attempts=3)
    assert outcome.status == "OK"
    assert world.counts() == (3, 1, 1)


def test_a_busy_backend_gets_a_fresh_challenge_each_time(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(harness)
    world.backend_site.faults["POST"] = [status_fault(503), status_fault(502)]
    with caplog.at_level(logging.WARNING, logger="hemproto.client"):
        outcome = world.checkin(attempts=3)
    retries = [record.getMessage() for record in caplog.records if record.name == "hemproto.client"]
    assert len(retries) == 2
    assert "post_backend: the backend answered with status 503" in retries[0]
    # No token, and no URL (it could carry credentials), in what was logged.
    for message in retries:
        assert "eyJ" not in message and "127.0.0.1" not in message
    assert outcome.status == "OK"
    assert world.counts() == (3, 3, 1)
    jtis = {jti_of(body) for body in world.backend_site.bodies("POST")}
    assert len(jtis) == 3
    assert outcome.check.jti == jti_of(world.backend_site.bodies("POST")[-1])


def test_a_backend_busy_through_every_attempt_is_a_refusal_with_its_status(
    harness: Harness,
) -> None:
    world = World(harness)
    world.backend_site.faults["POST"] = [status_fault(503)] * 2
    error = fails(lambda: world.checkin(attempts=2))
    assert not isinstance(error, RelayNetworkError)
    assert (error.step, error.status) == ("post_backend", 503)
    assert world.counts() == (2, 2, 0)


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_backend_refusal_is_not_retried(harness: Harness, driver: str) -> None:
    # The device trusts another backend: its check is addressed to a key this one lacks.
    world = World(harness, trusted_key=KeyPair.generate().public)
    error = fails(lambda: world.run(driver, attempts=3))
    assert (error.step, error.status) == ("post_backend", 401)
    assert world.counts() == (1, 1, 0)


def test_a_device_refusal_is_not_retried(harness: Harness) -> None:
    world = World(harness)

    async def reboot_the_device() -> None:
        world.device.reboot()  # its outstanding nonce is gone: the reply will be refused

    world.backend_site.before["POST"] = reboot_the_device
    error = fails(lambda: world.checkin(attempts=3))
    assert (error.step, error.status) == ("post_device", 401)
    assert world.counts() == (1, 1, 1)


def test_a_device_error_status_after_the_reply_is_not_retried(harness: Harness) -> None:
    world = World(harness)
    world.device_site.faults["POST"] = [status_fault(503)]
    error = fails(lambda: world.checkin(attempts=3))
    assert (error.step, error.status) == ("post_device", 503)
    assert world.counts() == (1, 1, 1)


def test_a_backend_answer_that_is_not_json_is_retried(harness: Harness) -> None:
    world = World(harness)
    world.backend_site.faults["POST"] = [not_json]
    assert world.checkin(attempts=2).status == "OK"
    assert world.counts() == (2, 2, 1)


async def huge(send: Send, release: threading.Event) -> None:
    """20,000 bytes with their length declared."""
    await respond(send, 200, b"{" + b" " * 20000 + b"}")


async def huge_chunked(send: Send, release: threading.Event) -> None:
    """20,000 bytes in chunks, with no length declared."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for _ in range(20):
        await send({"type": "http.response.body", "body": b" " * 1000, "more_body": True})
    await send({"type": "http.response.body", "body": b"{}"})


async def trickle(send: Send, release: threading.Event) -> None:
    """A byte every 0.1 s: each read is quick, the whole answer never ends (within 6 s)."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for _ in range(60):
        if release.is_set():
            break
        await send({"type": "http.response.body", "body": b" ", "more_body": True})
        await asyncio.sleep(0.1)
    await send({"type": "http.response.body", "body": b"{}"})


async def gzipped(send: Send, release: threading.Event) -> None:
    body = gzip.compress(b'{"check": "x"}')
    headers = [(b"content-encoding", b"gzip"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("fault", [huge, huge_chunked])
def test_an_answer_over_the_size_cap_is_refused(
    harness: Harness, driver: str, fault: Fault
) -> None:
    world = World(harness)
    world.device_site.faults["GET"] = [fault]
    error = fails(lambda: world.run(driver, attempts=1))
    assert not isinstance(error, RelayNetworkError)
    assert (error.step, error.status) == ("get_check", 200)
    assert "over 16384 bytes" in str(error)


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_trickled_answer_is_cut_off_at_the_step_budget(harness: Harness, driver: str) -> None:
    world = World(harness)
    world.device_site.faults["GET"] = [trickle]
    # Every phase 0.5 s, so a whole step gets 2 s; the trickle would take 6 s.
    error = fails(lambda: world.run(driver, timeout=0.5, attempts=1), RelayNetworkError)
    assert error.step == "get_check" and "the answer took over 2 s" in str(error)


def test_a_compressed_answer_is_refused(harness: Harness) -> None:
    world = World(harness)
    world.device_site.faults["GET"] = [gzipped]
    error = fails(lambda: world.checkin(attempts=1))
    assert (error.step, error.status) == ("get_check", 200)
    assert "compressed" in str(error)


def test_no_reply_is_ever_posted_twice_across_retries(harness: Harness) -> None:
    world = World(harness)
    world.device_site.faults["GET"] = [status_fault(500)]
    world.backend_site.faults["POST"] = [not_json, status_fault(429)]
    assert world.checkin(attempts=4).status == "OK"
    posted = world.device_site.bodies("POST")
    assert len(posted) == len(set(posted)) == 1
    assert world.counts() == (4, 3, 1)


def test_bad_settings_are_refused_before_any_request(harness: Harness) -> None:
    world = World(harness)
    for options in (
        {"attempts": 0},
        {"attempts": 1.5},
        {"timeout": 0},
        {"timeout": float("inf")},
        {"timeout": httpx.Timeout(1.0, read=None)},
        {"retry_delay": -1},
        {"backend_url": "ftp://127.0.0.1/checkin"},
        {"backend_url": world.backend_url, "backend_ca": "x.pem"},
    ):
        with pytest.raises((ValueError, TypeError)):
            world.checkin(**options)
    with pytest.raises(ValueError):
        checkin("my.ence.do")
    assert world.counts() == (0, 0, 0)


# --- many at once ---------------------------------------------------------------------------------


def test_eight_threads_of_25_checkins_all_complete(harness: Harness) -> None:
    world = World(harness)

    def worker(_: int) -> list[str]:
        return [world.checkin(attempts=1).status for _ in range(25)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(worker, range(8)))
    assert [status for batch in results for status in batch] == ["OK"] * 200
    assert world.counts() == (200, 200, 200)
    posted = world.device_site.bodies("POST")
    assert len(set(posted)) == 200


# --- the command line -----------------------------------------------------------------------------


def run_checkin(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``hemproto checkin ...`` through the command line's own main: status, stdout, stderr."""
    code = hemproto_cli.main(["checkin", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_completed_checkin_prints_the_outcome(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    world = World(harness, fws=FW["outdated"], uis=UI_OUTDATED)
    code, text, _ = run_checkin(capsys, world.device_server.url, "--backend", world.backend_url)
    assert code == 0
    iat = world.device.rtc
    assert iat is not None
    when = datetime.datetime.fromtimestamp(iat, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert text.splitlines()[0] == "check-in completed"
    assert f"time set     {when} (iat {iat})" in text
    assert "action       OK (nothing to do)" in text
    assert f"update available: newfws {hemproto.b64_encode(FW['current'])}" in text
    assert f"update available: newuis {hemproto.b64_encode(UI_CURRENT)}" in text
    assert "certificate  none pushed" in text


def test_cli_json_is_one_object(
    harness: Harness, device_cert: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key, pin = device_cert
    world = World(harness, fws=FW["revoked"], device_tls=(cert, key))
    code, text, _ = run_checkin(
        capsys,
        world.device_server.url,
        "--backend",
        world.backend_url,
        "--device-pin",
        pin,
        "--json",
    )
    assert code == 0
    summary = json.loads(text)
    assert set(summary) == {
        "result",
        "action",
        "action_meaning",
        "ordered",
        "time_set",
        "iat",
        "newfws",
        "newuis",
        "newcrt",
        "device",
        "device_response",
    }
    assert summary["result"] == "completed"
    assert summary["action"] == summary["ordered"] == "L"
    assert summary["iat"] == world.device.rtc
    assert summary["time_set"].endswith("Z")
    assert summary["device"] == world.device.qid.hex()
    # A revoked release is also an outdated one: the device hears of the current firmware.
    current = hemproto.b64_encode(FW["current"])
    assert summary["device_response"] == {"status": "L", "newfws": current}
    assert summary["newfws"] == current and summary["newuis"] is None
    assert summary["newcrt"] is None


def test_cli_refusal_exits_3(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    world = World(harness, trusted_key=KeyPair.generate().public)
    code, text, _ = run_checkin(
        capsys, world.device_server.url, "--backend", world.backend_url, "--json"
    )
    assert code == 3
    report = json.loads(text)
    assert report == {
        "result": "refused",
        "step": "post_backend",
        "status": 401,
        "error": "post_backend: the backend answered with status 401",
        "device_may_have_acted": False,
    }
    code, text, _ = run_checkin(capsys, world.device_server.url, "--backend", world.backend_url)
    assert code == 3 and text.startswith("check-in refused: post_backend: ")


def test_cli_network_failure_exits_4(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    world = World(harness)
    world.device_site.faults["POST"] = [hang]
    code, text, _ = run_checkin(
        capsys,
        world.device_server.url,
        "--backend",
        world.backend_url,
        "--timeout",
        str(QUICK_TIMEOUT),
        "--json",
    )
    assert code == 4
    report = json.loads(text)
    assert report["result"] == "network-failure"
    assert (report["step"], report["status"]) == ("post_device", None)
    assert report["device_may_have_acted"] is True
    harness.release.set()
    world.device_server.stop()
    code, text, _ = run_checkin(
        capsys, world.device_server.url, "--backend", world.backend_url, "--attempts", "1"
    )
    assert code == 4 and text.startswith("check-in network failure: get_check: ")


def test_cli_invalid_answer_exits_1(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    world = World(harness)
    world.device_site.faults["GET"] = [not_json]
    code, _, _ = run_checkin(
        capsys, world.device_server.url, "--backend", world.backend_url, "--attempts", "1"
    )
    assert code == 1


def test_cli_usage_errors_exit_2(
    device_cert: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, _, pin = device_cert
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    for argv in (
        ("https://127.0.0.1:9", "--device-pin", pin, "--insecure-device"),
        ("https://127.0.0.1:9", "--device-ca", str(cert), "--device-pin", pin),
        ("https://127.0.0.1:9", "--device-pin", "abc"),
        ("https://127.0.0.1:9", "--device-ca", str(tmp_path / "missing.pem")),
        ("https://127.0.0.1:9", "--device-ca", str(not_pem)),
        ("https://127.0.0.1:9", "--timeout", "0"),
        ("https://127.0.0.1:9", "--attempts", "0"),
        ("my.ence.do",),
        ("http://127.0.0.1:9", "--device-pin", pin),
        (),
    ):
        code, _, error = run_checkin(capsys, *argv)
        assert code == 2, argv
        assert error.startswith("hemproto: ") and error.count("\n") == 1, argv


def test_cli_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        hemproto_cli.main(["checkin", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for line in ("0  the check-in completed", "2  usage error", "3  refused", "4  network"):
        assert line in text
    for option in ("--device-ca", "--device-pin", "--insecure-device", "--backend-ca", "--json"):
        assert option in text


def test_the_installed_command_checks_a_device_in(harness: Harness, tmp_path: Path) -> None:
    world = World(harness)
    argv = ("checkin", world.device_server.url, "--backend", world.backend_url, "--json")
    result = run_cli(*argv, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)["result"] == "completed"
    assert world.counts() == (1, 1, 1)


def test_the_command_defaults_are_the_clients() -> None:
    # checkin_cli repeats them so that --help works without httpx; they must not drift.
    defaults = inspect.signature(checkin).parameters
    assert checkin_cli._DEFAULT_BACKEND == DEFAULT_BACKEND_URL == defaults["backend_url"].default
    assert checkin_cli._DEFAULT_TIMEOUT == defaults["timeout"].default
    assert checkin_cli._DEFAULT_ATTEMPTS == defaults["attempts"].default
