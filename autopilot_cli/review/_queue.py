"""The review queue: drafts waiting for a person, most urgent first.

Reads only. ``review_queue`` lists the drafts in state ``review``, ordered so
that the ones that can expire come first: a WhatsApp/Instagram draft whose
24-hour window is still open, the window closing soonest first; then every
other draft (email, LinkedIn, and windows already closed), oldest message
first. ``load_details`` adds what a reviewer reads before deciding: the recent
conversation with the contact and the send time the scheduler would choose if
the draft were approved now (``send_time.plan_reply_time``, the same function
``process`` and ``approvals.approve`` use, so the time shown is the time that
will be planned).

Reason codes (``low_confidence``, ``compliance:refund``…) are turned into
plain sentences here, in one table (``REASONS``), so the terminal, the JSON
and the README say the same thing.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from pydantic import BaseModel, Field

from ..channels.policy import channels_where, policy
from ..clock import Clock, from_iso, to_iso
from ..config import Config
from ..contacts import find_contact_id
from ..db import drafts, inbox
from ..db.connection import Store
from ..drafting import recent_history
from ..scheduling import plan_reply_time, window_closes

LIST_KEYS = ("id", "event_id", "channel", "contact", "inbound_text", "draft_text", "confidence", "reasons",
             "ready", "variant", "window_closes_at")
"""The keys of each entry of ``review --list --json``, in order (stable: scripts read them)."""

HISTORY_MESSAGES = 6


# --- reasons in plain words -------------------------------------------------------------------

REASONS: dict[str, str] = {
    "low_confidence": "the drafter was not confident enough ({confidence} < {threshold})",
    "possible_out_of_office": "it reads like an out-of-office reply; answer only if a person wrote it",
    "no_knowledge_match": "nothing in the knowledge file matches the question, so the draft is a holding reply",
    "possible_opt_out": "the message may be asking to stop messages: opt the contact out (o) if it is",
    "partly_answered": "the knowledge file answers only part of the message; a person answers the rest",
    "model_unavailable": "the model could not be reached; the draft is a placeholder",
    "model_budget_spent": "the daily token budget is spent; the draft is a placeholder",
    "model_invalid_output": "the model returned an unusable answer; the draft is a placeholder",
    "model_needs_human": "the model said a person should answer this one",
    "auto_reply_budget": "this contact already got several automatic replies recently (a possible robot loop)",
    "one_click_mode": "this channel is in one-click mode: every reply needs a person's approval",
    "assist_mode": "this channel is in assist mode: the draft is a suggestion to edit, not to send as is",
    "linkedin_human_only": "LinkedIn replies are sent only by a person",
    "human_approval_required": "this channel sends only replies a person approved",
    "window_closed": "the 24-hour window closed (or closes before any allowed send time)",
    "no_allowed_slot": "there is no allowed send time in the coming days (allowed hours, quiet hours, do-not-disturb)",
    "rate:contact_per_day": "this contact already got the most messages allowed per day",
    "rate:channel_per_hour": "the channel reached its hourly sending limit",
    "rate:channel_per_day": "the channel reached its daily sending limit",
    "blocked": "the contact is blocked",
    "opted_out": "the contact opted out",
}

_FAMILIES: dict[str, str] = {
    "compliance": "mentions {detail}, a topic that always needs a person",
    "safety": "a safety rule matched: {detail}",
    "injection": "the message looks like an attempt to manipulate the assistant: {detail}",
    "grounding": "the reply says more than its sources: {detail}",
    "manipulation": "the message asks for something the shop never says without a person: {detail}",
    "spam": "the draft looks like spam: {detail}",
    "sanity": "the draft failed a sanity check: {detail}",
    "model_reason": "the model's reason: {detail}",
    "internal_error": "an internal error happened while deciding ({detail})",
    "opt_out": "an opt-out request ({detail})",
}

_DETAILS: dict[str, str] = {
    # injection
    "ignore_instructions": "it tells the assistant to ignore its instructions",
    "role_override": "it tries to give the assistant a new role",
    "jailbreak": "a jailbreak phrase",
    "prompt_request": "it asks for the system prompt or instructions",
    "secret_request": "it asks for keys, tokens or credentials",
    "data_request": "it asks for other customers' data",
    "role_marker": "chat role markers or template tokens",
    "invisible_chars": "invisible or bidi control characters",
    "hidden_html_text": "text hidden in the HTML email",
    # grounding
    "no_source": "it cites no knowledge passage",
    "unknown_source": "it cites a passage that was not offered",
    "off_topic": "the passages it cites do not answer what the message asks",
    "number": "a number that is in no source",
    "url": "a link that is in no source",
    "email_address": "an e-mail address that is in no source",
    "phone": "a phone number that is in no source",
    # manipulation
    "insult": "to swear at or insult someone",
    "disparage": "to run down a company, courier or competitor",
    "exaggerate": "to exaggerate",
    "persona": "to play a role or change persona",
    "creative": "a poem, story, joke or code",
    "competitor": "a comparison with competitors",
    "binding_offer": "to agree to a price, deal or binding offer",
    "invented_policy": "to confirm a refund, policy or promise",
    "say_this": "to say words it dictates",
    "opinion": "politics, religion or an endorsement",
    # safety
    "harassment": "harassment",
    "threat": "a threat",
    "self_harm": "self-harm",
    "sexual_minors": "sexual content involving minors",
    "violence": "violence",
    "moderation_unavailable": "the moderation service failed, so nothing was checked",
    # spam
    "all_caps": "shouting in capitals",
    "links": "too many links",
    "exclamation": "too many exclamation marks",
    "shortener": "a URL shortener",
    "trigger_phrase": "spam trigger phrases",
    # sanity
    "empty": "it is empty",
    "too_long": "it is longer than the channel allows",
    "leaked_prompt": "it repeats part of the system prompt",
    "secret": "it contains a secret-looking string",
    "placeholder": "it has an unfilled template placeholder",
}


def describe_reason(code: str, confidence: float | None = None, threshold: float | None = None) -> str:
    """One reason code as a sentence a reviewer understands; unknown codes are shown as they are."""
    if code in REASONS:
        return REASONS[code].format(
            confidence="?" if confidence is None else f"{confidence:.2f}",
            threshold="?" if threshold is None else f"{threshold:.2f}",
        )
    family, sep, rest = code.partition(":")
    if sep and family in _FAMILIES:
        if family == "safety" and rest.startswith("moderation:"):
            detail = "the moderation service flagged " + rest.partition(":")[2].replace("_", " ")
        else:
            detail = _DETAILS.get(rest, rest.replace("_", " "))
        return _FAMILIES[family].format(detail=detail)
    return code


# --- the queue --------------------------------------------------------------------------------


class HistoryEntry(BaseModel):
    role: str
    """``contact`` (they wrote) or ``us`` (a reply we sent)."""
    text: str
    at: str


class ReviewItem(BaseModel):
    id: int
    event_id: int
    channel: str
    contact: str
    """The address the message came from (phone number, email address, platform id)."""
    contact_id: int
    contact_name: str | None = None
    subject: str | None = None
    received_at: str
    inbound_text: str
    draft_text: str
    confidence: float | None = None
    threshold: float
    reasons: list[str] = Field(default_factory=list)
    reasons_text: list[str] = Field(default_factory=list)
    ready: bool = False
    variant: str | None = None
    mode: str
    state: str = "review"
    window_closes_at: str | None = None
    """WhatsApp/Instagram: when the 24-hour window closes (free text is refused after it)."""
    window_seconds_left: float | None = None
    window_template: str | None = None
    """The approved template the channel sends instead once the window has closed, if configured."""
    created_at: str
    # Filled by load_details:
    history: list[HistoryEntry] = Field(default_factory=list)
    planned_send_at: str | None = None
    send_explanation: str | None = None

    def list_entry(self) -> dict:
        """The ``review --list --json`` form: exactly ``LIST_KEYS``."""
        return {key: getattr(self, key) for key in LIST_KEYS}

    @property
    def window_open(self) -> bool:
        return self.window_seconds_left is not None and self.window_seconds_left > 0


class ReviewFilter(BaseModel):
    channel: str | None = None
    reason: str | None = None
    """A reason code, or a family: ``compliance`` matches ``compliance:refund``."""
    contact: str | None = None
    """An address, ``channel:address`` or ``#ID`` (as ``contacts show`` takes)."""
    ready: bool | None = None


