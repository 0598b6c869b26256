"""The whole check-in as a deployment runs it: three separate processes on 127.0.0.1.

``hemproto serve backend`` (a key from ``hemproto keygen``, a release file, a pushed
certificate), ``hemproto serve device`` over HTTPS with a self-signed certificate made
here, and ``hemproto checkin --device-pin ... --json`` as a child process. Each case reads
the command's JSON and then the device's own state over HTTPS (``GET /api/system/status``).
The backend is started once for the module; every case gets a fresh device, whose state
the check-in changes. Every process is killed by its PID in teardown; every wait is bounded.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import json
import os
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _asgi_server import START_TIMEOUT, STOP_TIMEOUT, ServeProcess
from _certs import self_signed
from _cli import PACKAGE_PARENT, run_cli

from hemproto.claims import MAX_CERTIFICATE_SIZE
from hemproto.device import FLS_LOCKED

FW_CURRENT, FW_OUTDATED, FW_REVOKED = (bytes([n]) * 64 for n in (0xA1, 0xA2, 0xA3))
BL_CURRENT = bytes([0xB1]) * 64
UI_CURRENT, UI_OUTDATED = bytes([0xC1]) * 32, bytes([0xC2]) * 32
PUSHED_CSN = bytes.fromhex("29fb1a28abcd9782ef3e2825d0698606")
# Bounds a checkin child process: a hang fails the test instead of stalling the run.
CHECKIN_TIMEOUT = 60.0
_DEVICE_LINE = re.compile(r"device csn ([0-9a-f]{32}), qid ([0-9a-f]{64})")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def der_shaped(size: int) -> bytes:
    """``size`` bytes the emulator installs as DER: a SEQUENCE (long-form length, two bytes)
    whose length covers exactly the rest."""
    content = size - 4
    return b"\x30\x82" + content.to_bytes(2, "big") + bytes(i % 251 for i in range(content))


def write_releases(path: Path) -> None:
    entries = [
        ("firmware", FW_CURRENT, "2.1.0", "current"),
        ("firmware", FW_OUTDATED, "2.0.3", "outdated"),
        ("firmware", FW_REVOKED, "1.9.0", "revoked"),
        ("bootloader", BL_CURRENT, "1.2.0", "current"),
        ("dashboard", UI_CURRENT, "3.4.0", "current"),
        ("dashboard", UI_OUTDATED, "3.3.1", "outdated"),
    ]
    path.write_text(
        "".join(
            f'[[release]]\ncomponent = "{component}"\nversion = "{version}"\n'
            f'status = "{status}"\nsignature = "{b64(signature)}"\n\n'
            for component, signature, version, status in entries
        )
    )


def wait_ready(url: str, path: str, verify: ssl.SSLContext | bool = True) -> None:
    """Poll ``url + path`` until it answers 200, for at most START_TIMEOUT seconds."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if httpx.get(url + path, verify=verify, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not become ready")
        time.sleep(0.05)


def start_backend(world: World, workdir: Path) -> tuple[ServeProcess, str]:
    args = ["backend", "--key", str(world.key), "--releases", str(world.releases)]
    args += ["--certificate", f"{PUSHED_CSN.hex()}={world.pushed_certificate}", "--port", "0"]
    child = ServeProcess(args, workdir)
    try:
        url = child.url()
        wait_ready(url, "/healthz")
    except BaseException:
        child.close()
        raise
    return child, url + "/checkin"


@dataclasses.dataclass(frozen=True, slots=True)
class World:
    workdir: Path
    key: Path
    public: Path
    releases: Path
    pushed_certificate: Path
    tls_cert: Path
    tls_key: Path
    pin: str
    backend_url: str = ""

    def trust(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.tls_cert))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> World:
    workdir = tmp_path_factory.mktemp("bounce")
    made = run_cli("keygen", "--out", str(workdir), cwd=workdir)
    assert made.returncode == 0, made.stderr
    releases = workdir / "releases.toml"
    write_releases(releases)
    pushed = workdir / "pushed.der"
    pushed.write_bytes(der_shaped(MAX_CERTIFICATE_SIZE))
    cert, key, pin = self_signed(workdir)
    return World(
        workdir,
        workdir / "backend.key",
        workdir / "backend.key.pub",
        releases,
        pushed,
        cert,
        key,
        pin,
    )


