"""``autopilot eval``: the real pipeline on labelled cases, in memory.

Each case becomes an inbound message from its own contact (so that one case's rate limits, history
or opt-out never touch another), is ingested and processed by the same code as ``ingest`` and
``process``, on an in-memory copy of the database — the review history that calibrates confidence
included — so nothing is written. The config is the operator's, with the mode set to AUTO and the
volume limits lifted: the question is what AUTO would decide for each message, not how many it
would send in an hour.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

from ..channels.policy import policy
from ..clock import Clock, to_iso
from ..config import Config, LimitsSection
from ..db import drafts
from ..db.connection import Store, snapshot
from ..db.migrations import open_store
from ..decide import process_events
from ..drafting import Services
from ..inbound import ingest_bytes
from ..secrets import Secrets
from ._cases import EvalCase
from ._report import EvalReport, Misjudged

_UNLIMITED = 10**9


def eval_config(config: Config) -> Config:
    """The operator's config as AUTO would run it, without volume limits."""
    return config.model_copy(update={
        "autopilot": config.autopilot.model_copy(update={
            "mode": "auto", "auto_reply_budget": 1000, "parallel_checks": False}),
        "limits": LimitsSection(per_contact_per_day=_UNLIMITED, per_channel_per_hour=_UNLIMITED,
                                per_channel_per_day=_UNLIMITED),
    })


def evaluate_cases(store: Store | None, config: Config, clock: Clock, services: Services,
                   cases: Sequence[EvalCase], *, protected_fragments: tuple[str, ...] = ()) -> EvalReport:
    """Decide every case as AUTO would; ``store`` (may be None: an empty database) is only read."""
    work = snapshot(store) if store is not None else open_store(":memory:", clock)
    try:
        return _evaluate(work, eval_config(config), clock, services, cases, protected_fragments)
    finally:
        work.close()


def _evaluate(store: Store, config: Config, clock: Clock, services: Services, cases: Sequence[EvalCase],
              protected_fragments: tuple[str, ...]) -> EvalReport:
    received = to_iso(clock.now() - timedelta(minutes=1))
    lines = [json.dumps({"channel": c.channel, "id": f"eval-case-{i}", "text": c.text, "received_at": received,
                         "from": policy(c.channel).sample_sender.format(n=i)}) for i, c in enumerate(cases, 1)]
    ingest_bytes(store, "\n".join(lines).encode(), fmt="jsonl", config=config, clock=clock, secrets=Secrets({}))
    processed = process_events(store, config, clock, services, protected_fragments=protected_fragments)
    by_case = {d.external_id: d for d in processed.decisions}
    intents = drafts.intents(store, [d.draft_id for d in processed.decisions if d.draft_id is not None])
    report = EvalReport(threshold=config.autopilot.confidence_threshold)
    for i, case in enumerate(cases, 1):
        decision = by_case.get(f"eval-case-{i}")
        intent = intents.get(decision.draft_id) if decision and decision.draft_id is not None else None
        predicted = _label(decision.outcome if decision else "error", intent)
        right = _right_answer(case, intent)
        if case.expected == "auto" and predicted == "review" and services.index is not None:
            for passage in services.index.search(case.text, limit=1):
                for word in passage.missing:
                    report.uncovered_words[word] = report.uncovered_words.get(word, 0) + 1
        if not report.add(expected=case.expected, predicted=predicted, right_answer=right, tags=case.tags):
            report.misjudged.append(Misjudged(
                line=case.line, text=case.text, channel=case.channel, expected=case.expected, predicted=predicted,
                wrong_answer=predicted == case.expected == "auto" and not right,
                confidence=decision.confidence if decision else None, intent=intent,
                reasons=decision.reasons if decision else ["not processed"], tags=case.tags))
    report.finish()
    return report


def _label(outcome: str, intent: str | None) -> str:
    if outcome in ("opted_out", "opted_in"):
        return outcome.replace("opted_", "opt_")
    if intent == "help":
        return "help"
    if outcome == "auto_scheduled":
        return "auto"
    if outcome == "skipped":
        return "skip"
    return "review"


def _right_answer(case: EvalCase, intent: str | None) -> bool:
    """Whether an automatic reply answered from the entry the case names (any, when it names none)."""
    wanted = case.entries()
    if not wanted:
        return True
    if not intent or not intent.startswith("faq:"):
        return False
    used = {int(part) for part in intent.removeprefix("faq:").split("+") if part.isdigit()}
    return bool(used) and used <= wanted
