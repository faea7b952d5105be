"""What reviewers did with drafts: the outcomes confidence is calibrated from."""

from __future__ import annotations

import sqlite3

# A person decided it: approved (as drafted, or edited) or rejected. Automatic sends are not outcomes.
_DECIDED = "d.decided_by IS NOT NULL AND d.state IN ('approved', 'scheduled', 'rejected')"
# CASE, not a bare comparison: PostgreSQL has no sum() of a boolean.
_UNCHANGED = "d.state != 'rejected' AND (d.approved_text IS NULL OR d.approved_text = d.text)"


def outcomes(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Per (drafter, intent): unchanged approvals, edited approvals, rejections."""
    return conn.execute(
        "SELECT coalesce(d.drafter, '') AS drafter, coalesce(d.intent, '') AS intent, "
        f"sum(CASE WHEN {_UNCHANGED} THEN 1 ELSE 0 END) AS unchanged, "
        "sum(CASE WHEN d.state != 'rejected' AND d.approved_text IS NOT NULL AND d.approved_text != d.text "
        "THEN 1 ELSE 0 END) AS edited, "
        "sum(CASE WHEN d.state = 'rejected' THEN 1 ELSE 0 END) AS rejected "
        f"FROM drafts d WHERE {_DECIDED} GROUP BY 1, 2").fetchall()


def drafts_by_intent(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Per (drafter, intent): every draft made, and the mean raw and stored confidence."""
    return conn.execute(
        "SELECT coalesce(drafter, '') AS drafter, coalesce(intent, '') AS intent, count(*) AS drafts, "
        "avg(coalesce(raw_confidence, confidence)) AS raw, avg(confidence) AS used "
        "FROM drafts WHERE drafter IS NOT NULL GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2").fetchall()


def decided(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Every draft a person decided: its raw confidence and whether it went out unchanged."""
    return conn.execute(
        "SELECT coalesce(d.raw_confidence, d.confidence, 0) AS raw, coalesce(d.confidence, 0) AS used, "
        f"CASE WHEN {_UNCHANGED} THEN 1 ELSE 0 END AS unchanged "
        f"FROM drafts d WHERE {_DECIDED}").fetchall()
