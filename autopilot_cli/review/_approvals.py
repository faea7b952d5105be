"""A person's decisions on drafts in review: approve (as is or edited), reject, opt the contact out.

Each decision on one draft is ONE ``BEGIN IMMEDIATE`` transaction that
re-reads the draft and the contact before writing, so that:

- two terminals cannot approve one draft twice: the second finds the draft no
  longer in ``review`` and is refused with who decided it and when (and
  ``jobs.draft_id`` / ``jobs.send_key`` are unique besides);
- a contact who opted out since the draft was queued is not written to;
- a WhatsApp/Instagram draft whose 24-hour window has closed is refused,
  unless the channel has a ``window_template`` (then the template is sent, and
  the result says so);
- the job holds exactly the approved text (``jobs.text == drafts.approved_text``
  and its hash), which ``execute`` checks again before sending.

The send time comes from the scheduler (``send_time.plan_reply_time``, as in
``process``) and then the rolling rate limits; ``now=True`` sends at the next
``execute`` run instead. LinkedIn replies always go at the next run: its terms
require a member action per message and allow no scheduled sends — which is
why approval, with ``origin = 'approved'``, is the only way a LinkedIn reply
is ever sent. Approval records rate events for the contact and the channel
(not the auto-reply budget: a person chose to send this one).

Every decision writes an ``audit_log`` row: who (the OS user the CLI passes
in), when, what changed, and for approvals the Levenshtein edit distance
between the draft and the approved text — what the confidence calibration
learns from.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from pydantic import BaseModel, Field

from ..channels.policy import channels_where, policy
from ..clock import Clock, to_iso
from ..config import Config
from ..contacts import opt_out_and_cancel, opted_out
from ..db import audit, decisions, drafts, inbox, jobs
from ..db.connection import Store
from ..db.contacts import contact_row
from ..db.ratelimits import earliest_allowed, record
from ..decide import send_key, text_hash
from ..errors import AutopilotError
from ..gates import find_placeholders, measure
from ..scheduling import plan_reply_time, reply_limits, window_closes
from ..scheduling.rules import parse_dnd_until

EDIT_DISTANCE_CELLS = 1_000_000
"""Above this many DP cells (after trimming the common prefix and suffix) the distance is
estimated as the longer remaining length — an upper bound — and flagged approximate.
A million cells take about half a second in pure Python; drafts are far shorter."""

REUSABLE_JOB_STATES = ("skipped", "cancelled")
"""A draft returned to review by ``execute`` (window closed, approval required) keeps its job
row (``jobs.draft_id`` is unique); approving it re-arms that row — it was never sent."""


class ApprovalRefused(AutopilotError):
    """A draft cannot be approved, rejected or acted on now; the message says why."""

    def __init__(self, draft_id: int, code: str, message: str) -> None:
        super().__init__(message)
        self.draft_id = draft_id
        self.code = code


class Approved(BaseModel):
    draft_id: int
    event_id: int
    channel: str
    contact: str
    job_id: int
    send_at: str
    explanation: str
    now: bool
    edited: bool
    edit_distance: int
    template: str | None = None
    """The window template execute will send instead of the text (the window closed)."""
    deferred_by: list[str] = Field(default_factory=list)
    """Rate limits that moved the send later than planned."""
    approved_by: str
    approved_at: str


class Rejected(BaseModel):
    draft_id: int
    reason: str | None
    rejected_by: str
    rejected_at: str


class Refusal(BaseModel):
    draft_id: int
    code: str
    """not_found · not_in_review · opted_out · blocked · window_closed · no_send_time · invalid_text · job_exists"""
    error: str


class OptedOut(BaseModel):
    contact_id: int
    contact: str
    scope: str
    recorded: bool
    """False when the contact had already opted out (nothing new recorded)."""
    cancelled_jobs: int
    cancelled_drafts: int


class Batch(BaseModel):
    """The outcome of deciding several drafts, each in its own transaction."""

    approved: list[Approved] = Field(default_factory=list)
    rejected: list[Rejected] = Field(default_factory=list)
    refused: list[Refusal] = Field(default_factory=list)


# --- edit distance ----------------------------------------------------------------------------


def edit_distance(a: str, b: str, max_cells: int = EDIT_DISTANCE_CELLS) -> tuple[int, bool]:
    """Levenshtein distance (insert, delete, substitute: 1 each) and whether it is approximate.

    Two-row dynamic programme, O(n·m) time and O(min(n, m)) memory, on what is left
    after the common prefix and suffix (an edit usually touches one place). Past
    ``max_cells`` the longer remainder's length is returned: an upper bound.
    """
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a), False
    if len(a) * len(b) > max_cells:
        return len(a), True
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1], False


# --- helpers ----------------------------------------------------------------------------------


def _draft(conn: sqlite3.Connection, draft_id: int) -> sqlite3.Row:
    row = drafts.with_event(conn, draft_id)
    if row is None:
        raise ApprovalRefused(draft_id, "not_found", f"no draft with id {draft_id}")
    return row


def _require_review(conn: sqlite3.Connection, draft: sqlite3.Row) -> None:
    if draft["state"] == "review":
        return
    opted = opted_out(conn, draft["contact_id"], draft["channel"])
    if draft["state"] == "cancelled" and opted is not None:
        raise ApprovalRefused(draft["id"], "opted_out", _opted_out_message(draft, opted))
    who = f" by {draft['decided_by']}" if draft["decided_by"] else ""
    when = f" at {draft['decided_at']}" if draft["decided_at"] else ""
    raise ApprovalRefused(draft["id"], "not_in_review",
                          f"draft {draft['id']} is no longer in review: it was {draft['state']}{who}{when}")


def _opted_out_message(draft: sqlite3.Row, opted: sqlite3.Row) -> str:
    return (f"contact {draft['sender']} opted out (at {opted['at'] or '?'}, {opted['rule'] or 'recorded'}); "
            f"draft {draft['id']} was not approved")


def _check_text(draft_id: int, channel: str, text: str) -> None:
    if not text.strip():
        raise ApprovalRefused(draft_id, "invalid_text", f"draft {draft_id}: the approved text is empty")
    slots = find_placeholders(text)
    if slots:  # the customer would read "{first_name}"
        raise ApprovalRefused(draft_id, "invalid_text",
                              f"draft {draft_id}: the text has unfilled placeholders: {', '.join(slots[:5])}")
    size, unit, limit = measure(text, channel)
    if size > limit:
        raise ApprovalRefused(draft_id, "invalid_text",
                              f"draft {draft_id}: the text is {size} {unit}, over the {channel} limit of {limit}")


def _window_template(config: Config, channel: str) -> str | None:
    return getattr(config.channels.get(channel), "window_template", None)


def _dnd_until(conn: sqlite3.Connection, contact_id: int, now: datetime) -> datetime | None:
    """The contact's do-not-disturb end, when it is still in force."""
    row = contact_row(conn, contact_id)
    if not row["dnd_until"]:
        return None
    try:
        until = parse_dnd_until(row["dnd_until"])
    except ValueError:
        return None
    return until if until > now else None