def _template_for(config: Config, channel: str) -> str | None:
    return getattr(config.channels.get(channel), "window_template", None)


def _item(conn: sqlite3.Connection, config: Config, now: datetime, row: sqlite3.Row) -> ReviewItem:
    reasons = json.loads(row["reasons"] or "[]")
    threshold = config.threshold_for(row["channel"])
    closes = window_closes(conn, {"channel": row["channel"], "contact_id": row["contact_id"]})
    return ReviewItem(
        id=row["id"], event_id=row["event_id"], channel=row["channel"], contact=row["sender"],
        contact_id=row["contact_id"], contact_name=row["name"] or row["contact_name"], subject=row["subject"],
        received_at=row["received_at"], inbound_text=row["inbound_text"], draft_text=row["draft_text"],
        confidence=row["confidence"], threshold=threshold, reasons=reasons,
        reasons_text=[describe_reason(r, row["confidence"], threshold) for r in reasons],
        ready=bool(row["ready"]), variant=row["variant"], mode=config.mode_for(row["channel"]), state=row["state"],
        window_closes_at=to_iso(closes) if closes else None,
        window_seconds_left=(closes - now).total_seconds() if closes else None,
        window_template=_template_for(config, row["channel"]), created_at=row["created_at"],
    )


def _matches_reason(reasons: list[str], wanted: str) -> bool:
    return any(r == wanted or r.startswith(wanted + ":") for r in reasons)


