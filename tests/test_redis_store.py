"""RedisReplayStore against a real redis-server: first use, expiry, URLs, faults, recovery.

Tests on the shared Redis keep to a key prefix of their own; tests that break Redis (stop,
pause, restart, a replica, a password, no memory) start a redis-server of their own.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
from _cli import PACKAGE_PARENT
from _race import race
from _redis import (
    RedisServer,
    free_port,
    private_redis,
    redis_server,
    redis_url,
    unique_prefix,
)

import hemproto
from hemproto.redis_store import (
    DEFAULT_PREFIX,
    DEFAULT_TIMEOUT,
    RedisReplayStore,
    RedisUnavailable,
    _parse_url,
    fault_kind,
)

__all__ = ["redis_server", "redis_url"]  # fixtures, imported for pytest to find

# A behaviour bound, not a benchmark: with 0.5 s timeouts a call to a Redis that does not
# answer must come back in about 1 s; 5 s leaves room for a loaded machine.
FAILS_WITHIN = 5.0
FIELDS: dict[str, Any] = dict(qid=bytes(32), fws=bytes(64), bls=bytes(64), csn=bytes(16))


def rkey(n: int = 0) -> bytes:
    return hemproto.replay_key(bytes([1]) * 32, bytes([2]) * 32, n.to_bytes(32, "big"))


def random_key() -> bytes:
    return hemproto.replay_key(os.urandom(32), os.urandom(32), os.urandom(32))


@pytest.fixture()
def store(redis_url: str) -> Iterator[RedisReplayStore]:
    s = RedisReplayStore.from_url(redis_url, prefix=unique_prefix())
    try:
        yield s
    finally:
        s.close()


@pytest.fixture()
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client on the shared Redis, to look at what the store wrote."""
    server = _parse_url(redis_url)
    client = redis.Redis(
        host=server.host,
        port=server.port,
        db=server.db,
        username=server.username,
        password=server.password,
        ssl=server.tls,
        socket_timeout=5,
    )
    try:
        yield client
    finally:
        client.close()


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.monotonic()
    try:
        result = call()
    except Exception as exc:
        result = exc
    return result, time.monotonic() - start


# -- first use ----------------------------------------------------------------------------


def test_first_sight_false_then_true(store: RedisReplayStore) -> None:
    deadline = time.time() + 60
    assert store.seen_before(rkey(1), deadline) is False
    assert store.seen_before(rkey(1), deadline) is True
    assert store.seen_before(rkey(2), deadline) is False


def test_threads_racing_on_one_key_get_exactly_one_false(store: RedisReplayStore) -> None:
    for round_ in range(30):
        key = rkey(1000 + round_)
        results = race(lambda key=key: store.seen_before(key, time.time() + 60), threads=8)
        assert sorted(results, key=str) == [False] + [True] * 7, results


def test_separate_stores_racing_on_one_key_get_exactly_one_false(redis_url: str) -> None:
    # Separate stores stand for separate backend processes: only Redis decides.
    prefix = unique_prefix()
    stores = [RedisReplayStore.from_url(redis_url, prefix=prefix) for _ in range(6)]
    try:
        for round_ in range(20):
            key = rkey(round_)
            lock = threading.Lock()
            turn = iter(stores)

            def call(key: bytes = key) -> bool:
                with lock:
                    own = next(turn)
                return own.seen_before(key, time.time() + 60)

            results = race(call, threads=len(stores))
            assert results.count(False) == 1 and results.count(True) == 5, results
    finally:
        for s in stores:
            s.close()


def test_async_twin_gives_exactly_one_false(store: RedisReplayStore) -> None:
    async def main() -> list[bool]:
        key = random_key()
        try:
            return await asyncio.gather(
                *[store.seen_before_async(key, time.time() + 60) for _ in range(50)]
            )
        finally:
            await store.aclose()

    results = asyncio.run(main())
    assert results.count(False) == 1 and results.count(True) == 49


