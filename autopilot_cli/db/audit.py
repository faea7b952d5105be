"""The ``audit_log`` table: who did what to which object, and when.

Every operator decision (approve, reject, edit, opt-out, pause, resume, clear, convert, promote)
writes one row inside the transaction that made the change, so a change and its record land
together or not at all.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any


def record(conn: sqlite3.Connection, *, at: str, actor: str, action: str, object_type: str,
           object_id: str | int | None, detail: dict[str, Any] | None = None) -> None:
    """One audit row, inside the caller's transaction."""
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, object_type, object_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
        (at, actor, action, object_type, None if object_id is None else str(object_id),
         json.dumps(detail or {}, ensure_ascii=False)),
    )

