"""The catalogue: every group, its entries (one ``Case`` each), and the goals they hold.

A case says what is called, on which input, and what the right answer is; ``engine``
builds, proves and times it, and the pytest-benchmark suite in ``benchmarks/`` runs the
same list. Peers are imported when their entry is built, so a missing one is reported as
unavailable rather than failing the run. hemproto is reached only through its public names
and the two codecs (``hemproto._codec.c_codec`` / ``python_codec``), so both are compared.
"""

from __future__ import annotations

import base64
import hmac
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Literal

from hemproto import (
    Backend,
    BadSignature,
    HemProtoError,
    KeyPair,
    ReplayedNonce,
    _codec,
    verify_check,
    verify_ejwt,
)

from . import goals
from .corpus import (
    BACKEND_PRIVATE,
    SCALE_TARGETS,
    Corpus,
    b64,
    b64url,
    check_body,
    fixed_bytes,
    forge,
    shared_corpus,
)
from .goals import GOALS, Goal
from .worst import WORST_BODY, WORST_CASES, WORST_TOKEN, worst_inputs

__all__ = [
    "WORST_GROUP",
    "Case",
    "ForgedToken",
    "Kind",
    "Subject",
    "Unavailable",
    "WrongResult",
    "all_cases",
    "check_goals",
    "group_names",
    "memory_groups",
    "stdlib_verify",
]

Kind = Literal["hemproto", "peer", "floor"]


class Unavailable(Exception):
    """An entry cannot run here (a peer or the C extension is missing); says why."""


class WrongResult(AssertionError):
    """An entry gave a wrong answer, or accepted a forged token: it is not timed."""


# --- peers ---------------------------------------------------------------------------------


def _peer(module: str, package: str) -> Any:
    """Import a peer library when its entry is built; Unavailable when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise Unavailable(f"{package} is not installed") from None


class ForgedToken(ValueError):
    """The hand-written verifier's refusal."""


def _unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def stdlib_verify(token: str, key: bytes) -> dict[str, Any]:
    """HS256 verification as one would write it with the standard library alone.

    Split on '.', decode the segments with their padding restored, MAC the signing input,
    compare in constant time, parse the JSON. It checks ``alg`` (the one header rule no
    careful verifier skips) and nothing else: no canonical-encoding, size or JSON rules.
    """
    signing_input, _, signature = token.rpartition(".")
    header_text, _, payload_text = signing_input.partition(".")
    header = json.loads(_unb64url(header_text))
    if header.get("alg") != "HS256":
        raise ForgedToken("unexpected alg")
    expected = hmac.digest(key, signing_input.encode("ascii"), "sha256")
    if not hmac.compare_digest(expected, _unb64url(signature)):
        raise ForgedToken("MAC does not match")
    claims: dict[str, Any] = json.loads(_unb64url(payload_text))
    return claims


# --- cases ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subject:
    """One entry, built and ready: ``call(*args)`` is what gets timed.

    ``fresh``, when set, replaces ``args``: ``fresh(n)`` returns n single arguments, made
    outside the timed part, one per call (for calls that must never see an input twice).
    ``refuse`` is an argument tuple ``call`` must reject by raising ``refused_with``.
    """

    call: Callable[..., Any]
    accept: Callable[[Any], bool]
    args: tuple[Any, ...] = ()
    fresh: Callable[[int], list[Any]] | None = None
    refuse: tuple[Any, ...] | None = None
    refused_with: type[BaseException] | tuple[type[BaseException], ...] = ()

    def arguments(self) -> tuple[Any, ...]:
        """One argument tuple for a single call (a fresh one for ``fresh`` subjects)."""
        if self.fresh is not None:
            return (self.fresh(1)[0],)
        return self.args

    def prove(self) -> None:
        """Raise WrongResult unless the entry gives the right answer and refuses a forgery."""
        if self.refuse is not None:
            try:
                self.call(*self.refuse)
            except self.refused_with:
                pass
            else:
                raise WrongResult("accepted a token whose MAC was made with another key")
        if not self.accept(self.call(*self.arguments())):
            raise WrongResult("returned a wrong result")


