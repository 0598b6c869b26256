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


def state_line(output: str, name: str) -> str:
    (line,) = [line for line in output.splitlines() if line.strip().startswith(name + " ")]
    return line.split(None, 1)[1].strip()


def test_demo_runs_a_whole_check_in(tmp_path: Path) -> None:
    result = run_cli("demo", cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 0, result.stderr
    for phase in (
        "1. client -> device",
        "2. client -> backend",
        "3. client -> device",
        "4. device state",
    ):
        assert phase in result.stdout
    assert "kind: check\n" in result.stdout and "kind: checked\n" in result.stdout
    assert state_line(result.stdout, "status") == "OK"
    assert state_line(result.stdout, "fls_state") == "0x00"
    assert state_line(result.stdout, "audit_log") == "RTC_SET"
    assert state_line(result.stdout, "rtc") != "not set"


@pytest.mark.parametrize(
    "options, status, fls, extra",
    [
        (["--firmware", "outdated"], "OK", "0x00", "newfws"),
        (["--firmware", "revoked"], "L", "0x40", "erased"),
        (["--firmware", "unknown"], "R", "0x00", "reports      1"),
        (["--firmware", "revoked", "--untrusted-backend"], "OK", "0x00", "present"),
        (["--push-certificate", "--no-dashboard"], "OK", "0x00", '"newcrt": "OK"'),
    ],
)
def test_demo_options(
    tmp_path: Path, options: list[str], status: str, fls: str, extra: str
) -> None:
    result = run_cli("demo", *options, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert state_line(result.stdout, "status") == status
    assert state_line(result.stdout, "fls_state") == fls
    assert extra in result.stdout


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


def test_inspect_a_checked_reply(tmp_path: Path, make_check: Any, backend_key: Any) -> None:
    backend = hemproto.Backend(backend_key)
    body = backend.answer(make_check())
    result = run_cli("inspect", "--json", json.dumps(body), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    described = json.loads(result.stdout)
    assert described["kind"] == "checked"
    assert described["claims"]["act"]["action"] == "report"
    assert described["claims"]["iat"]["time"].endswith("+00:00")
    assert described["claims"]["iss"]["hex"] == backend_key.public.hex()
    text = run_cli("inspect", body["checked"], cwd=tmp_path)
    assert "kind: checked" in text.stdout and "(report)" in text.stdout


def test_inspect_says_when_claims_are_wrong(tmp_path: Path) -> None:
    token = hemproto.sign_ejwt({"jti": "AAAA"}, bytes(32))
    result = run_cli("inspect", "--json", token, cwd=tmp_path)
    assert result.returncode == 0
    described = json.loads(result.stdout)
    assert described["kind"] == "unknown"
    assert "problem" in described


def test_cbor_encode_decode_round_trip(tmp_path: Path, seed: dict[str, Any]) -> None:
    encoded = run_cli("cbor", "encode", seed["token"], cwd=tmp_path)
    assert encoded.returncode == 0, encoded.stderr
    envelope = bytes.fromhex(encoded.stdout.strip())
    assert envelope == hemproto.to_cbor(seed["token"])
    assert len(envelope) <= 400
    decoded = run_cli("cbor", "decode", "-", cwd=tmp_path, stdin=encoded.stdout)
    assert decoded.returncode == 0, decoded.stderr
    assert decoded.stdout.strip() == seed["token"]

    to_file = run_cli(
        "cbor",
        "encode",
        "--out",
        "seed.cbor",
        "-",
        cwd=tmp_path,
        stdin=json.dumps({"check": seed["token"]}),
    )
    assert to_file.returncode == 0, to_file.stderr
    assert (tmp_path / "seed.cbor").read_bytes() == envelope
    from_file = run_cli("cbor", "decode", "--file", "seed.cbor", cwd=tmp_path)
    assert from_file.stdout.strip() == seed["token"]


@pytest.mark.parametrize(
    "args, code",
    [
        (("cbor", "decode", "zz"), 2),
        (("cbor", "decode", "00"), 1),
        (("cbor", "decode", "--file", "missing.cbor"), 2),
        (("cbor", "encode", "a.b.c"), 1),
        (("cbor", "sideways", "x"), 2),
        (("demo", "--firmware", "beta"), 2),
    ],
)
def test_cbor_and_demo_usage_errors(tmp_path: Path, args: tuple[str, ...], code: int) -> None:
    result = run_cli(*args, cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == code
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("iat", [2**53 - 1, 0])
def test_inspect_any_valid_iat_without_a_traceback(tmp_path: Path, iat: int) -> None:
    # Regression: an iat beyond the calendar (allowed by the claim rules) crashed inspect.
    token = hemproto.sign_ejwt({"iat": iat, "act": "OK"}, bytes(range(32)))
    result = run_cli("inspect", token, cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 0
    assert str(iat) in result.stdout


def test_unwritable_output_paths_are_usage_errors(tmp_path: Path, seed: dict[str, Any]) -> None:
    # Regression: cbor encode --out and keygen's public key file raised OSError tracebacks.
    missing = str(tmp_path / "no-such-dir" / "x")
    for args in (("cbor", "encode", seed["token"], "--out", missing), ("keygen", "--out", missing)):
        result = run_cli(*args, cwd=tmp_path)
        no_traceback(result)
        assert result.returncode == 2
        assert "cannot write" in result.stderr
