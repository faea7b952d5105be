"""Rolling-window rate limits kept in the database (``rate_events``).

Each counted send is a row (scope, key, at). A limit "at most L per window W"
allows a send at time t when fewer than L rows fall in (t − W, t]. When it is
full, the earliest time the send may go is the L-th most recent row's time +
W: the draft waits until then — it is deferred, never dropped. Rolling windows,
not midnight resets: a provider's caps are rolling too.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..clock import from_iso, to_iso

KEEP = timedelta(days=8)
"""Rows older than this are deleted: longer than the longest window we use."""


@dataclass(frozen=True)
class Limit:
    scope: str
    key: str
    limit: int
    window: timedelta
    reason: str
    """The reason code reported when this limit defers a send, e.g. ``rate:contact_day``."""


def _blocking_until(conn: sqlite3.Connection, lim: Limit, at: datetime) -> datetime | None:
    # Only the limit-th most recent send in the window matters (OFFSET reads no rows into Python: a channel's
    # 10,000-a-day limit fetched up to 10,000 rows per decision before).
    row = conn.execute(
        "SELECT at FROM rate_events WHERE scope = ? AND key = ? AND at > ? AND at <= ? ORDER BY at DESC "
        "LIMIT 1 OFFSET ?",
        (lim.scope, lim.key, to_iso(at - lim.window), to_iso(at), lim.limit - 1),
    ).fetchone()
    if row is None:
        return None
    # +1 ms: the window is half-open, the oldest counted row must drop out.
    return from_iso(row[0]) + lim.window + timedelta(milliseconds=1)


def earliest_allowed(conn: sqlite3.Connection, limits: list[Limit], at: datetime) -> tuple[datetime, list[str]]:
    """The first time ≥ ``at`` every limit allows a send, and the reasons that pushed it later."""
    reasons: list[str] = []
    for _ in range(50):  # each pass moves forward; a handful is enough in practice
        moved = False
        for lim in limits:
            until = _blocking_until(conn, lim, at)
            if until is not None and until > at:
                at = until
                moved = True
                if lim.reason not in reasons:
                    reasons.append(lim.reason)
        if not moved:
            return at, reasons
    return at, reasons


def count(conn: sqlite3.Connection, scope: str, key: str, since: datetime, until: datetime) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM rate_events WHERE scope = ? AND key = ? AND at > ? AND at <= ?",
            (scope, key, to_iso(since), to_iso(until)),
        ).fetchone()[0]
    )


def record(conn: sqlite3.Connection, entries: list[tuple[str, str]], at: datetime) -> None:
    conn.executemany(
        "INSERT INTO rate_events (scope, key, at) VALUES (?, ?, ?)",
        [(scope, key, to_iso(at)) for scope, key in entries],
    )


def cleanup(conn: sqlite3.Connection, now: datetime) -> int:
    return conn.execute("DELETE FROM rate_events WHERE at < ?", (to_iso(now - KEEP),)).rowcount