@dataclass(frozen=True, slots=True)
class Case:
    """One entry of one group, not yet built.

    ``rank`` orders the hemproto entries of a group: the lowest one available is the
    baseline. ``size`` is the input length in characters, where cost per KiB matters.
    ``goals`` are the project's goals this entry's figure is held to (see ``goals``).
    """

    group: str
    key: str
    entry: str
    kind: Kind
    build: Callable[[Corpus], Subject]
    rank: int | None = None
    size: int | None = None
    goals: tuple[Goal, ...] = ()


def _equals(expected: object) -> Callable[[Any], bool]:
    def accept(result: Any) -> bool:
        return bool(result == expected)

    return accept


def _codec_named(name: Literal["c", "python"]) -> Any:
    # Looked up at build time, so that an unbuilt (or hidden) extension is seen as such.
    codec = _codec.c_codec if name == "c" else _codec.python_codec
    if codec is None:
        raise Unavailable("the C extension hemproto._hemcodec is not built")
    return codec


def _decode_case(
    corpus: Corpus, alphabet: Literal["base64url", "base64"], length: int, impl: str
) -> Subject:
    text, data = corpus.text(alphabet, length)
    call: Callable[..., Any]
    args: tuple[Any, ...] = (text,)
    if impl in ("c", "python"):
        codec = _codec_named(impl)  # type: ignore[arg-type]
        call = codec.b64url_decode if alphabet == "base64url" else codec.b64_decode
    elif alphabet == "base64url":
        # Neither peer takes unpadded input: restoring the padding is part of their cost.
        module = base64 if impl == "stdlib" else _peer("pybase64", "pybase64")
        decode = module.urlsafe_b64decode

        def call(segment: str) -> bytes:
            return decode(segment + "=" * (-len(segment) % 4))  # type: ignore[no-any-return]

    else:
        module = base64 if impl == "stdlib" else _peer("pybase64", "pybase64")
        call = partial(module.b64decode, validate=True)
    return Subject(call=call, args=args, accept=_equals(data))


def _ct_equal_case(corpus: Corpus, impl: str) -> Subject:
    # Two equal 32-byte MACs in distinct objects: a full-length comparison, the worst case.
    a = fixed_bytes("mac", 32)
    b = bytes(bytearray(a))
    call: Callable[[bytes, bytes], bool]
    if impl == "stdlib":
        call = hmac.compare_digest
    else:
        call = _codec_named(impl).ct_equal  # type: ignore[arg-type]
    if call(a, fixed_bytes("other mac", 32)) is not False:
        raise WrongResult("said two different values are equal")
    return Subject(call=call, args=(a, b), accept=_equals(True))


