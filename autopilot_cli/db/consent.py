"""The ``consent`` (current state per contact, scope and category) and ``consent_changes`` (every
change, with who or what made it) tables, and what an opt-out cancels in ``jobs`` and ``drafts``."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ._batch import select_in


def insert_change(conn: sqlite3.Connection, *, contact_id: int, at: str, action: str, scope: str, category: str,
                  source: str, rule: str | None, event_id: int | None, detail: str | None) -> int:
    """One ``consent_changes`` row; its id."""
    change_id = conn.execute(
        "INSERT INTO consent_changes (contact_id, at, action, scope, category, source, rule, event_id, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (contact_id, at, action, scope, category, source, rule, event_id, detail),
    ).lastrowid
    assert change_id is not None  # an INSERT always sets lastrowid
    return change_id


def set_state(conn: sqlite3.Connection, *, contact_id: int, scope: str, category: str, state: str, at: str,
              change_id: int) -> None:
    """The current state, unless a later change is already recorded (provider events arrive out of order)."""
    conn.execute(
        "INSERT INTO consent (contact_id, scope, category, state, updated_at, change_id) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (contact_id, scope, category) DO UPDATE SET "
        "state = excluded.state, updated_at = excluded.updated_at, change_id = excluded.change_id "
        "WHERE excluded.updated_at >= consent.updated_at",
        (contact_id, scope, category, state, at, change_id),
    )


def provider_change_seen(conn: sqlite3.Connection, *, contact_id: int, at: str, action: str, scope: str,
                         category: str) -> bool:
    """Whether this provider-reported change is already recorded (Meta retries deliveries)."""
    return conn.execute(
        "SELECT 1 FROM consent_changes WHERE contact_id = ? AND at = ? AND action = ? "
        "AND source = 'provider' AND scope = ? AND category = ?",
        (contact_id, at, action, scope, category),
    ).fetchone() is not None


def state_for_all_messages(conn: sqlite3.Connection, contact_id: int, scope: str) -> str | None:
    """``opted_out`` / ``opted_in`` for every message on ``scope``; None when nothing is recorded."""
    row = conn.execute(
        "SELECT state FROM consent WHERE contact_id = ? AND scope = ? AND category = 'all'", (contact_id, scope)
    ).fetchone()
    return None if row is None else str(row["state"])


def cancel_pending(conn: sqlite3.Connection, *, contact_id: int, scope: str, at: str,
                   job_error: str) -> tuple[int, int]:
    """Cancel the contact's jobs not yet sent (scheduled, retry_wait, claimed) and drafts in review on
    ``scope`` (``all``: every channel); (jobs, drafts) cancelled."""
    channel_filter = "" if scope == "all" else " AND channel = ?"
    params: tuple = (at, contact_id) + (() if scope == "all" else (scope,))
    jobs = conn.execute(
        f"UPDATE jobs SET state = 'cancelled', error = ?, updated_at = ? "
        f"WHERE contact_id = ? AND state IN ('scheduled', 'retry_wait', 'claimed'){channel_filter}",
        (job_error, *params)).rowcount
    drafts = conn.execute(
        f"UPDATE drafts SET state = 'cancelled', updated_at = ? WHERE contact_id = ? AND state = 'review'"
        f"{channel_filter}", params).rowcount
    return jobs, drafts


# An opt-out of every message, on all channels or on the one bound to the placeholder.
_COVERING = "c.category = 'all' AND c.state = 'opted_out' AND c.scope IN ('all', ?)"


def opt_out_covering(conn: sqlite3.Connection, contact_id: int, channel: str) -> sqlite3.Row | None:
    """The contact's opt-out that covers ``channel`` (scope, rule, at), or None."""
    return conn.execute(
        "SELECT c.scope, ch.rule, ch.at FROM consent c LEFT JOIN consent_changes ch ON ch.id = c.change_id "
        f"WHERE c.contact_id = ? AND {_COVERING}",
        (contact_id, channel),
    ).fetchone()


def opted_out_among(conn: sqlite3.Connection, contact_ids: Sequence[int], channel: str) -> set[int]:
    """The contacts among ``contact_ids`` with an opt-out that covers ``channel``."""
    return {int(r[0]) for r in select_in(
        conn, f"SELECT c.contact_id FROM consent c WHERE c.contact_id IN ({{in}}) AND {_COVERING}", contact_ids,
        after=(channel,))}


def opted_out_scopes(conn: sqlite3.Connection, contact_id: int) -> list[str]:
    """The scopes where the contact opted out of every message, ``all`` first."""
    return [r["scope"] for r in conn.execute(
        "SELECT scope FROM consent WHERE contact_id = ? AND category = 'all' AND state = 'opted_out' "
        "ORDER BY scope != 'all', scope", (contact_id,))]


def entries(conn: sqlite3.Connection, contact_id: int) -> list[sqlite3.Row]:
    """Each recorded consent state of a contact with the change behind it, ``all`` scope first."""
    return conn.execute(
        "SELECT c.scope, c.category, c.state, c.updated_at, ch.source, ch.rule, ch.detail, ch.event_id "
        "FROM consent c LEFT JOIN consent_changes ch ON ch.id = c.change_id WHERE c.contact_id = ? "
        "ORDER BY c.scope != 'all', c.scope, c.category", (contact_id,)).fetchall()
