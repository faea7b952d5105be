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
from ..db import ab_metrics

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
    query = ab_metrics.VariantQuery(list(variant_ids), int(round(attribution_hours * 3600)), now)
    for row in ab_metrics.sends(conn, query, OPEN_TRACKED_CHANNELS):
        counts = out[row["variant_id"]]
        counts.sent = row["sent"]
        counts.open_tracked, counts.in_window = row["open_tracked"] or 0, row["in_window"] or 0
    for row in ab_metrics.reads(conn, query, OPEN_TRACKED_CHANNELS):
        out[row["variant_id"]].opened = row["opened"]
    for counts in out.values():
        if counts.open_tracked and counts.opened is None:
            counts.opened = 0
    for row in ab_metrics.replies(conn, query, NOT_REPLIES):
        out[row["variant_id"]].replied = row["n"]
    for row in ab_metrics.conversions(conn, query):
        out[row["variant_id"]].converted, out[row["variant_id"]].conversion_value = row["n"], float(row["value"])
    for row in ab_metrics.opt_outs(conn, query):
        out[row["variant_id"]].opted_out = row["n"]
    return out
