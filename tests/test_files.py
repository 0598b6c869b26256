"""What a deployment reads: key files as keygen writes them, the release file and its watcher."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from _cli import run_cli
from _clock import FakeClock

import hemproto
from hemproto import KeyPair, b64_encode
from hemproto.errors import InvalidKey, KeyFileError, ReleaseFileError
from hemproto.releases import ReleaseFileWatcher, ReleaseRegistry
from hemproto.x25519 import read_public_key

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = Path(__file__).parent / "vectors" / "releases.toml"
KEY = KeyPair(bytes(range(7, 39)))
KEY_TEXT = b64_encode(KEY.private_bytes())


def write_key(path: Path, mode: int = 0o600, text: str | bytes = KEY_TEXT + "\n") -> Path:
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    path.chmod(mode)
    return path


# --- key files ---------------------------------------------------------------------------


def test_keygen_output_loads(tmp_path: Path) -> None:
    result = run_cli("keygen", "--out", "backend.key", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    pair = KeyPair.from_file(tmp_path / "backend.key")
    assert read_public_key(str(tmp_path / "backend.key.pub")) == pair.public
    assert read_public_key(tmp_path / "backend.key.pub") == pair.public
    printed = re.search(r"public key \(base64\): (\S+)", result.stdout)
    assert printed is not None
    assert read_public_key(printed.group(1)) == pair.public
    assert hemproto.x25519_public(pair.private_bytes()) == pair.public


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_key_only_its_owner_reads_is_accepted(tmp_path: Path, mode: int) -> None:
    path = write_key(tmp_path / "backend.key", mode)
    assert KeyPair.from_file(path).public == KEY.public
    assert KeyPair.from_file(str(path)).public == KEY.public


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o610])
def test_a_private_key_others_can_reach_is_refused(tmp_path: Path, mode: int) -> None:
    path = write_key(tmp_path / "backend.key", mode)
    with pytest.raises(KeyFileError) as caught:
        KeyPair.from_file(path)
    error = caught.value
    assert isinstance(error, InvalidKey)
    assert error.reason == "permissions" and error.path == str(path)
    assert f"chmod 600 {path}" in str(error)
    assert f"{mode:04o}" in str(error)
    assert KEY_TEXT not in str(error)


def test_the_fix_command_quotes_the_path(tmp_path: Path) -> None:
    path = write_key(tmp_path / "my key", 0o644)
    with pytest.raises(KeyFileError, match="chmod 600 '"):
        KeyPair.from_file(path)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\n",
        b"not base64\n",
        b64_encode(bytes(31)).encode(),
        b64_encode(bytes(33)).encode(),
        (KEY_TEXT + "\n" + KEY_TEXT + "\n").encode(),
        KEY_TEXT.rstrip("=").encode(),  # padding dropped: not the canonical form
        ("# comment\n" + KEY_TEXT).encode(),
        b"\xff" * 44,
        (KEY_TEXT + "\n").encode() * 100,
        KEY.private_bytes(),  # raw bytes instead of base64
    ],
)
def test_a_malformed_key_file_is_refused_without_its_content(
    tmp_path: Path, content: bytes
) -> None:
    path = write_key(tmp_path / "backend.key", text=content)
    with pytest.raises(KeyFileError) as caught:
        KeyPair.from_file(path)
    assert caught.value.reason == "malformed"
    # The whole message is fixed text and the path: nothing from the file shows.
    assert str(caught.value) == (
        f"private key file {str(path)!r} must hold one 32-byte key in standard base64, "
        "as hemproto keygen writes"
    )


def test_surrounding_whitespace_and_crlf_are_accepted(tmp_path: Path) -> None:
    path = write_key(tmp_path / "backend.key", text=f"  {KEY_TEXT}\r\n")
    assert KeyPair.from_file(path).public == KEY.public


def test_missing_unreadable_and_odd_files(tmp_path: Path) -> None:
    cases: list[tuple[Path, str]] = [(tmp_path / "absent.key", "missing")]
    (tmp_path / "a-file").write_text("x")
    cases.append((tmp_path / "a-file" / "below", "unreadable"))  # ENOTDIR
    cases.append((tmp_path, "not-a-file"))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    cases.append((fifo, "not-a-file"))  # refused, not waited on
    for path, reason in cases:
        with pytest.raises(KeyFileError) as caught:
            KeyPair.from_file(path)
        assert caught.value.reason == reason, path
        assert str(path) in str(caught.value)


def test_a_key_file_error_is_a_hemproto_error(tmp_path: Path) -> None:
    with pytest.raises(hemproto.HemProtoError):
        KeyPair.from_file(tmp_path / "absent.key")


def test_read_public_key_forms(tmp_path: Path) -> None:
    public_text = b64_encode(KEY.public)
    assert read_public_key(public_text) == KEY.public
    assert read_public_key(f" {public_text}\n") == KEY.public
    (tmp_path / "peer.pub").write_text(public_text + "\n")
    assert read_public_key(str(tmp_path / "peer.pub")) == KEY.public
    # A public key file needs no particular mode.
    (tmp_path / "peer.pub").chmod(0o644)
    assert read_public_key(tmp_path / "peer.pub") == KEY.public


def test_read_public_key_refuses_the_private_half(tmp_path: Path) -> None:
    result = run_cli("keygen", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with pytest.raises(KeyFileError) as caught:
        read_public_key(str(tmp_path / "backend.key"))
    assert caught.value.reason == "private-key"
    assert "backend.key.pub" in str(caught.value)


def test_read_public_key_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError) as caught:
        read_public_key(str(tmp_path / "nothing.pub"))
    assert caught.value.reason == "missing"
    assert "neither a public key file nor a 32-byte key" in str(caught.value)
    with pytest.raises(KeyFileError) as caught:
        read_public_key(b64_encode(bytes(31)) + "AAAA")  # 44 characters, not a key
    assert caught.value.reason == "missing"
    (tmp_path / "bad.pub").write_text("AAAA\n")
    with pytest.raises(KeyFileError) as caught:
        read_public_key(tmp_path / "bad.pub")
    assert caught.value.reason == "malformed"
    with pytest.raises(TypeError):
        read_public_key(b"key.pub")  # type: ignore[arg-type]


def test_the_cli_reads_keys_with_from_file(tmp_path: Path, make_check: Any) -> None:
    write_key(tmp_path / "open.key", 0o644)
    result = run_cli("verify", make_check(), "--key", "open.key", cwd=tmp_path)
    assert result.returncode == 2
    assert "chmod 600 open.key" in result.stderr
    assert KEY_TEXT not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


# --- the release file --------------------------------------------------------------------


def release_entry(
    component: str = "firmware",
    version: str = "2.1.0",
    status: str = "current",
    signature: bytes = bytes([1]) * 64,
    **extra: str,
) -> str:
    lines = [
        "[[release]]",
        f'component = "{component}"',
        f'version = "{version}"',
        f'status = "{status}"',
        f'signature = "{b64_encode(signature)}"',
    ]
    lines += [f"{name} = {value}" for name, value in extra.items()]
    return "\n".join(lines) + "\n\n"


def test_the_example_file_loads() -> None:
    registry = ReleaseRegistry.from_file(EXAMPLE)
    assert len(registry) == 6
    assert [(r.component, r.version, r.status) for r in registry] == [
        ("firmware", "2.1.0", "current"),
        ("firmware", "2.0.3", "outdated"),
        ("firmware", "1.9.0", "revoked"),
        ("bootloader", "1.2.0", "current"),
        ("dashboard", "3.4.0", "current"),
        ("dashboard", "3.3.1", "outdated"),
    ]
    for release in registry:
        assert registry.lookup(release.component, release.signature) is release
    current = registry.current("firmware")
    assert current is not None and current.version == "2.1.0"
    dashboard = registry.current("dashboard")
    assert dashboard is not None and len(dashboard.signature) == 32


def test_the_example_signatures_are_derived_as_documented() -> None:
    for release in ReleaseRegistry.from_file(EXAMPLE):
        label = f"hemproto example {release.component} {release.version}".encode()
        digest = hashlib.sha256 if release.component == "dashboard" else hashlib.sha512
        assert release.signature == digest(label).digest(), release.version


def test_the_documented_example_is_the_vector_file() -> None:
    docs = (ROOT / "docs" / "releases.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", docs, re.DOTALL)
    assert blocks == [EXAMPLE.read_text()]


def test_a_file_registry_decides_as_one_built_in_code(
    device_key: KeyPair, backend_key: KeyPair
) -> None:
    registry = ReleaseRegistry.from_file(EXAMPLE)
    by_version = {release.version: release for release in registry}
    check = hemproto.parse_check(
        hemproto.sign_check(
            device_key,
            backend_key.public,
            qid=bytes(32),
            fws=by_version["2.0.3"].signature,
            bls=by_version["1.2.0"].signature,
            uis=by_version["3.3.1"].signature,
            csn=bytes(16),
        )
    )
    built = ReleaseRegistry(list(registry))
    decision = hemproto.Policy().decide(check, registry)
    assert decision == hemproto.Policy().decide(check, built)
    assert decision.act == "OK"
    assert decision.newfws == by_version["2.1.0"].signature
    assert decision.newuis == by_version["3.4.0"].signature
    assert registry.lookup("firmware", bytes(64)) is None


def test_from_toml_and_from_file_agree(tmp_path: Path) -> None:
    text = release_entry() + release_entry("dashboard", "1", "outdated", bytes(32))
    (tmp_path / "r.toml").write_text(text)
    from_file = ReleaseRegistry.from_file(tmp_path / "r.toml")
    from_text = ReleaseRegistry.from_toml(text)
    assert list(from_file) == list(from_text)


GOOD = release_entry()

INVALID: list[tuple[str, str, int | None, str | None, str]] = [
    ("not toml", "[[release]\n", None, None, "not valid TOML"),
    ("empty", "", None, None, "no [[release]] entries"),
    ("comments only", "# nothing\n", None, None, "no [[release]] entries"),
    ("policy table", GOOD + '[policy]\nrevoked = "W"\n', None, "policy", "Policy(...)"),
    ("top-level key", 'owner = "me"\n' + GOOD, None, "owner", "unknown top-level key"),
    ("release not tables", 'release = "x"\n', None, "release", "array of tables"),
    ("release numbers", "release = [1, 2]\n", None, "release", "array of tables"),
    ("unknown field", release_entry(stauts='"current"'), 0, "stauts", "unknown field"),
    ("integer version", GOOD.replace('"2.1.0"', "2"), 0, "version", "not an integer"),
    ("float version", GOOD.replace('"2.1.0"', "2.1"), 0, "version", "not a float"),
    ("empty version", GOOD.replace('"2.1.0"', '""'), 0, "version", "must not be empty"),
    ("bad component", release_entry(component="kernel"), 0, "component", "'kernel' is not"),
    ("bad status", release_entry(status="beta"), 0, "status", "'beta' is not one of"),
    (
        "short signature",
        release_entry(signature=bytes(32)),
        0,
        "signature",
        "a firmware needs 64 bytes, this is 32",
    ),
    (
        "dashboard size",
        release_entry("dashboard", signature=bytes(64)),
        0,
        "signature",
        "a dashboard needs 32 bytes, this is 64",
    ),
    (
        "unpadded signature",
        GOOD.replace("==", ""),
        0,
        "signature",
        "not canonical standard base64",
    ),
    (
        "base64url signature",
        release_entry(signature=bytes([0xFB]) * 64).replace("+", "-"),
        0,
        "signature",
        "not canonical standard base64",
    ),
    (
        "duplicate signature",
        GOOD + release_entry(version="2.0.0", status="outdated"),
        1,
        "signature",
        "same firmware signature as version 2.1.0",
    ),
    (
        "second current",
        GOOD + release_entry(version="2.2.0", signature=bytes([2]) * 64),
        1,
        "status",
        "a second current firmware (version 2.1.0 is current)",
    ),
    (
        "second entry missing a field",
        GOOD + "[[release]]\ncomponent = 'bootloader'\nversion = '1'\nstatus = 'current'\n",
        1,
        "signature",
        "missing",
    ),
]


@pytest.mark.parametrize(
    "text, index, field, message", [case[1:] for case in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_release_files(
    tmp_path: Path, text: str, index: int | None, field: str | None, message: str
) -> None:
    path = tmp_path / "releases.toml"
    path.write_text(text)
    with pytest.raises(ReleaseFileError) as caught:
        ReleaseRegistry.from_file(path)
    error = caught.value
    assert error.path == str(path)
    assert (error.index, error.field) == (index, field)
    assert str(error).startswith(f"{path}: ")
    if index is not None:
        assert f"release[{index}].{field}: " in str(error)
    assert message in str(error)


@pytest.mark.parametrize("field", ["component", "version", "status", "signature"])
def test_each_missing_field_is_named(field: str) -> None:
    lines = [line for line in GOOD.splitlines() if not line.startswith(field + " ")]
    with pytest.raises(ReleaseFileError) as caught:
        ReleaseRegistry.from_toml("\n".join(lines), source="inline")
    assert (caught.value.index, caught.value.field) == (0, field)
    assert str(caught.value) == f"inline: release[0].{field}: missing"


def test_long_names_from_the_file_are_cut_in_messages() -> None:
    with pytest.raises(ReleaseFileError) as caught:
        ReleaseRegistry.from_toml(release_entry(status="x" * 5000))
    assert len(str(caught.value)) < 200


def test_unreadable_release_files(tmp_path: Path) -> None:
    (tmp_path / "binary.toml").write_bytes(b"\xff\xfe" + GOOD.encode())
    (tmp_path / "big.toml").write_text("# " + "x" * (4 * 1024 * 1024) + "\n" + GOOD)
    cases = {
        tmp_path / "absent.toml": "cannot read: No such file or directory",
        tmp_path: "not a regular file",
        tmp_path / "binary.toml": "not UTF-8 text (byte offset 0)",
        tmp_path / "big.toml": "larger than 4194304 bytes",
    }
    for path, message in cases.items():
        with pytest.raises(ReleaseFileError) as caught:
            ReleaseRegistry.from_file(path)
        assert str(caught.value) == f"{path}: {message}"
        assert caught.value.index is None


# --- the watcher -------------------------------------------------------------------------

SECOND = release_entry("bootloader", "1.0", "current", bytes([9]) * 64)


def replace_file(path: Path, text: str) -> None:
    """As an operator should: a new file renamed over the old one."""
    fresh = path.with_name(path.name + ".new")
    fresh.write_text(text)
    fresh.replace(path)


class StatCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
        self.calls = 0
        real = os.stat
        watched = str(path)

        def counting(target: Any, *args: Any, **kwargs: Any) -> os.stat_result:
            if os.fspath(target) == watched:
                self.calls += 1
            return real(target, *args, **kwargs)

        monkeypatch.setattr(os, "stat", counting)


@pytest.fixture()
def release_file(tmp_path: Path) -> Path:
    path = tmp_path / "releases.toml"
    path.write_text(GOOD)
    return path


def test_a_change_is_picked_up_after_the_interval(release_file: Path) -> None:
    clock = FakeClock(1000.0)
    seen: list[ReleaseRegistry] = []
    watcher = ReleaseFileWatcher(release_file, clock=clock, on_change=seen.append)
    first = watcher.poll()
    assert len(first) == 1 and watcher.registry is first
    replace_file(release_file, GOOD + SECOND)
    assert watcher.poll() is first  # within the interval: not looked at
    clock.advance(1.0)
    second = watcher.poll()
    assert len(second) == 2 and second.current("bootloader") is not None
    assert seen == [second]
    clock.advance(5.0)
    assert watcher.poll() is second  # unchanged: no reload, no callback
    assert seen == [second]
    assert watcher.problem is None


def test_a_rewrite_in_place_is_picked_up(release_file: Path) -> None:
    clock = FakeClock(0.0)
    watcher = ReleaseFileWatcher(release_file, clock=clock)
    release_file.write_text(GOOD + SECOND)  # same inode, new size
    clock.advance(1.0)
    assert len(watcher.poll()) == 2
    text = (GOOD + SECOND).replace('"1.0"', '"1.1"')  # same size: the time tells
    release_file.write_text(text)
    info = release_file.stat()
    os.utime(release_file, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    clock.advance(1.0)
    registry = watcher.poll()
    current = registry.current("bootloader")
    assert current is not None and current.version == "1.1"


def test_an_invalid_file_keeps_the_previous_registry_and_logs_once(
    release_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(0.0)
    seen: list[ReleaseRegistry] = []
    watcher = ReleaseFileWatcher(release_file, clock=clock, on_change=seen.append)
    first = watcher.registry
    caplog.set_level(logging.INFO, logger="hemproto.releases")
    replace_file(release_file, GOOD + release_entry(status="beta", signature=bytes(64)))
    for _ in range(3):
        clock.advance(1.0)
        assert watcher.poll() is first
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    (warning,) = warnings
    assert warning.name == "hemproto.releases"
    message = warning.getMessage()
    assert "still using the previous 1 releases" in message
    assert "release[1].status" in message and len(message) < 600
    assert watcher.problem is not None and "release[1].status" in watcher.problem
    assert seen == []
    replace_file(release_file, GOOD + SECOND)  # fixed
    clock.advance(1.0)
    assert len(watcher.poll()) == 2
    assert watcher.problem is None and len(seen) == 1
    assert any("reloaded: 2 releases" in r.getMessage() for r in caplog.records)


def test_a_deleted_file_keeps_the_previous_registry_and_logs_once(
    release_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(0.0)
    watcher = ReleaseFileWatcher(release_file, clock=clock)
    first = watcher.registry
    caplog.set_level(logging.WARNING, logger="hemproto.releases")
    release_file.unlink()
    for _ in range(3):
        clock.advance(1.0)
        assert watcher.poll() is first
    assert len(caplog.records) == 1
    assert "No such file or directory" in caplog.records[0].getMessage()
    release_file.write_text(GOOD + SECOND)  # back, as a new file
    clock.advance(1.0)
    assert len(watcher.poll()) == 2
    assert watcher.problem is None


def test_the_file_is_looked_at_at_most_once_per_interval(
    release_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(50.0)
    watcher = ReleaseFileWatcher(release_file, clock=clock, interval=2.0)
    counter = StatCounter(monkeypatch, release_file)
    for _ in range(1000):
        watcher.poll()
    assert counter.calls == 0
    clock.advance(1.999)
    watcher.poll()
    assert counter.calls == 0
    clock.advance(0.001)
    for _ in range(100):
        watcher.poll()
    assert counter.calls == 1
    for _ in range(10):
        clock.advance(0.5)
        for _ in range(10):
            watcher.poll()
    assert counter.calls == 3  # five more seconds: two more looks
    watcher.poll(force=True)
    assert counter.calls == 4


def test_force_reloads_within_the_interval(release_file: Path) -> None:
    watcher = ReleaseFileWatcher(release_file, clock=FakeClock(0.0))
    replace_file(release_file, GOOD + SECOND)
    assert len(watcher.poll()) == 1
    assert len(watcher.poll(force=True)) == 2


def test_the_first_load_must_succeed(tmp_path: Path) -> None:
    with pytest.raises(ReleaseFileError):
        ReleaseFileWatcher(tmp_path / "absent.toml")
    (tmp_path / "bad.toml").write_text("[[release]]\n")
    with pytest.raises(ReleaseFileError) as caught:
        ReleaseFileWatcher(tmp_path / "bad.toml")
    assert caught.value.index == 0


@pytest.mark.parametrize("interval", [-1.0, float("nan"), float("inf")])
def test_the_interval_is_checked(release_file: Path, interval: float) -> None:
    with pytest.raises(ValueError, match="interval"):
        ReleaseFileWatcher(release_file, interval=interval)


def test_the_example_file_has_no_group_write_needs(tmp_path: Path) -> None:
    # A release file is public data: any mode that lets the server read it is fine.
    path = tmp_path / "releases.toml"
    path.write_text(EXAMPLE.read_text())
    path.chmod(0o644)
    assert len(ReleaseRegistry.from_file(path)) == 6
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
