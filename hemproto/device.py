"""The device role: an emulated HEM that issues ``check`` challenges and obeys ``checked`` replies.

It owns the per-boot session key, the outstanding nonces, the RTC and the state the backend's
orders change. It does no I/O and reads time only through the injected monotonic clock.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from . import _codec
from ._bytes import BytesLike, byte_length
from .bodies import request_object
from .claims import CheckChallenge, CheckedReply, verify_checked
from .errors import ClaimError, DeviceStopped, HemProtoError
from .jws import sign_ejwt
from .schema import CHECK_CLAIMS, CHECK_SIZES
from .status import OK, UNAUTHORIZED, UNAVAILABLE, Response, device_status
from .x25519 import KeyPair, key_bytes

__all__ = [
    "FLS_LOCKED",
    "FLS_SHUTDOWN",
    "DeviceEmulator",
    "LogEntry",
    "Report",
]


# fls_state bits the check-in latches: failure after check-in, locked / shut down.
FLS_LOCKED = 0x40
FLS_SHUTDOWN = 0x80

# The device's own claims and their sizes, from the one table that defines the check.
_IDENTITY_SIZES = {
    spec.name: spec.size
    for spec in CHECK_CLAIMS
    if spec.size is not None and spec.name in ("qid", "fws", "bls", "uis", "csn")
}


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One audit log event: ``RTC_SET`` or ``SHUTDOWN``, at device time (None: no RTC).

    ``detail`` is the action that caused a shutdown (``L``, ``B`` or ``W``), else empty.
    """

    event: str
    time: int | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """A report ordered by the backend (action ``R``): the reply's nonce and the device time."""

    jti: bytes
    time: int | None


def _identity_field(name: str, value: object) -> bytes:
    size = _IDENTITY_SIZES[name]
    if value is None:
        return os.urandom(size)
    length = byte_length(value, name)  # measured before any copy
    if length != size:
        raise ClaimError(f"{name} must be {size} bytes, got {length}", claim=name)
    return bytes(cast(BytesLike, value))


def _looks_like_der(data: bytes) -> bool:
    """A non-empty DER SEQUENCE whose minimal, definite length covers exactly ``data``."""
    if len(data) < 3 or data[0] != 0x30:
        return False
    first = data[1]
    if first < 0x80:
        header, length = 2, first
    else:
        count = first & 0x7F
        # 0x80 is BER's indefinite length; more than 4 length bytes exceeds any certificate.
        if not 1 <= count <= 4 or len(data) < 2 + count:
            return False
        length_bytes = data[2 : 2 + count]
        length = int.from_bytes(length_bytes, "big")
        # DER takes the shortest form: no leading zero byte, no long form below 128.
        if length_bytes[0] == 0 or length < 0x80:
            return False
        header = 2 + count
    return header + length == len(data)


