"""The ``delivery_statuses`` table, and the delivery columns of ``jobs`` that provider statuses move.

Every function runs inside the caller's transaction: storing a status and
advancing its job land together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ._batch import select_in


def job_by_provider_id(conn: sqlite3.Connection, channel: str, provider_message_id: str) -> sqlite3.Row | None:
    """(id, state, delivery_status, provider_message_id) of the job the provider knows by this id."""
    return conn.execute(
        "SELECT id, state, delivery_status, provider_message_id FROM jobs "
        "WHERE channel = ? AND provider_message_id = ?",
        (channel, provider_message_id),
    ).fetchone()


def job_by_send_key(conn: sqlite3.Connection, send_key: str) -> sqlite3.Row | None:
    """(id, state, delivery_status, provider_message_id) of the job with this send key."""
    return conn.execute(
        "SELECT id, state, delivery_status, provider_message_id FROM jobs WHERE send_key = ?",
        (send_key,),
    ).fetchone()


def store_status(conn: sqlite3.Connection, *, channel: str, provider_message_id: str, status: str, at: str,
                 recipient: str | None, callback_data: str | None, errors: str, raw: str | None,
                 job_id: int | None, ingested_at: str) -> bool:
    """Store one (message, status); False when it was already stored (providers repeat themselves)."""
    cursor = conn.execute(
        "INSERT INTO delivery_statuses (channel, provider_message_id, status, at, recipient, "
        "callback_data, errors, raw, job_id, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (channel, provider_message_id, status) DO NOTHING",
        (channel, provider_message_id, status, at, recipient, callback_data, errors, raw, job_id, ingested_at),
    )
    return cursor.rowcount != 0


def set_delivery_status(conn: sqlite3.Connection, job_id: int, status: str, at: str, now: str) -> None:
    """Record the job's furthest delivery status (the caller has checked it only moves forward)."""
    conn.execute(
        "UPDATE jobs SET delivery_status = ?, delivery_updated_at = ?, updated_at = ? WHERE id = ?",
        (status, at, now, job_id),
    )


def settle_job(conn: sqlite3.Connection, *, job_id: int, state: str, provider_message_id: str, at: str,
               error: str | None, now: str) -> None:
    """Settle a job whose send outcome was unknown as ``state`` (sent or failed), from a provider status."""
    conn.execute(
        "UPDATE jobs SET state = ?, provider_message_id = COALESCE(provider_message_id, ?), "
        "sent_at = CASE WHEN ? = 'sent' THEN COALESCE(sent_at, ?) ELSE sent_at END, "
        "error = COALESCE(?, error), updated_at = ? WHERE id = ?",
        (state, provider_message_id, state, at, error, now, job_id),
    )


def unattached_statuses(conn: sqlite3.Connection, channel: str,
                        provider_message_ids: Sequence[str]) -> list[sqlite3.Row]:
    """(provider_message_id, status, at) of the statuses stored for these messages before any job was known
    to carry their id."""
    return list(select_in(
        conn, "SELECT provider_message_id, status, at FROM delivery_statuses WHERE channel = ? AND "
        "provider_message_id IN ({in}) AND job_id IS NULL", provider_message_ids, before=(channel,)))


def attach_statuses(conn: sqlite3.Connection, job_id: int, channel: str, provider_message_id: str) -> None:
    """Link this message's unattached statuses to its job."""
    conn.execute(
        "UPDATE delivery_statuses SET job_id = ? WHERE channel = ? AND provider_message_id = ? AND job_id IS NULL",
        (job_id, channel, provider_message_id),
    )


def delivery_status(conn: sqlite3.Connection, job_id: int) -> str | None:
    """The job's delivery status so far; None when no status arrived yet."""
    value = conn.execute("SELECT delivery_status FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    return None if value is None else str(value)