def _codec_cases() -> list[Case]:
    cases: list[Case] = []
    # (hemproto function, alphabet, input lengths, standard library label, pybase64 label);
    # 44, not 43, for standard base64: a padded text's length is a multiple of 4.
    decoders: tuple[tuple[str, Literal["base64url", "base64"], tuple[int, ...], str, str], ...] = (
        (
            "b64url_decode",
            "base64url",
            (43, 600, 6000),
            "base64.urlsafe_b64decode",
            "pybase64.urlsafe_b64decode",
        ),
        (
            "b64_decode",
            "base64",
            (44, 600, 6000),
            "base64.b64decode(validate)",
            "pybase64.b64decode(validate)",
        ),
    )
    for function, alphabet, sizes, stdlib_label, pybase64_label in decoders:
        for length in sizes:
            group = f"codec {function} {length}"
            c_key = f"{function}-{length}-c"
            # The C codec is never slower than the Python fallback, at any size; and the
            # base64url decoder of a 600-character claim beats both peers.
            goals_of: dict[str, tuple[Goal, ...]] = {
                "python": (goals.FALLBACK_DECODE.against(c_key),),
            }
            if (function, length) == ("b64url_decode", 600):
                goals_of["stdlib"] = (goals.STDLIB_DECODE.against(c_key),)
                goals_of["pybase64"] = (goals.PYBASE64_DECODE.against(c_key),)
            entries: tuple[tuple[str, str, Kind, int | None], ...] = (
                ("c", "hemproto C codec", "hemproto", 0),
                ("python", "hemproto Python codec", "hemproto", 1),
                ("stdlib", stdlib_label, "peer", None),
                ("pybase64", pybase64_label, "peer", None),
            )
            for impl, label, kind, rank in entries:
                build = partial(_decode_case, alphabet=alphabet, length=length, impl=impl)
                key = f"{function}-{length}-{impl}"
                held = goals_of.get(impl, ())
                cases.append(Case(group, key, label, kind, build, rank, goals=held))
    group = "codec ct_equal 32"
    for impl, label, kind, rank in (
        ("c", "hemproto C codec", "hemproto", 0),
        ("python", "hemproto Python codec", "hemproto", 1),
        ("stdlib", "hmac.compare_digest", "peer", None),
    ):
        build = partial(_ct_equal_case, impl=impl)
        cases.append(Case(group, f"ct_equal-{impl}", label, kind, build, rank))
    return cases


def _hemproto_verify(corpus: Corpus) -> Subject:
    return Subject(
        call=verify_ejwt,
        args=(corpus.token, corpus.mac_key),
        accept=_equals(corpus.claims),
        refuse=(corpus.forged, corpus.mac_key),
        refused_with=BadSignature,
    )


def _stdlib_verify(corpus: Corpus) -> Subject:
    return Subject(
        call=stdlib_verify,
        args=(corpus.token, corpus.mac_key),
        accept=_equals(corpus.claims),
        refuse=(corpus.forged, corpus.mac_key),
        refused_with=ForgedToken,
    )


def _pyjwt_verify(corpus: Corpus) -> Subject:
    jwt = _peer("jwt", "PyJWT")
    # The check's "aud" is the backend's X25519 key in base64, not an audience name, and
    # PyJWT refuses any "aud" when none is expected; verify_ejwt does not read "aud"
    # either, so that one check is turned off and nothing else.
    decode = partial(jwt.decode, algorithms=["HS256"], options={"verify_aud": False})
    return Subject(
        call=decode,
        args=(corpus.token, corpus.mac_key),
        accept=_equals(corpus.claims),
        refuse=(corpus.forged, corpus.mac_key),
        refused_with=jwt.InvalidSignatureError,
    )


def _joserfc_verify(corpus: Corpus) -> Subject:
    _peer("joserfc", "joserfc")
    jwt = importlib.import_module("joserfc.jwt")
    errors = importlib.import_module("joserfc.errors")
    jwk = importlib.import_module("joserfc.jwk")
    jws = importlib.import_module("joserfc.jws")
    registry_module = importlib.import_module("joserfc.registry")
    # joserfc refuses header members it does not know: register the family's "ecdh".
    registry = jws.JWSRegistry(
        header_registry={
            "ecdh": registry_module.HeaderParameter(
                "X25519 key agreement", registry_module.in_choices(["x25519"])
            )
        },
        algorithms=["HS256"],
    )
    key = jwk.OctKey.import_key(corpus.mac_key)  # imported once, as an application would
    decode = jwt.decode

    def verify(token: str) -> dict[str, Any]:
        return decode(token, key, algorithms=["HS256"], registry=registry).claims  # type: ignore[no-any-return]

    return Subject(
        call=verify,
        args=(corpus.token,),
        accept=_equals(corpus.claims),
        refuse=(corpus.forged,),
        refused_with=errors.BadSignatureError,
    )


