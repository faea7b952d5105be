"""The ``outbox`` table: what the outbox adapter recorded instead of sending (in our own database)."""

from __future__ import annotations

import sqlite3

from .connection import Store


def record_message(conn: sqlite3.Connection, *, job_id: int, send_key: str, channel: str, recipient: str, text: str,
                   metadata: str, recorded_at: str) -> tuple[bool, int]:
    """(whether this call recorded it, its outbox id); a send key already recorded is kept as it was."""
    fresh = conn.execute(
        "INSERT INTO outbox (job_id, send_key, channel, recipient, text, metadata, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (send_key) DO NOTHING",
        (job_id, send_key, channel, recipient, text, metadata, recorded_at),
    ).rowcount
    row = conn.execute("SELECT id FROM outbox WHERE send_key = ?", (send_key,)).fetchone()
    return bool(fresh), int(row[0])


def recorded_with_jobs(store: Store) -> list[sqlite3.Row]:
    """Every recorded message in order, with its job's explanation and variant (the demo shows them)."""
    return store.query(
        "SELECT o.job_id, o.channel, o.recipient, o.text, j.explanation, j.variant FROM outbox o "
        "JOIN jobs j ON j.id = o.job_id ORDER BY o.id")
