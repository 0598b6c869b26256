"""The ``hemproto`` command line: inspect, verify, keygen, demo, cbor, bench, and the
subcommands of other modules (serve, checkin) when they are present.

It turns arguments and files into library calls and results into text. Usage errors and
bad input end in a one-line message and a non-zero exit, never a traceback, and no
command prints a private key or shared secret. Exit statuses: 0 done, 1 invalid input,
2 usage error (and bare ``hemproto``, which prints the help), 130 interrupted, 141 when
the reader of standard output went away (``hemproto demo | head -1``), as the shell
reports a program ended by SIGPIPE.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from ._codec import active_codec, b64_decode, b64_encode
from .backend import Backend
from .bodies import MAX_BODY_LENGTH, request_object, unwrap_body
from .cbor import from_cbor, to_cbor
from .claims import (
    CheckChallenge,
    CheckedReply,
    parse_check,
    parse_checked,
    verify_check,
    verify_checked,
)
from .device import DeviceEmulator
from .errors import ClaimError, HemProtoError, KeyFileError, MalformedToken
from .jws import decode_ejwt
from .relay import relay_checkin
from .releases import Release, ReleaseRegistry
from .schema import (
    ACTION_MEANINGS,
    CHECK_CLAIMS,
    CHECK_NAMES,
    CHECK_SIZES,
    CHECKED_CLAIMS,
    CHECKED_NAMES,
)
from .x25519 import KeyPair

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141
DEFAULT_KEY_NAME = "backend.key"
# Subcommands other modules add: (module, function taking the subparsers object).
PLUGINS = (
    ("hemproto.serve", "add_serve_parser"),
    ("hemproto.checkin_cli", "add_checkin_parser"),
)
# A token or body file is a few KiB; reading more than this is reading the wrong file.
_MAX_INPUT_FILE = 1 << 20


class UsageError(Exception):
    """A command-line mistake: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _is_token(text: str) -> bool:
    if text.startswith("{"):
        return True  # a body: no file is named like one
    try:
        decode_ejwt(text)
    except HemProtoError:
        return False
    return True


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def _read_input_file(name: str) -> str:
    if not name:
        raise UsageError("'@' needs a file name after it (@FILE)")
    try:
        with open(name, "rb") as handle:
            data = handle.read(_MAX_INPUT_FILE + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {name!r}: {exc.strerror or type(exc).__name__}") from None
    if len(data) > _MAX_INPUT_FILE:
        raise UsageError(f"{name!r} is over {_MAX_INPUT_FILE} bytes: not a token or body")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{name!r} is not UTF-8 text") from None


def _read_token(
    argument: str | None,
    stdin: TextIO,
    is_input: Callable[[str], bool] = _is_token,
) -> str:
    """The text of an input argument: itself, ``-`` (or none) for standard input, or
    ``@FILE`` for a file's content."""
    if argument in (None, "-"):
        text = stdin.read()
    elif argument.startswith("@"):
        text = _read_input_file(argument[1:])
    else:
        text = argument
        if os.path.isfile(text) and not is_input(text.strip()):
            raise UsageError(f"{argument!r} is a file; to read from it, pass @{argument}")
    text = text.strip()
    if not text:
        raise UsageError("no input given (pass it as an argument, @FILE, or - for standard input)")
    return text


def _read_key(path: str) -> KeyPair:
    try:
        return KeyPair.from_file(path)
    except KeyFileError as exc:
        raise UsageError(str(exc)) from None


_KIND_NAMES = {"check": "device 'check'", "checked": "'checked' reply"}
# What tells the messages apart: the claims only a check has (qid fws bls uis csn), and
# those every reply has and no check (iat act).
_CHECK_ONLY = frozenset(CHECK_NAMES) - frozenset(CHECKED_NAMES)
_REPLY_REQUIRED = frozenset(spec.name for spec in CHECKED_CLAIMS if not spec.optional)
_CHECKED_ONLY = _REPLY_REQUIRED - frozenset(CHECK_NAMES)
_CHECK_MEANINGS = {spec.name: spec.meaning for spec in CHECK_CLAIMS}
_CHECKED_MEANINGS = {spec.name: spec.meaning for spec in CHECKED_CLAIMS}
# What each known claim holds (schema.ClaimKind), to show a value the way its kind reads.
_CLAIM_KINDS = {spec.name: spec.kind for spec in (*CHECK_CLAIMS, *CHECKED_CLAIMS)}


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


def _kind_of(claims: Mapping[str, Any]) -> str | None:
    """Which message the claims are meant to be, valid or not: a device's check carries
    qid, fws, bls, csn (uis), a backend's reply iat and act; None when neither or both."""
    names = set(claims)
    is_check, is_checked = bool(names & _CHECK_ONLY), bool(names & _CHECKED_ONLY)
    if is_check == is_checked:
        return None
    return "check" if is_check else "checked"


def _describe(text: str) -> dict[str, Any]:
    token, member = _token_of(text)
    decoded = decode_ejwt(token)
    kind, problem, meanings = "unknown", None, {}
    parsers: tuple[tuple[str, Any, dict[str, str]], ...] = (
        ("check", CheckChallenge.from_decoded, _CHECK_MEANINGS),
        ("checked", CheckedReply.from_decoded, _CHECKED_MEANINGS),
    )
    # The envelope says which one it must be; else the claims say which it means to be.
    guess = member or _kind_of(decoded.claims)
    if guess is not None:
        parsers = tuple(entry for entry in parsers if entry[0] == guess)
    for name, parse, names in parsers:
        try:
            parse(decoded)
        except ClaimError as exc:
            if guess is None:
                problem = problem or f"not a valid check or checked: {exc}"
            else:
                problem = f"looks like a {_KIND_NAMES[name]} but is not a valid one: {exc}"
            continue
        kind, problem, meanings = name, None, names
        break
    described: dict[str, Any] = {}
    for name, value in decoded.claims.items():
        entry: dict[str, Any] = {"value": value}
        claim_kind = _CLAIM_KINDS.get(name)  # None for a claim of neither message
        if isinstance(value, str) and claim_kind != "action":
            try:
                raw = b64_decode(value)
            except HemProtoError:
                pass
            else:
                entry.update(size=len(raw), hex=raw.hex())
        if claim_kind == "time" and type(value) is int:
            entry["time"] = _utc(value)
        if claim_kind == "action" and value in ACTION_MEANINGS:
            entry["action"] = ACTION_MEANINGS[value]
        if name in meanings:
            entry["meaning"] = meanings[name]
        described[name] = entry
    description: dict[str, Any] = {"kind": kind}
    if kind == "unknown" and guess is not None:
        description["looks_like"] = guess
    description.update(header=decoded.header, claims=described)
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
    looks_like = description.get("looks_like")
    guess = f" (looks like a {_KIND_NAMES[looks_like]})" if looks_like else ""
    out.write(f"{indent}kind: {description['kind']}{guess}\n")
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


_WRONG_KIND_HINTS = {
    "check": "to verify a reply the backend of this key sent, add --reply",
    "checked": "drop --reply to verify a device's check",
}


def cmd_verify(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    key = _read_key(args.key)
    text = _read_token(args.token, stdin)
    wanted = "checked" if args.reply else "check"
    try:
        token, member = _token_of(text)
        kind = _kind_of(decode_ejwt(token).claims) or member
        if kind is not None and kind != wanted:
            out.write(
                f"invalid: this is a {_KIND_NAMES[kind]}, not a {_KIND_NAMES[wanted]}; "
                f"{_WRONG_KIND_HINTS[wanted]}\n"
            )
            return EXIT_INVALID
        if args.reply:
            out.write(_verify_reply(token, key))
            return EXIT_OK
        challenge = verify_check(token, key)
    except HemProtoError as exc:
        out.write(f"invalid: {type(exc).__name__}: {exc}\n")
        return EXIT_INVALID
    out.write(f"valid check from device {challenge.qid.hex()} (nonce {challenge.jti.hex()})\n")
    return EXIT_OK


def _verify_reply(token: str, key: KeyPair) -> str:
    """Check a reply with the backend's own key: it must be issued by that key, and its MAC
    key is X25519(backend private, the device session key the reply names in aud)."""
    reply = parse_checked(token)
    if reply.iss != key.public:
        raise ClaimError(
            f"the reply was issued by backend key {reply.iss.hex()}, not this key "
            f"({key.public.hex()})",
            claim="iss",
        )
    verify_checked(token, key.shared(reply.aud), issuer=key.public)
    action = ACTION_MEANINGS.get(reply.act, reply.act)
    return (
        f"valid checked reply to device session {reply.aud.hex()} (nonce {reply.jti.hex()}): "
        f"act {reply.act} ({action}), iat {reply.iat} ({_utc(reply.iat)})\n"
    )


def cmd_keygen(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    path = Path(args.out)
    if path.is_dir():  # a directory to put the key pair in, under the default names
        path = path / DEFAULT_KEY_NAME
    public_path = path.with_name(path.name + ".pub")
    if not args.force:
        for existing in (path, public_path):
            if existing.exists() or existing.is_symlink():
                raise UsageError(f"{existing} exists (use --force to overwrite)")
    pair = KeyPair.generate()
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if args.force else os.O_EXCL)
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} exists (use --force to overwrite)") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        # An existing file overwritten with --force keeps its mode unless set here.
        os.fchmod(handle.fileno(), 0o600)
        handle.write(b64_encode(pair.private_bytes()) + "\n")
    try:
        public_path.write_text(b64_encode(pair.public) + "\n", encoding="ascii")
    except OSError as exc:
        raise UsageError(f"cannot write {public_path}: {exc.strerror}") from None
    out.write(f"private key: {os.path.abspath(path)} (mode 0600)\n")
    out.write(f"public key:  {os.path.abspath(public_path)}\n")
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
    size = CHECK_SIZES
    firmware = {status: os.urandom(size["fws"]) for status in ("current", "outdated", "revoked")}
    dashboard = {status: os.urandom(size["uis"]) for status in ("current", "outdated")}
    bootloader = os.urandom(size["bls"])
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
    csn = os.urandom(size["csn"])
    backend = Backend(
        KeyPair.generate(),
        releases=registry,
        certificates={csn: _demo_certificate()} if args.push_certificate else None,
    )
    fws = os.urandom(size["fws"]) if args.firmware == "unknown" else firmware[args.firmware]
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
    out.write(f"hemproto {__version__} demo (codec: {active_codec()})\n")
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
        text = _read_token(args.input, stdin, _is_hex)
        try:
            data = bytes.fromhex(text)
        except ValueError:
            raise UsageError("the envelope must be given in hex (or with --file)") from None
    out.write(from_cbor(data) + "\n")
    return EXIT_OK


def _check_plot_path(path: str, available: bool) -> None:
    """Refuse a --plot path that could not be written, before the run rather than after."""
    if not available:
        raise UsageError("--plot needs matplotlib: install hemproto[plot]")
    if os.path.isdir(path):
        suggestion = os.path.join(path, "bench.png")
        raise UsageError(f"--plot {path!r} is a directory; give a file name such as {suggestion}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {path!r}: no directory {folder!r}")
    writable = os.access(path, os.W_OK) if os.path.exists(path) else os.access(folder, os.W_OK)
    if not writable:
        raise UsageError(f"cannot write {path!r}: permission denied")


def cmd_bench(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    # Imported here: the measuring engine is a package of its own (hemproto_bench, shipped
    # beside hemproto), which the library never imports; only this command needs it.
    import hemproto_bench as bench

    if args.plot is not None:
        _check_plot_path(args.plot, bench.plot_available())
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


_MAIN_EPILOG = """\
examples:
  hemproto demo                          a whole emulated check-in, step by step
  hemproto inspect @check.json           what a token or body file holds
  hemproto keygen --out keys/            a backend key pair in keys/
  hemproto verify @check.json --key keys/backend.key
  hemproto COMMAND --help                a command's options and examples

exit status: 0 done, 1 invalid input (a token or key that fails its checks), 2 usage
error, 130 interrupted, 141 standard output closed early (hemproto demo | head -1)
"""

_EPILOGS = {
    "inspect": """\
TOKEN is a check or checked token, or a request body {"check": ...} / {"checked": ...}:
given as the argument itself, as @FILE to read it from a file, or - (or nothing) to read
standard input.

examples:
  hemproto inspect eyJlY2RoIjoi...        a token pasted on the command line
  hemproto inspect @check.json            a body saved from GET /api/system/checkin
  curl -sk https://my.ence.do/api/system/checkin | hemproto inspect --json -
""",
    "verify": """\
Verifies a device's check with the backend private key it is addressed to (its aud);
with --reply, a checked reply that backend key issued. TOKEN as for inspect: the token,
@FILE, or - for standard input. The key file is what hemproto keygen writes; it must not
be readable by group or others (chmod 600 FILE).

examples:
  hemproto verify @check.json --key backend.key
  hemproto verify --reply @checked.json --key backend.key
  hemproto verify - --key backend.key < check.json
""",
    "keygen": f"""\
Writes the private key (standard base64, mode 0600) and NAME.pub beside it, and prints
both paths and the public key. --out may name a directory: the files are then
{DEFAULT_KEY_NAME} and {DEFAULT_KEY_NAME}.pub inside it.

examples:
  hemproto keygen                         ./{DEFAULT_KEY_NAME} and ./{DEFAULT_KEY_NAME}.pub
  hemproto keygen --out /etc/hemproto/    /etc/hemproto/{DEFAULT_KEY_NAME} and .pub
  hemproto keygen --out next.key --force  replace next.key and next.key.pub
""",
    "demo": """\
examples:
  hemproto demo                           a device with the current firmware
  hemproto demo --firmware outdated       told of the newer firmware (newfws)
  hemproto demo --firmware revoked        locked (act L)
  hemproto demo --push-certificate --no-dashboard
""",
    "cbor": """\
examples:
  hemproto cbor encode @check.json        the envelope in hex
  hemproto cbor encode @check.json --out check.cbor
  hemproto cbor decode --file check.cbor  back to the token
  hemproto cbor decode a26163...          from hex
""",
    "bench": """\
examples:
  hemproto bench                          every group, about 12 s
  hemproto bench --quick --group token    a quick look at one group
  hemproto bench --plot bench.png         and a chart (pip install 'hemproto[plot]')
""",
}

_INPUT_HELP = "the token or body, @FILE to read it from a file, or - for standard input"


def _add_command(
    commands: Any, name: str, help_text: str, run: Callable[..., int] | None
) -> argparse.ArgumentParser:
    command: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help_text,
        description=help_text[:1].upper() + help_text[1:] + ".",
        epilog=_EPILOGS.get(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.set_defaults(run=run, usage_of=command)
    return command


def _add_plugins(commands: Any) -> None:
    """Subcommands that live in other modules, when those modules are there.

    Only the absence of the module itself is tolerated: a module that is there but fails
    to import (a bug, a missing dependency of its own) is an error, never a command that
    silently disappears.
    """
    for module_name, function_name in PLUGINS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        getattr(module, function_name)(commands)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hemproto",
        description="Encedo HEM check-in protocol tools",
        epilog=_MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hemproto {__version__}")
    parser.set_defaults(run=None, usage_of=parser)
    commands = parser.add_subparsers(
        dest="command", title="commands", metavar="COMMAND", parser_class=_Parser
    )

    inspect = _add_command(
        commands, "inspect", "show the header and claims of a token", cmd_inspect
    )
    inspect.add_argument("token", nargs="?", metavar="TOKEN", help=_INPUT_HELP)
    inspect.add_argument("--json", action="store_true", help="machine-readable output")

    verify = _add_command(
        commands,
        "verify",
        "verify a check (or, with --reply, a reply) with a backend key",
        cmd_verify,
    )
    verify.add_argument("token", nargs="?", metavar="TOKEN", help=_INPUT_HELP)
    verify.add_argument("--key", required=True, help="backend private key file (hemproto keygen)")
    verify.add_argument(
        "--reply", action="store_true", help="the token is a checked reply this backend key issued"
    )

    keygen = _add_command(commands, "keygen", "make a backend X25519 key pair", cmd_keygen)
    keygen.add_argument(
        "--out",
        default=DEFAULT_KEY_NAME,
        metavar="FILE|DIR",
        help=f"private key file (mode 0600), or a directory for {DEFAULT_KEY_NAME} "
        f"(default: ./{DEFAULT_KEY_NAME}); the public key goes to FILE.pub",
    )
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")

    demo = _add_command(
        commands, "demo", "a full emulated check-in: device, relay, backend", cmd_demo
    )
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

    cbor = _add_command(commands, "cbor", "convert a token to or from its CBOR envelope", None)
    directions = cbor.add_subparsers(
        dest="direction", title="directions", metavar="DIRECTION", parser_class=_Parser
    )
    encode = directions.add_parser("encode", help="token (or body) to CBOR envelope")
    encode.add_argument("input", nargs="?", metavar="TOKEN", help=_INPUT_HELP)
    encode.add_argument("--out", help="write the envelope bytes to this file (else hex)")
    encode.set_defaults(run=cmd_cbor)
    decode = directions.add_parser("decode", help="CBOR envelope to token")
    decode.add_argument(
        "input",
        nargs="?",
        metavar="HEX",
        help="the envelope in hex, @FILE, or - for standard input",
    )
    decode.add_argument("--file", help="read the envelope bytes from this file instead")
    decode.set_defaults(run=cmd_cbor)

    bench = _add_command(
        commands, "bench", "time hemproto against the libraries one would use instead", cmd_bench
    )
    bench.add_argument("--quick", action="store_true", help="a few short rounds (seconds)")
    bench.add_argument("--rounds", type=int, help="timed blocks per entry (default 25)")
    bench.add_argument(
        "--group", action="append", default=[], help="only groups containing this text"
    )
    bench.add_argument("--json", action="store_true", help="machine-readable output")
    bench.add_argument("--plot", metavar="FILE.png", help="bar chart of the ratios (matplotlib)")

    _add_plugins(commands)
    return parser


def _quiet_stdout() -> None:
    """Point standard output at the null device, so that the interpreter's last flush of
    what is still buffered cannot raise BrokenPipeError again on the way out."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, sys.stdout.fileno())
        finally:
            os.close(null)
    except (OSError, ValueError, AttributeError):
        pass  # no file descriptor behind stdout (captured): nothing left to flush into a pipe


def _closed_pipe(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):  # a short chain: the relay wraps once
        if seen is None:
            return False
        if isinstance(seen, BrokenPipeError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def main(argv: Sequence[str] | None = None) -> int:
    out, err = sys.stdout, sys.stderr
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit:
            out.flush()  # what --help or --version printed, while a closed pipe can be met
            raise
        if args.run is None:  # a command that needs a subcommand, or none at all
            args.usage_of.print_help(err)
            return EXIT_USAGE
        status = int(args.run(args, out, sys.stdin))
        out.flush()  # here, so that a closed pipe is met inside this handler
        return status
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except UsageError as exc:
        err.write(f"hemproto: {exc}\n")
        return EXIT_USAGE
    except HemProtoError as exc:
        if _closed_pipe(exc):  # met inside a callback the relay wraps (demo)
            _quiet_stdout()
            return EXIT_BROKEN_PIPE
        err.write(f"hemproto: {type(exc).__name__}: {exc}\n")
        return EXIT_INVALID
    except TypeError as exc:
        err.write(f"hemproto: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
