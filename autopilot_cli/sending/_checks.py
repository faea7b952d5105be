"""The checks ``execute`` makes just before a send, and the message it builds.

Run inside the transaction that marks the job ``sending``, so what was
checked is what is true when the request leaves (I3: nothing sent that was
not allowed).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr

from ..channels import Adapter, Outgoing
from ..clock import from_iso, to_iso
from ..config import Config
from ..contacts import opted_out
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


def window_closed(conn: sqlite3.Connection, row: sqlite3.Row, hours: int, now: datetime) -> bool:
    last = activity.last_inbound_at(conn, row["contact_id"], row["channel"])
    return last is None or from_iso(last) + timedelta(hours=hours) <= now


def skip_reason(conn: sqlite3.Connection, row: sqlite3.Row, adapter: Adapter | None, config: Config,
                now: datetime) -> Skip | None:
    if adapter is None:
        return Skip("failed", "failed", f"channel {row['channel']} is not configured")
    opted = opted_out(conn, row["contact_id"], row["channel"])
    # The one confirmation of an opt-out is the only message an opted-out contact may get.
    if opted and row["origin"] != "confirmation":
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
    if hours and window_closed(conn, row, hours, now) and not getattr(cfg, "window_template", None):
        return Skip("skipped", "skipped", f"the {hours}-hour window closed before sending",
                    draft_to_review="window_closed")
    gap = getattr(cfg, "min_gap_seconds", 0.0)
    if gap:
        last_sent = activity.last_sent_to_recipient(conn, row["channel"], row["recipient"])
        if last_sent and from_iso(last_sent) + timedelta(seconds=gap) > now:
            until = to_iso(from_iso(last_sent) + timedelta(seconds=gap))
            return Skip("retry_wait", "deferred", f"keeping {gap:g} s between sends to this recipient", send_at=until)
    return None


def new_message_id(config: Config, channel: str) -> str:
    cfg = config.channels.get(channel)
    domain = parseaddr(getattr(cfg, "from_address", "") or "")[1].rpartition("@")[2] or "autopilot.invalid"
    return make_msgid(domain=domain)


def outgoing(conn: sqlite3.Connection, row: sqlite3.Row, adapter: Adapter, config: Config, now: datetime,
             message_id: str | None, unsubscribe_url: str | None = None) -> Outgoing:
    metadata = json.loads(row["event_metadata"] or "{}")
    cfg = config.channels.get(row["channel"])
    template = None
    hours = adapter.capabilities.window_hours
    window_template = getattr(cfg, "window_template", None)
    if hours and window_template and window_closed(conn, row, hours, now):
        template = window_template
    return Outgoing(
        job_id=row["id"], send_key=row["send_key"], channel=row["channel"], recipient=row["recipient"],
        text=row["text"], reply_to_id=row["external_id"], thread_id=row["thread_id"], subject=row["subject"],
        references=tuple(metadata.get("references") or ()), message_id=message_id, template=template,
        metadata={"origin": row["origin"], "template_language": getattr(cfg, "template_language", None),
                  **({"unsubscribe_url": unsubscribe_url} if unsubscribe_url else {})},
    )
