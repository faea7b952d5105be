"""``autopilot demo``: the whole pipeline on shipped samples, in a scratch folder.

Runs on embedded defaults only — offline drafter, outbox channels, a SQLite
file — so it needs no network and no secrets. Each later stage of the
pipeline adds its step here.

The demo runs on a fixed clock just after the samples' timestamps, so that
its output is the same every time and the WhatsApp/Instagram 24-hour windows
of the sample conversations are still open.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

from pydantic import BaseModel

from .channels.registry import Registry
from .clock import FixedClock
from .config import load_config
from .decisions import Decision
from .drafting.offline import OfflineDrafter
from .execute import ExecuteReport, execute_jobs
from .ingest import IngestReport, ingest_bytes
from .knowledge import KnowledgeIndex
from .migrations import open_store
from .process import ProcessReport, Services, process_events
from .scaffold import init_directory
from .secrets import Secrets
from .status import StatusReport, system_status

DEMO_NOW = datetime(2025, 11, 25, 12, 5, tzinfo=timezone.utc)

SAMPLES = (
    "whatsapp_webhook.json",
    "whatsapp_status.json",
    "instagram_webhook.json",
    "email_question.eml",
    "email_out_of_office.eml",
    "linkedin_events.json",
    "events.jsonl",
)


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


class DemoReport(BaseModel):
    directory: str
    config: str
    database: str
    clock: str
    ingests: list[DemoIngest]
    events: list[DemoEvent]
    process: ProcessReport
    decisions: list[DemoDecision]
    execute: ExecuteReport
    outbox: list[DemoSent]
    status: StatusReport


def sample_bytes(name: str) -> bytes:
    return resources.files("autopilot_cli").joinpath("samples", name).read_bytes()


def run_demo(directory: Path) -> DemoReport:
    clock = FixedClock(DEMO_NOW)
    setup = init_directory(directory, clock, mode="auto")
    config = load_config(setup.config)
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
            DemoEvent(id=r["id"], channel=r["channel"], sender=r["sender"], text=r["text"], automated=bool(r["automated"]))
            for r in store.query("SELECT id, channel, sender, text, automated FROM events ORDER BY received_at, id")
        ]
        index = KnowledgeIndex.from_file(config.resolve_path(config.drafter.knowledge_file))
        processed = process_events(store, config, clock, Services(drafter=OfflineDrafter(), index=index))
        decisions = []
        for d in processed.decisions:
            text = store.scalar("SELECT text FROM events WHERE id = ?", (d.event_id,))
            draft = store.scalar("SELECT text FROM drafts WHERE id = ?", (d.draft_id,)) if d.draft_id else None
            decisions.append(DemoDecision(decision=d, text=str(text), draft=draft))
        # Two minutes later, as cron would: every due reply goes through the outbox.
        later = FixedClock(DEMO_NOW + timedelta(minutes=2))
        sent = execute_jobs(store, config, later, Registry(config, secrets, store.path, later))
        outbox = [DemoSent(**dict(r)) for r in store.query(
            "SELECT job_id, channel, recipient, text FROM outbox ORDER BY id")]
        status = system_status(store)
    return DemoReport(
        directory=str(directory), config=setup.config, database=setup.database, clock=str(DEMO_NOW),
        ingests=ingests, events=events, process=processed, decisions=decisions, execute=sent, outbox=outbox,
        status=status,
    )
