"""The trusted backend's side of the check-in, without I/O: verify, decide, answer.

It owns key selection by ``aud`` and replay refusal; the statuses it refuses with are
hemproto.status's. It opens no socket, reads the time only through its clock, and logs
refusals without any key material.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from . import _codec
from ._bytes import BytesLike
from ._fastpath import answer_check, check_mac_with, scanned_fields
from ._pycodec import CHECK_HAS_UIS
from .bodies import MAX_REQUEST_BODY, request_object
from .claims import CheckChallenge, device_check_parts, sign_checked, verify_check_with
from .errors import HemProtoError, ReplayedNonce, ReplayStoreUnavailable
from .releases import Decision, Policy, ReleaseRegistry
from .replay import MemoryReplayStore, ReplayStore
from .schema import CHECK_SIZES, MAX_CERTIFICATE_SIZE, MAX_IAT
from .status import OK, TOO_LARGE, Response, backend_status
from .x25519 import KeyPair

__all__ = ["MAX_REQUEST_BODY", "Backend", "CheckinResult", "Response"]

DEFAULT_REPLAY_WINDOW = 600.0

log = logging.getLogger("hemproto.backend")

# Distinct (fws, bls, uis) decisions remembered; a fleet runs a handful of releases.
_DECISION_MEMORY = 1024

# The size of a certificate serial, as a check carries it.
_SERIAL_SIZE = CHECK_SIZES["csn"]
# The scan's fields _answer_device reads, by name.
_ANSWER_FIELDS = scanned_fields("jti", "iss", "aud", "fws", "bls", "uis", "csn", "signature")
# What the device is told: the decision, the iat (the backend's clock), the signed reply.
_Reply = tuple[Decision, int, str]

# Refusal reasons go to logs: bounded, whatever an attacker put in the request.
MAX_REASON_LENGTH = 200


@dataclass(frozen=True, slots=True)
class CheckinResult:
    """The whole outcome of one ``POST /checkin``, for the service that serves it.

    ``status`` and ``body`` are what goes on the wire. ``challenge`` is the verified check
    when verification got that far (a replayed check has one, a forged one has none);
    ``decision`` and ``iat`` are what the device was told, set only on 200. ``reason``
    explains a refusal for logs (bounded, no key material); it is empty on 200.
    """

    status: int
    body: dict[str, str] | None
    challenge: CheckChallenge | None = None
    decision: Decision | None = None
    iat: int | None = None
    reason: str = ""

    @property
    def response(self) -> Response:
        return self.status, self.body

    @classmethod
    def _answered(
        cls, challenge: CheckChallenge, decision: Decision, iat: int, token: str
    ) -> CheckinResult:
        """The one way to build a 200 from a verified check and its signed reply, skipping
        the generated ``__init__`` (as CheckChallenge._validated does): an _Answered is
        filled in one go, then made a CheckinResult by assigning ``__class__`` (CPython
        allows it between classes with the same slots and base), in less than half the time
        of the generated ``__init__``."""
        result = _Answered()
        result.status = OK
        result.body = {"checked": token}
        result.challenge = challenge
        result.decision = decision
        result.iat = iat
        result.reason = ""
        result.__class__ = cls  # type: ignore[assignment]
        return result  # type: ignore[return-value]


_BODY_OPEN, _BODY_CLOSE = b'{"check":"', b'"}'
_TOKEN_START, _TOKEN_END = len(_BODY_OPEN), -len(_BODY_CLOSE)
_TOKEN_CHARACTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."


def _device_token(body: object) -> bytes | None:
    """The bytes between ``{"check":"`` and ``"}`` when a raw body has exactly that frame
    (within the body cap), else None. What they hold is for the caller to check."""
    if (
        type(body) is bytes
        and len(body) <= MAX_REQUEST_BODY
        and body.startswith(_BODY_OPEN)
        and body.endswith(_BODY_CLOSE)
    ):
        return body[_TOKEN_START:_TOKEN_END]
    return None


def _check_request(body: object) -> object:
    """The check from a request body, as :func:`request_object` would find it.

    A device's body is exactly ``{"check":"<token>"}``; when the raw bytes are that, with
    a token of base64url characters and dots only, the strict JSON parse could only give
    ``{"check": token}`` back, so the token is sliced out instead (a few hundred
    nanoseconds, not microseconds). Any other body is parsed by request_object.
    """
    token = _device_token(body)
    if token is not None:
        if token and not token.translate(None, _TOKEN_CHARACTERS):
            return token.decode("ascii")
    # Only {"check": "<string>"} is ever wanted: any other raw body is refused from the
    # JSON scan's outline, before it is built.
    return request_object(body, MAX_REQUEST_BODY, member="check")


class _Answered:
    """CheckinResult's slots without its frozen ``__setattr__``: CheckinResult._answered
    uses it, and nothing else may."""

    __slots__ = CheckinResult.__slots__
    status: int
    body: dict[str, str] | None
    challenge: CheckChallenge | None
    decision: Decision | None
    iat: int | None
    reason: str


def _replay_key(challenge: CheckChallenge) -> bytes:
    # replay_key, without measuring the three fields again: a check's are 32 bytes.
    return challenge.aud + challenge.iss + challenge.jti


def _refused(exc: HemProtoError, challenge: CheckChallenge | None) -> CheckinResult:
    status = backend_status(exc)
    reason = str(exc) if status == TOO_LARGE else f"{type(exc).__name__}: {exc}"
    reason = reason[:MAX_REASON_LENGTH]
    log.info("check-in refused with %d: %s", status, reason)
    return CheckinResult(status, None, challenge, reason=reason)


def _store_failed(exc: BaseException) -> ReplayStoreUnavailable:
    # The type only: a store's own message may carry a URL with a password in it.
    return ReplayStoreUnavailable(f"replay store failed ({type(exc).__name__})")


def _as_key_pairs(private_keys: object) -> dict[bytes, KeyPair]:
    if isinstance(private_keys, (KeyPair, bytes, bytearray, memoryview)):
        private_keys = [private_keys]
    if not isinstance(private_keys, Iterable):
        raise TypeError("private_keys must be a key or an iterable of keys")
    pairs: dict[bytes, KeyPair] = {}
    for key in private_keys:
        pair = key if isinstance(key, KeyPair) else KeyPair(key)
        pairs[pair.public] = pair
    if not pairs:
        raise ValueError("a backend needs at least one private key")
    return pairs


def _certificates(certificates: Mapping[bytes, bytes]) -> dict[bytes, bytes]:
    # Checked here, so that a bad certificate fails at start-up, not after a nonce is spent.
    checked: dict[bytes, bytes] = {}
    for serial, der in certificates.items():
        if type(serial) is not bytes or len(serial) != _SERIAL_SIZE:
            raise ValueError(f"certificate serials (csn) must be {_SERIAL_SIZE} bytes")
        if type(der) is not bytes or not 1 <= len(der) <= MAX_CERTIFICATE_SIZE:
            raise ValueError(f"certificates must be 1 to {MAX_CERTIFICATE_SIZE} bytes of DER")
        checked[serial] = der
    return checked


class Backend:
    """A backend that answers checks.

    ``private_keys``: one X25519 private key (bytes or KeyPair) or several; a check's
    ``aud`` selects the key, so keys can be rotated by adding the new one before devices
    switch. ``releases`` and ``policy`` decide the action; ``certificates`` maps a device
    certificate serial (``csn``) to a DER certificate to push; ``replay`` remembers answered
    nonces for ``replay_window`` seconds; ``clock`` gives unix time (``iat`` and expiry).
    """

    def __init__(
        self,
        private_keys: KeyPair | BytesLike | Iterable[KeyPair | BytesLike],
        *,
        releases: ReleaseRegistry | None = None,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.time,
        replay: ReplayStore | None = None,
        certificates: Mapping[bytes, bytes] | None = None,
        replay_window: float = DEFAULT_REPLAY_WINDOW,
    ) -> None:
        self._keys = _as_key_pairs(private_keys)
        self.releases = releases if releases is not None else ReleaseRegistry()
        self.policy = policy if policy is not None else Policy()
        self._clock = clock
        self.replay: ReplayStore = replay if replay is not None else MemoryReplayStore(clock=clock)
        self.certificates = _certificates(certificates or {})
        if not (math.isfinite(replay_window) and replay_window > 0):
            raise ValueError("replay_window must be a positive number of seconds")
        self.replay_window = replay_window
        self._decisions: tuple[object, dict[tuple[bytes, bytes, bytes | None], Decision]] = (
            None,
            {},
        )

    @property
    def public_keys(self) -> tuple[bytes, ...]:
        return tuple(self._keys)

    def verify(self, check_token_or_body: object) -> tuple[CheckChallenge, bytes]:
        """Verify a check: returns it with its MAC key. Records nothing."""
        return verify_check_with(check_token_or_body, self._keys)

    def _verify_and_sign(self, body: object) -> tuple[CheckChallenge, bytes, float, _Reply | None]:
        """verify for a request body, then the clock: (check, MAC key, now, reply or None).

        A device's exact body (see _check_request) is scanned in one step; under the stock
        policy and registry, whose decisions depend on the check's signatures alone, its
        reply is then decided and signed in the same codec call that checks its MAC
        (answer_check): returned here, it is sent only once the check is recorded. Any
        other body, policy or registry gets None, and the reply is made after the record.
        """
        parts = None
        framed = _device_token(body)
        if framed is not None:
            try:
                # A token in the device's shape is base64url and dots: no JSON escape.
                parts = device_check_parts(framed.decode("ascii"))
            except UnicodeDecodeError:
                pass
        if parts is not None:
            challenge, signing_input, signature = parts
            pair = self._keys.get(challenge.aud)
            policy, releases = self.policy, self.releases
            if type(policy) is Policy and type(releases) is ReleaseRegistry:
                now = self._clock()
                if 0 <= now <= MAX_IAT:  # else the reply is made, and refused, as ever
                    # _remembered's lookup, inline: the hot path of a busy backend.
                    state, known = self._decisions
                    decision = (
                        known.get((challenge.fws, challenge.bls, challenge.uis))
                        if state == (policy, releases, len(releases))
                        else None
                    ) or self._remembered(challenge, policy, releases)
                    iat = int(now)
                    mac_key, token = answer_check(
                        pair,
                        challenge.jti,
                        challenge.iss,
                        challenge.aud,
                        signing_input,
                        signature,
                        iat,
                        decision.act,
                        self.certificates.get(challenge.csn),
                        decision.newfws,
                        decision.newuis,
                    )
                    return challenge, mac_key, now, (decision, iat, token)
                mac_key = check_mac_with(challenge, pair, signing_input, signature)
                return challenge, mac_key, now, None
            mac_key = check_mac_with(challenge, pair, signing_input, signature)
            return challenge, mac_key, self._clock(), None
        challenge, mac_key = verify_check_with(_check_request(body), self._keys)
        return challenge, mac_key, self._clock(), None

    def _answer_device(self, body: bytes) -> Response | None:
        """handle for a device's exact body under the stock policy and registry: the steps
        of _verify_and_sign's first way and of the record, on the scanned fields alone.

        A service that only wants the status and the body never sees the CheckChallenge,
        so none is built (unless the policy must be asked). None, having recorded nothing,
        for any other body, policy or registry, and for a clock outside iat's range: handle
        then goes the way process goes.
        """
        policy, releases = self.policy, self.releases
        token = _device_token(body)
        if token is None or type(policy) is not Policy or type(releases) is not ReleaseRegistry:
            return None
        scanned = _codec.scan_check(token)  # its bytes: a match is ASCII, needing no escape
        if scanned is None:
            return None
        now = self._clock()
        if not 0 <= now <= MAX_IAT:
            return None
        flags, fields, signing_input = scanned
        jti, iss, aud, fws, bls, uis, csn, signature = _ANSWER_FIELDS(fields)
        signatures = (fws, bls, uis if flags & CHECK_HAS_UIS else None)
        state, known = self._decisions
        decision = known.get(signatures) if state == (policy, releases, len(releases)) else None
        if decision is None:  # the policy is asked about a CheckChallenge: one is built
            parts = device_check_parts(token.decode("ascii"))
            if parts is None:  # cannot be: the same token, scanned the same way
                return None
            decision = self._remembered(parts[0], policy, releases)
        try:
            _, reply = answer_check(
                self._keys.get(aud),
                jti,
                iss,
                aud,
                signing_input,
                signature,
                int(now),
                decision.act,
                self.certificates.get(csn),
                decision.newfws,
                decision.newuis,
            )
            self._first_use(aud + iss + jti, now)
        except HemProtoError as exc:
            return _refused(exc, None).response
        return OK, {"checked": reply}

    def decide(self, challenge: CheckChallenge) -> Decision:
        """The policy's decision for this check under the current registry.

        The stock Policy decides from the three signatures alone, so its decisions are
        remembered per (fws, bls, uis) for as long as the policy and registry stay the same
        (a registry only grows, so its size tells a change); a new registry or policy, as a
        reload assigns, starts a new memory. Other Policy classes are asked every time.
        """
        policy, releases = self.policy, self.releases
        if type(policy) is not Policy or type(releases) is not ReleaseRegistry:
            return policy.decide(challenge, releases)
        return self._remembered(challenge, policy, releases)

    def _remembered(
        self, challenge: CheckChallenge, policy: Policy, releases: ReleaseRegistry
    ) -> Decision:
        """decide for the stock Policy and registry: from memory, or asked and remembered."""
        state = (policy, releases, len(releases))
        known_state, known = self._decisions
        if known_state != state:
            # A fresh dict, swapped in whole: a thread still deciding under the old state
            # writes into the old dict, never into this one.
            known = {}
            self._decisions = (state, known)
        signatures = (challenge.fws, challenge.bls, challenge.uis)
        decision = known.get(signatures)
        if decision is None:
            decision = policy.decide(challenge, releases)
            if len(known) >= _DECISION_MEMORY:
                known.clear()
            known[signatures] = decision
        return decision

    def _first_use(self, key: bytes, now: float) -> None:
        """Record the check with replay key ``key`` (see replay_key), or refuse it."""
        try:
            seen = self.replay.seen_before(key, now + self.replay_window)
        except HemProtoError:
            raise
        except Exception as exc:  # a store's own fault: fail closed, answer nothing
            raise _store_failed(exc) from None
        if seen:
            raise ReplayedNonce("this check has already been answered")

    async def _first_use_async(self, key: bytes, now: float) -> None:
        store = self.replay
        try:
            seen_async = getattr(store, "seen_before_async", None)
            if seen_async is not None:
                seen = await seen_async(key, now + self.replay_window)
            else:  # a blocking store runs off the event loop
                seen = await asyncio.to_thread(store.seen_before, key, now + self.replay_window)
        except HemProtoError:
            raise
        except Exception as exc:
            raise _store_failed(exc) from None
        if seen:
            raise ReplayedNonce("this check has already been answered")

    def _reply(self, challenge: CheckChallenge, mac_key: bytes, now: float) -> _Reply:
        decision = self.decide(challenge)
        iat = int(now)
        token = sign_checked(
            mac_key,
            jti=challenge.jti,
            iss=challenge.aud,
            aud=challenge.iss,
            iat=iat,
            act=decision.act,
            crt=self.certificates.get(challenge.csn),
            newfws=decision.newfws,
            newuis=decision.newuis,
        )
        return decision, iat, token

    def answer(self, check_token_or_body: object) -> dict[str, str]:
        """Verify a check and return the reply body ``{"checked": token}``.

        Raises the hemproto error that explains a refusal: ReplayedNonce for a check
        already answered within the replay window, ReplayStoreUnavailable when the replay
        store cannot record it.
        """
        challenge, mac_key = self.verify(check_token_or_body)
        now = self._clock()
        self._first_use(_replay_key(challenge), now)
        return {"checked": self._reply(challenge, mac_key, now)[2]}

    def process(self, body: object) -> CheckinResult:
        """``POST /checkin`` with the whole outcome: status, reply body, and for a check
        that got that far the verified challenge and the decision sent to the device.

        ``body`` is the parsed JSON object or the raw request (str or bytes). Statuses: 200
        with ``{"checked": ...}``; 400 malformed; 401 bad MAC, unknown key, small-order
        session key or replayed check; 413 body over 7300 bytes; 503 replay store
        unavailable (fail closed: nothing was answered). Refusals carry no body and a
        ``reason`` for logs, with no key material.
        """
        challenge: CheckChallenge | None = None
        try:
            challenge, mac_key, now, reply = self._verify_and_sign(body)
            self._first_use(_replay_key(challenge), now)
        except HemProtoError as exc:
            return _refused(exc, challenge)
        return CheckinResult._answered(challenge, *(reply or self._reply(challenge, mac_key, now)))

    async def process_async(self, body: object) -> CheckinResult:
        """:meth:`process` for an event loop: the CPU work (tens of microseconds) runs
        inline; the replay store is awaited through its ``seen_before_async`` when it has
        one, else its blocking ``seen_before`` runs in a worker thread."""
        challenge: CheckChallenge | None = None
        try:
            challenge, mac_key, now, reply = self._verify_and_sign(body)
            await self._first_use_async(_replay_key(challenge), now)
        except HemProtoError as exc:
            return _refused(exc, challenge)
        return CheckinResult._answered(challenge, *(reply or self._reply(challenge, mac_key, now)))

    def handle(self, body: object) -> Response:
        """``POST /checkin``: ``(status, body)`` of :meth:`process`.

        The same steps as there, without building the CheckinResult an answer would
        only be taken apart from again (the hot path of a busy backend), nor, for a
        device's exact body, the CheckChallenge (see _answer_device).
        """
        if type(body) is bytes:
            response = self._answer_device(body)
            if response is not None:
                return response
        challenge: CheckChallenge | None = None
        try:
            challenge, mac_key, now, reply = self._verify_and_sign(body)
            self._first_use(_replay_key(challenge), now)
        except HemProtoError as exc:
            return _refused(exc, challenge).response
        return OK, {"checked": (reply or self._reply(challenge, mac_key, now))[2]}

    async def handle_async(self, body: object) -> Response:
        """``POST /checkin`` on an event loop: ``(status, body)`` of :meth:`process_async`."""
        result = await self.process_async(body)
        return result.status, result.body

    def ping(self) -> None:
        """Raise ReplayStoreUnavailable unless the replay store answers (health checks)."""
        ping = getattr(self.replay, "ping", None)
        if ping is None:
            return
        try:
            ping()
        except HemProtoError:
            raise
        except Exception as exc:
            raise _store_failed(exc) from None

    async def ping_async(self) -> None:
        """:meth:`ping` without blocking an event loop."""
        store = self.replay
        try:
            ping_async = getattr(store, "ping_async", None)
            if ping_async is not None:
                await ping_async()
            else:
                ping = getattr(store, "ping", None)
                if ping is not None:
                    await asyncio.to_thread(ping)
        except HemProtoError:
            raise
        except Exception as exc:
            raise _store_failed(exc) from None

    def __repr__(self) -> str:
        keys = ", ".join(key.hex()[:16] for key in self._keys)
        return f"Backend(public_keys=[{keys}], releases={len(self.releases)})"
