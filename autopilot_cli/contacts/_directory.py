"""Contacts and their addresses: one person, possibly several addresses.

Ingest finds or creates the contact behind each sender address. The address
kind (``channels.policy``) decides which channels share an identity.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

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
        return self.contacts_for(conn, [(channel, address, name)], now)[0]

    def contacts_for(self, conn: sqlite3.Connection, senders: Sequence[tuple[str, str, str | None]],
                     now: str) -> list[int]:
        """The contact of each (channel, address, name), created when new, in order; a few statements for
        a whole batch. The name a provider reported last is kept: a later sender's name wins."""
        keys = [(policy(channel).address_kind, address) for channel, address, _ in senders]
        unknown: dict[str, list[str]] = {}
        for kind, address in dict.fromkeys(keys):
            if (kind, address) not in self._ids:
                unknown.setdefault(kind, []).append(address)
        for unknown_kind, addresses in unknown.items():
            for address, contact_id in contact_rows.by_addresses(conn, unknown_kind, addresses).items():
                self._ids[(unknown_kind, address)] = contact_id
        names: dict[tuple[str, str], str] = {}
        for key, (_, _, name) in zip(keys, senders):
            if name:
                names[key] = name
        new = [key for key in dict.fromkeys(keys) if key not in self._ids]
        created = contact_rows.create_many(conn, [(names.get(key), *key) for key in new], now)
        self._ids.update(zip(new, created))
        fresh = set(new)
        renamed = [(self._ids[key], name) for key, name in names.items() if key not in fresh]
        if renamed:
            contact_rows.rename_many(conn, renamed, now)
        return [self._ids[key] for key in keys]


def find_contact(conn: sqlite3.Connection, channel: str, address: str) -> int | None:
    return contact_rows.by_address(conn, policy(channel).address_kind, address)


def note_away(conn: sqlite3.Connection, notes: Sequence[tuple[int, str | None, bool, str]]) -> None:
    """Each (contact id, away until, automated, received at) of the messages just stored, in order. An
    out-of-office reply's return date holds our replies to the contact until then; a message the contact
    wrote themselves, received after it, shows they are back (the hold ends)."""
    back: dict[int, str] = {}  # contact → the latest of their own messages since the last away note
    for contact_id, away_until, automated, received_at in notes:
        if away_until:
            _clear_away(conn, back)
            contact_rows.set_away(conn, contact_id, f"{away_until}T00:00:00.000Z", received_at)
        elif not automated:
            back[contact_id] = max(received_at, back.get(contact_id, received_at))
    _clear_away(conn, back)


def _clear_away(conn: sqlite3.Connection, back: dict[int, str]) -> None:
    # Clearing once with the latest message is clearing after each: a hold noted before an earlier
    # message was noted before the latest one too.
    if back:
        contact_rows.clear_away_many(conn, list(back.items()))
        back.clear()