def _jwcrypto_verify(corpus: Corpus) -> Subject:
    _peer("jwcrypto", "jwcrypto")
    jwk = importlib.import_module("jwcrypto.jwk")
    jws = importlib.import_module("jwcrypto.jws")
    # A JWK of kty "oct" holding the raw key, made once. jwcrypto checks only "crit" among
    # header members, so "ecdh" needs no registration.
    key = jwk.JWK(kty="oct", k=b64url(corpus.mac_key))
    new_jws = jws.JWS
    loads = json.loads

    def verify(token: str) -> dict[str, Any]:
        signed = new_jws()
        signed.deserialize(token)
        signed.verify(key, alg="HS256")
        return loads(signed.payload)  # type: ignore[no-any-return]

    return Subject(
        call=verify,
        args=(corpus.token,),
        accept=_equals(corpus.claims),
        refuse=(corpus.forged,),
        refused_with=jws.InvalidJWSSignature,
    )


def _token_cases() -> list[Case]:
    group = "token verify_ejwt"
    hemproto = "verify_ejwt-hemproto"
    return [
        Case(group, hemproto, "hemproto.verify_ejwt", "hemproto", _hemproto_verify, 0),
        Case(group, "verify_ejwt-stdlib", "hand-written stdlib", "peer", _stdlib_verify),
        Case(
            group,
            "verify_ejwt-pyjwt",
            "PyJWT jwt.decode",
            "peer",
            _pyjwt_verify,
            goals=(goals.PYJWT.against(hemproto),),
        ),
        Case(
            group,
            "verify_ejwt-joserfc",
            "joserfc jwt.decode",
            "peer",
            _joserfc_verify,
            goals=(goals.JOSERFC.against(hemproto),),
        ),
        Case(group, "verify_ejwt-jwcrypto", "jwcrypto JWS.verify", "peer", _jwcrypto_verify),
    ]


def _challenge_matches(corpus: Corpus) -> Callable[[Any], bool]:
    def accept(challenge: Any) -> bool:
        return challenge.token == corpus.token and all(
            getattr(challenge, name) == value for name, value in corpus.fields.items()
        )

    return accept


def _verify_check_case(corpus: Corpus, raw: bool) -> Subject:
    key: Any = BACKEND_PRIVATE if raw else corpus.backend
    return Subject(
        call=verify_check,
        args=(corpus.token, key),
        accept=_challenge_matches(corpus),
        refuse=(corpus.forged, key),
        refused_with=BadSignature,
    )


def _answer_case(corpus: Corpus) -> Subject:
    backend = Backend(KeyPair(BACKEND_PRIVATE), releases=corpus.registry())
    fresh, issued = corpus.fresh_checks()
    (first,) = fresh(1)
    backend.answer(first)
    try:
        backend.answer(first)
    except ReplayedNonce:
        pass  # as it must: hence one fresh check per call
    else:
        raise WrongResult("answered the same check twice")
    expected = {"iss": b64(corpus.backend.public), "aud": b64(corpus.device.public)}

    def accept(body: Any) -> bool:
        # Checked with the hand-written verifier, so that hemproto does not vouch for itself.
        reply = stdlib_verify(body["checked"], corpus.mac_key)
        return (
            reply["jti"] in issued
            and reply["act"] == "OK"
            and all(reply[name] == value for name, value in expected.items())
        )

    return Subject(
        call=backend.answer,
        fresh=fresh,
        accept=accept,
        refuse=(corpus.forged,),
        refused_with=BadSignature,
    )


def _cryptography_floor(corpus: Corpus) -> Subject:
    x25519 = importlib.import_module("cryptography.hazmat.primitives.asymmetric.x25519")
    private = x25519.X25519PrivateKey.from_private_bytes(BACKEND_PRIVATE)  # loaded once
    from_public_bytes = x25519.X25519PublicKey.from_public_bytes

    def exchange(peer: bytes) -> bytes:
        return private.exchange(from_public_bytes(peer))  # type: ignore[no-any-return]

    return Subject(call=exchange, args=(corpus.device.public,), accept=_equals(corpus.mac_key))


