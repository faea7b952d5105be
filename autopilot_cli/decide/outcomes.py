"""What ``process`` decides for an event, and how the decision is stored.

A decision is the outcome, its reasons (machine codes), and the trail of
checks that led to it. Everything is written in one transaction with the
draft and job it creates, so an event is either processed or still pending —
never half.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from ..clock import to_iso

Outcome = Literal["auto_scheduled", "review_queue", "opted_out", "opted_in", "rate_limited", "skipped", "error"]
OUTCOMES: tuple[str, ...] = (
    "auto_scheduled", "review_queue", "opted_out", "opted_in", "rate_limited", "skipped", "error",
)


@dataclass(frozen=True)
class Check:
    """One step of a decision's trail (a dataclass: thousands are made per run)."""

    name: str
    result: Literal["pass", "fail", "info", "skip"]
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        # Not dataclasses.asdict: its deep copy dominated the cost of storing decisions.
        return {"name": self.name, "result": self.result, "detail": self.detail}


class Decision(BaseModel):
    """One event's outcome; the keys of ``process --json``'s ``decisions`` list."""

    event_id: int
    external_id: str
    channel: str
    contact: str
    outcome: Outcome
    reasons: list[str] = Field(default_factory=list)
    confidence: float | None = None
    draft_id: int | None = None
    job_id: int | None = None
    send_at: str | None = None
    checks: list[Check] = Field(default_factory=list, exclude=True)


@dataclass
class Reply:
    """A reply to create: a draft, and a job when it is scheduled."""

    text: str
    confidence: float | None
    drafter: str
    intent: str | None
    reasons: list[str]
    ready: bool
    variant_id: int | None = None
    variant: str | None = None
    schedule_at: datetime | None = None
    origin: str = "auto"
    explanation: str | None = None
    """Why the send time was chosen (the scheduler's one line)."""
    rate_entries: list[tuple[str, str]] = field(default_factory=list)


def send_key(channel: str, external_id: str, origin: str) -> str:
    """One key per logical reply: unique in ``jobs``, so one event can never be answered twice."""
    digest = hashlib.sha256(f"{channel}\x00{external_id}\x00{origin}".encode()).hexdigest()[:32]
    return f"{channel}:{origin}:{digest}"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def create_reply(conn: sqlite3.Connection, event: sqlite3.Row, reply: Reply, now: str) -> tuple[int, int | None]:
    """Insert the draft (and job); returns (draft_id, job_id)."""
    state = "scheduled" if reply.schedule_at is not None else "review"
    draft_id = conn.execute(
        "INSERT INTO drafts (event_id, contact_id, channel, text, confidence, reasons, ready, state, drafter, "
        "variant_id, variant, intent, approved_text, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event["id"], event["contact_id"], event["channel"], reply.text, reply.confidence,
            json.dumps(reply.reasons), int(reply.ready), state, reply.drafter, reply.variant_id,
            reply.variant, reply.intent, reply.text if state == "scheduled" else None, now, now,
        ),
    ).lastrowid
    if reply.schedule_at is None:
        return int(draft_id), None
    job_id = conn.execute(
        "INSERT INTO jobs (draft_id, event_id, contact_id, channel, recipient, send_key, text, text_sha256, "
        "send_at, state, variant_id, variant, origin, explanation, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?, ?, ?, ?, ?)",
        (
            draft_id, event["id"], event["contact_id"], event["channel"], event["sender"],
            send_key(event["channel"], event["external_id"], reply.origin), reply.text, text_hash(reply.text),
            to_iso(reply.schedule_at), reply.variant_id, reply.variant, reply.origin, reply.explanation, now, now,
        ),
    ).lastrowid
    return int(draft_id), int(job_id)


def store_decision(conn: sqlite3.Connection, decision: Decision, now: str) -> bool:
    """Mark the event processed with its decision; False if it was no longer pending."""
    updated = conn.execute(
        "UPDATE events SET state = 'processed', outcome = ?, reasons = ?, processed_at = ? "
        "WHERE id = ? AND state = 'pending'",
        (decision.outcome, json.dumps(decision.reasons), now, decision.event_id),
    ).rowcount
    if not updated:
        return False
    conn.execute(
        "INSERT INTO decisions (event_id, outcome, reasons, checks, confidence, draft_id, job_id, send_at, decided_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            decision.event_id, decision.outcome, json.dumps(decision.reasons),
            json.dumps([c.as_dict() for c in decision.checks], ensure_ascii=False),
            decision.confidence, decision.draft_id, decision.job_id, decision.send_at, now,
        ),
    )
    return True
