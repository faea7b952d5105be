"""When a contact, a recipient or a channel was last active: the times the scheduler, the window
rules and the pre-send checks read from ``events`` (inbound) and ``jobs`` (outbound)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ._batch import select_in

LIVE_JOB_STATES = "('scheduled', 'claimed', 'sending', 'sent', 'retry_wait')"


def last_inbound_at(conn: sqlite3.Connection, contact_id: int, channel: str) -> str | None:
    """When the contact last wrote on ``channel`` (what a messaging window counts from)."""
    return conn.execute("SELECT max(received_at) FROM events WHERE contact_id = ? AND channel = ?",
                        (contact_id, channel)).fetchone()[0]


def last_inbound_among(conn: sqlite3.Connection, contact_ids: Sequence[int], channel: str) -> dict[int, str]:
    """``last_inbound_at`` of each contact among ``contact_ids`` that wrote on ``channel``."""
    return {int(r[0]): str(r[1]) for r in select_in(
        conn, "SELECT contact_id, max(received_at) FROM events WHERE channel = ? AND contact_id IN ({in}) "
        "GROUP BY contact_id", contact_ids, before=(channel,))}


def inbound_times_on_channel(conn: sqlite3.Connection, channel: str, limit: int) -> list[str]:
    """The channel's latest ``limit`` inbound message times, newest first."""
    return [r[0] for r in conn.execute(
        "SELECT received_at FROM events WHERE channel = ? ORDER BY received_at DESC LIMIT ?", (channel, limit))]


def inbound_times_of_contact(conn: sqlite3.Connection, contact_id: int, limit: int) -> list[str]:
    """The contact's latest ``limit`` inbound message times, on any channel, newest first."""
    return [r[0] for r in conn.execute(
        "SELECT received_at FROM events WHERE contact_id = ? ORDER BY received_at DESC LIMIT ?", (contact_id, limit))]


def last_reply_to_contact(conn: sqlite3.Connection, contact_id: int, channel: str) -> str | None:
    """When the latest reply to the contact on ``channel`` went or will go out (sent or still to send)."""
    return conn.execute(
        f"SELECT max(coalesce(sent_at, send_at)) FROM jobs WHERE contact_id = ? AND channel = ? "
        f"AND state IN {LIVE_JOB_STATES}", (contact_id, channel)).fetchone()[0]


def last_sent_among(conn: sqlite3.Connection, channel: str, recipients: Sequence[str]) -> dict[str, str]:
    """When a message was last sent to each address among ``recipients`` on ``channel`` (those never sent to
    are missing)."""
    return {str(r[0]): str(r[1]) for r in select_in(
        conn, "SELECT recipient, max(sent_at) FROM jobs WHERE channel = ? AND state = 'sent' AND recipient IN ({in}) "
        "GROUP BY recipient", recipients, before=(channel,))}


def conversation_before(conn: sqlite3.Connection, contact_id: int, event_id: int, received_at: str,
                        limit: int) -> list[sqlite3.Row]:
    """(role, text, at) of the ``limit`` messages before an event — the contact's and the replies sent —
    oldest first."""
    rows = conn.execute(
        "SELECT * FROM (SELECT 'contact' AS role, text, received_at AS at FROM events "
        "WHERE contact_id = ? AND id != ? AND received_at <= ? "
        "UNION ALL SELECT 'us', text, sent_at FROM jobs WHERE contact_id = ? AND state = 'sent' AND sent_at <= ?) AS h "
        "ORDER BY at DESC LIMIT ?",
        (contact_id, event_id, received_at, contact_id, received_at, limit),
    ).fetchall()
    return list(reversed(rows))
