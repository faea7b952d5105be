"""Consent state and its audit trail.

Every change is a ``consent_changes`` row (when, which message, which rule,
scope, category) and the current state per (contact, scope, category) is kept
in ``consent``. Scope is ``all`` (every channel) or a channel name; category is
``all`` (every message) or ``marketing`` — a WhatsApp ``user_preferences``
marketing stop does not forbid answering the customer's own questions.
"""

from __future__ import annotations

import sqlite3

from .clock import to_iso
from .events import PreferenceUpdate


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
    record_change(
        conn,
        contact_id=contact_id,
        action=pref.action,
        scope=pref.channel,
        category=pref.category,
        source="provider",
        rule=f"{pref.channel} user_preferences",
        at=at,
    )
    return True
