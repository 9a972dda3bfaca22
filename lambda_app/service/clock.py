"""Time, in one place: every timestamp the service writes is UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    # Millisecond precision: what we store and show (RFC 3339), so reads equal writes.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
