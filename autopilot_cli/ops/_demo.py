"""``autopilot demo``: the whole pipeline on shipped samples, in a scratch folder.

Runs on embedded defaults only — offline drafter, outbox channels, a SQLite
file — so it needs no network and no secrets. Each later stage of the
pipeline adds its step here: ingest, process, the review queue with one
draft approved by the operator "demo", execute.

The demo runs on a fixed clock just after the samples' timestamps, so that
its output is the same every time and the WhatsApp/Instagram 24-hour windows
of the sample conversations are still open.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

from pydantic import BaseModel

from ..channels import Registry
from ..channels.policy import channels_where
from ..clock import FixedClock, from_iso, to_iso
from ..config import ExperimentConfig, load_config
from ..db import demo as demo_reads
from ..db.migrations import open_store
from ..db.outbox import recorded_with_jobs
from ..decide import Decision, ProcessReport, process_events
from ..drafting import KnowledgeIndex, OfflineDrafter, Services
from ..errors import AutopilotError
from ..evaluation import EvalReport, evaluate_cases, parse_cases
from ..experiments import ABReport, all_reports
from ..inbound import IngestReport, ingest_bytes
from ..review import Approved, ReviewItem, approve_one, review_queue
from ..secrets import Secrets
from ..sending import ExecuteReport, execute_jobs
from ._init import init_directory
from ._status import StatusReport, system_status

DEMO_NOW = datetime(2025, 11, 25, 12, 5, tzinfo=timezone.utc)
DEMO_OPERATOR = "demo"
LOW_RISK = frozenset({"low_confidence", "one_click_mode", "partly_answered"})
"""Reasons that only say "a person should look": no gate about safety, compliance or injection fired."""

SAMPLES = (
    "whatsapp_webhook.json",
    "whatsapp_status.json",
    "instagram_webhook.json",
    "email_question.eml",
    "email_out_of_office.eml",
    "linkedin_events.json",
    "events.jsonl",
)



def demo_experiment() -> dict:
    """An experiment for the demo (added to the config before ``process``)."""
    return {"name": "greeting", "channels": list(channels_where(human_approved_only=False)), "metric": "replied",
            "variants": [
                {"name": "control", "weight": 50, "template": "Hi {greeting_name},\n\n{answer}\n\n{signature}"},
                {"name": "warm", "weight": 50,
                 "template": "Hello {greeting_name}! {answer}\n\nHave a lovely day,\n{signature}"},
            ]}

class DemoIngest(BaseModel):
    sample: str
    report: IngestReport


class DemoEvent(BaseModel):
    id: int
    channel: str
    sender: str
    text: str
    automated: bool


class DemoDecision(BaseModel):
    decision: Decision
    text: str
    draft: str | None


class DemoSent(BaseModel):
    job_id: int
    channel: str
    recipient: str
    text: str
    explanation: str | None = None
    """Why it was sent when it was (the scheduler's line)."""
    variant: str | None = None


class DemoReview(BaseModel):
    id: int
    event_id: int
    channel: str
    contact: str
    inbound_text: str
    draft_text: str
    confidence: float | None
    reasons: list[str]
    ready: bool
    variant: str | None
    window_closes_at: str | None


class DemoReport(BaseModel):
    directory: str
    config: str
    database: str
    clock: str
    ingests: list[DemoIngest]
    events: list[DemoEvent]
    process: ProcessReport
    decisions: list[DemoDecision]
    review: list[DemoReview]
    """The review queue after process (before the demo's approval), as ``review --list --json``."""
    approved: Approved | None
    """The one draft the demo operator approved (with --now), sent by the execute step."""
    execute: ExecuteReport
    execute_clock: str
    outbox: list[DemoSent]
    ab_reports: list[ABReport]
    status: StatusReport
    evaluation: EvalReport
    """``autopilot eval`` on the shipped example cases (``templates/cases.jsonl``) with the demo's knowledge file."""


CASES_NAME = "cases.jsonl"


def sample_bytes(name: str) -> bytes:
    return resources.files("autopilot_cli").joinpath("samples", name).read_bytes()


MARKER = ".autopilot-demo"
"""Written into every folder the demo creates: the only folders it will ever write into again."""


def claim_folder(directory: Path) -> None:
    """Make ``directory`` the demo's, or refuse: the demo processes, approves and sends with a moved
    clock, which must never touch a real shop. A folder that is new, empty, or made by an earlier
    demo (it holds ``MARKER``) is fine; anything else is refused before a byte is written."""
    if directory.exists() and not directory.is_dir():
        raise AutopilotError(f"refusing to run the demo in {directory}: it is not a folder")
    if directory.is_dir() and not (directory / MARKER).is_file() and any(directory.iterdir()):
        raise AutopilotError(
            f"refusing to run the demo in {directory}: the folder holds files the demo did not create "
            "(it only uses a new or empty folder, or one an earlier demo made); pick another --dir")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("made by 'autopilot demo'; the demo may write here again. Safe to delete.\n",
                                    encoding="utf-8")


def run_demo(directory: Path) -> DemoReport:
    claim_folder(directory)
    clock = FixedClock(DEMO_NOW)
    setup = init_directory(directory, clock, mode="auto")
    # The demo adds an A/B test of two greetings, so that it can end with an ab-report.
    config = load_config(setup.config)
    config = config.model_copy(update={"experiments": [ExperimentConfig(**demo_experiment())]})
    # The demo never needs a secret: outbox channels and no signatures.
    secrets = Secrets({})
    ingests: list[DemoIngest] = []
    with open_store(setup.database, clock) as store:
        for name in SAMPLES:
            report = ingest_bytes(
                store, sample_bytes(name), fmt="auto", config=config, clock=clock, secrets=secrets, source=name
            )
            ingests.append(DemoIngest(sample=name, report=report))
        events = [
            DemoEvent(id=r["id"], channel=r["channel"], sender=r["sender"], text=r["text"],
                      automated=bool(r["automated"]))
            for r in demo_reads.events_in_order(store)
        ]
        index = KnowledgeIndex.from_file(config.resolve_path(config.drafter.knowledge_file))
        processed = process_events(store, config, clock, Services(drafter=OfflineDrafter(), index=index))
        decisions = []
        for d in processed.decisions:
            text = demo_reads.event_text(store, d.event_id)
            draft = demo_reads.draft_text(store, d.draft_id) if d.draft_id else None
            decisions.append(DemoDecision(decision=d, text=str(text), draft=draft))
        # A person (the demo operator) approves one low-risk draft from the queue, to go
        # at the next execute run; the rest stay for `autopilot review`.
        # Once per demo folder: a second run leaves the queue as it is.
        queue = review_queue(store, config, clock)
        choice = None if demo_reads.anything_decided_by(store, DEMO_OPERATOR) else _low_risk(queue)
        approved = approve_one(store, config, clock, DEMO_OPERATOR, choice.id, now=True) if choice else None
        # Cron runs execute every minute; the demo jumps to when the last scheduled reply
        # is due (the scheduler may have chosen the contact's working hours) and runs it once.
        last_due = demo_reads.last_scheduled_send_at(store)
        due = max(DEMO_NOW + timedelta(minutes=2), from_iso(last_due) if last_due else DEMO_NOW)
        later = FixedClock(due + timedelta(seconds=1))
        sent = execute_jobs(store, config, later, Registry(config, secrets, store.path, later))
        outbox = [DemoSent(**dict(r)) for r in recorded_with_jobs(store)]
        ab_reports = all_reports(store, config, later)  # a handful of sends: "not enough data"
        status = system_status(store, setup.config, "--config")
        cases = parse_cases(resources.files("autopilot_cli").joinpath("templates", CASES_NAME).read_bytes(), CASES_NAME)
        evaluation = evaluate_cases(store, config, clock, Services(drafter=OfflineDrafter(), index=index), cases)
    return DemoReport(
        directory=str(directory), config=setup.config, database=setup.database, clock=str(DEMO_NOW),
        ingests=ingests, events=events, process=processed, decisions=decisions,
        review=[DemoReview(**item.list_entry()) for item in queue], approved=approved, execute=sent,
        execute_clock=to_iso(later.now()), outbox=outbox,
        ab_reports=ab_reports, status=status, evaluation=evaluation,
    )


def _human_only(channel: str) -> bool:
    return channel in channels_where(human_approved_only=True)


def _low_risk(queue: list[ReviewItem]) -> ReviewItem | None:
    """A ready draft, else the most confident one whose reasons are all low-risk (never LinkedIn: one
    click per member message is the point there, and the demo should not look like a bulk sender)."""
    ready = [i for i in queue if i.ready and not _human_only(i.channel)]
    if ready:
        return ready[0]
    calm = [i for i in queue if not _human_only(i.channel) and set(i.reasons) <= LOW_RISK and i.state == "review"
            and (i.window_closes_at is None or i.window_open)]
    return max(calm, key=lambda i: (i.confidence or 0.0, -i.id), default=None)
