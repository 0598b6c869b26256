"""``hemproto serve backend`` and ``hemproto serve device`` as a user runs them: child
processes on 127.0.0.1 with a free port, talked to over HTTP(S), stopped with a signal.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import os
import re
import signal
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from _asgi_server import ServeProcess, call_app, http_scope, serve_process
from _certs import self_signed
from _cli import run_cli

import hemproto
from hemproto import serve
from hemproto.asgi import JsonLogFormatter, RequestLine, log_request

FWS = bytes([0xF1]) * 64
BLS = bytes([0xB1]) * 64
UIS = bytes([0xD1]) * 32


@pytest.fixture()
def key_file(tmp_path: Path) -> Path:
    result = run_cli("keygen", "--out", "backend.key", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path / "backend.key"


def public_of(key_file: Path) -> bytes:
    return base64.b64decode(key_file.with_name(key_file.name + ".pub").read_text())


def write_releases(path: Path, firmware_status: str) -> None:
    """A release file that knows the test device's firmware, bootloader and dashboard."""
    entries = [("firmware", FWS, "2.1.0", firmware_status), ("bootloader", BLS, "1.2.0", "current")]
    entries.append(("dashboard", UIS, "3.4.0", "current"))
    if firmware_status != "current":
        entries.append(("firmware", bytes([0xF2]) * 64, "2.2.0", "current"))
    text = "".join(
        f'[[release]]\ncomponent = "{component}"\nversion = "{version}"\n'
        f'status = "{status}"\nsignature = "{base64.b64encode(signature).decode()}"\n\n'
        for component, signature, version, status in entries
    )
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text)
    os.replace(temporary, path)  # atomic, as docs/releases.md asks


def close_request_log() -> None:
    """Stop the request log a worker's app made in this process (its timer thread)."""
    writer = serve._RequestLineWriter.current
    assert writer is not None
    writer.close()


def check_in_over(url: str, device: hemproto.DeviceEmulator) -> hemproto.RelayOutcome:
    with httpx.Client(base_url=url, timeout=10) as http:

        def post_backend(body: Any) -> Any:
            response = http.post("/checkin", json=body)
            return response.status_code, response.json()

        return hemproto.relay_checkin(device.challenge, post_backend, device.handle)


def test_serve_backend_answers_and_stops_on_sigterm(key_file: Path, tmp_path: Path) -> None:
    device = hemproto.DeviceEmulator(backend_public_key=public_of(key_file), fws=FWS)
    with serve_process(["backend", "--key", str(key_file), "--port", "0"], tmp_path) as child:
        url = child.url()
        assert url.startswith("http://127.0.0.1:")
        assert check_in_over(url, device).status == "R"  # an empty registry knows nothing
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            assert http.post("/checkin", json={"check": "x"}).status_code == 400
        assert child.stop(signal.SIGTERM) == 0
        output = "".join(child.stdout)
        errors = child.stderr()
    assert f"backend public key: {base64.b64encode(public_of(key_file)).decode()}" in output
    assert "hemproto serve backend: stopped" in output
    assert "Traceback" not in errors
    assert "hemproto.http: 200 POST /checkin csn=" in errors
    assert "hemproto.http: 400 POST /checkin" in errors
    private = key_file.read_text().strip()
    assert private not in output and private not in errors


def test_serve_backend_with_releases_reloads_them_and_logs_json(
    key_file: Path, tmp_path: Path
) -> None:
    releases = tmp_path / "releases.toml"
    write_releases(releases, "current")
    device = hemproto.DeviceEmulator(
        backend_public_key=public_of(key_file), fws=FWS, bls=BLS, uis=UIS
    )
    args = ["backend", "--key", str(key_file), "--releases", str(releases), "--port", "0"]
    with serve_process([*args, "--log-format", "json"], tmp_path) as child:
        url = child.url()
        assert check_in_over(url, device).status == "OK"
        write_releases(releases, "revoked")
        # The watcher looks about once a second; the next check-ins see the new file.
        deadline = time.monotonic() + 20
        while (outcome := check_in_over(url, device)).status != "L":
            assert time.monotonic() < deadline, "the release file was not reloaded"
            time.sleep(0.2)
        assert outcome.newfws == bytes([0xF2]) * 64
        assert child.stop(signal.SIGINT) == 0
        lines = [json.loads(line) for line in child.stderr().splitlines() if line.strip()]
    requests = [line for line in lines if line["logger"] == "hemproto.http"]
    assert requests[0]["status"] == 200 and requests[0]["act"] == "OK"
    assert requests[-1]["act"] == "L"
    assert {"time", "level", "message", "method", "path", "csn", "reason", "ms"} <= set(requests[0])
    assert any(line["logger"] == "hemproto.releases" for line in lines)


