"""The fixed world the hostile corpus (tests/hostile/) runs in, and the machinery that turns a
case file into an input, runs it against one role under one codec, and reports
what happened.

Every key is fixed, so every input is reproducible and every MAC is right unless the case
says otherwise: only the rule under test can refuse it. The device emulator draws a fresh
session key at each boot, so inputs for the device role are built at run time, from the
case's recipe, against the device's actual session key and outstanding nonce.

Inputs are built with the standard library alone (json, base64, hmac), never with
hemproto's codec: a case must not depend on the code it tests. tests/hostile/README.md
describes the case format this module reads.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import hmac
import json
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from _clock import FakeClock

import hemproto
from hemproto import _codec, errors
from hemproto.device import DeviceEmulator
from hemproto.replay import MemoryReplayStore

CORPUS = Path(__file__).parent / "hostile"

ROLES = ("verify_check", "backend", "parse_checked", "device")
# The roles that take a check (and answer as the backend does) and those that take a reply.
CHECK_ROLES = frozenset({"verify_check", "backend"})
HANDLE_ROLES = frozenset({"backend", "device"})
ERROR_NAMES = frozenset(
    name
    for name in errors.__all__
    if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), Exception)
)
STATUSES = frozenset({400, 401, 413, 503})
CODEC_FUNCTIONS = ("b64url_decode", "b64url_encode", "b64_decode", "b64_encode", "ct_equal")
CODEC_ATTRIBUTES = (*CODEC_FUNCTIONS, "split_token", "scan_check", "hs256", "hs256_verify")


def _fixed_key(label: str) -> hemproto.KeyPair:
    # Derived from a label rather than a counting pattern, so that no private key can equal
    # a public value a case or a repr shows (test_secrets scans for the private bytes).
    return hemproto.KeyPair(hashlib.sha256(f"hemproto hostile corpus: {label}".encode()).digest())


BACKEND = _fixed_key("backend")
OTHER_BACKEND = _fixed_key("other backend")
SESSION = _fixed_key("device session")
OTHER_SESSION = _fixed_key("other device session")
PRIVATE_KEYS: dict[str, hemproto.KeyPair] = {
    "backend": BACKEND,
    "other_backend": OTHER_BACKEND,
    "other_session": OTHER_SESSION,
}

JTI = bytes(range(0x20, 0x40))
QID = bytes(range(0x40, 0x60))
FWS = bytes([0xF1]) * 64
BLS = bytes([0xB1]) * 64
UIS = bytes([0xD1]) * 32
CSN = bytes(range(0x60, 0x70))
IAT = 1_764_000_000
NOW = 1_764_000_000.0
NONCE_LIFETIME = 300.0
DEFAULT_HEADER_TEXT = '{"ecdh":"x25519","typ":"JWT","alg":"HS256"}'
DEVICE_STATE = (
    "rtc",
    "fls_state",
    "user_key_present",
    "certificate",
    "upgrade_pending",
    "reports",
    "log",
    "serving",
    "session_public_key",
    "outstanding_nonces",
    "last_action",
)
HANG_SECONDS = 5


class CaseError(Exception):
    """A case file that does not follow the format (a mistake in the corpus, not a bug)."""


class CaseHang(Exception):
    """A role call that did not return within the hang guard."""


# --- small encoders, independent of hemproto's codec --------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64url_bytes(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def raw_bytes(text: str) -> bytes:
    # ${byte:HH} leaves bytes 0x80-0xff as lone low surrogates (see expand): surrogateescape
    # turns them back into those exact bytes, which is how a case spells invalid UTF-8.
    return text.encode("utf-8", "surrogateescape")


class RecordingStore:
    """The backend's replay store, remembering every nonce it recorded as new.

    A refusal must record nothing; a replay refusal asks the store and is told "seen".
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.inner = MemoryReplayStore(clock=clock)
        self.recorded: list[bytes] = []

    def seen_before(self, jti: bytes, expires_at: float) -> bool:
        seen = self.inner.seen_before(jti, expires_at)
        if not seen:
            self.recorded.append(bytes(jti))
        return seen

    def __len__(self) -> int:
        return len(self.inner)


# --- the world one case runs in -----------------------------------------------------------


