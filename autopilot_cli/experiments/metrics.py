"""Counts per A/B variant, from the rows the pipeline really wrote.

One SQL statement per metric, grouped by variant (never one query per job):

- ``sent``      jobs of the variant that reached state ``sent`` (a later
                ``failed`` delivery status still counts: the variant was tried).
- ``opened``    of those, on WhatsApp and Instagram (the channels that report
                ``read``), the ones with a ``read`` status. Email has no
                trustworthy open signal (Apple Mail Privacy Protection opens
                every message), so email sends are not counted at all —
                ``open_tracked`` is the denominator, and a variant with no
                tracked sends has ``opened = None`` (shown as n/a, never 0).
- ``replied``   sends followed by an inbound message from the contact,
- ``converted`` … by a conversion (``autopilot convert``),
- ``opted_out`` … by an opt-out (consent_changes), the guardrail metric.

**Attribution** (last touch): something the contact did at time *t* counts for
the contact's latest send before *t*, if *t* is within ``attribution_hours``
of that send. Each send's window is cut at the contact's next send (of any
variant or none), so one inbound message, conversion or opt-out credits at
most one send, and each send counts at most once per metric. An inbound
message counts as a reply unless it is automated (out-of-office, RFC 3834), a
reaction, or itself an opt-out; an opt-out's time is the time of the message
that carried it (or when it was recorded, for provider-reported ones).

``in_window`` counts sends whose attribution window is still open at
``now``: their replies may still come, so rates can still rise.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from ..channels.policy import channels_where

OPEN_TRACKED_CHANNELS: tuple[str, ...] = channels_where(read_receipts=True)
NOT_REPLIES = ("reaction",)


@dataclass
class VariantCounts:
    variant_id: int
    sent: int = 0
    open_tracked: int = 0
    opened: int | None = None
    replied: int = 0
    converted: int = 0
    conversion_value: float = 0.0
    opted_out: int = 0
    in_window: int = 0


def metric_arm(counts: VariantCounts, metric: str) -> tuple[int, int]:
    """(successes, trials) of a variant for the experiment's metric."""
    if metric == "opened":
        return counts.opened or 0, counts.open_tracked
    if metric == "converted":
        return counts.converted, counts.sent
    return counts.replied, counts.sent


def variant_counts(
    conn: sqlite3.Connection, variant_ids: Sequence[int], *, attribution_hours: float, now: str
) -> dict[int, VariantCounts]:
    """Counts for each variant id (zeros for a variant with no sends)."""
    out = {vid: VariantCounts(vid) for vid in variant_ids}
    if not variant_ids:
        return out
    ids = list(variant_ids)
    seconds = int(round(attribution_hours * 3600))
    # Named and positional parameters cannot be mixed: number the variant ids.
    params: dict[str, object] = {"seconds": seconds, "now": now}
    id_marks = ", ".join(f":v{i}" for i in range(len(ids)))
    params.update({f"v{i}": vid for i, vid in enumerate(ids)})
    tracked = ", ".join(f"'{c}'" for c in OPEN_TRACKED_CHANNELS)  # constants, not input

    for row in conn.execute(
        f"SELECT variant_id, count(*) AS sent, sum(channel IN ({tracked})) AS open_tracked, "
        "sum(strftime('%Y-%m-%dT%H:%M:%fZ', sent_at, '+' || :seconds || ' seconds') > :now) AS in_window "
        f"FROM jobs WHERE variant_id IN ({id_marks}) AND state = 'sent' AND sent_at IS NOT NULL GROUP BY variant_id",
        params,
    ):
        counts = out[row["variant_id"]]
        counts.sent, counts.open_tracked, counts.in_window = row["sent"], row["open_tracked"] or 0, row["in_window"] or 0

    for row in conn.execute(
        "SELECT j.variant_id, count(*) AS opened FROM jobs j "
        f"WHERE j.variant_id IN ({id_marks}) AND j.state = 'sent' AND j.channel IN ({tracked}) "
        "AND EXISTS (SELECT 1 FROM delivery_statuses d WHERE d.job_id = j.id AND d.status = 'read') "
        "GROUP BY j.variant_id",
        params,
    ):
        out[row["variant_id"]].opened = row["opened"]
    for counts in out.values():
        if counts.open_tracked and counts.opened is None:
            counts.opened = 0

    cte = _sends_cte(id_marks)
    not_replies = ", ".join(f"'{t}'" for t in NOT_REPLIES)
    for row in conn.execute(
        cte + " SELECT s.variant_id, count(DISTINCT s.id) AS n FROM exp_sends s JOIN events e "
        "ON e.contact_id = s.contact_id AND e.received_at > s.sent_at AND e.received_at <= s.until_at "
        f"WHERE e.automated = 0 AND e.message_type NOT IN ({not_replies}) "
        "AND NOT EXISTS (SELECT 1 FROM consent_changes c WHERE c.event_id = e.id AND c.action = 'opt_out') "
        "GROUP BY s.variant_id",
        params,
    ):
        out[row["variant_id"]].replied = row["n"]

    for row in conn.execute(
        cte + " SELECT s.variant_id, count(DISTINCT s.id) AS n, coalesce(sum(c.value), 0) AS value "
        "FROM exp_sends s JOIN conversions c "
        "ON c.contact_id = s.contact_id AND c.at > s.sent_at AND c.at <= s.until_at GROUP BY s.variant_id",
        params,
    ):
        out[row["variant_id"]].converted, out[row["variant_id"]].conversion_value = row["n"], float(row["value"])

    for row in conn.execute(
        cte + ", opt_outs AS (SELECT c.contact_id, coalesce(e.received_at, c.at) AS at FROM consent_changes c "
        "LEFT JOIN events e ON e.id = c.event_id WHERE c.action = 'opt_out') "
        "SELECT s.variant_id, count(DISTINCT s.id) AS n FROM exp_sends s JOIN opt_outs o "
        "ON o.contact_id = s.contact_id AND o.at > s.sent_at AND o.at <= s.until_at GROUP BY s.variant_id",
        params,
    ):
        out[row["variant_id"]].opted_out = row["n"]
    return out


def _sends_cte(id_marks: str) -> str:
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
               min(strftime('%Y-%m-%dT%H:%M:%fZ', sent_at, '+' || :seconds || ' seconds'),
                   coalesce(next_sent_at, '9999')) AS until_at
        FROM contact_sends WHERE variant_id IN ({id_marks})
    )"""
