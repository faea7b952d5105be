"""Consent state and its audit trail.

Every change is a ``consent_changes`` row (when, which message, which rule,
scope, category) and the current state per (contact, scope, category) is kept
in ``consent``. Scope is ``all`` (every channel) or a channel name; category is
``all`` (every message) or ``marketing`` — a WhatsApp ``user_preferences``
marketing stop does not forbid answering the customer's own questions.
"""

from __future__ import annotations

import sqlite3

from ..clock import to_iso
from ..inbound.records import PreferenceUpdate


def record_change(
    conn: sqlite3.Connection,
    *,
    contact_id: int,
    action: str,
    scope: str,
    category: str,
    source: str,
    rule: str | None,
    at: str,
    event_id: int | None = None,
    detail: str | None = None,
) -> int:
    """Write the audit row and the new current state in the caller's transaction."""
    change_id = conn.execute(
        "INSERT INTO consent_changes (contact_id, at, action, scope, category, source, rule, event_id, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (contact_id, at, action, scope, category, source, rule, event_id, detail),
    ).lastrowid
    assert change_id is not None  # an INSERT always sets lastrowid
    state = "opted_out" if action == "opt_out" else "opted_in"
    conn.execute(
        "INSERT INTO consent (contact_id, scope, category, state, updated_at, change_id) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (contact_id, scope, category) DO UPDATE SET "
        "state = excluded.state, updated_at = excluded.updated_at, change_id = excluded.change_id "
        "WHERE excluded.updated_at >= consent.updated_at",
        (contact_id, scope, category, state, at, change_id),
    )
    return int(change_id)


def apply_preference(conn: sqlite3.Connection, contact_id: int, pref: PreferenceUpdate) -> bool:
    """Record a provider-reported preference once (Meta retries); False if already recorded."""
    at = to_iso(pref.at)
    seen = conn.execute(
        "SELECT 1 FROM consent_changes WHERE contact_id = ? AND at = ? AND action = ? "
        "AND source = 'provider' AND scope = ? AND category = ?",
        (contact_id, at, pref.action, pref.channel, pref.category),
    ).fetchone()
    if seen:
        return False
    rule = f"{pref.channel} user_preferences"
    if pref.action == "opt_out" and pref.category == "all":
        # Every message stopped: like any opt-out, what is still to be sent on the channel goes too.
        opt_out_and_cancel(conn, contact_id=contact_id, scope=pref.channel, source="provider", rule=rule, at=at,
                           job_error="contact opted out (provider)", record_repeat=True)
        return True
    # Meta's user_preferences reports *marketing* stops and resumes: the customer still expects the
    # answers to their own questions, so replies in review or scheduled stay.
    record_change(conn, contact_id=contact_id, action=pref.action, scope=pref.channel, category=pref.category,
                  source="provider", rule=rule, at=at)
    return True


def opt_out_and_cancel(
    conn: sqlite3.Connection,
    *,
    contact_id: int,
    scope: str,
    source: str,
    rule: str,
    at: str,
    event_id: int | None = None,
    detail: str | None = None,
    job_error: str = "contact opted out",
    record_repeat: bool = False,
) -> tuple[bool, int, int]:
    """An opt-out someone recorded for the contact (no confirmation message: it did not come by message),
    in the caller's transaction: the change — unless already opted out on this scope — and the
    cancellation of the contact's jobs not yet sent and drafts in review on that scope.

    Returns (recorded, cancelled jobs, cancelled drafts). The one opt-out path: an opt-out message
    (``process``, with ``record_repeat``: every STOP the customer sends is on the record), the
    one-click unsubscribe link (``serve``), the review screen's ``o`` and ``contacts opt-out``.
    Jobs already ``claimed`` by a sending run are cancelled too: ``execute`` checks the job's state
    again before it sends, so the claim never outruns the opt-out.
    """
    current = conn.execute(
        "SELECT state FROM consent WHERE contact_id = ? AND scope = ? AND category = 'all'", (contact_id, scope)
    ).fetchone()
    recorded = record_repeat or current is None or current["state"] != "opted_out"
    if recorded:
        record_change(conn, contact_id=contact_id, action="opt_out", scope=scope, category="all", source=source,
                      rule=rule, at=at, event_id=event_id, detail=detail)
    channel_filter = "" if scope == "all" else " AND channel = ?"
    params: tuple = (at, contact_id) + (() if scope == "all" else (scope,))
    jobs = conn.execute(
        f"UPDATE jobs SET state = 'cancelled', error = ?, updated_at = ? "
        f"WHERE contact_id = ? AND state IN ('scheduled', 'retry_wait', 'claimed'){channel_filter}",
        (job_error, *params)).rowcount
    drafts = conn.execute(
        f"UPDATE drafts SET state = 'cancelled', updated_at = ? WHERE contact_id = ? AND state = 'review'"
        f"{channel_filter}", params).rowcount
    return recorded, jobs, drafts


def opted_out(conn: sqlite3.Connection, contact_id: int, channel: str) -> sqlite3.Row | None:
    """The contact's opt-out that covers ``channel`` (scope, rule, at), or None."""
    return conn.execute(
        "SELECT c.scope, ch.rule, ch.at FROM consent c LEFT JOIN consent_changes ch ON ch.id = c.change_id "
        "WHERE c.contact_id = ? AND c.category = 'all' AND c.state = 'opted_out' AND c.scope IN ('all', ?)",
        (contact_id, channel),
    ).fetchone()