def test_serve_backend_with_workers(key_file: Path, tmp_path: Path) -> None:
    device = hemproto.DeviceEmulator(backend_public_key=public_of(key_file))
    args = ["backend", "--key", str(key_file), "--port", "0", "--workers", "2"]
    with serve_process(args, tmp_path) as child:
        url = child.url()
        for _ in range(6):
            assert check_in_over(url, device).status == "R"
        assert child.stop(signal.SIGTERM) == 0
        errors = child.stderr()
    assert "each worker keeps its own in-memory replay store" in errors
    assert errors.count("Application startup complete") == 2
    # Each worker writes its pending request lines at its lifespan shutdown.
    assert errors.count(" INFO hemproto.http: 200 POST /checkin csn=") == 6


def test_serve_device_answers_as_a_device_and_stops_on_sigint(
    key_file: Path, tmp_path: Path
) -> None:
    backend = hemproto.Backend(hemproto.KeyPair.from_file(key_file))
    fws = base64.b64encode(FWS).decode()
    args = ["device", "--backend-public", str(key_file) + ".pub", "--port", "0", "--fws", fws]
    with serve_process([*args, "--uis", "none"], tmp_path) as child:
        url = child.url()
        with httpx.Client(base_url=url, timeout=10) as http:
            version = http.get("/api/system/version").json()
            assert version["fws"] == fws
            assert "uis" not in version
            assert "ts" not in http.get("/api/system/status").json()
            check = http.get("/api/system/checkin").json()
            status, reply = backend.handle(check)
            assert status == 200
            assert http.post("/api/system/checkin", json=reply).json() == {"status": "R"}
            assert "ts" in http.get("/api/system/status").json()
        assert child.stop(signal.SIGINT) == 0
    assert "hemproto serve device: stopped" in "".join(child.stdout)


def test_serve_device_over_tls(tmp_path: Path) -> None:
    backend = hemproto.Backend(hemproto.KeyPair.generate())
    cert_path, key_path, _ = self_signed(tmp_path)
    args = [
        "device",
        "--backend-public",
        base64.b64encode(backend.public_keys[0]).decode(),
        "--tls-cert",
        str(cert_path),
        "--tls-key",
        str(key_path),
        "--port",
        "0",
    ]
    with serve_process(args, tmp_path) as child:
        url = child.url()
        assert url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=str(cert_path))
        with httpx.Client(base_url=url, timeout=10, verify=trust) as https:

            def get_check() -> Any:
                response = https.get("/api/system/checkin")
                return response.status_code, response.json()

            def post_device(body: Any) -> Any:
                response = https.post("/api/system/checkin", json=body)
                return response.status_code, response.json()

            outcome = hemproto.relay_checkin(get_check, backend.handle, post_device)
            assert outcome.status == "R"
            status = https.get("/api/system/status", headers={"host": "my.ence.do"}).json()
            assert "https" not in status  # only a plain-HTTP request is told about HTTPS
            assert status["ts"].endswith("Z")
        with pytest.raises(httpx.TransportError):  # it speaks HTTPS only
            httpx.get(url.replace("https://", "http://") + "/api/system/status", timeout=10)
        assert child.stop(signal.SIGTERM) == 0


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (["device", "--backend-public", "AAAA", "--port", "0"], 1, "KeyFileError"),
        (["device", "--backend-public", "{pub}", "--tls-cert", "x"], 2, "go together"),
        (["device", "--backend-public", "{pub}", "--fws", "AAAA"], 2, "--fws must be 64 bytes"),
        (["device", "--backend-public", "{pub}", "--uis", "!"], 2, "--uis must be 32 bytes"),
        (
            ["device", "--backend-public", "{pub}", "--tls-cert", "nope", "--tls-key", "nope"],
            2,
            "cannot load the TLS certificate",
        ),
        (["backend", "--key", "missing.key"], 1, "KeyFileError"),
        (["backend", "--key", "{key}", "--replay", "bogus://x"], 2, "unknown replay store"),
        (["backend", "--key", "{key}", "--workers", "0"], 2, "--workers must be at least 1"),
        (["backend", "--key", "{key}", "--releases", "missing.toml"], 1, "ReleaseFileError"),
        (["backend", "--key", "{key}", "--host", "203.0.113.1"], 2, "cannot listen on"),
    ],
)
def test_serve_refuses_bad_options_in_one_line(
    arguments: list[str], status: int, message: str, key_file: Path, tmp_path: Path
) -> None:
    filled = [part.format(pub=str(key_file) + ".pub", key=str(key_file)) for part in arguments]
    with serve_process(filled, tmp_path) as child:
        assert child.process.wait(60) == status
        errors = child.stderr()
    assert message in errors
    assert errors.startswith("hemproto: ") and errors.count("\n") == 1
    assert "listening" not in "".join(child.stdout)


