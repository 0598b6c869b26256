"""The codecs under test, and what to do when the C one is not built.

Every codec test runs once per codec name ("c", "python"). A missing C extension is a
skip, so a pure-Python install still runs the rest, except when HEMPROTO_REQUIRE_C=1 says
the extension must be there: then it is a failure, never a silent skip.
"""

from __future__ import annotations

import os

import pytest

from hemproto import _codec
from hemproto._codec_contract import Codec

CODEC_NAMES = ("c", "python")


def require_c_env() -> bool:
    return os.environ.get("HEMPROTO_REQUIRE_C") == "1"


def pure_env() -> bool:
    return os.environ.get("HEMPROTO_PURE") == "1"


def require_c_codec() -> Codec:
    """The C codec; skip when it is not built, fail when HEMPROTO_REQUIRE_C=1."""
    if _codec.c_codec is None:
        if require_c_env():
            pytest.fail("HEMPROTO_REQUIRE_C=1 but the C extension hemproto._hemcodec is not built")
        pytest.skip("the C extension hemproto._hemcodec is not built in this environment")
    return _codec.c_codec


def get_codec(name: str) -> Codec:
    """The codec called ``name``, under the same skip/fail rule for "c"."""
    if name == "c":
        return require_c_codec()
    return _codec.python_codec
