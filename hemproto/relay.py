"""The client relay: carries the device's check to the backend and the backend's checked to
the device, verbatim, and reports what each step answered. It does no I/O of its own (the
caller's callables do) and never verifies a MAC: it holds no key, so it only parses.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeAlias, TypeVar

from . import _codec
from .claims import CheckChallenge, CheckedReply, parse_check, parse_checked
from .errors import HemProtoError, RelayError
from .schema import CHECKED_SIZES
from .status import OK

__all__ = [
    "JsonBody",
    "RelayOutcome",
    "StepAnswer",
    "relay_checkin",
    "relay_checkin_async",
]

JsonBody: TypeAlias = dict[str, Any]
"""A JSON object as a dict: the form every body takes on its way through the relay."""

StepAnswer: TypeAlias = "JsonBody | tuple[int, JsonBody | None]"
"""What a step callable returns: the body, or ``(status, body)`` as the roles' handle() do."""

_Message = TypeVar("_Message", CheckChallenge, CheckedReply)

# Each request the step sequence makes: the step's name and a zero-argument call to run.
_Request: TypeAlias = "tuple[str, Callable[[], object]]"
_Steps: TypeAlias = "Generator[_Request, object, RelayOutcome]"


@dataclass(frozen=True, slots=True)
class RelayOutcome:
    """What one check-in relayed: both messages, parsed (not verified), and the device's answer.

    ``status`` is the action the device says it executed; it can differ from ``checked.act``
    because a device with ``trusted_backend`` off suppresses actions. ``newfws`` and
    ``newuis`` are decoded from the device's standard base64; ``device_response`` is the
    device's answer dict itself.
    """

    check: CheckChallenge
    checked: CheckedReply
    status: str
    newcrt: str | None
    newfws: bytes | None
    newuis: bytes | None
    device_response: JsonBody

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: both messages' claims, the device's status and optional fields
        (absent ones left out, bytes as canonical standard base64), and its raw answer."""
        result: dict[str, Any] = {
            "check": self.check.to_dict(),
            "checked": self.checked.to_dict(),
            "status": self.status,
        }
        if self.newcrt is not None:
            result["newcrt"] = self.newcrt
        for name, value in (("newfws", self.newfws), ("newuis", self.newuis)):
            if value is not None:
                result[name] = _codec.b64_encode(value)
        result["device_response"] = dict(self.device_response)
        return result


def relay_checkin(
    get_check: Callable[[], StepAnswer],
    post_backend: Callable[[JsonBody], StepAnswer],
    post_device: Callable[[JsonBody], StepAnswer],
) -> RelayOutcome:
    """Run one check-in: GET the device's check, POST it to the backend, POST the reply to
    the device; each callable does one of those exchanges and returns the answer body.

    Every failure is a RelayError naming its step (``"get_check"``, ``"post_backend"``,
    ``"post_device"``) and the status that step reported; an exception from a callable,
    hemproto's own included, becomes its ``__cause__``. A step that fails stops the run,
    so a reply the relay refuses never reaches the device. A failure at ``post_device``
    means the device did receive the reply and may have acted on it.
    """
    steps = _steps(get_check, post_backend, post_device)
    answer: object = None
    while True:
        try:
            step, call = steps.send(answer)
        except StopIteration as done:
            outcome: RelayOutcome = done.value
            return outcome
        try:
            answer = call()
        except Exception as exc:
            raise _call_failed(step, exc) from exc


async def relay_checkin_async(
    get_check: Callable[[], Awaitable[StepAnswer] | StepAnswer],
    post_backend: Callable[[JsonBody], Awaitable[StepAnswer] | StepAnswer],
    post_device: Callable[[JsonBody], Awaitable[StepAnswer] | StepAnswer],
) -> RelayOutcome:
    """relay_checkin for coroutine functions, or any callables returning awaitables.

    A callable that returns a plain answer is taken as it is, so an in-memory role (say a
    backend's handle()) can sit between network calls. Cancellation propagates unwrapped.
    """
    steps = _steps(get_check, post_backend, post_device)
    answer: object = None
    while True:
        try:
            step, call = steps.send(answer)
        except StopIteration as done:
            outcome: RelayOutcome = done.value
            return outcome
        try:
            answer = call()
            if inspect.isawaitable(answer):
                answer = await answer
        except Exception as exc:
            raise _call_failed(step, exc) from exc


def _steps(
    get_check: Callable[[], object],
    post_backend: Callable[[JsonBody], object],
    post_device: Callable[[JsonBody], object],
) -> _Steps:
    """The check-in, written once for both drivers: it yields each step's call and is sent
    that call's answer (already awaited by the async driver). The same dict object that a
    step answered is what the next step is given: nothing is copied or re-serialised."""
    status, check_body = yield from _exchange("get_check", get_check, "check")
    check = _parse("get_check", status, parse_check, check_body)

    status, checked_body = yield from _exchange(
        "post_backend", partial(post_backend, check_body), "checked"
    )
    checked = _parse("post_backend", status, parse_checked, checked_body)
    _check_binding(check, checked, status)

    status, device_body = yield from _exchange(
        "post_device", partial(post_device, checked_body), "status"
    )
    return _outcome(check, checked, status, device_body)


def _exchange(
    step: str, call: Callable[[], object], member: str
) -> Generator[_Request, object, tuple[int | None, JsonBody]]:
    answer = yield step, call
    return _answer_body(step, answer, member)


def _answer_body(step: str, answer: object, member: str) -> tuple[int | None, JsonBody]:
    """The body of one step's answer, with the status it reported (None for a bare body)."""
    status: int | None = None
    body = answer
    if isinstance(answer, tuple):
        # bool is an int subclass; True is not a status.
        if len(answer) != 2 or type(answer[0]) is not int:
            raise RelayError(f"{step}: expected a body or a (status, body) pair", step=step)
        status, body = answer
        if status != OK:
            raise RelayError(f"{step}: status {status}", step=step, status=status)
    if body is None:
        raise RelayError(f"{step}: the answer has no body", step=step, status=status)
    if not isinstance(body, dict):
        raise RelayError(
            f"{step}: the body is a {type(body).__name__}, not a JSON object dict",
            step=step,
            status=status,
        )
    if member not in body:
        raise RelayError(f"{step}: the body has no {member!r} member", step=step, status=status)
    return status, body


def _parse(
    step: str, status: int | None, parse: Callable[[object], _Message], body: JsonBody
) -> _Message:
    try:
        return parse(body)
    except HemProtoError as exc:
        raise RelayError(f"{step}: {exc}", step=step, status=status) from exc


def _check_binding(check: CheckChallenge, checked: CheckedReply, status: int | None) -> None:
    """Refuse a reply that answers another challenge or another device session.

    A courtesy check: the device is the one that enforces this (its MAC key and its list
    of issued nonces), but noticing here spares it a refused request and tells the caller
    the backend was at fault. Nonces and public keys are not secret, so == is fine.
    """
    for claim, expected, what in (
        ("jti", check.jti, "the check's jti"),
        ("aud", check.iss, "the check's iss (the device session key)"),
        ("iss", check.aud, "the check's aud (the backend key it was addressed to)"),
    ):
        if getattr(checked, claim) != expected:
            raise RelayError(
                f"post_backend: the reply's {claim} is not {what}",
                step="post_backend",
                status=status,
            )


def _outcome(
    check: CheckChallenge, checked: CheckedReply, status: int | None, body: JsonBody
) -> RelayOutcome:
    return RelayOutcome(
        check=check,
        checked=checked,
        status=_string(body, "status", status),
        newcrt=_string(body, "newcrt", status) if "newcrt" in body else None,
        newfws=_base64(body, "newfws", status) if "newfws" in body else None,
        newuis=_base64(body, "newuis", status) if "newuis" in body else None,
        device_response=body,
    )


def _string(body: JsonBody, name: str, status: int | None) -> str:
    """A member of the device's answer that must be a string when present (null included:
    the device leaves an optional member out rather than sending null)."""
    value = body[name]
    if type(value) is not str:
        raise RelayError(
            f"post_device: {name!r} must be a string, got {type(value).__name__}",
            step="post_device",
            status=status,
        )
    return value


# newfws and newuis are standard base64 of the sizes the reply's claims of the same names
# have (88 and 44 characters today): a longer text than this is refused by its length,
# before it is decoded.
_MAX_FIELD_TEXT = 1024


def _base64(body: JsonBody, name: str, status: int | None) -> bytes:
    """The device's answer member ``name``: canonical standard base64 of the size of the
    reply claim of that name."""
    size = CHECKED_SIZES[name]
    text = _string(body, name, status)
    if len(text) > _MAX_FIELD_TEXT:
        message = f"post_device: {name!r} must be {size} bytes, got {len(text)} characters"
        raise RelayError(message, step="post_device", status=status)
    try:
        raw = _codec.b64_decode(text)
    except HemProtoError as exc:
        message = f"post_device: {name!r}: {exc}"
        raise RelayError(message, step="post_device", status=status) from exc
    if len(raw) != size:
        message = f"post_device: {name!r} must be {size} bytes, got {len(raw)}"
        raise RelayError(message, step="post_device", status=status)
    return raw


def _call_failed(step: str, exc: Exception) -> RelayError:
    # hemproto errors are wrapped as well, so a caller catching RelayError always learns the
    # step. Their messages are kept because they never carry key material; a foreign
    # exception's text could hold anything (URLs, credentials), so only its type is named.
    detail = f": {exc}" if isinstance(exc, HemProtoError) else " (see __cause__)"
    return RelayError(f"{step}: the call raised {type(exc).__name__}{detail}", step=step)
