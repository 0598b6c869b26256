"""verify_ejwt on a check-sized token: hemproto against PyJWT and joserfc.

All three get the raw 32-byte X25519 shared secret as the HS256 key, verify the MAC,
parse the payload JSON and return the claims dict. Each is first shown a forged token
(same header and payload, MAC made with another key) and must refuse it, so an entry
that stopped checking the MAC fails instead of looking fast.

What else each one does per call differs, and belongs to the comparison:
- hemproto checks every header member and value, canonical base64url, the 32-byte MAC
  size and strict JSON, and compares the MAC in constant time.
- PyJWT prepares the key from bytes on every call and runs its registered-claim checks.
- joserfc uses a key imported once (OctKey) and a registry that knows the ``ecdh``
  header member; it does not validate claims in ``jwt.decode``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import hemproto

GROUP = "verify_ejwt"


def _hemproto_entry(check: Any) -> tuple[Callable[[str], dict[str, Any]], type[Exception]]:
    key = check.shared_secret

    def verify(token: str) -> dict[str, Any]:
        return hemproto.verify_ejwt(token, key)

    return verify, hemproto.BadSignature


def _pyjwt_entry(check: Any) -> tuple[Callable[[str], dict[str, Any]], type[Exception]]:
    jwt = pytest.importorskip("jwt")
    key = check.shared_secret
    # The check's "aud" is the backend's X25519 public key in base64, not an audience
    # name; PyJWT refuses any "aud" when no audience is expected. hemproto.verify_ejwt
    # does not look at "aud" either, so only that one check is turned off.
    options = {"verify_aud": False}

    def verify(token: str) -> dict[str, Any]:
        return jwt.decode(token, key, algorithms=["HS256"], options=options)  # type: ignore[no-any-return]

    return verify, jwt.InvalidSignatureError


def _joserfc_entry(check: Any) -> tuple[Callable[[str], dict[str, Any]], type[Exception]]:
    pytest.importorskip("joserfc")
    from joserfc import jwt
    from joserfc.errors import BadSignatureError
    from joserfc.jwk import OctKey
    from joserfc.jws import JWSRegistry
    from joserfc.registry import HeaderParameter, in_choices

    # joserfc refuses header members it does not know; register the family's "ecdh".
    registry = JWSRegistry(
        header_registry={"ecdh": HeaderParameter("X25519 key agreement", in_choices(["x25519"]))},
        algorithms=["HS256"],
    )
    key = OctKey.import_key(check.shared_secret)

    def verify(token: str) -> dict[str, Any]:
        return jwt.decode(token, key, algorithms=["HS256"], registry=registry).claims

    return verify, BadSignatureError


ENTRIES = {
    "hemproto": ("hemproto.verify_ejwt", 0, _hemproto_entry),
    "pyjwt": ("PyJWT jwt.decode", None, _pyjwt_entry),
    "joserfc": ("joserfc jwt.decode", None, _joserfc_entry),
}


@pytest.mark.benchmark(group=GROUP)
@pytest.mark.parametrize("entry", list(ENTRIES))
def test_verify_ejwt(benchmark: BenchmarkFixture, bench_check: Any, entry: str) -> None:
    label, rank, make = ENTRIES[entry]
    verify, bad_signature = make(bench_check)
    benchmark.extra_info["entry"] = label
    if rank is not None:
        benchmark.extra_info["baseline_rank"] = rank
        benchmark.extra_info["codec_backend"] = hemproto.codec_backend()

    # Outside the timed part: the forged MAC is refused, the real token accepted.
    with pytest.raises(bad_signature):
        verify(bench_check.forged)
    assert verify(bench_check.token) == bench_check.claims

    claims = benchmark(verify, bench_check.token)
    assert claims == bench_check.claims
