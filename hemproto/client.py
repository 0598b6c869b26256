"""The check-in over HTTP: the relay (relay.py) with httpx doing its three exchanges.

It owns the transport only: whom to trust over TLS, timeouts, a cap on answer sizes, and
which failures start the bounce again. The relay still parses the messages and checks that
the reply answers this challenge. Needs httpx: ``pip install 'hemproto[client]'``.

The bounce: ``GET {device}/api/system/checkin`` gives ``{"check": ...}``; those bytes are
POSTed unchanged to the backend; the backend's answer bytes are POSTed unchanged back to
``{device}/api/system/checkin``. No redirect is followed and nothing is decompressed.

Trusting the device
-------------------
A HEM serves HTTPS with a certificate of its own, self-signed until a check-in pushes one.
Exactly one of these may be chosen (more is a ValueError); with none, the device must chain
to the system trust store and match the URL's host name.

``device_ca``
    A PEM file of the CA (or the self-signed certificate itself): chain and host name are
    checked as for any HTTPS server, against that file only.
``device_pin``
    The SHA-256 of the device's certificate (DER), 64 hex digits, with or without colons
    between bytes, any case. The chain and the name are not checked: the pin names the one
    certificate that is accepted.
``insecure_device=True``
    No check at all (a warning is logged). Anyone on the path can then answer as the
    device; they still cannot forge the backend's MAC, but they learn what the device
    claims and can withhold the reply.

How the pin is checked, and why there. The pin must be checked on the certificate of the
connection that will carry the requests, and before any byte of a request is sent on it.
Looking at a response's ``network_stream`` extension is too late (the request has gone),
and a separate probe connection proves nothing about the next one. So the check lives in
the TLS handshake itself: the pinned ``ssl.SSLContext`` verifies no chain and no name, and
its ``sslsocket_class`` (used by httpx's sync transport through ``wrap_socket``) and
``sslobject_class`` (used by its async transport through ``wrap_bio``) are subclasses whose
``do_handshake`` compares ``getpeercert(binary_form=True)`` of that very connection with
the pin (``hmac.compare_digest``) as soon as the handshake completes, and raises
``ssl.SSLCertVerificationError`` otherwise. The handshake is then a failed connection
(httpx's ConnectError) that is closed without ever carrying a request. Those two attributes
are documented ``ssl`` API; no private httpx or httpcore attribute is touched. The pinned
context refuses TLS renegotiation, so the peer cannot change certificates after the check,
and accepts nothing older than TLS 1.2.

The backend is always verified: against the system trust store, or against ``backend_ca``
only (a private backend's CA). There is no switch to turn that off. Plain ``http://``
URLs use no TLS and refuse every TLS option.
``ssl.create_default_context()`` is built once per process and shared.

Timeouts
--------
``timeout`` is one number of seconds for each phase (connect, read, write, pool) or an
``httpx.Timeout`` with every phase set. Each phase bounds one wait; a step as a whole is also
held to the sum of the four while its answer's body arrives, so a peer that trickles bytes
cannot stretch it without end. Answers over 16384 bytes are refused unread.

Failures and retries
--------------------
A failed step starts the whole bounce again with a fresh GET (so a fresh challenge), up to
``attempts`` bounces in all, after ``retry_delay`` seconds doubling each time (capped at
30 s). A ``checked`` is never posted twice: each one is posted once, by the bounce that
fetched it, and httpx itself never resends a request. Whether a failure is retried:

- ``get_check`` and ``post_backend``: nothing has reached the device yet, so every failure
  that may pass is retried: network errors, timeouts, a broken connection, statuses 408,
  429, 500, 502, 503 and 504 (RETRYABLE_STATUSES), and an answer that is not the expected
  JSON or does not answer this challenge. Other statuses (400, 401, 403, 404, 413 and the
  rest) are refusals and are not retried: asking again gets the same answer. A backend that
  answered a check it never got back to us costs nothing: the next bounce has a new nonce.
- ``post_device``: retried only when no connection to the device could be made (connect
  error or timeout, pool timeout), which proves the reply never left this process. Once the
  request may have been sent (a write or read error, a read timeout, a dropped connection, a
  slow or bad answer, any status) the device may have acted on it: set its clock, locked,
  wiped, reported. A new bounce would ask the backend again and could repeat that order, so
  the failure is raised at once as it is, with ``possibly_delivered`` telling which case it
  was. The caller can read the device's state (``GET /api/system/status``) and decide.
- A TLS certificate that fails verification or the pin is never retried.

Errors: RelayNetworkError (a RelayError, ``status`` None, ``possibly_delivered``) when a
step got no answer; RelayError with ``status`` when a peer answered with another status
than 200; RelayError with status 200 or None when an answer broke the protocol. ``step`` is
the relay's: ``"get_check"``, ``"post_backend"`` or ``"post_device"``. Messages name the
step, the peer and the kind of failure; never a URL (it could carry credentials), a token
or a foreign exception's text, which stays in ``__cause__``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math
import os
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

from .bodies import MAX_BODY_LENGTH, request_object
from .errors import HemProtoError, RelayError, RelayNetworkError
from .relay import JsonBody, RelayOutcome, relay_checkin, relay_checkin_async
from .status import OK

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CHECKIN_PATH",
    "DEFAULT_BACKEND_URL",
    "RETRYABLE_STATUSES",
    "checkin",
    "checkin_async",
    "parse_pin",
]

DEFAULT_BACKEND_URL = "https://api.encedo.com/checkin"
CHECKIN_PATH = "/api/system/checkin"
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
"""Statuses from the device's GET or the backend that start a new bounce: a busy or
restarting server, a gateway that could not reach it, a replay store that failed closed."""

_StrPath: TypeAlias = "str | os.PathLike[str]"

_MAX_RETRY_DELAY = 30.0
_PEERS = {"get_check": "device", "post_backend": "backend", "post_device": "device"}
_HEX_DIGITS = frozenset("0123456789abcdef")
_EXTRA = "hemproto.client needs httpx: pip install 'hemproto[client]'"

log = logging.getLogger("hemproto.client")


def _require_httpx() -> None:
    try:
        import httpx  # noqa: F401
    except ImportError as exc:
        raise ImportError(_EXTRA, name=exc.name) from exc


# --- settings ----------------------------------------------------------------------------------


def parse_pin(text: str) -> bytes:
    """A certificate pin as its 32 bytes: 64 hex digits, any case, bare or as colon-separated
    pairs (``AB:CD:...``, the form certificate tools print). ValueError otherwise."""
    if not isinstance(text, str):
        raise TypeError(f"the pin must be a str, not {type(text).__name__}")
    digits = text.lower()
    if ":" in digits:
        pairs = digits.split(":")
        if any(len(pair) != 2 for pair in pairs):
            digits = ""  # refused below
        else:
            digits = "".join(pairs)
    if len(digits) != 64 or not _HEX_DIGITS.issuperset(digits):
        raise ValueError(
            "a pin is the certificate's SHA-256: 64 hex digits, optionally as AB:CD:... pairs"
        )
    return bytes.fromhex(digits)


def _url(url: object, name: str) -> tuple[str, str]:
    """The URL and its scheme; ValueError unless it is an absolute http(s) URL."""
    if not isinstance(url, str):
        raise TypeError(f"{name} must be a str, not {type(url).__name__}")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise ValueError(f"{name} has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{name} must be an absolute http:// or https:// URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{name} must not have a query or a fragment")
    return url, parts.scheme


def _checkin_url(device_url: str) -> str:
    # The device's base URL, or the endpoint itself: both name the same thing.
    base = device_url.rstrip("/")
    return base if base.endswith(CHECKIN_PATH) else base + CHECKIN_PATH


@functools.cache
def _system_context() -> ssl.SSLContext:
    # Loading the system store costs milliseconds; one shared context serves every thread.
    return ssl.create_default_context()


def _ca_context(path: _StrPath) -> ssl.SSLContext:
    # OSError (ssl.SSLError included) when the file cannot be read or holds no certificate.
    return ssl.create_default_context(cafile=os.fspath(path))


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class _PinMismatch(ssl.SSLCertVerificationError):
    """The peer's certificate is not the pinned one (an OSError, so every transport treats
    it as a failed handshake and closes the connection)."""

    def __init__(self) -> None:
        super().__init__(1, "the certificate does not match the pin")
        self.verify_message = "the certificate does not match the pin"


def _pinned_context(pin: bytes) -> ssl.SSLContext:
    """A context that accepts exactly the certificate whose SHA-256 is ``pin``, checked in
    the handshake of each connection (see the module docstring)."""

    def check(certificate: bytes | None) -> None:
        digest = b"" if certificate is None else hashlib.sha256(certificate).digest()
        if not hmac.compare_digest(digest, pin):
            raise _PinMismatch()

    class PinnedSSLSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            super().do_handshake(block)
            check(self.getpeercert(binary_form=True))

    class PinnedSSLObject(ssl.SSLObject):
        def do_handshake(self) -> None:
            super().do_handshake()  # raises SSLWantReadError until the handshake is done
            check(self.getpeercert(binary_form=True))

    context = _unverified_context()
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.sslsocket_class = PinnedSSLSocket
    context.sslobject_class = PinnedSSLObject
    return context


def _device_context(
    scheme: str, device_ca: _StrPath | None, device_pin: str | None, insecure_device: bool
) -> ssl.SSLContext:
    if type(insecure_device) is not bool:
        raise TypeError("insecure_device must be a bool")
    chosen = [
        name
        for name, given in (
            ("device_ca", device_ca is not None),
            ("device_pin", device_pin is not None),
            ("insecure_device", insecure_device),
        )
        if given
    ]
    if len(chosen) > 1:
        raise ValueError(f"{' and '.join(chosen)} exclude each other: choose one way")
    if scheme == "http":
        if chosen:
            raise ValueError(f"{chosen[0]} needs an https:// device URL")
        return _system_context()  # never used: plain HTTP makes no TLS connection
    if device_pin is not None:
        return _pinned_context(parse_pin(device_pin))
    if device_ca is not None:
        return _ca_context(device_ca)
    if insecure_device:
        log.warning("the device's TLS certificate is not verified (insecure_device)")
        return _unverified_context()
    return _system_context()


def _backend_context(scheme: str, backend_ca: _StrPath | None) -> ssl.SSLContext:
    if scheme == "http":
        if backend_ca is not None:
            raise ValueError("backend TLS options need an https:// backend URL")
        return _system_context()  # never used: plain HTTP makes no TLS connection
    if backend_ca is not None:
        return _ca_context(backend_ca)
    return _system_context()


def _timeout(timeout: object) -> tuple[httpx.Timeout, float]:
    """httpx's Timeout and the budget of a whole step (the sum of the phases)."""
    import httpx

    if isinstance(timeout, httpx.Timeout):
        phases = (timeout.connect, timeout.read, timeout.write, timeout.pool)
        if not all(type(value) in (int, float) for value in phases):
            raise ValueError("every phase of the httpx.Timeout must be set")
        values = [float(value) for value in phases if value is not None]
        result = timeout
    elif type(timeout) in (int, float):
        assert isinstance(timeout, (int, float))
        values = [float(timeout)] * 4
        result = httpx.Timeout(float(timeout))
    else:
        raise TypeError("timeout must be a number of seconds or an httpx.Timeout")
    if not all(math.isfinite(value) and value > 0 for value in values):
        raise ValueError("timeouts must be positive, finite numbers of seconds")
    return result, sum(values)