def _nacl_floor(corpus: Corpus) -> Subject:
    bindings = _peer("nacl.bindings", "PyNaCl")
    return Subject(
        call=bindings.crypto_scalarmult,
        args=(BACKEND_PRIVATE, corpus.device.public),
        accept=_equals(corpus.mac_key),
    )


def _checkin_cases() -> list[Case]:
    floors = (
        ("cryptography", "floor: cryptography X25519", _cryptography_floor),
        ("pynacl", "floor: PyNaCl crypto_scalarmult", _nacl_floor),
    )
    group = "checkin verify_check"
    check_floors = [f"verify_check-{key}" for key, _, _ in floors]
    cases = [
        Case(
            group,
            "verify_check-keypair",
            "hemproto.verify_check(KeyPair)",
            "hemproto",
            partial(_verify_check_case, raw=False),
            0,
            goals=(goals.VERIFY_CHECK_FLOOR.against(*check_floors), goals.PEAK_VERIFY_CHECK),
        ),
        Case(
            group,
            "verify_check-raw",
            "hemproto.verify_check(raw private)",
            "hemproto",
            partial(_verify_check_case, raw=True),
            1,
        ),
    ]
    cases += [
        Case(group, f"verify_check-{key}", label, "floor", make) for key, label, make in floors
    ]
    group = "checkin Backend.answer"
    answer_floors = [f"answer-{key}" for key, _, _ in floors]
    cases.append(
        Case(group, "answer-hemproto", "hemproto Backend.answer", "hemproto", _answer_case, 0)
    )
    # What a service calls: the raw bytes of a device's body in, status and body out.
    cases.append(
        Case(
            group,
            "handle-hemproto",
            "hemproto Backend.handle(raw body)",
            "hemproto",
            _handle_case,
            1,
            goals=(goals.HANDLE_FLOOR.against(*answer_floors),),
        )
    )
    cases += [Case(group, f"answer-{key}", label, "floor", make) for key, label, make in floors]
    return cases


def _scale_case(corpus: Corpus, target: int) -> Subject:
    token, claims = corpus.scale_tokens[target]
    return Subject(
        call=verify_ejwt,
        args=(token, corpus.mac_key),
        accept=_equals(claims),
        refuse=(forge(token), corpus.mac_key),
        refused_with=BadSignature,
    )


def _scale_cases() -> list[Case]:
    corpus = shared_corpus()
    cases = []
    for rank, target in enumerate(SCALE_TARGETS):
        length = len(corpus.scale_tokens[target][0])
        label = f"verify_ejwt {target // 1024} KiB ({length} chars)"
        build = partial(_scale_case, target=target)
        cases.append(
            Case("scale verify_ejwt", f"scale-{target}", label, "hemproto", build, rank, length)
        )
    return cases


# --- the worst case at the cap --------------------------------------------------------------

WORST_GROUP = "worst case at the cap"


def _worst_case(corpus: Corpus, key: str) -> Subject:
    hostile = WORST_CASES[key]
    data = worst_inputs(corpus)[key]
    if isinstance(data, str):
        if len(data) > WORST_TOKEN:
            raise WrongResult(f"the token is over the cap ({len(data)} characters)")
        pair = corpus.backend

        def refusal(token: str) -> str:
            try:
                verify_check(token, pair)
            except HemProtoError as exc:
                return type(exc).__name__
            return "accepted"

        return Subject(call=refusal, args=(data,), accept=_equals(hostile.error))
    if len(data) > WORST_BODY:
        raise WrongResult(f"the body is over the cap ({len(data)} bytes)")
    backend = Backend(KeyPair(BACKEND_PRIVATE), releases=corpus.registry())
    return Subject(call=backend.handle, args=(data,), accept=_equals((hostile.status, None)))


