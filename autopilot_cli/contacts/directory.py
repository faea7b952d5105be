"""Contacts and their addresses: one person, possibly several addresses.

Ingest finds or creates the contact behind each sender address. The address
kind (``events.ADDRESS_KIND``) decides which channels share an identity.
"""

from __future__ import annotations

import sqlite3

from ..inbound.records import ADDRESS_KIND


class ContactCache:
    """Address → contact id, valid for the life of one command.

    Contact ids never change once created, so caching them across batches is
    safe even while other processes add contacts.
    """

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], int] = {}

    def contact_for(
        self, conn: sqlite3.Connection, channel: str, address: str, name: str | None, now: str
    ) -> int:
        kind = ADDRESS_KIND[channel]
        key = (kind, address)
        contact_id = self._ids.get(key)
        if contact_id is None:
            row = conn.execute(
                "SELECT contact_id FROM contact_addresses WHERE kind = ? AND address = ?", key
            ).fetchone()
            if row is None:
                contact_id = conn.execute(
                    "INSERT INTO contacts (name, created_at, updated_at) VALUES (?, ?, ?)",
                    (name, now, now),
                ).lastrowid
                conn.execute(
                    "INSERT INTO contact_addresses (contact_id, kind, address, created_at) VALUES (?, ?, ?, ?)",
                    (contact_id, kind, address, now),
                )
                assert contact_id is not None  # an INSERT always sets lastrowid
                self._ids[key] = contact_id
                return contact_id
            contact_id = int(row[0])
            self._ids[key] = contact_id
        if name:
            # Keep the profile name the provider last reported.
            conn.execute(
                "UPDATE contacts SET name = ?, updated_at = ? WHERE id = ? AND name IS NOT ?",
                (name, now, contact_id, name),
            )
        return contact_id


def find_contact(conn: sqlite3.Connection, channel: str, address: str) -> int | None:
    row = conn.execute(
        "SELECT contact_id FROM contact_addresses WHERE kind = ? AND address = ?",
        (ADDRESS_KIND[channel], address),
    ).fetchone()
    return int(row[0]) if row else None


def note_away(conn: sqlite3.Connection, contact_id: int, away_until: str | None, *, automated: bool,
              received_at: str) -> None:
    """An out-of-office reply's return date holds our replies to the contact until then; a message
    the contact wrote themselves, received after it, shows they are back (the hold ends)."""
    if away_until:
        conn.execute(
            "UPDATE contacts SET away_until = ?, away_noted_at = ? WHERE id = ? "
            "AND (away_noted_at IS NULL OR away_noted_at <= ?)",
            (f"{away_until}T00:00:00.000Z", received_at, contact_id, received_at))
    elif not automated:
        conn.execute("UPDATE contacts SET away_until = NULL, away_noted_at = NULL WHERE id = ? "
                     "AND away_noted_at < ?", (contact_id, received_at))
