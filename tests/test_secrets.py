"""No secret (private key, shared secret, MAC key) appears in any exception message or repr,
log line or command output.

Many failure paths are driven with fixed keys while every key loaded and every shared secret
computed is recorded (KeyPair is wrapped for the duration of each test); then every text
collected is scanned for every secret in every spelling a leak could take: hex, standard
and url-safe base64 with and without padding, the bytes' repr, and fragments of those.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import copy
import hashlib
import logging
import pickle
import re
import traceback
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from _hostile_world import (
    BACKEND,
    OTHER_BACKEND,
    OTHER_SESSION,
    SESSION,
    World,
    b64,
    b64url,
    codec_list,
    load_corpus,
    run,
)

import hemproto
from hemproto import cli
from hemproto.cbor import from_cbor, to_cbor
from hemproto.device import DeviceEmulator
from hemproto.jws import decode_ejwt
from hemproto.x25519 import KeyPair

FIXED_KEYS = (BACKEND, OTHER_BACKEND, SESSION, OTHER_SESSION)
SMALL_ORDER = bytes(32)
# A hex run this long (8 bytes) from a secret is a leak, wherever it starts.
HEX_WINDOW = 16
# As many base64 characters (96 bits) from the start of a secret's encoding are one too.
BASE64_PREFIX = 16
# The corpus groups whose inputs are built to be slow to refuse (test_hostile measures
# them); their messages are the same nesting refusal the other groups already produce.
SLOW_GROUP = 330


class Exposure:
    """The secrets in play, and every text an attacker or an operator could get to see."""

    def __init__(self) -> None:
        self.secrets: dict[bytes, str] = {}
        self.texts: list[tuple[str, str]] = []

    # --- what must not leak

    def secret(self, value: bytes, what: str) -> None:
        # An all-zero "secret" is public (it follows from a small-order key) and the
        # library refuses it before use; it would match every run of zeros.
        if value != bytes(len(value)):
            self.secrets.setdefault(bytes(value), what)

    def fixed_keys(self) -> None:
        """The world's keys, loaded before any test could record them, and the secrets
        every pair of them shares."""
        for pair in FIXED_KEYS:
            self.secret(pair.private_bytes(), f"private key of {pair!r}")
            for peer in FIXED_KEYS:
                self.secret(pair.shared(peer.public), f"X25519({pair!r}, {peer!r})")

    # --- what is seen

    def text(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def error(self, where: str, error: BaseException) -> None:
        """An exception as a message, a repr, its attributes, and its whole traceback
        chain as a logger would print it (causes, and contexts not suppressed)."""
        seen: set[int] = set()
        current: BaseException | None = error
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            self.text(f"{where}: str({type(current).__name__})", str(current))
            self.text(f"{where}: repr({type(current).__name__})", repr(current))
            self.text(f"{where}: vars({type(current).__name__})", repr(vars(current)))
            if current.__cause__ is not None:
                current = current.__cause__
            elif not current.__suppress_context__:
                current = current.__context__
            else:
                current = None
        self.text(f"{where}: traceback", "".join(traceback.format_exception(error)))

    def shown(self, where: str, value: object) -> None:
        self.text(f"{where}: repr", repr(value))
        self.text(f"{where}: str", str(value))

    def logs(self, where: str, records: list[logging.LogRecord]) -> None:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        for record in records:
            self.text(f"{where}: log {record.name}", formatter.format(record))

    def attempt(self, where: str, call: Callable[[], object]) -> object:
        """Run ``call``; record what it raised, or repr what it returned."""
        try:
            result = call()
        except Exception as exc:
            self.error(where, exc)
            return exc
        self.shown(f"{where}: result", result)
        return result

    # --- the scan

    def spellings(self) -> Iterator[tuple[str, str, bytes]]:
        for value in self.secrets:
            standard = base64.b64encode(value).decode()
            url = base64.urlsafe_b64encode(value).decode()
            forms = {
                "hex": value.hex(),
                "upper-case hex": value.hex().upper(),
                "base64": standard,
                "unpadded base64": standard.rstrip("="),
                "base64url": url,
                "unpadded base64url": url.rstrip("="),
                "start of its base64": standard[:BASE64_PREFIX],
                "start of its base64url": url[:BASE64_PREFIX],
                "repr": repr(value),
                "bytearray repr": repr(bytearray(value)),
                "list of ints": str(list(value)),
            }
            for form, spelled in forms.items():
                yield form, spelled, value

    def scan(self) -> list[str]:
        """Every place a secret shows, named by where, what and how it was spelled."""
        # One text, searched once per spelling: a NUL between the pieces keeps a match from
        # straddling two of them (no spelling contains one).
        starts: list[int] = []
        pieces: list[str] = []
        position = 0
        for _, text in self.texts:
            starts.append(position)
            pieces.append(text)
            position += len(text) + 1
        whole = "\0".join(pieces)

        def where(offset: int) -> str:
            return self.texts[bisect.bisect_right(starts, offset) - 1][0]

        hits: list[str] = []
        for form, spelled, value in self.spellings():
            found = whole.find(spelled)
            while found >= 0:
                hits.append(f"{where(found)}: the {form} of {self.secrets[value]}")
                found = whole.find(spelled, found + 1)
        windows: dict[str, bytes] = {}
        for value in self.secrets:
            text = value.hex()
            for start in range(0, len(text) - HEX_WINDOW + 1, 2):
                windows[text[start : start + HEX_WINDOW]] = value
        for match in re.finditer(f"[0-9a-fA-F]{{{HEX_WINDOW},}}", whole):
            lowered = match.group().lower()
            for start in range(len(lowered) - HEX_WINDOW + 1):
                leaked = windows.get(lowered[start : start + HEX_WINDOW])
                if leaked is not None:
                    hits.append(f"{where(match.start())}: 8 bytes of {self.secrets[leaked]} in hex")
                    break
        return hits

    def assert_clean(self, at_least: int) -> None:
        assert len(self.texts) >= at_least, "the failure paths produced too little to scan"
        hits = self.scan()
        assert not hits, "secrets exposed:\n" + "\n".join(sorted(set(hits))[:50])


@pytest.fixture()
def exposure(monkeypatch: pytest.MonkeyPatch) -> Exposure:
    """Records every private key a KeyPair loads and every secret it computes."""
    found = Exposure()
    found.fixed_keys()
    load, shared = KeyPair.__init__, KeyPair.shared

    def recording_init(self: KeyPair, private: Any) -> None:
        load(self, private)
        found.secret(self.private_bytes(), f"private key of {self!r}")

    def recording_shared(self: KeyPair, peer_public: Any) -> bytes:
        secret = shared(self, peer_public)
        found.secret(secret, f"X25519 secret of {self!r} and {bytes(peer_public).hex()[:16]}")
        return secret

    monkeypatch.setattr(KeyPair, "__init__", recording_init)
    monkeypatch.setattr(KeyPair, "shared", recording_shared)
    return found


@pytest.fixture()
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="hemproto")
    return caplog


# --- the scan itself works ----------------------------------------------------------------


def test_the_scan_finds_every_spelling_of_a_secret() -> None:
    found = Exposure()
    secret = hashlib.sha256(b"a planted secret").digest()
    found.secret(secret, "the planted secret")
    spellings = [spelled for _, spelled, _ in found.spellings()]
    spellings.append(f"key={secret.hex()[10:30]}...")  # a fragment, mid-string
    for number, spelled in enumerate(spellings):
        found.text(f"text {number}", f"error: {spelled} (end)")
    hits = found.scan()
    assert {hit.split(":")[0] for hit in hits} == {f"text {n}" for n in range(len(spellings))}
    clean = Exposure()
    clean.secret(secret, "the planted secret")
    clean.text("public", f"public key {hashlib.sha256(secret).hexdigest()}")
    assert clean.scan() == []


def test_the_fixture_records_the_keys_and_secrets_the_library_makes(exposure: Exposure) -> None:
    device = DeviceEmulator(backend_public_key=BACKEND.public)
    body = device.challenge()
    session = hemproto.parse_check(body).iss
    assert BACKEND.shared(session) in exposure.secrets  # the device's MAC key, as it holds it
    # The device's session private key, drawn at boot, is recorded too.
    assert session in {hemproto.x25519_public(secret) for secret in exposure.secrets}


# --- the failure paths ----------------------------------------------------------------------


def test_no_secret_in_any_corpus_refusal(
    exposure: Exposure, logs: pytest.LogCaptureFixture
) -> None:
    """Every hostile case on every role it names: errors, role reprs and the backend's log."""
    (active,) = [b for b in codec_list() if b.name == hemproto.active_codec()]
    for case in load_corpus():
        if int(case.id[:3]) >= SLOW_GROUP:
            continue
        for role in case.roles:
            outcome = run(case, role, active)
            where = f"{case.id} on {role}"
            if outcome.raised is not None:
                exposure.error(where, outcome.raised)
            exposure.shown(f"{where}: returned", outcome.returned)
    exposure.logs("corpus", logs.records)
    assert logs.records, "the backend logged no refusal"
    assert len(exposure.secrets) > 100, "the device roles drew no session keys"
    exposure.assert_clean(at_least=2000)