@pytest.fixture(scope="module")
def world(files: World) -> Iterator[World]:
    """The files, and one backend process for the whole module."""
    child, backend_url = start_backend(files, files.workdir)
    try:
        yield dataclasses.replace(files, backend_url=backend_url)
    finally:
        child.close()  # kills the process by its PID if it still runs


@dataclasses.dataclass(frozen=True, slots=True)
class Device:
    url: str
    csn: str
    qid: str
    process: ServeProcess

    def status(self, world: World) -> dict[str, Any]:
        response = httpx.get(self.url + "/api/system/status", verify=world.trust(), timeout=10)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    def requests_logged(self, world: World) -> str:
        """The device's request log, read once the line of a request made now is in it (a
        line is written just after its answer): every earlier request is there too."""
        marker = f"/log-marker-{time.monotonic_ns()}"
        response = httpx.get(self.url + marker, verify=world.trust(), timeout=10)
        assert response.status_code == 404
        deadline = time.monotonic() + START_TIMEOUT
        while marker not in (log := self.process.stderr()):
            assert time.monotonic() < deadline, "the device did not log its request"
            time.sleep(0.02)
        return log


StartDevice = Callable[..., Device]


@pytest.fixture()
def start_device(files: World, tmp_path: Path) -> Iterator[StartDevice]:
    """Starts ``hemproto serve device`` processes over HTTPS; all are killed afterwards."""
    children: list[ServeProcess] = []

    def start(
        *,
        fws: bytes | None = None,
        uis: bytes | None = None,
        csn: bytes | None = None,
        untrusted_backend: bool = False,
    ) -> Device:
        args = ["device", "--backend-public", str(files.public), "--port", "0"]
        args += ["--tls-cert", str(files.tls_cert), "--tls-key", str(files.tls_key)]
        args += ["--bls", b64(BL_CURRENT)]
        if fws is not None:
            args += ["--fws", b64(fws)]
        if uis is not None:
            args += ["--uis", b64(uis)]
        if csn is not None:
            args += ["--csn", b64(csn)]
        if untrusted_backend:
            args.append("--untrusted-backend")
        child = ServeProcess(args, tmp_path)
        children.append(child)
        identity = child.wait_line(_DEVICE_LINE)
        url = child.url()
        wait_ready(url, "/api/system/version", files.trust())
        return Device(url, identity.group(1), identity.group(2), child)

    try:
        yield start
    finally:
        for child in children:
            child.close()


