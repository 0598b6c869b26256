"""The suite's own guard: a test that leaves SIGALRM behind fails by name.

A timer left armed would otherwise end the whole run later, inside whichever test is
running when it fires, with nothing but "Alarm clock". Each case runs a small suite in a
child pytest with this directory's conftest.py, so the guard checked is the one in use.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent

CASES = {
    # A timer far enough off that it cannot fire during the child run.
    "armed": "signal.setitimer(signal.ITIMER_REAL, 600)",
    "handler": "signal.signal(signal.SIGALRM, lambda signum, frame: None)",
}


def run_child(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(HERE / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_child.py").write_text(
        f"import signal\n\n\ndef test_leaves_it():\n    {body}\n\n\ndef test_after():\n    pass\n"
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_test_that_leaves_sigalrm_behind_fails(case: str, tmp_path: Path) -> None:
    result = run_child(tmp_path, CASES[case])
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the test left SIGALRM behind" in result.stdout
    # Reported at the teardown of the test that did it (the test itself passed); the guard
    # puts things back, so the next test runs as usual and the run ends normally.
    assert "ERROR test_child.py::test_leaves_it" in result.stdout
    assert "2 passed, 1 error" in result.stdout


def test_a_test_that_restores_sigalrm_passes(tmp_path: Path) -> None:
    body = (
        "previous = signal.signal(signal.SIGALRM, lambda signum, frame: None)\n"
        "    signal.setitimer(signal.ITIMER_REAL, 600)\n"
        "    signal.setitimer(signal.ITIMER_REAL, 0)\n"
        "    signal.signal(signal.SIGALRM, previous)"
    )
    result = run_child(tmp_path, body)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
