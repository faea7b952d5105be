"""The ``drafts`` table: replies waiting for review, approved, rejected or sent back."""

from __future__ import annotations

import json
import sqlite3


def send_back_to_review(conn: sqlite3.Connection, draft_id: int, reason: str, now: str) -> None:
    """Put a draft back in the review queue, adding ``reason`` to its reasons once."""
    draft = conn.execute("SELECT reasons FROM drafts WHERE id = ?", (draft_id,)).fetchone()
    reasons = json.loads(draft["reasons"] or "[]")
    if reason not in reasons:
        reasons.append(reason)
    conn.execute("UPDATE drafts SET state = 'review', ready = 0, reasons = ?, updated_at = ? WHERE id = ?",
                 (json.dumps(reasons), now, draft_id))
