"""The project's performance goals: what each is, its limit, and which way it points.

A goal is held by the cases it is about (``Case.goals`` in ``cases``), never found by the
name of an entry, so a renamed or removed case cannot quietly lose its goal; ``report``
checks the goals against a run. Nothing here imports the rest of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

__all__ = [
    "GOALS",
    "Goal",
]


@dataclass(frozen=True, slots=True)
class Goal:
    """One goal, as a case holds it: the case's median (over the fastest of ``versus``,
    when given) must be at most, or at least, ``limit``.

    ``versus`` are keys of entries in the case's own group: the reference is the fastest
    of them that ran (the faster of two X25519 floors, say). Without ``versus`` the median
    itself is the figure (bytes, for a memory goal). ``memory`` reads the case's peak
    bytes per call, from the memory group of its group, instead of its time.

    Several cases may hold the same goal (every hostile input, every decoder size): the
    goal is then one target, and its figure is the case furthest from the limit.
    """

    name: str
    limit: float
    at_most: bool  # True: the figure must be <= limit; False: >= limit
    unit: Literal["x", "B"] = "x"
    versus: tuple[str, ...] = ()
    memory: bool = False

    def against(self, *keys: str) -> Goal:
        """This goal, its figure being the ratio to the fastest of these entries."""
        if not keys:
            raise ValueError(f"{self.name}: a ratio needs at least one entry to divide by")
        return replace(self, versus=keys)

    def worse(self, figure: float, other: float) -> bool:
        """Whether ``figure`` is further from the limit than ``other`` (or past it by more)."""
        return figure > other if self.at_most else figure < other


# In the order a report lists them: the check-in path first, then the peers, then the codec.
VERIFY_CHECK_FLOOR = Goal("verify_check / fastest bare X25519", 1.15, at_most=True)
HANDLE_FLOOR = Goal("Backend.handle(raw body) / fastest bare X25519", 1.2, at_most=True)
JOSERFC = Goal("joserfc / verify_ejwt", 2, at_most=False)
PYJWT = Goal("PyJWT / verify_ejwt", 8, at_most=False)
STDLIB_DECODE = Goal("stdlib / C b64url_decode 600", 2, at_most=False)
PYBASE64_DECODE = Goal("pybase64 / C b64url_decode 600", 1, at_most=False)
FALLBACK_DECODE = Goal("Python fallback / C decode, slowest size", 1, at_most=False)
WORST_HANDLE = Goal("worst case at the cap / Backend.handle", 3, at_most=True)
PEAK_VERIFY_CHECK = Goal("peak bytes per verify_check", 16384, at_most=True, unit="B", memory=True)

GOALS: tuple[Goal, ...] = (
    VERIFY_CHECK_FLOOR,
    HANDLE_FLOOR,
    JOSERFC,
    PYJWT,
    STDLIB_DECODE,
    PYBASE64_DECODE,
    FALLBACK_DECODE,
    WORST_HANDLE,
    PEAK_VERIFY_CHECK,
)