# --- in process ------------------------------------------------------------------------------


def test_the_worker_factory_builds_its_backend_from_the_environment(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(serve.CONFIG_ENV, raising=False)
    with pytest.raises(RuntimeError, match=serve.CONFIG_ENV):
        serve._backend_factory()
    config = {"keys": [str(key_file)], "releases": None, "replay": "memory"}
    monkeypatch.setenv(serve.CONFIG_ENV, json.dumps(config))
    app = serve._backend_factory()
    device = hemproto.DeviceEmulator(backend_public_key=public_of(key_file))
    body = json.dumps(device.challenge()).encode()
    sent = call_app(
        app,
        http_scope("POST", "/checkin", [(b"content-type", b"application/json")]),
        [{"type": "http.request", "body": body}],
    )
    close_request_log()
    assert sent[0]["status"] == 200
    # The configuration names files, never the key itself.
    assert key_file.read_text().strip() not in os.environ[serve.CONFIG_ENV]


def test_replay_store_names() -> None:
    assert isinstance(serve._replay_store("memory"), hemproto.MemoryReplayStore)
    with pytest.raises(Exception, match="unknown replay store"):
        serve._replay_store("memcached://x")


def test_add_serve_parser_registers_both_commands() -> None:
    parser = argparse.ArgumentParser(prog="hemproto")
    serve.add_serve_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "backend", "--key", "a", "--key", "b", "--port", "0"])
    assert args.run is serve.cmd_serve_backend and args.func is serve.cmd_serve_backend
    assert args.key == ["a", "b"]
    assert (args.host, args.workers, args.log_format, args.replay) == (
        "127.0.0.1",
        1,
        "text",
        "memory",
    )
    args = parser.parse_args(["serve", "device", "--backend-public", "x", "--untrusted-ts"])
    assert args.run is serve.cmd_serve_device and args.func is serve.cmd_serve_device
    assert args.untrusted_ts and not args.untrusted_backend and args.port is None
    args = parser.parse_args(["serve"])
    assert args.run is None


@pytest.mark.parametrize("standalone", [False, True])
def test_serve_without_a_command_prints_help(standalone: bool, tmp_path: Path) -> None:
    child = ServeProcess([], tmp_path, standalone=standalone)
    try:
        assert child.process.wait(60) == 2
        assert "backend" in child.stderr() and "device" in child.stderr()
    finally:
        child.close()


def test_python_m_hemproto_serve_runs_the_same_command(key_file: Path, tmp_path: Path) -> None:
    child = ServeProcess(
        ["backend", "--key", str(key_file), "--port", "0"], tmp_path, standalone=True
    )
    try:
        with httpx.Client(base_url=child.url(), timeout=10) as http:
            assert http.get("/healthz").status_code == 200
        assert child.stop(signal.SIGTERM) == 0
    finally:
        child.close()
    # And its refusals look like the command line's.
    child = ServeProcess(["backend", "--key", "missing.key"], tmp_path, standalone=True)
    try:
        assert child.process.wait(60) == 1
        assert child.stderr().startswith("hemproto: KeyFileError: ")
    finally:
        child.close()


def test_the_listening_socket_names_tcp_so_answers_are_not_delayed() -> None:
    # asyncio turns Nagle off (TCP_NODELAY) only on sockets whose protocol is IPPROTO_TCP;
    # with it on, each answer waited ~40 ms for the client's delayed ACK.
    sock = serve._bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[1] != 0
    finally:
        sock.close()


# --- certificates pushed by serve backend ----------------------------------------------------

CSN = bytes(range(16))


def der_shaped(size: int) -> bytes:
    """A blob the emulator takes for DER: a SEQUENCE whose long-form length covers the rest."""
    content = size - 4
    return b"\x30\x82" + content.to_bytes(2, "big") + bytes(i % 251 for i in range(content))


