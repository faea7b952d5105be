"""Injected time.

Core code asks a ``Clock`` for the time and stores it with ``to_iso``: UTC,
millisecond precision, fixed width, so that stored timestamps sort as text and
compare correctly in SQL. SQLite's own clock is never used: tests freeze time
with freezegun, which cannot reach inside SQLite.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol

from dateutil import parser as date_parser

UTC = timezone.utc


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    """Wall-clock time (frozen by freezegun in tests)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move; for tests and replays."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at


def to_iso(dt: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a Z: ``2026-11-25T12:48:54.123Z``."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: times must carry a timezone")
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def from_iso(text: str) -> datetime:
    """Parse a stored timestamp back to an aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def parse_timestamp(value: object) -> datetime:
    """Parse a provider timestamp: ISO-8601 text, or Unix seconds/milliseconds.

    Naive ISO strings are taken as UTC. Raises ValueError on anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
        number = float(value)
        # Meta sends seconds in WhatsApp and milliseconds in Instagram payloads.
        if number > 10_000_000_000:
            number /= 1000.0
        return datetime.fromtimestamp(number, UTC)
    if isinstance(value, str) and value.strip():
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            try:
                dt = date_parser.isoparse(value.strip())
            except (ValueError, OverflowError) as exc:
                raise ValueError(f"not a timestamp (Unix seconds or ISO-8601): {value!r}") from exc
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    raise ValueError(f"not a timestamp: {value!r}")
