"""The ``decisions`` table: what ``process`` decided for each event and the checks behind it
(what ``explain`` shows), and the model-token counter that bounds drafting per day."""

from __future__ import annotations

import sqlite3

from .connection import Store


def insert(conn: sqlite3.Connection, *, event_id: int, outcome: str, reasons: str, checks: str,
           confidence: float | None, draft_id: int | None, job_id: int | None, send_at: str | None,
           decided_at: str) -> None:
    """Store one decision (``reasons`` and ``checks`` as JSON text)."""
    conn.execute(
        "INSERT INTO decisions (event_id, outcome, reasons, checks, confidence, draft_id, job_id, send_at, decided_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (event_id, outcome, reasons, checks, confidence, draft_id, job_id, send_at, decided_at),
    )


def point_to_job(conn: sqlite3.Connection, event_id: int, job_id: int, send_at: str) -> None:
    """After an approval: the event's decision leads to the approved job."""
    conn.execute("UPDATE decisions SET job_id = ?, send_at = ? WHERE event_id = ?", (job_id, send_at, event_id))


def for_event(store: Store, event_id: int) -> sqlite3.Row | None:
    """The decision stored for an event, if any."""
    rows = store.query("SELECT * FROM decisions WHERE event_id = ?", (event_id,))
    return rows[0] if rows else None


def add_model_usage(conn: sqlite3.Connection, day: str, requests: int, tokens: int) -> None:
    """Count a run's model requests and tokens against ``day``."""
    conn.execute(
        "INSERT INTO model_usage (day, requests, tokens) VALUES (?, ?, ?) ON CONFLICT (day) DO UPDATE SET "
        "requests = model_usage.requests + excluded.requests, tokens = model_usage.tokens + excluded.tokens",
        (day, requests, tokens),
    )


def tokens_spent(store: Store, day: str) -> int:
    """Model tokens used on ``day``."""
    return int(store.scalar("SELECT tokens FROM model_usage WHERE day = ?", (day,)) or 0)