def test_no_secret_when_keys_and_macs_are_wrong(exposure: Exposure) -> None:
    world = World.create("verify_check")
    check = hemproto.sign_check(
        SESSION, BACKEND.public, qid=bytes(32), fws=bytes(64), bls=bytes(64), csn=bytes(16)
    )
    mac_key = BACKEND.shared(SESSION.public)
    other_key = OTHER_BACKEND.shared(SESSION.public)
    private = BACKEND.private_bytes()
    attempt = exposure.attempt
    # The MAC key itself, wrong, short, long, and of the wrong type.
    attempt("verify_ejwt wrong key", lambda: hemproto.verify_ejwt(check, other_key))
    attempt("verify_ejwt short key", lambda: hemproto.verify_ejwt(check, mac_key[:31]))
    attempt("verify_ejwt long key", lambda: hemproto.verify_ejwt(check, mac_key + b"\x00"))
    # Keys of the wrong type, as a careless caller passes them: typed Any on purpose.
    as_text: Any = private.hex()
    as_list: Any = list(mac_key)
    attempt("verify_ejwt private key as text", lambda: hemproto.verify_ejwt(check, as_text))
    attempt("verify_ejwt key as list", lambda: hemproto.verify_ejwt(check, as_list))
    attempt("sign_ejwt short key", lambda: hemproto.sign_ejwt({"a": 1}, mac_key[:16]))
    attempt(
        "sign_ejwt bad header",
        lambda: hemproto.sign_ejwt({"a": 1}, mac_key, header={"alg": "none", "ecdh": "x25519"}),
    )
    attempt("sign_ejwt NaN claim", lambda: hemproto.sign_ejwt({"a": float("nan")}, mac_key))
    # The backend private key, wrong, raw, short, and as text.
    attempt("verify_check other backend", lambda: hemproto.verify_check(check, OTHER_BACKEND))
    attempt("verify_check raw private key", lambda: hemproto.verify_check(check, private))
    attempt("verify_check short private key", lambda: hemproto.verify_check(check, private[:31]))
    attempt("verify_check private key as hex", lambda: hemproto.verify_check(check, as_text))
    forged = check[: check.rindex(".") + 1] + b64url(hashlib.sha256(mac_key).digest())
    attempt("verify_check bad MAC", lambda: hemproto.verify_check(forged, private))
    attempt("verify_check reply", lambda: hemproto.verify_check({"checked": check}, BACKEND))
    # Small-order peers, through every entry point that takes a peer key.
    for name, point in (("zero", SMALL_ORDER), ("one", b"\x01" + bytes(31))):
        for library in ("cryptography", "nacl"):
            attempt(
                f"x25519_shared {library} {name}",
                partial(hemproto.x25519_shared, private, point, provider=library),
            )
        attempt(f"KeyPair.shared {name}", partial(BACKEND.shared, point))
        small = hemproto.sign_ejwt(
            {**hemproto.parse_check(check).to_dict(), "iss": b64(point)}, bytes(32)
        )
        attempt(f"verify_check small-order {name}", partial(world.backend.verify, small))
        attempt(
            f"device trusting a small-order key {name}",
            partial(DeviceEmulator, backend_public_key=point),
        )
    unknown: Any = "no such library"
    attempt(
        "x25519_shared unknown library",
        lambda: hemproto.x25519_shared(private, SESSION.public, provider=unknown),
    )
    attempt(
        "x25519_shared short private", lambda: hemproto.x25519_shared(private[:31], SESSION.public)
    )
    attempt("x25519_public long private", lambda: hemproto.x25519_public(private + b"\x00"))
    attempt("KeyPair short", lambda: KeyPair(private[:20]))
    attempt("KeyPair text", lambda: KeyPair(as_text))
    attempt("KeyPair pickled", lambda: pickle.dumps(BACKEND))
    attempt("KeyPair copied", lambda: copy.deepcopy(BACKEND))
    # Replies: wrong key, and each binding wrong.
    reply = hemproto.sign_checked(
        mac_key, jti=bytes(32), iss=BACKEND.public, aud=SESSION.public, iat=1, act="OK"
    )
    attempt("verify_checked wrong key", lambda: hemproto.verify_checked(reply, other_key))
    attempt("verify_checked short key", lambda: hemproto.verify_checked(reply, mac_key[:8]))
    for binding in ("issuer", "audience", "jti"):
        wrong: dict[str, Any] = {binding: OTHER_BACKEND.public}
        attempt(
            f"verify_checked wrong {binding}",
            partial(hemproto.verify_checked, reply, mac_key, **wrong),
        )
    attempt(
        "sign_checked reflected",
        lambda: hemproto.sign_checked(
            mac_key, jti=bytes(32), iss=SESSION.public, aud=SESSION.public, iat=1, act="OK"
        ),
    )
    attempt(
        "sign_checked bad action",
        lambda: hemproto.sign_checked(
            mac_key, jti=bytes(32), iss=BACKEND.public, aud=SESSION.public, iat=1, act="X"
        ),
    )
    # The CBOR envelope.
    attempt("from_cbor garbage", lambda: from_cbor(b"\xa1\x00" + mac_key))
    attempt("to_cbor forged", lambda: to_cbor(forged[:-5]))
    exposure.assert_clean(at_least=100)


