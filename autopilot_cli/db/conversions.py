"""The ``conversions`` table: orders and sign-ups an operator (or a shop system) credits to a contact."""

from __future__ import annotations

import sqlite3


def by_external_id(conn: sqlite3.Connection, external_id: str) -> sqlite3.Row | None:
    """The conversion recorded under this id (an order number), if any."""
    return conn.execute("SELECT * FROM conversions WHERE external_id = ?", (external_id,)).fetchone()


def insert(conn: sqlite3.Connection, *, contact_id: int, value: float | None, at: str, source: str,
           external_id: str | None, created_at: str) -> int:
    """A new conversion; its id."""
    conversion_id = conn.execute(
        "INSERT INTO conversions (contact_id, value, at, source, external_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (contact_id, value, at, source, external_id, created_at),
    ).lastrowid
    assert conversion_id is not None  # an INSERT always sets lastrowid
    return conversion_id
