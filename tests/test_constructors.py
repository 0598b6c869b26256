"""Each frozen result class is built past its generated ``__init__`` in one place only.

CheckChallenge._validated and CheckinResult._answered fill an unfrozen twin and assign
``__class__``; nowhere else in the package may assign ``__class__`` or set a field through
``object.__setattr__``. Read from the code, so a new shortcut elsewhere fails here.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import hemproto
from hemproto.backend import CheckinResult
from hemproto.claims import CheckChallenge

PACKAGE = Path(hemproto.__file__).resolve().parent
# (class, method) pairs allowed to build an instance past its __init__.
CONSTRUCTORS = {("CheckChallenge", "_validated"), ("CheckinResult", "_answered")}


def _tricks(tree: ast.Module) -> list[tuple[str | None, str | None, int]]:
    """(class, function, line) of each __class__ assignment and object.__setattr__ call."""
    found: list[tuple[str | None, str | None, int]] = []

    def visit(node: ast.AST, cls: str | None, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner_cls, inner_function = cls, function
            if isinstance(child, ast.ClassDef):
                inner_cls, inner_function = child.name, None
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner_function = child.name
            if isinstance(child, ast.Assign) and any(
                isinstance(target, ast.Attribute) and target.attr == "__class__"
                for target in child.targets
            ):
                found.append((cls, function, child.lineno))
            if (
                isinstance(child, ast.Attribute)
                and child.attr == "__setattr__"
                and isinstance(child.value, ast.Name)
                and child.value.id == "object"
            ):
                found.append((cls, function, child.lineno))
            visit(child, inner_cls, inner_function)

    visit(tree, None, None)
    return found


def test_only_the_documented_constructors_bypass_init() -> None:
    seen: set[tuple[str | None, str | None]] = set()
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for cls, function, line in _tricks(tree):
            assert (cls, function) in CONSTRUCTORS, f"{path.name}:{line} in {cls}.{function}"
            seen.add((cls, function))
    # Both constructors still use the trick (else this test would guard nothing).
    assert seen == CONSTRUCTORS


def test_the_scanner_sees_both_forms_of_the_trick() -> None:
    source = (
        "class A:\n"
        "    def m(self):\n"
        "        x.__class__ = B\n"
        "def f():\n"
        "    object.__setattr__(y, 'a', 1)\n"
    )
    assert _tricks(ast.parse(source)) == [("A", "m", 3), (None, "f", 5)]


def test_answered_gives_a_frozen_checkin_result(seed_challenge: CheckChallenge) -> None:
    decision = hemproto.Decision("OK")
    result = CheckinResult._answered(seed_challenge, decision, 1700000000, "token")
    assert type(result) is CheckinResult
    assert result == CheckinResult(
        200, {"checked": "token"}, seed_challenge, decision, 1700000000, ""
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.status = 400  # type: ignore[misc]