def test_serve_backend_pushes_certificates_from_every_worker(
    key_file: Path, tmp_path: Path
) -> None:
    certificate = tmp_path / "device.der"
    certificate.write_bytes(der_shaped(hemproto.claims.MAX_CERTIFICATE_SIZE))
    args = ["backend", "--key", str(key_file), "--port", "0", "--workers", "2"]
    args += ["--certificate", f"{CSN.hex().upper()}={certificate.name}"]
    pushed = hemproto.DeviceEmulator(backend_public_key=public_of(key_file), csn=CSN)
    other = hemproto.DeviceEmulator(backend_public_key=public_of(key_file))
    with serve_process(args, tmp_path) as child:
        url = child.url()
        # Only the workers answer: each check-in shows that one worker read the file.
        for _ in range(4):
            outcome = check_in_over(url, pushed)
            assert outcome.newcrt == "OK" and outcome.checked.crt == certificate.read_bytes()
        assert check_in_over(url, other).newcrt is None  # the certificate is for CSN only
        assert child.stop(signal.SIGTERM) == 0
    assert pushed.certificate == certificate.read_bytes()
    assert f"certificate for csn {CSN.hex()}: 3072 bytes of DER\n" in child.stdout


def test_the_worker_factory_reads_the_certificates_named_in_the_environment(
    key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate = tmp_path / "device.der"
    certificate.write_bytes(der_shaped(300))
    config = serve._BackendConfig(
        keys=(str(key_file),),
        releases=None,
        replay="memory",
        certificates=((CSN.hex(), str(certificate)),),
    )
    text = config.to_json()
    assert serve._BackendConfig.from_json(text) == config
    assert certificate.read_bytes().hex() not in text  # paths only
    monkeypatch.setenv(serve.CONFIG_ENV, text)
    app = serve._backend_factory()
    device = hemproto.DeviceEmulator(backend_public_key=public_of(key_file), csn=CSN)
    sent = call_app(
        app,
        http_scope("POST", "/checkin", [(b"content-type", b"application/json")]),
        [{"type": "http.request", "body": json.dumps(device.challenge()).encode()}],
    )
    close_request_log()
    assert sent[0]["status"] == 200
    assert device.handle(json.loads(sent[1]["body"])) == (200, {"status": "R", "newcrt": "OK"})
    assert device.certificate == certificate.read_bytes()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{csn}", "--certificate takes CSN_HEX=FILE"),
        ("{csn}=", "--certificate takes CSN_HEX=FILE"),
        ("0011=good.der", "the serial (csn) must be 16 bytes as 32 hex digits"),
        ("{csn}00=good.der", "the serial (csn) must be 16 bytes as 32 hex digits"),
        ("zz" * 16 + "=good.der", "the serial (csn) must be 16 bytes as 32 hex digits"),
        ("{csn}=missing.der", "missing.der: cannot read: No such file or directory"),
        ("{csn}=.", "cannot read: Is a directory"),
        ("{csn}=empty.der", "empty.der: the file is empty"),
        ("{csn}=big.der", "big.der: over 3072 bytes, too large to push"),
        ("{csn}=cert.pem", "cert.pem: PEM, not DER"),
    ],
)
def test_serve_backend_refuses_bad_certificates_in_one_line(
    value: str,
    message: str,
    key_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "good.der").write_bytes(der_shaped(200))
    (tmp_path / "empty.der").write_bytes(b"")
    (tmp_path / "big.der").write_bytes(der_shaped(hemproto.claims.MAX_CERTIFICATE_SIZE + 1))
    (tmp_path / "cert.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n")
    monkeypatch.chdir(tmp_path)
    argv = ["serve", "backend", "--key", str(key_file), "--port", "0"]
    argv += ["--certificate", value.format(csn=CSN.hex())]
    assert hemproto.cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # stopped before listening
    assert captured.err.startswith("hemproto: --certificate") and captured.err.count("\n") == 1
    assert message in captured.err


