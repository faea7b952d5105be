"""The checks ``execute`` makes just before a send, and the message it builds.

Run inside the transaction that marks the job ``sending``, so what was
checked is what is true when the request leaves (I3: nothing sent that was
not allowed). What they read is read once per wave (``wave_facts``): a few
statements for the wave, not a few per job — each is a round trip on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr

from ..channels import Adapter, Outgoing
from ..clock import from_iso, to_iso
from ..config import Config
from ..contacts import opted_out_among
from ..db import activity


@dataclass(frozen=True)
class Skip:
    """Why a claimed job is not sent now, and the state it moves to."""

    state: str
    outcome: str
    error: str
    draft_to_review: str | None = None
    send_at: str | None = None


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class WaveFacts:
    """What the checks of a wave of jobs on one channel read from the database."""

    opted_out: set[int]
    """Contacts with an opt-out covering the channel."""
    last_inbound: dict[int, str]
    """When each contact last wrote on the channel (read only when the channel has a messaging window)."""
    last_sent: dict[str, str]
    """When each recipient was last sent to (read only when the channel keeps a gap between sends)."""


def wave_facts(conn: sqlite3.Connection, channel: str, rows: Iterable[sqlite3.Row], adapter: Adapter | None,
               config: Config) -> WaveFacts:
    rows = list(rows)
    contacts = sorted({int(r["contact_id"]) for r in rows})
    if not contacts or adapter is None:
        return WaveFacts(set(), {}, {})
    windowed = bool(adapter.capabilities.window_hours)
    gap = getattr(config.channels.get(channel), "min_gap_seconds", 0.0)
    return WaveFacts(
        opted_out=opted_out_among(conn, contacts, channel),
        last_inbound=activity.last_inbound_among(conn, contacts, channel) if windowed else {},
        last_sent=activity.last_sent_among(conn, channel, sorted({r["recipient"] for r in rows})) if gap else {},
    )


def window_closed(facts: WaveFacts, row: sqlite3.Row, hours: int, now: datetime) -> bool:
    last = facts.last_inbound.get(row["contact_id"])
    return last is None or from_iso(last) + timedelta(hours=hours) <= now


def skip_reason(facts: WaveFacts, row: sqlite3.Row, adapter: Adapter | None, config: Config,
                now: datetime) -> Skip | None:
    if adapter is None:
        return Skip("failed", "failed", f"channel {row['channel']} is not configured")
    # The one confirmation of an opt-out is the only message an opted-out contact may get.
    if row["contact_id"] in facts.opted_out and row["origin"] != "confirmation":
        return Skip("skipped", "skipped", "contact opted out after the reply was scheduled")
    if text_sha256(row["text"]) != row["text_sha256"] or (
        row["approved_text"] is not None and row["approved_text"] != row["text"]
    ):
        return Skip("failed", "failed", "text differs from the approved text; not sent")
    if adapter.capabilities.human_approved_only and row["origin"] != "approved":
        return Skip("skipped", "skipped", f"{row['channel']} sends only human-approved replies",
                    draft_to_review="human_approval_required")
    hours = adapter.capabilities.window_hours
    cfg = config.channels.get(row["channel"])
    if hours and window_closed(facts, row, hours, now) and not getattr(cfg, "window_template", None):
        return Skip("skipped", "skipped", f"the {hours}-hour window closed before sending",
                    draft_to_review="window_closed")
    gap = getattr(cfg, "min_gap_seconds", 0.0)
    if gap:
        last_sent = facts.last_sent.get(row["recipient"])
        if last_sent and from_iso(last_sent) + timedelta(seconds=gap) > now:
            until = to_iso(from_iso(last_sent) + timedelta(seconds=gap))
            return Skip("retry_wait", "deferred", f"keeping {gap:g} s between sends to this recipient", send_at=until)
    return None


def new_message_id(config: Config, channel: str) -> str:
    cfg = config.channels.get(channel)
    domain = parseaddr(getattr(cfg, "from_address", "") or "")[1].rpartition("@")[2] or "autopilot.invalid"
    return make_msgid(domain=domain)


def outgoing(facts: WaveFacts, row: sqlite3.Row, adapter: Adapter, config: Config, now: datetime,
             message_id: str | None, unsubscribe_url: str | None = None) -> Outgoing:
    metadata = json.loads(row["event_metadata"] or "{}")
    cfg = config.channels.get(row["channel"])
    template = None
    hours = adapter.capabilities.window_hours
    window_template = getattr(cfg, "window_template", None)
    if hours and window_template and window_closed(facts, row, hours, now):
        template = window_template
    return Outgoing(
        job_id=row["id"], send_key=row["send_key"], channel=row["channel"], recipient=row["recipient"],
        text=row["text"], reply_to_id=row["external_id"], thread_id=row["thread_id"], subject=row["subject"],
        references=tuple(metadata.get("references") or ()), message_id=message_id, template=template,
        metadata={"origin": row["origin"], "template_language": getattr(cfg, "template_language", None),
                  **({"unsubscribe_url": unsubscribe_url} if unsubscribe_url else {})},
    )