def test_sync_and_async_share_the_record(store: RedisReplayStore) -> None:
    key = random_key()
    assert store.seen_before(key, time.time() + 60) is False

    async def main() -> bool:
        await store.ping_async()
        seen = await store.seen_before_async(key, time.time() + 60)
        await store.aclose()
        return seen

    assert asyncio.run(main()) is True
    # A second event loop gets a pool of its own and still sees the record.
    assert asyncio.run(main()) is True


# -- the record ---------------------------------------------------------------------------


def test_the_key_is_the_prefix_then_the_96_raw_bytes(redis_url: str, raw: redis.Redis) -> None:
    prefix = unique_prefix()
    store = RedisReplayStore.from_url(redis_url, prefix=prefix)
    key = random_key()
    store.seen_before(key, time.time() + 60)
    name = prefix.encode() + key
    assert store.redis_key(key) == name
    assert raw.get(name) == b"1"
    assert raw.keys(prefix.encode() + b"*") == [name]
    assert store.prefix == prefix
    # Another prefix is another namespace: the same key is new there.
    other = RedisReplayStore.from_url(redis_url, prefix=unique_prefix())
    assert other.seen_before(key, time.time() + 60) is False
    store.close()
    other.close()


def test_default_prefix() -> None:
    assert DEFAULT_PREFIX == "hemproto:replay:"
    store = RedisReplayStore.from_url("redis://127.0.0.1:1/0")
    assert store.redis_key(rkey(3)) == b"hemproto:replay:" + rkey(3)


def test_the_record_carries_its_expiry_never_before_the_deadline(
    store: RedisReplayStore, raw: redis.Redis
) -> None:
    for window in (600.0, 600.3, 1.5, 86_400.0):
        key = random_key()
        expires_at = time.time() + window
        store.seen_before(key, expires_at)
        name = store.redis_key(key)
        ttl = raw.ttl(name)
        assert ttl != -1 and ttl > 0
        expire_ms = raw.execute_command("PEXPIRETIME", name)
        # Rounded up to the millisecond: never before the deadline, and after it only by
        # the time the command took to reach Redis (generous for a loaded machine).
        assert expires_at * 1000 <= expire_ms <= expires_at * 1000 + 2000, window
        assert ttl <= math.ceil(window) + 1


def test_a_deadline_already_past_still_records_for_a_second(
    store: RedisReplayStore, raw: redis.Redis
) -> None:
    key = random_key()
    start = time.monotonic()
    assert store.seen_before(key, time.time() - 30) is False
    again = store.seen_before(key, time.time() - 30)  # a duplicate right behind it
    pttl = raw.pttl(store.redis_key(key))
    if time.monotonic() - start < 0.9:  # else the machine stalled past the record's second
        assert again is True
        assert 0 < pttl <= 1000


def test_the_store_counts_from_its_own_clock(redis_url: str, raw: redis.Redis) -> None:
    # The backend's deadline and the store's clock are the same clock in a deployment;
    # here a clock 100 s behind makes a deadline 110 s ahead of it a 110 s record.
    store = RedisReplayStore.from_url(
        redis_url, prefix=unique_prefix(), clock=lambda: time.time() - 100
    )
    key = random_key()
    store.seen_before(key, time.time() + 10)
    assert 105 <= raw.ttl(store.redis_key(key)) <= 111
    store.close()


def test_only_replay_keys_and_finite_deadlines(store: RedisReplayStore) -> None:
    with pytest.raises(ValueError, match="96 bytes"):
        store.seen_before(bytes(32), time.time() + 60)  # a bare jti: nonce squatting
    with pytest.raises(ValueError, match="finite"):
        store.seen_before(rkey(), math.inf)
    with pytest.raises(ValueError, match="finite"):
        store.seen_before(rkey(), math.nan)


# -- URLs, options, secrets ---------------------------------------------------------------


