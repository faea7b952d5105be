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
from ..db import deliveries
from ._records import STATUS_RANK, StatusUpdate


def _find_job(conn: sqlite3.Connection, status: StatusUpdate) -> sqlite3.Row | None:
    row = deliveries.job_by_provider_id(conn, status.channel, status.provider_message_id)
    if row is None and status.callback_data:
        row = deliveries.job_by_send_key(conn, status.callback_data)
    return row


def apply_status(conn: sqlite3.Connection, status: StatusUpdate, now: str) -> bool:
    """Store a status and advance its job; False when this status was already stored."""
    job = _find_job(conn, status)
    job_id = job["id"] if job is not None else None
    stored = deliveries.store_status(
        conn,
        channel=status.channel,
        provider_message_id=status.provider_message_id,
        status=status.status,
        at=to_iso(status.at),
        recipient=status.recipient,
        callback_data=status.callback_data,
        errors=json.dumps(status.errors, ensure_ascii=False),
        raw=json.dumps(status.raw, ensure_ascii=False) if status.raw is not None else None,
        job_id=job_id,
        ingested_at=now,
    )
    if not stored:
        return False
    if job is not None:
        _advance_job(conn, job, status, now)
    return True


def _advance_job(conn: sqlite3.Connection, job: sqlite3.Row, status: StatusUpdate, now: str) -> None:
    current = STATUS_RANK.get(job["delivery_status"] or "", 0)
    if current < STATUS_RANK[status.status] and job["delivery_status"] != "failed":
        deliveries.set_delivery_status(conn, job["id"], status.status, to_iso(status.at), now)
    if job["state"] in ("sending", "needs_reconcile"):
        settled = "failed" if status.status == "failed" else "sent"
        error = json.dumps(status.errors, ensure_ascii=False) if status.errors else None
        deliveries.settle_job(conn, job_id=job["id"], state=settled, provider_message_id=status.provider_message_id,
                              at=to_iso(status.at), error=error, now=now)


def adopt_statuses(conn: sqlite3.Connection, channel: str, sent: dict[str, int], now: str) -> None:
    """Statuses that arrived before we recorded the provider id (a fast webhook) now join their job.

    ``sent``: provider message id → job id, for jobs on ``channel`` just recorded as sent."""
    if not sent:
        return
    early: dict[str, list[sqlite3.Row]] = {}
    for row in deliveries.unattached_statuses(conn, channel, list(sent)):
        early.setdefault(row["provider_message_id"], []).append(row)
    for provider_message_id, rows in early.items():
        job_id = sent[provider_message_id]
        deliveries.attach_statuses(conn, job_id, channel, provider_message_id)
        best = max(rows, key=lambda r: STATUS_RANK[r["status"]])
        current = deliveries.delivery_status(conn, job_id)
        if STATUS_RANK.get(current or "", 0) < STATUS_RANK[best["status"]] and current != "failed":
            deliveries.set_delivery_status(conn, job_id, best["status"], best["at"], now)
