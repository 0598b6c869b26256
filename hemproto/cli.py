"""The ``hemproto`` command line: inspect, verify, keygen, demo, cbor.

It turns arguments and files into library calls and results into text. Usage errors and
bad input end in a one-line message and a non-zero exit, never a traceback, and no
command prints a private key or shared secret.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from ._codec import b64_decode, b64_encode, codec_backend
from .backend import Backend
from .cbor import from_cbor, to_cbor
from .claims import (
    ACTION_MEANINGS,
    CHECK_CLAIMS,
    CHECKED_CLAIMS,
    MAX_BODY_LENGTH,
    CheckChallenge,
    CheckedReply,
    parse_check,
    request_object,
    unwrap_body,
    verify_check,
)
from .device import DeviceEmulator
from .errors import ClaimError, HemProtoError, MalformedToken
from .jws import decode_ejwt
from .relay import relay_checkin
from .releases import Release, ReleaseRegistry
from .x25519 import KeyPair

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


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


_CHECK_MEANINGS = {spec.name: spec.meaning for spec in CHECK_CLAIMS}
_CHECKED_MEANINGS = {spec.name: spec.meaning for spec in CHECKED_CLAIMS}
_CHECKED_MEANINGS["iat"] = "trusted unix time for the device's RTC"
_CHECKED_MEANINGS["act"] = "action the device is to run"


def _token_of(text: str) -> tuple[str, str | None]:
    """The token in ``text`` (a token or a request body), and the body member it came in."""
    if not text.startswith("{"):
        return text, None
    body = request_object(text, MAX_BODY_LENGTH)
    for member in ("check", "checked"):
        if member in body:
            token = unwrap_body(body, member)
            assert isinstance(token, str)
            return token, member
    raise MalformedToken('body has neither a "check" nor a "checked" member')


def _describe(text: str) -> dict[str, Any]:
    token, member = _token_of(text)
    decoded = decode_ejwt(token)
    kind, problem, meanings = "unknown", None, {}
    parsers: tuple[tuple[str, Any, dict[str, str]], ...] = (
        ("check", CheckChallenge.from_decoded, _CHECK_MEANINGS),
        ("checked", CheckedReply.from_decoded, _CHECKED_MEANINGS),
    )
    if member is not None:  # the envelope says which one it must be
        parsers = tuple(entry for entry in parsers if entry[0] == member)
    for name, parse, names in parsers:
        try:
            parse(decoded)
        except ClaimError as exc:
            problem = problem or f"not a valid {name}: {exc}"
            continue
        kind, problem, meanings = name, None, names
        break
    described: dict[str, Any] = {}
    for name, value in decoded.claims.items():
        entry: dict[str, Any] = {"value": value}
        if isinstance(value, str) and name not in ("act",):
            try:
                raw = b64_decode(value)
            except HemProtoError:
                pass
            else:
                entry.update(size=len(raw), hex=raw.hex())
        if name == "iat" and type(value) is int:
            entry["time"] = _utc(value)
        if name == "act" and value in ACTION_MEANINGS:
            entry["action"] = ACTION_MEANINGS[value]
        if name in meanings:
            entry["meaning"] = meanings[name]
        described[name] = entry
    description = {"kind": kind, "header": decoded.header, "claims": described}
    if problem:
        description["problem"] = problem
    return description


def _utc(seconds: int) -> str:
    """ISO 8601 for a unix time, or a note when it is outside what dates can show."""
    try:
        return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return "outside the calendar's range"


def _print_description(description: dict[str, Any], out: TextIO, indent: str = "") -> None:
    out.write(f"{indent}kind: {description['kind']}\n")
    if "problem" in description:
        out.write(f"{indent}problem: {description['problem']}\n")
    out.write(f"{indent}header: {json.dumps(description['header'])}\n")
    for name, entry in description["claims"].items():
        if "hex" in entry:
            shown = entry["hex"] if entry["size"] <= 64 else entry["hex"][:64] + "..."
            detail = f"{entry['size']:>3} bytes  {shown}"
        else:
            detail = json.dumps(entry["value"])
        for extra in ("time", "action"):
            if extra in entry:
                detail += f"  ({entry[extra]})"
        out.write(f"{indent}  {name:<6} {detail}\n")
        if "meaning" in entry:
            out.write(f"{indent}         {entry['meaning']}\n")


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
    try:
        public_path.write_text(b64_encode(pair.public) + "\n", encoding="ascii")
    except OSError as exc:
        raise UsageError(f"cannot write {public_path}: {exc.strerror}") from None
    out.write(f"private key: {path} (mode 0600)\npublic key:  {public_path}\n")
    out.write(f"public key (base64): {b64_encode(pair.public)}\n")
    return EXIT_OK


def _demo_certificate() -> bytes:
    """A throwaway self-signed device certificate (Ed25519), DER."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import NameOID

    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "my.ence.do")])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .sign(key, None)
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def _demo_world(args: argparse.Namespace) -> tuple[Backend, DeviceEmulator]:
    # Three firmware releases, one bootloader, two dashboards: a small release history.
    firmware = {status: os.urandom(64) for status in ("current", "outdated", "revoked")}
    dashboard = {status: os.urandom(32) for status in ("current", "outdated")}
    bootloader = os.urandom(64)
    registry = ReleaseRegistry(
        [
            Release("firmware", firmware["current"], "2.1.0", "current"),
            Release("firmware", firmware["outdated"], "2.0.3", "outdated"),
            Release("firmware", firmware["revoked"], "1.9.0", "revoked"),
            Release("bootloader", bootloader, "1.2.0", "current"),
            Release("dashboard", dashboard["current"], "3.4.0", "current"),
            Release("dashboard", dashboard["outdated"], "3.3.1", "outdated"),
        ]
    )
    csn = os.urandom(16)
    backend = Backend(
        KeyPair.generate(),
        releases=registry,
        certificates={csn: _demo_certificate()} if args.push_certificate else None,
    )
    fws = os.urandom(64) if args.firmware == "unknown" else firmware[args.firmware]
    uis = (
        None
        if args.no_dashboard
        else dashboard["outdated" if args.firmware == "outdated" else "current"]
    )
    device = DeviceEmulator(
        backend_public_key=backend.public_keys[0],
        fws=fws,
        bls=bootloader,
        uis=uis,
        csn=csn,
        trusted_backend=not args.untrusted_backend,
    )
    return backend, device


