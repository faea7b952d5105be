"""The library API that ``autopilot_cli/__init__.py`` promises, used the way a program would: no CLI,
only the top-level names (README: "Using autopilot from Python")."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import autopilot_cli as ap

from .conftest import NOW

KNOWLEDGE = Path(ap.__file__).parent / "templates" / "knowledge.toml"


def record(i: int, text: str, sender: str) -> bytes:
    received = (NOW - timedelta(minutes=5)).isoformat()
    return json.dumps({"channel": "email", "id": f"lib{i}", "from": sender, "subject": "Question", "text": text,
                       "received_at": received}).encode() + b"\n"


def test_ingest_process_review_approve_reject_execute_explain_without_the_cli(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    config = ap.config_from_dict({
        "autopilot": {"mode": "assist"},
        "drafter": {"kind": "offline", "knowledge_file": str(KNOWLEDGE)},
        "channels": {"email": {"adapter": "outbox", "path": str(outbox)}},
    })
    clock = ap.FixedClock(NOW)
    secrets = ap.Secrets({})
    store = ap.open_store(tmp_path / "shop.db", clock)
    try:
        data = (record(1, "When are you open on Saturday?", "ana@example.org")
                + record(2, "Do you sell gift cards?", "ben@example.org"))
        ingested = ap.ingest(store, data, fmt="jsonl", config=config, clock=clock, secrets=secrets)
        assert (ingested.ingested, ingested.rejected) == (2, 0)

        services, fragments = ap.build_services(config, secrets)
        processed = ap.process_events(store, config, clock, services, protected_fragments=fragments)
        assert processed.processed == 2 and processed.review_queue == 2

        queue = ap.review_queue(store, config, clock)
        by_sender = {item.contact: item for item in queue}
        assert set(by_sender) == {"ana@example.org", "ben@example.org"}
        assert "Saturday 10:00-14:00" in by_sender["ana@example.org"].draft_text

        approved = ap.approve(store, config, clock, "operator", [by_sender["ana@example.org"].id], now=True)
        rejected = ap.reject(store, clock, "operator", [by_sender["ben@example.org"].id], "we stopped gift cards")
        assert [a.draft_id for a in approved.approved] == [by_sender["ana@example.org"].id]
        assert [r.draft_id for r in rejected.rejected] == [by_sender["ben@example.org"].id]
        assert ap.review_queue(store, config, clock) == []

        clock.set(NOW + timedelta(minutes=1))
        sent = ap.execute_jobs(store, config, clock, ap.Registry(config, secrets, store.path, clock))
        assert (sent.sent, sent.failed) == (1, 0)
        [line] = outbox.read_text().splitlines()
        assert json.loads(line)["recipient"] == "ana@example.org"

        ana = ap.explain(store, by_sender["ana@example.org"].event_id)
        ben = ap.explain(store, by_sender["ben@example.org"].event_id)
        assert (ana.job_state, ana.approved_by) == ("sent", "operator")
        assert ana.sent_text == by_sender["ana@example.org"].draft_text
        assert (ben.draft_state, ben.job_id) == ("rejected", None)
    finally:
        store.close()


def test_every_public_name_resolves() -> None:
    missing = [name for name in ap.__all__ if getattr(ap, name, None) is None]
    assert missing == []


def test_importing_the_api_loads_no_cli() -> None:
    code = ("import sys, autopilot_cli as ap; ap.process_events; ap.execute_jobs; ap.review_queue; "
            "print(sorted(m for m in ('typer', 'rich', 'autopilot_cli.cli') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
