"""The two reads of ``entry.py``'s idle ``execute`` fast path, on a plain read-only sqlite3 connection.

Standard library only: the fast path exists to answer an idle cron minute
without importing pydantic or typer, so this module must not import
``connection`` (or anything above the standard library) either.
"""

from __future__ import annotations

import sqlite3


def validated_digest(conn: sqlite3.Connection, config_path: str) -> str | None:
    """The sha256 the full CLI recorded for ``config_path`` when it last validated it; None: never."""
    row = conn.execute("SELECT sha256 FROM config_checks WHERE config_path = ?", (config_path,)).fetchone()
    return None if row is None else row[0]


def anything_to_do(conn: sqlite3.Connection, now: str) -> bool | None:
    """Whether a job is due or stuck past its lease, or a channel is paused; None when the read gave no row.

    Wider than ``jobs.anything_due``: a claimed job past its lease and a paused
    channel also need the full CLI (to reclaim, and to report the pause).
    """
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE ((state IN ('scheduled', 'retry_wait') AND send_at <= :now) "
        "OR (state IN ('claimed', 'sending') AND lease_until < :now))) "
        "OR EXISTS (SELECT 1 FROM channel_state WHERE paused_at IS NOT NULL)",
        {"now": now},
    ).fetchone()
    return None if row is None else row[0] != 0
