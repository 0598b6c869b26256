"""The ASGI apps over real sockets: uvicorn on 127.0.0.1, httpx or raw sockets as clients.

Covers every status of both apps, the body cap while reading (declared and chunked),
content types and CBOR, health, logging, the device's vendor fields, a soft-bricked
device, mounting under Starlette and FastAPI, and whole check-ins through both apps.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import logging
import re
import select
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _asgi_server import Tap, call_app, http_scope, raw_exchange, running
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount

import hemproto
from hemproto.asgi import JsonLogFormatter, RequestLine, backend_app, device_app
from hemproto.claims import MAX_REQUEST_BODY
from hemproto.errors import ReplayStoreUnavailable

FWS = bytes([0xF1]) * 64
BLS = bytes([0xB1]) * 64
UIS = bytes([0xD1]) * 32
CSN = bytes(range(16))
TEN_MB = 10 * 1024 * 1024
JSON_TYPE = {"content-type": "application/json"}
CBOR_TYPE = {"content-type": "application/cbor"}
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def registry() -> hemproto.ReleaseRegistry:
    return hemproto.ReleaseRegistry(
        [
            hemproto.Release("firmware", FWS, "2.1.0", "current"),
            hemproto.Release("bootloader", BLS, "1.2.0", "current"),
            hemproto.Release("dashboard", UIS, "3.4.0", "current"),
        ]
    )


@pytest.fixture()
def backend_key() -> hemproto.KeyPair:
    return hemproto.KeyPair(bytes(range(32)))


@pytest.fixture()
def backend(backend_key: hemproto.KeyPair) -> hemproto.Backend:
    return hemproto.Backend(backend_key, releases=registry())


def make_device(backend_key: hemproto.KeyPair, **options: Any) -> hemproto.DeviceEmulator:
    fields: dict[str, Any] = {"fws": FWS, "bls": BLS, "uis": UIS, "csn": CSN}
    fields.update(options)
    return hemproto.DeviceEmulator(backend_public_key=backend_key.public, **fields)


@pytest.fixture()
def device(backend_key: hemproto.KeyPair) -> hemproto.DeviceEmulator:
    return make_device(backend_key)


@pytest.fixture()
def backend_url(backend: hemproto.Backend) -> Iterator[str]:
    with running(backend_app(backend)) as url:
        yield url


@pytest.fixture()
def client(backend_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backend_url, timeout=10) as http:
        yield http


def error_of(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert isinstance(body["error"], str) and body["error"]
    assert len(response.content) <= 256
    return body["error"]


def http_records(caplog: pytest.LogCaptureFixture, count: int) -> list[logging.LogRecord]:
    """The hemproto.http records, once there are ``count``: the server thread writes each
    line after its answer is sent, so the client can be told before the line exists."""
    deadline = time.monotonic() + 10
    while True:
        records = [record for record in caplog.records if record.name == "hemproto.http"]
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.01)


def relay_over(http_device: httpx.Client, http_backend: httpx.Client) -> hemproto.RelayOutcome:
    """One check-in as a public client runs it: GET the check, forward both bodies verbatim."""

    def answer(response: httpx.Response) -> Any:
        return response.status_code, (response.json() if response.content else None)

    return hemproto.relay_checkin(
        lambda: answer(http_device.get("/api/system/checkin")),
        lambda body: answer(http_backend.post("/checkin", json=body)),
        lambda body: answer(http_device.post("/api/system/checkin", json=body)),
    )


# --- the backend: answers ---------------------------------------------------------------------


def test_a_check_in_json_is_answered_and_the_device_accepts_the_reply(
    client: httpx.Client, device: hemproto.DeviceEmulator
) -> None:
    response = client.post("/checkin", json=device.challenge())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert list(response.json()) == ["checked"]
    assert device.handle(response.json()) == (200, {"status": "OK"})


def test_json_with_charset_utf8_is_accepted(
    client: httpx.Client, device: hemproto.DeviceEmulator
) -> None:
    body = json.dumps(device.challenge()).encode()
    for content_type in ("application/json; charset=utf-8", "Application/JSON;charset=UTF-8"):
        response = client.post("/checkin", content=body, headers={"content-type": content_type})
        assert response.status_code == 200, content_type
        body = json.dumps(device.challenge()).encode()


def test_malformed_check_is_400(client: httpx.Client) -> None:
    for content in (b'{"check": "x"}', b"", b"[1]", b"{", b'{"check": 1}'):
        response = client.post("/checkin", content=content, headers=JSON_TYPE)
        assert response.status_code == 400, content
        assert error_of(response).startswith("MalformedToken"), content


def test_bad_mac_unknown_key_and_replay_are_401(
    client: httpx.Client, backend_key: hemproto.KeyPair, device: hemproto.DeviceEmulator
) -> None:
    check = device.challenge()
    token = check["check"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = client.post("/checkin", json={"check": forged})
    assert response.status_code == 401
    assert error_of(response).startswith("BadSignature")

    stranger = make_device(hemproto.KeyPair.generate())
    response = client.post("/checkin", json=stranger.challenge())
    assert response.status_code == 401
    assert error_of(response).startswith("UnknownKey")

    assert client.post("/checkin", json=check).status_code == 200
    response = client.post("/checkin", json=check)
    assert response.status_code == 401
    assert error_of(response).startswith("ReplayedNonce")


def test_a_replay_store_that_cannot_answer_is_503(
    backend_key: hemproto.KeyPair, device: hemproto.DeviceEmulator
) -> None:
    class DownStore:
        def seen_before(self, key: bytes, expires_at: float) -> bool:
            raise ReplayStoreUnavailable("replay store timed out")

    backend = hemproto.Backend(backend_key, replay=DownStore())
    with running(backend_app(backend)) as url, httpx.Client(base_url=url, timeout=10) as http:
        response = http.post("/checkin", json=device.challenge())
        assert response.status_code == 503
        assert "ReplayStoreUnavailable" in error_of(response)


# --- the backend: the body cap while reading ----------------------------------------------------


def test_a_declared_length_over_the_cap_is_413_before_the_body_is_read(
    backend: hemproto.Backend,
) -> None:
    tap = Tap(backend_app(backend))
    with running(tap) as url:
        # Ten megabytes announced, ten bytes sent: a server that waited for the body would
        # time the socket out instead of answering.
        head = (
            "POST /checkin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {TEN_MB}\r\n\r\n"
        )
        answer = raw_exchange(url, head.encode() + b'{"check":"')
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"connection: close" in headers.lower()
    assert json.loads(body) == {"error": f"request body over {MAX_REQUEST_BODY} bytes"}
    assert tap.messages == 0 and tap.body_bytes == 0
    assert tap.statuses == [413]


def test_an_oversize_body_announced_with_expect_100_continue_is_never_invited(
    backend: hemproto.Backend,
) -> None:
    tap = Tap(backend_app(backend))
    with running(tap) as url:
        head = (
            "POST /checkin HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
            f"Content-Type: application/json\r\nContent-Length: {TEN_MB}\r\n\r\n"
        )
        answer = raw_exchange(url, head.encode())  # no body at all
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in answer
    assert tap.messages == 0


def test_a_length_at_the_cap_is_read(backend: hemproto.Backend) -> None:
    body = b'{"check":"' + b"A" * (MAX_REQUEST_BODY - 12) + b'"}'
    assert len(body) == MAX_REQUEST_BODY
    with running(backend_app(backend)) as url, httpx.Client(base_url=url, timeout=10) as http:
        response = http.post("/checkin", content=body, headers=JSON_TYPE)
        # Read whole and refused by the token rules, not by the cap.
        assert response.status_code == 400
        assert "over" not in error_of(response)
        over = http.post("/checkin", content=body + b" ", headers=JSON_TYPE)
        assert over.status_code == 413


def test_a_chunked_body_is_cut_off_at_the_cap(backend: hemproto.Backend) -> None:
    # The client sends 1 KiB pieces of a 10 MB body, each only once the server has taken the
    # previous one, so what the generator gave up is exactly what the server read.
    tap = Tap(backend_app(backend))
    piece = b"x" * 1024
    pulled = 0

    def ten_megabytes() -> Iterator[bytes]:
        nonlocal pulled
        for _ in range(TEN_MB // len(piece)):
            pulled += len(piece)
            yield piece
            assert tap.wait_for(lambda: tap.body_bytes >= pulled or bool(tap.statuses))
            if tap.statuses:
                return

    with running(tap) as url, httpx.Client(base_url=url, timeout=10) as http:
        response = http.post("/checkin", content=ten_megabytes(), headers=JSON_TYPE)
    assert response.status_code == 413
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert error_of(response) == f"request body over {MAX_REQUEST_BODY} bytes"
    assert response.headers["connection"] == "close"
    assert pulled <= MAX_REQUEST_BODY + len(piece)
    assert tap.body_bytes == pulled
    assert tap.statuses == [413]


def test_a_chunked_flood_is_cut_off_not_drained(backend: hemproto.Backend) -> None:
    # Sent as fast as the socket takes it, through small buffers: the app stops at the
    # first piece past the cap and the server closes, so the client cannot push 10 MB.
    tap = Tap(backend_app(backend))
    piece = b"y" * 1024
    frame = b"%x\r\n" % len(piece) + piece + b"\r\n"
    pulled = 0
    answer = b""
    with running(tap, receive_buffer=4096) as url:
        port = int(url.rsplit(":", 1)[1])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sock.settimeout(10)
        try:
            sock.connect(("127.0.0.1", port))
            sock.sendall(
                b"POST /checkin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                b"\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            for _ in range(TEN_MB // len(piece)):
                if select.select([sock], [], [], 0)[0]:
                    break
                try:
                    sock.sendall(frame)
                except (BrokenPipeError, ConnectionResetError):
                    break
                pulled += len(piece)
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
            except ConnectionResetError:
                pass  # the close may reset what the client had not read yet
        finally:
            sock.close()
    assert pulled < TEN_MB // 10
    assert tap.statuses == [413]
    assert tap.body_bytes - tap.last_piece <= MAX_REQUEST_BODY
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413 ")


def test_an_invalid_content_length_is_400(backend: hemproto.Backend) -> None:
    app = backend_app(backend)
    for values in ([b"abc"], [b"-1"], [b"1.5"], [b""], [b"10", b"12"], [b"\xb9"]):
        headers = [(b"content-type", b"application/json")]
        headers += [(b"content-length", value) for value in values]
        sent = call_app(app, http_scope("POST", "/checkin", headers), [])
        assert sent[0]["status"] == 400, values
        assert json.loads(sent[1]["body"]) == {"error": "invalid Content-Length"} or (
            json.loads(sent[1]["body"]) == {"error": "conflicting Content-Length headers"}
        )
    # A number of thousands of digits is over the cap, and never handed to int().
    headers = [(b"content-type", b"application/json"), (b"content-length", b"9" * 5000)]
    sent = call_app(app, http_scope("POST", "/checkin", headers), [])
    assert sent[0]["status"] == 413
    # Over the socket the server itself refuses the same request first, with 400 too.
    with running(app) as url:
        answer = raw_exchange(
            url,
            b"POST /checkin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: abc\r\n\r\n",
        )
    assert answer.startswith(b"HTTP/1.1 400 ")


# --- the backend: methods, paths, content types ---------------------------------------------------


def test_other_methods_are_405_with_allow(client: httpx.Client) -> None:
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"):
        response = client.request(method, "/checkin")
        assert response.status_code == 405, method
        assert response.headers["allow"] == "POST"
        assert error_of(response) == "method not allowed"
    response = client.post("/healthz", json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"


def test_unknown_paths_are_404(client: httpx.Client) -> None:
    for path in ("/", "/checkin/", "/check", "/api/system/checkin", "/healthz/x"):
        response = client.post(path, json={})
        assert response.status_code == 404, path
        assert error_of(response) == "not found"


def test_other_content_types_are_415(client: httpx.Client, device: hemproto.DeviceEmulator) -> None:
    body = json.dumps(device.challenge()).encode()
    for content_type in (
        "text/plain",
        "application/json; charset=latin-1",
        "application/json; boundary=x",
        "application/x-www-form-urlencoded",
        "application/cbor; q=1",
        "application/json; charset",
    ):
        response = client.post("/checkin", content=body, headers={"content-type": content_type})
        assert response.status_code == 415, content_type
        assert "Content-Type" in error_of(response)
    response = client.post("/checkin", content=body)  # none at all
    assert response.status_code == 415


# --- the backend: CBOR --------------------------------------------------------------------------


def test_cbor_in_cbor_out(client: httpx.Client, device: hemproto.DeviceEmulator) -> None:
    envelope = hemproto.to_cbor(device.challenge()["check"])
    response = client.post(
        "/checkin", content=envelope, headers={**CBOR_TYPE, "accept": "application/cbor"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/cbor"
    checked = hemproto.from_cbor(response.content)
    assert response.content == hemproto.to_cbor(checked)
    assert device.handle({"checked": checked}) == (200, {"status": "OK"})


def test_cbor_in_json_out_unless_accept_asks_for_cbor(
    client: httpx.Client, device: hemproto.DeviceEmulator
) -> None:
    for accept in (None, "application/json", "*/*", "application/cbor;q=0.5, application/json"):
        headers = dict(CBOR_TYPE)
        if accept is not None:
            headers["accept"] = accept
        envelope = hemproto.to_cbor(device.challenge()["check"])
        response = client.post("/checkin", content=envelope, headers=headers)
        assert response.status_code == 200, accept
        assert response.headers["content-type"] == "application/json", accept
        assert device.handle(response.json()) == (200, {"status": "OK"})
    # A JSON request is answered in JSON whatever it accepts.
    response = client.post(
        "/checkin", json=device.challenge(), headers={"accept": "application/cbor"}
    )
    assert response.headers["content-type"] == "application/json"


def test_a_bad_cbor_envelope_is_400(client: httpx.Client, device: hemproto.DeviceEmulator) -> None:
    envelope = hemproto.to_cbor(device.challenge()["check"])
    for content in (b"", b"\xff", envelope[:-1], envelope + b"\x00", b'{"check": "x"}'):
        response = client.post("/checkin", content=content, headers=CBOR_TYPE)
        assert response.status_code == 400, content[:8]
        assert error_of(response).startswith("MalformedToken: CBOR envelope")


# --- the backend: health ----------------------------------------------------------------------


def test_healthz(client: httpx.Client, backend_key: hemproto.KeyPair) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}

    class Unreachable(hemproto.MemoryReplayStore):
        async def ping_async(self) -> None:
            raise ReplayStoreUnavailable("no answer from the store")

    class Broken:  # a blocking store: its ping runs in a worker thread
        def seen_before(self, key: bytes, expires_at: float) -> bool:
            return False

        def ping(self) -> None:
            raise ConnectionError("redis://user:secret@host")

    for store in (Unreachable(), Broken()):
        backend = hemproto.Backend(backend_key, replay=store)
        with running(backend_app(backend)) as url, httpx.Client(base_url=url) as http:
            response = http.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable"}
        assert b"secret" not in response.content


# --- the backend: errors and logs carry no secret -------------------------------------------------


def test_error_bodies_and_log_lines_are_small_and_secret_free(
    backend: hemproto.Backend,
    backend_key: hemproto.KeyPair,
    device: hemproto.DeviceEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mac_key = backend_key.shared(device.session_public_key)
    private = backend_key.private_bytes()
    secrets = [
        text
        for raw in (private, mac_key)
        for text in (raw.hex(), base64.b64encode(raw).decode(), hemproto.b64url_encode(raw))
    ]
    check = device.challenge()
    token = check["check"]
    requests: list[tuple[str, str, bytes, dict[str, str]]] = [
        ("POST", "/checkin", json.dumps(check).encode(), JSON_TYPE),
        ("POST", "/checkin", json.dumps(check).encode(), JSON_TYPE),  # replay
        ("POST", "/checkin", json.dumps({"check": token[:-2] + "AA"}).encode(), JSON_TYPE),
        ("POST", "/checkin", b'{"check": "' + b"\n" * 300 + b'"}', JSON_TYPE),
        ("POST", "/checkin", b"x" * (MAX_REQUEST_BODY + 1), JSON_TYPE),
        ("POST", "/checkin", b"{}", {"content-type": "text/plain"}),
        ("GET", "/checkin", b"", {}),
        ("GET", "/nowhere/%0a%0dinjected", b"", {}),
    ]
    caplog.set_level(logging.INFO, logger="hemproto.http")
    with running(backend_app(backend)) as url, httpx.Client(base_url=url, timeout=10) as http:
        for method, path, content, headers in requests:
            response = http.request(method, path, content=content, headers=headers)
            if response.status_code != 200:
                error = error_of(response)
                assert not any(secret in error for secret in secrets)
    lines = http_records(caplog, len(requests))
    assert len(lines) == len(requests)
    assert [record.hemproto_http["status"] for record in lines] == [  # type: ignore[attr-defined]
        200,
        401,
        401,
        400,
        413,
        415,
        405,
        404,
    ]
    for record in lines:
        text = record.getMessage()
        assert "\n" not in text and "\r" not in text
        assert len(text) < 400
        assert not any(secret in text for secret in secrets)
        formatted = JsonLogFormatter().format(record)
        assert not any(secret in formatted for secret in secrets)


def test_the_log_line_of_an_answered_check_in(
    client: httpx.Client, device: hemproto.DeviceEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hemproto.http")
    assert client.post("/checkin", json=device.challenge()).status_code == 200
    (record,) = http_records(caplog, 1)
    fields = record.hemproto_http  # type: ignore[attr-defined]
    assert fields["status"] == 200
    assert fields["method"] == "POST"
    assert fields["path"] == "/checkin"
    assert fields["csn"] == CSN.hex()
    assert fields["act"] == "OK"
    assert fields["reason"] is None
    assert isinstance(fields["ms"], float) and fields["ms"] >= 0
    assert record.getMessage().startswith(f"200 POST /checkin csn={CSN.hex()} act=OK ")
    line = json.loads(JsonLogFormatter().format(record))
    assert line["logger"] == "hemproto.http" and line["level"] == "INFO"
    assert line["time"].endswith("Z")
    assert {key: line[key] for key in fields} == fields


# --- the device --------------------------------------------------------------------------------


@pytest.fixture()
def device_client(device: hemproto.DeviceEmulator) -> Iterator[httpx.Client]:
    with running(device_app(device)) as url, httpx.Client(base_url=url, timeout=10) as http:
        yield http


def test_device_check_in_endpoints(
    device_client: httpx.Client, backend: hemproto.Backend, device: hemproto.DeviceEmulator
) -> None:
    response = device_client.get("/api/system/checkin")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    check = response.json()
    assert list(check) == ["check"]
    assert hemproto.verify_check(check, hemproto.KeyPair(bytes(range(32)))).csn == CSN
    status, reply = backend.handle(check)
    assert status == 200
    response = device_client.post("/api/system/checkin", json=reply)
    assert response.status_code == 200
    assert response.json() == {"status": "OK"}
    # The same reply again, a malformed one, and an oversized one: empty bodies, as the device.
    for content, expected in (
        (json.dumps(reply).encode(), 401),
        (b'{"checked": "x"}', 400),
        (b"not json", 400),
        (b"x" * (MAX_REQUEST_BODY + 1), 413),
    ):
        response = device_client.post("/api/system/checkin", content=content, headers=JSON_TYPE)
        assert response.status_code == expected, content[:16]
        assert response.content == b""


def test_device_refuses_a_declared_oversize_body_unread(device: hemproto.DeviceEmulator) -> None:
    tap = Tap(device_app(device))
    with running(tap) as url:
        head = (
            "POST /api/system/checkin HTTP/1.1\r\nHost: my.ence.do\r\n"
            f"Content-Type: application/json\r\nContent-Length: {TEN_MB}\r\n\r\n"
        )
        answer = raw_exchange(url, head.encode() + b"{")
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(b"\r\n\r\n")  # no body
    assert tap.messages == 0


def test_device_methods_and_paths(device_client: httpx.Client) -> None:
    for method, path, allow in (
        ("PUT", "/api/system/checkin", "GET, POST"),
        ("POST", "/api/system/status", "GET"),
        ("DELETE", "/api/system/version", "GET"),
    ):
        response = device_client.request(method, path)
        assert response.status_code == 405
        assert response.headers["allow"] == allow
        assert response.content == b""
    for path in ("/", "/api/system", "/api/system/checkin/", "/checkin"):
        response = device_client.get(path)
        assert response.status_code == 404
        assert response.content == b""


def test_device_version_fields(device: hemproto.DeviceEmulator) -> None:
    fwk, blk = bytes([7]) * 32, bytes([8]) * 32
    app = device_app(device, hwv="PPA rev 2.2", fwv="9.9.9-DIAG", blv="bl 2", fwk=fwk, blk=blk)
    with running(app) as url, httpx.Client(base_url=url) as http:
        version = http.get("/api/system/version").json()
    assert list(version) == ["hwv", "fwv", "fwk", "fws", "blv", "blk", "bls", "uis"]
    assert version["hwv"] == "PPA rev 2.2"
    assert version["fwv"] == "9.9.9-DIAG"
    assert version["blv"] == "bl 2"
    assert version["fws"] == base64.b64encode(FWS).decode()
    assert version["bls"] == base64.b64encode(BLS).decode()
    assert version["uis"] == base64.b64encode(UIS).decode()
    assert version["fwk"] == base64.b64encode(fwk).decode()
    assert version["blk"] == base64.b64encode(blk).decode()
    # The fws a client reads here is the one the device's checks carry.
    check = hemproto.parse_check(device.challenge())
    assert base64.b64decode(version["fws"]) == check.fws


def test_an_epa_has_no_dashboard_and_no_storage(backend_key: hemproto.KeyPair) -> None:
    epa = make_device(backend_key, uis=None)
    with running(device_app(epa, hwv="EPA rev 1")) as url, httpx.Client(base_url=url) as http:
        version = http.get("/api/system/version").json()
        status = http.get("/api/system/status").json()
    assert "uis" not in version and version["hwv"] == "EPA rev 1"
    assert "storage" not in status
    with pytest.raises(ValueError, match="EPA"):
        device_app(make_device(backend_key), hwv="EPA rev 1")
    with pytest.raises(ValueError, match="PPA or EPA"):
        device_app(epa, hwv="rev 1")
    with pytest.raises(hemproto.InvalidKey):
        device_app(epa, hwv="EPA", fwk=b"short")


def test_device_status_fields(
    device: hemproto.DeviceEmulator, backend: hemproto.Backend, device_client: httpx.Client
) -> None:
    status = device_client.get("/api/system/status", headers={"host": "my.ence.do"}).json()
    assert status["fls_state"] == 0 and type(status["fls_state"]) is int
    assert type(status["uptime"]) is int and status["uptime"] >= 0
    assert type(status["temp"]) is int
    assert status["storage"] == ["7864320:rw", "62914560:-"]
    assert re.fullmatch(r"\d+:(rw|ro|-)", status["storage"][0])
    assert status["https"] is False  # asked over plain HTTP
    for absent in ("ts", "time", "hostname", "inited", "format", "tts"):
        assert absent not in status, absent

    before = int(datetime.datetime.now(datetime.UTC).timestamp())
    hemproto.relay_checkin(device.challenge, backend.handle, device.handle)
    status = device_client.get("/api/system/status", headers={"host": "other.example"}).json()
    assert ISO_UTC.fullmatch(status["ts"])
    assert type(status["time"]) is int and status["time"] >= before
    stamp = datetime.datetime.strptime(status["ts"], "%Y-%m-%dT%H:%M:%SZ")
    assert int(stamp.replace(tzinfo=datetime.UTC).timestamp()) == status["time"]
    assert status["hostname"] == "my.ence.do"  # the Host asked for was another name


def test_device_status_while_not_initialised_and_without_trusted_time(
    backend_key: hemproto.KeyPair,
) -> None:
    unit = make_device(backend_key, trusted_ts=False)
    app = device_app(unit, initialised=False, https=True, hostname="hem.local")
    with running(app) as url, httpx.Client(base_url=url) as http:
        status = http.get("/api/system/status", headers={"host": "HEM.local:8443"}).json()
    assert status["inited"] is False
    assert status["format"] == "done"
    assert status["tts"] is False
    assert status["https"] is True
    assert "hostname" not in status  # the Host was the configured name


def test_device_uptime_counts_from_the_last_boot(backend_key: hemproto.KeyPair) -> None:
    clock = [100.0]
    unit = make_device(backend_key, monotonic=lambda: clock[0])
    app = device_app(unit)
    scope = http_scope("GET", "/api/system/status", [(b"host", b"my.ence.do")])
    clock[0] = 142.9
    assert json.loads(call_app(app, scope, [])[1]["body"])["uptime"] == 42
    unit.reboot()
    clock[0] = 150.0
    assert json.loads(call_app(app, scope, [])[1]["body"])["uptime"] == 7


def test_a_soft_bricked_device_answers_503_to_everything(backend_key: hemproto.KeyPair) -> None:
    backend = hemproto.Backend(backend_key, policy=hemproto.Policy(unknown="B"))
    unit = make_device(backend_key)  # firmware no registry knows: the policy says B
    with running(device_app(unit)) as url, httpx.Client(base_url=url, timeout=10) as http:
        outcome = hemproto.relay_checkin(
            lambda: (lambda r: (r.status_code, r.json()))(http.get("/api/system/checkin")),
            backend.handle,
            lambda body: (lambda r: (r.status_code, r.json()))(
                http.post("/api/system/checkin", json=body)
            ),
        )
        assert outcome.status == "B"
        assert not unit.serving
        for method, path in (
            ("GET", "/api/system/checkin"),
            ("POST", "/api/system/checkin"),
            ("GET", "/api/system/status"),
            ("GET", "/api/system/version"),
            ("GET", "/nowhere"),
            ("DELETE", "/api/system/status"),
        ):
            response = http.request(method, path)
            assert response.status_code == 503, (method, path)
            assert response.content == b""


# --- mounting and serving ----------------------------------------------------------------------


def mounted_in_starlette(backend: hemproto.Backend, device: hemproto.DeviceEmulator) -> Any:
    return Starlette(
        routes=[Mount("/hem", app=backend_app(backend)), Mount("/dev", app=device_app(device))]
    )


def mounted_in_fastapi(backend: hemproto.Backend, device: hemproto.DeviceEmulator) -> Any:
    api = FastAPI()

    @api.get("/own")
    def own() -> dict[str, str]:
        return {"route": "fastapi"}

    api.mount("/hem", backend_app(backend))
    api.mount("/dev", device_app(device))
    return api


@pytest.mark.parametrize("host", [mounted_in_starlette, mounted_in_fastapi])
def test_mounted_under_a_framework(
    host: Any, backend: hemproto.Backend, device: hemproto.DeviceEmulator
) -> None:
    with running(host(backend, device)) as url:
        with (
            httpx.Client(base_url=url + "/dev", timeout=10) as http_device,
            httpx.Client(base_url=url + "/hem", timeout=10) as http_backend,
        ):
            outcome = relay_over(http_device, http_backend)
            assert outcome.status == "OK"
            assert outcome.checked.act == "OK"
            assert http_backend.get("/healthz").json() == {"status": "ok"}
            assert http_backend.get("/checkin").headers["allow"] == "POST"
            assert http_backend.post("/nowhere", json={}).status_code == 404
            assert http_device.get("/api/system/version").json()["fws"]
        with httpx.Client(base_url=url, timeout=10) as http:
            # The framework's own routes and 404s are untouched.
            assert http.post("/checkin", json={}).status_code == 404
            if host is mounted_in_fastapi:
                assert http.get("/own").json() == {"route": "fastapi"}


def test_served_with_a_root_path(
    backend: hemproto.Backend, device: hemproto.DeviceEmulator
) -> None:
    # uvicorn --root-path: the app sees the prefix in both path and root_path.
    with running(backend_app(backend), root_path="/behind/proxy") as url:
        with httpx.Client(base_url=url, timeout=10) as http:
            response = http.post("/checkin", json=device.challenge())
    assert response.status_code == 200


def test_a_check_in_bounces_through_both_apps(
    backend: hemproto.Backend, device: hemproto.DeviceEmulator
) -> None:
    with running(backend_app(backend)) as backend_url, running(device_app(device)) as device_url:
        with (
            httpx.Client(base_url=device_url, timeout=10) as http_device,
            httpx.Client(base_url=backend_url, timeout=10) as http_backend,
        ):
            outcome = relay_over(http_device, http_backend)
            assert outcome.status == "OK"
            assert outcome.check.csn == CSN
            assert device.rtc is not None and device.rtc == outcome.checked.iat
            status = http_device.get("/api/system/status").json()
            assert status["time"] >= outcome.checked.iat

        async def relay_async() -> hemproto.RelayOutcome:
            async with (
                httpx.AsyncClient(base_url=device_url, timeout=10) as http_device,
                httpx.AsyncClient(base_url=backend_url, timeout=10) as http_backend,
            ):

                async def get_check() -> Any:
                    response = await http_device.get("/api/system/checkin")
                    return response.status_code, response.json()

                async def post_backend(body: Any) -> Any:
                    response = await http_backend.post("/checkin", json=body)
                    return response.status_code, response.json()

                async def post_device(body: Any) -> Any:
                    response = await http_device.post("/api/system/checkin", json=body)
                    return response.status_code, response.json()

                return await hemproto.relay_checkin_async(get_check, post_backend, post_device)

        assert asyncio.run(relay_async()).status == "OK"


def test_eight_threads_of_25_check_ins_all_complete(
    backend: hemproto.Backend, device: hemproto.DeviceEmulator
) -> None:
    threads, rounds = 8, 25
    outcomes: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    with running(backend_app(backend)) as backend_url, running(device_app(device)) as device_url:

        def work() -> None:
            try:
                with (
                    httpx.Client(base_url=device_url, timeout=30) as http_device,
                    httpx.Client(base_url=backend_url, timeout=30) as http_backend,
                ):
                    for _ in range(rounds):
                        outcome = relay_over(http_device, http_backend)
                        with lock:
                            outcomes.append(outcome.status)
            except BaseException as exc:
                with lock:
                    failures.append(exc)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert not any(worker.is_alive() for worker in workers)
    assert failures == []
    assert outcomes == ["OK"] * (threads * rounds)
    assert len(device.log) == threads * rounds  # one RTC_SET per accepted reply


# --- ASGI outside HTTP, and construction ---------------------------------------------------------


@pytest.mark.parametrize("make", ["backend", "device"])
def test_lifespan_and_websocket(
    make: str, backend: hemproto.Backend, device: hemproto.DeviceEmulator
) -> None:
    app = backend_app(backend) if make == "backend" else device_app(device)
    sent = call_app(
        app,
        {"type": "lifespan", "asgi": {"version": "3.0"}},
        [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}],
    )
    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    sent = call_app(
        app,
        {"type": "websocket", "path": "/checkin", "headers": []},
        [{"type": "websocket.connect"}],
    )
    assert sent == [{"type": "websocket.close", "code": 1008}]


def test_a_client_that_leaves_mid_body_is_logged_not_answered(
    backend: hemproto.Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hemproto.http")
    headers = [(b"content-type", b"application/json"), (b"content-length", b"100")]
    sent = call_app(
        backend_app(backend),
        http_scope("POST", "/checkin", headers),
        [{"type": "http.request", "body": b"{", "more_body": True}],
    )
    assert sent == []
    (record,) = [record for record in caplog.records if record.name == "hemproto.http"]
    assert record.hemproto_http["status"] == 499  # type: ignore[attr-defined]


def test_construction_is_checked(
    backend: hemproto.Backend, device: hemproto.DeviceEmulator
) -> None:
    with pytest.raises(ValueError):
        backend_app(backend, path="checkin")
    with pytest.raises(ValueError):
        backend_app(backend, path="/healthz")
    with pytest.raises(TypeError):
        backend_app(device)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        device_app(backend)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        device_app(device, fwv="")
    with pytest.raises(TypeError):
        device_app(device, https=1)  # type: ignore[arg-type]
    # Another path for the check-in.
    app = backend_app(backend, path="/v2/checkin")
    check = json.dumps(device.challenge()).encode()
    headers = [(b"content-type", b"application/json")]
    sent = call_app(
        app,
        http_scope("POST", "/v2/checkin", headers),
        [{"type": "http.request", "body": check}],
    )
    assert sent[0]["status"] == 200


def test_a_fault_in_the_role_still_leaves_its_log_line(
    backend: hemproto.Backend,
    device: hemproto.DeviceEmulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(body: object) -> hemproto.CheckinResult:
        raise RuntimeError("a bug")

    monkeypatch.setattr(backend, "process_async", broken)
    caplog.set_level(logging.INFO, logger="hemproto.http")
    headers = [(b"content-type", b"application/json")]
    body = json.dumps(device.challenge()).encode()
    with pytest.raises(RuntimeError):  # the server answers 500 and reports it
        call_app(
            backend_app(backend),
            http_scope("POST", "/checkin", headers),
            [{"type": "http.request", "body": body}],
        )
    (record,) = [record for record in caplog.records if record.name == "hemproto.http"]
    assert record.hemproto_http["status"] == 500  # type: ignore[attr-defined]


# --- a request log of one's own ----------------------------------------------------------------


class ListLog:
    """A request log that keeps its lines and counts its flushes."""

    def __init__(self) -> None:
        self.lines: list[RequestLine] = []
        self.flushes = 0

    def __call__(self, line: RequestLine) -> None:
        self.lines.append(line)

    def flush(self) -> None:
        self.flushes += 1


def test_a_request_log_of_ones_own_gets_each_line_instead_of_logging(
    backend: hemproto.Backend, device: hemproto.DeviceEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hemproto.http")
    request_log = ListLog()
    app = backend_app(backend, request_log=request_log)
    headers = [(b"content-type", b"application/json")]
    check = json.dumps(device.challenge()).encode()
    for body in (check, check, b"x" * (MAX_REQUEST_BODY + 1)):
        call_app(
            app, http_scope("POST", "/checkin", headers), [{"type": "http.request", "body": body}]
        )
    answered, replayed, oversized = request_log.lines
    assert answered[:6] == (200, "POST", "/checkin", CSN.hex(), "OK", None)
    assert replayed.status == 401 and replayed.csn == CSN.hex() and replayed.act is None
    assert replayed.reason is not None and replayed.reason.startswith("ReplayedNonce")
    assert oversized[:6] == (413, "POST", "/checkin", None, None, "request body over 7300 bytes")
    assert all(isinstance(line.ms, float) and line.ms >= 0 for line in request_log.lines)
    assert not [record for record in caplog.records if record.name == "hemproto.http"]
    assert request_log.flushes == 0


@pytest.mark.parametrize("make", ["backend", "device"])
def test_a_request_log_with_flush_is_flushed_at_lifespan_shutdown(
    make: str, backend: hemproto.Backend, device: hemproto.DeviceEmulator
) -> None:
    request_log = ListLog()
    app = (
        backend_app(backend, request_log=request_log)
        if make == "backend"
        else device_app(device, request_log=request_log)
    )
    lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}}
    call_app(app, lifespan, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    assert request_log.flushes == 1
    # A plain function has no flush: shutdown goes on without one.
    lines: list[RequestLine] = []
    plain = backend_app(backend, request_log=lines.append)
    sent = call_app(plain, lifespan, [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    assert sent[-1] == {"type": "lifespan.shutdown.complete"}


def test_the_device_logs_a_refusal_with_its_reason_to_its_request_log(
    device: hemproto.DeviceEmulator,
) -> None:
    request_log = ListLog()
    headers = [(b"content-length", str(MAX_REQUEST_BODY + 1).encode())]
    sent = call_app(
        device_app(device, request_log=request_log),
        http_scope("POST", "/api/system/checkin", headers),
        [{"type": "http.request", "body": b"{"}],
    )
    assert sent[0]["status"] == 413
    (line,) = request_log.lines
    assert line[:6] == (
        413,
        "POST",
        "/api/system/checkin",
        CSN.hex(),
        None,
        "request body over 7300 bytes",
    )


@pytest.mark.parametrize("request_log", [None, "log", 3])
def test_a_request_log_must_be_callable(
    request_log: object, backend: hemproto.Backend, device: hemproto.DeviceEmulator
) -> None:
    with pytest.raises(TypeError, match="request_log must be callable"):
        backend_app(backend, request_log=request_log)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="request_log must be callable"):
        device_app(device, request_log=request_log)  # type: ignore[arg-type]
