"""Inbound ``events`` as ``process``, review and ``explain`` read them, and marking one decided.

(Ingest's writes live in ``db.events``.)
"""

from __future__ import annotations

import json
import sqlite3

from .connection import Store


def event(conn: sqlite3.Connection, event_id: int) -> sqlite3.Row | None:
    """One event, whatever its state."""
    return conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()


def get(store: Store, event_id: int) -> sqlite3.Row | None:
    """One event, whatever its state (a read outside any transaction)."""
    rows = store.query("SELECT * FROM events WHERE id = ?", (event_id,))
    return rows[0] if rows else None


def pending_event(conn: sqlite3.Connection, event_id: int) -> sqlite3.Row | None:
    """One event still waiting for a decision; None once another run decided it."""
    return conn.execute("SELECT * FROM events WHERE id = ? AND state = 'pending'", (event_id,)).fetchone()


def pending_count(store: Store) -> int:
    """How many events wait for a decision."""
    return int(store.scalar("SELECT count(*) FROM events WHERE state = 'pending'") or 0)


def pending_after(store: Store, received_at: str, event_id: int, size: int) -> list[sqlite3.Row]:
    """The next ``size`` pending events after (``received_at``, ``event_id``), in arrival order."""
    return store.query(
        "SELECT * FROM events WHERE state = 'pending' AND (received_at, id) > (?, ?) "
        "ORDER BY received_at, id LIMIT ?",
        (received_at, event_id, size),
    )


def mark_processed(conn: sqlite3.Connection, event_id: int, outcome: str, reasons: list[str], now: str) -> bool:
    """Record an event's outcome; False when it was no longer pending."""
    return bool(conn.execute(
        "UPDATE events SET state = 'processed', outcome = ?, reasons = ?, processed_at = ? "
        "WHERE id = ? AND state = 'pending'",
        (outcome, json.dumps(reasons), now, event_id),
    ).rowcount)
