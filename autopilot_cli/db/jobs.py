"""The ``jobs`` table as ``execute`` moves it: due, claimed, sending, and each outcome.

Every function runs inside the caller's transaction (``Store.transaction()``), except the
read-only ``anything_due``. A transition names the state it expects and the run that owns the job
(``lease_owner``), so a run whose lease was taken over changes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

from ._batch import by_id, chunks, padded, placeholders, select_in
from .connection import Store, is_postgres

DUE = (
    "((state IN ('scheduled', 'retry_wait') AND send_at <= :now) "
    "OR (state = 'claimed' AND lease_until < :now))"
)


def anything_due(store: Store, now: str) -> bool:
    """Whether any job is due, or left in ``sending`` past its lease (one indexed read, no lock)."""
    return bool(store.query(
        f"SELECT 1 FROM jobs WHERE {DUE} OR (state = 'sending' AND lease_until < :now) LIMIT 1", {"now": now}
    ))


def sending_past_lease(conn: sqlite3.Connection, now: str) -> list[sqlite3.Row]:
    """(id, channel) of jobs whose sending run stopped before recording the outcome."""
    return conn.execute("SELECT id, channel FROM jobs WHERE state = 'sending' AND lease_until < ?",
                        (now,)).fetchall()


def requeue_expired(conn: sqlite3.Connection, job_id: int, now: str) -> None:
    """A ``sending`` job back to ``retry_wait`` (its adapter's resend cannot duplicate)."""
    conn.execute("UPDATE jobs SET state = 'retry_wait', lease_owner = NULL, updated_at = ? "
                 "WHERE id = ? AND state = 'sending'", (now, job_id))


def mark_needs_reconcile(conn: sqlite3.Connection, job_id: int, now: str, error: str) -> None:
    """A ``sending`` job whose outcome is unknown, for a human to settle."""
    conn.execute("UPDATE jobs SET state = 'needs_reconcile', lease_owner = NULL, updated_at = ?, "
                 "error = ? WHERE id = ? AND state = 'sending'", (now, error, job_id))


def due_channels(conn: sqlite3.Connection, now: str) -> list[str]:
    """Channels with at least one due job."""
    return [r[0] for r in conn.execute(f"SELECT DISTINCT channel FROM jobs WHERE {DUE}", {"now": now})]


def claim_due(conn: sqlite3.Connection, *, channel: str, owner: str, lease_until: str, now: str,
              size: int) -> list[sqlite3.Row]:
    """Claim up to ``size`` due jobs of one channel, oldest ``send_at`` first; the rows claimed."""
    # On PostgreSQL the claim runs without the one write lock: rows another worker is claiming are skipped,
    # not waited for, and a row that stopped being due before its lock was taken is not returned.
    skip_locked = " FOR UPDATE SKIP LOCKED" if is_postgres(conn) else ""
    return conn.execute(
        f"UPDATE jobs SET state = 'claimed', lease_owner = :owner, lease_until = :lease, updated_at = :now "
        f"WHERE id IN (SELECT id FROM jobs WHERE channel = :channel AND {DUE} "
        f"ORDER BY send_at, id LIMIT :size{skip_locked}) RETURNING id, channel, draft_id, send_key, send_at, recipient",
        {"owner": owner, "lease": lease_until, "now": now, "channel": channel, "size": size},
    ).fetchall()


def claimed_jobs(conn: sqlite3.Connection, job_ids: Sequence[int], owner: str,
                 state: str) -> dict[int, sqlite3.Row]:
    """The jobs among ``job_ids`` this run owns in ``state``, by id, with what sending needs of their event
    and draft; a job taken over by another run is missing."""
    return {int(row["id"]): row for row in select_in(
        conn, "SELECT j.*, e.external_id, e.subject, e.thread_id, e.metadata AS event_metadata, d.approved_text "
        "FROM jobs j JOIN events e ON e.id = j.event_id JOIN drafts d ON d.id = j.draft_id "
        "WHERE j.id IN ({in}) AND j.lease_owner = ? AND j.state = ?", job_ids, after=(owner, state))}


def mark_sending(conn: sqlite3.Connection, marks: Sequence[tuple[int, str | None]], *, owner: str, now: str,
                 lease_until: str) -> set[int]:
    """``claimed`` → ``sending`` for each (job id, message id), counting the attempt; committed before the
    request leaves. The ids marked: a job another run took over meanwhile is not."""
    marked: set[int] = set()
    for part in chunks(marks, 3):
        ids = padded([job_id for job_id, _ in part])
        message_id, message_params = by_id("message_id", [(job_id, m) for job_id, m in part if m is not None])
        marked.update(int(r[0]) for r in conn.execute(
            "UPDATE jobs SET state = 'sending', attempts = attempts + 1, sending_at = ?, lease_until = ?, "
            f"message_id = {message_id}, updated_at = ? WHERE id IN ({placeholders(len(ids))}) "
            "AND lease_owner = ? AND state = 'claimed' RETURNING id",
            (now, lease_until, *message_params, now, *ids, owner)))
    return marked


def attempts(conn: sqlite3.Connection, job_id: int) -> int:
    """How many attempts the job has made (at least 1 once it was sent)."""
    return int(conn.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()[0] or 1)


class Settle(NamedTuple):
    """How one job this run owns is settled. ``None`` keeps the stored error, code, send time and
    provider id; ``uncount`` takes back the attempt (a paused channel refused everything, which is not
    the job's fault)."""

    job_id: int
    from_state: str
    state: str
    error: str | None = None
    error_code: str | None = None
    send_at: str | None = None
    provider_id: str | None = None
    uncount: bool = False


def finish(conn: sqlite3.Connection, settles: Sequence[Settle], *, owner: str, now: str) -> set[int]:
    """Settle jobs this run owns, each in its ``from_state``; the ids settled (not those another run took
    over). At most one ``Settle`` per job. One statement per group of jobs settled alike (a wave sent: one)."""
    alike: dict[tuple, list[Settle]] = {}
    for settle in settles:
        alike.setdefault((settle.from_state, settle.state, settle.error, settle.error_code, settle.send_at,
                          settle.uncount), []).append(settle)
    settled: set[int] = set()
    for (from_state, state, error, error_code, send_at, uncount), group in alike.items():
        for part in chunks(group, 3):
            ids = padded([s.job_id for s in part])
            provider_id, provider_params = by_id(
                "provider_message_id", [(s.job_id, s.provider_id) for s in part if s.provider_id is not None])
            settled.update(int(r[0]) for r in conn.execute(
                "UPDATE jobs SET state = ?, error = COALESCE(?, error), error_code = COALESCE(?, error_code), "
                f"send_at = COALESCE(?, send_at), provider_message_id = {provider_id}, "
                "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, attempts = attempts - ?, "
                f"lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id IN ({placeholders(len(ids))}) "
                "AND lease_owner = ? AND state = ? RETURNING id",
                (state, error, error_code, send_at, *provider_params, state, now, int(uncount), now, *ids, owner,
                 from_state)))
    return settled


def settle_reconcile_as_sent(conn: sqlite3.Connection, job_id: int, provider_id: str, now: str) -> bool:
    """A ``needs_reconcile`` job the provider confirmed after all; False when it is in another state."""
    return bool(conn.execute(
        "UPDATE jobs SET state = 'sent', provider_message_id = ?, sent_at = ?, updated_at = ? "
        "WHERE id = ? AND state = 'needs_reconcile'", (provider_id, now, now, job_id)).rowcount)


# -- what operators do to jobs the engine will not decide alone -------------
def state_of(conn: sqlite3.Connection, job_id: int) -> str | None:
    """The job's state; None when there is no such job."""
    row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return None if row is None else str(row["state"])


def reconcile(conn: sqlite3.Connection, job_id: int, target: str, now: str, provider_id: str | None) -> None:
    """Settle a ``needs_reconcile`` job as ``sent``, ``retry_wait`` (send again now) or ``cancelled``."""
    conn.execute(
        "UPDATE jobs SET state = ?, send_at = CASE WHEN ? = 'retry_wait' THEN ? ELSE send_at END, "
        "sent_at = CASE WHEN ? = 'sent' THEN coalesce(sent_at, ?) ELSE sent_at END, "
        "provider_message_id = coalesce(?, provider_message_id), updated_at = ? WHERE id = ?",
        (target, target, now, target, now, provider_id, now, job_id),
    )


def failed_ids(conn: sqlite3.Connection) -> list[int]:
    """Every failed job, oldest first."""
    return [r[0] for r in conn.execute("SELECT id FROM jobs WHERE state = 'failed' ORDER BY id")]


def requeue_failed(conn: sqlite3.Connection, job_id: int, now: str) -> None:
    """A failed job back to the queue, due now, its attempts reset."""
    conn.execute("UPDATE jobs SET state = 'retry_wait', attempts = 0, send_at = ?, updated_at = ? WHERE id = ?",
                 (now, now, job_id))


def needing_reconcile(store: Store) -> list[sqlite3.Row]:
    """Jobs whose outcome is unknown, oldest first, with what an operator needs to settle them."""
    return store.query(
        "SELECT id, channel, recipient, state, attempts, sending_at, provider_message_id, error, text "
        "FROM jobs WHERE state = 'needs_reconcile' ORDER BY id")


# -- scheduling replies --------------------------------------------------------
def schedule(conn: sqlite3.Connection, *, draft_id: int, event_id: int, contact_id: int, channel: str,
             recipient: str, send_key: str, text: str, text_sha256: str, send_at: str, variant_id: int | None,
             variant: str | None, origin: str, explanation: str | None, now: str) -> int:
    """A new ``scheduled`` job; its id. ``send_key`` and ``draft_id`` are unique: a second job for the
    same reply raises ``sqlite3.IntegrityError``."""
    return int(conn.execute(
        "INSERT INTO jobs (draft_id, event_id, contact_id, channel, recipient, send_key, text, text_sha256, "
        "send_at, state, variant_id, variant, origin, explanation, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?, ?, ?, ?, ?)",
        (draft_id, event_id, contact_id, channel, recipient, send_key, text, text_sha256, send_at, variant_id,
         variant, origin, explanation, now, now),
    ).lastrowid or 0)


def for_draft(conn: sqlite3.Connection, draft_id: int) -> sqlite3.Row | None:
    """(id, state) of the job made from a draft, if one was."""
    return conn.execute("SELECT id, state FROM jobs WHERE draft_id = ?", (draft_id,)).fetchone()


def reschedule_approved(conn: sqlite3.Connection, job_id: int, *, send_key: str, text: str, text_sha256: str,
                        send_at: str, explanation: str, now: str) -> None:
    """Reuse a skipped or cancelled job for the approved text: scheduled afresh, attempts and errors cleared."""
    conn.execute(
        "UPDATE jobs SET send_key = ?, text = ?, text_sha256 = ?, send_at = ?, state = 'scheduled', origin = "
        "'approved', explanation = ?, attempts = 0, lease_owner = NULL, lease_until = NULL, error = NULL, "
        "error_code = NULL, sending_at = NULL, updated_at = ? WHERE id = ?",
        (send_key, text, text_sha256, send_at, explanation, now, job_id))


def get(store: Store, job_id: int) -> sqlite3.Row | None:
    """One job, every column."""
    rows = store.query("SELECT * FROM jobs WHERE id = ?", (job_id,))
    return rows[0] if rows else None


def confirmation_since_opt_in(conn: sqlite3.Connection, contact_id: int) -> bool:
    """Whether an opt-out confirmation was already made for the contact since they last opted in."""
    return conn.execute(
        "SELECT 1 FROM jobs WHERE contact_id = ? AND origin = 'confirmation' AND created_at > ("
        "SELECT coalesce(max(at), '') FROM consent_changes WHERE contact_id = ? AND action = 'opt_in')",
        (contact_id, contact_id),
    ).fetchone() is not None
