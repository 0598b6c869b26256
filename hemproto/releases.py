"""What a backend knows about releases, and the policy that turns a check into an action.

It owns the release registry (firmware, bootloader and dashboard signatures with a version
and a status), its TOML file and the watcher that reloads that file in a running server,
and the decision: which ``act`` and which ``newfws``/``newuis`` to send. It verifies no
signature; its only I/O is reading the release file it is pointed at.
"""

from __future__ import annotations

import logging
import math
import os
import stat
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from . import _codec
from .claims import CheckChallenge
from .errors import EncodingError, ReleaseFileError
from .schema import ACTIONS, CHECK_SIZES

__all__ = [
    "COMPONENTS",
    "MAX_RELEASE_FILE_SIZE",
    "Decision",
    "Policy",
    "Release",
    "ReleaseFileWatcher",
    "ReleaseRegistry",
]

Component = Literal["firmware", "bootloader", "dashboard"]
Status = Literal["current", "outdated", "revoked"]
Assessment = Literal["current", "outdated", "revoked", "unknown"]

# Component -> (claim in the check, size of its signature or hash, from the claim table).
COMPONENTS: dict[str, tuple[str, int]] = {
    component: (claim, CHECK_SIZES[claim])
    for component, claim in (("firmware", "fws"), ("bootloader", "bls"), ("dashboard", "uis"))
}
_STATUSES = ("current", "outdated", "revoked")
# Worst first: the worst finding over all components picks the action.
_SEVERITY = ("revoked", "unknown", "outdated", "current")


@dataclass(frozen=True, slots=True)
class Release:
    """One published release of a component: its signature (or hash), version and status."""

    component: str
    signature: bytes
    version: str
    status: str = "current"

    def __post_init__(self) -> None:
        if self.component not in COMPONENTS:
            raise ValueError(f"component must be one of {', '.join(COMPONENTS)}")
        size = COMPONENTS[self.component][1]
        if type(self.signature) is not bytes or len(self.signature) != size:
            raise ValueError(f"{self.component} signature must be {size} bytes")
        if self.status not in _STATUSES:
            raise ValueError(f"status must be one of {', '.join(_STATUSES)}")
        if not isinstance(self.version, str) or not self.version:
            raise ValueError("version must be a non-empty string")


