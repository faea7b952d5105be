"""When a contact may be written to: their preferences, the channel's rules, and the parsers for both.

Strings the operator types (``--allowed-hours 09-18``, ``[schedule]`` keys)
are parsed here into seconds-of-day ranges and weekday sets; every parser
raises ``ValueError`` with a message that shows a valid example. Ranges
whose end is before their start cross midnight (quiet hours ``22-08``).
Days are the contact's local calendar days (Monday = 0).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from ..channels.policy import POLICIES
from .timezones import load_zone

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HOURS = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*[-–]\s*(\d{1,2})(?::(\d{2}))?$")
DAY = 86400

Range = tuple[int, int]
"""Seconds of the local day: (start, end); end < start crosses midnight."""


def _day(text: str, whole: str) -> int:
    word = text.strip().lower()
    for names in (DAY_NAMES, _FULL_DAYS):
        if word in names:
            return names.index(word)
    raise ValueError(f"unknown day {text.strip()!r} in {whole!r}; use mon … sun, e.g. 'mon-fri' or 'mon,wed,fri'")


def parse_days(text: str) -> frozenset[int]:
    """"mon-fri", "mon,wed,fri", "fri-mon" (wraps), "mon-fri,sun" → weekday numbers (Monday 0)."""
    if not str(text).strip():
        raise ValueError("allowed days are empty; use e.g. 'mon-fri' or 'mon,wed,fri'")
    days: set[int] = set()
    for part in str(text).split(","):
        first, dash, last = part.partition("-")
        a = _day(first, text)
        b = _day(last, text) if dash else a
        days.update((a + k) % 7 for k in range((b - a) % 7 + 1))
    return frozenset(days)


def format_days(days: frozenset[int]) -> str:
    runs: list[str] = []
    ordered = sorted(days)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        a, b = DAY_NAMES[ordered[i]], DAY_NAMES[ordered[j]]
        runs.append(a if i == j else f"{a}-{b}")
        i = j + 1
    return ",".join(runs)


def parse_hours(text: str) -> Range:
    """"09-18", "9:30-17:45", "22-08" (crosses midnight), "00-24" (all day) → (start, end) seconds."""
    match = _HOURS.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not an hour range; use HH-HH or HH:MM-HH:MM, e.g. '09-18' or '22-08'")
    h1, m1, h2, m2 = (int(g) if g else 0 for g in match.groups())
    if m1 > 59 or m2 > 59 or h1 > 23 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(f"{text!r} has an hour above 24 or minutes above 59; e.g. '09-18'")
    start, end = (h1 * 60 + m1) * 60, (h2 * 60 + m2) * 60
    if start == end:
        raise ValueError(f"{text!r} starts and ends at the same time; use '00-24' for the whole day")
    return start, end


def format_hours(span: Range) -> str:
    parts = [f"{s // 3600:02d}" if s % 3600 == 0 else f"{s // 3600:02d}:{s % 3600 // 60:02d}" for s in span]
    return "-".join(parts)


def parse_dnd_until(text: str) -> datetime:
    """"2026-12-01" → midnight UTC starting that day; an ISO time without offset is UTC."""
    value = str(text).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), timezone.utc)
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date or time; use e.g. '2026-12-01' or '2026-12-01T09:00+01:00'") from None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _split(span: Range) -> list[Range]:
    start, end = span
    return [(start, end)] if start < end else [r for r in ((0, end), (start, DAY)) if r[0] < r[1]]


@lru_cache(maxsize=256)
def day_intervals(allowed: Range, quiet: Range | None) -> tuple[Range, ...]:
    """The allowed seconds of a local day: allowed hours minus quiet hours, sorted."""
    out = _split(allowed)
    for qa, qb in _split(quiet) if quiet else ():
        out = [piece for a, b in out for piece in ((a, min(b, qa)), (max(a, qb), b)) if piece[0] < piece[1]]
    return tuple(sorted(out))


@dataclass(frozen=True)
class Preferences:
    """A contact's own rules (the ``contacts`` columns); ``None`` = use the channel's."""

    timezone: str | None = None
    allowed_hours: str | None = None
    allowed_days: str | None = None
    quiet_hours: str | None = None
    dnd_until: datetime | None = None
    """UTC: nothing is sent before this moment."""
    away_until: datetime | None = None
    """UTC: the contact's out-of-office reply said they are back then; nothing is sent before."""
    hours: Range | None = field(init=False, repr=False, compare=False, default=None)
    days: frozenset[int] | None = field(init=False, repr=False, compare=False, default=None)
    quiet: Range | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.timezone:
            load_zone(self.timezone)
        if self.dnd_until is not None and self.dnd_until.tzinfo is None:
            raise ValueError("dnd_until must be timezone-aware (UTC)")
        object.__setattr__(self, "hours", parse_hours(self.allowed_hours) if self.allowed_hours else None)
        object.__setattr__(self, "days", parse_days(self.allowed_days) if self.allowed_days else None)
        object.__setattr__(self, "quiet", parse_hours(self.quiet_hours) if self.quiet_hours else None)

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | sqlite3.Row) -> Preferences:
        """From a ``contacts`` row (stored ISO text for dnd_until)."""
        dnd = row["dnd_until"]
        away = row["away_until"] if "away_until" in row.keys() else None
        return cls(timezone=row["timezone"], allowed_hours=row["allowed_hours"], allowed_days=row["allowed_days"],
                   quiet_hours=row["quiet_hours"], dnd_until=parse_dnd_until(dnd) if dnd else None,
                   away_until=parse_dnd_until(away) if away else None)


@dataclass(frozen=True)
class ChannelRules:
    """One channel's sending rules; ``DEFAULT_RULES`` below, ``[schedule]`` in the config overrides them."""

    channel: str
    allowed_days: str = "mon-sun"
    allowed_hours: str = "08-21"
    min_gap: timedelta = timedelta(0)
    """Least time between two messages to the same contact (WhatsApp pair rate: about 1 per 6 s)."""
    live_threshold: timedelta = timedelta(minutes=15)
    """An inbound message younger than this is a live conversation: answer soon."""
    jitter_seconds: int = 60
    """A deterministic 0…N s added to every send time, so replies do not read as robotic or burst."""
    holidays: frozenset[date] = frozenset()
    """Contact-local dates on which this channel sends nothing."""
    horizon: timedelta = timedelta(days=7)
    prior_strength: float = 20.0
    """Pseudo-messages of channel-wide pattern added to a contact's history (Dirichlet prior)."""
    delay_half_life: timedelta | None = timedelta(hours=24)
    """A slot this much later must be twice as likely to be read to win; None = no penalty."""
    hours: Range = field(init=False, repr=False, compare=False, default=(0, DAY))
    days: frozenset[int] = field(init=False, repr=False, compare=False, default=frozenset())

    def __post_init__(self) -> None:
        object.__setattr__(self, "hours", parse_hours(self.allowed_hours))
        object.__setattr__(self, "days", parse_days(self.allowed_days))
        if self.jitter_seconds < 0 or self.min_gap < timedelta(0) or self.horizon <= timedelta(0):
            raise ValueError("jitter_seconds and min_gap must be >= 0 and horizon > 0")


DEFAULT_RULES: dict[str, ChannelRules] = {
    name: ChannelRules(name, p.send_days, p.send_hours, min_gap=p.min_gap, jitter_seconds=p.jitter_seconds)
    for name, p in POLICIES.items()
}


def default_rules(channel: str) -> ChannelRules:
    return DEFAULT_RULES.get(channel) or ChannelRules(channel)
