"""Time hemproto against what a user would pick instead, on the same inputs, in one run.

This module is the engine of ``hemproto bench`` and the list of comparisons the
pytest-benchmark suite in ``benchmarks/`` runs, so the two always compare the same things.
It needs only the standard library: each peer (PyJWT, joserfc, jwcrypto, pybase64, PyNaCl,
matplotlib for plots) is imported when its entry is built, and a peer that is not
installed is reported as unavailable rather than failing the run.

Vocabulary: a *group* is one comparison (same input, same job); an *entry* is one way of
doing that job; each group has a hemproto entry as its *baseline*, and every entry's
*ratio* is its median divided by the baseline's median (time per call, or peak bytes
allocated per call for the memory groups).

Every entry proves it does the job before it is timed: its result is compared with a value
computed independently (the input the token was signed from, the bytes that were encoded,
the shared secret computed from the device side), and a verifier must also refuse a token
whose MAC was made with another key. An entry that fails this is reported as failed and
not timed, because a fast wrong answer is no answer.

hemproto is exercised only through its public names, plus the two codecs
(``hemproto._codec.c_codec`` / ``python_codec``) so that both can be compared.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import hmac
import importlib
import itertools
import json
import math
import os
import platform
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property, partial
from typing import Any, Literal, TextIO

from hemproto import (
    DEFAULT_HEADER,
    MAX_REQUEST_BODY,
    MAX_TOKEN_LENGTH,
    Backend,
    BadSignature,
    HemProtoError,
    KeyPair,
    MalformedToken,
    Release,
    ReleaseRegistry,
    ReplayedNonce,
    __version__,
    _codec,
    active_codec,
    sign_check,
    sign_ejwt,
    verify_check,
    verify_ejwt,
)

__all__ = [
    "QUICK",
    "BenchUsageError",
    "Case",
    "Corpus",
    "EntryResult",
    "GroupResult",
    "Report",
    "Settings",
    "Subject",
    "Unavailable",
    "WrongResult",
    "all_cases",
    "command",
    "group_names",
    "memory_groups",
    "peak_bytes",
    "plot",
    "plot_available",
    "render_group",
    "render_header",
    "render_json",
    "render_table",
    "run",
    "shared_corpus",
    "stdlib_verify",
]

# Fixed keys, so that every run measures the same tokens. Never use these anywhere real.
BACKEND_PRIVATE = bytes(range(32))
DEVICE_PRIVATE = bytes(range(100, 132))
OTHER_MAC_KEY = bytes(range(200, 232))

Kind = Literal["hemproto", "peer", "floor"]
Unit = Literal["ns", "B"]


class Unavailable(Exception):
    """An entry cannot run here (a peer or the C extension is missing); says why."""


class WrongResult(AssertionError):
    """An entry gave a wrong answer, or accepted a forged token: it is not timed."""


class BenchUsageError(ValueError):
    """A request the engine cannot serve (no such group, no matplotlib for a plot)."""


# --- the fixed inputs ----------------------------------------------------------------------


def fixed_bytes(label: str, size: int) -> bytes:
    """Deterministic, non-trivial bytes for a claim or an input (not secret, not random)."""
    return hashlib.shake_256(f"hemproto-bench:{label}".encode()).digest(size)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _forge(token: str) -> str:
    """The same header and payload with a MAC made by another key: must be refused."""
    signing_input = token.rsplit(".", 1)[0]
    mac = hmac.digest(OTHER_MAC_KEY, signing_input.encode("ascii"), "sha256")
    return f"{signing_input}.{_b64url(mac)}"


# Token lengths of the scale group, in characters: 1, 2, 4 and 8 KiB. The largest is capped
# by hemproto's 8192-character limit; the exact lengths reached are in the entry labels.
SCALE_TARGETS = (1024, 2048, 4096, 8192)


class Corpus:
    """The inputs every entry measures, and the answers they must give.

    The expected values never come from the code under test: claims are the dict the token
    was signed from, codec outputs are the bytes that were encoded (by the standard
    library), and the MAC key is X25519 computed from the device's side.
    """

    def __init__(self) -> None:
        self.backend = KeyPair(BACKEND_PRIVATE)
        self.device = KeyPair(DEVICE_PRIVATE)
        self.fields: dict[str, bytes] = {
            "jti": fixed_bytes("jti", 32),
            "iss": self.device.public,
            "qid": fixed_bytes("qid", 32),
            "aud": self.backend.public,
            "fws": fixed_bytes("fws", 64),
            "bls": fixed_bytes("bls", 64),
            "uis": fixed_bytes("uis", 32),
            "csn": fixed_bytes("csn", 16),
        }
        self.claims: dict[str, str] = {name: _b64(value) for name, value in self.fields.items()}
        self.token = sign_check(
            self.device,
            self.backend.public,
            jti=self.fields["jti"],
            qid=self.fields["qid"],
            fws=self.fields["fws"],
            bls=self.fields["bls"],
            uis=self.fields["uis"],
            csn=self.fields["csn"],
        )
        # The device's half of the exchange: what the backend's half must arrive at.
        self.mac_key = self.device.shared(self.backend.public)
        self.forged = _forge(self.token)
        self._texts: dict[tuple[str, int], tuple[str, bytes]] = {}
        # The worst-case group's hostile inputs, made on first use (worst_inputs).
        self.worst: dict[str, bytes | str] = {}

    def text(self, alphabet: Literal["base64url", "base64"], length: int) -> tuple[str, bytes]:
        """Canonical text of exactly ``length`` characters, and the bytes it encodes.

        base64url is unpadded (``length * 3 // 4`` bytes); standard base64 is padded and
        always ends in one ``=`` (``length // 4 * 3 - 1`` bytes), as a 32-byte claim does.
        """
        known = self._texts.get((alphabet, length))
        if known is not None:
            return known
        if alphabet == "base64url":
            data = fixed_bytes(f"b64url:{length}", length * 3 // 4)
            text = _b64url(data)
        else:
            data = fixed_bytes(f"b64:{length}", length // 4 * 3 - 1)
            text = _b64(data)
        if len(text) != length:
            raise ValueError(f"no canonical {alphabet} text of {length} characters")
        self._texts[(alphabet, length)] = (text, data)
        return text, data

    @cached_property
    def scale_tokens(self) -> dict[int, tuple[str, dict[str, str]]]:
        """Check-like tokens grown to each SCALE_TARGETS length with a ``pad`` claim."""
        filler = _b64(fixed_bytes("scale", 6144))
        tokens: dict[int, tuple[str, dict[str, str]]] = {}
        for target in SCALE_TARGETS:
            claims = dict(self.claims)
            # Payload characters are 4/3 of its JSON bytes: start just below the target and
            # grow the pad while the whole token still fits (and hemproto still signs it).
            claims["pad"] = ""
            pad = max(0, (target - len(sign_ejwt(claims, self.mac_key))) * 3 // 4 - 4)
            best: tuple[str, dict[str, str]] | None = None
            while True:
                claims["pad"] = filler[:pad]
                try:
                    token = sign_ejwt(claims, self.mac_key)
                except MalformedToken:
                    break
                if len(token) > target:
                    break
                best = (token, dict(claims))
                pad += 1
            if best is None:
                raise ValueError(f"no token of at most {target} characters")
            tokens[target] = best
        return tokens

    def registry(self) -> ReleaseRegistry:
        """A tiny release history in which the corpus device runs current releases."""
        return ReleaseRegistry(
            [
                Release("firmware", self.fields["fws"], "2.1.0", "current"),
                Release("firmware", fixed_bytes("fws-old", 64), "2.0.3", "outdated"),
                Release("bootloader", self.fields["bls"], "1.2.0", "current"),
                Release("dashboard", self.fields["uis"], "3.4.0", "current"),
            ]
        )

    def fresh_checks(self) -> tuple[Callable[[int], list[str]], set[str]]:
        """A source of distinct check tokens (a backend refuses a repeated jti), and the
        set of jtis (wire form) it has issued.

        Only jti changes between tokens, and the device key stays the same, so the MAC key
        is computed once and each token costs one sign_ejwt instead of an X25519 exchange.
        """
        counter = itertools.count()
        issued: set[str] = set()
        claims = dict(self.claims)

        def fresh(n: int) -> list[str]:
            tokens = []
            for number in itertools.islice(counter, n):
                jti = _b64(hashlib.sha256(b"hemproto-bench:jti:%d" % number).digest())
                claims["jti"] = jti
                issued.add(jti)
                tokens.append(sign_ejwt(claims, self.mac_key))
            return tokens

        return fresh, issued


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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Case:
    """One entry of one group, not yet built.

    ``rank`` orders the hemproto entries of a group: the lowest one available is the
    baseline. ``size`` is the input length in characters, where cost per KiB matters.
    """

    group: str
    key: str
    entry: str
    kind: Kind
    build: Callable[[Corpus], Subject]
    rank: int | None = None
    size: int | None = None


def _equals(expected: object) -> Callable[[Any], bool]:
    def accept(result: Any) -> bool:
        return bool(result == expected)

    return accept


def _codec_backend(name: Literal["c", "python"]) -> Any:
    # Looked up at build time, so that an unbuilt (or hidden) extension is seen as such.
    backend = _codec.c_codec if name == "c" else _codec.python_codec
    if backend is None:
        raise Unavailable("the C extension hemproto._hemcodec is not built")
    return backend


def _decode_case(
    corpus: Corpus, alphabet: Literal["base64url", "base64"], length: int, impl: str
) -> Subject:
    text, data = corpus.text(alphabet, length)
    call: Callable[..., Any]
    args: tuple[Any, ...] = (text,)
    if impl in ("c", "python"):
        backend = _codec_backend(impl)  # type: ignore[arg-type]
        call = backend.b64url_decode if alphabet == "base64url" else backend.b64_decode
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
        call = _codec_backend(impl).ct_equal  # type: ignore[arg-type]
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
            entries: tuple[tuple[str, str, Kind, int | None], ...] = (
                ("c", "hemproto C codec", "hemproto", 0),
                ("python", "hemproto Python codec", "hemproto", 1),
                ("stdlib", stdlib_label, "peer", None),
                ("pybase64", pybase64_label, "peer", None),
            )
            for impl, label, kind, rank in entries:
                build = partial(_decode_case, alphabet=alphabet, length=length, impl=impl)
                key = f"{function}-{length}-{impl}"
                cases.append(Case(group, key, label, kind, build, rank))
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
    key = jwk.JWK(kty="oct", k=_b64url(corpus.mac_key))
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
    return [
        Case(
            group, "verify_ejwt-hemproto", "hemproto.verify_ejwt", "hemproto", _hemproto_verify, 0
        ),
        Case(group, "verify_ejwt-stdlib", "hand-written stdlib", "peer", _stdlib_verify),
        Case(group, "verify_ejwt-pyjwt", "PyJWT jwt.decode", "peer", _pyjwt_verify),
        Case(group, "verify_ejwt-joserfc", "joserfc jwt.decode", "peer", _joserfc_verify),
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
    expected = {"iss": _b64(corpus.backend.public), "aud": _b64(corpus.device.public)}

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
    cases = [
        Case(
            group,
            "verify_check-keypair",
            "hemproto.verify_check(KeyPair)",
            "hemproto",
            partial(_verify_check_case, raw=False),
            0,
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
        refuse=(_forge(token), corpus.mac_key),
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
# The largest request body the backend reads, and the longest token verify_check takes.
WORST_BODY = MAX_REQUEST_BODY
WORST_TOKEN = MAX_TOKEN_LENGTH
_ENVELOPE = len(b'{"check":""}')
# Any 32 bytes: the hostile tokens are refused before their MAC is checked, or fail it.
_WORST_SIGNATURE = _b64url(fixed_bytes("worst signature", 32))
_HEADER_SEGMENT = _b64url(json.dumps(DEFAULT_HEADER, separators=(",", ":")).encode())
# Sixteen arrays deep, the most the strict JSON rules allow.
_DEEP = "[" * 15 + "0" + "]" * 15


def _longest(part: Callable[[int], str], opening: str, closing: str, size: int) -> str:
    """``opening``, then part(0), part(1), ... joined by ',', then ``closing``: the longest
    such text of at most ``size`` bytes of UTF-8."""
    pieces: list[str] = []
    used = len(opening.encode()) + len(closing.encode()) - 1
    for number in itertools.count():
        piece = part(number)
        if used + len(piece.encode()) + 1 > size:
            break
        pieces.append(piece)
        used += len(piece.encode()) + 1
    return opening + ",".join(pieces) + closing


def _short_name(number: int) -> str:
    """Distinct member names, as short as they come: a, b, ..., 9, aa, ab, ..."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    name = alphabet[number % 62]
    while number >= 62:
        number = number // 62 - 1
        name = alphabet[number % 62] + name
    return name


def _escaped(name: str) -> str:
    return "".join(f"\\u{ord(character):04x}" for character in name)


def _body(token: str) -> bytes:
    return b'{"check":"' + token.encode("ascii") + b'"}'


def _header_token(header_json: str) -> str:
    return f"{_b64url(header_json.encode())}.e30.{_WORST_SIGNATURE}"


def _payload_token(payload_json: str) -> str:
    return f"{_HEADER_SEGMENT}.{_b64url(payload_json.encode())}.{_WORST_SIGNATURE}"


def _header_room(token_chars: int) -> int:
    """Bytes of header JSON a token of ``token_chars`` carries, beside payload ``{}``."""
    return (token_chars - len(".e30.") - len(_WORST_SIGNATURE)) * 3 // 4


def _payload_room(token_chars: int) -> int:
    """Bytes of payload JSON a token of ``token_chars`` carries, beside the usual header."""
    return (token_chars - len(_HEADER_SEGMENT) - 2 - len(_WORST_SIGNATURE)) * 3 // 4


def _forged_check(claims: dict[str, Any]) -> str:
    """A check token of ``claims`` MACed with another key, whatever hemproto would sign."""
    return _forge(_payload_token(json.dumps(claims, separators=(",", ":"))))


def _many_claims(corpus: Corpus) -> bytes:
    """A check with every claim right and as many one-letter extra claims as a body holds,
    MACed with another key: refused for its values, before the payload is built."""
    claims: dict[str, Any] = dict(corpus.claims)
    # Grown in steps of about an eighth of what still fits, then one by one: few signatures.
    number = 0
    while True:
        room = WORST_BODY - len(_body(_forged_check(claims)))
        step = max(1, room // 70)
        trial = dict(claims)
        for extra in range(number, number + step):
            trial[_short_name(extra)] = 0
        if len(_body(_forged_check(trial))) > WORST_BODY:
            if step == 1:
                return _body(_forged_check(claims))
            claims[_short_name(number)] = 0
            number += 1
        else:
            claims, number = trial, number + step


# A double that is slow to convert within the 32 characters hemproto takes: 20 significant
# digits close to halfway between two doubles near 1e-300 (about 0.55 us here, where 1.5
# takes 0.05). Written as it is: json.dumps would write the shortest form instead.
_HARD_FLOAT = "7.4661089480257535180e-301"


def _floats_check(corpus: Corpus, extras: int, values: int) -> bytes:
    """A check with every claim right, ``extras`` extra claims and ``values`` JSON values in
    all, every value beyond the claims a hard float (in one array where the extras run
    out), and a string that fills the body to the cap; MACed with another key."""
    floats = values - len(corpus.claims) - 1 - extras  # less the object and the extras
    members = [f'"{_short_name(number)}":{_HARD_FLOAT}' for number in range(extras - 2)]
    members.append(f'"floats":[{",".join([_HARD_FLOAT] * floats)}]')
    start = json.dumps(corpus.claims, separators=(",", ":"))[:-1] + "," + ",".join(members)

    def body(pad: int) -> bytes:
        return _body(_forge(_payload_token(start + ',"pad":"' + "p" * pad + '"}')))

    pad = (WORST_BODY - len(body(0))) * 3 // 4
    while len(body(pad)) > WORST_BODY:
        pad -= 1
    return body(pad)


def _named_members(corpus: Corpus) -> bytes:
    """A body of as many members as a refusal names, each name as long as the body allows
    and written in \\u escapes: every name is decoded to word the refusal."""

    def body(length: int) -> bytes:
        # The first names one character longer than the rest, to come close to the cap.
        names = (
            _escaped(_short_name(number) + "n" * (length // 64 + (number < length % 64)))
            for number in range(64)
        )
        return ("{" + ",".join(f'"{name}":0' for name in names) + "}").encode()

    length = 0
    while len(body(length + 1)) <= WORST_BODY:
        length += 1
    return body(length)


_IN_BODY = WORST_BODY - _ENVELOPE  # token characters a body carries


@dataclass(frozen=True)
class HostileInput:
    """A hostile input at the cap: for Backend.handle (raw body bytes, refused with
    ``status``) or for verify_check (a token, refused with the hemproto ``error``)."""

    label: str
    make: Callable[[Corpus], bytes | str]
    status: int = 400
    error: str = "MalformedToken"


WORST_CASES: dict[str, HostileInput] = {
    "header-objects": HostileInput(
        "header [{},{},...], in a body",
        lambda corpus: _body(
            _header_token(_longest(lambda _: "{}", "[", "]", _header_room(_IN_BODY)))
        ),
    ),
    "header-objects-token": HostileInput(
        "header [{},{},...], verify_check",
        lambda corpus: _header_token(_longest(lambda _: "{}", "[", "]", _header_room(WORST_TOKEN))),
    ),
    "payload-brackets": HostileInput(
        "payload [[],[],...], in a body",
        lambda corpus: _body(
            _payload_token(_longest(lambda _: "[]", "[", "]", _payload_room(_IN_BODY)))
        ),
    ),
    "payload-brackets-token": HostileInput(
        "payload [[],[],...], verify_check",
        lambda corpus: _payload_token(
            _longest(lambda _: "[]", "[", "]", _payload_room(WORST_TOKEN))
        ),
    ),
    "body-objects": HostileInput(
        "body [{},{},...]", lambda corpus: _longest(lambda _: "{}", "[", "]", WORST_BODY).encode()
    ),
    "body-members": HostileInput(
        "body: 1,000 members",
        lambda corpus: _longest(
            lambda number: f'"{_short_name(number)}":0', "{", "}", WORST_BODY
        ).encode(),
    ),
    "payload-members": HostileInput("payload: claims + 700 more, forged MAC", _many_claims),
    "payload-escaped-names-token": HostileInput(
        "payload of \\u-escaped names, verify_check",
        lambda corpus: _payload_token(
            _longest(
                lambda number: f'"{_escaped(_short_name(number))}":0',
                "{",
                "}",
                _payload_room(WORST_TOKEN),
            )
        ),
    ),
    # The most a payload within every rule costs: 16 extra claims, 64 values, each value
    # beyond the claims a float that is slow to convert; parsed, then X25519 and the MAC.
    "payload-hard-floats": HostileInput(
        "payload: 16 extras, 64 values, hard floats",
        partial(_floats_check, extras=16, values=64),
        401,
    ),
    # The same values as extra claims: built, then refused for their number.
    "payload-extras": HostileInput(
        "payload: claims + 55 extras, hard floats",
        partial(_floats_check, extras=55, values=64),
    ),
    "body-named-members": HostileInput("body: 64 \\u-escaped names", _named_members),
    "body-escapes": HostileInput(
        "body: a token of \\u0041 escapes",
        lambda corpus: ('{"check":"' + "\\u0041" * (_IN_BODY // 6) + '"}').encode(),
    ),
    "body-integers": HostileInput(
        "body: 3,600 integers",
        lambda corpus: _longest(lambda _: "1", '{"check":[', "]}", WORST_BODY).encode(),
    ),
    "body-floats-last-too-large": HostileInput(
        "body: 1,800 numbers, the last 1e999",
        lambda corpus: _longest(lambda _: "1.5", '{"check":[', ",1e999]}", WORST_BODY).encode(),
    ),
    "body-long-integer": HostileInput(
        "body: a 7,000-digit integer",
        lambda corpus: ('{"check":"x","n":' + "9" * (_IN_BODY - 6) + "}").encode(),
    ),
    "body-long-fraction": HostileInput(
        "body: a 7,000-digit fraction",
        lambda corpus: ('{"n":0.' + "0" * (WORST_BODY - 9) + "1}").encode(),
    ),
    "body-deep-legal": HostileInput(
        "body: 16 deep, over and over",
        lambda corpus: _longest(
            lambda number: f'"{_short_name(number)}":{_DEEP}', "{", "}", WORST_BODY
        ).encode(),
    ),
    # Syntax errors at the very end: worded from the stretch of text around them.
    "body-stray-comma": HostileInput(
        "body: 1,000 numbers, then a stray comma",
        lambda corpus: _longest(lambda _: "1e-300", '{"check":[', ",]}", WORST_BODY).encode(),
    ),
    "body-deep-stray-comma": HostileInput(
        "body: 16 deep, over and over, then a ','",
        lambda corpus: _longest(
            lambda number: f'"{_short_name(number)}":{_DEEP}', "{", ",}", WORST_BODY
        ).encode(),
    ),
}


def worst_inputs(corpus: Corpus) -> dict[str, bytes | str]:
    """The hostile inputs of the worst-case group, by entry key (made once per corpus)."""
    for key, hostile in WORST_CASES.items():
        if key not in corpus.worst:
            corpus.worst[key] = hostile.make(corpus)
    return dict(corpus.worst)


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
    expected = {"iss": _b64(corpus.backend.public), "aud": _b64(corpus.device.public)}

    def fresh(n: int) -> list[bytes]:
        return [_body(token) for token in checks(n)]

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
    for key, hostile in WORST_CASES.items():
        build = partial(_worst_case, key=key)
        cases.append(Case(WORST_GROUP, f"worst-{key}", hostile.label, "hemproto", build))
    return cases


_CORPUS: list[Corpus] = []


def shared_corpus() -> Corpus:
    # One corpus per process: the scale labels need the real token lengths, and building
    # the tokens twice would only cost time.
    if not _CORPUS:
        _CORPUS.append(Corpus())
    return _CORPUS[0]


def all_cases() -> list[Case]:
    """Every timed entry, grouped, in report order."""
    return _codec_cases() + _token_cases() + _checkin_cases() + _scale_cases() + _worst_cases()


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


# --- measuring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How long to measure: ``rounds`` timed blocks per entry of about ``block_ns`` each,
    and ``memory_calls`` traced calls per entry (the median peak is kept)."""

    rounds: int = 25
    block_ns: int = 10_000_000
    memory_calls: int = 5
    groups: tuple[str, ...] = ()  # substrings of group names to run; empty: all


QUICK = Settings(rounds=5, block_ns=1_000_000, memory_calls=1)


@dataclass
class EntryResult:
    """One entry's outcome: ``median`` in ns per call (or peak bytes), ``spread`` the
    interquartile range over the median, ``ratio`` the median over the baseline's.

    For entries with an input size: ``per_kib`` is the median per KiB of input, and
    ``added_per_kib`` the extra time per extra KiB over the baseline (the slope: it stays
    flat across sizes when the cost grows linearly).
    """

    key: str
    entry: str
    kind: str
    status: Literal["ok", "unavailable", "failed"]
    reason: str = ""
    baseline: bool = False
    median: float | None = None
    spread: float | None = None
    ratio: float | None = None
    size: int | None = None
    per_kib: float | None = None
    added_per_kib: float | None = None


@dataclass
class GroupResult:
    group: str
    unit: Unit
    baseline: str | None
    entries: list[EntryResult]


@dataclass
class Report:
    info: dict[str, Any]
    groups: list[GroupResult] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [
            f"{group.group}: {entry.entry}: {entry.reason}"
            for group in self.groups
            for entry in group.entries
            if entry.status == "failed"
        ]


Timer = Callable[[int], int]


def _timer(subject: Subject) -> Timer:
    """A function that makes n calls and returns the nanoseconds they took.

    Arguments are bound to locals and the loop is specialised by their number so that the
    harness adds as little as possible to calls of a few hundred nanoseconds.
    """
    call = subject.call
    clock = time.perf_counter_ns
    fresh = subject.fresh
    if fresh is not None:

        def timed_fresh(n: int) -> int:
            batch = fresh(n)  # made before the clock starts
            start = clock()
            for argument in batch:
                call(argument)
            return clock() - start

        return timed_fresh
    args = subject.args
    if len(args) == 1:
        (a,) = args

        def timed_1(n: int) -> int:
            loop = itertools.repeat(None, n)
            start = clock()
            for _ in loop:
                call(a)
            return clock() - start

        return timed_1
    if len(args) == 2:
        a, b = args

        def timed_2(n: int) -> int:
            loop = itertools.repeat(None, n)
            start = clock()
            for _ in loop:
                call(a, b)
            return clock() - start

        return timed_2

    def timed_n(n: int) -> int:
        loop = itertools.repeat(None, n)
        start = clock()
        for _ in loop:
            call(*args)
        return clock() - start

    return timed_n


def _calibrate(timed: Timer, block_ns: int) -> int:
    """Calls per block so that one block takes about ``block_ns`` (also warms up)."""
    n = 1
    while True:
        elapsed = timed(n)
        if elapsed * 10 >= block_ns or n >= 1 << 24:
            return max(1, round(n * block_ns / max(elapsed, 1)))
        n *= 10


def _summary(samples: Sequence[float]) -> tuple[float, float]:
    median = statistics.median(samples)
    if len(samples) < 2 or median <= 0:
        return median, 0.0
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return median, (q3 - q1) / median


def _time_group(subjects: dict[str, Subject], settings: Settings) -> dict[str, list[float]]:
    """ns per call, one sample per round per entry.

    Entries take turns block by block (in a rotating order) rather than one after the
    other, so that a burst of load from elsewhere hits every entry of the group alike and
    the ratios stay fair on a busy machine.
    """
    timers = {key: _timer(subject) for key, subject in subjects.items()}
    counts = {key: _calibrate(timed, settings.block_ns) for key, timed in timers.items()}
    samples: dict[str, list[float]] = {key: [] for key in timers}
    keys = list(timers)
    for round_number in range(settings.rounds):
        shift = round_number % len(keys)
        for key in keys[shift:] + keys[:shift]:
            samples[key].append(timers[key](counts[key]) / counts[key])
    return samples


def peak_bytes(subject: Subject, calls: int) -> list[float]:
    """Peak bytes traced by tracemalloc during single calls, result included.

    One untraced-for-the-result warm-up call first, so that caches and lazily created
    buffers that live for the whole process are not charged to a call.
    """
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    enabled = gc.isenabled()
    gc.disable()  # a collection in the middle of a call would move the baseline
    try:
        subject.call(*subject.arguments())
        peaks: list[float] = []
        for _ in range(calls):
            arguments = subject.arguments()
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            result = subject.call(*arguments)
            peaks.append(float(tracemalloc.get_traced_memory()[1] - before))
            del result
        return peaks
    finally:
        if enabled:
            gc.enable()
        if started:
            tracemalloc.stop()


def _build(
    cases: Iterable[Case], corpus: Corpus
) -> tuple[dict[str, Subject], dict[str, EntryResult]]:
    subjects: dict[str, Subject] = {}
    results: dict[str, EntryResult] = {}
    for case in cases:
        result = EntryResult(case.key, case.entry, case.kind, "ok", size=case.size)
        results[case.key] = result
        try:
            subject = case.build(corpus)
            subject.prove()
        except Unavailable as exc:
            result.status, result.reason = "unavailable", str(exc)
            continue
        except WrongResult as exc:
            result.status, result.reason = "failed", str(exc) or "wrong result"
            continue
        subjects[case.key] = subject
    return subjects, results


def _finish(
    name: str, unit: Unit, cases: list[Case], results: dict[str, EntryResult]
) -> GroupResult:
    """Pick the baseline (lowest-ranked hemproto entry that ran) and compute the ratios."""
    ranked = [
        case for case in cases if case.rank is not None and results[case.key].median is not None
    ]
    base = min(ranked, key=lambda case: case.rank or 0) if ranked else None
    base_median = results[base.key].median if base is not None else None
    for case in cases:
        result = results[case.key]
        if result.median is None:
            continue
        if base_median:
            result.ratio = result.median / base_median
        if unit == "ns" and case.size:
            result.per_kib = result.median * 1024 / case.size
            if base is not None and base.size and base_median and case.size > base.size:
                added = (result.median - base_median) * 1024 / (case.size - base.size)
                result.added_per_kib = added
    if base is not None:
        results[base.key].baseline = True
    return GroupResult(
        name, unit, base.entry if base is not None else None, [results[c.key] for c in cases]
    )


def _time_cases(name: str, cases: list[Case], corpus: Corpus, settings: Settings) -> GroupResult:
    subjects, results = _build(cases, corpus)
    if subjects:
        samples = _time_group(subjects, settings)
        for key, values in samples.items():
            results[key].median, results[key].spread = _summary(values)
        for key, subject in subjects.items():
            try:  # still right after being timed
                subject.prove()
            except WrongResult as exc:
                results[key].status, results[key].reason = "failed", str(exc)
                results[key].median = results[key].spread = None
    return _finish(name, "ns", cases, results)


def _memory_cases(name: str, cases: list[Case], corpus: Corpus, settings: Settings) -> GroupResult:
    subjects, results = _build(cases, corpus)
    for key, subject in subjects.items():
        results[key].median, results[key].spread = _summary(
            peak_bytes(subject, max(1, settings.memory_calls))
        )
    return _finish(name, "B", cases, results)


def machine() -> dict[str, Any]:
    """What the numbers were measured on: they mean little without it."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
    }


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _selected(names: Iterable[str], filters: Sequence[str]) -> list[str]:
    names = list(names)
    if not filters:
        return names
    chosen = [name for name in names if any(text in name for text in filters)]
    if not chosen:
        raise BenchUsageError(f"no group matches {', '.join(map(repr, filters))}")
    return chosen


def run(
    settings: Settings = Settings(),
    *,
    on_group: Callable[[Report, GroupResult], None] | None = None,
) -> Report:
    """Build, check and measure every selected group; ``on_group`` sees each as it ends."""
    started = time.perf_counter()
    cases = all_cases()
    selected = _selected(group_names(), settings.groups)
    report = Report(
        info={
            "hemproto": __version__,
            "active_codec": active_codec(),
            "c_extension": _codec.c_codec is not None,
            "machine": machine(),
            "settings": asdict(settings),
            "load_average_start": _load_average(),
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        }
    )
    corpus = shared_corpus()
    timed = [name for name in dict.fromkeys(case.group for case in cases) if name in selected]
    memory = {source: name for source, name in _MEMORY_OF.items() if name in selected}
    for name in timed:
        group = _time_cases(name, [c for c in cases if c.group == name], corpus, settings)
        report.groups.append(group)
        if on_group is not None:
            on_group(report, group)
    for source, name in memory.items():
        group = _memory_cases(name, [c for c in cases if c.group == source], corpus, settings)
        report.groups.append(group)
        if on_group is not None:
            on_group(report, group)
    report.info["load_average_end"] = _load_average()
    report.info["seconds"] = round(time.perf_counter() - started, 1)
    return report


# --- the targets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One performance goal of the project, checked against a report's medians.

    ``measured`` is a ratio (or bytes for the memory goal) computed from the report;
    ``met`` compares it with ``goal`` in the stated direction.
    """

    name: str
    measured: float
    goal: float
    at_most: bool  # True: measured <= goal; False: measured >= goal
    unit: Literal["x", "B"] = "x"

    @property
    def met(self) -> bool:
        return self.measured <= self.goal if self.at_most else self.measured >= self.goal


def _medians(report: Report) -> dict[str, dict[str, float]]:
    return {
        group.group: {
            entry.key: entry.median
            for entry in group.entries
            if entry.status == "ok" and entry.median is not None
        }
        for group in report.groups
    }


def targets(report: Report) -> list[Target]:
    """The goals whose entries this report measured (a partial run checks fewer)."""
    found: list[Target] = []
    medians = _medians(report)

    def ratio(group: str, slower: str, faster: str) -> float | None:
        values = medians.get(group, {})
        if slower in values and faster in values and values[faster] > 0:
            return values[slower] / values[faster]
        return None

    def add(name: str, value: float | None, goal: float, at_most: bool) -> None:
        if value is not None:
            found.append(Target(name, value, goal, at_most))

    check = medians.get("checkin verify_check", {})
    floors = [
        check[key] for key in ("verify_check-cryptography", "verify_check-pynacl") if key in check
    ]
    if "verify_check-keypair" in check and floors:
        add(
            "verify_check / fastest bare X25519",
            check["verify_check-keypair"] / min(floors),
            1.15,
            True,
        )
    answer = medians.get("checkin Backend.answer", {})
    answer_floors = [
        answer[key] for key in ("answer-cryptography", "answer-pynacl") if key in answer
    ]
    if "handle-hemproto" in answer and answer_floors:
        add(
            "Backend.handle(raw body) / fastest bare X25519",
            answer["handle-hemproto"] / min(answer_floors),
            1.2,
            True,
        )
    tokens = "token verify_ejwt"
    add(
        "joserfc / verify_ejwt",
        ratio(tokens, "verify_ejwt-joserfc", "verify_ejwt-hemproto"),
        2,
        False,
    )
    add("PyJWT / verify_ejwt", ratio(tokens, "verify_ejwt-pyjwt", "verify_ejwt-hemproto"), 8, False)
    codec = "codec b64url_decode 600"
    add(
        "stdlib / C b64url_decode 600",
        ratio(codec, "b64url_decode-600-stdlib", "b64url_decode-600-c"),
        2,
        False,
    )
    add(
        "pybase64 / C b64url_decode 600",
        ratio(codec, "b64url_decode-600-pybase64", "b64url_decode-600-c"),
        1,
        False,
    )
    fallback = []
    for name in medians:
        if name.startswith(("codec b64url_decode", "codec b64_decode")):
            size = name.rsplit(" ", 1)[1]
            function = name.split()[1]
            value = ratio(name, f"{function}-{size}-python", f"{function}-{size}-c")
            if value is not None:
                fallback.append(value)
    if fallback:
        add("Python fallback / C decode, slowest size", min(fallback), 1, False)
    worst = medians.get(WORST_GROUP, {})
    hostile = [median for key, median in worst.items() if key != "worst-handle"]
    if "worst-handle" in worst and hostile:
        add("worst case at the cap / Backend.handle", max(hostile) / worst["worst-handle"], 3, True)
    memory = medians.get("memory verify_check", {})
    if "verify_check-keypair" in memory:
        found.append(
            Target("peak bytes per verify_check", memory["verify_check-keypair"], 16384, True, "B")
        )
    return found


def render_targets(report: Report) -> str:
    found = targets(report)
    if not found:
        return ""
    title = "targets (ratios of medians in this run)"
    lines = [f"\n{title:<48} {'measured':>9}  {'goal':>11}  met"]
    for target in found:
        sign = "<=" if target.at_most else ">="
        if target.unit == "B":
            measured, goal = f"{target.measured:,.0f} B", f"{sign} {target.goal:,.0f} B"
        else:
            measured, goal = f"x{target.measured:.2f}", f"{sign} {target.goal:g}"
        lines.append(
            f"  {target.name:<46} {measured:>9}  {goal:>11}  {'yes' if target.met else 'NO'}"
        )
    return "\n".join(lines) + "\n"


# --- output --------------------------------------------------------------------------------


def _format_value(value: float, unit: Unit) -> str:
    if unit == "B":
        return f"{value:.0f} B" if value < 10240 else f"{value / 1024:.1f} KiB"
    for suffix, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if value >= scale:
            return f"{value / scale:.2f} {suffix}"
    return f"{value:.0f} ns"


_WIDTH = 42


def render_header(report: Report) -> str:
    info = report.info
    host = info["machine"]
    settings = info["settings"]
    return (
        f"hemproto {info['hemproto']} bench: codec {info['active_codec']}, "
        f"{host['python']}, {host['cpu']} ({host['cores']} cores), {info['date']}\n"
        f"{settings['rounds']} rounds of ~{settings['block_ns'] / 1e6:g} ms per entry, entries "
        f"interleaved; load average {info['load_average_start']} at start\n"
        "ratio = median / median of the group's hemproto baseline (*); "
        "spread = IQR / median\n"
        "per KiB = median / input size; +per KiB = added time per added KiB over the "
        "baseline (flat when growth is linear)\n"
    )


def render_group(group: GroupResult) -> str:
    per_kib = any(entry.per_kib is not None for entry in group.entries)
    what = "peak per call" if group.unit == "B" else "median"
    lines = [
        f"\n{group.group:<{_WIDTH + 2}} {what:>13} {'ratio':>8} {'spread':>7}"
        + ("   per KiB  +per KiB" if per_kib else "")
    ]
    for entry in group.entries:
        mark = "*" if entry.baseline else " "
        label = f"{mark} {entry.entry}"[: _WIDTH + 2]
        if entry.status != "ok" or entry.median is None:
            lines.append(f"{label:<{_WIDTH + 2}} {entry.status}: {entry.reason}")
            continue
        ratio = f"x{entry.ratio:.2f}" if entry.ratio is not None else "-"
        spread = f"{entry.spread * 100:.0f}%" if entry.spread is not None else "-"
        line = (
            f"{label:<{_WIDTH + 2}} {_format_value(entry.median, group.unit):>13} "
            f"{ratio:>8} {spread:>7}"
        )
        if entry.per_kib is not None:
            line += f" {_format_value(entry.per_kib, 'ns'):>9}"
            if entry.added_per_kib is not None:
                line += f" {_format_value(entry.added_per_kib, 'ns'):>9}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def render_footer(report: Report) -> str:
    info = report.info
    text = render_targets(report) + (
        f"\n{info['seconds']} s; load average {info['load_average_end']} at end "
        "(medians move with other work on the machine: compare ratios within one run)\n"
    )
    for failure in report.failed:
        text += f"FAILED {failure}\n"
    return text


def render_table(report: Report) -> str:
    return (
        render_header(report)
        + "".join(render_group(group) for group in report.groups)
        + render_footer(report)
    )


def render_json(report: Report) -> str:
    found = [{**asdict(target), "met": target.met} for target in targets(report)]
    return json.dumps(
        {**report.info, "groups": [asdict(group) for group in report.groups], "targets": found},
        indent=2,
    )


def command(
    out: TextIO,
    *,
    quick: bool = False,
    rounds: int | None = None,
    groups: Sequence[str] = (),
    as_json: bool = False,
    plot_path: str | None = None,
) -> int:
    """``hemproto bench``: measure, print a table (as each group ends) or JSON, plot.

    Returns 0, or 1 when an entry gave a wrong answer. Raises BenchUsageError for a bad
    request, before measuring anything.
    """
    settings = QUICK if quick else Settings()
    if rounds is not None:
        if rounds < 1:
            raise BenchUsageError("--rounds must be at least 1")
        settings = replace(settings, rounds=rounds)
    settings = replace(settings, groups=tuple(groups))
    _selected(group_names(), settings.groups)
    if plot_path is not None:
        if not plot_available():
            raise BenchUsageError("--plot needs matplotlib: install hemproto[plot]")
        # Found out now rather than after a full run.
        folder = os.path.dirname(os.path.abspath(plot_path))
        if not os.path.isdir(folder):
            raise BenchUsageError(f"cannot write {plot_path!r}: no directory {folder!r}")

    def show(report: Report, group: GroupResult) -> None:
        if not report.groups[:-1]:
            out.write(render_header(report))
        out.write(render_group(group))
        out.flush()

    report = run(settings, on_group=None if as_json else show)
    if plot_path is not None:
        plot(report, plot_path)
        report.info["plot"] = plot_path
    if as_json:
        out.write(render_json(report) + "\n")
    else:
        if not report.groups:
            out.write(render_header(report))
        out.write(render_footer(report))
        if plot_path is not None:
            out.write(f"plot written to {plot_path}\n")
    return 1 if report.failed else 0


# --- plotting ------------------------------------------------------------------------------

_COLOURS = {"hemproto": "#1f77b4", "peer": "#ff7f0e", "floor": "#8c8c8c"}


def plot_available() -> bool:
    try:
        importlib.import_module("matplotlib")
    except ImportError:
        return False
    return True


def plot(report: Report, path: str | os.PathLike[str]) -> None:
    """Bar chart of each group's ratios, log scale, baseline at 1; written as PNG."""
    try:
        # The object-oriented API without pyplot: no display, no global figure state.
        figure_module = importlib.import_module("matplotlib.figure")
        patches = importlib.import_module("matplotlib.patches")
    except ImportError:
        raise BenchUsageError("--plot needs matplotlib: install hemproto[plot]") from None
    groups = [group for group in report.groups if group.entries]
    columns = 2
    rows = [groups[i : i + columns] for i in range(0, len(groups), columns)]
    heights = [max(len(group.entries) for group in row) + 1.2 for row in rows]
    figure = figure_module.Figure(figsize=(15, 0.36 * sum(heights) + 1.0), layout="constrained")
    grid = figure.add_gridspec(len(rows), columns, height_ratios=heights)
    for row_number, row in enumerate(rows):
        for column, group in enumerate(row):
            _plot_group(figure.add_subplot(grid[row_number, column]), group)
    kinds = (("hemproto", "hemproto"), ("peer", "other library"), ("floor", "floor (X25519 only)"))
    figure.legend(
        handles=[patches.Patch(color=_COLOURS[kind], label=label) for kind, label in kinds],
        loc="outside lower center",
        ncols=3,
        fontsize=9,
    )
    info = report.info
    figure.suptitle(
        f"hemproto {info['hemproto']} bench: ratio to the hemproto baseline (lower is better), "
        f"log scale; {info['machine']['cpu']}, {info['machine']['python']}, {info['date']}",
        fontsize=11,
    )
    try:
        figure.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise BenchUsageError(f"cannot write {os.fspath(path)!r}: {exc.strerror}") from None


def _plot_group(axes: Any, group: GroupResult) -> None:
    entries = list(reversed(group.entries))  # barh draws bottom-up; keep the table's order
    positions = range(len(entries))
    ratios = [entry.ratio if entry.ratio else math.nan for entry in entries]
    axes.barh(
        list(positions), ratios, color=[_COLOURS.get(entry.kind, "#444444") for entry in entries]
    )
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8)
    labels = []
    for position, entry in zip(positions, entries, strict=True):
        labels.append(entry.entry + ("" if entry.status == "ok" else f" ({entry.status})"))
        if entry.ratio and entry.median is not None:
            axes.annotate(
                f" x{entry.ratio:.2f}  {_format_value(entry.median, group.unit)}",
                (entry.ratio, position),
                va="center",
                fontsize=8,
            )
    axes.set_yticks(list(positions), labels, fontsize=8)
    finite = [ratio for ratio in ratios if not math.isnan(ratio)]
    if finite:
        # Room on the right for the annotations, on a log axis.
        low, high = min(min(finite), 1.0) / 1.5, max(max(finite), 1.0) * 6
        axes.set_xlim(low, high)
        # Plain "x2" labels at 1-2-5 steps: the default log labels (2x10^0...) collide.
        ticks = [
            step * 10.0**exponent
            for exponent in range(-3, 4)
            for step in (1, 2, 5)
            if low <= step * 10.0**exponent <= high
        ]
        axes.minorticks_off()
        axes.set_xticks(ticks, [f"x{tick:g}" for tick in ticks])
    axes.set_title(f"{group.group} ({'peak bytes' if group.unit == 'B' else 'time'})", fontsize=9)
    axes.tick_params(axis="x", labelsize=8)