@dataclass(frozen=True, slots=True)
class _Plan:
    """One check-in's validated settings."""

    checkin_url: str
    backend_url: str
    device_tls: ssl.SSLContext
    backend_tls: ssl.SSLContext
    timeout: httpx.Timeout
    step_budget: float
    attempts: int
    retry_delay: float

    def delay(self, attempt: int) -> float:
        return min(self.retry_delay * 2.0 ** (attempt - 1), _MAX_RETRY_DELAY)

    def client_options(self, peer: str) -> dict[str, Any]:
        from . import __version__

        return {
            "verify": self.device_tls if peer == "device" else self.backend_tls,
            "timeout": self.timeout,
            "follow_redirects": False,
            # The device is reached directly: no proxy or .netrc from the environment. The
            # backend is on the internet, where a proxy from the environment may be needed.
            "trust_env": peer == "backend",
            "headers": {
                "User-Agent": f"hemproto/{__version__}",
                "Accept": "application/json",
                "Accept-Encoding": "identity",
            },
        }


def _plan(
    device_url: str,
    backend_url: str,
    device_ca: _StrPath | None,
    device_pin: str | None,
    insecure_device: bool,
    backend_ca: _StrPath | None,
    timeout: float | httpx.Timeout,
    attempts: int,
    retry_delay: float,
) -> _Plan:
    _require_httpx()
    device_url, device_scheme = _url(device_url, "device_url")
    backend_url, backend_scheme = _url(backend_url, "backend_url")
    if type(attempts) is not int or attempts < 1:
        raise ValueError("attempts must be an int of at least 1")
    if type(retry_delay) not in (int, float) or not (
        math.isfinite(retry_delay) and retry_delay >= 0
    ):
        raise ValueError("retry_delay must be a finite number of seconds, 0 or more")
    httpx_timeout, step_budget = _timeout(timeout)
    return _Plan(
        checkin_url=_checkin_url(device_url),
        backend_url=backend_url,
        device_tls=_device_context(device_scheme, device_ca, device_pin, insecure_device),
        backend_tls=_backend_context(backend_scheme, backend_ca),
        timeout=httpx_timeout,
        step_budget=step_budget,
        attempts=attempts,
        retry_delay=float(retry_delay),
    )