def test_url_parsing() -> None:
    s = _parse_url("redis://127.0.0.1:6380/4")
    assert (s.tls, s.host, s.port, s.db, s.username, s.password) == (
        False, "127.0.0.1", 6380, 4, None, None,
    )  # fmt: skip
    s = _parse_url("rediss://app:p%40ss%3Aword@cache.example:6390/12")
    assert (s.tls, s.host, s.port, s.db, s.username, s.password) == (
        True, "cache.example", 6390, 12, "app", "p@ss:word",
    )  # fmt: skip
    s = _parse_url("redis://:only-password@localhost")
    assert (s.port, s.db, s.username, s.password) == (6379, 0, None, "only-password")
    s = _parse_url("redis://[::1]:7000/")
    assert (s.host, s.port, s.db) == ("::1", 7000, 0)
    assert s.address == "redis://[::1]:7000/0"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://:hunter2secret@h/0", "redis:// or rediss://"),
        ("unix:///tmp/redis.sock", "redis:// or rediss://"),
        ("redis://:hunter2secret@h:notaport/0", "malformed"),
        ("redis://:hunter2secret@h:99999/0", "malformed"),
        ("redis://:hunter2secret@/0", "needs a host"),
        ("redis://:hunter2secret@h/zero", "database"),
        ("redis://:hunter2secret@h/0?ssl_cert_reqs=none", "query parameters"),
    ],
)
def test_bad_urls_are_refused_without_echoing_them(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        RedisReplayStore.from_url(url)
    # Neither the message nor any exception chained to it (a traceback in a log).
    assert "hunter2secret" not in "".join(traceback.format_exception(info.value))


def test_bad_options_are_refused() -> None:
    for name in ("socket_timeout", "socket_connect_timeout", "pool_timeout"):
        with pytest.raises(ValueError, match=name):
            RedisReplayStore.from_url("redis://h/0", **{name: 0})
    with pytest.raises(ValueError, match="max_connections"):
        RedisReplayStore.from_url("redis://h/0", max_connections=0)
    with pytest.raises(TypeError):
        RedisReplayStore.from_url("redis://h/0", prefix=b"bytes")  # type: ignore[arg-type]


def test_the_url_sets_the_database(redis_server: RedisServer) -> None:
    store = RedisReplayStore.from_url(f"redis://127.0.0.1:{redis_server.port}/5")
    key = random_key()
    store.seen_before(key, time.time() + 60)
    plain = redis.Redis(port=redis_server.port, db=5)
    assert plain.exists(store.redis_key(key)) == 1
    assert redis.Redis(port=redis_server.port, db=0).dbsize() == 0
    plain.close()
    store.close()


def test_the_password_is_used_and_never_shown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cret-Pa55word-for-the-test"
    with private_redis(tmp_path / "auth", "--requirepass", secret) as server:
        good = RedisReplayStore.from_url(f"redis://:{secret}@127.0.0.1:{server.port}/2")
        good.ping()
        assert good.seen_before(random_key(), time.time() + 60) is False
        assert secret not in repr(good) and secret not in str(good)
        assert (
            repr(good) == f"RedisReplayStore(redis://127.0.0.1:{server.port}/2, "
            "prefix='hemproto:replay:')"
        )

        # The password may come apart from the URL (e.g. from the environment).
        apart = RedisReplayStore.from_url(f"redis://127.0.0.1:{server.port}/2", password=secret)
        assert apart.seen_before(random_key(), time.time() + 60) is False
        assert secret not in repr(apart)
        apart.close()

        wrong = RedisReplayStore.from_url(f"redis://:{secret}x@127.0.0.1:{server.port}/2")
        none = RedisReplayStore.from_url(f"redis://127.0.0.1:{server.port}/2")
        for bad in (wrong, none):
            with pytest.raises(RedisUnavailable) as info:
                bad.seen_before(random_key(), time.time() + 60)
            assert info.value.fault == "authentication failed", info.value.fault
            for text in (repr(info.value), repr(bad), *traceback.format_exception(info.value)):
                assert secret not in text

        # The backend's refusal, its reason and its log carry no password either.
        bk = hemproto.KeyPair.generate()
        backend = hemproto.Backend(bk, replay=wrong)
        check = {"check": hemproto.sign_check(hemproto.KeyPair.generate(), bk.public, **FIELDS)}
        with caplog.at_level(logging.DEBUG):
            result = backend.process(check)
        assert result.status == 503 and result.body is None
        assert "authentication failed" in result.reason
        assert secret not in result.reason and secret not in caplog.text
        for s in (good, wrong, none):
            s.close()


def test_a_store_over_clients_of_your_own(redis_url: str) -> None:
    server = _parse_url(redis_url)
    options: dict[str, Any] = dict(
        host=server.host, port=server.port, db=server.db, password=server.password,
        username=server.username, ssl=server.tls,
    )  # fmt: skip
    prefix = unique_prefix()
    client = redis.Redis(**options)
    only_sync = RedisReplayStore(client, prefix=prefix)
    assert repr(only_sync) == f"RedisReplayStore({server.address}, prefix={prefix!r})"
    key = random_key()

    async def main() -> tuple[bool, bool]:
        # With no asyncio client the async twin runs the blocking call in a thread.
        first = await only_sync.seen_before_async(key, time.time() + 60)
        await only_sync.ping_async()
        async_client = redis.asyncio.Redis(**options)
        both = RedisReplayStore(client, async_client=async_client, prefix=prefix)
        second = await both.seen_before_async(key, time.time() + 60)
        await both.ping_async()
        await async_client.aclose()
        return first, second

    assert asyncio.run(main()) == (False, True)
    only_sync.close()  # not its pool: closes nothing, the client still works
    assert client.ping()
    client.close()


def test_hemproto_does_not_import_redis_and_a_missing_redis_names_the_extra() -> None:
    code = (
        "import sys\n"
        "import hemproto\n"
        "assert 'redis' not in sys.modules, 'hemproto imported redis'\n"
        "sys.modules['redis'] = None\n"
        "try:\n"
        "    import hemproto.redis_store\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=PACKAGE_PARENT,  # never the checkout: `-c` would import its sources first
    )
    assert out.returncode == 0, out.stderr
    assert "pip install 'hemproto[redis]'" in out.stdout


# -- faults -------------------------------------------------------------------------------


def test_fault_kinds() -> None:
    from redis import exceptions as rex

    def chained(outer: BaseException, inner: BaseException) -> BaseException:
        try:
            try:
                raise inner
            except BaseException:
                raise outer  # the implicit context is the point
        except BaseException as exc:
            return exc

    cases: list[tuple[BaseException, str]] = [
        (rex.TimeoutError("Timeout reading from 10.0.0.1:6379"), "timeout"),
        (rex.ReadOnlyError("You can't write against a read only replica."), "read-only replica"),
        (rex.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
         "out of memory"),
        (rex.AuthenticationError("invalid username-password pair"), "authentication failed"),
        (rex.NoPermissionError("this user has no permissions"), "permission denied"),
        (rex.BusyLoadingError("Redis is loading the dataset in memory"), "loading its data"),
        (rex.ResponseError("MISCONF Redis is configured to save RDB snapshots"),
         "error reply MISCONF"),
        (rex.ResponseError("something with a secret in it"), "error reply"),
        (rex.ConnectionError("No connection available."), "no free connection in the pool"),
        (chained(rex.ConnectionError("Error 111 connecting"), ConnectionRefusedError(111, "x")),
         "connection refused"),
        (chained(rex.ConnectionError("Error while reading"), ConnectionResetError(104, "x")),
         "connection reset"),
        (rex.ConnectionError("Connection closed by server."), "connection closed"),
        (rex.ConnectionError("Error 99 connecting"), "connection error"),
        (RuntimeError("surprise"), "client error (RuntimeError)"),
    ]  # fmt: skip
    for exc, kind in cases:
        assert fault_kind(exc) == kind, (exc, kind)
        assert str(RedisUnavailable(fault_kind(exc))).startswith("Redis replay store unavailable")


def test_nobody_listening_is_connection_refused() -> None:
    # A port bound then released: nothing listens there.
    store = RedisReplayStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(RedisUnavailable) as info:
        store.seen_before(rkey(), time.time() + 60)
    assert info.value.fault == "connection refused"
    assert isinstance(info.value, hemproto.ReplayStoreUnavailable)
    with pytest.raises(RedisUnavailable):
        store.ping()

    async def main() -> None:
        with pytest.raises(RedisUnavailable, match="connection refused"):
            await store.seen_before_async(rkey(), time.time() + 60)
        with pytest.raises(RedisUnavailable):
            await store.ping_async()

    asyncio.run(main())


def test_a_read_only_replica_is_a_fault(redis_server: RedisServer, tmp_path: Path) -> None:
    with private_redis(
        tmp_path / "replica", "--replicaof", "127.0.0.1", str(redis_server.port)
    ) as replica:
        store = RedisReplayStore.from_url(replica.url)
        store.ping()  # it answers reads...
        with pytest.raises(RedisUnavailable) as info:  # ...but records nothing
            store.seen_before(rkey(), time.time() + 60)
        assert info.value.fault == "read-only replica"
        store.close()


def test_a_full_redis_is_a_fault(redis_server: RedisServer) -> None:
    store = RedisReplayStore.from_url(redis_server.url)
    assert store.seen_before(rkey(1), time.time() + 60) is False
    admin = redis.Redis(port=redis_server.port)
    admin.config_set("maxmemory", 1)  # used memory is above it: writes are refused
    with pytest.raises(RedisUnavailable) as info:
        store.seen_before(rkey(2), time.time() + 60)
    assert info.value.fault == "out of memory"
    admin.config_set("maxmemory", 0)
    assert store.seen_before(rkey(2), time.time() + 60) is False
    admin.close()
    store.close()


# -- the backend on Redis -----------------------------------------------------------------


def new_check(backend_public: bytes) -> dict[str, str]:
    return {"check": hemproto.sign_check(hemproto.KeyPair.generate(), backend_public, **FIELDS)}


def test_backend_answers_a_check_once_across_instances(redis_url: str) -> None:
    bk = hemproto.KeyPair.generate()
    prefix = unique_prefix()
    stores = [RedisReplayStore.from_url(redis_url, prefix=prefix) for _ in range(2)]
    backends = [hemproto.Backend(bk, replay=s) for s in stores]
    device = hemproto.DeviceEmulator(backend_public_key=bk.public)
    for _ in range(20):
        check = device.challenge()
        statuses = [b.handle(check)[0] for b in backends] + [backends[0].handle(check)[0]]
        assert statuses == [200, 401, 401]
    check = device.challenge()
    status, reply = backends[1].handle(check)
    assert status == 200 and device.handle(reply)[0] == 200
    for s in stores:
        s.close()


def test_backend_on_redis_async(redis_url: str) -> None:
    bk = hemproto.KeyPair.generate()
    store = RedisReplayStore.from_url(redis_url, prefix=unique_prefix())
    backend = hemproto.Backend(bk, replay=store)
    check = new_check(bk.public)

    async def main() -> list[int]:
        await backend.ping_async()
        results = await asyncio.gather(*[backend.process_async(check) for _ in range(20)])
        await store.aclose()
        return sorted(r.status for r in results)

    assert asyncio.run(main()) == [200] + [401] * 19
    store.close()


def test_a_squatted_nonce_never_blocks_the_genuine_check(redis_url: str) -> None:
    bk = hemproto.KeyPair.generate()
    prefix = unique_prefix()
    backend_a = hemproto.Backend(bk, replay=RedisReplayStore.from_url(redis_url, prefix=prefix))
    backend_b = hemproto.Backend(bk, replay=RedisReplayStore.from_url(redis_url, prefix=prefix))
    device = hemproto.DeviceEmulator(backend_public_key=bk.public)
    genuine = device.challenge()
    jti = hemproto.parse_check(genuine).jti
    for _ in range(5):  # squatters sign their own checks with the device's nonce
        squat = hemproto.sign_check(hemproto.KeyPair.generate(), bk.public, jti=jti, **FIELDS)
        assert backend_a.handle({"check": squat})[0] == 200
        assert backend_b.handle({"check": squat})[0] == 401
    status, reply = backend_b.handle(genuine)
    assert status == 200
    assert device.handle(reply)[0] == 200
    assert backend_a.handle(genuine) == (401, None)


def test_redis_stopped_then_back_without_restarting_the_backend(
    redis_server: RedisServer,
) -> None:
    bk = hemproto.KeyPair.generate()
    store = RedisReplayStore.from_url(redis_server.url)
    backend = hemproto.Backend(bk, replay=store)
    assert backend.process(new_check(bk.public)).status == 200
    backend.ping()

    redis_server.stop()
    for _ in range(5):
        result = backend.process(new_check(bk.public))
        assert (result.status, result.body) == (503, None)
        assert "connection refused" in result.reason
    with pytest.raises(hemproto.ReplayStoreUnavailable):
        backend.ping()

    async def down() -> None:
        assert (await backend.process_async(new_check(bk.public))).status == 503
        with pytest.raises(hemproto.ReplayStoreUnavailable):
            await backend.ping_async()

    asyncio.run(down())

    redis_server.restart()
    backend.ping()
    for _ in range(5):
        assert backend.process(new_check(bk.public)).status == 200

    async def up() -> list[int]:
        await backend.ping_async()
        statuses = [(await backend.process_async(new_check(bk.public))).status for _ in range(5)]
        await store.aclose()
        return statuses

    assert asyncio.run(up()) == [200] * 5
    store.close()


def test_a_paused_redis_fails_each_request_within_the_bound_then_recovers(
    redis_server: RedisServer,
) -> None:
    assert DEFAULT_TIMEOUT == 0.5
    bk = hemproto.KeyPair.generate()
    store = RedisReplayStore.from_url(redis_server.url)
    backend = hemproto.Backend(bk, replay=store)
    assert backend.process(new_check(bk.public)).status == 200  # a pooled connection

    redis_server.pause()
    for _ in range(3):
        result, seconds = timed(lambda: backend.process(new_check(bk.public)))
        assert result.status == 503 and "timeout" in result.reason, result
        assert seconds < FAILS_WITHIN
    failure, seconds = timed(backend.ping)
    assert isinstance(failure, hemproto.ReplayStoreUnavailable) and seconds < FAILS_WITHIN

    async def paused() -> tuple[list[int], float]:
        # Many requests at once: each fails within the bound, none waits on the others.
        start = time.monotonic()
        results = await asyncio.gather(
            *[backend.process_async(new_check(bk.public)) for _ in range(100)]
        )
        return [r.status for r in results], time.monotonic() - start

    statuses, seconds = asyncio.run(paused())
    assert statuses == [503] * 100 and seconds < FAILS_WITHIN

    redis_server.resume()
    backend.ping()
    assert [backend.process(new_check(bk.public)).status for _ in range(5)] == [200] * 5

    async def resumed() -> list[int]:
        results = [await backend.process_async(new_check(bk.public)) for _ in range(5)]
        await store.aclose()
        return [r.status for r in results]

    assert asyncio.run(resumed()) == [200] * 5
    store.close()


def test_a_check_refused_for_a_fault_is_never_answered_twice(
    redis_server: RedisServer,
) -> None:
    # A SET whose reply timed out may still be applied when Redis resumes: the check was
    # refused (503) and a resend is then refused as seen (401). Never two 200s.
    bk = hemproto.KeyPair.generate()
    store = RedisReplayStore.from_url(redis_server.url)
    backend = hemproto.Backend(bk, replay=store)
    backend.ping()
    check = new_check(bk.public)
    redis_server.pause()
    assert backend.process(check).status == 503
    redis_server.resume()
    statuses = [backend.process(check).status for _ in range(3)]
    assert statuses in ([200, 401, 401], [401, 401, 401])
    store.close()