def test_no_secret_in_role_refusals_or_logs(
    exposure: Exposure, logs: pytest.LogCaptureFixture
) -> None:
    """A real check-in, then every way the backend and the device refuse what follows."""
    backend = hemproto.Backend([BACKEND, OTHER_BACKEND])
    stranger = hemproto.Backend(OTHER_SESSION)
    device = DeviceEmulator(backend_public_key=BACKEND.public)
    other_device = DeviceEmulator(backend_public_key=BACKEND.public)
    attempt = exposure.attempt

    check = device.challenge()
    status, reply = backend.handle(check)
    assert status == 200 and reply is not None
    attempt("backend replay", lambda: backend.handle(check))
    attempt("backend answer replay", lambda: backend.answer(check))
    attempt("stranger backend", lambda: stranger.handle(check))
    attempt("stranger answer", lambda: stranger.answer(check))
    attempt("other device", lambda: other_device.handle(reply))
    attempt("device accepts", lambda: device.handle(reply))
    attempt("device replay", lambda: device.handle(reply))
    attempt("device reflected", lambda: device.handle({"checked": device.challenge()["check"]}))
    attempt("device too large", lambda: device.handle("{" + " " * 8000 + "}"))
    for text in ("", "{", "[]", '{"checked":1}', '{"checked":"a.b.c"}'):
        attempt(f"backend {text!r}", partial(backend.handle, text))
        attempt(f"device {text!r}", partial(device.handle, text))
    attempt("backend no keys", lambda: hemproto.Backend([]))
    attempt("backend short key", lambda: hemproto.Backend(BACKEND.private_bytes()[:31]))
    attempt(
        "backend bad certificate",
        lambda: hemproto.Backend(BACKEND, certificates={bytes(16): b""}),
    )
    attempt("backend bad window", lambda: hemproto.Backend(BACKEND, replay_window=0))
    attempt("device short trusted key", lambda: DeviceEmulator(backend_public_key=bytes(31)))
    # An order to stop, and what a stopped device says afterwards.
    braking = hemproto.Backend(BACKEND, policy=hemproto.Policy(unknown="B"))
    status, stop = braking.handle(device.challenge())
    assert device.handle(stop)[0] == 200
    attempt("stopped device challenge", device.challenge)
    attempt("stopped device handle", lambda: device.handle(stop))
    for where, value in (
        ("backend", backend),
        ("replay store", backend.replay),
        ("device", device),
        ("device log", device.log),
        ("device reports", device.reports),
        ("check", hemproto.verify_check(check, BACKEND)),
        ("reply", hemproto.parse_checked(reply)),
        ("decoded", decode_ejwt(check["check"])),
    ):
        exposure.shown(where, value)
    for pair in FIXED_KEYS:
        exposure.shown("key pair", pair)
    exposure.logs("roles", logs.records)
    assert len(logs.records) >= 5
    exposure.assert_clean(at_least=60)


