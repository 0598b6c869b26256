"""Several ``hemproto serve backend`` processes sharing one Redis: a check is answered once.

Each test starts real server processes on free ports (``--replay redis://...``), waits for
``GET /healthz`` with a bounded poll, posts checks over HTTP with bounded concurrency and
timeouts, and kills every process it started (each runs in a process group of its own, so
``--workers`` children go with their parent).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from _cli import PACKAGE_PARENT
from _redis import RedisServer, free_port, private_redis, redis_server, redis_url

import hemproto

__all__ = ["redis_server", "redis_url"]  # fixtures, imported for pytest to find

READY_TIMEOUT = 30.0
REQUEST_TIMEOUT = 10.0
IN_FLIGHT = 16
FIELDS: dict[str, Any] = dict(qid=bytes(32), fws=bytes(64), bls=bytes(64), csn=bytes(16))


class ServeBackend:
    """One ``hemproto serve backend`` process (and its workers) on 127.0.0.1."""

    def __init__(
        self, key_file: Path, replay: str, workers: int, log: Path, env: dict[str, str]
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {**os.environ, **env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "hemproto", "serve", "backend",
                    "--key", str(key_file), "--host", "127.0.0.1", "--port", str(self.port),
                    "--replay", replay, "--workers", str(workers),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=PACKAGE_PARENT,  # never the checkout: `-m` would import its sources first
                start_new_session=True,  # its own process group: workers die with it
            )  # fmt: skip

    def wait_ready(self, deadline: float, healthy: bool = True) -> None:
        """Poll ``GET /healthz`` until it answers 200 (or anything, when not ``healthy``)."""
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve backend exited: {self.log.read_text()[-2000:]}")
            try:
                status = httpx.get(f"{self.url}/healthz", timeout=1.0).status_code
                if status == 200 or not healthy:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve backend not ready: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGTERM to the process group, then SIGKILL to whatever is left of it.

        The group's id is the leader's pid, which stays reserved only until the leader is
        reaped: so the leader is reaped last, and a group whose leader was already reaped
        is never signalled (that pid may belong to someone else's process by now).
        """
        pid = self.process.pid
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            # Has the leader exited? Asked without reaping it (WNOWAIT).
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # workers that outlived their parent
        self.process.wait(timeout=10)


@pytest.fixture()
def backend_key(tmp_path: Path) -> tuple[Path, bytes]:
    pair = hemproto.KeyPair.generate()
    path = tmp_path / "backend.key"
    path.write_text(hemproto.b64_encode(pair.private_bytes()) + "\n")
    path.chmod(0o600)
    return path, pair.public


@pytest.fixture()
def serve(tmp_path: Path, backend_key: tuple[Path, bytes]) -> Iterator[Any]:
    """``serve(n, replay, workers=1, env=None, healthy=True)`` starts ``n`` backends and
    waits until each answers ``GET /healthz`` (with 200 when ``healthy``)."""
    started: list[ServeBackend] = []

    def start(
        count: int,
        replay: str,
        workers: int = 1,
        env: dict[str, str] | None = None,
        healthy: bool = True,
    ) -> list[ServeBackend]:
        group = []
        for _ in range(count):
            log = tmp_path / f"serve-{len(started)}.log"
            started.append(ServeBackend(backend_key[0], replay, workers, log, env or {}))
            group.append(started[-1])
        deadline = time.monotonic() + READY_TIMEOUT
        for server in group:
            server.wait_ready(deadline, healthy)
        return group

    try:
        yield start
    finally:
        for server in started:
            server.kill()


def new_check(backend_public: bytes, **overrides: Any) -> dict[str, str]:
    device = overrides.pop("device", None) or hemproto.KeyPair.generate()
    return {"check": hemproto.sign_check(device, backend_public, **{**FIELDS, **overrides})}


