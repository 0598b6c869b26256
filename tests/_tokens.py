"""Token builders for tests: tokens with any header or payload, correctly MACed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from hypothesis import strategies as st

KEY = bytes(range(32))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: Any, payload: Any, key: bytes = KEY, *, raw: bool = False) -> str:
    """A token with the given header and payload (JSON values, or raw text if raw=True),
    correctly MACed with ``key``: so only the rule under test can refuse it."""
    header_text = header if raw else json.dumps(header, separators=(",", ":"))
    payload_text = payload if raw else json.dumps(payload, separators=(",", ":"))
    signing_input = f"{b64url(header_text.encode())}.{b64url(payload_text.encode())}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


# Text that I-JSON (RFC 7493) admits: no surrogates and no noncharacters.
NONCHARACTERS = "".join(chr(c) for c in range(0xFDD0, 0xFDF0)) + "".join(
    chr(plane << 16 | low) for plane in range(17) for low in (0xFFFE, 0xFFFF)
)


def ijson_text(max_size: int) -> st.SearchStrategy[str]:
    characters = st.characters(exclude_categories=("Cs",), exclude_characters=NONCHARACTERS)
    return st.text(characters, max_size=max_size)