# --- one exchange ------------------------------------------------------------------------------


class _Body(dict[str, Any]):
    """A parsed answer that keeps its bytes, so the next step forwards them unchanged."""

    __slots__ = ("raw",)

    def __init__(self, parsed: Mapping[str, Any], raw: bytes) -> None:
        super().__init__(parsed)
        self.raw = raw


class _NoAnswer(Exception):
    """Internal: a step got no answer. Becomes a RelayNetworkError."""

    def __init__(self, message: str, *, possibly_delivered: bool, untrusted: bool) -> None:
        super().__init__(message)
        self.message = message
        self.possibly_delivered = possibly_delivered
        self.untrusted = untrusted


class _BadAnswer(Exception):
    """Internal: an answer that is not one acceptable JSON object. Becomes a RelayError."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _certificate_problem(exc: BaseException) -> str | None:
    """Why a TLS certificate was refused, if that is what ended this connection."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):
            # OpenSSL's verify message names the fault (self-signed, expired, host name);
            # it carries no secret.
            return str(getattr(current, "verify_message", None) or "certificate refused")
        current = current.__cause__ or current.__context__
    return None


def _no_answer(step: str, exc: Exception) -> _NoAnswer:
    import httpx

    # Only a connection that was never made proves that the request never left.
    never_sent = isinstance(
        exc,
        (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol),
    )
    problem = _certificate_problem(exc)
    name = type(exc).__name__
    if problem is not None:
        what = f"TLS certificate not accepted: {problem}"
    elif isinstance(exc, httpx.TimeoutException):
        what = f"timed out ({name})"
    elif never_sent:
        what = f"could not connect ({name})"
    else:
        what = f"the connection failed ({name})"
    return _NoAnswer(
        f"{step}: no answer from the {_PEERS[step]}: {what}",
        possibly_delivered=not never_sent,
        untrusted=problem is not None,
    )


