"""What A/B reports count per variant, read from ``jobs``, ``delivery_statuses``, ``events``,
``conversions`` and ``consent_changes``: sends, reads, replies, conversions and opt-outs, each credited
to a send within its attribution window (which also ends at the contact's next send)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from .connection import least, plus_seconds


@dataclass(frozen=True)
class VariantQuery:
    variant_ids: list[int]
    seconds: int
    """The attribution window after a send."""
    now: str

    def params(self) -> tuple[str, dict[str, object]]:
        """(the ``:v0, :v1 …`` list, the parameters): named and positional ones cannot be mixed."""
        params: dict[str, object] = {"seconds": self.seconds, "now": self.now}
        params.update({f"v{i}": vid for i, vid in enumerate(self.variant_ids)})
        return ", ".join(f":v{i}" for i in range(len(self.variant_ids))), params


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)  # the callers' constants, never input


def sends(conn: sqlite3.Connection, query: VariantQuery, open_tracked: Iterable[str]) -> list[sqlite3.Row]:
    """(variant_id, sent, open_tracked, in_window) per variant with sends."""
    id_marks, params = query.params()
    return conn.execute(
        f"SELECT variant_id, count(*) AS sent, sum(CASE WHEN channel IN ({_quoted(open_tracked)}) THEN 1 ELSE 0 END) "
        f"AS open_tracked, sum(CASE WHEN {plus_seconds(conn, 'sent_at', ':seconds')} > :now THEN 1 ELSE 0 END) "
        "AS in_window "
        f"FROM jobs WHERE variant_id IN ({id_marks}) AND state = 'sent' AND sent_at IS NOT NULL GROUP BY variant_id",
        params,
    ).fetchall()


def reads(conn: sqlite3.Connection, query: VariantQuery, open_tracked: Iterable[str]) -> list[sqlite3.Row]:
    """(variant_id, opened): sends on read-reporting channels with a ``read`` status."""
    id_marks, params = query.params()
    return conn.execute(
        "SELECT j.variant_id, count(*) AS opened FROM jobs j "
        f"WHERE j.variant_id IN ({id_marks}) AND j.state = 'sent' AND j.channel IN ({_quoted(open_tracked)}) "
        "AND EXISTS (SELECT 1 FROM delivery_statuses d WHERE d.job_id = j.id AND d.status = 'read') "
        "GROUP BY j.variant_id",
        params,
    ).fetchall()


def replies(conn: sqlite3.Connection, query: VariantQuery, not_replies: Iterable[str]) -> list[sqlite3.Row]:
    """(variant_id, n): sends answered by the contact within the window (not automated, not an opt-out)."""
    id_marks, params = query.params()
    return conn.execute(
        _sends_cte(conn, id_marks) + " SELECT s.variant_id, count(DISTINCT s.id) AS n FROM exp_sends s JOIN events e "
        "ON e.contact_id = s.contact_id AND e.received_at > s.sent_at AND e.received_at <= s.until_at "
        f"WHERE e.automated = 0 AND e.message_type NOT IN ({_quoted(not_replies)}) "
        "AND NOT EXISTS (SELECT 1 FROM consent_changes c WHERE c.event_id = e.id AND c.action = 'opt_out') "
        "GROUP BY s.variant_id",
        params,
    ).fetchall()


def conversions(conn: sqlite3.Connection, query: VariantQuery) -> list[sqlite3.Row]:
    """(variant_id, n, value): sends followed by a conversion within the window."""
    id_marks, params = query.params()
    return conn.execute(
        _sends_cte(conn, id_marks) + " SELECT s.variant_id, count(DISTINCT s.id) AS n, "
        "coalesce(sum(c.value), 0) AS value "
        "FROM exp_sends s JOIN conversions c "
        "ON c.contact_id = s.contact_id AND c.at > s.sent_at AND c.at <= s.until_at GROUP BY s.variant_id",
        params,
    ).fetchall()


def opt_outs(conn: sqlite3.Connection, query: VariantQuery) -> list[sqlite3.Row]:
    """(variant_id, n): sends followed by an opt-out within the window."""
    id_marks, params = query.params()
    return conn.execute(
        _sends_cte(conn, id_marks) + ", opt_outs AS (SELECT c.contact_id, coalesce(e.received_at, c.at) AS at "
        "FROM consent_changes c LEFT JOIN events e ON e.id = c.event_id WHERE c.action = 'opt_out') "
        "SELECT s.variant_id, count(DISTINCT s.id) AS n FROM exp_sends s JOIN opt_outs o "
        "ON o.contact_id = s.contact_id AND o.at > s.sent_at AND o.at <= s.until_at GROUP BY s.variant_id",
        params,
    ).fetchall()


def _sends_cte(conn: sqlite3.Connection, id_marks: str) -> str:
    """``exp_sends``: the variants' sends with the end of their attribution window.

    The window ends ``:seconds`` after the send, or at the contact's next send
    (LEAD over all of the contact's sends), whichever comes first.
    """
    return f"""
    WITH contact_sends AS (
        SELECT id, variant_id, contact_id, sent_at,
               LEAD(sent_at) OVER (PARTITION BY contact_id ORDER BY sent_at, id) AS next_sent_at
        FROM jobs
        WHERE state = 'sent' AND sent_at IS NOT NULL
          AND contact_id IN (SELECT contact_id FROM jobs WHERE variant_id IN ({id_marks}) AND state = 'sent')
    ),
    exp_sends AS (
        SELECT id, variant_id, contact_id, sent_at,
               {least(conn, plus_seconds(conn, "sent_at", ":seconds"), "coalesce(next_sent_at, '9999')")} AS until_at
        FROM contact_sends WHERE variant_id IN ({id_marks})
    )"""
