"""``autopilot demo``: the whole pipeline on shipped samples, in a scratch folder.

Runs on embedded defaults only — offline drafter, outbox channels, a SQLite
file — so it needs no network and no secrets. Each later stage of the
pipeline adds its step here.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import BaseModel

from .clock import Clock
from .config import load_config
from .ingest import IngestReport, ingest_bytes
from .migrations import open_store
from .scaffold import init_directory
from .secrets import Secrets
from .status import StatusReport, system_status

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


class DemoReport(BaseModel):
    directory: str
    config: str
    database: str
    ingests: list[DemoIngest]
    events: list[DemoEvent]
    status: StatusReport


def sample_bytes(name: str) -> bytes:
    return resources.files("autopilot_cli").joinpath("samples", name).read_bytes()


def run_demo(directory: Path, clock: Clock) -> DemoReport:
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
        status = system_status(store)
    return DemoReport(
        directory=str(directory), config=setup.config, database=setup.database,
        ingests=ingests, events=events, status=status,
    )