def _plan(conn: sqlite3.Connection, config: Config, now: datetime, draft: sqlite3.Row, event: sqlite3.Row,
          send_now: bool, override_dnd: bool = False) -> tuple[datetime, str, str | None, list[str]]:
    """(send_at, explanation, template or None, rate-limit reasons) — or ApprovalRefused.

    ``send_now`` skips the best-time planning, never the contact's do-not-disturb:
    only ``override_dnd`` sends inside it (the operator's explicit, audited choice).
    """
    closes = window_closes(conn, event)
    template = _window_template(config, draft["channel"])
    rules = policy(draft["channel"])
    label = rules.label
    use_template: str | None = None
    if closes is not None and closes <= now:
        if not template:
            raise ApprovalRefused(
                draft["id"], "window_closed",
                f"draft {draft['id']}: the {label} 24-hour window closed at {to_iso(closes)}; free text can no "
                f"longer be sent (reject it, or set channels.{draft['channel']}.window_template)")
        use_template = template
    dnd = _dnd_until(conn, draft["contact_id"], now)
    if send_now or rules.human_approved_only:
        send_at = now
        explanation = (f"{label}: sent at the next execute run (its terms allow no scheduled sends)"
                       if rules.human_approved_only and not send_now
                       else "approved with --now: sent at the next execute run")
        if dnd is not None and override_dnd:
            explanation += f", inside the contact's do-not-disturb (until {to_iso(dnd)}): --override-dnd"
        elif dnd is not None:
            send_at = dnd
            explanation += (f"; held until the contact's do-not-disturb ends at {to_iso(dnd)} "
                            "(--override-dnd sends inside it)")
    else:
        timing = plan_reply_time(conn, config, now, event, None if use_template else closes, {},
                                 ignore_dnd=override_dnd)
        if timing.send_at is None and timing.reason == "window_closed" and template:
            use_template = template
            timing = plan_reply_time(conn, config, now, event, None, {}, ignore_dnd=override_dnd)
        if timing.send_at is None:
            hint = ("approve with --override-dnd to send inside the contact's do-not-disturb"
                    if dnd is not None else "approve with --now to send at the next execute run")
            raise ApprovalRefused(draft["id"], "no_send_time",
                                  f"draft {draft['id']}: no allowed send time ({timing.explanation}); {hint}")
        send_at, explanation = timing.send_at, timing.explanation
        if dnd is not None and override_dnd:
            explanation += f"; the contact's do-not-disturb (until {to_iso(dnd)}) overridden: --override-dnd"
    at, deferred = earliest_allowed(conn, reply_limits(config, event), send_at)
    if closes is not None and at >= closes and not use_template:
        if not template:
            raise ApprovalRefused(
                draft["id"], "window_closed",
                f"draft {draft['id']}: rate limits ({', '.join(deferred)}) allow {to_iso(at)}, after the "
                f"{label} window closes at {to_iso(closes)}")
        use_template = template
    if deferred:
        explanation += f"; deferred to {to_iso(at)} by {', '.join(deferred)}"
    if use_template:
        explanation += f"; the window will have closed, so the template {use_template!r} is sent instead"
    return at, explanation, use_template, deferred