def sort_key(item: ReviewItem) -> tuple:
    """Open windows first, closing soonest first; then everything else, oldest message first."""
    if item.window_open:
        return (0, item.window_closes_at, item.received_at, item.id)
    return (1, item.received_at, item.id)


def review_queue(store: Store, config: Config, clock: Clock, filters: ReviewFilter | None = None) -> list[ReviewItem]:
    """Drafts in review, most urgent first (module docstring), with the filters applied."""
    filters = filters or ReviewFilter()
    conn = store.conn
    contact_id = find_contact_id(conn, filters.contact) if filters.contact else None
    now = clock.now()
    rows = drafts.queue(store, channel=filters.channel or None, ready=filters.ready, contact_id=contact_id)
    items = [_item(conn, config, now, r) for r in rows]
    if filters.reason:
        items = [i for i in items if _matches_reason(i.reasons, filters.reason)]
    return sorted(items, key=sort_key)


def drafts_in_review(store: Store) -> int:
    """Every draft in review, whatever the filters: says whether an empty listing is a filter's doing."""
    return drafts.in_review_count(store)


def get_item(store: Store, config: Config, clock: Clock, draft_id: int) -> ReviewItem | None:
    """One draft as a review item, whatever its state now (another terminal may have decided it)."""
    row = drafts.queue_item(store, draft_id)
    return _item(store.conn, config, clock.now(), row) if row is not None else None


def load_details(store: Store, config: Config, clock: Clock, item: ReviewItem,
                 profiles: dict[str, list[float]] | None = None) -> ReviewItem:
    """Add the recent conversation and the send time approving now would plan (read-only)."""
    conn = store.conn
    event = inbox.event(conn, item.event_id)
    assert event is not None  # drafts.event_id references events
    earlier = recent_history(conn, event, HISTORY_MESSAGES)
    item.history = [HistoryEntry(role=h.role, text=h.text, at=h.at) for h in earlier]
    closes = from_iso(item.window_closes_at) if item.window_closes_at else None
    if item.channel in channels_where(human_approved_only=True):
        item.planned_send_at = None
        item.send_explanation = (f"sent at the next execute run after approval: {policy(item.channel).label} "
                                 "allows no scheduled sends")
        return item
    timing = plan_reply_time(conn, config, clock.now(), event, closes, {} if profiles is None else profiles)
    if timing.send_at is None and item.window_template:
        timing = plan_reply_time(conn, config, clock.now(), event, None, {} if profiles is None else profiles)
        item.send_explanation = f"{timing.explanation}; the window will have closed: template {item.window_template}"
    else:
        item.send_explanation = timing.explanation
    item.planned_send_at = to_iso(timing.send_at) if timing.send_at else None
    return item


def format_duration(seconds: float) -> str:
    """``1 d 3 h``, ``5 h 12 min``, ``42 min``, ``under a minute``."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"


def window_text(item: ReviewItem) -> str:
    """The window line of the review screen, in words."""
    if item.window_closes_at is None:
        return "no reply window on this channel"
    when = item.window_closes_at[:16].replace("T", " ") + " UTC"
    if item.window_open:
        return f"closes in {format_duration(item.window_seconds_left or 0)} ({when})"
    if item.window_template:
        return f"closed {when}: approving sends the template {item.window_template!r} instead"
    return f"closed {when}: free text can no longer be sent; reject it, or configure a window_template"
