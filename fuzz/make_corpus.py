"""Write the seed corpus under fuzz/corpus/ (run it again after changing a seed below).

    python fuzz/make_corpus.py               # every target
    python fuzz/make_corpus.py check mac     # only these targets' seeds

Seeds are tiny and named for what they are: valid encodings at every length mod 4, the
vendor's sample token, and near-misses one edit away from valid (a bad character, a wrong
length, excess or misplaced '=', non-zero unused bits, a fourth segment...), so that a
short run starts right at each refusal path. The check target's seeds are device check
tokens in the exact shape (with and without "uis", under both headers) and tokens one edit
outside it; the mac target's are key-length byte, key, message, at the lengths where
SHA-256's padding and HMAC's key handling change; the json target's are one text per
verdict of csrc/hemjson.h. The CBOR seeds for the Python target need hemproto installed
(they are made with to_cbor); the others need only the standard library. Existing files
are overwritten, others (minimised findings added by hand) are left alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The claim table is read the way the C core's header is made from it (csrc/gen_shape.py),
# without an installed hemproto.
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "csrc"))
from gen_shape import load_schema  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")

# The sample check token the vendor published (header, claims, HS256 signature).
SAMPLE = (
    "eyJlY2RoIjoieDI1NTE5IiwidHlwIjoiSldUIiwiYWxnIjoiSFMyNTYifQ."
    "eyJqdGkiOiJrSUEzWXJDQWJpMXZDVTFoOHlwbjJLdHMxUVNET1FVS05zYVVJZ1dvU3IwPSIsImlzcyI6IjBrUm1DbGlV"
    "UXZSd2Z4aTdUMWVrMkd0YlNFUnpNRlJHTGV5TzFyMXRFWG89IiwicWlkIjoiZTZQQXZDWnJtTWMwZlVUMEt6bUw3STNU"
    "SXo2UUZBNEpCallzbEU5ZisvQT0iLCJhdWQiOiIvTGJ4bzVNZ1U2Wk90VnN4eEc1akNRNSs0ZXd4b2ExclY4ZXFNSUZG"
    "blRBPSIsImZ3cyI6Ilora0FhamdWVmRTTVFqTkl2SzVGR3owKzlyZi9KdXRWQ2xOWTZTN0dCZVE3NjVOTVlFVC9YZ2RB"
    "NjFjbU1rMTV3YXcwOG9OTHVXbVV5Z0hLM3hXRkNBPT0iLCJibHMiOiI4TXdvd3NLa3hnRVdubDJrMHQvZU92c2pUYlI3"
    "MHBvWUMyY3p5UEl3S24vaFZMNjhXRjNRYVF3WjFieFZjWXY3ZzhXRXd5ekoyUFZuVEZBbFlRN2hCZz09IiwidWlzIjoi"
    "NkdoMmNDcVNKMEdVTFFLRTFEaWJvWTFPc0M4ck01KzF4UFpjbENuaHRybz0iLCJjc24iOiJLZnNhS0t2Tmw0THZQaWds"
    "MEdtR0JnPT0ifQ.dn2cwBODoUKkGKrr92IW13NgVg7j-h6VGO-tnADqins"
)
HEADER, PAYLOAD, SIGNATURE = SAMPLE.split(".")

# Byte strings whose encodings cover every length mod 3 and both extreme bit patterns.
RAW = {
    "empty": b"",
    "1-zero": b"\x00",
    "1-ff": b"\xff",
    "2-ab": b"ab",
    "2-fbff": b"\xfb\xff",
    "3-abc": b"abc",
    "3-fbefbe": b"\xfb\xef\xbe",
    "4-abcd": b"abcd",
    "5-hello": b"hello",
    "48-all": bytes(range(0, 256, 16)) + bytes(range(255, 0, -8)),
}


def url(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def std(raw: bytes) -> bytes:
    return base64.b64encode(raw)


def bump_last(text: bytes, alphabet: bytes) -> bytes:
    """The same text with the last character one step on: sets an unused bit when the
    length leaves some (a near-miss for the trailing-bits rule)."""
    if not text:
        return text
    return text[:-1] + bytes([alphabet[(alphabet.index(text[-1]) + 1) % 64]])


URL_ABC = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
STD_ABC = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64url_seeds() -> dict[str, bytes]:
    seeds = {f"ok-{name}": url(raw) for name, raw in RAW.items()}
    seeds.update(
        {
            "ok-alphabet": URL_ABC,
            "ok-header": HEADER.encode(),
            "ok-signature": SIGNATURE.encode(),
            "bad-trailing-2": bump_last(url(b"\x00"), URL_ABC),
            "bad-trailing-3": bump_last(url(b"ab"), URL_ABC),
            "bad-length-1": b"Q",
            "bad-length-5": b"QUJDR",
            "bad-padded": std(b"\x00"),
            "bad-std-chars": b"+/+/",
            "bad-dot": b"QU.D",
            "bad-space": b"QUJD ",
            "bad-newline": b"QUJD\n",
            "bad-nul": b"QU\x00D",
            "bad-utf8": b"QU\xc3\xa9",
            "bad-high": b"\xff\xfe",
            "bad-char-then-length": b"Q!JDR",
        }
    )
    return seeds


def b64_seeds() -> dict[str, bytes]:
    seeds = {f"ok-{name}": std(raw) for name, raw in RAW.items()}
    seeds.update(
        {
            "ok-alphabet": STD_ABC,
            "ok-claim": b"kIA3YrCAbi1vCU1h8ypn2Kts1QSDOQUKNsaUIgWoSr0=",
            "ok-claim-pad2": b"KfsaKKvNl4LvPigl0GmGBg==",
            "bad-trailing-pad1": bump_last(b"YWI", STD_ABC) + b"=",
            "bad-trailing-pad2": b"AB==",
            "bad-unpadded": b"YWI",
            "bad-pad3": b"A===",
            "bad-pad4": b"====",
            "bad-pad5": b"QQ=====",
            "bad-lone-pad": b"=",
            "bad-pad-inside": b"QQ==QQ==",
            "bad-pad-middle": b"Q=Q=",
            "bad-url-chars": b"-_-_",
            "bad-newline": b"QUJD\n",
            "bad-space-pad": b"QQ= =",
            "bad-length-5": b"QUJDR",
            "bad-utf8": b"QUI\xc3\xa9",
            "bad-nul": b"\x00===",
        }
    )
    return seeds


def token_seeds() -> dict[str, bytes]:
    sample = SAMPLE.encode()
    return {
        "ok-sample": sample,
        "ok-minimal": b"QQ.QQ.QQ",
        "ok-groups": b"QUJD.QUJDRA.QUJDREU",
        "bad-empty": b"",
        "bad-dot": b".",
        "bad-two-dots": b"..",
        "bad-one-dot": b"QQ.QQ",
        "bad-empty-header": b".QQ.QQ",
        "bad-empty-payload": b"QQ..QQ",
        "bad-empty-signature": b"QQ.QQ.",
        "bad-four-segments": b"QQ.QQ.QQ.QQ",
        "bad-four-empty": b"QQ.QQ.QQ.",
        "bad-length": b"Q.QQ.QQ",
        "bad-trailing": b"QR.QQ.QQ",
        "bad-padded-signature": sample + b"=",
        "bad-std-signature": sample.replace(b"-", b"+"),
        "bad-newline": sample + b"\n",
        "bad-space": b"QQ. QQ.QQ",
        "bad-char-before-dot": b"QQ.QQ.Q!.QQ",
        "bad-utf8": b"QQ.Q\xc3\xa9.QQ",
        "bad-last-char": SAMPLE[:-1].encode() + b"t",
    }


# The device check's exact shape (csrc/hemcheck.h), from the claim table: one of the header
# texts, then the claims in table order with their decoded sizes, "uis" optional, each
# canonical standard base64.
SCHEMA = load_schema()
CHECK_HEADERS = tuple(text.encode("ascii") for text in SCHEMA.HEADER_TEXTS)
CHECK_CLAIMS = tuple((spec.name, spec.size) for spec in SCHEMA.CHECK_CLAIMS)
CHECK_MAC_KEY = bytes(range(100, 132))


def check_fields(tag: str, with_uis: bool = True) -> dict[str, bytes]:
    """Claim values for one seed: bytes that differ per tag and claim, fixed between runs."""
    return {
        name: hashlib.shake_256(f"{tag}/{name}".encode()).digest(size)
        for name, size in CHECK_CLAIMS
        if with_uis or name != "uis"
    }


def check_json(fields: dict[str, bytes], order: tuple[str, ...] | None = None) -> bytes:
    """The compact payload JSON of the shape (or with the claims in another order)."""
    names = order or tuple(name for name, _ in CHECK_CLAIMS)
    members = (f'"{name}":"{std(fields[name]).decode()}"' for name in names if name in fields)
    return ("{" + ",".join(members) + "}").encode()


def check_token(payload: bytes, header: bytes = CHECK_HEADERS[0]) -> bytes:
    """header.payload.signature, MACed with a fixed key (the scanner checks no MAC)."""
    signing_input = url(header) + b"." + url(payload)
    mac = hmac.new(CHECK_MAC_KEY, signing_input, hashlib.sha256).digest()
    return signing_input + b"." + url(mac)


def bump_before_pad(text: str) -> str:
    """Standard base64 with its last data character one step on (sets unused bits)."""
    body = text.rstrip("=")
    return bump_last(body.encode(), STD_ABC).decode() + text[len(body) :]


def check_seeds() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {"ok-sample": SAMPLE.encode()}
    for with_uis in (True, False):
        for index, header in enumerate(CHECK_HEADERS):
            name = f"ok-{'uis' if with_uis else 'no-uis'}-header{index}"
            seeds[name] = check_token(check_json(check_fields(name, with_uis)), header)
    # Extreme bytes: all-zero and all-one values, and '+' '/' in every long claim.
    extreme = {name: bytes(size) for name, size in CHECK_CLAIMS}
    extreme["aud"] = b"\xff" * 32
    extreme["fws"] = b"\xfb\xef\xbe" * 21 + b"\xff"
    extreme["bls"] = b"\xff" * 64
    extreme["csn"] = b"\xff" * 16
    seeds["ok-extreme-bytes"] = check_token(check_json(extreme), CHECK_HEADERS[1])

    fields = check_fields("near")
    good = check_json(fields)
    token = check_token(good)
    same = dict(fields, aud=fields["iss"])
    seeds["bad-iss-is-aud"] = check_token(check_json(same))
    for claim in ("jti", "fws", "csn"):
        value = std(fields[claim]).decode()
        bumped = good.replace(value.encode(), bump_before_pad(value).encode())
        seeds[f"bad-{claim}-trailing-bits"] = check_token(bumped)
    seeds["bad-signature-trailing-bits"] = bump_last(token, URL_ABC)
    order = ("iss", "jti", "qid", "aud", "fws", "bls", "uis", "csn")
    seeds["bad-claim-order"] = check_token(check_json(fields, order))
    uis_last = ("jti", "iss", "qid", "aud", "fws", "bls", "csn", "uis")
    seeds["bad-uis-after-csn"] = check_token(check_json(fields, uis_last))
    seeds["bad-claim-name"] = check_token(good.replace(b'"qid"', b'"qix"'))
    seeds["bad-space-after-colon"] = check_token(good.replace(b'"jti":', b'"jti": ', 1))
    escaped = check_json(extreme).replace(b"/", b"\\/")
    seeds["bad-escaped-slash"] = check_token(escaped)
    seeds["bad-url-alphabet-claim"] = check_token(check_json(extreme).replace(b"+", b"-"))
    csn = std(fields["csn"])
    seeds["bad-unpadded-claim"] = check_token(good.replace(csn, csn.rstrip(b"=")))
    seeds["bad-extra-claim"] = check_token(good[:-1] + b',"iat":1}')
    without_csn = {name: value for name, value in fields.items() if name != "csn"}
    seeds["bad-missing-csn"] = check_token(check_json(without_csn))
    uis_member = b'"uis":"' + std(fields["uis"]) + b'"'
    seeds["bad-uis-null"] = check_token(good.replace(uis_member, b'"uis":null'))
    seeds["bad-other-header"] = check_token(good, b'{"alg":"HS256","ecdh":"x25519"}')
    seeds["bad-header-space"] = check_token(good, CHECK_HEADERS[0].replace(b",", b", "))
    seeds["bad-short-signature"] = token[: token.rindex(b".") + 1] + url(bytes(31))
    seeds["bad-four-segments"] = token + b".QQ"
    seeds["bad-truncated"] = token[:-1]
    seeds["bad-newline"] = token + b"\n"
    return seeds


def mac_seeds() -> dict[str, bytes]:
    """Key-length byte, key, message (see fuzz/c/fuzz_mac.c)."""

    def entry(key: bytes, message: bytes) -> bytes:
        return bytes([len(key)]) + key + message

    key32 = bytes(range(32))
    seeds = {
        "empty": b"",
        "no-key-no-message": b"\x00",
        # RFC 4231 test cases 1, 2 and 6 (a key longer than the block is hashed first).
        "rfc4231-1": entry(b"\x0b" * 20, b"Hi There"),
        "rfc4231-2": entry(b"Jefe", b"what do ya want for nothing?"),
        "rfc4231-6": entry(
            b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"
        ),
        "key-64": entry(bytes(range(64)), b"abc"),
        "key-65": entry(bytes(range(65)), b"abc"),
        "key-255": entry(bytes(255), bytes(range(256))),
        "key-longer-than-input": b"\xff" + b"abc",
        "check-signing-input": entry(key32, SAMPLE[: SAMPLE.rindex(".")].encode()),
    }
    # Messages around the lengths where SHA-256 pads into a second block (55 / 56 mod 64)
    # and around whole blocks.
    for length in (55, 56, 63, 64, 65, 119, 120, 128, 1000):
        seeds[f"key32-message-{length}"] = entry(key32, bytes(i % 251 for i in range(length)))
    return seeds


def python_seeds() -> dict[str, bytes]:
    seeds: dict[str, bytes] = {}
    for name, value in token_seeds().items():
        if name in (
            "ok-sample",
            "bad-four-segments",
            "bad-padded-signature",
            "bad-utf8",
            "bad-empty-payload",
        ):
            seeds[f"token-{name}"] = value
    for name in ("ok-header", "bad-trailing-3", "bad-utf8"):
        seeds[f"b64url-{name}"] = b64url_seeds()[name]
    for name in ("ok-claim-pad2", "bad-pad3", "bad-trailing-pad2"):
        seeds[f"b64-{name}"] = b64_seeds()[name]
    try:
        from hemproto import sign_ejwt, to_cbor
        from hemproto.cbor import FORM_VERBATIM
    except ImportError:
        print("make_corpus: hemproto not importable, skipping the CBOR seeds", file=sys.stderr)
        return seeds
    import cbor2

    key = bytes(range(32))
    # Claim values that reach the JSON and CBOR claim rules: base64 text travelling as
    # bytes, nesting, floats, escapes, a name that is not a known claim.
    odd = sign_ejwt(
        {"jti": "AAAA", "iat": 1700000000, "x": [1.5, None, True, {"y": "\u00e9\\"}]}, key
    )
    seeds["token-signed-odd"] = odd.encode()
    seeds["cbor-sample-compact"] = to_cbor(SAMPLE)
    seeds["cbor-odd"] = to_cbor(odd)
    _, payload, signature = SAMPLE.split(".")
    verbatim = cbor2.dumps(
        [
            FORM_VERBATIM,
            0,
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)),
            base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
        ],
        canonical=True,
    )
    seeds["cbor-sample-verbatim"] = verbatim
    compact = seeds["cbor-sample-compact"]
    seeds["cbor-bad-truncated"] = compact[:-1]
    seeds["cbor-bad-trailing-byte"] = compact + b"\x00"
    seeds["cbor-bad-indefinite"] = b"\x9f" + compact[1:] + b"\xff"
    seeds["cbor-bad-tag"] = b"\xc0" + compact
    seeds["cbor-bad-form"] = b"\x84\x02" + compact[2:]
    return seeds


def json_seeds() -> dict[str, bytes]:
    """One text per verdict of csrc/hemjson.h, and a few that sit on a boundary."""
    many = b",".join(b'"n%d":%d' % (number, number) for number in range(40))
    return {
        "ok-object": b'{"a":[1,-2.5e-3,true,false,null,"x\\u00e9",{}],"b":{"a":0}}',
        "ok-sixteen-deep": b"[" * 16 + b"]" * 16,
        "ok-many-members": b"{" + many + b"}",
        # Past the members an outline locates (csrc/hemjson.h): counted, not located.
        "ok-past-the-outline": b"{" + b",".join(b'"m%d":[%d]' % (n, n) for n in range(80)) + b"}",
        "ok-body": b'{"check":"eyJhIjoxfQ.e30.c2ln"}',
        "ok-pair": b'["\\ud83d\\ude00","\xf0\x9f\x98\x80"]',
        "ok-dbl-max": b"[1.7976931348623157e308,9007199254740991]",
        "flag-noncharacter": b'["\xef\xbf\xbe"]',
        "flag-lone-surrogate": b'["\\ud800"]',
        "bad-utf8": b'["\xc0\x80"]',
        "bad-depth": b"[" * 17 + b"]" * 17,
        "bad-syntax": b'{"a":1,}',
        "bad-integer": b"[9007199254740992]",
        "bad-number": b"[1.7976931348623159e308]",
        "bad-constant": b"[NaN]",
        "bad-duplicate": b'{"a":1,"\\u0061":2}',
        "bad-duplicate-many": b"{" + many + b',"n7":1}',
    }


def reply_seeds() -> dict[str, bytes]:
    """Fields of one reply as fuzz/c/fuzz_reply.c reads them: flags (crt, newfws, newuis,
    action), modes (action from the input, iat kept in range, header), the action's bytes
    when taken from the input, iat, the header's bytes when taken from the input, the
    certificate length, key jti iss aud newfws newuis, the certificate; the rest is the
    check text."""

    def entry(
        flags: int,
        modes: int,
        iat: int,
        crt_len: int,
        *,
        reflected: bool = False,
        act: bytes = b"",
        header: bytes = b"",
    ) -> bytes:
        iss = bytes(range(64, 96))
        ids = bytes(range(64)) + iss + (iss if reflected else bytes(range(96, 128)))
        fields = ids + bytes(range(128, 224)) + bytes(i % 251 for i in range(crt_len))
        head = bytes([flags, modes]) + act + iat.to_bytes(8, "big") + header
        return head + crt_len.to_bytes(2, "big") + fields + b"eyJhIjoxfQ.e30"

    now = 1_764_000_000
    from_input = 0x02 | 2 << 3
    return {
        "ok-minimal": entry(0x00, 0x02, now, 0),
        "ok-every-claim": entry(0x07 | 3 << 3, 0x02, now, 256),
        "ok-largest-certificate": entry(0x01, 0x02, 2**53 - 1, 3072),
        "ok-short-iat": entry(0x06 | 5 << 3, 0x06, 7, 0),
        "ok-longest-header": entry(0x07, 0x02 | 3 << 3, now, 100),
        "ok-header-from-input": entry(0x00, from_input, now, 0, header=b"\x03\x1e\x37\x34"),
        "bad-header-from-input": entry(0x00, from_input | 0x80, now, 0, header=b"\x02.="),
        "bad-reflected": entry(0x00, 0x02, now, 0, reflected=True),
        "bad-act-lower-case": entry(6 << 3, 0x02, now, 0),
        "bad-act-from-input": entry(0x00, 0x03, now, 0, act=b"\x02Ok"),
        "bad-iat": entry(0x00, 0x00, 2**64 - 1, 0),
        "bad-certificate-too-long": entry(0x01, 0x02, now, 3073),
        "bad-empty-certificate": entry(0x01, 0x02, now, 0),
        "bad-header-too-long": entry(0x00, 0x02 | 3 << 3 | 1 << 5, now, 0),
    }


def write(target: str, seeds: dict[str, bytes]) -> None:
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as handle:
            handle.write(data)


TARGETS = {
    "b64url": b64url_seeds,
    "b64": b64_seeds,
    "token": token_seeds,
    "check": check_seeds,
    "mac": mac_seeds,
    "json": json_seeds,
    "reply": reply_seeds,
    "python": python_seeds,
}


def main() -> None:
    wanted = sys.argv[1:] or list(TARGETS)
    unknown = [name for name in wanted if name not in TARGETS]
    if unknown:
        sys.exit(f"make_corpus: unknown target(s) {unknown}; known: {list(TARGETS)}")
    for name in wanted:
        write(name, TARGETS[name]())


if __name__ == "__main__":
    main()