class DeviceEmulator:
    """An in-memory HEM for the check-in: ``challenge()`` for GET, ``handle(body)`` for POST.

    ``backend_public_key`` is the backend X25519 key built into the firmware. ``qid``, ``fws``,
    ``bls`` and ``csn`` default to random bytes (a unit whose firmware no registry knows: pass
    a release's real signatures to emulate a genuine one); ``uis`` defaults to None, a build
    without the dashboard. ``trusted_backend`` and ``trusted_ts`` mirror the device options of
    those names and are fixed for the emulator's life. A nonce lives ``nonce_lifetime`` seconds
    on the ``monotonic`` clock; at most ``max_outstanding`` are kept, the oldest dropped first.

    Orders (only with ``trusted_backend``; without it the status is ``OK``): ``L`` latches
    FLS_LOCKED and erases the user key; ``B`` latches FLS_SHUTDOWN, after which ``handle``
    answers 503 and ``challenge`` raises DeviceStopped, across reboots; ``W`` erases the user
    key and certificate, then reboots; ``U`` marks an upgrade pending; ``R`` records a Report.
    """

    __slots__ = (
        "_bls",
        "_booted_at",
        "_certificate",
        "_csn",
        "_fls_state",
        "_fws",
        "_last_action",
        "_lock",
        "_log",
        "_mac_key",
        "_max_outstanding",
        "_monotonic",
        "_nonce_lifetime",
        "_outstanding",
        "_qid",
        "_reports",
        "_rtc",
        "_rtc_set_at",
        "_session",
        "_trusted",
        "_trusted_backend",
        "_trusted_ts",
        "_uis",
        "_upgrade_pending",
        "_user_key_present",
    )

    def __init__(
        self,
        *,
        backend_public_key: BytesLike,
        qid: BytesLike | None = None,
        fws: BytesLike | None = None,
        bls: BytesLike | None = None,
        uis: BytesLike | None = None,
        csn: BytesLike | None = None,
        trusted_backend: bool = True,
        trusted_ts: bool = True,
        nonce_lifetime: float = 300.0,
        max_outstanding: int = 16,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._trusted = key_bytes(backend_public_key, "backend_public_key")
        self._qid = _identity_field("qid", qid)
        self._fws = _identity_field("fws", fws)
        self._bls = _identity_field("bls", bls)
        self._uis = None if uis is None else _identity_field("uis", uis)
        self._csn = _identity_field("csn", csn)
        for name, flag in (("trusted_backend", trusted_backend), ("trusted_ts", trusted_ts)):
            if type(flag) is not bool:
                raise TypeError(f"{name} must be a bool, not {type(flag).__name__}")
        self._trusted_backend = trusted_backend
        self._trusted_ts = trusted_ts
        if type(nonce_lifetime) not in (int, float):
            raise TypeError(f"nonce_lifetime must be a number, not {type(nonce_lifetime).__name__}")
        if not (math.isfinite(nonce_lifetime) and nonce_lifetime > 0):
            raise ValueError("nonce_lifetime must be a positive number of seconds")
        self._nonce_lifetime = float(nonce_lifetime)
        if type(max_outstanding) is not int:
            raise TypeError(f"max_outstanding must be an int, not {type(max_outstanding).__name__}")
        if max_outstanding < 1:
            raise ValueError("max_outstanding must be at least 1")
        self._max_outstanding = max_outstanding
        if not callable(monotonic):
            raise TypeError("monotonic must be a callable returning seconds")
        self._monotonic = monotonic

        self._fls_state = 0
        self._user_key_present = True
        self._certificate: bytes | None = None
        self._upgrade_pending = False
        self._reports: list[Report] = []
        self._log: list[LogEntry] = []
        self._last_action: str | None = None
        self._outstanding: OrderedDict[bytes, float] = OrderedDict()
        # One lock for every change of state, so one emulator can sit behind a threaded HTTP
        # server: two threads with the same reply get one 200 and one 401. Verifying a reply
        # (the MAC) runs outside it; only the nonce's single use and the orders run inside.
        self._lock = threading.RLock()
        self._rtc: int | None = None
        self._rtc_set_at = 0.0
        self._session: KeyPair
        self._mac_key: bytes
        self.reboot()

    # --- lifecycle ---------------------------------------------------------------------------

    def reboot(self) -> None:
        """Power-cycle: a new session key, no outstanding nonce, and no RTC.

        The HEM has no battery-backed clock, so time is lost until the next check-in. The
        latched fls_state survives, so a soft-bricked device stays stopped.
        """
        session = KeyPair.generate()
        # Raises KeyAgreementError on the first boot for a small-order backend key.
        mac_key = session.shared(self._trusted)
        with self._lock:
            self._session, self._mac_key = session, mac_key
            self._outstanding.clear()
            self._rtc = None
            self._booted_at = self._monotonic()

    # --- GET /api/system/checkin -------------------------------------------------------------

    def challenge(self) -> dict[str, str]:
        """A fresh check, ``{"check": token}``; its nonce is outstanding for nonce_lifetime.

        Raises DeviceStopped once the device is soft-bricked.
        """
        if not self.serving:
            raise DeviceStopped("the device is soft-bricked: its web servers are stopped")
        with self._lock:
            session, mac_key = self._session, self._mac_key
        jti = os.urandom(CHECK_SIZES["jti"])
        claims = CheckChallenge(
            jti=jti,
            iss=session.public,
            qid=self._qid,
            aud=self._trusted,
            fws=self._fws,
            bls=self._bls,
            uis=self._uis,
            csn=self._csn,
            token="",
        ).to_dict()
        # The boot's MAC key is already known: no X25519 per challenge.
        token = sign_ejwt(claims, mac_key)
        with self._lock:
            if self._session is not session:  # rebooted meanwhile: this nonce died with it
                return {"check": token}
            while len(self._outstanding) >= self._max_outstanding:
                # Repeated GETs must not grow memory: the oldest challenge is forgotten.
                # Deadlines grow in issue order, so expired nonces are always the first to go.
                self._outstanding.popitem(last=False)
            self._outstanding[jti] = self._monotonic() + self._nonce_lifetime
        return {"check": token}

    # --- POST /api/system/checkin ------------------------------------------------------------

    def handle(self, body: object) -> Response:
        """Answer a POSTed reply: ``(200, response)`` or ``(status, None)``.

        ``body`` is the raw request (str or bytes) or its parsed JSON value. 413: over
        MAX_REQUEST_BODY bytes; 400: not a JSON object ``{"checked": <compact JWS>}`` (body,
        envelope or token structure); 401: a well-formed token that is not a valid reply to an
        outstanding challenge of this boot (claims, issuer, audience, MAC, nonce); 503: the
        device is soft-bricked. Claim faults are 401, an invalid reply rather than a malformed
        request (hemproto.status.DEVICE_REFUSALS says why). A refused request changes nothing,
        so it cannot burn a nonce.
        """
        if not self.serving:
            # The real device stops its web servers and answers nothing; an in-memory caller
            # needs a value.
            return UNAVAILABLE, None
        with self._lock:
            session, mac_key = self._session, self._mac_key
        try:
            request = request_object(body)
            reply = verify_checked(request, mac_key, issuer=self._trusted, audience=session.public)
        except HemProtoError as exc:
            status = device_status(exc)
            if status is None:
                raise
            return status, None
        with self._lock:
            # Everything below is one step for other threads: the nonce is taken at most once
            # (pop, not get-then-del), and only by a reply to this boot's session.
            if not self.serving:
                return UNAVAILABLE, None
            if self._session is not session:
                return UNAUTHORIZED, None
            deadline = self._outstanding.pop(reply.jti, None)
            if deadline is None:
                return UNAUTHORIZED, None
            if self._monotonic() >= deadline:
                return UNAUTHORIZED, None
            return OK, self._obey(reply)

    def _obey(self, reply: CheckedReply) -> dict[str, str]:
        if self._trusted_ts:
            self._rtc = reply.iat
            self._rtc_set_at = self._monotonic()
            self._log.append(LogEntry("RTC_SET", reply.iat))
        # With trusted_backend off no order runs, and "OK" is what was executed.
        status = reply.act if self._trusted_backend else "OK"
        self._last_action = status
        response = {"status": status}
        if reply.crt is not None:
            response["newcrt"] = "OK" if self._install(reply.crt, status) else "ERROR"
        if reply.newfws is not None:
            response["newfws"] = _codec.b64_encode(reply.newfws)
        if reply.newuis is not None:
            response["newuis"] = _codec.b64_encode(reply.newuis)
        self._run(status, reply.jti)
        return response

    def _install(self, certificate: bytes, status: str) -> bool:
        # A wipe would erase the certificate at once: reporting it installed would mislead.
        if not self._trusted_backend or status == "W" or not _looks_like_der(certificate):
            return False
        self._certificate = certificate
        return True

    def _run(self, status: str, jti: bytes) -> None:
        if status == "L":
            self._fls_state |= FLS_LOCKED
            self._user_key_present = False
            self._log.append(LogEntry("SHUTDOWN", self.now(), "L"))
        elif status == "B":
            self._fls_state |= FLS_SHUTDOWN
            self._log.append(LogEntry("SHUTDOWN", self.now(), "B"))
        elif status == "W":
            # User secrets go; the latched faults, the audit log and the (factory) options stay.
            self._user_key_present = False
            self._certificate = None
            self._log.append(LogEntry("SHUTDOWN", self.now(), "W"))
            self.reboot()
        elif status == "U":
            self._upgrade_pending = True
        elif status == "R":
            self._reports.append(Report(jti, self.now()))

    # --- readable state ----------------------------------------------------------------------

    def now(self) -> int | None:
        """Device time in unix seconds: the RTC advanced by the monotonic clock; None unset."""
        if self._rtc is None:
            return None
        return self._rtc + int(self._monotonic() - self._rtc_set_at)

    @property
    def session_public_key(self) -> bytes:
        """This boot's X25519 session public key (the check's ``iss``)."""
        return self._session.public

    @property
    def backend_public_key(self) -> bytes:
        """The trusted backend key built into the firmware."""
        return self._trusted

    @property
    def qid(self) -> bytes:
        return self._qid

    @property
    def fws(self) -> bytes:
        """The firmware signature this unit reports (in its checks and its version)."""
        return self._fws

    @property
    def bls(self) -> bytes:
        """The bootloader signature this unit reports."""
        return self._bls

    @property
    def uis(self) -> bytes | None:
        """The dashboard hash, or None for a build without the dashboard."""
        return self._uis

    @property
    def csn(self) -> bytes:
        """The serial of the unit's TLS certificate."""
        return self._csn

    @property
    def trusted_backend(self) -> bool:
        return self._trusted_backend

    @property
    def trusted_ts(self) -> bool:
        return self._trusted_ts

    @property
    def uptime(self) -> int:
        """Whole seconds since the last boot, on the monotonic clock."""
        return int(self._monotonic() - self._booted_at)

    @property
    def rtc(self) -> int | None:
        """The time last set from a reply's ``iat`` this boot, or None."""
        return self._rtc

    @property
    def fls_state(self) -> int:
        return self._fls_state

    @property
    def user_key_present(self) -> bool:
        return self._user_key_present

    @property
    def certificate(self) -> bytes | None:
        return self._certificate

    @property
    def upgrade_pending(self) -> bool:
        return self._upgrade_pending

    @property
    def reports(self) -> tuple[Report, ...]:
        with self._lock:
            return tuple(self._reports)

    @property
    def log(self) -> tuple[LogEntry, ...]:
        with self._lock:
            return tuple(self._log)

    @property
    def serving(self) -> bool:
        """False once soft-bricked: the latched shutdown bit stops the web servers for good."""
        return not self._fls_state & FLS_SHUTDOWN

    @property
    def outstanding_nonces(self) -> int:
        """How many issued nonces a reply could still use now."""
        with self._lock:
            now = self._monotonic()
            return sum(1 for deadline in self._outstanding.values() if now < deadline)

    @property
    def last_action(self) -> str | None:
        """The ``status`` of the last accepted reply, or None."""
        return self._last_action

    def __repr__(self) -> str:
        return (
            f"DeviceEmulator(qid={self.qid.hex()}, session_public_key={self._session.public.hex()})"
        )
