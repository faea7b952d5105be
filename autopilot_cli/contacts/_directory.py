"""Contacts and their addresses: one person, possibly several addresses.

Ingest finds or creates the contact behind each sender address. The address
kind (``channels.policy``) decides which channels share an identity.
"""

from __future__ import annotations

import sqlite3

from ..channels.policy import policy
from ..db import contacts as contact_rows


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
        kind = policy(channel).address_kind
        key = (kind, address)
        contact_id = self._ids.get(key)
        if contact_id is None:
            contact_id = contact_rows.by_address(conn, kind, address)
            if contact_id is None:
                contact_id = contact_rows.create(conn, name=name, kind=kind, address=address, now=now)
                self._ids[key] = contact_id
                return contact_id
            self._ids[key] = contact_id
        if name:
            contact_rows.rename(conn, contact_id, name, now)
        return contact_id


def find_contact(conn: sqlite3.Connection, channel: str, address: str) -> int | None:
    return contact_rows.by_address(conn, policy(channel).address_kind, address)


def note_away(conn: sqlite3.Connection, contact_id: int, away_until: str | None, *, automated: bool,
              received_at: str) -> None:
    """An out-of-office reply's return date holds our replies to the contact until then; a message
    the contact wrote themselves, received after it, shows they are back (the hold ends)."""
    if away_until:
        contact_rows.set_away(conn, contact_id, f"{away_until}T00:00:00.000Z", received_at)
    elif not automated:
        contact_rows.clear_away(conn, contact_id, received_at)
