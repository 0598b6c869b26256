"""The command line, driven as a user would: exit codes, output, no tracebacks."""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from _cli import PACKAGE_PARENT, run_cli

import hemproto
from hemproto import cli


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
    (tmp_path / "test.key").chmod(0o600)
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
    (tmp_path / "bad.key").chmod(0o600)
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


# --- frictions a user met, one test group each -------------------------------------------


def run_into_closed_pipe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the command with standard output a pipe whose reader is already gone, as in
    ``hemproto demo | head -1`` once head has exited: every write fails with EPIPE."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_PARENT, env.get("PYTHONPATH")]))
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "hemproto", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize("command", ["demo", "inspect"])
def test_a_closed_output_pipe_ends_quietly(
    tmp_path: Path, seed: dict[str, Any], command: str
) -> None:
    args = {"demo": ("demo",), "inspect": ("inspect", seed["token"])}
    result = run_into_closed_pipe(*args[command], cwd=tmp_path)
    assert result.stderr == ""
    assert result.returncode == cli.EXIT_BROKEN_PIPE == 141


def test_a_closed_pipe_met_inside_the_relay_ends_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The demo writes from inside the relay's callbacks, and the relay wraps what they
    # raise in a RelayError: the broken pipe must still be recognised.
    class ClosedPipe(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert cli.main(["demo"]) == cli.EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv", [["--version"], ["inspect", "--help"]])
def test_a_closed_pipe_after_help_or_version_ends_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    # argparse prints, then exits: the buffered text meets the closed pipe in the flush.
    class ClosedOnFlush(io.StringIO):
        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", ClosedOnFlush())
    assert cli.main(argv) == cli.EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""


def test_bare_hemproto_prints_the_commands(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: hemproto")
    for name in ("inspect", "verify", "keygen", "demo", "cbor", "bench"):
        assert re.search(rf"^\s+{name}\s+\S", result.stderr, re.MULTILINE), name
    assert "examples:" in result.stderr and "exit status:" in result.stderr


def test_a_command_missing_its_subcommand_prints_its_help(tmp_path: Path) -> None:
    result = run_cli("cbor", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: hemproto cbor")
    assert "encode" in result.stderr and "decode" in result.stderr


BUILT_IN = ("inspect", "verify", "keygen", "demo", "cbor", "bench")


def test_every_command_has_examples() -> None:
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name in BUILT_IN:
        command = commands.choices[name]
        assert command.epilog and "examples:" in command.epilog, name
        assert f"hemproto {name}" in command.epilog, name
        # Raw: the example lines keep their own line breaks.
        assert command.formatter_class is argparse.RawDescriptionHelpFormatter
        assert f"\n  hemproto {name}" in command.format_help(), name


def test_inspect_reads_at_file_and_stdin(tmp_path: Path, seed: dict[str, Any]) -> None:
    (tmp_path / "check.json").write_text(json.dumps({"check": seed["token"]}) + "\n")
    from_file = run_cli("inspect", "--json", "@check.json", cwd=tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_file.stdout)["claims"]["qid"]["hex"] == seed["claims_hex"]["qid"]
    from_stdin = run_cli("inspect", "--json", "-", cwd=tmp_path, stdin=seed["token"])
    assert from_stdin.stdout == from_file.stdout
    help_text = " ".join(run_cli("inspect", "--help", cwd=tmp_path).stdout.split())
    assert "@FILE to read it from a file, or - for standard input" in help_text


def test_inspect_of_a_bare_file_name_hints_at_at(tmp_path: Path, seed: dict[str, Any]) -> None:
    (tmp_path / "check.json").write_text(json.dumps({"check": seed["token"]}))
    result = run_cli("inspect", "check.json", cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "hemproto: 'check.json' is a file; to read from it, pass @check.json"
    )
    # The same hint for verify, which reads its token the same way.
    (tmp_path / "k.key").write_text(hemproto.b64_encode(bytes(range(32))) + "\n")
    (tmp_path / "k.key").chmod(0o600)
    verify = run_cli("verify", "check.json", "--key", "k.key", cwd=tmp_path)
    assert verify.returncode == 2 and "pass @check.json" in verify.stderr


@pytest.mark.parametrize(
    "argument, message",
    [("@missing.json", "cannot read 'missing.json'"), ("@", "'@' needs a file name")],
)
def test_bad_at_files_are_usage_errors(tmp_path: Path, argument: str, message: str) -> None:
    result = run_cli("inspect", argument, cwd=tmp_path)
    no_traceback(result)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_cbor_decode_reads_hex_from_an_at_file(tmp_path: Path, seed: dict[str, Any]) -> None:
    (tmp_path / "envelope.hex").write_text(hemproto.to_cbor(seed["token"]).hex() + "\n")
    result = run_cli("cbor", "decode", "@envelope.hex", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == seed["token"]
    bare = run_cli("cbor", "decode", "envelope.hex", cwd=tmp_path)
    assert bare.returncode == 2 and "pass @envelope.hex" in bare.stderr


def test_keygen_says_where_it_writes(tmp_path: Path) -> None:
    result = run_cli("keygen", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"private key: {tmp_path / 'backend.key'} (mode 0600)" in result.stdout
    assert f"public key:  {tmp_path / 'backend.key.pub'}" in result.stdout
    help_text = run_cli("keygen", "--help", cwd=tmp_path).stdout
    assert "default: ./backend.key" in help_text


def test_keygen_into_a_directory(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    first = run_cli("keygen", "--out", "keys", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE((keys / "backend.key").stat().st_mode) == 0o600
    pair = hemproto.KeyPair.from_file(keys / "backend.key")
    public = hemproto.b64_decode((keys / "backend.key.pub").read_text().strip())
    assert public == pair.public
    refused = run_cli("keygen", "--out", "keys", cwd=tmp_path)
    assert refused.returncode == 2 and "exists (use --force" in refused.stderr
    forced = run_cli("keygen", "--out", "keys/", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert hemproto.KeyPair.from_file(keys / "backend.key").public != pair.public
    assert sorted(path.name for path in keys.iterdir()) == ["backend.key", "backend.key.pub"]


def test_keygen_force_tightens_an_open_file_and_refuses_a_stray_pub(tmp_path: Path) -> None:
    (tmp_path / "old.key").write_text("x\n")
    (tmp_path / "old.key").chmod(0o644)
    forced = run_cli("keygen", "--out", "old.key", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert stat.S_IMODE((tmp_path / "old.key").stat().st_mode) == 0o600
    hemproto.KeyPair.from_file(tmp_path / "old.key")
    (tmp_path / "new.key.pub").write_text("someone's\n")
    refused = run_cli("keygen", "--out", "new.key", cwd=tmp_path)
    assert refused.returncode == 2 and "new.key.pub exists" in refused.stderr
    assert not (tmp_path / "new.key").exists()
    assert (tmp_path / "new.key.pub").read_text() == "someone's\n"


def test_bench_plot_into_a_directory_is_refused_before_measuring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import hemproto_bench as bench

    measured: list[object] = []
    monkeypatch.setattr(bench, "plot_available", lambda: True)
    monkeypatch.setattr(bench, "run", lambda *a, **k: measured.append(a))
    assert cli.main(["bench", "--plot", str(tmp_path)]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert f"--plot {str(tmp_path)!r} is a directory" in captured.err
    assert str(tmp_path / "bench.png") in captured.err
    assert captured.out == "" and measured == []
    assert cli.main(["bench", "--plot", str(tmp_path / "none" / "b.png")]) == cli.EXIT_USAGE
    assert "no directory" in capsys.readouterr().err
    monkeypatch.setattr(bench, "plot_available", lambda: False)
    assert cli.main(["bench", "--plot", str(tmp_path)]) == cli.EXIT_USAGE
    assert "install hemproto[plot]" in capsys.readouterr().err
    assert measured == []


def test_bench_plot_path_that_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "bench.png"
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(cli.UsageError, match="permission denied"):
        cli._check_plot_path(str(target), True)
    target.write_bytes(b"")
    with pytest.raises(cli.UsageError, match="permission denied"):
        cli._check_plot_path(str(target), True)


@pytest.fixture()
def key_file(tmp_path: Path, backend_key: hemproto.KeyPair) -> Path:
    path = tmp_path / "backend.key"
    path.write_text(hemproto.b64_encode(backend_key.private_bytes()) + "\n")
    path.chmod(0o600)
    return path


def test_verify_names_the_kind_of_a_reply(
    tmp_path: Path, key_file: Path, make_check: Any, backend_key: hemproto.KeyPair
) -> None:
    reply = hemproto.Backend(backend_key).answer(make_check())
    for given in (reply["checked"], json.dumps(reply)):
        result = run_cli("verify", given, "--key", "backend.key", cwd=tmp_path)
        assert result.returncode == 1
        assert result.stdout == (
            "invalid: this is a 'checked' reply, not a device 'check'; to verify a reply "
            "the backend of this key sent, add --reply\n"
        )
    good = run_cli("verify", "--reply", reply["checked"], "--key", "backend.key", cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    parsed = hemproto.parse_checked(reply)
    assert good.stdout.startswith(f"valid checked reply to device session {parsed.aud.hex()}")
    assert "act R (report)" in good.stdout
    check = run_cli("verify", "--reply", make_check(), "--key", "backend.key", cwd=tmp_path)
    assert check.returncode == 1
    assert "this is a device 'check', not a 'checked' reply; drop --reply" in check.stdout


def test_verify_reply_checks_issuer_and_mac(
    tmp_path: Path, key_file: Path, make_check: Any, backend_key: hemproto.KeyPair
) -> None:
    reply = hemproto.Backend(backend_key).answer(make_check())["checked"]
    tampered = reply[:-3] + ("AAA" if not reply.endswith("AAA") else "BBB")
    bad = run_cli("verify", "--reply", tampered, "--key", "backend.key", cwd=tmp_path)
    assert bad.returncode == 1 and bad.stdout.startswith("invalid: BadSignature")
    other = tmp_path / "other.key"
    other.write_text(hemproto.b64_encode(bytes(range(50, 82))) + "\n")
    other.chmod(0o600)
    foreign = run_cli("verify", "--reply", reply, "--key", "other.key", cwd=tmp_path)
    assert foreign.returncode == 1
    assert f"issued by backend key {backend_key.public.hex()}" in foreign.stdout


def test_inspect_names_the_kind_of_an_invalid_token(tmp_path: Path) -> None:
    reply_like = hemproto.sign_ejwt({"iat": 1, "act": "OK"}, bytes(32))
    described = json.loads(run_cli("inspect", "--json", reply_like, cwd=tmp_path).stdout)
    assert described["kind"] == "unknown" and described["looks_like"] == "checked"
    assert described["problem"].startswith("looks like a 'checked' reply but is not a valid one")
    assert "'jti'" in described["problem"]
    text = run_cli("inspect", reply_like, cwd=tmp_path).stdout
    assert "kind: unknown (looks like a 'checked' reply)" in text
    check_like = hemproto.sign_ejwt({"qid": "AAAA"}, bytes(32))
    described = json.loads(run_cli("inspect", "--json", check_like, cwd=tmp_path).stdout)
    assert described["looks_like"] == "check"
    assert "looks like a device 'check'" in described["problem"]


def test_max_request_body_is_exported() -> None:
    assert hemproto.MAX_REQUEST_BODY == 7300
    assert "MAX_REQUEST_BODY" in hemproto.__all__


# --- subcommands from other modules ------------------------------------------------------


def test_a_plugin_module_adds_its_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[Any, ...]] = []

    def add_serve_parser(subparsers: Any) -> None:
        command = subparsers.add_parser("serve", help="serve something")
        command.add_argument("--port", type=int, default=1)
        command.set_defaults(run=lambda args, out, stdin: calls.append((args.port,)) or 7)

    module = types.ModuleType("hemproto.serve")
    module.add_serve_parser = add_serve_parser  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hemproto.serve", module)
    assert cli.main(["serve", "--port", "9"]) == 7
    assert calls == [(9,)]
    cli.main([])
    assert "serve something" in capsys.readouterr().err
    # Usage errors in a plugin's options are one-line errors like any other.
    assert cli.main(["serve", "--port", "x"]) == cli.EXIT_USAGE


def test_an_absent_plugin_module_is_tolerated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, _ in cli.PLUGINS:
        monkeypatch.setitem(sys.modules, name, None)  # importing it: ModuleNotFoundError
    parser = cli.build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) == set(BUILT_IN)


def test_a_plugin_that_fails_to_import_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = importlib.import_module
    failures: dict[str, BaseException] = {}

    def failing(name: str, package: str | None = None) -> types.ModuleType:
        if name in failures:
            raise failures[name]
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", failing)

    def absent(name: str) -> ModuleNotFoundError:
        return ModuleNotFoundError(f"No module named {name!r}", name=name)

    failures["hemproto.checkin_cli"] = absent("hemproto.checkin_cli")
    failures["hemproto.serve"] = absent("uvicorn")  # serve is there; what it needs is not
    with pytest.raises(ModuleNotFoundError, match="uvicorn"):
        cli.build_parser()
    failures["hemproto.serve"] = absent("hemproto.serve")
    assert "serve" not in cli.build_parser().format_help()
    failures["hemproto.checkin_cli"] = SyntaxError("invalid syntax")
    with pytest.raises(SyntaxError):
        cli.build_parser()
