"""Operator decisions on jobs the engine will not decide alone: reconcile, retry, resume a channel.

Each action is one ``BEGIN IMMEDIATE`` transaction that checks the job's
current state, and writes an ``audit_log`` row naming the operator.
"""

from __future__ import annotations

import sqlite3

from pydantic import BaseModel

from ..clock import Clock, to_iso
from ..db import audit, channel_state, jobs
from ..db.connection import Store
from ..errors import AutopilotError, NotFound


class JobChange(BaseModel):
    job_id: int
    before: str
    after: str


def _audit(conn: sqlite3.Connection, at: str, actor: str, action: str, job_id: int, detail: dict) -> None:
    audit.record(conn, at=at, actor=actor, action=action, object_type="job", object_id=job_id, detail=detail)


def reconcile(store: Store, clock: Clock, actor: str, job_ids: list[int], decision: str,
              provider_id: str | None = None) -> list[JobChange]:
    """``sent``: it did go out; ``resend``: it did not, send it again; ``cancel``: drop it."""
    target = {"sent": "sent", "resend": "retry_wait", "cancel": "cancelled"}[decision]
    now = to_iso(clock.now())
    changes = []
    with store.transaction() as conn:
        for job_id in job_ids:
            _require_state(conn, job_id, "needs_reconcile")
            jobs.reconcile(conn, job_id, target, now, provider_id)
            _audit(conn, now, actor, f"reconcile:{decision}", job_id, {"provider_message_id": provider_id})
            changes.append(JobChange(job_id=job_id, before="needs_reconcile", after=target))
    return changes


def _require_state(conn: sqlite3.Connection, job_id: int, state: str) -> None:
    found = jobs.state_of(conn, job_id)
    if found is None:
        raise NotFound(f"no job with id {job_id}")
    if found != state:
        raise AutopilotError(f"job {job_id} is {found}, not {state}; nothing changed")


def retry(store: Store, clock: Clock, actor: str, job_ids: list[int] | None) -> list[JobChange]:
    """Failed jobs back to the queue, attempts reset; ``None`` means every failed job."""
    now = to_iso(clock.now())
    changes = []
    with store.transaction() as conn:
        if job_ids is None:
            job_ids = jobs.failed_ids(conn)
        for job_id in job_ids:
            _require_state(conn, job_id, "failed")
            jobs.requeue_failed(conn, job_id, now)
            _audit(conn, now, actor, "retry", job_id, {})
            changes.append(JobChange(job_id=job_id, before="failed", after="retry_wait"))
    return changes


def resume_channel(store: Store, clock: Clock, actor: str, channel: str) -> bool:
    now = to_iso(clock.now())
    with store.transaction() as conn:
        resumed = channel_state.resume(conn, channel)
        if resumed:
            audit.record(conn, at=now, actor=actor, action="resume", object_type="channel", object_id=channel)
    return resumed


def jobs_needing_reconcile(store: Store) -> list[dict]:
    return [dict(r) for r in jobs.needing_reconcile(store)]
