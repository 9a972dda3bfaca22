"""RFC 3339 timestamps in UTC, the one textual form of time the service stores and shows."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


def rfc3339(value: datetime) -> str:
    """E.g. 2026-11-25T07:30:00.123Z (millisecond precision)."""
    return _utc_text(value.astimezone(UTC))


# A request formats the same instant several times (an order's two timestamps, each line's stock
# update, the response): a small cache makes the repeats cheap. Keyed by the UTC instant, so
# neither the local zone of a naive value nor a repeated wall-clock hour can mix two up.
@lru_cache(maxsize=32)
def _utc_text(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(value: str) -> datetime:
    return datetime.fromisoformat(value)