def test_no_secret_in_relay_errors(exposure: Exposure, logs: pytest.LogCaptureFixture) -> None:
    backend = hemproto.Backend(BACKEND)
    stranger = hemproto.Backend(OTHER_BACKEND)
    device = DeviceEmulator(backend_public_key=BACKEND.public)
    other = DeviceEmulator(backend_public_key=BACKEND.public)
    attempt = exposure.attempt
    relay = hemproto.relay_checkin

    outcome = attempt(
        "relay succeeds", lambda: relay(device.challenge, backend.handle, device.handle)
    )
    assert isinstance(outcome, hemproto.RelayOutcome)
    exposure.shown("relay outcome as dict", outcome.to_dict())
    attempt("relay to a stranger", lambda: relay(device.challenge, stranger.handle, device.handle))
    attempt(
        "relay answer raising",
        lambda: relay(device.challenge, stranger.answer, device.handle),
    )
    attempt(
        "relay to another device", lambda: relay(device.challenge, backend.handle, other.handle)
    )
    attempt(
        "relay with a forged reply",
        lambda: relay(device.challenge, lambda body: {"checked": "a.b.c"}, device.handle),
    )
    attempt(
        "relay with a reply for another challenge",
        lambda: relay(
            device.challenge, lambda body: backend.handle(other.challenge()), device.handle
        ),
    )
    replayed = device.challenge()
    backend.handle(replayed)
    attempt(
        "relay replayed check",
        lambda: relay(lambda: replayed, backend.handle, device.handle),
    )

    async def fetch() -> dict[str, str]:
        return device.challenge()

    async def refuse(body: dict[str, Any]) -> tuple[int, None]:
        return 401, None

    attempt(
        "async relay refused",
        lambda: asyncio.run(hemproto.relay_checkin_async(fetch, refuse, device.handle)),
    )
    attempt(
        "async relay to a stranger",
        lambda: asyncio.run(hemproto.relay_checkin_async(fetch, stranger.handle, device.handle)),
    )
    exposure.logs("relay", logs.records)
    exposure.assert_clean(at_least=30)


