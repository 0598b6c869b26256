"""Whole check-ins in memory: a device emulator, the relay and a backend, paired as in the
field, for every action and every refusal."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from _clock import FakeClock

import hemproto
from hemproto import (
    Backend,
    DeviceEmulator,
    Policy,
    RelayError,
    Release,
    ReleaseRegistry,
    relay_checkin,
    relay_checkin_async,
)
from hemproto.device import FLS_LOCKED, FLS_SHUTDOWN

NOW = 1_764_000_000.0
FW = {name: bytes([n]) * 64 for n, name in enumerate(("current", "outdated", "revoked"), 1)}
BL = bytes([9]) * 64
UI_CURRENT, UI_OUTDATED = bytes([10]) * 32, bytes([11]) * 32
CSN = bytes(range(16))


def registry() -> ReleaseRegistry:
    return ReleaseRegistry(
        [
            Release("firmware", FW["current"], "2.0", "current"),
            Release("firmware", FW["outdated"], "1.9", "outdated"),
            Release("firmware", FW["revoked"], "1.0", "revoked"),
            Release("bootloader", BL, "1.0", "current"),
            Release("dashboard", UI_CURRENT, "3.1", "current"),
            Release("dashboard", UI_OUTDATED, "3.0", "outdated"),
        ]
    )


class World:
    """A backend, a device that trusts it, and the clocks both read."""

    def __init__(
        self,
        *,
        fws: bytes = FW["current"],
        policy: Policy | None = None,
        certificates: dict[bytes, bytes] | None = None,
        uis: bytes | None = UI_CURRENT,
        **device_options: Any,
    ) -> None:
        self.wall = FakeClock(NOW)
        self.mono = FakeClock(1000.0)
        self.backend_key = hemproto.KeyPair.generate()
        self.backend = Backend(
            self.backend_key,
            releases=registry(),
            policy=policy,
            clock=self.wall,
            certificates=certificates,
        )
        self.device = DeviceEmulator(
            backend_public_key=self.backend_key.public,
            fws=fws,
            bls=BL,
            uis=uis,
            csn=CSN,
            monotonic=self.mono,
            **device_options,
        )

    def relay(self) -> hemproto.RelayOutcome:
        return relay_checkin(self.device.challenge, self.backend.handle, self.device.handle)

    def state(self) -> dict[str, Any]:
        d = self.device
        return dict(
            rtc=d.rtc,
            fls=d.fls_state,
            key=d.user_key_present,
            crt=d.certificate,
            upgrade=d.upgrade_pending,
            reports=d.reports,
            log=d.log,
            serving=d.serving,
            session=d.session_public_key,
            last=d.last_action,
        )


def der_certificate() -> bytes:
    body = os.urandom(200)
    return bytes([0x30, 0x81, len(body)]) + body


def test_genuine_current_device_checks_in() -> None:
    world = World()
    outcome = world.relay()
    assert outcome.status == "OK"
    assert outcome.checked.act == "OK"
    assert (outcome.newfws, outcome.newuis, outcome.newcrt) == (None, None, None)
    assert world.device.rtc == int(NOW)
    assert world.device.fls_state == 0
    assert outcome.check.iss == world.device.session_public_key
    assert outcome.checked.iss == world.backend_key.public


def test_outdated_device_is_told_of_the_new_release() -> None:
    world = World(fws=FW["outdated"], uis=UI_OUTDATED)
    outcome = world.relay()
    assert outcome.status == "OK"
    assert outcome.newfws == FW["current"]
    assert outcome.newuis == UI_CURRENT
    assert outcome.device_response["newfws"] == hemproto.b64_encode(FW["current"])


def test_revoked_firmware_locks_the_device() -> None:
    world = World(fws=FW["revoked"])
    outcome = world.relay()
    assert outcome.status == "L"
    assert world.device.fls_state & FLS_LOCKED
    assert world.device.user_key_present is False
    assert [entry.event for entry in world.device.log] == ["RTC_SET", "SHUTDOWN"]


def test_unknown_firmware_is_reported() -> None:
    world = World(fws=os.urandom(64))
    outcome = world.relay()
    assert outcome.status == "R"
    (report,) = world.device.reports
    assert report.jti == outcome.check.jti
    assert world.device.fls_state == 0


@pytest.mark.parametrize("action", ["W", "B", "U", "L", "R"])
def test_every_action_reaches_the_device(action: str) -> None:
    world = World(fws=os.urandom(64), policy=Policy(unknown=action))
    session_before = world.device.session_public_key
    outcome = world.relay()
    assert outcome.status == action == world.device.last_action
    device = world.device
    if action == "W":
        assert device.session_public_key != session_before  # wiped and rebooted
        assert device.user_key_present is False and device.certificate is None
    elif action == "B":
        assert device.fls_state & FLS_SHUTDOWN and not device.serving
        with pytest.raises(RelayError) as info:
            world.relay()
        assert info.value.step == "get_check"
        assert device.handle({"checked": outcome.checked.token}) == (503, None)
    elif action == "U":
        assert device.upgrade_pending
    elif action == "L":
        assert device.fls_state & FLS_LOCKED
    else:
        assert len(device.reports) == 1


def test_actions_are_suppressed_when_the_backend_is_not_trusted() -> None:
    world = World(fws=FW["revoked"], trusted_backend=False)
    outcome = world.relay()
    assert outcome.checked.act == "L"
    assert outcome.status == "OK"
    assert world.device.fls_state == 0 and world.device.user_key_present


def test_rtc_is_left_alone_without_trusted_time() -> None:
    world = World(trusted_ts=False)
    assert world.relay().status == "OK"
    assert world.device.rtc is None


def test_certificate_is_pushed_and_installed() -> None:
    der = der_certificate()
    world = World(certificates={CSN: der})
    outcome = world.relay()
    assert outcome.newcrt == "OK"
    assert outcome.checked.crt == der
    assert world.device.certificate == der


def test_certificate_that_is_not_der_is_refused_by_the_device() -> None:
    world = World(certificates={CSN: b"not a certificate"})
    outcome = world.relay()
    assert outcome.newcrt == "ERROR"
    assert world.device.certificate is None


def test_async_relay_between_the_same_roles() -> None:
    world = World(fws=FW["outdated"])

    async def get_check() -> dict[str, str]:
        return world.device.challenge()

    async def post_backend(body: dict[str, Any]) -> Any:
        return world.backend.handle(body)

    async def post_device(body: dict[str, Any]) -> Any:
        return world.device.handle(body)

    outcome = asyncio.run(relay_checkin_async(get_check, post_backend, post_device))
    assert outcome.status == "OK" and outcome.newfws == FW["current"]


def test_many_check_ins_in_a_row() -> None:
    world = World()
    for n in range(5):
        world.wall.now += 60
        world.mono.now += 60
        assert world.relay().status == "OK"
        assert world.device.rtc == int(world.wall.now)
    assert world.device.outstanding_nonces == 0


# --- refusals ------------------------------------------------------------------------------------


def test_replayed_reply_is_refused_by_the_device() -> None:
    world = World()
    check = world.device.challenge()
    status, reply = world.backend.handle(check)
    assert status == 200
    assert world.device.handle(reply)[0] == 200
    before = world.state()
    assert world.device.handle(reply) == (401, None)
    assert world.state() == before


def test_replayed_check_is_refused_by_the_backend() -> None:
    world = World()
    check = world.device.challenge()
    assert world.backend.handle(check)[0] == 200
    assert world.backend.handle(check) == (401, None)


def test_expired_nonce_is_refused() -> None:
    world = World(nonce_lifetime=30)
    check = world.device.challenge()
    _, reply = world.backend.handle(check)
    world.mono.now += 31
    assert world.device.handle(reply) == (401, None)
    assert world.device.rtc is None


def test_reply_from_before_a_reboot_is_refused() -> None:
    world = World()
    check = world.device.challenge()
    _, reply = world.backend.handle(check)
    world.device.reboot()
    assert world.device.handle(reply) == (401, None)


def test_reply_for_another_device_is_refused() -> None:
    world = World()
    other = DeviceEmulator(backend_public_key=world.backend_key.public, monotonic=world.mono)
    world.device.challenge()
    _, reply_for_other = world.backend.handle(other.challenge())
    before = world.state()
    assert world.device.handle(reply_for_other) == (401, None)
    assert world.state() == before
    assert other.handle(reply_for_other)[0] == 200


def test_reply_from_an_untrusted_backend_is_refused() -> None:
    world = World()
    rogue = Backend(hemproto.KeyPair.generate(), releases=registry())
    check = world.device.challenge()
    # The rogue cannot even answer: the check is addressed to the trusted key.
    assert rogue.handle(check) == (401, None)
    # Nor can it re-address the check to itself: the MAC covers aud.
    forged_check = check["check"].replace(
        check["check"].split(".")[1],
        hemproto.b64url_encode(b"{}"),
    )
    assert rogue.handle({"check": forged_check}) == (400, None)


def test_reply_signed_by_a_rogue_for_this_session_is_refused() -> None:
    world = World()
    rogue = hemproto.KeyPair.generate()
    challenge = hemproto.parse_check(world.device.challenge())
    forged = hemproto.sign_checked(
        rogue.shared(challenge.iss),
        jti=challenge.jti,
        iss=rogue.public,
        aud=challenge.iss,
        iat=int(NOW),
        act="W",
    )
    before = world.state()
    assert world.device.handle({"checked": forged}) == (401, None)
    assert world.state() == before
    # The nonce is still good for the real reply.
    _, reply = world.backend.handle({"check": challenge.token})
    assert world.device.handle(reply)[0] == 200


def test_check_reflected_back_to_the_device_is_refused() -> None:
    world = World()
    check = world.device.challenge()
    before = world.state()
    assert world.device.handle({"checked": check["check"]}) == (401, None)
    assert world.device.handle(check) == (400, None)
    assert world.state() == before


def test_tampered_action_is_refused() -> None:
    world = World(fws=FW["revoked"])
    check = world.device.challenge()
    _, reply = world.backend.handle(check)
    header, _, signature = reply["checked"].split(".")
    claims = hemproto.decode_ejwt(reply["checked"]).claims
    assert claims["act"] == "L"
    claims["act"] = "OK"
    downgraded_payload = hemproto.sign_ejwt(claims, bytes(32)).split(".")[1]
    before = world.state()
    assert world.device.handle({"checked": f"{header}.{downgraded_payload}.{signature}"}) == (
        401,
        None,
    )
    assert world.state() == before


def test_relay_reports_the_device_refusal_with_its_step() -> None:
    world = World()

    def lossy_backend(body: dict[str, Any]) -> Any:
        status, answer = world.backend.handle(body)
        token = answer["checked"]
        return status, {"checked": token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBA")}

    with pytest.raises(RelayError) as info:
        relay_checkin(world.device.challenge, lossy_backend, world.device.handle)
    assert info.value.step == "post_device"
    assert info.value.status == 401
    assert world.device.rtc is None