@dataclass
class World:
    """A fresh backend and (for the device role) a fresh device, on fake clocks.

    ``session`` is the device session public key the role expects (the fixed SESSION, or the
    emulator's own key for this boot) and ``jti`` the nonce a valid input carries (the
    fixed JTI, or the emulator's one outstanding nonce).
    """

    role: str
    clock: FakeClock
    store: RecordingStore
    backend: hemproto.Backend
    device: DeviceEmulator | None
    session: bytes
    jti: bytes

    @classmethod
    def create(cls, role: str) -> World:
        clock = FakeClock(NOW)
        store = RecordingStore(clock)
        backend = hemproto.Backend(BACKEND, clock=clock, replay=store)
        if role != "device":
            return cls(role, clock, store, backend, None, SESSION.public, JTI)
        device = DeviceEmulator(
            backend_public_key=BACKEND.public,
            qid=QID,
            fws=FWS,
            bls=BLS,
            uis=UIS,
            csn=CSN,
            nonce_lifetime=NONCE_LIFETIME,
            monotonic=clock,
        )
        token = device.challenge()["check"]
        claims = json.loads(b64url_bytes(token.split(".")[1]))
        jti = base64.b64decode(claims["jti"])
        return cls(role, clock, store, backend, device, device.session_public_key, jti)

    def snapshot(self) -> dict[str, Any]:
        """What a refusal must leave as it was (the stateless roles have nothing)."""
        if self.role == "backend":
            return {"replay entries": len(self.store), "recorded": tuple(self.store.recorded)}
        if self.device is not None:
            state = {name: getattr(self.device, name) for name in DEVICE_STATE}
            state["now"] = self.device.now()
            return state
        return {}

    def call(self, delivered: Any) -> Any:
        """Run the role on ``delivered``: its return value (a raised error propagates)."""
        if self.role == "verify_check":
            return hemproto.verify_check(delivered, BACKEND)
        if self.role == "parse_checked":
            return hemproto.parse_checked(delivered)
        if self.role == "backend":
            return self.backend.handle(delivered)
        assert self.device is not None
        return self.device.handle(delivered)


# --- the case file ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    path: Path
    name: str
    description: str
    input: Mapping[str, Any]
    expect: Mapping[str, Mapping[str, Any]]
    notes: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def id(self) -> str:
        return self.path.stem

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(role for role in ROLES if role in self.expect)


CASE_KEYS = frozenset({"name", "description", "input", "expect", "notes", "tags"})
INPUT_KEYS = frozenset(
    {"recipe", "token", "body", "body_text", "deliver", "envelope", "setup", "pad_body_to"}
)
RECIPE_KEYS = frozenset(
    {
        "message",
        "session",
        "header",
        "header_raw",
        "claims_patch",
        "claims_remove",
        "payload",
        "payload_raw",
        "mac",
        "signature",
        "pad_token_to",
        "mangle",
    }
)
DELIVERIES = frozenset({"token", "token_bytes", "body", "body_text", "body_bytes"})
SETUP_STEPS = {"answer_first": HANDLE_ROLES, "expire_nonce": {"device"}, "reboot": {"device"}}
EXPECT_KEYS = frozenset({"error", "status", "segment", "claim", "match"})


def load_case(path: Path) -> Case:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not CASE_KEYS.issuperset(data):
        raise CaseError(f"{path.name}: members must be among {sorted(CASE_KEYS)}")
    return Case(
        path=path,
        name=data["name"],
        description=data["description"],
        input=data["input"],
        expect=data["expect"],
        notes=data.get("notes", ""),
        tags=tuple(data.get("tags", ())),
    )


def load_corpus() -> list[Case]:
    return [load_case(path) for path in sorted(CORPUS.glob("*.json"))]


