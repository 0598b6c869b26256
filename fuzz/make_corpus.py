"""Write the seed corpus under fuzz/corpus/ (run it again after changing a seed below).

    python fuzz/make_corpus.py

Seeds are tiny and named for what they are: valid encodings at every length mod 4, the
vendor's sample token, and near-misses one edit away from valid (a bad character, a wrong
length, excess or misplaced '=', non-zero unused bits, a fourth segment...), so that a
short run starts right at each refusal path. The CBOR seeds for the Python target need
hemproto installed (they are made with to_cbor). Existing files are overwritten, others
(minimised findings added by hand) are left alone.
"""

from __future__ import annotations

import base64
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
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


def write(target: str, seeds: dict[str, bytes]) -> None:
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name), "wb") as handle:
            handle.write(data)


def main() -> None:
    write("b64url", b64url_seeds())
    write("b64", b64_seeds())
    write("token", token_seeds())
    write("python", python_seeds())


if __name__ == "__main__":
    main()