def _request(step: str, url: str, body: JsonBody | None) -> tuple[str, str, dict[str, Any]]:
    if body is None:
        return "GET", url, {}
    # The previous answer's own bytes: forwarded verbatim, never re-serialised.
    raw = body.raw if isinstance(body, _Body) else _encode(body)
    return "POST", url, {"content": raw, "headers": {"Content-Type": "application/json"}}


def _encode(body: JsonBody) -> bytes:
    from ._json import dumps_compact

    return dumps_compact(body).encode("ascii")


def _check_headers(step: str, response: httpx.Response) -> None:
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        message = f"{step}: the {_PEERS[step]} answered with a compressed body ({encoding[:20]})"
        raise _BadAnswer(message, status=response.status_code)
    length = response.headers.get("Content-Length", "0").strip()
    if length.isdigit() and int(length) > MAX_BODY_LENGTH:
        message = f"{step}: the {_PEERS[step]}'s answer is over {MAX_BODY_LENGTH} bytes"
        raise _BadAnswer(message, status=response.status_code)


def _took_too_long(step: str, budget: float) -> _NoAnswer:
    return _NoAnswer(
        f"{step}: no answer from the {_PEERS[step]}: timed out (the answer took over {budget:g} s)",
        possibly_delivered=True,
        untrusted=False,
    )