def cmd_demo(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    backend, device = _demo_world(args)
    out.write(f"hemproto {__version__} demo (codec backend: {codec_backend()})\n")
    out.write(f"backend key {backend.public_keys[0].hex()}, device firmware: {args.firmware}\n")

    def get_check() -> Any:
        body = device.challenge()
        out.write("\n1. client -> device   GET /api/system/checkin\n")
        out.write(f"   device answers 200 {json.dumps(body)[:72]}...\n")
        _print_description(_describe(body["check"]), out, "   ")
        return body

    def post_backend(body: Any) -> Any:
        out.write("\n2. client -> backend  POST /checkin (the check, verbatim)\n")
        decision = backend.decide(parse_check(body))
        for finding in decision.findings:
            out.write(f"   backend finds {finding}\n")
        status, answer = backend.handle(body)
        out.write(f"   backend answers {status} {json.dumps(answer)[:72]}...\n")
        if answer is not None:
            _print_description(_describe(answer["checked"]), out, "   ")
        return status, answer

    def post_device(body: Any) -> Any:
        out.write("\n3. client -> device   POST /api/system/checkin (the reply, verbatim)\n")
        status, answer = device.handle(body)
        out.write(f"   device answers {status} {json.dumps(answer)}\n")
        return status, answer

    outcome = relay_checkin(get_check, post_backend, post_device)
    out.write("\n4. device state after check-in\n")
    rtc = device.rtc
    rtc_text = "not set" if rtc is None else _utc(rtc)
    out.write(f"   status       {outcome.status}\n")
    out.write(f"   rtc          {rtc_text}\n")
    out.write(f"   fls_state    0x{device.fls_state:02x}\n")
    out.write(f"   user_key     {'present' if device.user_key_present else 'erased'}\n")
    certificate = device.certificate
    out.write(f"   certificate  {'none' if certificate is None else f'{len(certificate)} bytes'}\n")
    out.write(f"   upgrade      {'pending' if device.upgrade_pending else 'no'}\n")
    out.write(f"   reports      {len(device.reports)}\n")
    out.write(f"   serving      {'yes' if device.serving else 'no (soft-bricked)'}\n")
    events = ", ".join(
        f"{entry.event}{'/' + entry.detail if entry.detail else ''}" for entry in device.log
    )
    out.write(f"   audit_log    {events or 'empty'}\n")
    return EXIT_OK


def cmd_cbor(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    if args.direction == "encode":
        token, _ = _token_of(_read_token(args.input, stdin))
        envelope = to_cbor(token)
        if args.out:
            try:
                Path(args.out).write_bytes(envelope)
            except OSError as exc:
                raise UsageError(f"cannot write {args.out}: {exc.strerror}") from None
            out.write(f"{len(envelope)} bytes written to {args.out} ({len(token)} characters in)\n")
        else:
            out.write(envelope.hex() + "\n")
        return EXIT_OK
    if args.file:
        try:
            data = Path(args.file).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {args.file!r}: {exc.strerror}") from None
    else:
        text = _read_token(args.input, stdin)
        try:
            data = bytes.fromhex(text)
        except ValueError:
            raise UsageError("the envelope must be given in hex (or with --file)") from None
    out.write(from_cbor(data) + "\n")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    # Imported here: only this command needs the measuring engine and the peers it loads.
    from . import bench

    try:
        return bench.command(
            out,
            quick=args.quick,
            rounds=args.rounds,
            groups=args.group,
            as_json=args.json,
            plot_path=args.plot,
        )
    except bench.BenchUsageError as exc:
        raise UsageError(str(exc)) from None


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

    demo = commands.add_parser("demo", help="a full emulated check-in: device, relay, backend")
    demo.add_argument(
        "--firmware",
        choices=("current", "outdated", "revoked", "unknown"),
        default="current",
        help="which firmware the emulated device runs (default: current)",
    )
    demo.add_argument("--no-dashboard", action="store_true", help="a device without dashboard")
    demo.add_argument("--push-certificate", action="store_true", help="push a TLS certificate")
    demo.add_argument(
        "--untrusted-backend", action="store_true", help="device option trusted_backend off"
    )
    demo.set_defaults(run=cmd_demo)

    cbor = commands.add_parser("cbor", help="convert a token to or from its CBOR envelope")
    directions = cbor.add_subparsers(dest="direction", required=True, parser_class=_Parser)
    encode = directions.add_parser("encode", help="token (or body) to CBOR envelope")
    encode.add_argument("input", nargs="?", help="the token or body, or - for standard input")
    encode.add_argument("--out", help="write the envelope bytes to this file (else hex)")
    encode.set_defaults(run=cmd_cbor)
    decode = directions.add_parser("decode", help="CBOR envelope to token")
    decode.add_argument("input", nargs="?", help="the envelope in hex, or - for standard input")
    decode.add_argument("--file", help="read the envelope bytes from this file instead")
    decode.set_defaults(run=cmd_cbor)

    bench = commands.add_parser(
        "bench", help="time hemproto against the libraries one would use instead"
    )
    bench.add_argument("--quick", action="store_true", help="a few short rounds (seconds)")
    bench.add_argument("--rounds", type=int, help="timed blocks per entry (default 25)")
    bench.add_argument(
        "--group", action="append", default=[], help="only groups containing this text"
    )
    bench.add_argument("--json", action="store_true", help="machine-readable output")
    bench.add_argument("--plot", metavar="FILE.png", help="bar chart of the ratios (matplotlib)")
    bench.set_defaults(run=cmd_bench)
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
