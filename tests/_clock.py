"""A clock for tests: it moves only when told to (unix or monotonic, as the role needs)."""

from __future__ import annotations


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