def _add_chunk(step: str, received: bytearray, chunk: bytes, status: int) -> None:
    received += chunk
    if len(received) > MAX_BODY_LENGTH:
        message = f"{step}: the {_PEERS[step]}'s answer is over {MAX_BODY_LENGTH} bytes"
        raise _BadAnswer(message, status=status)


def _answer(step: str, status: int, raw: bytes) -> tuple[int, JsonBody]:
    try:
        parsed = request_object(raw, MAX_BODY_LENGTH)
    except HemProtoError as exc:
        message = f"{step}: the {_PEERS[step]}'s answer is not one JSON object ({exc})"
        raise _BadAnswer(message, status=status) from exc
    if step == "post_device":
        return status, dict(parsed)  # the outcome's device_response: a plain dict
    return status, _Body(parsed, raw)


def _exchange(
    client: httpx.Client, plan: _Plan, step: str, url: str, body: JsonBody | None = None
) -> tuple[int, JsonBody | None]:
    """One step over a sync client: ``(status, body)``; the body only with status 200."""
    import httpx

    deadline = time.monotonic() + plan.step_budget
    method, url, options = _request(step, url, body)
    received = bytearray()
    try:
        with client.stream(method, url, **options) as response:
            status = response.status_code
            if status != OK:
                return status, None  # error answers carry no body worth reading
            _check_headers(step, response)
            for chunk in response.iter_raw():
                _add_chunk(step, received, chunk, status)
                if time.monotonic() > deadline:
                    raise _took_too_long(step, plan.step_budget)
    except httpx.TransportError as exc:
        raise _no_answer(step, exc) from exc
    return _answer(step, status, bytes(received))


async def _exchange_async(
    client: httpx.AsyncClient, plan: _Plan, step: str, url: str, body: JsonBody | None = None
) -> tuple[int, JsonBody | None]:
    """_exchange over an async client."""
    import httpx

    deadline = time.monotonic() + plan.step_budget
    method, url, options = _request(step, url, body)
    received = bytearray()
    try:
        async with client.stream(method, url, **options) as response:
            status = response.status_code
            if status != OK:
                return status, None
            _check_headers(step, response)
            async for chunk in response.aiter_raw():
                _add_chunk(step, received, chunk, status)
                if time.monotonic() > deadline:
                    raise _took_too_long(step, plan.step_budget)
    except httpx.TransportError as exc:
        raise _no_answer(step, exc) from exc
    return _answer(step, status, bytes(received))


# --- one check-in: the bounce and its retries --------------------------------------------------


def _chained(error: RelayError, cause: BaseException | None) -> RelayError:
    error.__cause__ = cause
    error.__suppress_context__ = True
    return error


def _verdict(exc: RelayError) -> tuple[RelayError, bool]:
    """The error to raise for a failed bounce, and whether a new bounce may be started."""
    step, cause = exc.step, exc.__cause__
    device_reached = step == "post_device"
    if isinstance(cause, _NoAnswer):
        error: RelayError = RelayNetworkError(
            cause.message, step=step, possibly_delivered=cause.possibly_delivered
        )
        retry = not cause.untrusted and not (device_reached and cause.possibly_delivered)
        return _chained(error, cause.__cause__), retry
    if isinstance(cause, _BadAnswer):
        error = RelayError(cause.message, step=step, status=cause.status)
        return _chained(error, cause.__cause__), not device_reached
    if exc.status is not None and exc.status != OK:
        message = f"{step}: the {_PEERS[step]} answered with status {exc.status}"
        error = _chained(RelayError(message, step=step, status=exc.status), exc)
        return error, not device_reached and exc.status in RETRYABLE_STATUSES
    if cause is None or isinstance(cause, HemProtoError):
        # The relay's own verdict on a 200 answer: its shape, its claims, its binding.
        return exc, not device_reached
    return exc, False  # anything else raised inside a step is a fault here: not retried