def run_checkin(
    world: World, device: Device, *extra: str, pin: str | None = None, backend: str = ""
) -> tuple[int, dict[str, Any], str]:
    """``hemproto checkin ... --json`` as a child process: exit status, JSON, stderr."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "hemproto", "checkin", device.url]
    argv += ["--backend", backend or world.backend_url, "--device-pin", pin or world.pin]
    result = subprocess.run(
        [*argv, "--json", *extra],
        cwd=world.workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHECKIN_TIMEOUT,  # TimeoutExpired (a failure) rather than a hang
        check=False,
    )
    return result.returncode, json.loads(result.stdout), result.stderr


def assert_clock_set(device: Device, world: World, iat: int) -> dict[str, Any]:
    status = device.status(world)
    assert status["time"] >= iat
    moment = datetime.datetime.strptime(status["ts"], "%Y-%m-%dT%H:%M:%SZ")
    assert int(moment.replace(tzinfo=datetime.UTC).timestamp()) == status["time"]
    return status


# --- the cases -------------------------------------------------------------------------------


def test_current_firmware_is_answered_ok_and_the_clock_is_set(
    world: World, start_device: StartDevice
) -> None:
    device = start_device(fws=FW_CURRENT, uis=UI_CURRENT)
    assert "ts" not in device.status(world)
    code, summary, errors = run_checkin(world, device)
    assert (code, errors) == (0, "")
    assert summary["result"] == "completed"
    assert summary["action"] == summary["ordered"] == "OK"
    assert summary["device"] == device.qid
    assert (summary["newfws"], summary["newuis"], summary["newcrt"]) == (None, None, None)
    assert summary["device_response"] == {"status": "OK"}
    status = assert_clock_set(device, world, summary["iat"])
    assert summary["time_set"] == datetime.datetime.fromtimestamp(
        summary["iat"], datetime.UTC
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert status["fls_state"] == 0


def test_outdated_firmware_is_told_of_the_current_release(
    world: World, start_device: StartDevice
) -> None:
    device = start_device(fws=FW_OUTDATED, uis=UI_OUTDATED)
    code, summary, _ = run_checkin(world, device)
    assert code == 0
    assert summary["action"] == "OK"
    assert summary["newfws"] == b64(FW_CURRENT)
    assert summary["newuis"] == b64(UI_CURRENT)
    assert summary["device_response"] == {
        "status": "OK",
        "newfws": b64(FW_CURRENT),
        "newuis": b64(UI_CURRENT),
    }
    assert assert_clock_set(device, world, summary["iat"])["fls_state"] == 0


def test_revoked_firmware_locks_the_device(world: World, start_device: StartDevice) -> None:
    device = start_device(fws=FW_REVOKED, uis=UI_CURRENT)
    code, summary, _ = run_checkin(world, device)
    assert code == 0
    assert summary["action"] == summary["ordered"] == "L"
    assert summary["newfws"] == b64(FW_CURRENT)  # a revoked release is also outdated
    status = assert_clock_set(device, world, summary["iat"])
    assert status["fls_state"] & FLS_LOCKED


def test_unknown_firmware_is_reported(world: World, start_device: StartDevice) -> None:
    device = start_device()  # random fws and uis: no release file knows them
    code, summary, _ = run_checkin(world, device)
    assert code == 0
    assert summary["action"] == summary["ordered"] == "R"
    assert summary["device_response"]["status"] == "R"
    assert assert_clock_set(device, world, summary["iat"])["fls_state"] == 0


def test_a_certificate_of_the_largest_size_is_pushed_and_installed(
    world: World, start_device: StartDevice
) -> None:
    # Outdated firmware and dashboard: newfws and newuis ride along, the largest reply.
    device = start_device(fws=FW_OUTDATED, uis=UI_OUTDATED, csn=PUSHED_CSN)
    assert device.csn == PUSHED_CSN.hex()
    code, summary, _ = run_checkin(world, device)
    assert code == 0
    assert summary["newcrt"] == "OK"
    assert summary["device_response"] == {
        "status": "OK",
        "newcrt": "OK",
        "newfws": b64(FW_CURRENT),
        "newuis": b64(UI_CURRENT),
    }
    assert_clock_set(device, world, summary["iat"])


def test_a_wrong_pin_is_a_network_failure_and_the_device_is_untouched(
    world: World, start_device: StartDevice
) -> None:
    device = start_device(fws=FW_CURRENT, uis=UI_CURRENT)
    # A usual slip: the digest of the PEM file rather than of the DER certificate.
    wrong = hashlib.sha256(world.tls_cert.read_bytes()).hexdigest()
    assert wrong != world.pin
    code, report, _ = run_checkin(world, device, pin=wrong)
    assert code == 4
    assert report["result"] == "network-failure"
    assert (report["step"], report["status"]) == ("get_check", None)
    assert report["device_may_have_acted"] is False
    assert "ts" not in device.status(world)
    # The pin is checked in the handshake: no request ever reached the check-in endpoint.
    assert "/api/system/checkin" not in device.requests_logged(world)


def test_a_killed_backend_is_a_network_failure_not_a_hang(
    files: World, start_device: StartDevice, tmp_path: Path
) -> None:
    backend, backend_url = start_backend(files, tmp_path)
    try:
        device = start_device(fws=FW_CURRENT, uis=UI_CURRENT)
        backend.process.kill()
        backend.process.wait(STOP_TIMEOUT)
        code, report, _ = run_checkin(files, device, "--timeout", "5", backend=backend_url)
    finally:
        backend.close()
    assert code == 4
    assert report["result"] == "network-failure"
    assert (report["step"], report["status"]) == ("post_backend", None)
    assert report["device_may_have_acted"] is False
    assert "ts" not in device.status(files)
    # Each attempt fetched a fresh challenge; none got a reply to post.
    log = device.requests_logged(files)
    assert log.count("GET /api/system/checkin") == 3
    assert "POST /api/system/checkin" not in log


def test_an_untrusted_backend_cannot_lock_the_device(
    world: World, start_device: StartDevice
) -> None:
    device = start_device(fws=FW_REVOKED, uis=UI_CURRENT, untrusted_backend=True)
    code, summary, _ = run_checkin(world, device)
    assert code == 0
    assert summary["ordered"] == "L"
    assert summary["action"] == "OK"  # the order is not run
    assert summary["device_response"]["status"] == "OK"
    status = assert_clock_set(device, world, summary["iat"])  # trusted_ts is still on
    assert status["fls_state"] == 0
