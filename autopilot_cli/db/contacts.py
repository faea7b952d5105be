"""The ``contacts`` table as the decision code reads it (one contact's row: blocked, do-not-disturb,
preferences, away)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence

from ._batch import by_id, chunks, padded, placeholders, select_in, values
from .connection import reserve_ids


def contact_row(conn: sqlite3.Connection, contact_id: int) -> sqlite3.Row:
    """Every column of one contact; ``contact_id`` comes from an event, draft or job that references it."""
    row = conn.execute("SELECT * FROM contacts WHERE id = ?", (contact_id,)).fetchone()
    assert row is not None, f"contact {contact_id} is referenced but missing"
    return row


def by_address(conn: sqlite3.Connection, kind: str, address: str) -> int | None:
    """The contact with this address (of this kind: phone, email …), if any."""
    row = conn.execute("SELECT contact_id FROM contact_addresses WHERE kind = ? AND address = ?",
                       (kind, address)).fetchone()
    return int(row[0]) if row else None


def create(conn: sqlite3.Connection, *, name: str | None, kind: str, address: str, now: str) -> int:
    """A new contact with its first address; its id."""
    contact_id = conn.execute("INSERT INTO contacts (name, created_at, updated_at) VALUES (?, ?, ?)",
                              (name, now, now)).lastrowid
    assert contact_id is not None  # an INSERT always sets lastrowid
    conn.execute("INSERT INTO contact_addresses (contact_id, kind, address, created_at) VALUES (?, ?, ?, ?)",
                 (contact_id, kind, address, now))
    return contact_id


def by_addresses(conn: sqlite3.Connection, kind: str, addresses: Sequence[str]) -> dict[str, int]:
    """The contacts with these addresses of one kind, by address (those unknown are missing)."""
    return {str(r[0]): int(r[1]) for r in select_in(
        conn, "SELECT address, contact_id FROM contact_addresses WHERE kind = ? AND address IN ({in})", addresses,
        before=(kind,))}


def create_many(conn: sqlite3.Connection, new: Sequence[tuple[str | None, str, str]], now: str) -> list[int]:
    """A new contact for each (name, kind, address), with that first address; their ids, in order."""
    ids = reserve_ids(conn, "contacts", len(new))
    rows = list(zip(ids, new))
    for part in chunks(rows, 4):
        conn.execute(f"INSERT INTO contacts (id, name, created_at, updated_at) VALUES {values(len(part), 4)}",
                     [x for contact_id, (name, _, _) in part for x in (contact_id, name, now, now)])
        conn.execute(f"INSERT INTO contact_addresses (contact_id, kind, address, created_at) VALUES "
                     f"{values(len(part), 4)}",
                     [x for contact_id, (_, kind, address) in part for x in (contact_id, kind, address, now)])
    return ids


def rename_many(conn: sqlite3.Connection, names: Sequence[tuple[int, str]], now: str) -> None:
    """Keep the profile name the provider last reported for each (contact id, name); no write when it is
    unchanged."""
    for part in chunks(names, 5):
        name, params = by_id("name", part)
        ids = padded([contact_id for contact_id, _ in part])
        conn.execute(f"UPDATE contacts SET name = {name}, updated_at = ? WHERE id IN ({placeholders(len(ids))}) "
                     f"AND (name IS NULL OR name <> {name})", (*params, now, *ids, *params))


def set_away(conn: sqlite3.Connection, contact_id: int, away_until: str, noted_at: str) -> None:
    """Record an out-of-office return time, unless a later note is already recorded."""
    conn.execute("UPDATE contacts SET away_until = ?, away_noted_at = ? WHERE id = ? "
                 "AND (away_noted_at IS NULL OR away_noted_at <= ?)", (away_until, noted_at, contact_id, noted_at))


def clear_away_many(conn: sqlite3.Connection, before: Sequence[tuple[int, str]]) -> None:
    """End each contact's away hold noted before ``before`` (the contact wrote themselves since)."""
    for part in chunks(before, 3):
        noted, params = by_id("NULL", part)
        ids = padded([contact_id for contact_id, _ in part])
        conn.execute(f"UPDATE contacts SET away_until = NULL, away_noted_at = NULL WHERE id IN "
                     f"({placeholders(len(ids))}) AND away_noted_at < {noted}", (*ids, *params))


def _opted_out_filter(opted_out: bool | None) -> str:
    if opted_out is None:
        return ""
    return ("WHERE " + ("" if opted_out else "NOT ") + "EXISTS (SELECT 1 FROM consent x WHERE "
            "x.contact_id = c.id AND x.category = 'all' AND x.state = 'opted_out')")


def listing(conn: sqlite3.Connection, *, opted_out: bool | None, limit: int | None) -> tuple[int, list[sqlite3.Row]]:
    """(how many contacts match, the first ``limit`` by id: id, name, blocked, last inbound time as ``last``);
    ``opted_out`` keeps only those who opted out of every message somewhere (True) or did not (False)."""
    where = _opted_out_filter(opted_out)
    total = int(conn.execute(f"SELECT count(*) FROM contacts c {where}").fetchone()[0])
    rows = conn.execute(
        f"SELECT c.id, c.name, c.blocked, (SELECT max(received_at) FROM events e WHERE e.contact_id = c.id) AS last "
        f"FROM contacts c {where} ORDER BY c.id" + (" LIMIT ?" if limit is not None else ""),
        (limit,) if limit is not None else ()).fetchall()
    return total, rows


def addresses(conn: sqlite3.Connection, contact_id: int) -> list[sqlite3.Row]:
    """(kind, address) of a contact, in the order they were first seen."""
    return conn.execute("SELECT kind, address FROM contact_addresses WHERE contact_id = ? ORDER BY id",
                        (contact_id,)).fetchall()


def exists(conn: sqlite3.Connection, contact_id: int) -> bool:
    """Whether there is a contact with this id."""
    return conn.execute("SELECT 1 FROM contacts WHERE id = ?", (contact_id,)).fetchone() is not None


def first_phone(conn: sqlite3.Connection, contact_id: int) -> str | None:
    """The contact's first phone number (its country code hints at a time zone), if any."""
    row = conn.execute("SELECT address FROM contact_addresses WHERE contact_id = ? AND kind = 'phone' "
                       "ORDER BY id LIMIT 1", (contact_id,)).fetchone()
    return row[0] if row else None


def latest_event_hints(conn: sqlite3.Connection, contact_id: int) -> sqlite3.Row | None:
    """(timezone, metadata, received_at) of the contact's latest message: its time-zone hints."""
    return conn.execute("SELECT timezone, metadata, received_at FROM events WHERE contact_id = ? "
                        "ORDER BY received_at DESC LIMIT 1", (contact_id,)).fetchone()


def update_fields(conn: sqlite3.Connection, contact_id: int, values: Mapping[str, object], now: str) -> None:
    """Set preference columns; the names come from the caller's fixed list of fields, never from input."""
    assignments = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE contacts SET {assignments}, updated_at = ? WHERE id = ?", (*values.values(), now, contact_id))
