"""The ordered checks ``process`` runs on one event (README: "The checks").

``evaluate`` reads the database but never writes: it returns a ``Plan`` — the
outcome, the reasons, the trail of checks, and what to write — or, when a
draft is needed and none was made yet, a plan holding the ``DraftRequest``.
``process.py`` (beside it) calls it twice per event: once to find what needs drafting
(before any model call), and again inside the event's write transaction with
the draft in hand, so that a consent change that arrived meanwhile still wins.

Order: 1 loop guard · 2 consent keywords and phrases · 3 contact checks ·
4 drafting · 5 gates · 6 mode and channel window · 7 rate limits ·
8 send time · 9 A/B variant (chosen before drafting, recorded with the reply).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..calibration import Calibrator
from ..channels.policy import channels_where
from ..clock import to_iso
from ..config import Config
from ..contacts import ConsentSignal, classify_message, is_typed, opted_out
from ..db.contacts import contact_row
from ..db.ratelimits import count, earliest_allowed
from ..drafting import DraftRequest, DraftResult, KnowledgeIndex, Passage, recent_history, render
from ..experiments import Assignment, Experiment, choose
from ..gates import (
    CHANNEL_LIMITS,
    GateResult,
    check_compliance,
    check_grounding,
    check_injection,
    check_manipulation,
    check_safety,
    check_sanity,
    check_spam,
)
from ..scheduling import plan_reply_time, reply_limits, window_closes
from ._outcomes import Check, Reply
from ._text_checks import InboundResult, metadata_of

NOT_ANSWERED_TYPES = {"reaction"}


@dataclass
class Plan:
    outcome: str | None = None
    """None while a draft is still needed."""
    reasons: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    reply: Reply | None = None
    consent: ConsentSignal | None = None
    request: DraftRequest | None = None
    assignment: Assignment | None = None
    confidence: float | None = None

    def check(self, name: str, result: str, detail: str = "") -> None:
        self.checks.append(Check(name, result, detail))  # type: ignore[arg-type]

    def finish(self, outcome: str, *reasons: str) -> Plan:
        self.outcome = outcome
        self.reasons.extend(r for r in reasons if r not in self.reasons)
        return self


@dataclass
class Context:
    """What evaluating needs besides the event: built once per run."""

    config: Config
    now: datetime
    index: KnowledgeIndex | None
    protected_fragments: tuple[str, ...] = ()
    own_addresses: frozenset[str] = frozenset()
    experiments: list[Experiment] = field(default_factory=list)
    channel_profiles: dict[str, list[float]] = field(default_factory=dict)
    calibrator: Calibrator | None = None
    """Review outcomes per intent (``[autopilot] learn_from_review``); None: the drafter's score as is."""
    inbound: dict[int, InboundResult] = field(default_factory=dict)
    """The current chunk's text-only checks, done ahead (``text_checks.py``). An event missing here
    (a check raised on its text) is checked inline where needed, so the error lands on that event."""

    def classify(self, event: sqlite3.Row) -> ConsentSignal | None:
        done = self.inbound.get(event["id"])
        if done is not None:
            return done.consent
        return classify_message(event["text"], event["message_type"], self.config.consent.languages)

    def passages(self, event: sqlite3.Row) -> list[Passage]:
        done = self.inbound.get(event["id"])
        if done is not None:
            return done.passages
        if self.index is None:
            return []
        return self.index.search(event["text"], ignore=[event["name"]] if event["name"] else ())


def _loop_guard(conn: sqlite3.Connection, ctx: Context, event: sqlite3.Row, plan: Plan) -> bool:
    """True when the event is skipped here."""
    if event["automated"]:
        detail = f"automated message ({event['automated_reason'] or 'marked automated'})"
        metadata = metadata_of(event["metadata"])
        if not metadata.get("out_of_office"):
            plan.check("loop_guard", "fail", detail)
            plan.finish("skipped", "automated")
            return True
        # An out-of-office reply: say what it changed for the contact (ingest recorded the date).
        away = metadata.get("away_until")
        held = (f"contact away until {str(away)[:10]}: replies to them are held until then" if away
                else "no return date given: nothing held")
        plan.check("loop_guard", "fail", f"{detail}; out-of-office reply, {held}")
        plan.finish("skipped", "automated", "out_of_office")
        return True
    if event["sender"].casefold() in ctx.own_addresses:
        plan.check("loop_guard", "fail", "sent from one of our own addresses")
        plan.finish("skipped", "automated", "own_address")
        return True
    if event["message_type"] in NOT_ANSWERED_TYPES:
        plan.check("loop_guard", "fail", f"a {event['message_type']}, nothing to answer")
        plan.finish("skipped", "not_a_message")
        return True
    cfg = ctx.config.autopilot
    window = timedelta(hours=cfg.auto_reply_window_hours)
    sent = count(conn, "auto_reply", str(event["contact_id"]), ctx.now - window, ctx.now + timedelta(days=8))
    if sent >= cfg.auto_reply_budget:
        plan.check("loop_guard", "fail", f"{sent} automatic replies in {cfg.auto_reply_window_hours:g} h "
                   f"(budget {cfg.auto_reply_budget}): a human answers the next one")
        plan.reasons.append("auto_reply_budget")
    else:
        plan.check("loop_guard", "pass", f"not automated; {sent}/{cfg.auto_reply_budget} automatic replies used")
    return False


