"""HTTP endpoints for both roles as plain ASGI 3 applications: a backend's ``POST /checkin``
and an emulated device's ``/api/system/*``.

It owns the HTTP layer only: routing under a mount point, the body cap enforced while
reading, content types, statuses and one log line per request. Tokens, keys and decisions
stay in the roles it wraps. It imports only the standard library and hemproto, so any ASGI
server or framework can host it; it never logs or answers with key material.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeAlias

from . import _codec
from .backend import Backend
from .bodies import MAX_REQUEST_BODY
from .cbor import from_cbor, to_cbor
from .device import DeviceEmulator
from .errors import HemProtoError
from .status import (
    BAD_REQUEST,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    OK,
    SERVER_ERROR,
    TOO_LARGE,
    UNAVAILABLE,
    UNSUPPORTED_MEDIA_TYPE,
)
from .x25519 import key_bytes

__all__ = [
    "LOGGER_NAME",
    "ASGIApp",
    "JsonLogFormatter",
    "Receive",
    "RequestLine",
    "RequestLog",
    "Scope",
    "Send",
    "backend_app",
    "device_app",
    "log_request",
    "request_message",
]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

LOGGER_NAME = "hemproto.http"
log = logging.getLogger(LOGGER_NAME)

JSON = "application/json"
CBOR = "application/cbor"
HEALTH_PATH = "/healthz"
DEVICE_CHECKIN = "/api/system/checkin"
DEVICE_STATUS = "/api/system/status"
DEVICE_VERSION = "/api/system/version"
# Whatever a client put in a path or a refusal reason is cut to this in logs and bodies.
_MAX_FIELD = 200
# A Content-Length with more digits than this is over any cap; int() is never asked to
# read a number of thousands of digits.
_MAX_LENGTH_DIGITS = 18
# nginx's code for a client that went away before the answer; nothing is sent with it.
_CLIENT_GONE = 499
_STORAGE = ["7864320:rw", "62914560:-"]
_TEMPERATURE = 33
_FORMAT_STATE = "done"


class _Refusal(Exception):
    """An HTTP-level refusal raised while reading a request (not a hemproto error)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class _ClientGone(Exception):
    """The client disconnected before its request was read."""


@dataclass(slots=True)
class _Exchange:
    """One request as the log line reports it."""

    method: str
    path: str
    started: float
    status: int = 0
    csn: str | None = None
    act: str | None = None
    reason: str = ""
    # Set once the whole request body is read, or when there is none.
    body_read: bool = False


# --- small HTTP helpers -------------------------------------------------------------------


def _printable(text: str) -> str:
    """``text`` bounded and with control characters escaped: safe for a one-line log."""
    text = text[:_MAX_FIELD]
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else f"\\x{ord(char):02x}" for char in text)