def test_serve_backend_refuses_a_serial_given_twice(
    key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate = tmp_path / "good.der"
    certificate.write_bytes(der_shaped(200))
    argv = ["serve", "backend", "--key", str(key_file), "--port", "0"]
    argv += ["--certificate", f"{CSN.hex()}={certificate}"] * 2
    assert hemproto.cli.main(argv) == 2
    error = capsys.readouterr().err
    assert error == f"hemproto: --certificate: serial {CSN.hex()} is given twice\n"


# --- the request log of hemproto serve ------------------------------------------------------

TEXT_LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO hemproto\.http: "
    r"(?P<status>\d{3}) (?P<method>[A-Z]+) (?P<path>\S+)(?: csn=(?P<csn>[0-9a-f]{32}))?"
    r"(?: act=(?P<act>[A-Z]+))?(?: reason=(?P<reason>\".*\"))? \d+(?:\.\d+)? ms"
)
LINES = [
    RequestLine(200, "POST", "/checkin", CSN.hex(), "OK", None, 0.812),
    RequestLine(401, "POST", "/checkin", CSN.hex(), None, 'ReplayedNonce: "x" \\ é', 0.455),
    RequestLine(413, "POST", "/checkin", None, None, "request body over 7300 bytes", 0.1),
    RequestLine(499, "POST", "/v2/\\x0a\u00e9\u2603", None, None, "client disconnected", 12.0),
    RequestLine(200, "GET", "/healthz", None, None, None, 0.0),
]
# Whole seconds, with fractions around each rounding edge of both timestamp formats.
TIMES = [
    1_764_495_000 + fraction
    for fraction in (
        *(0.0, 0.0004, 0.0005, 0.0009999, 0.123456, 0.5),
        *(0.9994999, 0.9995, 0.9999994, 0.9999995, 0.9999996, 0.99999999),
    )
]


