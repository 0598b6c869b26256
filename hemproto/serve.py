"""``hemproto serve backend`` and ``hemproto serve device``: the apps of hemproto.asgi under
uvicorn (the optional extra ``server``).

It owns the options, building a Backend or an emulator from files, the listening socket,
logging (the request lines through a batched writer, everything else through logging) and
a clean stop on SIGINT or SIGTERM. uvicorn is imported only when a command runs, so the
rest of the command line works without it; no key material is ever printed.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any, ClassVar, TextIO

from . import _codec
from .asgi import LOGGER_NAME, ASGIApp, RequestLine, backend_app, device_app, request_message
from .backend import Backend
from .cli import UsageError
from .device import DeviceEmulator
from .errors import HemProtoError
from .releases import ReleaseFileWatcher, ReleaseRegistry
from .replay import MemoryReplayStore, ReplayStore
from .schema import CHECK_SIZES, MAX_CERTIFICATE_SIZE
from .x25519 import KeyPair, read_public_key

__all__ = ["CONFIG_ENV", "add_serve_parser", "cmd_serve_backend", "cmd_serve_device", "main"]

# Where the parent hands a worker process its configuration: file paths and names, never a
# key (each worker reads the key files itself).
CONFIG_ENV = "HEMPROTO_SERVE_CONFIG"
REDIS_PASSWORD_ENV = "HEMPROTO_REDIS_PASSWORD"  # noqa: S105 - the variable's name, not a password
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
BACKEND_PORT = 8080
DEVICE_PORT, DEVICE_TLS_PORT = 8081, 8443
RELEASE_POLL_SECONDS = 1.0
_LISTEN_BACKLOG = 2048
_IDENTITY_SIZES = {name: CHECK_SIZES[name] for name in ("qid", "fws", "bls", "uis", "csn")}
# The request lines are written in one call once this many characters are pending, and
# at least this often otherwise.
REQUEST_LOG_BATCH = 64 * 1024
REQUEST_LOG_INTERVAL = 0.25
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger("hemproto.serve")


@dataclass(frozen=True, slots=True)
class _BackendConfig:
    keys: tuple[str, ...]
    releases: str | None
    replay: str
    # (device certificate serial in hex, path of the DER file) for each --certificate.
    certificates: tuple[tuple[str, str], ...] = ()
    log_format: str = "text"

    def to_json(self) -> str:
        return json.dumps(
            {
                "keys": self.keys,
                "releases": self.releases,
                "replay": self.replay,
                "certificates": self.certificates,
                "log_format": self.log_format,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> _BackendConfig:
        data = json.loads(text)
        certificates = tuple((serial, path) for serial, path in data.get("certificates", ()))
        log_format = data.get("log_format", "text")
        return cls(tuple(data["keys"]), data["releases"], data["replay"], certificates, log_format)


class _Stopped(Exception):
    """SIGINT or SIGTERM arrived: the server has shut down (or never started)."""


# --- building the roles ---------------------------------------------------------------------


def _replay_store(url: str) -> ReplayStore:
    """The replay store named on the command line: ``memory`` is the in-process store;
    ``redis://`` or ``rediss://`` a Redis that every process shares (hemproto.redis_store),
    its password in the URL or, kept off the command line, in HEMPROTO_REDIS_PASSWORD."""
    if url == "memory":
        return MemoryReplayStore()
    if url.startswith(("redis://", "rediss://")):
        try:
            from .redis_store import RedisReplayStore
        except ImportError as exc:
            raise UsageError(str(exc)) from None
        try:
            password = os.environ.get(REDIS_PASSWORD_ENV) or None
            return RedisReplayStore.from_url(url, password=password)
        except ValueError as exc:  # fixed text: never the URL, which may hold a password
            raise UsageError(f"--replay: {exc}") from None
    # Not the URL itself: a mistyped scheme may still carry a password.
    raise UsageError("unknown replay store (supported: memory, redis://..., rediss://...)")


def _watch_releases(watcher: ReleaseFileWatcher) -> None:
    """Poll the release file from a daemon thread, so that the event loop never waits on
    the file system; the watcher's on_change installs each new registry."""

    def watch() -> None:
        pause = threading.Event()  # never set: its wait() is an interruptible sleep
        while not pause.wait(RELEASE_POLL_SECONDS):
            try:
                watcher.poll()
            except Exception:  # a fault in one poll must not end the watching
                log.exception("release file watcher failed")

    threading.Thread(target=watch, name="hemproto-release-watcher", daemon=True).start()