def _write_job(conn: sqlite3.Connection, draft: sqlite3.Row, event: sqlite3.Row, text: str, send_at: datetime,
               explanation: str, now: str) -> int:
    key = send_key(draft["channel"], event["external_id"], "approved")
    existing = jobs.for_draft(conn, draft["id"])
    if existing is not None:
        if existing["state"] not in REUSABLE_JOB_STATES:
            raise ApprovalRefused(draft["id"], "job_exists",
                                  f"draft {draft['id']} already has job {existing['id']} ({existing['state']})")
        jobs.reschedule_approved(conn, existing["id"], send_key=key, text=text, text_sha256=text_hash(text),
                                 send_at=to_iso(send_at), explanation=explanation, now=now)
        return int(existing["id"])
    try:
        job_id = jobs.schedule(
            conn, draft_id=draft["id"], event_id=event["id"], contact_id=draft["contact_id"],
            channel=draft["channel"], recipient=event["sender"], send_key=key, text=text,
            text_sha256=text_hash(text), send_at=to_iso(send_at), variant_id=draft["variant_id"],
            variant=draft["variant"], origin="approved", explanation=explanation, now=now)
    except sqlite3.IntegrityError:
        raise ApprovalRefused(draft["id"], "job_exists",
                              f"draft {draft['id']}: a reply to this message is already scheduled") from None
    return int(job_id)


# --- decisions --------------------------------------------------------------------------------


def approve_one(store: Store, config: Config, clock: Clock, actor: str, draft_id: int, text: str | None = None,
                now: bool = False, override_dnd: bool = False) -> Approved:
    """Approve one draft (``text`` replaces the draft's text); raises ApprovalRefused."""
    at = clock.now()
    stamp = to_iso(at)
    with store.transaction() as conn:
        draft = _draft(conn, draft_id)
        _require_review(conn, draft)
        opted = opted_out(conn, draft["contact_id"], draft["channel"])
        if opted is not None:
            raise ApprovalRefused(draft_id, "opted_out", _opted_out_message(draft, opted))
        contact = contact_row(conn, draft["contact_id"])
        if contact["blocked"]:
            raise ApprovalRefused(draft_id, "blocked", f"contact {draft['sender']} is blocked; draft {draft_id} "
                                  "was not approved (autopilot contacts set … --unblock first)")
        approved_text = draft["text"] if text is None else text
        _check_text(draft_id, draft["channel"], approved_text)
        event = inbox.event(conn, draft["event_id"])
        assert event is not None  # drafts.event_id references events
        send_at, explanation, template, deferred = _plan(conn, config, at, draft, event, now, override_dnd)
        job_id = _write_job(conn, draft, event, approved_text, send_at, explanation, stamp)
        # `explain` follows the decision row to the job: point it at the approved one.
        decisions.point_to_job(conn, event["id"], job_id, to_iso(send_at))
        # Cannot fail under the write lock; refuse rather than guess if it ever does.
        if not drafts.approve(conn, draft_id, approved_text, actor, stamp):
            raise ApprovalRefused(draft_id, "not_in_review", f"draft {draft_id} changed while being approved")
        record(conn, [("contact", str(draft["contact_id"])), ("channel", draft["channel"])], send_at)
        distance, approximate = edit_distance(draft["text"], approved_text)
        edited = approved_text != draft["text"]
        audit.record(conn, at=stamp, actor=actor, action="approve", object_type="draft", object_id=draft_id, detail={
            "state": ["review", "approved"], "event_id": draft["event_id"], "channel": draft["channel"],
            "job_id": job_id, "send_at": to_iso(send_at), "now": now, "edited": edited,
            "edit_distance": distance, "edit_distance_approximate": approximate,
            "draft_chars": len(draft["text"]), "approved_chars": len(approved_text),
            "confidence": draft["confidence"], "reasons": json.loads(draft["reasons"] or "[]"),
            "template": template, "deferred_by": deferred, "override_dnd": override_dnd,
        })
    return Approved(
        draft_id=draft_id, event_id=draft["event_id"], channel=draft["channel"], contact=draft["sender"],
        job_id=job_id, send_at=to_iso(send_at), explanation=explanation, now=now, edited=edited,
        edit_distance=distance, template=template, deferred_by=deferred, approved_by=actor, approved_at=stamp,
    )


