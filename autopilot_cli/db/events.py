"""Writes to the ``events`` table (inbound messages), inside ingest's batch transaction.

Also the one existence check the unsubscribe endpoint needs before recording an opt-out.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from ._batch import chunks, values

EVENT_COLUMNS = ("channel", "external_id", "contact_id", "sender", "name", "message_type", "text", "body", "subject",
                 "thread_id", "reply_to_id", "timezone", "automated", "automated_reason", "metadata", "raw", "format",
                 "received_at", "ingested_at")


def insert_events(conn: sqlite3.Connection, events: Sequence[Mapping[str, object]]) -> dict[tuple[str, str], int]:
    """New inbound messages (each a mapping of ``EVENT_COLUMNS``): their ids by (channel, external_id). One
    already stored (a provider's retry), or earlier in ``events``, is not inserted again and is missing."""
    inserted: dict[tuple[str, str], int] = {}
    for part in chunks(events, len(EVENT_COLUMNS)):
        inserted.update(((str(r[1]), str(r[2])), int(r[0])) for r in conn.execute(
            f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES {values(len(part), len(EVENT_COLUMNS))} "
            "ON CONFLICT (channel, external_id) DO NOTHING RETURNING id, channel, external_id",
            [event[column] for event in part for column in EVENT_COLUMNS]))
    return inserted


def contact_exists(conn: sqlite3.Connection, contact_id: int) -> bool:
    """Whether a contact with this id is stored."""
    return conn.execute("SELECT 1 FROM contacts WHERE id = ?", (contact_id,)).fetchone() is not None
