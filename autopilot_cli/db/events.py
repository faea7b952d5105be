"""Writes to the ``events`` table (inbound messages), inside ingest's batch transaction.

Also the one existence check the unsubscribe endpoint needs before recording an opt-out.
"""

from __future__ import annotations

import sqlite3


def insert_event(conn: sqlite3.Connection, *, channel: str, external_id: str, contact_id: int, sender: str,
                 name: str | None, message_type: str, text: str, body: str | None, subject: str | None,
                 thread_id: str | None, reply_to_id: str | None, timezone: str | None, automated: bool,
                 automated_reason: str | None, metadata: str, raw: str | None, fmt: str, received_at: str,
                 ingested_at: str) -> int | None:
    """The new event's id; None when (channel, external_id) is already stored (a provider's retry)."""
    cursor = conn.execute(
        "INSERT INTO events (channel, external_id, contact_id, sender, name, message_type, text, body, "
        "subject, thread_id, reply_to_id, timezone, automated, automated_reason, metadata, raw, format, "
        "received_at, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (channel, external_id) DO NOTHING",
        (channel, external_id, contact_id, sender, name, message_type, text, body, subject, thread_id, reply_to_id,
         timezone, int(automated), automated_reason, metadata, raw, fmt, received_at, ingested_at),
    )
    return int(cursor.lastrowid) if cursor.rowcount and cursor.lastrowid is not None else None


def contact_exists(conn: sqlite3.Connection, contact_id: int) -> bool:
    """Whether a contact with this id is stored."""
    return conn.execute("SELECT 1 FROM contacts WHERE id = ?", (contact_id,)).fetchone() is not None
