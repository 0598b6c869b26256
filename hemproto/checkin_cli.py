"""The ``hemproto checkin`` command: one check-in of a real device with a real backend.

It turns arguments into a hemproto.client.checkin call, and the outcome or the failure into
text or one JSON object, with an exit status for each kind of failure. It prints no token,
URL or foreign error text; the network work and its safety rules live in hemproto.client.
"""

from __future__ import annotations

import argparse
import datetime
import json
import ssl
from typing import Any, TextIO

from ._codec import b64_encode
from .errors import RelayError, RelayNetworkError
from .relay import RelayOutcome
from .schema import ACTION_MEANINGS
from .status import OK

__all__ = [
    "EXIT_INVALID",
    "EXIT_NETWORK",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "add_checkin_parser",
    "cmd_checkin",
]

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_REFUSED, EXIT_NETWORK = 0, 1, 2, 3, 4

# Kept in step with hemproto.client's defaults; repeated so --help works without httpx.
_DEFAULT_BACKEND = "https://api.encedo.com/checkin"
_DEFAULT_TIMEOUT = 10.0
_DEFAULT_ATTEMPTS = 3

_EPILOG = """\
The device is trusted by one of --device-ca, --device-pin or --insecure-device; with none,
its certificate must chain to the system trust store and name the URL's host. The pin is
the SHA-256 of the device's certificate (DER), 64 hex digits, colons between bytes allowed:
  openssl x509 -in device.pem -outform DER | sha256sum

A failed step starts again from a fresh challenge (up to --attempts in all), except once
the reply may have reached the device: it may have acted, so that is never retried.

examples:
  hemproto checkin https://my.ence.do --device-pin 3F:A1:...:9C
  hemproto checkin https://192.168.7.1 --device-ca device.pem --json
  hemproto checkin https://my.ence.do --insecure-device --backend https://hem.example/checkin

exit status:
  0  the check-in completed: the device accepted the reply
  1  a peer answered outside the protocol (not the expected JSON, or a reply to
     another challenge)
  2  usage error
  3  refused: the device or the backend answered with an error status (4xx, or a
     temporary 408/429/5xx that lasted through every attempt)
  4  network failure: no answer (connection refused or lost, timeout, TLS certificate
     not trusted or not matching the pin)
"""


def _device_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError("DEVICE_URL must start with http:// or https://")
    return text


def _backend_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError("--backend must start with http:// or https://")
    return text


def _pin(text: str) -> str:
    from .client import parse_pin

    try:
        parse_pin(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _ca_file(text: str) -> str:
    # Loaded once here so that a wrong file is a usage error, reported before any request.
    try:
        ssl.create_default_context(cafile=text)
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"{text!r}: no such file") from None
    except ssl.SSLError:
        raise argparse.ArgumentTypeError(f"{text!r} holds no PEM certificate") from None
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: {exc.strerror}") from None
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("the timeout must be a positive number of seconds")
    return value