class ReleaseRegistry:
    """Known releases by component and signature; at most one current release per component."""

    def __init__(self, releases: Iterable[Release] = ()) -> None:
        self._by_signature: dict[tuple[str, bytes], Release] = {}
        self._current: dict[str, Release] = {}
        for release in releases:
            self.add(release)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ReleaseRegistry:
        """Load a release file (TOML, one ``[[release]]`` table per release; the schema is
        in docs/releases.md). Raises ReleaseFileError naming the file, the entry and the
        field at fault."""
        name = os.fspath(path)
        return _registry_from_toml(_read_release_file(name)[0], name)

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<toml>") -> ReleaseRegistry:
        """:meth:`from_file` for TOML already in memory; ``source`` names it in errors."""
        return _registry_from_toml(text, source)

    def add(self, release: Release) -> Release:
        if (release.component, release.signature) in self._by_signature:
            raise ValueError(f"{release.component} release {release.version} is already known")
        current = self.current(release.component)
        if release.status == "current" and current is not None:
            raise ValueError(
                f"{release.component} already has a current release ({current.version})"
            )
        self._by_signature[(release.component, release.signature)] = release
        if release.status == "current":
            self._current[release.component] = release
        return release

    def lookup(self, component: str, signature: bytes | None) -> Release | None:
        if signature is None:
            return None
        return self._by_signature.get((component, signature))

    def current(self, component: str) -> Release | None:
        return self._current.get(component)

    def assess(self, component: str, signature: bytes | None) -> Assessment:
        release = self.lookup(component, signature)
        return "unknown" if release is None else release.status  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self._by_signature)

    def __iter__(self) -> Iterator[Release]:
        """The releases in the order they were added."""
        return iter(tuple(self._by_signature.values()))

    def __repr__(self) -> str:
        return f"ReleaseRegistry({len(self)} releases)"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the backend answers: the action, the update hints, and why (for logs)."""

    act: str
    newfws: bytes | None = None
    newuis: bytes | None = None
    findings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    """The action for each finding; the worst finding over all components wins.

    Defaults: genuine current and outdated releases get ``OK`` (outdated ones with the
    current release's signature in ``newfws``/``newuis``); an unknown release is reported
    (``R``: it may be a build the registry has not heard of, not proof of tampering); a
    revoked release is locked (``L``: it is known bad, and a lock keeps the device's data
    safe without destroying it as a wipe would).
    """

    current: str = "OK"
    outdated: str = "OK"
    unknown: str = "R"
    revoked: str = "L"

    def __post_init__(self) -> None:
        for finding in _SEVERITY:
            if getattr(self, finding) not in ACTIONS:
                raise ValueError(f"policy action for {finding} must be one of {ACTIONS}")

    def decide(self, check: CheckChallenge, registry: ReleaseRegistry) -> Decision:
        findings: list[str] = []
        worst = "current"
        hints: dict[str, bytes | None] = {"firmware": None, "dashboard": None}
        for component, (claim, _) in COMPONENTS.items():
            signature = getattr(check, claim)
            if signature is None:  # a device without a dashboard
                continue
            assessment = registry.assess(component, signature)
            release = registry.lookup(component, signature)
            version = f" {release.version}" if release else ""
            findings.append(f"{component}{version}: {assessment}")
            if _SEVERITY.index(assessment) < _SEVERITY.index(worst):
                worst = assessment
            newest = registry.current(component)
            if assessment in ("outdated", "revoked") and component in hints and newest:
                hints[component] = newest.signature
        return Decision(
            act=getattr(self, worst),
            newfws=hints["firmware"],
            newuis=hints["dashboard"],
            findings=tuple(findings),
        )


# --- the release file ----------------------------------------------------------------------

# Thousands of releases fit in well under this; a larger file is a mistake, not a registry.
MAX_RELEASE_FILE_SIZE = 4 * 1024 * 1024
_FIELDS = ("component", "version", "status", "signature")
# Names and reasons taken from a file are cut to this in messages (they go to logs).
_MAX_NAME = 40
_MAX_REASON = 300
# (device, inode, size, modification time in ns): a file replaced by rename gets a new
# inode, one rewritten in place a new size or time.
_Stamp = tuple[int, int, int, int]

log = logging.getLogger("hemproto.releases")


def _stamp(info: os.stat_result) -> _Stamp:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _read_release_file(name: str) -> tuple[str, _Stamp]:
    """The text of a release file and the stamp of what was read."""

    def refuse(problem: str) -> ReleaseFileError:
        return ReleaseFileError(f"{name}: {problem}", path=name)

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(name, flags)
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror or type(exc).__name__}") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):  # checked before fdopen, which refuses a directory
            raise refuse("not a regular file")
    except BaseException:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as handle:
        try:
            data = handle.read(MAX_RELEASE_FILE_SIZE + 1)
        except OSError as exc:
            raise refuse(f"cannot read: {exc.strerror or type(exc).__name__}") from None
    if len(data) > MAX_RELEASE_FILE_SIZE:
        raise refuse(f"larger than {MAX_RELEASE_FILE_SIZE} bytes")
    try:
        return data.decode("utf-8"), _stamp(info)
    except UnicodeDecodeError as exc:
        raise refuse(f"not UTF-8 text (byte offset {exc.start})") from None


def _shown(name: object) -> str:
    text = repr(name)
    return text if len(text) <= _MAX_NAME else text[: _MAX_NAME - 3] + "..."


def _registry_from_toml(text: str, source: str) -> ReleaseRegistry:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReleaseFileError(f"{source}: not valid TOML: {exc}", path=source) from None
    for key in document:
        if key == "policy":
            raise ReleaseFileError(
                f"{source}: the policy is not read from the release file; pass "
                "Policy(...) to the Backend (see docs/releases.md)",
                path=source,
                field=key,
            )
        if key != "release":
            raise ReleaseFileError(
                f"{source}: unknown top-level key {_shown(key)} (only [[release]] tables)",
                path=source,
                field=key[:_MAX_NAME],
            )
    entries = document.get("release")
    if entries is None:
        # An empty file is more often a truncated one than a registry that knows nothing.
        raise ReleaseFileError(f"{source}: no [[release]] entries", path=source)
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ReleaseFileError(
            f"{source}: 'release' must be an array of tables ([[release]] entries)",
            path=source,
            field="release",
        )
    registry = ReleaseRegistry()
    for index, entry in enumerate(entries):
        _add_entry(registry, entry, index, source)
    return registry


def _add_entry(
    registry: ReleaseRegistry, entry: Mapping[str, Any], index: int, source: str
) -> None:
    def refuse(field: str, problem: str) -> ReleaseFileError:
        return ReleaseFileError(
            f"{source}: release[{index}].{field}: {problem}", path=source, index=index, field=field
        )

    for key in entry:
        if key not in _FIELDS:
            raise refuse(key[:_MAX_NAME], f"unknown field (the fields are {', '.join(_FIELDS)})")
    for key in _FIELDS:
        if key not in entry:
            raise refuse(key, "missing")
        if not isinstance(entry[key], str):
            raise refuse(key, f"must be a string, not {_toml_type(entry[key])}")
    component, version, status = entry["component"], entry["version"], entry["status"]
    if component not in COMPONENTS:
        raise refuse("component", f"{_shown(component)} is not one of {', '.join(COMPONENTS)}")
    if not version.strip():
        raise refuse("version", "must not be empty")
    if status not in _STATUSES:
        raise refuse("status", f"{_shown(status)} is not one of {', '.join(_STATUSES)}")
    size = COMPONENTS[component][1]
    try:
        signature = _codec.b64_decode(entry["signature"])
    except EncodingError as exc:
        raise refuse(
            "signature", f"not canonical standard base64 ({exc.reason} at offset {exc.offset})"
        ) from None
    if len(signature) != size:
        raise refuse("signature", f"a {component} needs {size} bytes, this is {len(signature)}")
    known = registry.lookup(component, signature)
    if known is not None:
        raise refuse("signature", f"the same {component} signature as version {known.version}")
    current = registry.current(component)
    if status == "current" and current is not None:
        raise refuse(
            "status", f"a second current {component} (version {current.version} is current)"
        )
    registry.add(Release(component, signature, version, status))


def _toml_type(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", list: "an array"}
    return names.get(type(value), "a table" if isinstance(value, dict) else "a date or time")


class ReleaseFileWatcher:
    """A release file loaded now and reloaded when it changes, for a running server.

    Call :meth:`poll` as often as you like (on every request): it looks at the file with
    one ``stat`` at most once per ``interval`` seconds of ``clock`` and reloads it only
    when its inode, size or modification time changed. A file that has become invalid,
    unreadable or missing leaves the previous registry in use and logs why, once per
    problem, on the ``hemproto.releases`` logger at WARNING. ``on_change`` is called with
    each newly loaded registry (not the first), in the thread that polled.

    The first load happens in the constructor and raises ReleaseFileError: a server should
    not start without its registry. Replace the file atomically (write a new file beside
    it, then rename it over the old one) so that a reload never sees half a file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        interval: float = 1.0,
        on_change: Callable[[ReleaseRegistry], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (math.isfinite(interval) and interval >= 0):
            raise ValueError("interval must be a finite number of seconds, 0 or more")
        self.path = os.fspath(path)
        self.interval = interval
        self._on_change = on_change
        self._clock = clock
        # Polls that find another poll at work return at once instead of waiting for it.
        self._busy = threading.Lock()
        text, self._stamp = _read_release_file(self.path)
        self._registry = _registry_from_toml(text, self.path)
        self._problem: str | None = None
        self._next_look = clock() + interval

    @property
    def registry(self) -> ReleaseRegistry:
        """The registry in use: the last one that loaded without error."""
        return self._registry

    @property
    def problem(self) -> str | None:
        """Why the file on disk is not the registry in use, or None when it is."""
        return self._problem

    def poll(self, *, force: bool = False) -> ReleaseRegistry:
        """The registry to use now, reloaded first if the file changed; ``force`` looks at
        the file whatever the interval (e.g. on SIGHUP)."""
        now = self._clock()
        if not force and now < self._next_look:
            return self._registry
        if not self._busy.acquire(blocking=False):
            return self._registry
        try:
            self._next_look = now + self.interval
            changed = self._look()
        finally:
            self._busy.release()
        if changed and self._on_change is not None:
            self._on_change(self._registry)
        return self._registry

    def _look(self) -> bool:
        try:
            stamp = _stamp(os.stat(self.path))
        except OSError as exc:
            self._keep(f"{self.path}: cannot read: {exc.strerror or type(exc).__name__}")
            return False
        if stamp == self._stamp:
            return False
        try:
            text, stamp = _read_release_file(self.path)
            registry = _registry_from_toml(text, self.path)
        except ReleaseFileError as exc:
            self._stamp = stamp  # an unchanged bad file is not read again
            self._keep(str(exc))
            return False
        self._stamp, self._registry, self._problem = stamp, registry, None
        log.info("release file %s reloaded: %d releases", self.path, len(registry))
        return True

    def _keep(self, problem: str) -> None:
        problem = problem if len(problem) <= _MAX_REASON else problem[: _MAX_REASON - 3] + "..."
        if problem != self._problem:
            log.warning(
                "release file not reloaded, still using the previous %d releases: %s",
                len(self._registry),
                problem,
            )
        self._problem = problem

    def __repr__(self) -> str:
        return f"ReleaseFileWatcher({self.path!r}, {len(self._registry)} releases)"
