"""``autopilot explain``: the stored trail of checks behind one event's outcome."""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from .decisions import Check
from .errors import NotFound
from .store import Store


class Explanation(BaseModel):
    event_id: int
    external_id: str
    channel: str
    contact: str
    received_at: str
    text: str
    outcome: str | None
    reasons: list[str] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    confidence: float | None = None
    draft_id: int | None = None
    draft_state: str | None = None
    draft_text: str | None = None
    job_id: int | None = None
    job_state: str | None = None
    send_at: str | None = None


def explain_event(store: Store, event_id: int) -> Explanation:
    rows = store.query("SELECT * FROM events WHERE id = ?", (event_id,))
    if not rows:
        raise NotFound(f"no event with id {event_id}")
    event = rows[0]
    result = Explanation(
        event_id=event["id"], external_id=event["external_id"], channel=event["channel"], contact=event["sender"],
        received_at=event["received_at"], text=event["text"], outcome=event["outcome"],
        reasons=json.loads(event["reasons"] or "[]"),
    )
    decision = store.query("SELECT * FROM decisions WHERE event_id = ?", (event_id,))
    if decision:
        d = decision[0]
        result.checks = [Check(**c) for c in json.loads(d["checks"])]
        result.confidence = d["confidence"]
        result.draft_id = d["draft_id"]
        result.job_id = d["job_id"]
        result.send_at = d["send_at"]
    if result.draft_id is not None:
        draft = store.query("SELECT state, text FROM drafts WHERE id = ?", (result.draft_id,))[0]
        result.draft_state, result.draft_text = draft["state"], draft["text"]
    if result.job_id is not None:
        job = store.query("SELECT state, send_at FROM jobs WHERE id = ?", (result.job_id,))[0]
        result.job_state, result.send_at = job["state"], job["send_at"]
    return result