def _route_path(scope: Scope) -> str:
    """The path below the mount point. Starlette's Mount and uvicorn's --root-path keep the
    full path and name the prefix in ``root_path``; older hosts strip the prefix instead."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        if len(path) == len(root):
            return "/"
        if path[len(root)] == "/":
            return path[len(root) :]
    return path


def _header_values(scope: Scope, name: bytes) -> list[bytes]:
    headers: Iterable[tuple[bytes, bytes]] = scope.get("headers", ())
    return [value for key, value in headers if key.lower() == name]


def _media_type(value: bytes) -> tuple[str, dict[str, str]] | None:
    """``type/subtype`` in lower case with its parameters, or None when it cannot be read."""
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        return None
    kind, *parameters = text.split(";")
    params: dict[str, str] = {}
    for parameter in parameters:
        name, equals, param_value = parameter.partition("=")
        if not equals:
            if parameter.strip():
                return None
            continue
        params[name.strip().lower()] = param_value.strip().strip('"').lower()
    return kind.strip().lower(), params


def _request_media(scope: Scope) -> str | None:
    """JSON or CBOR when the Content-Type is one the backend takes, else None (415)."""
    values = _header_values(scope, b"content-type")
    if len(values) != 1:
        return None
    parsed = _media_type(values[0])
    if parsed is None:
        return None
    kind, params = parsed
    if kind == JSON and set(params.items()) <= {("charset", "utf-8")}:
        return JSON
    if kind == CBOR and not params:
        return CBOR
    return None


def _wants_cbor(scope: Scope) -> bool:
    """True when Accept names application/cbor with a weight at least that of
    application/json; wildcards choose nothing (the answer then stays JSON)."""
    weights = {JSON: 0.0, CBOR: 0.0}
    for value in _header_values(scope, b"accept"):
        for item in value.split(b","):
            parsed = _media_type(item)
            if parsed is None or parsed[0] not in weights:
                continue
            try:
                weight = float(parsed[1].get("q", "1"))
            except ValueError:
                continue
            weights[parsed[0]] = max(weights[parsed[0]], weight)
    return weights[CBOR] > 0 and weights[CBOR] >= weights[JSON]


def _content_length(scope: Scope, limit: int) -> int | None:
    """The declared body length: None when absent, _Refusal 400 when unreadable or
    contradictory, _Refusal 413 when over ``limit`` (the body is then never read)."""
    values = {value.strip() for value in _header_values(scope, b"content-length")}
    if not values:
        return None
    if len(values) != 1:
        raise _Refusal(BAD_REQUEST, "conflicting Content-Length headers")
    text = values.pop()
    if not text or not text.isdigit() or not text.isascii():
        raise _Refusal(BAD_REQUEST, "invalid Content-Length")
    if len(text.lstrip(b"0")) > _MAX_LENGTH_DIGITS or int(text) > limit:
        raise _Refusal(TOO_LARGE, f"request body over {limit} bytes")
    return int(text)


def _has_body(scope: Scope) -> bool:
    lengths = _header_values(scope, b"content-length")
    if lengths and all(value.strip().lstrip(b"0") == b"" for value in lengths):
        return False
    return bool(lengths or _header_values(scope, b"transfer-encoding"))


async def _read_body(scope: Scope, receive: Receive, exchange: _Exchange, limit: int) -> bytes:
    """The request body, read only while it stays within ``limit`` bytes.

    A declared length over the limit is refused before anything is read; a body without
    one (chunked) is refused at the first piece that would take it past the limit, so no
    more than ``limit`` bytes are ever kept.
    """
    _content_length(scope, limit)
    body = bytearray()
    while True:
        message = await receive()
        kind = message.get("type")
        if kind == "http.disconnect":
            raise _ClientGone
        if kind != "http.request":
            continue
        piece: bytes = message.get("body", b"")
        if len(body) + len(piece) > limit:
            raise _Refusal(TOO_LARGE, f"request body over {limit} bytes")
        body += piece
        if not message.get("more_body", False):
            exchange.body_read = True
            return bytes(body)


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("ascii")


async def _respond(
    send: Send,
    exchange: _Exchange,
    scope: Scope,
    status: int,
    body: bytes = b"",
    content_type: str | None = None,
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    response_headers = [
        (b"content-length", str(len(body)).encode("ascii")),
        (b"cache-control", b"no-store"),
    ]
    if content_type is not None:
        response_headers.append((b"content-type", content_type.encode("ascii")))
    response_headers.extend(headers)
    if not exchange.body_read and _has_body(scope):
        # The rest of the body is left unread: the connection cannot carry another request,
        # and closing it stops a client that is still sending.
        response_headers.append((b"connection", b"close"))
    exchange.status = status
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _json_error(
    send: Send, exchange: _Exchange, scope: Scope, status: int, reason: str, **extra: bytes
) -> None:
    exchange.reason = _printable(reason)
    headers = [(name.encode("ascii"), value) for name, value in extra.items()]
    await _respond(
        send, exchange, scope, status, _json_bytes({"error": exchange.reason}), JSON, headers
    )


class RequestLine(NamedTuple):
    """What the log line of one request says: ``csn``, ``act`` and ``reason`` are None when
    unknown (``reason`` is set only for a refusal, bounded and printable); ``ms`` is the
    time spent in the app, in milliseconds."""

    status: int
    method: str
    path: str
    csn: str | None
    act: str | None
    reason: str | None
    ms: float


# Where an app puts the line of each request. One with a ``flush()`` method is flushed at
# lifespan shutdown, after the last request, so that a buffering writer loses no line.
RequestLog: TypeAlias = Callable[[RequestLine], None]


def request_message(line: RequestLine) -> str:
    """The text of a request's log line: ``200 POST /checkin csn=... act=OK 0.812 ms``."""
    words = [str(line.status), line.method, line.path]
    if line.csn is not None:
        words.append(f"csn={line.csn}")
    if line.act is not None:
        words.append(f"act={line.act}")
    if line.reason:
        words.append(f"reason={json.dumps(line.reason)}")
    words.append(f"{line.ms} ms")
    return " ".join(words)


