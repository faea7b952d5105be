"""The recent conversation handed to a drafter with each message (and shown to the reviewer)."""

from __future__ import annotations

import sqlite3

from ..db import activity
from ._base import HistoryItem


def recent_history(conn: sqlite3.Connection, event: sqlite3.Row, limit: int) -> list[HistoryItem]:
    """Up to ``limit`` messages before ``event`` in its contact's conversation, oldest first."""
    if limit <= 0:
        return []
    rows = activity.conversation_before(conn, event["contact_id"], event["id"], event["received_at"], limit)
    return [HistoryItem(role=r["role"], text=r["text"], at=r["at"]) for r in rows]
