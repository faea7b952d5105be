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
from ..db import decisions, drafts, inbox, jobs

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
    raw_confidence: float | None = None
    """The drafter's own confidence when ``confidence`` was calibrated from review outcomes."""
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
    draft_id = drafts.insert(
        conn, event_id=event["id"], contact_id=event["contact_id"], channel=event["channel"], text=reply.text,
        confidence=reply.confidence, reasons=reply.reasons, ready=reply.ready, state=state, drafter=reply.drafter,
        variant_id=reply.variant_id, variant=reply.variant, intent=reply.intent,
        approved_text=reply.text if state == "scheduled" else None, now=now, raw_confidence=reply.raw_confidence)
    if reply.schedule_at is None:
        return draft_id, None
    job_id = jobs.schedule(
        conn, draft_id=draft_id, event_id=event["id"], contact_id=event["contact_id"], channel=event["channel"],
        recipient=event["sender"], send_key=send_key(event["channel"], event["external_id"], reply.origin),
        text=reply.text, text_sha256=text_hash(reply.text), send_at=to_iso(reply.schedule_at),
        variant_id=reply.variant_id, variant=reply.variant, origin=reply.origin, explanation=reply.explanation,
        now=now)
    return draft_id, job_id


def store_decision(conn: sqlite3.Connection, decision: Decision, now: str) -> bool:
    """Mark the event processed with its decision; False if it was no longer pending."""
    if not inbox.mark_processed(conn, decision.event_id, decision.outcome, decision.reasons, now):
        return False
    decisions.insert(
        conn, event_id=decision.event_id, outcome=decision.outcome, reasons=json.dumps(decision.reasons),
        checks=json.dumps([c.as_dict() for c in decision.checks], ensure_ascii=False),
        confidence=decision.confidence, draft_id=decision.draft_id, job_id=decision.job_id,
        send_at=decision.send_at, decided_at=now,
    )
    return True