def _failed(exc: RelayError, attempt: int, plan: _Plan) -> RelayError | None:
    """The error to raise now, or None to start a new bounce."""
    error, retry = _verdict(exc)
    if retry and attempt < plan.attempts:
        log.warning(
            "check-in attempt %d of %d failed, starting again with a fresh challenge: %s",
            attempt,
            plan.attempts,
            error,
        )
        return None
    error.add_note(f"check-in attempt {attempt} of {plan.attempts}")
    return error


def checkin(
    device_url: str,
    *,
    backend_url: str = DEFAULT_BACKEND_URL,
    device_ca: _StrPath | None = None,
    device_pin: str | None = None,
    insecure_device: bool = False,
    backend_ca: _StrPath | None = None,
    timeout: float | httpx.Timeout = 10.0,
    attempts: int = 3,
    retry_delay: float = 0.5,
) -> RelayOutcome:
    """Check a HEM in with its backend over HTTP(S): GET the check from ``device_url``,
    POST it to ``backend_url``, POST the reply back to the device; return the outcome.

    ``device_url`` is the device's base URL (``https://my.ence.do``) or its check-in
    endpoint. TLS, timeouts and retries are described in the module docstring. Raises
    ValueError or TypeError for bad settings (before any request), OSError for a CA file
    that cannot be loaded, ImportError without httpx, and RelayError (RelayNetworkError
    when a step got no answer) once the check-in has failed for good.
    """
    plan = _plan(
        device_url,
        backend_url,
        device_ca,
        device_pin,
        insecure_device,
        backend_ca,
        timeout,
        attempts,
        retry_delay,
    )
    import httpx

    with (
        httpx.Client(**plan.client_options("device")) as device,
        httpx.Client(**plan.client_options("backend")) as backend,
    ):

        def get_check() -> tuple[int, JsonBody | None]:
            return _exchange(device, plan, "get_check", plan.checkin_url)

        def post_backend(body: JsonBody) -> tuple[int, JsonBody | None]:
            return _exchange(backend, plan, "post_backend", plan.backend_url, body)

        def post_device(body: JsonBody) -> tuple[int, JsonBody | None]:
            return _exchange(device, plan, "post_device", plan.checkin_url, body)

        attempt = 1
        while True:
            try:
                return relay_checkin(get_check, post_backend, post_device)
            except RelayError as exc:
                error = _failed(exc, attempt, plan)
                if error is not None:
                    raise error from error.__cause__
            time.sleep(plan.delay(attempt))
            attempt += 1


async def checkin_async(
    device_url: str,
    *,
    backend_url: str = DEFAULT_BACKEND_URL,
    device_ca: _StrPath | None = None,
    device_pin: str | None = None,
    insecure_device: bool = False,
    backend_ca: _StrPath | None = None,
    timeout: float | httpx.Timeout = 10.0,
    attempts: int = 3,
    retry_delay: float = 0.5,
) -> RelayOutcome:
    """checkin with httpx's async client, under asyncio or trio. Cancellation propagates."""
    plan = _plan(
        device_url,
        backend_url,
        device_ca,
        device_pin,
        insecure_device,
        backend_ca,
        timeout,
        attempts,
        retry_delay,
    )
    import anyio
    import httpx

    async with (
        httpx.AsyncClient(**plan.client_options("device")) as device,
        httpx.AsyncClient(**plan.client_options("backend")) as backend,
    ):

        async def get_check() -> tuple[int, JsonBody | None]:
            return await _exchange_async(device, plan, "get_check", plan.checkin_url)

        async def post_backend(body: JsonBody) -> tuple[int, JsonBody | None]:
            return await _exchange_async(backend, plan, "post_backend", plan.backend_url, body)

        async def post_device(body: JsonBody) -> tuple[int, JsonBody | None]:
            return await _exchange_async(device, plan, "post_device", plan.checkin_url, body)

        attempt = 1
        while True:
            try:
                return await relay_checkin_async(get_check, post_backend, post_device)
            except RelayError as exc:
                error = _failed(exc, attempt, plan)
                if error is not None:
                    raise error from error.__cause__
            await anyio.sleep(plan.delay(attempt))
            attempt += 1
