"""Run the command line as a user would: a separate process, the installed package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import hemproto

# The directory that holds the hemproto package this test process imported, so the child
# process imports the same one (installed or source tree) whatever its working directory.
PACKAGE_PARENT = str(Path(hemproto.__file__).resolve().parent.parent)


def run_cli(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "hemproto", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
