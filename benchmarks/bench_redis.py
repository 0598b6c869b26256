"""What a replay record in Redis costs per check, next to the in-memory store.

    python benchmarks/bench_redis.py [--url redis://127.0.0.1:6379/0] [--rounds 9] [--calls 2000]

Without ``--url`` (or ``HEMPROTO_TEST_REDIS_URL``) it starts a private redis-server on
127.0.0.1 and stops it at the end. It prints, per entry, the median time per call over
``--rounds`` rounds of ``--calls`` calls and the spread of the rounds (min to max), and
checks every result: a first use must answer False, a check 200. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import hemproto
from hemproto.redis_store import RedisReplayStore

FIELDS: dict[str, Any] = dict(qid=bytes(32), fws=bytes(64), bls=bytes(64), csn=bytes(16))
T = TypeVar("T")


@contextmanager
def redis_for_the_run(url: str | None) -> Iterator[tuple[str, subprocess.Popen[bytes] | None]]:
    """The URL of the Redis to measure, and its process when this script started it."""
    if url:
        yield url, None
        return
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("no --url and no redis-server on PATH")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", directory],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    RedisReplayStore.from_url(f"redis://127.0.0.1:{port}/0").ping()
                    break
                except hemproto.ReplayStoreUnavailable:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0", process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait(timeout=10)


def keys(count: int) -> list[bytes]:
    return [
        hemproto.replay_key(os.urandom(32), os.urandom(32), os.urandom(32)) for _ in range(count)
    ]


def time_sync(call: Callable[[T], object], inputs: list[T]) -> float:
    """Nanoseconds per call, one call after another."""
    start = time.perf_counter_ns()
    for item in inputs:
        call(item)
    return (time.perf_counter_ns() - start) / len(inputs)


def time_async(call: Callable[[T], Awaitable[object]], inputs: list[T], concurrency: int) -> float:
    """Nanoseconds per call (wall time / calls) with ``concurrency`` calls in flight."""

    async def run() -> float:
        queue = iter(inputs)

        async def worker() -> None:
            for item in queue:
                await call(item)

        start = time.perf_counter_ns()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return (time.perf_counter_ns() - start) / len(inputs)

    return asyncio.run(run())


def report(name: str, per_call_ns: list[float]) -> None:
    median = statistics.median(per_call_ns)
    low, high = min(per_call_ns), max(per_call_ns)
    print(
        f"{name:<56} {median / 1000:8.1f} us  "
        f"({low / 1000:.1f} to {high / 1000:.1f}; {1e9 / median:8,.0f} /s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("HEMPROTO_TEST_REDIS_URL"))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    rounds, calls = args.rounds, args.calls
    later = time.time() + 600

    def fresh(seen: bool) -> None:
        if seen:
            raise AssertionError("a fresh key reported as seen")

    def ok(result: hemproto.CheckinResult) -> None:
        if result.status != 200:
            raise AssertionError(f"a fresh check was refused: {result.reason}")

    def measure(name: str, one_round: Callable[[], float]) -> None:
        one_round()  # warm-up: connections opened, code paths loaded
        report(name, [one_round() for _ in range(rounds)])

    with redis_for_the_run(args.url) as (url, process):
        store = RedisReplayStore.from_url(url, prefix=f"hemproto-bench:{os.getpid()}:")
        memory = hemproto.MemoryReplayStore(max_entries=rounds * calls * 4)
        print(
            f"hemproto {hemproto.__version__}, codec {hemproto.active_codec()}, "
            f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.2f}; {rounds} rounds x {calls} calls; "
            "median per call (min to max of the rounds; calls per second)"
        )

        def memory_first_use(key: bytes) -> None:
            fresh(memory.seen_before(key, later))

        def redis_first_use(key: bytes) -> None:
            fresh(store.seen_before(key, later))

        async def redis_first_use_async(key: bytes) -> None:
            fresh(await store.seen_before_async(key, later))

        measure("MemoryReplayStore.seen_before", lambda: time_sync(memory_first_use, keys(calls)))
        measure(
            "RedisReplayStore.seen_before (blocking)",
            lambda: time_sync(redis_first_use, keys(calls)),
        )
        for concurrency in (1, 16, 64):
            measure(
                f"RedisReplayStore.seen_before_async, {concurrency} in flight",
                lambda c=concurrency: time_async(redis_first_use_async, keys(calls), c),  # type: ignore[misc]
            )

        backend_key = hemproto.KeyPair.generate()
        on_memory = hemproto.Backend(
            backend_key, replay=hemproto.MemoryReplayStore(max_entries=rounds * calls * 4)
        )
        on_redis = hemproto.Backend(backend_key, replay=store)

        def checks() -> list[dict[str, str]]:
            device = hemproto.KeyPair.generate()
            return [
                {"check": hemproto.sign_check(device, backend_key.public, **FIELDS)}
                for _ in range(calls)
            ]

        async def on_redis_async(body: dict[str, str]) -> None:
            ok(await on_redis.process_async(body))

        measure(
            "Backend.process, MemoryReplayStore",
            lambda: time_sync(lambda body: ok(on_memory.process(body)), checks()),
        )
        measure(
            "Backend.process, RedisReplayStore",
            lambda: time_sync(lambda body: ok(on_redis.process(body)), checks()),
        )
        for concurrency in (1, 64):
            measure(
                f"Backend.process_async, RedisReplayStore, {concurrency} in flight",
                lambda c=concurrency: time_async(on_redis_async, checks(), c),  # type: ignore[misc]
            )
        if process is not None:
            faults(process, on_redis, checks)
        store.close()


def faults(
    process: subprocess.Popen[bytes],
    backend: hemproto.Backend,
    checks: Callable[[], list[dict[str, str]]],
) -> None:
    """How long a check takes to be refused (503) when Redis is paused, then stopped."""
    needed = 5 + 100 + 1000 + 200
    batches: list[list[dict[str, str]]] = []
    while sum(len(batch) for batch in batches) < needed:
        batches.append(checks())
    bodies = iter([body for batch in batches for body in batch])

    def refused() -> float:
        start = time.perf_counter()
        if backend.process(next(bodies)).status != 503:
            raise AssertionError("answered without Redis")
        return time.perf_counter() - start

    async def refused_at_once(count: int) -> float:
        start = time.perf_counter()
        results = await asyncio.gather(*[backend.process_async(next(bodies)) for _ in range(count)])
        if any(result.status != 503 for result in results):
            raise AssertionError("answered without Redis")
        return time.perf_counter() - start

    print("faults (default timeouts: 0.5 s to connect, 0.5 s per reply, 0.5 s for the pool)")
    process.send_signal(signal.SIGSTOP)
    try:
        paused = [refused() for _ in range(5)]
        print(f"  Redis paused: Backend.process refused in {statistics.median(paused):.3f} s "
              f"(median of 5; {min(paused):.3f} to {max(paused):.3f})")  # fmt: skip
        for count in (100, 1000):
            wall = asyncio.run(refused_at_once(count))
            print(f"  Redis paused: {count} Backend.process_async at once, all refused "
                  f"within {wall:.3f} s")  # fmt: skip
    finally:
        process.send_signal(signal.SIGCONT)
    process.kill()
    process.wait(timeout=10)
    down = [refused() for _ in range(200)]
    print(f"  Redis stopped: Backend.process refused in {statistics.median(down) * 1e6:.0f} us "
          f"(median of 200)")  # fmt: skip


if __name__ == "__main__":
    main()
