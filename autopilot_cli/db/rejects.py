"""The ``rejects`` table: records that could not be ingested, kept so nothing is lost silently.

``ingest`` (and ``serve``, through the same code) stores one row per bad record:
where it was (source file, line, JSON index), why, and the raw text (first
64 KiB). ``autopilot rejects`` lists them, ``autopilot rejects clear`` deletes
them once dealt with; ``status`` counts them. All the table's SQL lives here.
"""

from __future__ import annotations

import hashlib
import sqlite3

from pydantic import BaseModel

from ..clock import Clock, to_iso
from . import audit
from .connection import Store

REASON_KEEP_CHARS = 300
"""A reason is cut here (plus "… N more characters"): a 12 MB field name inside an
input once became a 12 MB reason, stored whole and taking 23 s to print."""
LOCATION_KEEP_CHARS = 200


def bounded(text: str, limit: int = REASON_KEEP_CHARS) -> str:
    """``text`` cut at ``limit`` characters, saying how many were left off."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\u2026 {len(text) - limit:,} more characters"


class RejectRow(BaseModel):
    id: int
    at: str
    format: str
    source: str | None
    line: int | None
    location: str | None
    reason: str
    raw: str | None


class RejectList(BaseModel):
    total: int
    """How many rejects are stored; ``rejects`` may hold fewer when a limit applied."""
    rejects: list[RejectRow]


def store_reject(conn: sqlite3.Connection, *, at: str, fmt: str, source: str | None, line: int | None,
                 location: str | None, reason: str, raw: str | None) -> None:
    """One bad record, inside the caller's transaction. The same record ingested
    again (Meta retries a delivery for days) is kept once, by its fingerprint."""
    fingerprint = hashlib.sha256(
        "\x00".join(str(x) for x in (fmt, source, line, location, reason, raw)).encode("utf-8", "surrogatepass")
    ).hexdigest()
    conn.execute(
        "INSERT INTO rejects (at, format, source, line, location, reason, raw, fingerprint) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO NOTHING",
        (at, fmt, source, line, location, reason, raw, fingerprint),
    )


def list_rejects(store: Store, limit: int | None = None) -> RejectList:
    """Stored rejects, oldest first; at most ``limit`` of them (None: all)."""
    count = store.scalar("SELECT count(*) FROM rejects")
    total = count if isinstance(count, int) else 0
    rows = store.query(
        "SELECT id, at, format, source, line, location, reason, raw FROM rejects ORDER BY id LIMIT ?",
        (-1 if limit is None else limit,),
    )
    return RejectList(total=total, rejects=[RejectRow(**dict(row)) for row in rows])


def clear_rejects(store: Store, clock: Clock, actor: str, ids: list[int] | None = None) -> list[int]:
    """Delete the named rejects (None: all of them); the ids deleted, audited.

    An id that does not exist is not an error: clearing is idempotent, and the
    result says which ids were actually deleted.
    """
    now = to_iso(clock.now())
    with store.transaction() as conn:
        if ids is None:
            cleared = [int(r[0]) for r in conn.execute("DELETE FROM rejects RETURNING id")]
        else:
            cleared = []
            for reject_id in dict.fromkeys(ids):
                row = conn.execute("DELETE FROM rejects WHERE id = ? RETURNING id", (reject_id,)).fetchone()
                if row is not None:
                    cleared.append(int(row[0]))
        cleared.sort()
        if cleared:
            audit.record(conn, at=now, actor=actor, action="rejects:clear", object_type="reject", object_id=None,
                         detail={"count": len(cleared), "ids": cleared if ids is not None else "all"})
    return cleared