def _certificate_option(value: str) -> tuple[str, str]:
    """``--certificate CSN_HEX=FILE`` as (serial in lower-case hex, absolute path)."""
    serial, separator, path = value.partition("=")
    serial = serial.strip().lower()
    if not separator or not path:
        raise UsageError("--certificate takes CSN_HEX=FILE")
    size = CHECK_SIZES["csn"]
    if len(serial) != 2 * size or not all(digit in "0123456789abcdef" for digit in serial):
        raise UsageError(
            f"--certificate: the serial (csn) must be {size} bytes as {2 * size} hex digits"
        )
    return serial, os.path.abspath(path)


def _read_certificates(entries: Sequence[tuple[str, str]]) -> dict[bytes, bytes]:
    """The certificates to push, by device serial, read and sized here so that a bad file
    stops the command at start rather than failing a device's check-in later."""
    certificates: dict[bytes, bytes] = {}
    for serial, path in entries:
        shown = f"--certificate {serial}={path}"
        try:
            with open(path, "rb") as handle:
                der = handle.read(MAX_CERTIFICATE_SIZE + 1)  # never more than one byte over
        except OSError as exc:
            raise UsageError(f"{shown}: cannot read: {exc.strerror or exc}") from None
        if not der:
            raise UsageError(f"{shown}: the file is empty")
        if der.startswith(b"-----BEGIN"):
            raise UsageError(f"{shown}: PEM, not DER (openssl x509 -outform DER converts it)")
        if len(der) > MAX_CERTIFICATE_SIZE:
            raise UsageError(f"{shown}: over {MAX_CERTIFICATE_SIZE} bytes, too large to push")
        raw_serial = bytes.fromhex(serial)
        if raw_serial in certificates:
            raise UsageError(f"--certificate: serial {serial} is given twice")
        certificates[raw_serial] = der
    return certificates


def _build_backend(config: _BackendConfig) -> Backend:
    keys = [KeyPair.from_file(path) for path in config.keys]
    replay = _replay_store(config.replay)
    certificates = _read_certificates(config.certificates)
    if config.releases is None:
        return Backend(keys, replay=replay, certificates=certificates)
    backend: Backend | None = None

    def install(registry: ReleaseRegistry) -> None:
        if backend is not None:
            backend.releases = registry  # one reference swap: a check-in sees old or new

    watcher = ReleaseFileWatcher(config.releases, interval=RELEASE_POLL_SECONDS, on_change=install)
    backend = Backend(keys, releases=watcher.registry, replay=replay, certificates=certificates)
    _watch_releases(watcher)
    return backend


def _backend_factory() -> ASGIApp:
    """The app of one worker process of ``serve backend --workers N``: uvicorn calls it in
    each worker, which builds its own Backend from the configuration in CONFIG_ENV."""
    text = os.environ.get(CONFIG_ENV)
    if text is None:
        raise RuntimeError(f"{CONFIG_ENV} is not set: start workers with hemproto serve backend")
    config = _BackendConfig.from_json(text)
    # The worker is ended by its signal right after the lifespan shutdown, which flushes
    # the writer: nothing is left to write at exit.
    return backend_app(_build_backend(config), request_log=_RequestLineWriter(config.log_format))


def _identity(value: str | None, name: str) -> bytes | None:
    if value is None:
        return None
    try:
        raw = _codec.b64_decode(value.strip())
    except HemProtoError:
        raw = b""
    if len(raw) != _IDENTITY_SIZES[name]:
        raise UsageError(f"--{name} must be {_IDENTITY_SIZES[name]} bytes in standard base64")
    return raw


# --- running uvicorn ------------------------------------------------------------------------


def _uvicorn() -> Any:
    try:
        import uvicorn
    except ModuleNotFoundError:
        raise UsageError("serving needs uvicorn: pip install 'hemproto[server]'") from None
    return uvicorn


# --- logging ------------------------------------------------------------------------------


