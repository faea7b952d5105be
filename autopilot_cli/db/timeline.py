"""One time line of a contact (or of everyone) across ``events``, ``jobs`` and ``consent_changes``: what
``autopilot history`` shows. An outbound entry's time is when it was sent, else when it is due, else
when it last changed."""

from __future__ import annotations

import sqlite3

_SQL = """
SELECT * FROM (
    SELECT received_at AS at, 'inbound' AS kind, contact_id, channel, sender AS address, text,
           CASE WHEN state = 'pending' THEN 'pending' ELSE outcome END AS state,
           external_id AS provider_message_id, NULL AS delivery_status, id AS event_id, NULL AS job_id,
           NULL AS reason, 0 AS rank, id AS row_id
    FROM events
    UNION ALL
    SELECT CASE WHEN state = 'sent' THEN coalesce(sent_at, updated_at)
                WHEN state IN ('scheduled', 'retry_wait', 'claimed', 'sending') THEN send_at
                ELSE updated_at END,
           'outbound', contact_id, channel, recipient, text, state, provider_message_id, delivery_status,
           event_id, id, error, 1, id
    FROM jobs
    UNION ALL
    SELECT at, action, contact_id, scope, NULL, NULL, category, NULL, NULL, event_id, NULL,
           coalesce(rule, source) || coalesce(' — ' || detail, ''), 2, id
    FROM consent_changes
) AS t WHERE (CAST(:contact AS INTEGER) IS NULL OR contact_id = :contact)
    AND (CAST(:since AS TEXT) IS NULL OR at >= :since)
"""




def newest(conn: sqlite3.Connection, *, contact_id: int | None, since: str | None,
           limit: int) -> tuple[int, list[sqlite3.Row]]:
    """(how many entries match, the newest ``limit`` of them, newest first)."""
    params = {"contact": contact_id, "since": since}
    total = int(conn.execute(f"SELECT count(*) FROM ({_SQL}) AS n", params).fetchone()[0])
    rows = conn.execute(f"{_SQL} ORDER BY at DESC, rank DESC, row_id DESC LIMIT :limit",
                        {**params, "limit": limit}).fetchall()
    return total, rows