def _contact_checks(conn: sqlite3.Connection, ctx: Context, event: sqlite3.Row, plan: Plan) -> bool:
    opted = opted_out(conn, event["contact_id"], event["channel"])
    if opted is not None:
        plan.check("contact", "fail", f"opted out (scope {opted['scope']}, rule {opted['rule']}, at {opted['at']})")
        plan.finish("skipped", "opted_out")
        return True
    contact = contact_row(conn, event["contact_id"])
    if contact["blocked"]:
        plan.check("contact", "fail", "contact is blocked")
        plan.finish("skipped", "blocked")
        return True
    if contact["dnd_until"] and contact["dnd_until"] > to_iso(ctx.now):
        plan.check("contact", "fail", f"do not disturb until {contact['dnd_until']}")
        plan.finish("skipped", "do_not_disturb")
        return True
    plan.check("contact", "pass", "not opted out, not blocked, no do-not-disturb")
    return False


def _gate(plan: Plan, result: GateResult) -> None:
    plan.check(f"gate:{result.gate}", "pass" if result.passed else "fail", result.detail)
    plan.reasons.extend(r for r in result.reasons if r not in plan.reasons)


def _request(conn: sqlite3.Connection, ctx: Context, event: sqlite3.Row, assignment: Assignment | None) -> DraftRequest:
    cfg = ctx.config
    limit = CHANNEL_LIMITS.get(event["channel"], ("chars", 4096))[1]
    return DraftRequest(
        event_id=event["id"],
        channel=event["channel"],
        contact_name=event["name"],
        inbound_text=event["text"],
        subject=event["subject"],
        history=recent_history(conn, event, cfg.autopilot.history_messages),
        passages=ctx.passages(event),
        template=assignment.template if assignment else cfg.drafter.template,
        signature=cfg.drafter.signature,
        max_chars=limit,
    )


def evaluate(
    conn: sqlite3.Connection, ctx: Context, event: sqlite3.Row, draft: DraftResult | None = None,
    moderation: GateResult | None = None,
) -> Plan:
    plan = Plan()
    if _loop_guard(conn, ctx, event, plan):
        return plan
    signal = ctx.classify(event)
    if signal is not None and signal.action in ("opt_out", "opt_in"):
        plan.check("consent", "info", f"{signal.action} by {signal.rule}")
        plan.consent = signal
        return plan.finish("opted_out" if signal.action == "opt_out" else "opted_in", f"{signal.action}:{signal.rule}")
    tapped = "" if is_typed(event["message_type"]) else " (a tapped button or quick reply: only a stop title counts)"
    if signal is not None and signal.action == "possible_opt_out":
        # Not sure enough to opt the contact out, too close to answer automatically: a person decides,
        # and the review screen offers the opt-out first.
        plan.check("consent", "fail", f"possibly an opt-out ({signal.rule}): a person decides")
        plan.reasons.append("possible_opt_out")
        signal = None
    else:
        plan.check("consent", "pass",
                   f"no opt-out or opt-in request{tapped}" if signal is None else f"help request ({signal.rule})")
    if _contact_checks(conn, ctx, event, plan):
        return plan
    if signal is not None:  # HELP / INFO: the configured help text, no model involved
        return _decide(conn, ctx, event, plan, Reply(
            text=ctx.config.consent.help_text, confidence=1.0, drafter="help_text", intent="help",
            reasons=[], ready=True, origin="help"))
    plan.assignment = choose(conn, ctx.experiments, event["channel"], event["contact_id"])
    if draft is None:
        plan.request = _request(conn, ctx, event, plan.assignment)
        return plan
    return _judge_draft(conn, ctx, event, plan, draft, moderation)