class _RequestLineWriter:
    """The request log of ``hemproto serve``: each line formatted here exactly as the
    formatter of _log_config would format the record of ``asgi.log_request``, without
    making one, and kept in a buffer written to ``stream`` in one call once
    REQUEST_LOG_BATCH characters are pending, at least every REQUEST_LOG_INTERVAL seconds
    (a timer thread, started with the first line), before any other log line, at the app's
    lifespan shutdown and on close. A write that fails drops its batch, as a logging
    handler would drop its line: the server never stops for its log."""

    def __init__(
        self,
        log_format: str,
        stream: TextIO | None = None,
        *,
        batch: int = REQUEST_LOG_BATCH,
        interval: float = REQUEST_LOG_INTERVAL,
    ) -> None:
        if log_format not in ("text", "json"):
            raise ValueError("log_format must be text or json")
        self._stream = sys.stderr if stream is None else stream
        self._batch = batch
        self._interval = interval
        self._format = self._json_line if log_format == "json" else self._text_line
        self._level = logging.getLevelName(logging.INFO)
        self._text_tail = f" {self._level} {LOGGER_NAME}: "
        self._encoder = json.JSONEncoder(separators=(",", ":"), default=str)
        # (whole seconds, their text): read and replaced as one object, so that a line
        # formatted in another thread never pairs one second with another's text.
        self._second: tuple[int, str] = (-1, "")
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._size = 0
        self._timer: threading.Thread | None = None
        self._closed = threading.Event()
        _RequestLineWriter.current = self

    # The writer of this process, flushed before any other line goes to standard error so
    # that the lines stay in the order they were logged.
    current: ClassVar[_RequestLineWriter | None] = None

    def __call__(self, line: RequestLine) -> None:
        text = self._format(line, time.time())
        with self._lock:
            self._pending.append(text)
            self._size += len(text)
            if self._size >= self._batch:
                self._write_pending()
            elif self._timer is None and not self._closed.is_set():
                self._timer = threading.Thread(
                    target=self._flush_periodically, name="hemproto-request-log", daemon=True
                )
                self._timer.start()

    def flush(self) -> None:
        with self._lock:
            self._write_pending()

    def close(self) -> None:
        """Stop the timer and write what is pending; later lines are written at once."""
        self._closed.set()
        with self._lock:
            timer, self._timer = self._timer, None
            self._batch = 0
            self._write_pending()
        if timer is not None and timer is not threading.current_thread():
            timer.join()
        if _RequestLineWriter.current is self:
            _RequestLineWriter.current = None

    def _flush_periodically(self) -> None:
        while not self._closed.wait(self._interval):
            self.flush()

    def _write_pending(self) -> None:
        # Called with the lock held.
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._size = 0
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stream: the batch is lost
            pass

    def _text_line(self, line: RequestLine, created: float) -> str:
        # logging.Formatter's default asctime: local time, then ",%03d" of record.msecs.
        seconds = int(created)
        second = self._second
        if second[0] != seconds:
            second = (seconds, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)))
            self._second = second
        milliseconds = int((created - seconds) * 1000)
        return f"{second[1]},{milliseconds:03d}{self._text_tail}{request_message(line)}\n"

    def _json_line(self, line: RequestLine, created: float) -> str:
        # JsonLogFormatter's time: datetime.fromtimestamp rounds to the nearest microsecond
        # (half to even), which can carry into the next second.
        seconds = int(created)
        micro = round((created - seconds) * 1e6)
        if micro >= 1_000_000:
            seconds, micro = seconds + 1, micro - 1_000_000
        second = self._second
        if second[0] != seconds:
            stamp = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
            second = (seconds, stamp.replace(tzinfo=None).isoformat(timespec="seconds"))
            self._second = second
        entry = {
            "time": f"{second[1]}.{micro // 1000:03d}Z",
            "level": self._level,
            "logger": LOGGER_NAME,
            "message": request_message(line),
            "status": line.status,
            "method": line.method,
            "path": line.path,
            "csn": line.csn,
            "act": line.act,
            "reason": line.reason,
            "ms": line.ms,
        }
        return self._encoder.encode(entry) + "\n"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler of every other log line: it first writes the request lines pending, so
    that standard error keeps the order in which lines were logged."""

    def emit(self, record: logging.LogRecord) -> None:
        writer = _RequestLineWriter.current
        if writer is not None:
            writer.flush()
        super().emit(record)


def _log_config(log_format: str) -> dict[str, Any]:
    formatter: dict[str, Any] = (
        {"()": "hemproto.asgi.JsonLogFormatter"}
        if log_format == "json"
        else {"format": _TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"hemproto": formatter},
        "handlers": {
            "stderr": {
                "class": "hemproto.serve._StderrHandler",
                "formatter": "hemproto",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "hemproto": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            # hemproto.http already writes one line per request, refusals included.
            "hemproto.backend": {"level": "WARNING"},
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that port 0 gets a free port we can print."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        # asyncio sets TCP_NODELAY only on sockets that name their protocol; without it
        # each answer (head and body written apart) waits for the client's delayed ACK.
        sock = socket.socket(family, kind, proto or socket.IPPROTO_TCP)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(_LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)  # worker processes serve the same socket
    return sock


def _url(scheme: str, sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def _check_tls(certificate: str | None, key: str | None) -> None:
    if (certificate is None) != (key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if certificate is None or key is None:
        return
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certificate, key)
    except (OSError, ssl.SSLError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise UsageError(f"cannot load the TLS certificate and key: {detail}") from None


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM end the command with status 0. uvicorn puts its own handlers in
    place while it serves and, after a graceful shutdown, raises the signal again for the
    handlers it found: these, which turn it into _Stopped."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stopped

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(
    config: Any, sock: socket.socket, workers: int, writer: _RequestLineWriter | None = None
) -> None:
    """Run uvicorn until SIGINT or SIGTERM; ``writer``, the request log of a single-process
    server, is closed after it (each worker flushes its own at its lifespan shutdown)."""
    uvicorn = _uvicorn()
    with _stop_on_signals():
        try:
            server = uvicorn.Server(config)
            if workers > 1:
                from uvicorn.supervisors import Multiprocess

                # Older uvicorn releases also hand the supervisor the function each worker runs.
                parameters = inspect.signature(Multiprocess).parameters
                extra: dict[str, Any] = {"target": server.run} if "target" in parameters else {}
                Multiprocess(config, sockets=[sock], **extra).run()
            else:
                server.run(sockets=[sock])
        finally:
            if writer is not None:
                writer.close()


# --- the commands ---------------------------------------------------------------------------


def cmd_serve_backend(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    uvicorn = _uvicorn()
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    config = _BackendConfig(
        keys=tuple(os.path.abspath(path) for path in args.key),
        releases=None if args.releases is None else os.path.abspath(args.releases),
        replay=args.replay,
        certificates=tuple(_certificate_option(value) for value in args.certificate),
        log_format=args.log_format,
    )
    # Built here even with workers, so that a bad key or release file stops the command
    # with its message before any process starts.
    backend = _build_backend(config)
    if args.workers > 1 and isinstance(backend.replay, MemoryReplayStore):
        sys.stderr.write(
            "hemproto: warning: each worker keeps its own in-memory replay store; a check "
            "replayed to another worker is answered again (the device still refuses it)\n"
        )
    options: dict[str, Any] = {
        "log_config": _log_config(args.log_format),
        "access_log": False,
        "lifespan": "on",
    }
    writer: _RequestLineWriter | None = None
    if args.workers > 1:
        os.environ[CONFIG_ENV] = config.to_json()
        uvicorn_config = uvicorn.Config(
            "hemproto.serve:_backend_factory", factory=True, workers=args.workers, **options
        )
    else:
        writer = _RequestLineWriter(args.log_format)
        uvicorn_config = uvicorn.Config(backend_app(backend, request_log=writer), **options)
    sock = _bind(args.host, args.port)
    for public in backend.public_keys:
        out.write(f"backend public key: {_codec.b64_encode(public)}\n")
    for serial, der in backend.certificates.items():
        out.write(f"certificate for csn {serial.hex()}: {len(der)} bytes of DER\n")
    out.write(
        f"hemproto serve backend: listening on {_url('http', sock)} "
        f"(POST /checkin, GET /healthz; {args.workers} worker(s))\n"
    )
    out.flush()
    try:
        _serve(uvicorn_config, sock, args.workers, writer)
    finally:
        sock.close()
    out.write("hemproto serve backend: stopped\n")
    return EXIT_OK


def cmd_serve_device(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    uvicorn = _uvicorn()
    _check_tls(args.tls_cert, args.tls_key)
    uis = None if args.uis is not None and args.uis.strip().lower() == "none" else args.uis
    emulator = DeviceEmulator(
        backend_public_key=read_public_key(args.backend_public),
        qid=_identity(args.qid, "qid"),
        fws=_identity(args.fws, "fws"),
        bls=_identity(args.bls, "bls"),
        # A PPA comes with its dashboard unless told otherwise.
        uis=os.urandom(CHECK_SIZES["uis"]) if args.uis is None else _identity(uis, "uis"),
        csn=_identity(args.csn, "csn"),
        trusted_backend=not args.untrusted_backend,
        trusted_ts=not args.untrusted_ts,
    )
    tls = args.tls_cert is not None
    port = args.port if args.port is not None else (DEVICE_TLS_PORT if tls else DEVICE_PORT)
    writer = _RequestLineWriter(args.log_format)
    uvicorn_config = uvicorn.Config(
        device_app(emulator, request_log=writer),
        log_config=_log_config(args.log_format),
        access_log=False,
        lifespan="on",
        ssl_certfile=args.tls_cert,
        ssl_keyfile=args.tls_key,
    )
    sock = _bind(args.host, port)
    out.write(
        f"device csn {emulator.csn.hex()}, qid {emulator.qid.hex()}, trusting backend key "
        f"{_codec.b64_encode(emulator.backend_public_key)}\n"
    )
    out.write(
        f"hemproto serve device: listening on {_url('https' if tls else 'http', sock)} "
        "(/api/system/checkin, /api/system/status, /api/system/version)\n"
    )
    out.flush()
    try:
        _serve(uvicorn_config, sock, 1, writer)
    finally:
        sock.close()
    out.write("hemproto serve device: stopped\n")
    return EXIT_OK


def add_serve_parser(subparsers: Any) -> None:
    """Register ``serve backend`` and ``serve device`` on the command line's subparsers.

    Each command's handler is set as both ``run`` and ``func``: ``(args, out, stdin) -> int``.
    """
    serve = subparsers.add_parser("serve", help="serve a backend or an emulated device over HTTP")
    serve.set_defaults(run=None, func=None, usage_of=serve)
    commands = serve.add_subparsers(dest="serve_command", parser_class=type(serve))

    backend = commands.add_parser("backend", help="POST /checkin and GET /healthz")
    backend.add_argument(
        "--key",
        action="append",
        required=True,
        metavar="FILE",
        help="backend private key file from hemproto keygen (repeat for rotation)",
    )
    backend.add_argument("--releases", metavar="FILE", help="release registry (TOML), reloaded")
    backend.add_argument("--host", default="127.0.0.1", help="address to listen on")
    backend.add_argument("--port", type=int, default=BACKEND_PORT, help="0 picks a free port")
    backend.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    backend.add_argument("--log-format", choices=("text", "json"), default="text")
    backend.add_argument(
        "--replay",
        default="memory",
        metavar="STORE",
        help="replay store: memory (default) or redis://HOST:PORT/DB (rediss:// for TLS), "
        "shared by every process; password in HEMPROTO_REDIS_PASSWORD",
    )
    backend.add_argument(
        "--certificate",
        action="append",
        default=[],
        metavar="CSN_HEX=FILE",
        help=f"push this DER certificate (at most {MAX_CERTIFICATE_SIZE} bytes) to the device "
        "whose certificate serial (csn) is CSN_HEX, 32 hex digits; repeat for more devices",
    )
    backend.set_defaults(run=cmd_serve_backend, func=cmd_serve_backend, usage_of=backend)

    device = commands.add_parser("device", help="an emulated HEM's /api/system endpoints")
    device.add_argument(
        "--backend-public",
        required=True,
        metavar="FILE|BASE64",
        help="the trusted backend public key: a .pub file or its base64",
    )
    device.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS with this PEM chain")
    device.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert")
    device.add_argument("--host", default="127.0.0.1", help="address to listen on")
    device.add_argument(
        "--port", type=int, help=f"default {DEVICE_PORT}, or {DEVICE_TLS_PORT} with TLS"
    )
    for name, what in (
        ("fws", "firmware signature (64 bytes)"),
        ("bls", "bootloader signature (64 bytes)"),
        ("qid", "device id (32 bytes)"),
        ("csn", "certificate serial (16 bytes)"),
    ):
        device.add_argument(f"--{name}", metavar="B64", help=f"{what}; default random")
    device.add_argument(
        "--uis", metavar="B64|none", help="dashboard hash (32 bytes), or none; default random"
    )
    device.add_argument(
        "--untrusted-backend", action="store_true", help="device option trusted_backend off"
    )
    device.add_argument("--untrusted-ts", action="store_true", help="device option trusted_ts off")
    device.add_argument("--log-format", choices=("text", "json"), default="text")
    device.set_defaults(run=cmd_serve_device, func=cmd_serve_device, usage_of=device)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m hemproto.serve backend|device ...``: the serve commands on their own."""
    parser = argparse.ArgumentParser(prog="hemproto")
    add_serve_parser(parser.add_subparsers(dest="command", required=True))
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(["serve", *arguments])
    if args.run is None:
        args.usage_of.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.run(args, sys.stdout, sys.stdin))
    except UsageError as exc:
        sys.stderr.write(f"hemproto: {exc}\n")
        return EXIT_USAGE
    except HemProtoError as exc:
        sys.stderr.write(f"hemproto: {type(exc).__name__}: {exc}\n")
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
