"""A replay store in Redis, shared by every backend instance that points at it.

It owns the Redis record of a check's first use (one ``SET ... NX PX``), the connection
pools (blocking and asyncio), the time bounds on every call and the mapping of each Redis
fault to ``ReplayStoreUnavailable``. It never puts a URL or a password in a message or repr.
Import it explicitly (``hemproto.redis_store``); it needs ``pip install 'hemproto[redis]'``.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import math
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

try:
    import redis
    import redis.asyncio as aioredis
    from redis import exceptions as rex
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import NoBackoff
    from redis.retry import Retry
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError("hemproto.redis_store needs redis-py: pip install 'hemproto[redis]'") from exc

from .errors import ReplayStoreUnavailable
from .replay import REPLAY_KEY_SIZE

__all__ = [
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_PREFIX",
    "DEFAULT_TIMEOUT",
    "RedisReplayStore",
    "RedisUnavailable",
    "fault_kind",
]

DEFAULT_PREFIX = "hemproto:replay:"
# Every blocking step (waiting for a pooled connection, connecting, each reply) is bounded
# by this many seconds, so a slow or paused Redis turns into 503s instead of a pile of
# requests waiting on it. A local round trip takes tens of microseconds: 0.5 s is only
# ever reached by a Redis that is not answering.
DEFAULT_TIMEOUT = 0.5
DEFAULT_MAX_CONNECTIONS = 64

# A record whose deadline has already passed is still kept this long (milliseconds), so
# that a duplicate arriving at the same moment is refused all the same.
_MIN_TTL_MS = 1000


class RedisUnavailable(ReplayStoreUnavailable):
    """Redis could not answer. ``fault`` names the kind of fault (``"timeout"``,
    ``"connection refused"``, ``"read-only replica"``, ``"authentication failed"``...),
    never the URL, host or password."""

    def __init__(self, fault: str) -> None:
        super().__init__(f"Redis replay store unavailable: {fault}")
        self.fault = fault


def _in_chain(exc: BaseException, kind: type[BaseException]) -> bool:
    # redis-py raises its ConnectionError while handling the socket's OSError, so the
    # cause of a network fault sits in __context__.
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _errno_in_chain(exc: BaseException) -> int | None:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, OSError) and seen.errno is not None:
            return seen.errno
        seen = seen.__cause__ or seen.__context__
    return None


def _error_code(exc: BaseException) -> str:
    # Redis error replies start with an upper-case code (MISCONF, CLUSTERDOWN, ...): name
    # it, and nothing else of the reply.
    words = str(exc).split(maxsplit=1)
    code = words[0] if words else ""
    if 1 <= len(code) <= 24 and code.isascii() and code.isalpha() and code.isupper():
        return f"error reply {code}"
    return "error reply"


def fault_kind(exc: BaseException) -> str:
    """A short name for the kind of a Redis fault, with nothing from its message but an
    error reply's upper-case code (messages carry the host and port)."""
    if isinstance(exc, (rex.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, (rex.AuthenticationError, rex.AuthenticationWrongNumberOfArgsError)):
        return "authentication failed"
    if isinstance(exc, (rex.NoPermissionError, rex.AuthorizationError)):
        return "permission denied"
    if isinstance(exc, rex.ReadOnlyError):
        return "read-only replica"
    if isinstance(exc, rex.OutOfMemoryError):
        return "out of memory"
    if isinstance(exc, rex.BusyLoadingError):
        return "loading its data"
    if isinstance(exc, rex.MaxConnectionsError):
        return "connection pool exhausted"
    if isinstance(exc, rex.ResponseError):
        return _error_code(exc)
    if isinstance(exc, rex.ConnectionError) and "No connection available" in str(exc):
        return "no free connection in the pool"
    if _in_chain(exc, ssl.SSLError):
        return "TLS error"
    code = _errno_in_chain(exc)
    if code == errno.ECONNREFUSED or _in_chain(exc, ConnectionRefusedError):
        return "connection refused"
    if code in (errno.ECONNRESET, errno.EPIPE) or _in_chain(exc, ConnectionResetError):
        return "connection reset"
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "host unreachable"
    if _in_chain(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, rex.ConnectionError):
        if "closed" in str(exc):
            return "connection closed"
        return "connection error"
    if isinstance(exc, OSError):
        return "network error"
    return f"client error ({type(exc).__name__})"


def _unavailable(exc: BaseException) -> RedisUnavailable:
    return RedisUnavailable(fault_kind(exc))


@dataclass(frozen=True, slots=True)
class _Server:
    """Where a URL points, with its credentials kept out of repr."""

    tls: bool
    host: str
    port: int
    db: int
    username: str | None
    password: str | None

    @property
    def address(self) -> str:
        scheme = "rediss" if self.tls else "redis"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/{self.db}"

    def __repr__(self) -> str:
        return f"_Server({self.address})"


def _parse_url(url: str) -> _Server:
    """``redis://[[user]:password@]host[:port][/db]`` or ``rediss://...`` (TLS).

    Stricter than redis-py's parser (which ignores a database number it cannot read), and
    every error message is fixed text: the URL may carry a password.
    """
    if not isinstance(url, str):
        raise TypeError("the Redis URL must be a str")
    try:
        parts = urlsplit(url)
        port = parts.port
        hostname = parts.hostname
    except ValueError:
        raise ValueError("malformed Redis URL (bad port or host)") from None
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError("a Redis URL must start with redis:// or rediss://")
    if not hostname:
        raise ValueError("a Redis URL needs a host")
    if parts.query or parts.fragment:
        raise ValueError(
            "query parameters in a Redis URL are not supported: pass options as arguments"
        )
    path = parts.path.strip("/")
    if path and not (path.isascii() and path.isdigit()):
        raise ValueError("the database in a Redis URL must be a number (e.g. /0)")
    db = int(path) if path else 0
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return _Server(
        tls=parts.scheme == "rediss",
        host=hostname,
        port=port if port is not None else 6379,
        db=db,
        username=username,
        password=password,
    )


def _no_client_setinfo() -> dict[str, Any]:
    # Each new connection would otherwise spend two round trips naming the library
    # (CLIENT SETINFO); redis-py 7 and later spell the switch driver_info, older ones
    # lib_name and lib_version.
    parameters = inspect.signature(redis.connection.AbstractConnection.__init__).parameters
    if "driver_info" in parameters:
        return {"driver_info": None}
    return {"lib_name": None, "lib_version": None}


_NO_CLIENT_SETINFO = _no_client_setinfo()


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number of seconds")
    return float(value)


def _ttl_ms(expires_at: float, now: float) -> int:
    # Milliseconds rounded up, plus one because Redis reads its own clock truncated to the
    # millisecond: so the record never expires before the check's deadline.
    if not math.isfinite(expires_at):
        raise ValueError("expires_at must be a finite unix time")
    return max(_MIN_TTL_MS, math.ceil((expires_at - now) * 1000) + 1)


class RedisReplayStore:
    """A :class:`hemproto.replay.ReplayStore` in Redis, safe to share between processes.

    A check's first use is one command, ``SET <prefix><key> 1 NX PX <ttl>``: Redis runs it
    atomically, so of any number of backends racing on one check exactly one gets "OK"
    (first sight) and the others nil (seen). ``key`` is the 96-byte replay key, stored raw
    after the prefix (Redis keys are binary; 112 bytes with the default prefix). ``ttl`` is
    ``expires_at`` minus this store's clock in milliseconds, rounded up (at least 1000: a
    deadline already past still records the key for a second). The expiry is relative, so
    the record lives as long as the check's window whatever the Redis host's clock says; an
    absolute ``PXAT`` would trust that clock, and one running ahead by more than the window
    would expire every record on arrival.

    A command is sent at most once: no retry, because a ``SET NX`` whose reply was lost may
    have been applied, and a retry would then see the check as already answered.

    Every Redis fault (refused, reset, timeout, read-only replica, authentication, out of
    memory, an error reply...) raises :class:`RedisUnavailable` (a
    ``ReplayStoreUnavailable``), so a backend answers 503: nothing is answered without a
    record. Build it with :meth:`from_url`, which bounds every wait and keeps a blocking
    pool and, for ``seen_before_async``, an asyncio pool; or pass clients of your own.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        async_client: aioredis.Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a str")
        self._client = client
        self._async_client = async_client
        self._async_factory: Callable[[], aioredis.Redis] | None = None
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._async_lock = threading.Lock()
        self._prefix = prefix.encode()
        self._clock = clock
        self._owns_pools = False
        kwargs = client.connection_pool.connection_kwargs
        self._address = _Server(
            tls=issubclass(client.connection_pool.connection_class, redis.SSLConnection),
            host=str(kwargs.get("host", "?")),
            port=int(kwargs.get("port", 6379)),
            db=int(kwargs.get("db", 0)),
            username=None,
            password=None,
        ).address

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        socket_timeout: float = DEFAULT_TIMEOUT,
        socket_connect_timeout: float = DEFAULT_TIMEOUT,
        pool_timeout: float = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        password: str | None = None,
        clock: Callable[[], float] = time.time,
        **connection_options: Any,
    ) -> RedisReplayStore:
        """A store for ``redis://[[user]:password@]host[:port][/db]`` (``rediss://`` for TLS).

        Every wait is bounded: ``pool_timeout`` for a free connection when
        ``max_connections`` are busy, ``socket_connect_timeout`` to connect, and
        ``socket_timeout`` for each reply (a new connection's handshake included). A Redis
        that does not answer makes a call fail after one of these waits: 0.5 s with the
        defaults, measured against a paused redis-server. A Redis that answers every step
        just within its limit costs the sum of the waits: pool, connect, then one reply
        each for AUTH (with a password), SELECT (a database other than 0) and the command,
        at most 2.5 s with the defaults. A Redis that refuses connections fails a call at
        once. Nothing is retried. ``max_connections`` holds per pool (the blocking pool and
        each event loop's). ``password``, when given,
        replaces the URL's (so that it need not sit in a URL on a command line).
        ``connection_options`` go to redis-py's connections unchanged (e.g. ``ssl_ca_certs``
        for ``rediss://``).
        """
        server = _parse_url(url)
        if password is not None:
            server = replace(server, password=password)
        socket_timeout = _positive("socket_timeout", socket_timeout)
        socket_connect_timeout = _positive("socket_connect_timeout", socket_connect_timeout)
        pool_timeout = _positive("pool_timeout", pool_timeout)
        if not (isinstance(max_connections, int) and max_connections >= 1):
            raise ValueError("max_connections must be at least 1")
        options: dict[str, Any] = {
            "host": server.host,
            "port": server.port,
            "db": server.db,
            "username": server.username,
            "password": server.password,
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_connect_timeout,
            "max_connections": max_connections,
            "timeout": pool_timeout,
            # RESP2: a new connection to database 0 without a password sends no handshake
            # at all (RESP3 first spends a round trip on HELLO); one SET needs nothing more.
            "protocol": 2,
            **_NO_CLIENT_SETINFO,
            **connection_options,
        }
        sync_pool = redis.BlockingConnectionPool(  # type: ignore[no-untyped-call]
            connection_class=redis.SSLConnection if server.tls else redis.Connection,
            retry=Retry(NoBackoff(), 0),
            **options,
        )

        def async_client() -> aioredis.Redis:
            pool = aioredis.BlockingConnectionPool(
                connection_class=aioredis.SSLConnection if server.tls else aioredis.Connection,
                retry=AsyncRetry(NoBackoff(), 0),
                **options,
            )
            return aioredis.Redis(connection_pool=pool)

        store = cls(redis.Redis(connection_pool=sync_pool), prefix=prefix, clock=clock)
        store._async_factory = async_client
        store._owns_pools = True
        store._address = server.address
        return store

    @property
    def prefix(self) -> str:
        return self._prefix.decode()

    def redis_key(self, key: bytes) -> bytes:
        """The Redis key that records ``key``: the prefix, then the 96 raw bytes."""
        key = bytes(key)
        if len(key) != REPLAY_KEY_SIZE:
            # A bare 32-byte jti here would bring back nonce squatting (hemproto.replay).
            raise ValueError(f"a replay key is {REPLAY_KEY_SIZE} bytes (aud || iss || jti)")
        return self._prefix + key

    def seen_before(self, key: bytes, expires_at: float) -> bool:
        name = self.redis_key(key)
        ttl = _ttl_ms(expires_at, self._clock())
        try:
            reply = self._client.set(name, b"1", nx=True, px=ttl)
        except Exception as exc:
            raise _unavailable(exc) from None
        return reply is None

    def ping(self) -> None:
        try:
            self._client.ping()
        except Exception as exc:
            raise _unavailable(exc) from None

    def _async(self) -> aioredis.Redis | None:
        # An asyncio connection belongs to the event loop that opened it, so each loop gets
        # its own pool (a server has one loop per process; tests start several).
        if self._async_factory is None:
            return self._async_client
        loop = asyncio.get_running_loop()
        with self._async_lock:
            if self._async_client is None or self._async_loop is not loop:
                self._async_client = self._async_factory()
                self._async_loop = loop
            return self._async_client

    async def seen_before_async(self, key: bytes, expires_at: float) -> bool:
        name = self.redis_key(key)
        ttl = _ttl_ms(expires_at, self._clock())
        client = self._async()
        if client is None:  # built on a blocking client only: keep the loop free
            return await asyncio.to_thread(self.seen_before, key, expires_at)
        try:
            reply = await client.set(name, b"1", nx=True, px=ttl)
        except Exception as exc:
            raise _unavailable(exc) from None
        return reply is None

    async def ping_async(self) -> None:
        client = self._async()
        if client is None:
            await asyncio.to_thread(self.ping)
            return
        try:
            await client.ping()
        except Exception as exc:
            raise _unavailable(exc) from None

    def close(self) -> None:
        """Close the blocking pool's connections (pools this store made only)."""
        if self._owns_pools:
            self._client.connection_pool.disconnect()

    async def aclose(self) -> None:
        """Close this event loop's asyncio pool (one this store made only)."""
        if self._owns_pools and self._async_client is not None:
            if self._async_loop is asyncio.get_running_loop():
                await self._async_client.connection_pool.disconnect()
            self._async_client = None
            self._async_loop = None

    def __repr__(self) -> str:
        return f"RedisReplayStore({self._address}, prefix={self.prefix!r})"
