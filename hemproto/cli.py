"""The ``hemproto`` command line: inspect, verify, keygen, demo.

It turns arguments and files into library calls and results into text. Usage errors and
bad input end in a one-line message and a non-zero exit, never a traceback, and no
command prints a private key or shared secret.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from ._codec import b64_decode, b64_encode, codec_backend
from .claims import CHECK_CLAIMS, sign_check, unwrap_body, verify_check
from .errors import HemProtoError
from .jws import decode_ejwt
from .x25519 import KeyPair

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
_MEANINGS = {spec.name: spec.meaning for spec in CHECK_CLAIMS}


class UsageError(Exception):
    """A command-line mistake: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _read_token(argument: str | None, stdin: TextIO) -> str:
    text = stdin.read() if argument in (None, "-") else argument
    assert text is not None
    text = text.strip()
    if not text:
        raise UsageError("no token given (pass it as an argument or on standard input)")
    return text


def _read_key(path: str) -> KeyPair:
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read key file {path!r}: {type(exc).__name__}") from None
    try:
        return KeyPair(b64_decode(text))
    except HemProtoError:
        raise UsageError(
            f"key file {path!r} must hold one 32-byte key in standard base64"
        ) from None


def _describe(token_or_body: str) -> dict[str, Any]:
    member = "checked" if '"checked"' in token_or_body[:40] else "check"
    decoded = decode_ejwt(unwrap_body(token_or_body, member))
    described: dict[str, Any] = {}
    for name, value in decoded.claims.items():
        entry: dict[str, Any] = {"value": value}
        if isinstance(value, str):
            try:
                raw = b64_decode(value)
            except HemProtoError:
                pass
            else:
                entry.update(size=len(raw), hex=raw.hex())
        if name in _MEANINGS:
            entry["meaning"] = _MEANINGS[name]
        described[name] = entry
    kind = "check" if "qid" in decoded.claims else "unknown"
    return {"kind": kind, "header": decoded.header, "claims": described}


def _print_description(description: dict[str, Any], out: TextIO) -> None:
    out.write(f"kind: {description['kind']}\n")
    out.write(f"header: {json.dumps(description['header'])}\n")
    for name, entry in description["claims"].items():
        if "hex" in entry:
            detail = f"{entry['size']} bytes  {entry['hex']}"
        else:
            detail = repr(entry["value"])
        out.write(f"  {name:<4} {detail}\n")
        if "meaning" in entry:
            out.write(f"       {entry['meaning']}\n")


def cmd_inspect(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    description = _describe(_read_token(args.token, stdin))
    if args.json:
        out.write(json.dumps(description, indent=2) + "\n")
    else:
        _print_description(description, out)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    key = _read_key(args.key)
    token = _read_token(args.token, stdin)
    try:
        challenge = verify_check(token, key)
    except HemProtoError as exc:
        out.write(f"invalid: {type(exc).__name__}: {exc}\n")
        return EXIT_INVALID
    out.write(f"valid check from device {challenge.qid.hex()} (nonce {challenge.jti.hex()})\n")
    return EXIT_OK


def cmd_keygen(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    path = Path(args.out)
    pair = KeyPair.generate()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    if args.force:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} exists (use --force to overwrite)") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(b64_encode(pair.private_bytes()) + "\n")
    public_path = path.with_name(path.name + ".pub")
    public_path.write_text(b64_encode(pair.public) + "\n", encoding="ascii")
    out.write(f"private key: {path} (mode 0600)\npublic key:  {public_path}\n")
    out.write(f"public key (base64): {b64_encode(pair.public)}\n")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    backend = KeyPair.generate()
    device = KeyPair.generate()
    out.write(f"hemproto {__version__} (codec backend: {codec_backend()})\n")
    out.write(f"backend public key: {backend.public.hex()}\n")
    out.write(f"device session key: {device.public.hex()}\n\n")
    token = sign_check(
        device,
        backend.public,
        qid=os.urandom(32),
        fws=os.urandom(64),
        bls=os.urandom(64),
        uis=os.urandom(32),
        csn=os.urandom(16),
    )
    out.write("1. device -> GET /api/system/checkin\n")
    out.write(json.dumps({"check": token}) + "\n\n")
    _print_description(_describe(token), out)
    challenge = verify_check({"check": token}, backend)
    out.write("\n2. backend verifies the check: MAC keyed by X25519(backend, iss) is valid\n")
    out.write(f"   device {challenge.qid.hex()} nonce {challenge.jti.hex()}\n")
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BA")
    try:
        verify_check(tampered, backend)
    except HemProtoError as exc:
        out.write(f"   a tampered copy is refused: {type(exc).__name__}: {exc}\n")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hemproto", description="Encedo HEM check-in protocol tools")
    parser.add_argument("--version", action="version", version=f"hemproto {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    inspect = commands.add_parser("inspect", help="show the header and claims of a token")
    inspect.add_argument("token", nargs="?", help="the token, a body, or - for standard input")
    inspect.add_argument("--json", action="store_true", help="machine-readable output")
    inspect.set_defaults(run=cmd_inspect)

    verify = commands.add_parser("verify", help="verify a check with a backend private key")
    verify.add_argument("token", nargs="?", help="the token, a body, or - for standard input")
    verify.add_argument("--key", required=True, help="backend private key file (base64)")
    verify.set_defaults(run=cmd_verify)

    keygen = commands.add_parser("keygen", help="make a backend X25519 key pair")
    keygen.add_argument("--out", default="backend.key", help="private key file (mode 0600)")
    keygen.add_argument("--force", action="store_true", help="overwrite an existing file")
    keygen.set_defaults(run=cmd_keygen)

    demo = commands.add_parser("demo", help="an emulated check: device signs, backend verifies")
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    out, err = sys.stdout, sys.stderr
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args, out, sys.stdin))
    except UsageError as exc:
        err.write(f"hemproto: {exc}\n")
        return EXIT_USAGE
    except HemProtoError as exc:
        err.write(f"hemproto: {type(exc).__name__}: {exc}\n")
        return EXIT_INVALID
    except TypeError as exc:
        err.write(f"hemproto: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
