"""ULIDs for order ids: 48-bit millisecond time + 80 random bits, Crockford base32.

Written out (a dozen lines) rather than imported: one dependency less in the Lambda asset, and the
randomness comes from ``os.urandom`` at call time, so ids stay unique after a SnapStart restore.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_PATTERN = r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$"


def new_ulid(now_ms: int | None = None) -> str:
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