def test_no_secret_in_command_output(
    exposure: Exposure, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    key_file = tmp_path / "backend.key"
    key_file.write_text(b64(BACKEND.private_bytes()) + "\n", encoding="ascii")
    wrong_file = tmp_path / "wrong.key"
    wrong_file.write_text(b64(BACKEND.private_bytes()[:31]) + "\n", encoding="ascii")
    check = hemproto.sign_check(
        SESSION, BACKEND.public, qid=bytes(32), fws=bytes(64), bls=bytes(64), csn=bytes(16)
    )
    stranger = hemproto.sign_check(
        SESSION, OTHER_BACKEND.public, qid=bytes(32), fws=bytes(64), bls=bytes(64), csn=bytes(16)
    )
    runs = [
        ["verify", "--key", str(key_file), check],
        ["verify", "--key", str(key_file), check[:-4] + "AAAA"],
        ["verify", "--key", str(key_file), stranger],
        ["verify", "--key", str(key_file), "not a token"],
        ["verify", "--key", str(wrong_file), check],
        ["inspect", check],
        ["inspect", "--json", check],
        ["demo"],
        ["demo", "--firmware", "revoked", "--push-certificate"],
        ["demo", "--untrusted-backend", "--no-dashboard"],
    ]
    for arguments in runs:
        code = cli.main(arguments)
        captured = capsys.readouterr()
        exposure.text(f"hemproto {' '.join(arguments)[:60]} ({code}): out", captured.out)
        exposure.text(f"hemproto {' '.join(arguments)[:60]} ({code}): err", captured.err)
    exposure.assert_clean(at_least=len(runs) * 2)