def validate(case: Case) -> None:
    """Raise CaseError unless ``case`` follows the format in tests/hostile/README.md."""
    where = case.path.name

    def need(condition: bool, message: str) -> None:
        if not condition:
            raise CaseError(f"{where}: {message}")

    number, _, name = case.path.stem.partition("_")
    need(number.isdigit() and len(number) == 3, "file name must be NNN_<name>.json")
    need(case.name == name, f"name {case.name!r} must be the file name after NNN_ ({name!r})")
    need(bool(case.description.strip()), "description is empty")
    need(bool(case.expect), "expect names no role")
    need(set(case.expect) <= set(ROLES), f"expect roles must be among {ROLES}")
    for role, expected in case.expect.items():
        need(EXPECT_KEYS.issuperset(expected), f"{role}: unknown expectation keys")
        if role in HANDLE_ROLES:
            need(expected.get("status") in STATUSES, f"{role}: needs a refusal status")
            need("error" not in expected, f"{role}: a handle() role expects a status")
        else:
            need(expected.get("error") in ERROR_NAMES, f"{role}: needs a hemproto error name")
            need("status" not in expected, f"{role}: a function role expects an error")
    spec = case.input
    need(INPUT_KEYS.issuperset(spec), f"input members must be among {sorted(INPUT_KEYS)}")
    sources = [key for key in ("recipe", "token", "body") if key in spec]
    need(len(sources) <= 1, "input has more than one of recipe, token, body")
    need(bool(sources) or "body_text" in spec, "input has no recipe, token, body or body_text")
    need(RECIPE_KEYS.issuperset(spec.get("recipe", {})), "unknown recipe members")
    need(spec.get("deliver", "token") in DELIVERIES, f"deliver must be among {DELIVERIES}")
    for step in spec.get("setup", ()):
        need(step in SETUP_STEPS, f"unknown setup step {step!r}")
        need(set(case.expect) <= SETUP_STEPS[step], f"setup {step!r} does not apply to a role")


# --- text expansion -------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"\$\{(\w+)(?::([^}]*))?\}")


def expand(text: str, context: Mapping[str, str]) -> str:
    """Expand the ${...} directives of a case's text (see tests/hostile/README.md).

    ``${repeat:N:TEXT}`` (TEXT without ``}``), ``${close:N}`` (N ``}``), ``${byte:HH}`` (one
    raw byte), ``${claim:NAME}`` (that base claim as JSON), and the names in ``context``.
    """

    def replace(match: re.Match[str]) -> str:
        name, argument = match.group(1), match.group(2)
        if name == "repeat" and argument is not None:
            count, _, unit = argument.partition(":")
            return unit * int(count)
        if name == "close" and argument is not None:
            return "}" * int(argument)
        if name == "byte" and argument is not None:
            value = int(argument, 16)
            return chr(value) if value < 0x80 else chr(0xDC00 + value)
        if name == "claim" and argument is not None:
            return context[f"claim:{argument}"]
        if argument is None and name in context:
            return context[name]
        raise CaseError(f"unknown directive {match.group(0)!r}")

    return _DIRECTIVE.sub(replace, text)


