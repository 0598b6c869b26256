"""The trusted backend's side of the check-in, without I/O: verify, decide, answer.

It owns key selection by ``aud``, replay refusal, and the mapping of refusals to
device-style statuses. It opens no socket, reads the time only through its clock, and
logs refusals without any key material.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._pycodec import BytesLike
from .claims import (
    MAX_CERTIFICATE_SIZE,
    MAX_REQUEST_BODY,
    CheckChallenge,
    request_object,
    sign_checked,
    verify_check_with,
)
from .errors import (
    BadSignature,
    BodyTooLarge,
    HemProtoError,
    KeyAgreementError,
    ReplayedNonce,
    UnknownKey,
)
from .releases import Decision, Policy, ReleaseRegistry
from .replay import MemoryReplayStore, ReplayStore
from .x25519 import KeyPair

__all__ = ["MAX_REQUEST_BODY", "Backend", "Response"]

DEFAULT_REPLAY_WINDOW = 600.0

Response = tuple[int, "dict[str, Any] | None"]
log = logging.getLogger("hemproto.backend")


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
        if type(serial) is not bytes or len(serial) != 16:
            raise ValueError("certificate serials (csn) must be 16 bytes")
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

    @property
    def public_keys(self) -> tuple[bytes, ...]:
        return tuple(self._keys)

    def verify(self, check_token_or_body: object) -> tuple[CheckChallenge, bytes]:
        """Verify a check: returns it with its MAC key. Records nothing."""
        return verify_check_with(check_token_or_body, self._keys)

    def decide(self, challenge: CheckChallenge) -> Decision:
        return self.policy.decide(challenge, self.releases)

    def answer(self, check_token_or_body: object) -> dict[str, str]:
        """Verify a check and return the reply body ``{"checked": token}``.

        Raises the hemproto error that explains a refusal; ReplayedNonce for a jti
        already answered within the replay window.
        """
        challenge, mac_key = self.verify(check_token_or_body)
        now = self._clock()
        if self.replay.seen_before(challenge.jti, now + self.replay_window):
            raise ReplayedNonce("this check's nonce has already been answered")
        decision = self.decide(challenge)
        token = sign_checked(
            mac_key,
            jti=challenge.jti,
            iss=challenge.aud,
            aud=challenge.iss,
            iat=int(now),
            act=decision.act,
            crt=self.certificates.get(challenge.csn),
            newfws=decision.newfws,
            newuis=decision.newuis,
        )
        return {"checked": token}

    def handle(self, body: object) -> Response:
        """``POST /checkin``: the parsed JSON object or raw request bytes in, status and
        body out. 200 with ``{"checked": ...}``; 400 malformed; 401 bad MAC, unknown key,
        small-order session key or replayed nonce; 413 body over 7300 bytes. Refusals
        carry no body."""
        try:
            return 200, self.answer(request_object(body, MAX_REQUEST_BODY))
        except BodyTooLarge as exc:
            status, reason = 413, str(exc)
        except (BadSignature, KeyAgreementError, ReplayedNonce, UnknownKey) as exc:
            status, reason = 401, f"{type(exc).__name__}: {exc}"
        except HemProtoError as exc:
            status, reason = 400, f"{type(exc).__name__}: {exc}"
        log.info("check-in refused with %d: %s", status, reason)
        return status, None

    def __repr__(self) -> str:
        keys = ", ".join(key.hex()[:16] for key in self._keys)
        return f"Backend(public_keys=[{keys}], releases={len(self.releases)})"
