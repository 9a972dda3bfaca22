"""Time, in one place: every timestamp the service writes is UTC.

Services take a ``Clock`` (``utcnow`` unless told otherwise), so tests can hold time still or
move it past a reservation's deadline without waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    # Millisecond precision: what we store and show (RFC 3339), so reads equal writes.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