class RecordingStream(io.StringIO):
    """A text stream that counts its write calls and wakes a waiter at each one."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.written = threading.Event()

    def write(self, text: str) -> int:
        self.writes += 1
        count = super().write(text)
        self.written.set()
        return count


def standard_line(
    log_format: str, line: RequestLine, created: float, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The line the standard path writes: log_request's record through the handler and
    formatter that serve's logging configuration names, the record made at ``created``."""
    stream = io.StringIO()
    handler = serve._StderrHandler(stream)
    config = serve._log_config(log_format)["formatters"]["hemproto"]
    handler.setFormatter(
        JsonLogFormatter() if "()" in config else logging.Formatter(config["format"])
    )
    logger = logging.getLogger("hemproto.http")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(time, "time", lambda: created)
            log_request(line)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return stream.getvalue()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_request_lines_are_those_the_standard_formatters_write(
    log_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    writer = serve._RequestLineWriter(log_format, stream, interval=3600)
    expected = []
    try:
        for created in TIMES:
            for line in LINES:
                expected.append(standard_line(log_format, line, created, monkeypatch))
                with monkeypatch.context() as patch:
                    patch.setattr(time, "time", lambda: created)  # called at once
                    writer(line)
    finally:
        writer.close()
    assert stream.getvalue() == "".join(expected)
    if log_format == "json":
        for text in expected:
            entry = json.loads(text)
            assert entry["logger"] == "hemproto.http" and entry["time"].endswith("Z")


def test_the_writer_holds_lines_until_a_batch_fills_then_writes_them_in_one_call() -> None:
    stream = RecordingStream()
    line = RequestLine(200, "GET", "/healthz", None, None, None, 0.25)
    writer = serve._RequestLineWriter("text", stream, batch=1000, interval=3600)
    try:
        calls = 0
        while stream.writes == 0 and calls < 100:  # a line is some 60 characters
            writer(line)
            calls += 1
        assert stream.writes == 1 and calls > 1
        lines = stream.getvalue().splitlines()
        assert len(lines) == calls and len(stream.getvalue()) >= 1000
        assert all(TEXT_LINE.fullmatch(text) for text in lines)
        writer(line)
        assert stream.writes == 1  # held again, until the next batch, interval or flush
        writer.flush()
        assert stream.writes == 2 and len(stream.getvalue().splitlines()) == calls + 1
    finally:
        writer.close()


def test_a_lone_line_is_written_by_the_timer_without_more_traffic() -> None:
    stream = RecordingStream()
    writer = serve._RequestLineWriter("json", stream, interval=0.05)
    try:
        writer(RequestLine(404, "GET", "/nowhere", None, None, "not found", 0.2))
        # No other request, flush or close: only the timer can write it.
        assert stream.written.wait(10), "the pending line was never written"
        (text,) = stream.getvalue().splitlines()
        assert json.loads(text)["reason"] == "not found"
    finally:
        writer.close()
    assert stream.writes == 1


def test_closing_writes_what_is_pending_and_later_lines_at_once() -> None:
    stream = RecordingStream()
    writer = serve._RequestLineWriter("text", stream, interval=3600)
    line = RequestLine(200, "GET", "/healthz", None, None, None, 0.25)
    writer(line)
    assert stream.writes == 0
    writer.close()
    assert stream.writes == 1
    writer(line)  # a request that ends after the stop is still logged
    assert stream.writes == 2 and len(stream.getvalue().splitlines()) == 2


def test_other_log_lines_come_after_the_request_lines_logged_before_them() -> None:
    stream = io.StringIO()
    writer = serve._RequestLineWriter("text", stream, interval=3600)
    handler = serve._StderrHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    try:
        writer(RequestLine(200, "GET", "/healthz", None, None, None, 0.25))
        handler.handle(logging.makeLogRecord({"name": "uvicorn.error", "msg": "Shutting down"}))
    finally:
        writer.close()
    first, second = stream.getvalue().splitlines()
    assert first.endswith("INFO hemproto.http: 200 GET /healthz 0.25 ms")
    assert second == "uvicorn.error: Shutting down"


def test_a_stream_that_fails_drops_its_batch_without_stopping_the_server() -> None:
    stream = io.StringIO()
    writer = serve._RequestLineWriter("text", stream, batch=1, interval=3600)
    stream.close()
    try:
        writer(RequestLine(200, "GET", "/healthz", None, None, None, 0.25))  # raises nothing
    finally:
        writer.close()
    with pytest.raises(ValueError):
        serve._RequestLineWriter("xml", io.StringIO())


def http_lines(errors: str, log_format: str) -> list[dict[str, Any]]:
    """The request lines of a server's standard error, as dicts of their fields."""
    if log_format == "json":
        entries = [json.loads(text) for text in errors.splitlines()]  # every line is JSON
        return [entry for entry in entries if entry["logger"] == "hemproto.http"]
    found = []
    for text in errors.splitlines():
        if " INFO hemproto.http: " in text:
            match = TEXT_LINE.fullmatch(text)
            assert match, text
            fields: dict[str, Any] = match.groupdict()
            fields["status"] = int(fields["status"])
            if fields["reason"] is not None:
                fields["reason"] = json.loads(fields["reason"])
            found.append(fields)
    return found


@pytest.mark.parametrize(
    ("sig", "log_format"),
    [
        (signal.SIGTERM, "text"),
        (signal.SIGINT, "text"),
        (signal.SIGTERM, "json"),
        (signal.SIGINT, "json"),
    ],
)
def test_every_request_line_is_written_when_the_server_is_stopped(
    sig: int, log_format: str, key_file: Path, tmp_path: Path
) -> None:
    backend_key = hemproto.KeyPair.from_file(key_file)
    device = hemproto.DeviceEmulator(backend_public_key=backend_key.public)
    args = ["backend", "--key", str(key_file), "--port", "0", "--log-format", log_format]
    with serve_process(args, tmp_path) as child:
        url = child.url()
        statuses = []
        with httpx.Client(base_url=url, timeout=10) as http:
            check = device.challenge()
            for _ in range(2):  # answered, then refused as a replay
                statuses.append(http.post("/checkin", json=check).status_code)
            huge_name = b'{"check":"a.b.c","' + b"n" * 6000 + b'":1}'
            statuses.append(
                http.post(
                    "/checkin", content=huge_name, headers={"content-type": "application/json"}
                ).status_code
            )
            statuses.append(http.post("/checkin", content=b"x" * 8000).status_code)
            statuses.append(http.get("/" + "p" * 3000).status_code)
            for _ in range(300):  # more than the timer writes at once, fewer than a batch
                statuses.append(http.get("/healthz").status_code)
        # Stopped at once: the last lines are still pending in the writer.
        assert child.stop(sig) == 0
        errors = child.stderr()
    lines = http_lines(errors, log_format)
    assert [line["status"] for line in lines] == statuses
    assert statuses[:5] == [200, 401, 400, 415, 404]
    answered, replayed, malformed, unsupported, missing = lines[:5]
    assert answered["csn"] == device.csn.hex() and answered["act"] == "R"
    assert replayed["csn"] == device.csn.hex() and replayed["reason"].startswith("ReplayedNonce")
    for refused in (replayed, malformed, unsupported, missing):
        assert 0 < len(refused["reason"]) <= 200  # bounded, whatever the client sent
    assert len(missing["path"]) == 200
    assert errors.index("hemproto.http") < errors.index("Shutting down")
    mac_key = backend_key.shared(device.session_public_key)
    for secret in (backend_key.private_bytes(), mac_key):
        for text in (
            secret.hex(),
            base64.b64encode(secret).decode(),
            hemproto.b64url_encode(secret),
        ):
            assert text not in errors
