"""``autopilot process``: one outcome per pending event, oldest first.

Per chunk of pending events:

1. **Plan** (reads only): ``evaluate`` each event; consent keywords, loop guard
   and contact checks decide many events before any model call.
2. **Draft** (no transaction open): the remaining events go to the drafter in
   one batch, which may run concurrently; network calls never hold the lock.
3. **Decide** (one ``BEGIN IMMEDIATE`` transaction per event): re-check the
   event is still pending, ``evaluate`` again with the draft in hand (so an
   opt-out that arrived meanwhile still wins), and write the decision with
   its draft, job, consent change and rate counters together.

A crash leaves each event processed or pending, never half. Running twice, or
two processes at once, never creates two drafts or jobs for one event: the
decision is written only ``WHERE state = 'pending'`` inside the lock, and
drafts and jobs are unique per event. ``dry_run`` runs the same code on an
in-memory snapshot of the database, so it shows exactly the decisions a real
run would make, writes nothing and holds no lock while drafting.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from concurrent.futures import Future

from pydantic import BaseModel, Field, PrivateAttr

from ..calibration import Calibrator
from ..clock import Clock, to_iso
from ..config import Config
from ..contacts import opt_out_and_cancel, record_change
from ..db import decisions, inbox, jobs
from ..db.connection import Store, savepoint, snapshot
from ..db.ratelimits import cleanup, record
from ..drafting import (
    DraftResult,
    Services as Services,  # re-exported: the run's services
)
from ..errors import AutopilotError
from ..experiments import load_experiments, promote_winners, record_assignment, sync_experiments
from ..gates import GateResult
from ._checks import Context, Plan, evaluate
from ._outcomes import OUTCOMES, Decision, Reply, create_reply, store_decision
from ._text_checks import InboundChecks, InboundResult, Settings

CHUNK = 200

Progress = Callable[[int, int], None]
"""Told (events done, events in this run) before the first chunk and after each one."""


class ProcessReport(BaseModel):
    """The summary of ``process --json`` (``decisions`` listed per event)."""

    dry_run: bool = False
    processed: int = 0
    auto_scheduled: int = 0
    review_queue: int = 0
    opted_out: int = 0
    opted_in: int = 0
    rate_limited: int = 0
    skipped: int = 0
    errors: int = 0
    warnings: list[str] = Field(default_factory=list)
    """One line per distinct drafting failure (model unreachable, token budget spent, ...) and the
    number of events it sent to review: a model that is down must not pass unnoticed."""
    decisions: list[Decision] = Field(default_factory=list)
    _failed_drafts: dict[str, int] = PrivateAttr(default_factory=dict)

    def add(self, decision: Decision, draft: DraftResult | None = None) -> None:
        self.processed += 1
        key = "errors" if decision.outcome == "error" else decision.outcome
        setattr(self, key, getattr(self, key) + 1)
        self.decisions.append(decision)
        if draft is not None and draft.error and decision.outcome == "review_queue":
            problem = f"{draft.drafter} drafter: {draft.error}"
            self._failed_drafts[problem] = self._failed_drafts.get(problem, 0) + 1

    def finish(self) -> None:
        self.warnings = [f"{problem} — {n} event{'' if n == 1 else 's'} sent to review"
                         for problem, n in self._failed_drafts.items()]


def _apply_consent(conn: sqlite3.Connection, ctx: Context, event: sqlite3.Row, plan: Plan, now: str) -> None:
    signal = plan.consent
    assert signal is not None
    scope = "all" if ctx.config.consent.scope == "contact" else event["channel"]
    source = "keyword" if signal.rule.startswith("keyword") else "natural_language"
    if signal.action != "opt_out":
        record_change(conn, contact_id=event["contact_id"], action=signal.action, scope=scope, category="all",
                      source=source, rule=signal.rule, at=now, event_id=event["id"], detail=signal.language)
        return
    # The opt-out wins over everything already planned for this contact.
    _, cancelled, _ = opt_out_and_cancel(conn, contact_id=event["contact_id"], scope=scope, source=source,
                                         rule=signal.rule, at=now, event_id=event["id"], detail=signal.language,
                                         record_repeat=True)
    plan.check("consent", "info", f"cancelled {cancelled} scheduled job(s); scope {scope}")
    confirmation = ctx.config.consent.confirmation_text.strip()
    already = jobs.confirmation_since_opt_in(conn, event["contact_id"])
    if confirmation and not already:
        # At most one confirmation per opt-out, with no marketing in it (FCC 2024 TCPA order).
        plan.reply = Reply(text=confirmation, confidence=1.0, drafter="confirmation_text",
                           intent="opt_out_confirmation", reasons=[], ready=True, schedule_at=ctx.now,
                           origin="confirmation")


def _write(conn: sqlite3.Connection, ctx: Context, event: sqlite3.Row, plan: Plan, now: str) -> Decision:
    if plan.consent is not None:
        _apply_consent(conn, ctx, event, plan, now)
    draft_id = job_id = None
    if plan.reply is not None:
        if plan.assignment is not None and plan.reply.variant_id is not None:
            record_assignment(conn, event["contact_id"], plan.assignment, now)
        draft_id, job_id = create_reply(conn, event, plan.reply, now)
        if plan.reply.schedule_at is not None and plan.reply.rate_entries:
            record(conn, plan.reply.rate_entries, plan.reply.schedule_at)
    send_at = to_iso(plan.reply.schedule_at) if plan.reply and plan.reply.schedule_at else None
    decision = Decision(
        event_id=event["id"], external_id=event["external_id"], channel=event["channel"], contact=event["sender"],
        outcome=plan.outcome, reasons=plan.reasons, confidence=plan.confidence, draft_id=draft_id, job_id=job_id,
        send_at=send_at, checks=plan.checks,
    )
    store_decision(conn, decision, now)
    # The trail is stored for `explain`; a run over 100,000 events must not keep it all in memory.
    decision.checks = []
    return decision


def _decide_in(
    conn: sqlite3.Connection, ctx: Context, event_id: int, draft: DraftResult | None, moderation: GateResult | None
) -> Decision | None:
    event = inbox.pending_event(conn, event_id)
    if event is None:
        return None  # decided by another process meanwhile
    plan = evaluate(conn, ctx, event, draft, moderation)
    if plan.outcome is None:
        return None  # needs a draft it did not get (its state changed since planning): next run
    return _write(conn, ctx, event, plan, to_iso(ctx.now))


def _error_in(conn: sqlite3.Connection, ctx: Context, event_id: int, exc: Exception) -> Decision | None:
    event = inbox.pending_event(conn, event_id)
    if event is None:
        return None
    plan = Plan()
    plan.check("error", "fail", f"{type(exc).__name__}: {exc}")
    plan.finish("error", f"internal_error:{type(exc).__name__}")
    return _write(conn, ctx, event, plan, to_iso(ctx.now))


def _record_usage(store: Store, day: str, results: list[DraftResult]) -> None:
    tokens = sum(r.tokens for r in results)
    requests = sum(1 for r in results if r.tokens)
    if not requests:
        return
    with store.transaction() as conn:
        decisions.add_model_usage(conn, day, requests, tokens)


def _token_budget(store: Store, config: Config, day: str) -> int | None:
    budget = config.drafter.daily_token_budget
    if budget == 0:
        return None
    return max(0, budget - decisions.tokens_spent(store, day))


def _plan_all(store: Store, ctx: Context, events: list[sqlite3.Row]) -> dict[int, Plan | Exception]:
    plans: dict[int, Plan | Exception] = {}
    for event in events:
        try:
            plans[event["id"]] = evaluate(store.conn, ctx, event)
        except (AutopilotError, sqlite3.Error):
            raise
        except Exception as exc:  # one poison event must not block the queue
            plans[event["id"]] = exc
    return plans


def _draft_all(
    store: Store, ctx: Context, services: Services, plans: dict[int, Plan | Exception]
) -> tuple[dict[int, DraftResult], dict[int, GateResult]]:
    needing = [eid for eid, plan in plans.items() if isinstance(plan, Plan) and plan.request is not None]
    if not needing:
        return {}, {}
    day = ctx.now.strftime("%Y-%m-%d")
    requests = [plans[eid].request for eid in needing]  # type: ignore[union-attr]
    results = services.drafter.draft_many(requests, _token_budget(store, ctx.config, day))  # type: ignore[arg-type]
    _record_usage(store, day, results)
    moderation: dict[int, GateResult] = {}
    if services.moderator is not None:
        moderation = dict(zip(needing, services.moderator([r.text for r in results])))
    return dict(zip(needing, results)), moderation


def _run_chunk(store: Store, ctx: Context, services: Services, events: list[sqlite3.Row],
               report: ProcessReport) -> None:
    plans = _plan_all(store, ctx, events)
    drafts, moderation = _draft_all(store, ctx, services, plans)
    # One transaction for the chunk, a savepoint per event: each event is
    # decided completely or not at all, and a commit (an fsync with
    # synchronous=FULL) is paid per chunk rather than per event.
    with store.transaction() as conn:
        for event in events:
            event_id = event["id"]
            planned = plans[event_id]
            try:
                with savepoint(conn, "event"):
                    if isinstance(planned, Exception):
                        raise planned
                    decision = _decide_in(conn, ctx, event_id, drafts.get(event_id), moderation.get(event_id))
            except AutopilotError:
                raise  # database or configuration trouble is the whole run's problem
            except Exception as exc:
                decision = _error_in(conn, ctx, event_id, exc)
            if decision is not None:
                report.add(decision, drafts.get(event_id))


def _next_chunk(store: Store, after: tuple[str | None, int], remaining: int | None) -> list[sqlite3.Row]:
    size = CHUNK if remaining is None else min(CHUNK, remaining)
    if size <= 0:
        return []
    return inbox.pending_after(store, after[0] or "", after[1], size)


def process_events(
    store: Store, config: Config, clock: Clock, services: Services, *,
    limit: int | None = None, dry_run: bool = False, protected_fragments: tuple[str, ...] = (),
    progress: Progress | None = None,
) -> ProcessReport:
    if dry_run:
        with snapshot(store) as copy:
            report = process_events(copy, config, clock, services, limit=limit,
                                    protected_fragments=protected_fragments, progress=progress)
        report.dry_run = True
        return report
    now = clock.now()
    own = frozenset(a.strip().casefold() for a in config.autopilot.own_addresses)
    ctx = Context(config=config, now=now, index=services.index, protected_fragments=protected_fragments,
                  own_addresses=own)
    with store.transaction() as conn:
        cleanup(conn, now)
        sync_experiments(conn, config.experiments, to_iso(now))
        ctx.experiments = load_experiments(conn, config.ab, to_iso(now))
        if config.autopilot.learn_from_review:
            ctx.calibrator = Calibrator.load(conn, config.autopilot.calibration_strength)
    report = ProcessReport()
    checks = InboundChecks(Settings(tuple(config.consent.languages), tuple(config.gates.compliance_topics),
                                    services.index.knowledge if services.index is not None else None),
                           services.index)
    try:
        total = 0
        if config.autopilot.parallel_checks or progress is not None:
            pending = inbox.pending_count(store)
            total = pending if limit is None else min(limit, pending)
        if config.autopilot.parallel_checks:
            checks.start_worker(total)
        remaining, done = limit, 0
        if progress is not None:
            progress(0, total)
        rows = _next_chunk(store, (None, 0), remaining)
        ahead: Future[dict[int, InboundResult]] | None = checks.submit(rows)
        while rows:
            assert ahead is not None  # submitted for every non-empty chunk
            if remaining is not None:
                remaining -= len(rows)
            # The next chunk's texts are checked (in the worker) while this one is decided.
            following = _next_chunk(store, (rows[-1]["received_at"], rows[-1]["id"]), remaining)
            ctx.inbound = checks.collect(ahead)
            ahead = checks.submit(following) if following else None
            _run_chunk(store, ctx, services, rows, report)
            done += len(rows)
            if progress is not None:
                # Events that arrived during the run come after the count taken at its start.
                progress(done, max(total, done))
            rows = following
    finally:
        checks.close()
    ctx.inbound = {}
    # After the events, so that opt-outs they carried count for the guardrail: a
    # declared winner of an auto_promote experiment takes new contacts from the next run.
    with store.transaction() as conn:
        promote_winners(conn, config.ab, to_iso(now))
    report.finish()
    return report


__all__ = ["OUTCOMES", "ProcessReport", "Services", "process_events"]
