"""A small release history for the backend tests: three firmware releases (outdated,
current, revoked), one bootloader, two dashboards, and a device certificate serial.

Each signature or hash is one repeated byte, so a failing comparison shows which release it
was; the sizes are the protocol's (64-byte signatures, 32-byte hashes, a 16-byte serial).
"""

from __future__ import annotations

from hemproto.releases import Release, ReleaseRegistry

NOW = 1_764_000_000.0

FW_OLD, FW_NEW, FW_BAD = (bytes([n]) * 64 for n in (1, 2, 3))
BL_OK = bytes([4]) * 64
UI_OLD, UI_NEW = (bytes([n]) * 32 for n in (5, 6))
CSN = bytes(range(16))


def registry() -> ReleaseRegistry:
    """A fresh registry of the releases above (a registry only grows: one per test)."""
    return ReleaseRegistry(
        [
            Release("firmware", FW_OLD, "1.1", "outdated"),
            Release("firmware", FW_NEW, "1.2", "current"),
            Release("firmware", FW_BAD, "1.0", "revoked"),
            Release("bootloader", BL_OK, "0.9", "current"),
            Release("dashboard", UI_OLD, "2.0", "outdated"),
            Release("dashboard", UI_NEW, "2.1", "current"),
        ]
    )