def log_request(line: RequestLine) -> None:
    """The apps' default request log: one INFO record on the logger ``hemproto.http``, its
    fields also as a dict in ``record.hemproto_http`` (for JsonLogFormatter)."""
    if log.isEnabledFor(logging.INFO):
        log.info("%s", request_message(line), extra={"hemproto_http": line._asdict()})


def _log_exchange(exchange: _Exchange, request_log: RequestLog) -> None:
    milliseconds = round((time.perf_counter() - exchange.started) * 1000, 3)
    request_log(
        RequestLine(
            exchange.status,
            exchange.method,
            exchange.path,
            exchange.csn,
            exchange.act,
            exchange.reason or None,
            milliseconds,
        )
    )


class JsonLogFormatter(logging.Formatter):
    """Formats each record as one JSON object on one line: ``time`` (ISO 8601 UTC),
    ``level``, ``logger``, ``message``, and for a request logged by these apps its fields
    ``status method path csn act reason ms`` (null when unknown)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        entry: dict[str, Any] = {
            "time": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "hemproto_http", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"), default=str)


# --- what every app does outside HTTP -----------------------------------------------------


async def _lifespan(receive: Receive, send: Send, request_log: RequestLog) -> None:
    # Nothing else to open or close: the roles hold no connections of their own.
    while True:
        message = await receive()
        if message.get("type") == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message.get("type") == "lifespan.shutdown":
            flush = getattr(request_log, "flush", None)
            if callable(flush):
                flush()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _refuse_websocket(receive: Receive, send: Send) -> None:
    # Closing before accepting makes the server refuse the upgrade (HTTP 403).
    message = await receive()
    if message.get("type") == "websocket.connect":
        await send({"type": "websocket.close", "code": 1008})


async def _serve(
    handle: Callable[[Scope, Receive, Send, _Exchange], Awaitable[None]],
    scope: Scope,
    receive: Receive,
    send: Send,
    request_log: RequestLog,
) -> None:
    kind = scope.get("type")
    if kind == "lifespan":
        await _lifespan(receive, send, request_log)
        return
    if kind == "websocket":
        await _refuse_websocket(receive, send)
        return
    if kind != "http":
        return
    exchange = _Exchange(
        method=_printable(str(scope.get("method", ""))),
        path=_printable(str(scope.get("path", ""))),
        started=time.perf_counter(),
    )
    try:
        await handle(scope, receive, send, exchange)
    except _ClientGone:
        exchange.status, exchange.reason = _CLIENT_GONE, "client disconnected"
    except asyncio.CancelledError:  # the server is stopping, or gave up on the client
        exchange.status = exchange.status or _CLIENT_GONE
        exchange.reason = exchange.reason or "cancelled"
        raise
    except Exception:
        # The server answers 500 and reports the exception; the line still says what came in.
        exchange.status = exchange.status or SERVER_ERROR
        raise
    finally:
        _log_exchange(exchange, request_log)


def _check_request_log(request_log: object) -> None:
    if not callable(request_log):
        raise TypeError(f"request_log must be callable, not {type(request_log).__name__}")


# --- the backend ----------------------------------------------------------------------------


def backend_app(
    backend: Backend, *, path: str = "/checkin", request_log: RequestLog = log_request
) -> ASGIApp:
    """An ASGI 3 app serving ``backend``: ``POST path`` and ``GET /healthz``.

    ``POST path`` takes ``application/json`` (optionally ``; charset=utf-8``) holding
    ``{"check": token}``, or ``application/cbor`` holding the check's CBOR envelope
    (``to_cbor``), and answers 200 with ``{"checked": token}`` (in CBOR, the reply's
    envelope, when the request was CBOR and its Accept asks for ``application/cbor``).
    Refusals: 400 malformed (also an unreadable Content-Length), 401 not verifiable or
    replayed, 405 another method (with Allow), 413 over 7300 bytes (a declared length is
    refused before the body is read), 415 another content type, 503 replay store down; each
    with a small JSON body ``{"error": reason}`` that carries no secret. ``GET /healthz``
    answers 200 ``{"status":"ok"}`` when the replay store answers, else 503. Paths are taken
    below the mount point (``root_path``), so the app can be mounted under any prefix.
    Each request ends in one call of ``request_log`` (default: ``log_request``, a record on
    the logger ``hemproto.http``).
    """
    if not isinstance(backend, Backend):
        raise TypeError(f"backend must be a Backend, not {type(backend).__name__}")
    _check_request_log(request_log)
    if not path.startswith("/") or path == HEALTH_PATH:
        raise ValueError(f"path must start with '/' and differ from {HEALTH_PATH}")

    async def handle(scope: Scope, receive: Receive, send: Send, exchange: _Exchange) -> None:
        route = _route_path(scope)
        method = scope.get("method")
        if route == path:
            if method != "POST":
                await _json_error(
                    send, exchange, scope, METHOD_NOT_ALLOWED, "method not allowed", allow=b"POST"
                )
                return
            await _checkin(backend, scope, receive, send, exchange)
        elif route == HEALTH_PATH:
            if method != "GET":
                await _json_error(
                    send, exchange, scope, METHOD_NOT_ALLOWED, "method not allowed", allow=b"GET"
                )
                return
            await _health(backend, scope, send, exchange)
        else:
            await _json_error(send, exchange, scope, NOT_FOUND, "not found")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _serve(handle, scope, receive, send, request_log)

    return app


async def _checkin(
    backend: Backend, scope: Scope, receive: Receive, send: Send, exchange: _Exchange
) -> None:
    media = _request_media(scope)
    if media is None:
        reason = f"Content-Type must be {JSON} or {CBOR}"
        await _json_error(send, exchange, scope, UNSUPPORTED_MEDIA_TYPE, reason)
        return
    try:
        body = await _read_body(scope, receive, exchange, MAX_REQUEST_BODY)
    except _Refusal as refusal:
        await _json_error(send, exchange, scope, refusal.status, refusal.reason)
        return
    request: object = body
    if media == CBOR:
        try:
            request = {"check": from_cbor(body)}
        except HemProtoError as exc:
            await _json_error(send, exchange, scope, BAD_REQUEST, f"{type(exc).__name__}: {exc}")
            return
    result = await backend.process_async(request)
    if result.challenge is not None:
        exchange.csn = result.challenge.csn.hex()
    if result.status != OK or result.body is None:
        await _json_error(send, exchange, scope, result.status, result.reason or "refused")
        return
    if result.decision is not None:
        exchange.act = result.decision.act
    if media == CBOR and _wants_cbor(scope):
        await _respond(send, exchange, scope, OK, to_cbor(result.body["checked"]), CBOR)
    else:
        await _respond(send, exchange, scope, OK, _json_bytes(result.body), JSON)


async def _health(backend: Backend, scope: Scope, send: Send, exchange: _Exchange) -> None:
    try:
        await backend.ping_async()
    except Exception as exc:  # any failure to answer means: do not route check-ins here
        await _respond(
            send, exchange, scope, UNAVAILABLE, _json_bytes({"status": "unavailable"}), JSON
        )
        exchange.reason = _printable(f"{type(exc).__name__}")
        return
    await _respond(send, exchange, scope, OK, _json_bytes({"status": "ok"}), JSON)


# --- the emulated device --------------------------------------------------------------------


def _vendor_string(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or not value.isprintable():
        raise ValueError(f"{name} must be a non-empty printable string")
    return value


def _iso8601(seconds: int) -> str | None:
    try:
        stamp = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _host_name(scope: Scope) -> str | None:
    values = _header_values(scope, b"host")
    if len(values) != 1:
        return None
    host = values[0].decode("latin-1").strip().lower()
    if host.startswith("["):  # [v6]:port
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if ":" in host else host


def device_app(
    emulator: DeviceEmulator,
    *,
    hwv: str = "PPA (hemproto emulator)",
    fwv: str = "hemproto-emulator 1.0.0",
    blv: str = "hemproto-emulator bootloader 1.0.0",
    fwk: bytes = bytes(32),
    blk: bytes = bytes(32),
    hostname: str = "my.ence.do",
    https: bool = False,
    initialised: bool = True,
    request_log: RequestLog = log_request,
) -> ASGIApp:
    """An ASGI 3 app that answers as a HEM would, backed by ``emulator``.

    ``GET /api/system/checkin`` gives ``{"check": ...}``; ``POST /api/system/checkin`` gives
    the emulator's answer, 200 with JSON or an error status with an empty body (413 over
    7300 bytes, refused before reading when the length is declared). ``GET
    /api/system/status`` and ``GET /api/system/version`` carry the vendor's field names
    and formats. ``hwv`` must contain ``PPA`` or ``EPA`` (the form factor: a PPA reports
    ``storage`` and may have a dashboard, an EPA has none); ``fwk`` and ``blk`` are the
    32-byte signing public keys shown in version; ``hostname`` is the configured name
    (status shows it when the request's Host differs); ``https`` is what status tells a
    plain-HTTP client about HTTPS; ``initialised`` False adds ``inited: false`` to
    status. Once the emulator is soft-bricked every request gets 503 with an empty body.
    Each request ends in one call of ``request_log``, as for ``backend_app``.
    """
    if not isinstance(emulator, DeviceEmulator):
        raise TypeError(f"emulator must be a DeviceEmulator, not {type(emulator).__name__}")
    _check_request_log(request_log)
    hwv = _vendor_string("hwv", hwv)
    if "PPA" not in hwv and "EPA" not in hwv:
        raise ValueError("hwv must contain PPA or EPA (the form factor)")
    ppa = "PPA" in hwv
    if not ppa and emulator.uis is not None:
        raise ValueError("an EPA has no dashboard: make the emulator with uis=None")
    version: dict[str, str] = {
        "hwv": hwv,
        "fwv": _vendor_string("fwv", fwv),
        "fwk": _codec.b64_encode(key_bytes(fwk, "fwk")),
        "fws": _codec.b64_encode(emulator.fws),
        "blv": _vendor_string("blv", blv),
        "blk": _codec.b64_encode(key_bytes(blk, "blk")),
        "bls": _codec.b64_encode(emulator.bls),
    }
    if emulator.uis is not None:
        version["uis"] = _codec.b64_encode(emulator.uis)
    version_body = _json_bytes(version)
    configured_host = _vendor_string("hostname", hostname).lower()
    for name, flag in (("https", https), ("initialised", initialised)):
        if type(flag) is not bool:
            raise TypeError(f"{name} must be a bool, not {type(flag).__name__}")
    csn = emulator.csn.hex()
    routes = {
        DEVICE_CHECKIN: (b"GET, POST", ("GET", "POST")),
        DEVICE_STATUS: (b"GET", ("GET",)),
        DEVICE_VERSION: (b"GET", ("GET",)),
    }

    def status(scope: Scope) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ctx": 0,
            "fls_state": emulator.fls_state,
            "uptime": emulator.uptime,
            "temp": _TEMPERATURE,
        }
        now = emulator.now()
        stamp = None if now is None else _iso8601(now)
        if stamp is not None:
            body["ts"] = stamp
            body["time"] = now
        if not emulator.trusted_ts:
            body["tts"] = False
        if ppa:
            body["storage"] = list(_STORAGE)
        if not initialised:
            body["inited"] = False
            if ppa:
                body["format"] = _FORMAT_STATE
        if _host_name(scope) != configured_host:
            body["hostname"] = hostname
        if scope.get("scheme") == "http":
            body["https"] = https
        return body

    async def handle(scope: Scope, receive: Receive, send: Send, exchange: _Exchange) -> None:
        exchange.csn = csn
        if not emulator.serving:
            # Soft-bricked: the real web servers are stopped; 503 is the nearest HTTP word.
            await _respond(send, exchange, scope, UNAVAILABLE)
            return
        route = _route_path(scope)
        method = scope.get("method")
        if route not in routes:
            await _respond(send, exchange, scope, NOT_FOUND)
            return
        allow, methods = routes[route]
        if method not in methods:
            await _respond(send, exchange, scope, METHOD_NOT_ALLOWED, headers=[(b"allow", allow)])
            return
        if route == DEVICE_VERSION:
            await _respond(send, exchange, scope, OK, version_body, JSON)
        elif route == DEVICE_STATUS:
            await _respond(send, exchange, scope, OK, _json_bytes(status(scope)), JSON)
        elif method == "GET":
            await _challenge(emulator, scope, send, exchange)
        else:
            await _device_checkin(emulator, scope, receive, send, exchange)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _serve(handle, scope, receive, send, request_log)

    return app


async def _challenge(
    emulator: DeviceEmulator, scope: Scope, send: Send, exchange: _Exchange
) -> None:
    try:
        body = emulator.challenge()
    except HemProtoError:  # soft-bricked between the check above and now
        await _respond(send, exchange, scope, UNAVAILABLE)
        return
    await _respond(send, exchange, scope, OK, _json_bytes(body), JSON)


async def _device_checkin(
    emulator: DeviceEmulator, scope: Scope, receive: Receive, send: Send, exchange: _Exchange
) -> None:
    try:
        body = await _read_body(scope, receive, exchange, MAX_REQUEST_BODY)
    except _Refusal as refusal:
        exchange.reason = refusal.reason
        await _respond(send, exchange, scope, refusal.status)
        return
    status, answer = emulator.handle(body)
    if status != OK or answer is None:
        await _respond(send, exchange, scope, status)
        return
    exchange.act = answer.get("status")
    await _respond(send, exchange, scope, OK, _json_bytes(answer), JSON)