def _handle_case(corpus: Corpus) -> Subject:
    """Backend.handle of a device's raw body, with a fresh check per call."""
    backend = Backend(KeyPair(BACKEND_PRIVATE), releases=corpus.registry())
    checks, issued = corpus.fresh_checks()
    expected = {"iss": b64(corpus.backend.public), "aud": b64(corpus.device.public)}

    def fresh(n: int) -> list[bytes]:
        return [check_body(token) for token in checks(n)]

    def accept(response: Any) -> bool:
        status, body = response
        if status != 200:
            return False
        # Checked with the hand-written verifier, so that hemproto does not vouch for itself.
        reply = stdlib_verify(body["checked"], corpus.mac_key)
        return reply["jti"] in issued and all(
            reply[name] == value for name, value in expected.items()
        )

    return Subject(call=backend.handle, fresh=fresh, accept=accept)


def _worst_cases() -> list[Case]:
    # The baseline is the normal case: a device's own body, answered.
    cases = [
        Case(
            WORST_GROUP,
            "worst-handle",
            "Backend.handle(a device's body)",
            "hemproto",
            _handle_case,
            0,
        )
    ]
    # Any body up to the cap costs at most a few normal ones: each input holds the goal.
    held = (goals.WORST_HANDLE.against(cases[0].key),)
    for key, hostile in WORST_CASES.items():
        build = partial(_worst_case, key=key)
        cases.append(
            Case(WORST_GROUP, f"worst-{key}", hostile.label, "hemproto", build, goals=held)
        )
    return cases


def all_cases() -> list[Case]:
    """Every timed entry, grouped, in report order.

    Raises ValueError if the catalogue and its goals disagree (see ``check_goals``), so a
    renamed entry fails every run and test at once instead of dropping its goal.
    """
    cases = _codec_cases() + _token_cases() + _checkin_cases() + _scale_cases() + _worst_cases()
    check_goals(cases)
    return cases


# Peak allocation per call is compared for these groups' entries, in groups named
# "memory <what>".
_MEMORY_OF = {
    "token verify_ejwt": "memory verify_ejwt",
    "checkin verify_check": "memory verify_check",
    "checkin Backend.answer": "memory Backend.answer",
}


def memory_groups() -> dict[str, str]:
    """Timed group -> the memory group that compares the same entries' peak allocation."""
    return dict(_MEMORY_OF)


def group_names() -> list[str]:
    """All group names in report order: the timed groups, then the memory groups."""
    names = list(dict.fromkeys(case.group for case in all_cases()))
    return names + list(_MEMORY_OF.values())


def check_goals(cases: list[Case]) -> None:
    """Raise ValueError unless every goal of ``GOALS`` is held by a case, each as defined
    there, with every entry it is compared with in the holder's own group (and, for a
    memory goal, a memory group to be read from)."""
    defined = {goal.name: goal for goal in GOALS}
    keys: dict[str, set[str]] = {}
    for case in cases:
        keys.setdefault(case.group, set()).add(case.key)
    held: set[str] = set()
    for case in cases:
        for goal in case.goals:
            where = f"goal {goal.name!r} of {case.key!r}"
            if replace(goal, versus=()) != defined.get(goal.name):
                raise ValueError(f"{where}: not as defined in GOALS")
            if goal.memory and case.group not in _MEMORY_OF:
                raise ValueError(f"{where}: {case.group!r} has no memory group")
            if case.key in goal.versus:
                raise ValueError(f"{where}: compared with itself")
            missing = [key for key in goal.versus if key not in keys[case.group]]
            if missing:
                raise ValueError(f"{where}: no entry {missing} in {case.group!r}")
            held.add(goal.name)
    unheld = [name for name in defined if name not in held]
    if unheld:
        raise ValueError(f"no case holds the goals {unheld}")
