"""The fixed inputs every entry measures, and the answers each must give.

Owns the throwaway keys, the claim bytes, the check token and its forgery, the scale
tokens and the fresh checks of the backend entries. It times nothing, and holds no secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections.abc import Callable
from functools import cached_property
from typing import Literal

from hemproto import (
    KeyPair,
    MalformedToken,
    Release,
    ReleaseRegistry,
    sign_check,
    sign_ejwt,
)
from hemproto.schema import CHECK_SIZES

__all__ = [
    "BACKEND_PRIVATE",
    "DEVICE_PRIVATE",
    "OTHER_MAC_KEY",
    "SCALE_TARGETS",
    "Corpus",
    "b64",
    "b64url",
    "check_body",
    "fixed_bytes",
    "forge",
    "shared_corpus",
]

# Fixed keys, so that every run measures the same tokens. Never use these anywhere real.
BACKEND_PRIVATE = bytes(range(32))
DEVICE_PRIVATE = bytes(range(100, 132))
OTHER_MAC_KEY = bytes(range(200, 232))

# Token lengths of the scale group, in characters: 1, 2, 4 and 8 KiB. The largest is capped
# by hemproto's 8192-character limit; the exact lengths reached are in the entry labels.
SCALE_TARGETS = (1024, 2048, 4096, 8192)


def fixed_bytes(label: str, size: int) -> bytes:
    """Deterministic, non-trivial bytes for a claim or an input (not secret, not random)."""
    return hashlib.shake_256(f"hemproto-bench:{label}".encode()).digest(size)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def forge(token: str) -> str:
    """The same header and payload with a MAC made by another key: must be refused."""
    signing_input = token.rsplit(".", 1)[0]
    mac = hmac.digest(OTHER_MAC_KEY, signing_input.encode("ascii"), "sha256")
    return f"{signing_input}.{b64url(mac)}"


def check_body(token: str) -> bytes:
    """A device's request body around ``token``, byte for byte as devices send it."""
    return b'{"check":"' + token.encode("ascii") + b'"}'


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
            "jti": fixed_bytes("jti", CHECK_SIZES["jti"]),
            "iss": self.device.public,
            "qid": fixed_bytes("qid", CHECK_SIZES["qid"]),
            "aud": self.backend.public,
            "fws": fixed_bytes("fws", CHECK_SIZES["fws"]),
            "bls": fixed_bytes("bls", CHECK_SIZES["bls"]),
            "uis": fixed_bytes("uis", CHECK_SIZES["uis"]),
            "csn": fixed_bytes("csn", CHECK_SIZES["csn"]),
        }
        self.claims: dict[str, str] = {name: b64(value) for name, value in self.fields.items()}
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
        self.forged = forge(self.token)
        self._texts: dict[tuple[str, int], tuple[str, bytes]] = {}
        # The worst-case group's hostile inputs, made on first use (worst.worst_inputs).
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
            text = b64url(data)
        else:
            data = fixed_bytes(f"b64:{length}", length // 4 * 3 - 1)
            text = b64(data)
        if len(text) != length:
            raise ValueError(f"no canonical {alphabet} text of {length} characters")
        self._texts[(alphabet, length)] = (text, data)
        return text, data

    @cached_property
    def scale_tokens(self) -> dict[int, tuple[str, dict[str, str]]]:
        """Check-like tokens grown to each SCALE_TARGETS length with a ``pad`` claim."""
        filler = b64(fixed_bytes("scale", 6144))
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
                Release(
                    "firmware", fixed_bytes("fws-old", CHECK_SIZES["fws"]), "2.0.3", "outdated"
                ),
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
                jti = b64(hashlib.sha256(b"hemproto-bench:jti:%d" % number).digest())
                claims["jti"] = jti
                issued.add(jti)
                tokens.append(sign_ejwt(claims, self.mac_key))
            return tokens

        return fresh, issued


_CORPUS: list[Corpus] = []


def shared_corpus() -> Corpus:
    """The one corpus of this process: the scale labels need the real token lengths, and
    building the tokens twice would only cost time."""
    if not _CORPUS:
        _CORPUS.append(Corpus())
    return _CORPUS[0]
