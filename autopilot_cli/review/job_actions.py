"""Operator decisions on jobs the engine will not decide alone: reconcile, retry, resume a channel.

Each action is one ``BEGIN IMMEDIATE`` transaction that checks the job's
current state, and writes an ``audit_log`` row naming the operator.
"""

from __future__ import annotations

import json
import sqlite3

from pydantic import BaseModel

from ..clock import Clock, to_iso
from ..db.connection import Store
from ..errors import AutopilotError, NotFound


class JobChange(BaseModel):
    job_id: int
    before: str
    after: str


def _audit(conn: sqlite3.Connection, at: str, actor: str, action: str, job_id: int, detail: dict) -> None:
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, object_type, object_id, detail) VALUES (?, ?, ?, 'job', ?, ?)",
        (at, actor, action, str(job_id), json.dumps(detail)),
    )


def reconcile(store: Store, clock: Clock, actor: str, job_ids: list[int], decision: str,
              provider_id: str | None = None) -> list[JobChange]:
    """``sent``: it did go out; ``resend``: it did not, send it again; ``cancel``: drop it."""
    target = {"sent": "sent", "resend": "retry_wait", "cancel": "cancelled"}[decision]
    now = to_iso(clock.now())
    changes = []
    with store.transaction() as conn:
        for job_id in job_ids:
            _require_state(conn, job_id, "needs_reconcile")
            conn.execute(
                "UPDATE jobs SET state = ?, send_at = CASE WHEN ? = 'retry_wait' THEN ? ELSE send_at END, "
                "sent_at = CASE WHEN ? = 'sent' THEN coalesce(sent_at, ?) ELSE sent_at END, "
                "provider_message_id = coalesce(?, provider_message_id), updated_at = ? WHERE id = ?",
                (target, target, now, target, now, provider_id, now, job_id),
            )
            _audit(conn, now, actor, f"reconcile:{decision}", job_id, {"provider_message_id": provider_id})
            changes.append(JobChange(job_id=job_id, before="needs_reconcile", after=target))
    return changes


def _require_state(conn: sqlite3.Connection, job_id: int, state: str) -> None:
    row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise NotFound(f"no job with id {job_id}")
    if row["state"] != state:
        raise AutopilotError(f"job {job_id} is {row['state']}, not {state}; nothing changed")


def retry(store: Store, clock: Clock, actor: str, job_ids: list[int] | None) -> list[JobChange]:
    """Failed jobs back to the queue, attempts reset; ``None`` means every failed job."""
    now = to_iso(clock.now())
    changes = []
    with store.transaction() as conn:
        if job_ids is None:
            job_ids = [r[0] for r in conn.execute("SELECT id FROM jobs WHERE state = 'failed' ORDER BY id")]
        for job_id in job_ids:
            _require_state(conn, job_id, "failed")
            conn.execute("UPDATE jobs SET state = 'retry_wait', attempts = 0, send_at = ?, updated_at = ? WHERE id = ?",
                         (now, now, job_id))
            _audit(conn, now, actor, "retry", job_id, {})
            changes.append(JobChange(job_id=job_id, before="failed", after="retry_wait"))
    return changes


def resume_channel(store: Store, clock: Clock, actor: str, channel: str) -> bool:
    now = to_iso(clock.now())
    with store.transaction() as conn:
        resumed = conn.execute(
            "UPDATE channel_state SET paused_at = NULL, reason = NULL WHERE channel = ? AND paused_at IS NOT NULL",
            (channel,),
        ).rowcount
        if resumed:
            conn.execute(
                "INSERT INTO audit_log (at, actor, action, object_type, object_id, detail) "
                "VALUES (?, ?, 'resume', 'channel', ?, '{}')", (now, actor, channel))
    return bool(resumed)


def jobs_needing_reconcile(store: Store) -> list[dict]:
    return [dict(r) for r in store.query(
        "SELECT id, channel, recipient, state, attempts, sending_at, provider_message_id, error, text "
        "FROM jobs WHERE state = 'needs_reconcile' ORDER BY id")]