def expand_value(value: Any, context: Mapping[str, str]) -> Any:
    """Expand the strings inside a JSON value from a case file, and its $-directives."""
    if isinstance(value, str):
        return expand(value, context)
    if isinstance(value, list):
        return [expand_value(item, context) for item in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key.startswith("$") and key != "$member":
                return _value_directive(key, argument, context)
        return {expand(key, context): expand_value(item, context) for key, item in value.items()}
    return value


def _value_directive(key: str, argument: Any, context: Mapping[str, str]) -> str:
    """A claim value spelled by what it means: the standard base64 of some bytes."""
    if key == "$bytes":
        return b64(bytes.fromhex(argument))
    if key == "$fill":
        byte, size = argument
        return b64(bytes([byte]) * size)
    if key == "$key":
        return b64(bytes.fromhex(context[f"key:{argument}"]))
    raise CaseError(f"unknown value directive {key!r}")


# --- building the input ---------------------------------------------------------------------


def _message(recipe: Mapping[str, Any], role: str) -> str:
    message = str(recipe.get("message", "auto"))
    if message == "auto":
        return "check" if role in CHECK_ROLES else "checked"
    if message not in ("check", "checked"):
        raise CaseError(f"unknown message {message!r}")
    return message


def _session(recipe: Mapping[str, Any], world: World) -> bytes:
    session = recipe.get("session", "own")
    if session == "own":
        return world.session
    if session == "other":
        return OTHER_SESSION.public
    raise CaseError(f"unknown session {session!r}")


def _public_keys(session: bytes) -> dict[str, bytes]:
    return {
        "backend": BACKEND.public,
        "other_backend": OTHER_BACKEND.public,
        "session": session,
        "other_session": OTHER_SESSION.public,
    }


def base_claims(message: str, world: World, session: bytes) -> dict[str, Any]:
    """A valid check from ``session`` to the backend, or the backend's valid reply to it."""
    if message == "check":
        return {
            "jti": b64(world.jti),
            "iss": b64(session),
            "qid": b64(QID),
            "aud": b64(BACKEND.public),
            "fws": b64(FWS),
            "bls": b64(BLS),
            "uis": b64(UIS),
            "csn": b64(CSN),
        }
    return {
        "jti": b64(world.jti),
        "iss": b64(BACKEND.public),
        "aud": b64(session),
        "iat": IAT,
        "act": "OK",
    }


def _mac_key(spec: Any, session: bytes) -> bytes:
    if spec == "zeros":
        return bytes(32)
    if isinstance(spec, list) and len(spec) == 2 and spec[0] in PRIVATE_KEYS:
        return PRIVATE_KEYS[spec[0]].shared(_public_keys(session)[spec[1]])
    raise CaseError(f"mac must be 'zeros' or [private key name, public key name], not {spec!r}")


def _signature(spec: str, mac: bytes, other_mac: Callable[[], bytes]) -> bytes:
    operation, _, argument = spec.partition(":")
    if operation == "mac":
        return mac
    if operation == "truncate":
        return mac[: int(argument)]
    if operation == "extend":
        return mac + bytes([0xA5]) * int(argument)
    if operation == "double":
        return mac + mac
    if operation == "zeros":
        return bytes(len(mac))
    if operation == "flip_bit":
        return bytes([mac[0] ^ 0x01]) + mac[1:]
    if operation == "other_token":
        return other_mac()
    raise CaseError(f"unknown signature operation {spec!r}")


def _mangle(segments: dict[str, str], operations: list[Mapping[str, Any]]) -> str:
    """Apply text operations to the signed token's segments (or the joined token)."""
    token: str | None = None
    for operation in operations:
        kind = operation["op"]
        if kind == "template":
            token = expand(operation["text"], segments)
            continue
        target = operation["segment"]
        if target == "token":
            if token is None:
                token = ".".join(segments[name] for name in ("header", "payload", "signature"))
            text = token
        elif token is not None:
            raise CaseError("a segment operation after the token was joined")
        else:
            text = segments[target]
        text = _edit(text, kind, operation)
        if target == "token":
            token = text
        else:
            segments[target] = text
    if token is None:
        token = ".".join(segments[name] for name in ("header", "payload", "signature"))
    return token


_URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _edit(text: str, kind: str, operation: Mapping[str, Any]) -> str:
    edit = str(operation.get("text", ""))
    if kind == "append":
        return text + edit
    if kind == "prepend":
        return edit + text
    at = int(operation.get("at", 0)) % max(len(text), 1)
    if kind == "replace":
        return text[:at] + edit + text[at + 1 :]
    if kind == "insert":
        return text[:at] + edit + text[at:]
    if kind == "trailing_bits":
        # The last character of a segment whose length is 2 or 3 mod 4 carries 4 or 2 bits
        # no byte uses; setting the lowest makes an alias that decodes to the same bytes.
        if len(text) % 4 not in (2, 3):
            raise CaseError(f"segment of length {len(text)} has no unused bits")
        value = _URL_ALPHABET.index(text[-1])
        return text[:-1] + _URL_ALPHABET[value | 1]
    raise CaseError(f"unknown mangle operation {kind!r}")


def build_token(recipe: Mapping[str, Any], world: World) -> str:
    """The token a recipe describes, for ``world``'s role, MACed as the recipe says."""
    message = _message(recipe, world.role)
    session = _session(recipe, world)
    keys = {f"key:{name}": key.hex() for name, key in _public_keys(session).items()}

    claims = base_claims(message, world, session)
    for name, value in recipe.get("claims_patch", {}).items():
        claims[name] = expand_value(value, keys)
    for name in recipe.get("claims_remove", ()):
        del claims[name]
    context = {**keys, "claims": compact(claims)[1:-1]}
    context.update({f"claim:{name}": compact(value) for name, value in claims.items()})

    if "header_raw" in recipe:
        header_text = expand(recipe["header_raw"], context)
    elif "header" in recipe:
        header_text = compact(recipe["header"])
    else:
        header_text = DEFAULT_HEADER_TEXT
    header_segment = b64url(raw_bytes(header_text))
    mac_key = _mac_key(recipe.get("mac", ["backend", "session"]), session)

    def signed(payload_text: str) -> tuple[str, bytes]:
        signing_input = f"{header_segment}.{b64url(raw_bytes(payload_text))}"
        return signing_input, hmac.new(mac_key, signing_input.encode(), hashlib.sha256).digest()

    def other_mac() -> bytes:
        # The MAC of another genuine token under the same key: only the nonce differs.
        return signed(compact({**claims, "jti": b64(bytes([0x77]) * 32)}))[1]

    if "payload_raw" in recipe:
        payload_text = expand(recipe["payload_raw"], context)
    elif "payload" in recipe:
        payload_text = compact(recipe["payload"])
    else:
        payload_text = compact(claims)
    signing_input, mac = signed(payload_text)

    target = recipe.get("pad_token_to")
    if target is not None:
        signing_input, mac = _padded(claims, signed, int(target))

    signature = _signature(str(recipe.get("signature", "mac")), mac, other_mac)
    header, payload = signing_input.split(".")
    segments = {"header": header, "payload": payload, "signature": b64url(signature)}
    return _mangle(segments, list(recipe.get("mangle", ())))


def _padded(
    claims: dict[str, Any], signed: Callable[[str], tuple[str, bytes]], target: int
) -> tuple[str, bytes]:
    """Sign ``claims`` plus a filler claim sized so the token is exactly ``target`` long."""
    signature_length = 43 + 1  # 32 MAC bytes in base64url, and the dot before them

    def length(size: int) -> int:
        return len(signed(compact({**claims, "pad": "x" * size}))[0]) + signature_length

    size = max(0, (target - length(0)) * 3 // 4 - 4)
    while length(size) < target:
        size += 1
    if length(size) != target:
        raise CaseError(f"no filler gives a token of exactly {target} characters")
    return signed(compact({**claims, "pad": "x" * size}))


def _member(spec: Mapping[str, Any], role: str) -> str:
    own = "check" if role in CHECK_ROLES else "checked"
    member = spec.get("envelope", {}).get("member", own)
    if member == "swap":
        return "checked" if own == "check" else "check"
    return str(member)


def build_input(case: Case, world: World) -> Any:
    """What the role is given: a token, a body dict, or a raw body (str or bytes)."""
    spec = case.input
    role = world.role
    member = _member(spec, role)
    extra = spec.get("envelope", {}).get("extra", {})
    token: str | None = None
    if "recipe" in spec:
        token = build_token(spec["recipe"], world)
    elif "token" in spec:
        token = expand(spec["token"], {})
    context = {"member": member}
    if token is not None:
        context["token"] = token

    if "body" in spec:
        literal = spec["body"]
        body: Any = expand_value(literal, context)
        if isinstance(literal, dict) and "$member" in literal:
            body = {member if key == "$member" else key: value for key, value in body.items()}
        default = "body"
    else:
        body = None if token is None else {member: token, **extra}
        default = "body_text" if "body_text" in spec else "token"
    deliver = spec.get("deliver", default)

    if deliver == "token":
        if token is None:
            raise CaseError("deliver 'token' needs a recipe or a token")
        return token if role not in HANDLE_ROLES else body
    if deliver == "token_bytes" and role not in HANDLE_ROLES:
        if token is None:
            raise CaseError("deliver 'token_bytes' needs a recipe or a token")
        return raw_bytes(token)
    if deliver == "body":
        return body
    if "body_text" in spec:
        text = expand(spec["body_text"], context)
    else:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    size = spec.get("pad_body_to")
    if size is not None:
        text += " " * (int(size) - len(raw_bytes(text)))
    return text if deliver == "body_text" else raw_bytes(text)


def run_setup(case: Case, world: World, delivered: Any) -> None:
    """The steps that put the world where the case needs it: these may change state."""
    for step in case.input.get("setup", ()):
        if step == "answer_first":
            status, _ = world.call(copy.deepcopy(delivered))
            if status != 200:
                raise CaseError(f"setup answer_first: the first answer was {status}, not 200")
        elif step == "expire_nonce":
            world.clock.advance(NONCE_LIFETIME)
        elif step == "reboot":
            assert world.device is not None
            world.device.reboot()


# --- running one case -----------------------------------------------------------------------


@contextlib.contextmanager
def codec(backend: SimpleNamespace) -> Iterator[None]:
    """Make ``backend`` the codec hemproto's modules call, for the duration of the block.

    jws, claims, device and cbor reach the codec as ``_codec.<function>`` at call time, so
    setting the module attributes reaches every role (test_hostile checks that).
    """
    saved = {name: getattr(_codec, name) for name in CODEC_ATTRIBUTES}
    try:
        for name in CODEC_ATTRIBUTES:
            setattr(_codec, name, getattr(backend, name))
        yield
    finally:
        for name, function in saved.items():
            setattr(_codec, name, function)


@contextlib.contextmanager
def hang_guard(what: str, seconds: int = HANG_SECONDS) -> Iterator[None]:
    """Fail a call that has not returned within ``seconds`` (SIGALRM; main thread only)."""
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise CaseHang(f"{what} did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    """What one role call did: an exception, or a returned value, and the state around it."""

    raised: BaseException | None
    returned: Any
    before: dict[str, Any]
    after: dict[str, Any]
    input_changed: bool
    seconds: float


def run(case: Case, role: str, backend: SimpleNamespace) -> Outcome:
    """Build ``case``'s input for ``role`` and run it under the codec ``backend``."""
    with codec(backend):
        world = World.create(role)
        delivered = build_input(case, world)
        run_setup(case, world, delivered)
        before = world.snapshot()
        kept = copy.deepcopy(delivered)
        raised: BaseException | None = None
        returned: Any = None
        start = time.perf_counter()
        try:
            with hang_guard(f"{case.id} on {role} ({backend.name} codec)"):
                returned = world.call(delivered)
        except CaseHang:
            raise
        except Exception as exc:
            raised = exc
        seconds = time.perf_counter() - start
        after = world.snapshot()
    return Outcome(raised, returned, before, after, kept != delivered, seconds)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."


def problems(case: Case, role: str, outcome: Outcome) -> list[str]:
    """Every way ``outcome`` differs from what ``case`` expects of ``role`` (empty: as
    expected): the refusal itself, its details, and the state and input left unchanged."""
    expected = case.expect[role]
    found: list[str] = []
    raised = outcome.raised
    if role in HANDLE_ROLES:
        if raised is not None:
            found.append(f"handle() raised {type(raised).__name__}: {_show(str(raised))}")
        elif outcome.returned != (expected["status"], None):
            found.append(
                f"handle() returned {_show(outcome.returned)}, expected "
                f"({expected['status']}, None)"
            )
    elif raised is None:
        found.append(f"accepted: returned {_show(outcome.returned)}")
    else:
        name = type(raised).__name__
        if name != expected["error"]:
            found.append(f"raised {name}: {_show(str(raised))}, expected {expected['error']}")
        elif not isinstance(raised, hemproto.HemProtoError):
            found.append(f"raised {name}, which is not a HemProtoError")
        for attribute in ("segment", "claim"):
            if attribute in expected and getattr(raised, attribute, None) != expected[attribute]:
                found.append(
                    f"{attribute} is {getattr(raised, attribute, None)!r}, "
                    f"expected {expected[attribute]!r}"
                )
        if "match" in expected and not re.search(expected["match"], str(raised)):
            found.append(f"message {_show(str(raised))} does not match {expected['match']!r}")
    if outcome.before != outcome.after:
        changed = {
            name: (outcome.before[name], outcome.after.get(name))
            for name in outcome.before
            if outcome.before[name] != outcome.after.get(name)
        }
        found.append(f"state changed by the refusal: {_show(changed)}")
    if outcome.input_changed:
        found.append("the role changed the input it was given")
    return found


def codec_list() -> list[SimpleNamespace]:
    """The codecs this process has: python always, c when the extension is built."""
    return [backend for backend in (_codec.c_codec, _codec.python_codec) if backend]
