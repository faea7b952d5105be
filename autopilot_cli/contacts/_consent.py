"""Consent state and its audit trail.

Every change is a ``consent_changes`` row (when, which message, which rule,
scope, category) and the current state per (contact, scope, category) is kept
in ``consent``. Scope is ``all`` (every channel) or a channel name; category is
``all`` (every message) or ``marketing`` — a WhatsApp ``user_preferences``
marketing stop does not forbid answering the customer's own questions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..clock import to_iso
from ..db import consent as consent_rows
from ..inbound import PreferenceUpdate


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
    change_id = consent_rows.insert_change(conn, contact_id=contact_id, at=at, action=action, scope=scope,
                                           category=category, source=source, rule=rule, event_id=event_id,
                                           detail=detail)
    state = "opted_out" if action == "opt_out" else "opted_in"
    consent_rows.set_state(conn, contact_id=contact_id, scope=scope, category=category, state=state, at=at,
                           change_id=change_id)
    return change_id


def apply_preference(conn: sqlite3.Connection, contact_id: int, pref: PreferenceUpdate) -> bool:
    """Record a provider-reported preference once (Meta retries); False if already recorded."""
    at = to_iso(pref.at)
    if consent_rows.provider_change_seen(conn, contact_id=contact_id, at=at, action=pref.action, scope=pref.channel,
                                         category=pref.category):
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
    recorded = record_repeat or consent_rows.state_for_all_messages(conn, contact_id, scope) != "opted_out"
    if recorded:
        record_change(conn, contact_id=contact_id, action="opt_out", scope=scope, category="all", source=source,
                      rule=rule, at=at, event_id=event_id, detail=detail)
    jobs, drafts = consent_rows.cancel_pending(conn, contact_id=contact_id, scope=scope, at=at, job_error=job_error)
    return recorded, jobs, drafts


def opted_out(conn: sqlite3.Connection, contact_id: int, channel: str) -> sqlite3.Row | None:
    """The contact's opt-out that covers ``channel`` (scope, rule, at), or None."""
    return consent_rows.opt_out_covering(conn, contact_id, channel)


def opted_out_among(conn: sqlite3.Connection, contact_ids: Sequence[int], channel: str) -> set[int]:
    """Those among ``contact_ids`` that ``opted_out`` would answer for (one statement for a wave of sends)."""
    return consent_rows.opted_out_among(conn, contact_ids, channel)

