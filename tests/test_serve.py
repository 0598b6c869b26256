"""``hemproto serve backend`` and ``hemproto serve device`` as a user runs them: child
processes on 127.0.0.1 with a free port, talked to over HTTP(S), stopped with a signal.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from _asgi_server import ServeProcess, call_app, http_scope, serve_process
from _cli import run_cli
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import hemproto
from hemproto import serve

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


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "my.ence.do")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "device.crt", directory / "device.key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def test_serve_device_over_tls(tmp_path: Path) -> None:
    backend = hemproto.Backend(hemproto.KeyPair.generate())
    cert_path, key_path = self_signed(tmp_path)
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
