"""The client relay: step order, verbatim forwarding, and every way each step can fail.

The fakes stand in for the device's and the backend's HTTP endpoints but sign and verify
real tokens, so a run that passes here delivered something a device would accept. Every
scenario runs through both drivers, relay_checkin and relay_checkin_async.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import json
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import pytest

import hemproto
from hemproto.errors import ClaimError, EncodingError, HemProtoError, MalformedToken, RelayError
from hemproto.relay import JsonBody, RelayOutcome, relay_checkin, relay_checkin_async

STEPS = ("get_check", "post_backend", "post_device")
IAT = 1_700_000_000


class Fake:
    """One endpoint: records each body it is given (the object itself, so identity can be
    checked) in its own list and in a shared log, and answers with ``respond(body)``."""

    def __init__(
        self, step: str, respond: Callable[[JsonBody | None], object], log: list[str]
    ) -> None:
        self.step = step
        self.respond = respond
        self.log = log
        self.calls: list[JsonBody | None] = []

    def __call__(self, *args: JsonBody) -> Any:
        body = args[0] if args else None
        self.calls.append(body)
        self.log.append(self.step)
        return self.respond(body)


class World:
    """A test device and a test backend, each behind a Fake that really signs and verifies."""

    def __init__(self, backend_key: hemproto.KeyPair, device_key: hemproto.KeyPair, check: str):
        self.backend_key = backend_key
        self.device_key = device_key
        # The MAC key both sides derive: X25519(backend, device session) = X25519(device, backend).
        self.mac_key = backend_key.shared(device_key.public)
        self.check = check
        self.challenge = hemproto.parse_check(check)
        self.check_body: JsonBody = {"check": check}
        self.act = "OK"
        self.device_answer: JsonBody = {"status": "OK"}
        self.log: list[str] = []
        self.get_check = Fake("get_check", lambda _: (200, self.check_body), self.log)
        self.post_backend = Fake("post_backend", self.backend_handle, self.log)
        self.post_device = Fake("post_device", self.device_handle, self.log)

    def reply(self, **overrides: Any) -> str:
        """A checked token for this world's check, correctly MACed, with claims overridden."""
        fields: dict[str, Any] = {
            "jti": self.challenge.jti,
            "iss": self.backend_key.public,
            "aud": self.challenge.iss,
            "iat": IAT,
            "act": self.act,
        }
        fields.update(overrides)
        return hemproto.sign_checked(self.mac_key, **fields)

    def backend_handle(self, body: JsonBody | None) -> Any:
        challenge = hemproto.verify_check(body, self.backend_key)
        assert challenge == self.challenge
        return (200, {"checked": self.reply()})

    def device_handle(self, body: JsonBody | None) -> Any:
        # What the device enforces, where the relay only takes a courtesy look.
        try:
            hemproto.verify_checked(
                body,
                self.mac_key,
                issuer=self.backend_key.public,
                audience=self.device_key.public,
                jti=self.challenge.jti,
            )
        except HemProtoError:
            return (401, None)
        return (200, self.device_answer)

    def fakes(self) -> tuple[Fake, Fake, Fake]:
        return self.get_check, self.post_backend, self.post_device

    def fake(self, step: str) -> Fake:
        return self.fakes()[STEPS.index(step)]

    def replace(self, step: str, respond: Callable[[JsonBody | None], object]) -> None:
        setattr(self, step, Fake(step, respond, self.log))


Runner = Callable[[Callable[..., Any], Callable[..., Any], Callable[..., Any]], RelayOutcome]


def run_sync(
    get_check: Callable[..., Any], post_backend: Callable[..., Any], post_device: Callable[..., Any]
) -> RelayOutcome:
    return relay_checkin(get_check, post_backend, post_device)


