"""The command line, driven as a user would: exit codes, output, no tracebacks."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from _cli import run_cli

import hemproto


def no_traceback(result: Any) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def test_demo_runs_a_check_round_trip(tmp_path: Path) -> None:
    result = run_cli("demo", cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert "backend verifies the check" in result.stdout
    assert "a tampered copy is refused: BadSignature" in result.stdout
    body = json.loads(result.stdout.split("\n")[5])
    assert hemproto.parse_check(body).iss.hex() in result.stdout


def test_inspect_the_seed_sample(tmp_path: Path, seed: dict[str, Any]) -> None:
    result = run_cli("inspect", seed["token"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name, value in seed["claims_hex"].items():
        assert value in result.stdout, name
    assert "device id" in result.stdout


def test_inspect_json_from_stdin_body(tmp_path: Path, seed: dict[str, Any]) -> None:
    body = json.dumps({"check": seed["token"]})
    result = run_cli("inspect", "--json", "-", cwd=tmp_path, stdin=body)
    assert result.returncode == 0, result.stderr
    described = json.loads(result.stdout)
    assert described["kind"] == "check"
    assert described["header"] == seed["header"]
    for name, size in seed["claim_sizes"].items():
        assert described["claims"][name]["size"] == size
        assert described["claims"][name]["hex"] == seed["claims_hex"][name]


def test_keygen_then_verify(tmp_path: Path, make_check: Any, backend_key: Any) -> None:
    result = run_cli("keygen", "--out", "backend.key", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / "backend.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    private = hemproto.b64_decode(key_file.read_text().strip())
    public = hemproto.b64_decode((tmp_path / "backend.key.pub").read_text().strip())
    assert hemproto.x25519_public(private) == public
    assert key_file.read_text().strip() not in result.stdout

    again = run_cli("keygen", "--out", "backend.key", cwd=tmp_path)
    assert again.returncode == 2 and "exists" in again.stderr

    (tmp_path / "test.key").write_text(hemproto.b64_encode(backend_key.private_bytes()) + "\n")
    token = make_check()
    good = run_cli("verify", token, "--key", "test.key", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("valid check")

    bad = run_cli("verify", token[:-3] + "AAA", "--key", "test.key", cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stdout.startswith("invalid:")
    no_traceback(bad)

    foreign = run_cli("verify", token, "--key", "backend.key", cwd=tmp_path)
    assert foreign.returncode == 1 and "aud" in foreign.stdout


@pytest.mark.parametrize(
    "args, code",
    [
        ((), 2),
        (("nonsense",), 2),
        (("inspect", "not-a-token"), 1),
        (("inspect", ""), 2),
        (("verify", "a.b.c"), 2),
        (("verify", "a.b.c", "--key", "missing.key"), 2),
        (("inspect", '{"check": 1}'), 1),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], code: int) -> None:
    result = run_cli(*args, cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == code
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_key_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "bad.key").write_text("not base64\n")
    result = run_cli("verify", "a.b.c", "--key", "bad.key", cwd=tmp_path)
    assert result.returncode == 2
    assert "32-byte key" in result.stderr
    no_traceback(result)
