"""What a backend knows about releases, and the policy that turns a check into an action.

It owns the release registry (firmware, bootloader and dashboard signatures with a version
and a status) and the decision: which ``act`` and which ``newfws``/``newuis`` to send. It
verifies no signature and does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .claims import ACTIONS, CheckChallenge

__all__ = [
    "COMPONENTS",
    "Decision",
    "Policy",
    "Release",
    "ReleaseRegistry",
]

Component = Literal["firmware", "bootloader", "dashboard"]
Status = Literal["current", "outdated", "revoked"]
Assessment = Literal["current", "outdated", "revoked", "unknown"]

# Component -> (claim in the check, size of its signature or hash).
COMPONENTS: dict[str, tuple[str, int]] = {
    "firmware": ("fws", 64),
    "bootloader": ("bls", 64),
    "dashboard": ("uis", 32),
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
