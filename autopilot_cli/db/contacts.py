"""The ``contacts`` table as the decision code reads it (one contact's row: blocked, do-not-disturb,
preferences, away)."""

from __future__ import annotations

import sqlite3


def contact_row(conn: sqlite3.Connection, contact_id: int) -> sqlite3.Row:
    """Every column of one contact; ``contact_id`` comes from an event, draft or job that references it."""
    row = conn.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
    assert row is not None, f"contact {contact_id} is referenced but missing"
    return row
