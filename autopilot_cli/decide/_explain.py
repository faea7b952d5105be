"""``autopilot explain``: the stored trail of checks behind one event's outcome.

Besides the checks it follows the event to what the customer got: the draft,
the text a person approved (``drafts.approved_text``, when it was edited) and
the text the job sent (``jobs.text`` of a sent job, byte-identical to the
approved text — ``execute`` refuses anything else), with the provider's id.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from ..db import decisions, drafts, inbox, jobs
from ..db.connection import Store
from ..errors import NotFound
from ._outcomes import Check


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
    approved_text: str | None = None
    """The text a person approved (null when the draft was not approved)."""
    approved_by: str | None = None
    approved_at: str | None = None
    job_id: int | None = None
    job_state: str | None = None
    send_at: str | None = None
    send_explanation: str | None = None
    """Why the job sends then (hours, gaps, holds such as "contact away until …"); null without a job."""
    sent_text: str | None = None
    """What was sent (null until the job is sent)."""
    sent_at: str | None = None
    provider_message_id: str | None = None
    delivery_status: str | None = None

    @property
    def approved_differs(self) -> bool:
        return self.approved_text is not None and self.approved_text != self.draft_text

    @property
    def sent_differs(self) -> bool:
        return self.sent_text is not None and self.sent_text != self.draft_text


def explain_event(store: Store, event_id: int) -> Explanation:
    event = inbox.get(store, event_id)
    if event is None:
        raise NotFound(f"no event with id {event_id}")
    result = Explanation(
        event_id=event["id"], external_id=event["external_id"], channel=event["channel"], contact=event["sender"],
        received_at=event["received_at"], text=event["text"], outcome=event["outcome"],
        reasons=json.loads(event["reasons"] or "[]"),
    )
    d = decisions.for_event(store, event_id)
    if d is not None:
        result.checks = [Check(**c) for c in json.loads(d["checks"])]
        result.confidence = d["confidence"]
        result.draft_id = d["draft_id"]
        result.job_id = d["job_id"]
        result.send_at = d["send_at"]
    if result.draft_id is not None:
        draft = drafts.summary(store, result.draft_id)
        assert draft is not None  # decisions.draft_id references drafts
        result.draft_state, result.draft_text = draft["state"], draft["text"]
        if draft["approved_text"] is not None:
            result.approved_text = draft["approved_text"]
            result.approved_by, result.approved_at = draft["decided_by"], draft["decided_at"]
    if result.job_id is not None:
        job = jobs.get(store, result.job_id)
        assert job is not None  # decisions.job_id references jobs
        result.job_state, result.send_at = job["state"], job["send_at"]
        result.send_explanation = job["explanation"]
        result.provider_message_id, result.delivery_status = job["provider_message_id"], job["delivery_status"]
        if job["state"] == "sent":
            result.sent_text, result.sent_at = job["text"], job["sent_at"]
    return result