def run_async(
    get_check: Callable[..., Any], post_backend: Callable[..., Any], post_device: Callable[..., Any]
) -> RelayOutcome:
    # Each endpoint becomes a coroutine function that really suspends, as network calls do.
    def wrap(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        async def call(*args: JsonBody) -> Any:
            await asyncio.sleep(0)
            return function(*args)

        return call

    return asyncio.run(relay_checkin_async(wrap(get_check), wrap(post_backend), wrap(post_device)))


@pytest.fixture(params=[run_sync, run_async], ids=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Runner:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture()
def world(
    backend_key: hemproto.KeyPair, device_key: hemproto.KeyPair, make_check: Callable[..., str]
) -> World:
    return World(backend_key, device_key, make_check())


def relay(run: Runner, world: World) -> RelayOutcome:
    return run(*world.fakes())


# --- the happy path ---------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["tuple", "dict"])
def test_happy_path(run: Runner, world: World, form: str) -> None:
    if form == "dict":
        # Bare bodies, as an HTTP client helper that already checked the status returns them.
        world.replace("get_check", lambda _: world.check_body)
        world.replace("post_backend", lambda body: world.backend_handle(body)[1])
        world.replace("post_device", lambda body: world.device_handle(body)[1])

    outcome = relay(run, world)

    assert world.log == list(STEPS)
    checked_token = world.post_device.calls[0]["checked"]  # type: ignore[index]
    assert outcome.check == hemproto.parse_check(world.check)
    assert outcome.checked == hemproto.parse_checked(checked_token)
    assert outcome.checked.jti == outcome.check.jti
    assert outcome.checked.aud == outcome.check.iss == world.device_key.public
    assert outcome.status == "OK"
    assert (outcome.newcrt, outcome.newfws, outcome.newuis) == (None, None, None)
    assert outcome.device_response is world.device_answer


def test_device_optional_fields_are_decoded(run: Runner, world: World) -> None:
    newfws, newuis = bytes(range(64)), bytes(range(100, 132))
    world.act = "U"
    world.device_answer = {
        "status": "U",
        "newcrt": "OK",
        "newfws": base64.b64encode(newfws).decode(),
        "newuis": base64.b64encode(newuis).decode(),
    }

    outcome = relay(run, world)

    assert (outcome.status, outcome.newcrt) == ("U", "OK")
    assert (outcome.newfws, outcome.newuis) == (newfws, newuis)
    wire = json.loads(json.dumps(outcome.to_dict()))
    assert wire["newfws"] == world.device_answer["newfws"]
    assert wire["newuis"] == world.device_answer["newuis"]
    assert wire["check"] == outcome.check.to_dict()
    assert wire["checked"] == outcome.checked.to_dict()
    assert wire["device_response"] == world.device_answer


def test_status_reports_what_the_device_did_not_what_was_ordered(run: Runner, world: World) -> None:
    # A device with trusted_backend off suppresses the action and says so.
    world.act = "L"
    outcome = relay(run, world)
    assert (outcome.checked.act, outcome.status) == ("L", "OK")


def test_to_dict_leaves_absent_fields_out(run: Runner, world: World) -> None:
    wire = relay(run, world).to_dict()
    assert set(wire) == {"check", "checked", "status", "device_response"}
    assert wire["device_response"] is not world.device_answer


def test_outcome_is_frozen_and_slotted(run: Runner, world: World) -> None:
    outcome = relay(run, world)
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.status = "W"  # type: ignore[misc]
    assert not hasattr(outcome, "__dict__")


# --- verbatim ---------------------------------------------------------------------------------


def test_bodies_are_forwarded_verbatim(run: Runner, world: World) -> None:
    # Tokens hemproto would never produce itself: another header order, claims in another
    # order, an unknown claim. Re-serialising any of them would change the token.
    header = {"typ": "JWT", "alg": "HS256", "ecdh": "x25519"}
    claims = dict(reversed(world.challenge.to_dict().items()))
    claims["vendor"] = {"note": "kept"}
    world.check = hemproto.sign_ejwt(claims, world.mac_key, header=header)
    world.challenge = hemproto.parse_check(world.check)
    world.check_body = {"check": world.check}
    reply_claims = hemproto.parse_checked(world.reply()).to_dict()
    reply_claims = {"act": reply_claims.pop("act"), **reply_claims, "x-trace": 7}
    checked = hemproto.sign_ejwt(reply_claims, world.mac_key, header=header)
    checked_body: JsonBody = {"checked": checked}
    world.replace("post_backend", lambda _: (200, checked_body))
    assert hemproto.sign_ejwt(world.challenge.to_dict(), world.mac_key) != world.check
    snapshots = copy.deepcopy((world.check_body, checked_body, world.device_answer))

    outcome = relay(run, world)

    assert world.post_backend.calls == [world.check_body]
    assert world.post_backend.calls[0] is world.check_body
    assert world.post_device.calls == [checked_body]
    assert world.post_device.calls[0] is checked_body
    assert outcome.device_response is world.device_answer
    # Nothing was altered on the way.
    assert (world.check_body, checked_body, world.device_answer) == snapshots
    assert outcome.check.token == world.check
    assert outcome.checked.token == checked
    assert outcome.check.extra == {"vendor": {"note": "kept"}}
    assert outcome.checked.extra == {"x-trace": 7}


def test_relay_does_not_verify_macs_the_device_does(run: Runner, world: World) -> None:
    # The relay holds no key: a forged MAC passes through it and the device refuses it.
    token = world.reply()
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "EEEE")
    world.replace("post_backend", lambda _: {"checked": forged})
    with pytest.raises(RelayError) as caught:
        relay(run, world)
    assert (caught.value.step, caught.value.status) == ("post_device", 401)
    assert world.post_device.calls == [{"checked": forged}]


# --- failures ---------------------------------------------------------------------------------

# The body each step answers when all is well, per step, for building broken variants.
GOOD_BODY: dict[str, Callable[[World], JsonBody]] = {
    "get_check": lambda w: w.check_body,
    "post_backend": lambda w: {"checked": w.reply()},
    "post_device": lambda w: {"status": "OK"},
}
MEMBER = {"get_check": "check", "post_backend": "checked", "post_device": "status"}

Build = Callable[[World], object]


def shape_failures(step: str) -> Generator[Any, None, None]:
    """Answers of the wrong shape, the same for every step: (id, build, status)."""
    good = GOOD_BODY[step]
    member = MEMBER[step]
    cases: list[tuple[str, Build, int | None]] = [
        ("status-500", lambda w: (500, good(w)), 500),
        ("status-201", lambda w: (201, good(w)), 201),
        ("status-401-empty", lambda w: (401, None), 401),
        ("status-413-empty-dict", lambda w: (413, {}), 413),
        ("status-bool", lambda w: (True, good(w)), None),
        ("status-text", lambda w: ("200", good(w)), None),
        ("status-float", lambda w: (200.0, good(w)), None),
        ("one-tuple", lambda w: (200,), None),
        ("three-tuple", lambda w: (200, good(w), {}), None),
        ("none", lambda w: None, None),
        ("200-none", lambda w: (200, None), 200),
        ("json-text", lambda w: json.dumps(good(w)), None),
        ("200-json-bytes", lambda w: (200, json.dumps(good(w)).encode()), 200),
        ("200-list", lambda w: (200, [good(w)]), 200),
        ("empty-dict", lambda w: {}, None),
        ("wrong-member", lambda w: (200, {member + "s": good(w)[member]}), 200),
        ("member-case", lambda w: {member.upper(): good(w)[member]}, None),
    ]
    for name, build, status in cases:
        yield pytest.param(step, build, status, None, id=f"{step}-{name}")


def content_failures() -> Generator[Any, None, None]:
    """Answers of the right shape with content the relay must refuse: (step, build, status,
    the type of the hemproto error that is the cause, or None when the relay itself saw it)."""
    b64 = base64.b64encode
    cases: list[tuple[str, str, Build, int | None, type[Exception] | None]] = [
        ("get_check", "garbage", lambda w: {"check": "not-a-token"}, None, MalformedToken),
        ("get_check", "not-text", lambda w: (200, {"check": 7}), 200, MalformedToken),
        ("get_check", "extra-member", lambda w: {"check": w.check, "x": 1}, None, MalformedToken),
        ("get_check", "is-a-checked", lambda w: {"check": w.reply()}, None, ClaimError),
        (
            "get_check",
            "short-jti",
            lambda w: {
                "check": hemproto.sign_ejwt({**w.challenge.to_dict(), "jti": "AAAA"}, w.mac_key)
            },
            None,
            ClaimError,
        ),
        ("post_backend", "garbage", lambda w: (200, {"checked": "a.b.c"}), 200, MalformedToken),
        ("post_backend", "is-the-check", lambda w: {"checked": w.check}, None, ClaimError),
        (
            "post_backend",
            "jti-mismatch",
            lambda w: (200, {"checked": w.reply(jti=bytes(32))}),
            200,
            None,
        ),
        (
            "post_backend",
            "aud-mismatch",
            lambda w: (200, {"checked": w.reply(aud=hemproto.KeyPair.generate().public)}),
            200,
            None,
        ),
        (
            "post_backend",
            "iss-mismatch",
            lambda w: (200, {"checked": w.reply(iss=hemproto.KeyPair.generate().public)}),
            200,
            None,
        ),
        (
            "post_device",
            "newfws-wrong-size",
            lambda w: {"status": "OK", "newfws": b64(bytes(48)).decode()},
            None,
            None,
        ),
        (
            "post_device",
            "newuis-wrong-size",
            lambda w: {"status": "OK", "newuis": b64(bytes(64)).decode()},
            None,
            None,
        ),
        ("post_device", "status-number", lambda w: (200, {"status": 0}), 200, None),
        ("post_device", "status-null", lambda w: (200, {"status": None}), 200, None),
        ("post_device", "newcrt-number", lambda w: {"status": "OK", "newcrt": 1}, None, None),
        ("post_device", "newfws-null", lambda w: {"status": "OK", "newfws": None}, None, None),
        (
            "post_device",
            "newfws-bytes",
            lambda w: {"status": "OK", "newfws": b64(bytes(64))},
            None,
            None,
        ),
        (
            "post_device",
            "newfws-bad-char",
            lambda w: (200, {"status": "OK", "newfws": "!" * 88}),
            200,
            EncodingError,
        ),
        (
            "post_device",
            "newfws-unpadded",
            lambda w: (200, {"status": "OK", "newfws": b64(bytes(64)).decode().rstrip("=")}),
            200,
            EncodingError,
        ),
        (
            "post_device",
            "newfws-urlsafe",
            lambda w: {"status": "OK", "newfws": base64.urlsafe_b64encode(b"\xff" * 64).decode()},
            None,
            EncodingError,
        ),
        (
            "post_device",
            "newfws-trailing-bits",
            lambda w: {"status": "OK", "newfws": "AB=="},
            None,
            EncodingError,
        ),
        (
            "post_device",
            "newfws-line-break",
            lambda w: {"status": "OK", "newfws": b64(bytes(48)).decode() + "\n"},
            None,
            EncodingError,
        ),
        (
            "post_device",
            "newuis-bad",
            lambda w: {"status": "OK", "newuis": "AAAA="},
            None,
            EncodingError,
        ),
    ]
    for step, name, build, status, cause in cases:
        yield pytest.param(step, build, status, cause, id=f"{step}-{name}")


FAILURES = [case for step in STEPS for case in shape_failures(step)] + list(content_failures())


def assert_stopped_at(world: World, step: str) -> None:
    """The steps up to the failing one ran once each, in order; none after it ran."""
    assert world.log == list(STEPS[: STEPS.index(step) + 1])


@pytest.mark.parametrize(("step", "build", "status", "cause"), FAILURES)
def test_a_bad_answer_fails_its_step(
    run: Runner,
    world: World,
    step: str,
    build: Build,
    status: int | None,
    cause: type[Exception] | None,
) -> None:
    answer = build(world)
    world.replace(step, lambda _: answer)

    with pytest.raises(RelayError) as caught:
        relay(run, world)

    error = caught.value
    assert (error.step, error.status) == (step, status)
    assert str(error).startswith(f"{step}: ")
    if cause is None:
        assert error.__cause__ is None
    else:
        assert isinstance(error.__cause__, cause)
    assert_stopped_at(world, step)


def test_a_mismatched_reply_never_reaches_the_device(run: Runner, world: World) -> None:
    world.replace("post_backend", lambda _: {"checked": world.reply(jti=bytes(32))})
    with pytest.raises(RelayError, match="jti"):
        relay(run, world)
    assert world.post_device.calls == []


RAISED: list[Any] = [
    pytest.param(ConnectionError("refused"), id="connection-error"),
    pytest.param(TimeoutError(), id="timeout"),
    pytest.param(ClaimError("bad aud", claim="aud"), id="hemproto-error"),
    pytest.param(RelayError("inner", step="post_device", status=503), id="relay-error"),
    pytest.param(StopIteration(), id="stop-iteration"),
]


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("exception", RAISED)
def test_an_exception_from_a_callable_is_wrapped_with_its_step(
    run: Runner, world: World, step: str, exception: Exception
) -> None:
    def fail(_: JsonBody | None) -> Any:
        raise exception

    world.replace(step, fail)

    with pytest.raises(RelayError) as caught:
        relay(run, world)

    error = caught.value
    assert (error.step, error.status) == (step, None)
    assert str(error).startswith(f"{step}: the call raised ")
    if isinstance(exception, StopIteration):
        # Inside a coroutine Python turns StopIteration into RuntimeError (PEP 479).
        assert isinstance(error.__cause__, (StopIteration, RuntimeError))
    else:
        assert error.__cause__ is exception
    assert_stopped_at(world, step)


def test_wrapped_messages_keep_hemproto_detail_only(run: Runner, world: World) -> None:
    def leak(_: JsonBody | None) -> Any:
        raise ConnectionError("https://user:hunter2@backend.example/checkin")

    world.replace("post_backend", leak)
    with pytest.raises(RelayError) as caught:
        relay(run, world)
    assert "hunter2" not in str(caught.value)
    assert "ConnectionError" in str(caught.value)

    def refuse(_: JsonBody | None) -> Any:
        raise ClaimError("claim 'aud' is wrong", claim="aud")

    world.replace("post_device", refuse)
    world.replace("post_backend", world.backend_handle)
    with pytest.raises(RelayError, match="claim 'aud' is wrong"):
        relay(run, world)


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(
    "exception",
    [KeyboardInterrupt, SystemExit, asyncio.CancelledError],
    ids=["keyboard-interrupt", "system-exit", "cancelled"],
)
def test_base_exceptions_pass_through_unwrapped(
    run: Runner, world: World, step: str, exception: type[BaseException]
) -> None:
    def stop(_: JsonBody | None) -> Any:
        raise exception

    world.replace(step, stop)
    with pytest.raises(exception):
        relay(run, world)


def test_cancelling_a_waiting_relay_cancels_it(world: World) -> None:
    async def main() -> None:
        waiting = asyncio.Event()

        async def get_check() -> Any:
            return world.check_body

        async def post_backend(body: JsonBody) -> Any:
            return world.backend_handle(body)

        async def post_device(body: JsonBody) -> Any:
            waiting.set()
            await asyncio.Event().wait()  # never set: the device does not answer
            raise AssertionError("unreachable")

        task = asyncio.create_task(relay_checkin_async(get_check, post_backend, post_device))
        await waiting.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()

    asyncio.run(main())


# --- what the async driver accepts ----------------------------------------------------------


class Ready:
    """A minimal awaitable that is not a coroutine."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        yield from asyncio.sleep(0).__await__()
        return self.value


def test_async_accepts_any_awaitable_and_plain_answers(world: World) -> None:
    async def main() -> RelayOutcome:
        loop = asyncio.get_running_loop()

        def get_check() -> asyncio.Future[Any]:
            future: asyncio.Future[Any] = loop.create_future()
            loop.call_soon(future.set_result, world.get_check())
            return future

        async def backend(body: JsonBody) -> Any:
            return world.post_backend(body)

        return await relay_checkin_async(
            get_check,
            lambda body: backend(body),  # a lambda returning a coroutine
            lambda body: Ready(world.post_device(body)),
        )

    outcome = asyncio.run(main())
    assert outcome.status == "OK"
    assert world.log == list(STEPS)

    # A plain answer (an in-memory role's handle()) mixes with awaitables.
    world.log.clear()
    mixed = asyncio.run(relay_checkin_async(world.get_check, world.post_backend, world.post_device))
    assert mixed.check == outcome.check
    assert world.log == list(STEPS)


def test_an_awaitable_that_fails_is_wrapped(world: World) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()

        def post_backend(body: JsonBody) -> asyncio.Future[Any]:
            future: asyncio.Future[Any] = loop.create_future()
            future.set_exception(OSError("reset"))
            return future

        with pytest.raises(RelayError) as caught:
            await relay_checkin_async(world.get_check, post_backend, world.post_device)
        assert caught.value.step == "post_backend"
        assert isinstance(caught.value.__cause__, OSError)

    asyncio.run(main())
