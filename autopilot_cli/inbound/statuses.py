"""Delivery statuses from providers, applied to our outbound jobs.

Meta delivers statuses more than once and out of order (``read`` before
``delivered``). Each distinct (message, status) is stored once; the job keeps
the furthest status reached — sent < delivered < read, and failed is final —
so a late ``delivered`` never regresses a ``read``.

A status also settles a job whose send response was lost: a job left in
``sending`` or ``needs_reconcile`` that a status names (by provider message id,
or by the send key we put in ``biz_opaque_callback_data``) was accepted by the
provider, so it becomes ``sent`` (or ``failed``) instead of being re-sent.
"""

from __future__ import annotations

import json
import sqlite3

from ..clock import to_iso
from .records import STATUS_RANK, StatusUpdate


def _find_job(conn: sqlite3.Connection, status: StatusUpdate) -> sqlite3.Row | None:
    row = conn.execute(
        "SELECT id, state, delivery_status, provider_message_id FROM jobs "
        "WHERE channel = ? AND provider_message_id = ?",
        (status.channel, status.provider_message_id),
    ).fetchone()
    if row is None and status.callback_data:
        row = conn.execute(
            "SELECT id, state, delivery_status, provider_message_id FROM jobs WHERE send_key = ?",
            (status.callback_data,),
        ).fetchone()
    return row


def apply_status(conn: sqlite3.Connection, status: StatusUpdate, now: str) -> bool:
    """Store a status and advance its job; False when this status was already stored."""
    job = _find_job(conn, status)
    job_id = job["id"] if job is not None else None
    cursor = conn.execute(
        "INSERT INTO delivery_statuses (channel, provider_message_id, status, at, recipient, "
        "callback_data, errors, raw, job_id, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (channel, provider_message_id, status) DO NOTHING",
        (
            status.channel,
            status.provider_message_id,
            status.status,
            to_iso(status.at),
            status.recipient,
            status.callback_data,
            json.dumps(status.errors, ensure_ascii=False),
            json.dumps(status.raw, ensure_ascii=False) if status.raw is not None else None,
            job_id,
            now,
        ),
    )
    if cursor.rowcount == 0:
        return False
    if job is not None:
        _advance_job(conn, job, status, now)
    return True


def _advance_job(conn: sqlite3.Connection, job: sqlite3.Row, status: StatusUpdate, now: str) -> None:
    current = STATUS_RANK.get(job["delivery_status"] or "", 0)
    if current < STATUS_RANK[status.status] and job["delivery_status"] != "failed":
        conn.execute(
            "UPDATE jobs SET delivery_status = ?, delivery_updated_at = ?, updated_at = ? WHERE id = ?",
            (status.status, to_iso(status.at), now, job["id"]),
        )
    if job["state"] in ("sending", "needs_reconcile"):
        settled = "failed" if status.status == "failed" else "sent"
        error = json.dumps(status.errors, ensure_ascii=False) if status.errors else None
        conn.execute(
            "UPDATE jobs SET state = ?, provider_message_id = COALESCE(provider_message_id, ?), "
            "sent_at = CASE WHEN ? = 'sent' THEN COALESCE(sent_at, ?) ELSE sent_at END, "
            "error = COALESCE(?, error), updated_at = ? WHERE id = ?",
            (settled, status.provider_message_id, settled, to_iso(status.at), error, now, job["id"]),
        )


def adopt_statuses(conn: sqlite3.Connection, job_id: int, channel: str, provider_message_id: str, now: str) -> None:
    """Statuses that arrived before we recorded the provider id (a fast webhook) now join their job."""
    rows = conn.execute(
        "SELECT status, at FROM delivery_statuses WHERE channel = ? AND provider_message_id = ? AND job_id IS NULL",
        (channel, provider_message_id),
    ).fetchall()
    if not rows:
        return
    conn.execute(
        "UPDATE delivery_statuses SET job_id = ? WHERE channel = ? AND provider_message_id = ? AND job_id IS NULL",
        (job_id, channel, provider_message_id),
    )
    best = max(rows, key=lambda r: STATUS_RANK[r["status"]])
    current = conn.execute("SELECT delivery_status FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
    if STATUS_RANK.get(current or "", 0) < STATUS_RANK[best["status"]] and current != "failed":
        conn.execute(
            "UPDATE jobs SET delivery_status = ?, delivery_updated_at = ?, updated_at = ? WHERE id = ?",
            (best["status"], best["at"], now, job_id),
        )