async def post_all(posts: Sequence[tuple[str, dict[str, str]]]) -> list[int]:
    """POST each (server, body) with at most IN_FLIGHT in flight; the statuses, in order."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits) as client:

        async def post(url: str, body: dict[str, str]) -> int:
            async with gate:
                return (await client.post(f"{url}/checkin", json=body)).status_code

        return await asyncio.gather(*[post(url, body) for url, body in posts])


def statuses(posts: Sequence[tuple[str, dict[str, str]]]) -> list[int]:
    return asyncio.run(post_all(posts))


def health(server: ServeBackend) -> int:
    return httpx.get(f"{server.url}/healthz", timeout=REQUEST_TIMEOUT).status_code


# -- one check, many processes -------------------------------------------------------------


def _same_check_everywhere(servers: list[ServeBackend], public: bytes, checks: int) -> None:
    # Each check goes to every process twice, all at once: exactly one 200 per check.
    posts: list[tuple[str, dict[str, str]]] = []
    bodies = [new_check(public) for _ in range(checks)]
    for body in bodies:
        posts += [(server.url, body) for server in servers for _ in range(2)]
    results = statuses(posts)
    per_check = len(servers) * 2
    for n in range(checks):
        tally = Counter(results[n * per_check : (n + 1) * per_check])
        assert tally == {200: 1, 401: per_check - 1}, (n, tally)


def test_the_same_check_posted_to_every_process_at_once_is_answered_once(
    serve: Any, redis_url: str, backend_key: tuple[Path, bytes]
) -> None:
    servers = serve(3, redis_url)
    _same_check_everywhere(servers, backend_key[1], checks=200)


def test_the_same_with_two_workers_per_process(
    serve: Any, redis_url: str, backend_key: tuple[Path, bytes]
) -> None:
    servers = serve(2, redis_url, workers=2)
    _same_check_everywhere(servers, backend_key[1], checks=200)
    # Two workers per port, so every request may land on either one: distinct checks too.
    _distinct_checks_answered_once(servers, backend_key[1], checks=300)


def _distinct_checks_answered_once(servers: list[ServeBackend], public: bytes, checks: int) -> None:
    bodies = [new_check(public) for _ in range(checks)]
    first = statuses([(servers[n % len(servers)].url, b) for n, b in enumerate(bodies)])
    assert first == [200] * checks
    # Every one of them again, each to another process than the one that answered it.
    again = statuses([(servers[(n + 1) % len(servers)].url, b) for n, b in enumerate(bodies)])
    assert again == [401] * checks


def test_a_thousand_distinct_checks_spread_over_the_processes_are_each_answered_once(
    serve: Any, redis_url: str, backend_key: tuple[Path, bytes]
) -> None:
    servers = serve(3, redis_url)
    _distinct_checks_answered_once(servers, backend_key[1], checks=1000)


def test_a_squatted_nonce_never_blocks_the_genuine_check_across_processes(
    serve: Any, redis_url: str, backend_key: tuple[Path, bytes]
) -> None:
    first, second = serve(2, redis_url)
    public = backend_key[1]
    for _ in range(10):
        device = hemproto.DeviceEmulator(backend_public_key=public)
        genuine = device.challenge()
        jti = hemproto.parse_check(genuine).jti
        squats = [new_check(public, jti=jti) for _ in range(3)]
        # The squatters reach both processes first, at once: each squat answered once...
        results = statuses([(s.url, b) for b in squats for s in (first, second)])
        assert [sorted(results[i : i + 2]) for i in (0, 2, 4)] == [[200, 401]] * 3
        # ...and the genuine check is answered all the same, by either process.
        reply = httpx.post(f"{second.url}/checkin", json=genuine, timeout=REQUEST_TIMEOUT)
        assert reply.status_code == 200
        assert device.handle(reply.json())[0] == 200
        assert statuses([(first.url, genuine), (second.url, genuine)]) == [401, 401]


# -- Redis down and back -------------------------------------------------------------------


def test_redis_stopped_then_back_without_restarting_the_processes(
    serve: Any, redis_server: RedisServer, backend_key: tuple[Path, bytes]
) -> None:
    servers = serve(2, redis_server.url)
    public = backend_key[1]
    assert statuses([(s.url, new_check(public)) for s in servers]) == [200, 200]

    redis_server.stop()
    assert [health(s) for s in servers] == [503, 503]
    assert statuses([(s.url, new_check(public)) for s in servers for _ in range(5)]) == [503] * 10

    redis_server.restart()  # same port, empty: the processes keep running
    assert [health(s) for s in servers] == [200, 200]
    assert statuses([(s.url, new_check(public)) for s in servers for _ in range(5)]) == [200] * 10
    assert all(s.process.poll() is None for s in servers)


# -- the command line's side ---------------------------------------------------------------


def test_replay_store_urls_on_the_command_line() -> None:
    from hemproto import serve as serve_module
    from hemproto.cli import UsageError
    from hemproto.redis_store import RedisReplayStore

    store = serve_module._replay_store("redis://127.0.0.1:6390/3")
    assert isinstance(store, RedisReplayStore)
    assert repr(store) == "RedisReplayStore(redis://127.0.0.1:6390/3, prefix='hemproto:replay:')"
    assert isinstance(serve_module._replay_store("rediss://cache.example/0"), RedisReplayStore)
    for url in ("redis://:hunter2secret@h/zero", "redsi://:hunter2secret@h/0"):
        with pytest.raises(UsageError) as info:
            serve_module._replay_store(url)
        assert "hunter2secret" not in str(info.value)


def test_the_redis_password_comes_from_the_environment_and_is_never_shown(
    serve: Any, tmp_path: Path, backend_key: tuple[Path, bytes]
) -> None:
    secret = "a-Redis-pa55word-for-this-test"
    with private_redis(tmp_path / "auth", "--requirepass", secret) as server:
        (good,) = serve(1, server.url, env={"HEMPROTO_REDIS_PASSWORD": secret})
        (wrong,) = serve(
            1, server.url, env={"HEMPROTO_REDIS_PASSWORD": secret + "x"}, healthy=False
        )
        body = new_check(backend_key[1])
        assert statuses([(good.url, body), (wrong.url, new_check(backend_key[1]))]) == [200, 503]
        assert (health(good), health(wrong)) == (200, 503)
        answer = httpx.post(f"{wrong.url}/checkin", json=new_check(backend_key[1]), timeout=10)
        assert answer.status_code == 503 and secret not in answer.text
        for process in (good, wrong):
            process.kill()
            assert secret not in process.log.read_text()
        assert "authentication failed" in wrong.log.read_text()  # the log says why, no more
