"""Helpers that damage a token in one place, to prove every damage is refused."""

from __future__ import annotations

from collections.abc import Iterator

_SWAP = {"A": "B", "a": "b", "0": "1", "-": "_", "_": "-", ".": "A"}


def flip_char(token: str, index: int) -> str:
    """Replace the character at ``index`` with a different base64url character."""
    old = token[index]
    new = _SWAP.get(old, "A" if old != "A" else "B")
    return token[:index] + new + token[index + 1 :]


def drop_char(token: str, index: int) -> str:
    return token[:index] + token[index + 1 :]


def every_single_change(token: str) -> Iterator[tuple[str, str]]:
    """Yield (description, damaged token) for every one-character flip and drop."""
    for index in range(len(token)):
        yield f"flip@{index}", flip_char(token, index)
        yield f"drop@{index}", drop_char(token, index)
