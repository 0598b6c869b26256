"""Real Redis servers for the tests: the shared one CI starts, or private ones to break.

``redis_url`` gives the URL of a Redis the tests may share (each test keeps to its own key
prefix): ``HEMPROTO_TEST_REDIS_URL`` when set (``.ci/run`` starts one), else a private
redis-server started for the session. ``RedisServer`` is a redis-server process of a test's
own, which the test may stop, pause (SIGSTOP) and restart on the same port; fixtures kill
every one of them in teardown. Without a redis-server the tests skip, except under
``CI=true``, where a missing Redis fails them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_URL = "HEMPROTO_TEST_REDIS_URL"
ENV_BINARY = "HEMPROTO_REDIS_SERVER"
READY_TIMEOUT = 10.0


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> None:
    """Skip for lack of a service on a developer's machine; fail under CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing Redis is a failure)", pytrace=False)
    pytest.skip(reason)


def redis_server_binary() -> str | None:
    path = os.environ.get(ENV_BINARY) or shutil.which("redis-server")
    return path if path and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers_ping(port: int, timeout: float = 0.5) -> bool:
    """True when a Redis on 127.0.0.1:port answers a PING (or asks for a password first)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


class RedisServer:
    """A private redis-server on 127.0.0.1 without persistence, in its own directory."""

    def __init__(self, binary: str, directory: Path, *extra: str) -> None:
        self.binary = binary
        self.directory = directory
        self.extra = extra
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        assert self.process is None, "already running"
        self.directory.mkdir(parents=True, exist_ok=True)
        # The log goes to a file: a pipe nobody reads could fill and block the server.
        log = open(self.directory / "redis.log", "ab")
        try:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--daemonize", "no",
                    "--dir", str(self.directory),
                    *self.extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        finally:
            log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while not answers_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                tail = (self.directory / "redis.log").read_text(errors="replace")[-600:]
                raise RuntimeError(f"redis-server did not start on port {self.port}: {tail}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop the server (it loses every key: no persistence)."""
        self.kill()

    def restart(self) -> None:
        """Start again on the same port, empty."""
        self.kill()
        self.start()

    # Signals go through Popen, which never signals a process it has already reaped (its
    # pid may belong to another process by then).

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.paused = False

    def kill(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            if self.paused:
                process.send_signal(signal.SIGCONT)
            process.kill()
        self.paused = False
        process.wait(timeout=10)


@contextlib.contextmanager
def private_redis(directory: Path, *extra: str) -> Iterator[RedisServer]:
    binary = redis_server_binary()
    if binary is None:
        missing("redis-server is not installed (apt-get install redis-server)")
        raise AssertionError("unreachable")
    server = RedisServer(binary, directory, *extra)
    try:
        yield server.start()
    finally:
        server.kill()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis the tests share; each test keeps to its own prefix (``unique_prefix``)."""
    url = os.environ.get(ENV_URL)
    if url:
        yield url
        return
    with private_redis(tmp_path_factory.mktemp("redis-shared")) as server:
        yield server.url


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, to stop, pause and restart; killed in teardown."""
    with private_redis(tmp_path / "redis") as server:
        yield server


def unique_prefix() -> str:
    return f"hemproto-test:{uuid.uuid4().hex}:"