def _judge_draft(
    conn: sqlite3.Connection, ctx: Context, event: sqlite3.Row, plan: Plan, draft: DraftResult,
    moderation: GateResult | None,
) -> Plan:
    confidence = draft.confidence
    if ctx.calibrator is not None and not draft.error and draft.intent:
        confidence, seen = ctx.calibrator(draft.confidence, draft.drafter, draft.intent)
        if seen.total:
            plan.check("calibration", "info", f"{draft.drafter} {draft.intent}: {draft.confidence:.2f} → "
                       f"{confidence:.2f} after {seen.describe()}")
    plan.confidence = confidence
    if draft.error:
        plan.check("draft", "fail", f"{draft.drafter}: {draft.error}")
        plan.reasons.append(draft.reasons[0] if draft.reasons else "model_unavailable")
    else:
        plan.check("draft", "info", f"{draft.drafter}, confidence {draft.confidence:.2f}, intent {draft.intent}")
        plan.reasons.extend(r for r in draft.reasons if r not in plan.reasons)
        if draft.needs_human and not draft.reasons:
            plan.reasons.append("model_needs_human")
    threshold = ctx.config.threshold_for(event["channel"])
    plan.check("gate:confidence", "pass" if confidence >= threshold else "fail",
               f"{confidence:.2f} vs threshold {threshold:.2f}")
    if confidence < threshold:
        plan.reasons.append("low_confidence")
    done = ctx.inbound.get(event["id"])
    _gate(plan, check_safety(event["text"], draft.text, done.safety if done else None))
    if moderation is not None:
        _gate(plan, moderation)
    _gate(plan, check_compliance(event["text"], draft.text, ctx.config.gates.compliance_topics,
                                 done.compliance if done else None))
    _gate(plan, done.injection if done else check_injection(event["text"], metadata_of(event["metadata"])))
    _gate(plan, done.manipulation if done else check_manipulation(event["text"]))
    if draft.sources is not None and not draft.error:
        passages = ctx.passages(event)
        offered = {p.entry_id: f"{p.question}\n{p.answer}" for p in passages}
        covers = {p.entry_id: p.coverage if p.question_coverage > 0 else 0.0 for p in passages}
        variant = plan.assignment
        frame = render(variant.template if variant else ctx.config.drafter.template, answer="", name=event["name"],
                       signature=ctx.config.drafter.signature)
        _gate(plan, check_grounding(draft.text, draft.sources, offered, event["text"], frame, covers))
    _gate(plan, check_spam(draft.text))
    _gate(plan, check_sanity(draft.text, event["channel"], ctx.protected_fragments))
    possible_ooo = metadata_of(event["metadata"]).get("possible_out_of_office")
    if possible_ooo:  # the parser was not sure enough to skip it: a person decides
        plan.check("out_of_office", "fail", str(possible_ooo)[:120])
        if "possible_out_of_office" not in plan.reasons:
            plan.reasons.append("possible_out_of_office")
    variant = plan.assignment
    if variant is not None:
        plan.check("ab", "info", f"experiment {variant.experiment}: variant {variant.variant}")
    reply = Reply(
        text=draft.text, confidence=confidence, raw_confidence=draft.confidence, drafter=draft.drafter,
        intent=draft.intent,
        reasons=[], ready=False, variant_id=variant.variant_id if variant else None,
        variant=variant.variant if variant else None,
    )
    return _decide(conn, ctx, event, plan, reply)


def _decide(conn: sqlite3.Connection, ctx: Context, event: sqlite3.Row, plan: Plan, reply: Reply) -> Plan:
    mode = ctx.config.mode_for(event["channel"])
    if reply.origin == "help" and event["channel"] in channels_where(human_approved_only=True):
        plan.reasons.append("linkedin_human_only")
    closes = window_closes(conn, event)
    if closes is not None:
        verb = "closes" if closes > ctx.now else "closed"
        plan.check("window", "pass" if closes > ctx.now else "fail",
                   f"{event['channel']} 24-hour window {verb} {to_iso(closes)}")
    blocking = list(plan.reasons)
    if mode != "auto" and reply.origin != "help":
        plan.reasons.append(f"{mode}_mode")
    verdict = "passes every gate" if not blocking else "needs a human: " + ", ".join(blocking)
    plan.check("mode", "info", f"{mode}; {verdict}")
    reply.reasons = list(plan.reasons)
    # ASSIST drafts are suggestions: never one-click ready.
    reply.ready = not blocking and mode != "assist"
    if plan.reasons:
        plan.reply = reply
        return plan.finish("review_queue")
    # Only a reply that will be sent automatically needs its time now; one in
    # review gets it when approved (the review screen shows the plan).
    timing = plan_reply_time(conn, ctx.config, ctx.now, event, closes, ctx.channel_profiles)
    plan.check("send_time", "pass" if timing.send_at else "fail", timing.explanation)
    reply.explanation = timing.explanation
    if timing.send_at is None:
        reason = timing.reason or "no_allowed_slot"
        reply.reasons, reply.ready = [reason], False
        plan.reply = reply
        return plan.finish("review_queue", reason)
    at, deferred = earliest_allowed(conn, reply_limits(ctx.config, event), timing.send_at)
    if closes is not None and at >= closes:
        plan.check("rate_limit", "fail", f"limits allow {to_iso(at)}, after the window closes")
        reply.reasons = [*deferred, "window_closed"]
        plan.reply = reply
        return plan.finish("review_queue", *deferred, "window_closed")
    plan.check("rate_limit", "fail" if deferred else "pass",
               f"deferred to {to_iso(at)} by {', '.join(deferred)}" if deferred else "within limits")
    reply.schedule_at = at
    reply.origin = reply.origin or "auto"
    reply.rate_entries = [("contact", str(event["contact_id"])), ("channel", event["channel"]),
                          ("auto_reply", str(event["contact_id"]))]
    plan.reply = reply
    return plan.finish("rate_limited" if deferred else "auto_scheduled", *deferred)