def _attempts(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("--attempts must be at least 1")
    return value


def add_checkin_parser(subparsers: Any) -> None:
    """Register ``checkin`` on the ``hemproto`` command's subparsers; it runs cmd_checkin."""
    parser = subparsers.add_parser(
        "checkin",
        help="check a device in with its backend over HTTP(S)",
        description=(
            "Check a HEM in: GET its check, POST it to the backend, POST the backend's\n"
            "reply back to the device, each verbatim; print what the device did."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "device_url",
        metavar="DEVICE_URL",
        type=_device_url,
        help="the device's base URL, e.g. https://my.ence.do",
    )
    parser.add_argument(
        "--backend",
        metavar="URL",
        type=_backend_url,
        default=_DEFAULT_BACKEND,
        help=f"the backend's check-in endpoint (default {_DEFAULT_BACKEND})",
    )
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument(
        "--device-ca", metavar="FILE", type=_ca_file, help="trust the device via this PEM CA"
    )
    trust.add_argument(
        "--device-pin",
        metavar="SHA256",
        type=_pin,
        help="trust exactly the device certificate with this SHA-256 fingerprint",
    )
    trust.add_argument(
        "--insecure-device",
        action="store_true",
        help="do not verify the device's certificate at all",
    )
    parser.add_argument(
        "--backend-ca",
        metavar="FILE",
        type=_ca_file,
        help="trust the backend via this PEM CA instead of the system store",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=_seconds,
        default=_DEFAULT_TIMEOUT,
        help=f"seconds for each connect, read, write (default {_DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--attempts",
        metavar="N",
        type=_attempts,
        default=_DEFAULT_ATTEMPTS,
        help=f"check-ins to try in all (default {_DEFAULT_ATTEMPTS})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=cmd_checkin)


def _usage(message: str) -> Exception:
    # Imported here: cli imports this module to register the command.
    from .cli import UsageError

    return UsageError(message)


def cmd_checkin(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    """Run one check-in; print the outcome; return the exit status (see the epilog)."""
    try:
        from .client import checkin

        outcome = checkin(
            args.device_url,
            backend_url=args.backend,
            device_ca=args.device_ca,
            device_pin=args.device_pin,
            insecure_device=args.insecure_device,
            backend_ca=args.backend_ca,
            timeout=args.timeout,
            attempts=args.attempts,
        )
    except ImportError as exc:
        raise _usage(str(exc)) from None
    except RelayError as exc:
        return _report_failure(exc, out, as_json=args.json)
    except (ValueError, TypeError, OSError) as exc:
        raise _usage(str(exc)) from None
    summary = _summary(outcome)
    if args.json:
        out.write(json.dumps(summary) + "\n")
    else:
        _print_summary(summary, out)
    return EXIT_OK


def _iso_utc(seconds: int) -> str | None:
    try:
        moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(outcome: RelayOutcome) -> dict[str, Any]:
    """The outcome as one JSON-ready object (the --json output)."""
    return {
        "result": "completed",
        "action": outcome.status,
        "action_meaning": ACTION_MEANINGS.get(outcome.status, "not a known action"),
        "ordered": outcome.checked.act,
        "time_set": _iso_utc(outcome.checked.iat),
        "iat": outcome.checked.iat,
        "newfws": None if outcome.newfws is None else b64_encode(outcome.newfws),
        "newuis": None if outcome.newuis is None else b64_encode(outcome.newuis),
        "newcrt": outcome.newcrt,
        "device": outcome.check.qid.hex(),
        "device_response": dict(outcome.device_response),
    }


def _print_summary(summary: dict[str, Any], out: TextIO) -> None:
    out.write("check-in completed\n")
    out.write(f"  device       {summary['device']}\n")
    out.write(f"  action       {summary['action']} ({summary['action_meaning']})\n")
    if summary["ordered"] != summary["action"]:
        out.write(f"  ordered      {summary['ordered']} (not run: trusted_backend is off)\n")
    time_set = summary["time_set"] or "outside the calendar's range"
    out.write(f"  time set     {time_set} (iat {summary['iat']})\n")
    for name, what in (("newfws", "firmware"), ("newuis", "dashboard")):
        value = summary[name]
        if value is None:
            out.write(f"  {what:<12} up to date\n")
        else:
            out.write(f"  {what:<12} update available: {name} {value}\n")
    certificate = summary["newcrt"]
    out.write(
        f"  certificate  {'none pushed' if certificate is None else f'newcrt {certificate}'}\n"
    )


def _report_failure(exc: RelayError, out: TextIO, *, as_json: bool) -> int:
    if isinstance(exc, RelayNetworkError):
        result, code = "network-failure", EXIT_NETWORK
    elif exc.status is not None and exc.status != OK:
        result, code = "refused", EXIT_REFUSED
    else:
        result, code = "invalid-answer", EXIT_INVALID
    # A device that may have run the order must be looked at before anyone tries again: the
    # reply may have arrived (no answer after sending), it did (an unreadable 200), or the
    # device failed while handling it (5xx). A 4xx refusal changed nothing.
    device_may_have_acted = exc.step == "post_device" and (
        (isinstance(exc, RelayNetworkError) and exc.possibly_delivered)
        or result == "invalid-answer"
        or (result == "refused" and exc.status is not None and exc.status >= 500)
    )
    if as_json:
        report: dict[str, Any] = {
            "result": result,
            "step": exc.step,
            "status": exc.status,
            "error": str(exc),
            "device_may_have_acted": device_may_have_acted,
        }
        out.write(json.dumps(report) + "\n")
        return code
    out.write(f"check-in {result.replace('-', ' ')}: {exc}\n")  # the message names the step
    if device_may_have_acted:
        out.write(
            "  the device may have received the reply and acted on it: read its status "
            "(GET /api/system/status) before checking in again\n"
        )
    return code
