"""Codec choice: the C codec (_ccodec) when the extension is built, else the Python one.

HEMPROTO_PURE=1 forces the Python codec; HEMPROTO_REQUIRE_C=1 turns a missing extension
into an ImportError. Both codecs are modules that satisfy _codec_contract.Codec, and
hemproto's modules call the chosen one's functions through the names here, at call time.
"""

from __future__ import annotations

import os

from . import _pycodec
from ._codec_contract import Codec

__all__ = [
    "active_codec",
    "all_codecs",
    "b64_decode",
    "b64_encode",
    "b64url_decode",
    "b64url_encode",
    "c_codec",
    "check_answer",
    "checked_sign",
    "ct_equal",
    "hs256",
    "hs256_verify",
    "json_scan",
    "python_codec",
    "scan_check",
    "split_token",
]

python_codec: Codec = _pycodec

c_codec: Codec | None
try:
    from . import _ccodec
except ImportError as missing:
    # Only the extension itself may be missing (not built, or not loadable here): any other
    # ImportError is a fault in hemproto and surfaces as one.
    if missing.name != f"{__package__}._hemcodec":
        raise
    c_codec = None
else:
    c_codec = _ccodec

all_codecs: list[Codec] = [codec for codec in (c_codec, python_codec) if codec is not None]

_active: Codec
if os.environ.get("HEMPROTO_PURE") == "1":
    _active = python_codec
elif c_codec is not None:
    _active = c_codec
elif os.environ.get("HEMPROTO_REQUIRE_C") == "1":
    raise ImportError(
        "hemproto: HEMPROTO_REQUIRE_C=1 but the C extension hemproto._hemcodec is not built"
    )
else:
    _active = python_codec

# The active codec's functions under module names: callers write _codec.b64url_decode(...)
# and tests swap a name here to reach every caller. Each is documented in Codec.
b64url_encode = _active.b64url_encode
b64url_decode = _active.b64url_decode
b64_encode = _active.b64_encode
b64_decode = _active.b64_decode
ct_equal = _active.ct_equal
split_token = _active.split_token
scan_check = _active.scan_check
hs256 = _active.hs256
hs256_verify = _active.hs256_verify
json_scan = _active.json_scan
checked_sign = _active.checked_sign
check_answer = _active.check_answer


def active_codec() -> str:
    """Return ``"c"`` or ``"python"``: the codec this process uses."""
    return _active.name