def approve(store: Store, config: Config, clock: Clock, actor: str, draft_ids: list[int], text: str | None = None,
            now: bool = False, override_dnd: bool = False) -> Batch:
    """Approve each draft in its own transaction; refusals are collected, not raised."""
    batch = Batch()
    for draft_id in draft_ids:
        try:
            batch.approved.append(approve_one(store, config, clock, actor, draft_id, text, now, override_dnd))
        except ApprovalRefused as exc:
            batch.refused.append(Refusal(draft_id=exc.draft_id, code=exc.code, error=str(exc)))
    return batch


def ready_draft_ids(store: Store) -> list[int]:
    """Drafts that passed every gate and wait only for a click (one-click mode), oldest first.

    Human-approval-only channels (LinkedIn) are left out: their terms want a member's action per
    message, so each such reply is approved by its id or in ``review``, never in bulk.
    """
    return drafts.ready_ids(store, list(channels_where(human_approved_only=True)))


def approve_all_ready(store: Store, config: Config, clock: Clock, actor: str, now: bool = False) -> Batch:
    """Approve every ready draft (see ``ready_draft_ids``), each as is, each in its own transaction."""
    return approve(store, config, clock, actor, ready_draft_ids(store), None, now)


def reject_one(store: Store, clock: Clock, actor: str, draft_id: int, reason: str | None = None) -> Rejected:
    stamp = to_iso(clock.now())
    reason = (reason or "").strip() or None
    with store.transaction() as conn:
        draft = _draft(conn, draft_id)
        _require_review(conn, draft)
        drafts.reject(conn, draft_id, reason, actor, stamp)
        audit.record(conn, at=stamp, actor=actor, action="reject", object_type="draft", object_id=draft_id, detail={
            "state": ["review", "rejected"], "event_id": draft["event_id"], "channel": draft["channel"],
            "reason": reason, "confidence": draft["confidence"], "reasons": json.loads(draft["reasons"] or "[]"),
        })
    return Rejected(draft_id=draft_id, reason=reason, rejected_by=actor, rejected_at=stamp)


def reject(store: Store, clock: Clock, actor: str, draft_ids: list[int], reason: str | None = None) -> Batch:
    batch = Batch()
    for draft_id in draft_ids:
        try:
            batch.rejected.append(reject_one(store, clock, actor, draft_id, reason))
        except ApprovalRefused as exc:
            batch.refused.append(Refusal(draft_id=exc.draft_id, code=exc.code, error=str(exc)))
    return batch


def opt_out_contact(store: Store, config: Config, clock: Clock, actor: str, draft_id: int,
                    note: str | None = None) -> OptedOut:
    """Record an opt-out for the contact behind a draft (the person asked, e.g. on the phone).

    As for an opt-out message: scope per ``[consent] scope``; the contact's
    scheduled jobs and drafts in review are cancelled in the same transaction.
    No confirmation message is sent — the request did not come by message.
    """
    stamp = to_iso(clock.now())
    with store.transaction() as conn:
        draft = _draft(conn, draft_id)
        contact_id, channel = draft["contact_id"], draft["channel"]
        scope = "all" if config.consent.scope == "contact" else channel
        recorded, cancelled_jobs, cancelled_drafts = opt_out_and_cancel(
            conn, contact_id=contact_id, scope=scope, source="operator", rule=f"operator:{actor}", at=stamp,
            event_id=draft["event_id"], detail=note, job_error="contact opted out (operator)")
        audit.record(conn, at=stamp, actor=actor, action="opt_out", object_type="contact", object_id=contact_id,
                     detail={"draft_id": draft_id, "scope": scope, "recorded": recorded,
                             "cancelled_jobs": cancelled_jobs, "cancelled_drafts": cancelled_drafts, "note": note})
    return OptedOut(contact_id=contact_id, contact=draft["sender"], scope=scope, recorded=recorded,
                    cancelled_jobs=cancelled_jobs, cancelled_drafts=cancelled_drafts)


__all__ = [
    "ApprovalRefused", "Approved", "Batch", "OptedOut", "Refusal", "Rejected", "approve", "approve_all_ready",
    "approve_one", "edit_distance", "opt_out_contact", "ready_draft_ids", "reject", "reject_one",
]
