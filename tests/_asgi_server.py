"""Real servers for the HTTP tests: uvicorn in a thread on 127.0.0.1, a free port, stopped
at the end; a tap that counts what an app read; ASGI calls without a server; and the
``hemproto serve`` commands as child processes.

Every wait here is bounded; a server that does not start or stop in time fails the test.
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from _cli import PACKAGE_PARENT

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
_LISTENING = re.compile(r"listening on (\S+)")


@contextmanager
def running(
    app: Any,
    *,
    receive_buffer: int | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    root_path: str = "",
) -> Iterator[str]:
    """Serve ``app`` with uvicorn (h11) in a thread; yields the base URL.

    The socket is bound here to port 0, so the port is free and known before the server
    starts. ``receive_buffer`` sets SO_RCVBUF on it (accepted sockets inherit it), to keep
    what the kernel holds for a client small.
    """
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every answer waits for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        http="h11",
        lifespan="on",
        log_config=None,
        access_log=False,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        root_path=root_path,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError("uvicorn did not start")
            time.sleep(0.01)
        scheme = "https" if ssl_certfile else "http"
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        sock.close()
        if thread.is_alive():
            raise AssertionError("uvicorn did not stop")


class Tap:
    """Wraps an ASGI app and records, across threads, the request body bytes it pulled
    through ``receive`` and the statuses it sent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.condition = threading.Condition()
        self.body_bytes = 0
        self.messages = 0
        self.last_piece = 0
        self.statuses: list[int] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counting_receive() -> Any:
            message = await receive()
            if message.get("type") == "http.request":
                piece = len(message.get("body", b""))
                with self.condition:
                    self.messages += 1
                    self.body_bytes += piece
                    self.last_piece = piece
                    self.condition.notify_all()
            return message

        async def recording_send(message: Any) -> None:
            if message.get("type") == "http.response.start":
                with self.condition:
                    self.statuses.append(message["status"])
                    self.condition.notify_all()
            await send(message)

        await self.app(scope, counting_receive, recording_send)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        with self.condition:
            return self.condition.wait_for(predicate, timeout)


def call_app(
    app: Any, scope: dict[str, Any], incoming: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Run one ASGI call in memory: ``incoming`` messages in, the sent messages out.

    After the incoming messages run out, receive answers http.disconnect.
    """
    sent: list[dict[str, Any]] = []
    pending = list(incoming)

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    return sent


def http_scope(
    method: str, path: str, headers: list[tuple[bytes, bytes]] | None = None, **extra: Any
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers or [],
    }
    scope.update(extra)
    return scope


def raw_exchange(url: str, request: bytes, *, timeout: float = 10.0) -> bytes:
    """Send ``request`` bytes as they are and read the answer until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while True:
            piece = sock.recv(65536)
            if not piece:
                return answer
            answer += piece


class ServeProcess:
    """``python -m hemproto serve ...`` as a child process (``python -m hemproto.serve``
    with ``standalone``): its URL once it listens, its standard error in a file (so that a
    full pipe can never block it)."""

    def __init__(self, args: list[str], workdir: Path, *, standalone: bool = False) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
        command = ["hemproto.serve"] if standalone else ["hemproto", "serve"]
        self.stderr_path = workdir / f"serve-{len(list(workdir.glob('serve-*')))}.err"
        self._stderr = self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", *command, *args],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def wait_line(self, pattern: re.Pattern[str] = _LISTENING) -> re.Match[str]:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern.pattern!r}: {self.stdout}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"exited before {pattern.pattern!r}: {self.stdout}")
            self.stdout.append(line)
            found = pattern.search(line)
            if found:
                return found

    def url(self) -> str:
        return self.wait_line().group(1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the exit status; the rest of stdout is collected."""
        self.process.send_signal(sig)
        status = self.process.wait(STOP_TIMEOUT)
        while True:
            try:
                line = self._lines.get(timeout=STOP_TIMEOUT)
            except queue.Empty:
                break
            if line is None:
                break
            self.stdout.append(line)
        return status

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)
        self._stderr.close()

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text()


@contextmanager
def serve_process(args: list[str], workdir: Path) -> Iterator[ServeProcess]:
    child = ServeProcess(args, workdir)
    try:
        yield child
    finally:
        child.close()
