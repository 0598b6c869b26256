"""Packaging: the wheel carries the compiled codec and the bench engine beside the library,
the sdist carries csrc/, and a machine without a C compiler still installs (unless
HEMPROTO_REQUIRE_C=1 says it must not)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (REPO / "setup.py").exists(), reason="needs the source tree"),
]


def _library_sources() -> tuple[str, ...]:
    """The C library's sources as csrc/build_codec.py lists them (LIBRARY), read as text."""
    text = (REPO / "csrc" / "build_codec.py").read_text(encoding="utf-8")
    (line,) = [line for line in text.splitlines() if line.startswith("LIBRARY = ")]
    names = ast.literal_eval(line.split("=", 1)[1].strip())
    assert isinstance(names, tuple) and all(isinstance(name, str) for name in names)
    return names


LIBRARY = _library_sources()
IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.so",
    "*.o",
    "*.a",
    ".hypothesis",
    ".benchmarks",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
)


def copy_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A fresh copy per build: setuptools keeps objects in build/, which would hide a
    # compiler that fails.
    tree = tmp_path_factory.mktemp("src") / "hemproto"
    shutil.copytree(REPO, tree, ignore=IGNORE)
    return tree


@pytest.fixture()
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_source(tmp_path_factory)


def build_wheel(source: Path, out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HEMPROTO_")}
    environment.update(env)
    # No build isolation: the build uses this environment's setuptools and cffi, offline.
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(out),
            str(source),
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def wheel_names(out: Path) -> list[str]:
    (wheel,) = out.glob("hemproto-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.fixture(scope="module")
def c_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built with the C extension required (one build for the tests below)."""
    out = tmp_path_factory.mktemp("wheel")
    result = build_wheel(copy_source(tmp_path_factory), out, HEMPROTO_REQUIRE_C="1")
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_wheel_contains_the_compiled_codec(c_wheel: Path) -> None:
    names = wheel_names(c_wheel)
    assert any(n.startswith("hemproto/_hemcodec") and n.endswith(".so") for n in names), names
    assert "hemproto/py.typed" in names


def test_wheel_carries_the_bench_engine_beside_the_library(c_wheel: Path) -> None:
    names = wheel_names(c_wheel)
    bench = {name for name in names if name.startswith("hemproto_bench/")}
    for module in ("__init__", "cases", "corpus", "engine", "goals", "plot", "report", "worst"):
        assert f"hemproto_bench/{module}.py" in bench, sorted(bench)
    assert "hemproto_bench/py.typed" in bench
    assert not any(name.startswith("hemproto/bench") for name in names)


def run_installed(
    site: Path, cwd: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Python with ``site`` (an unpacked wheel) first on its path, outside the checkout."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HEMPROTO_")}
    environment.update(PYTHONPATH=str(site), **env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_installed_wheel_runs_the_bench_and_the_library_never_imports_it(
    c_wheel: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    (wheel,) = c_wheel.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    imported = run_installed(
        site,
        tmp_path,
        "-c",
        "import hemproto, hemproto.cli, sys; "
        "assert not any(m.startswith('hemproto_bench') for m in sys.modules), "
        "sorted(m for m in sys.modules if m.startswith('hemproto_bench')); "
        "print(hemproto.__file__)",
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip().startswith(str(site)), imported.stdout  # the wheel's copy
    ran = run_installed(
        site,
        tmp_path,
        "-m",
        "hemproto",
        "bench",
        "--quick",
        "--json",
        "--group",
        "verify_check",
        HEMPROTO_REQUIRE_C="1",
    )
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert report["c_extension"] is True
    assert [group["group"] for group in report["groups"]] == [
        "checkin verify_check",
        "memory verify_check",
    ]
    assert [target["name"] for target in report["targets"]] == [
        "verify_check / fastest bare X25519",
        "peak bytes per verify_check",
    ]
    where = run_installed(
        site, tmp_path, "-c", "import hemproto_bench; print(hemproto_bench.__file__)"
    )
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr


def test_without_a_compiler_the_install_falls_back(source: Path, tmp_path: Path) -> None:
    result = build_wheel(source, tmp_path / "wheel", CC="false")
    assert result.returncode == 0, result.stdout + result.stderr
    names = wheel_names(tmp_path / "wheel")
    # No compiled codec; its type stub (_hemcodec.pyi) ships either way.
    compiled = [n for n in names if n.startswith("hemproto/_hemcodec") and n[-4:] != ".pyi"]
    assert not compiled, names

    target = tmp_path / "site"
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)

    def probe(**extra: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEMPROTO_")}
        env.update(PYTHONPATH=str(target), **extra)
        return subprocess.run(
            [sys.executable, "-c", "import hemproto; print(hemproto.active_codec())"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    ran = probe()
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "python"
    required = probe(HEMPROTO_REQUIRE_C="1")
    assert required.returncode != 0
    assert "HEMPROTO_REQUIRE_C=1" in required.stderr


def test_require_c_makes_a_failed_compile_fail_the_build(source: Path, tmp_path: Path) -> None:
    result = build_wheel(source, tmp_path, CC="false", HEMPROTO_REQUIRE_C="1")
    assert result.returncode != 0
    assert not list(tmp_path.glob("*.whl"))


def test_sdist_contains_the_c_sources(source: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--sdist",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (sdist,) = tmp_path.glob("hemproto-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    # Every source the extension compiles, the header those include that is generated from
    # the schema, and the generator itself.
    library = [f"csrc/{name}{ending}" for name in LIBRARY for ending in (".c", ".h")]
    for required in (
        *library,
        "csrc/hemshape.h",
        "csrc/gen_shape.py",
        "csrc/build_codec.py",
        "csrc/Makefile",
        "hemproto/schema.py",
        "hemproto_bench/__init__.py",
        "setup.py",
        "pyproject.toml",
        "hemproto/py.typed",
    ):
        assert required in names, required
    assert not any(name.endswith(".so") for name in names)
