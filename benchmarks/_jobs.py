"""Shared by the execute benchmarks: a database with N due jobs, made with plain SQL."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from autopilot_cli.clock import FixedClock
from autopilot_cli.db.migrations import open_store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
SENT_AT = "2026-11-25T11:00:00.000Z"


def make_due_jobs(path: Path | str, count: int, channel: str = "email", recipients: int | None = None) -> None:
    """``count`` scheduled jobs due now, each answering its own inbound event."""
    recipients = recipients or count
    with open_store(path, FixedClock(NOW)) as store, store.transaction() as conn:
        conn.executemany("INSERT INTO contacts (id, created_at, updated_at) VALUES (?, 'x', 'x')",
                         ((i,) for i in range(recipients)))
        text = "Thanks for your message! We are open Monday to Friday 9:00-18:00."
        digest = hashlib.sha256(text.encode()).hexdigest()
        sender = (lambda i: f"+4915{i:09d}") if channel == "whatsapp" else (lambda i: f"c{i}@example.org")
        conn.executemany(
            "INSERT INTO events (id, channel, external_id, contact_id, sender, message_type, text, format, "
            "received_at, ingested_at, state) VALUES (?, ?, ?, ?, ?, 'text', 'q', 'jsonl', ?, 'x', 'processed')",
            ((i, channel, f"m{i}", i % recipients, sender(i % recipients), SENT_AT) for i in range(count)))
        conn.executemany(
            "INSERT INTO drafts (id, event_id, contact_id, channel, text, approved_text, state, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, 'scheduled', 'x', 'x')",
            ((i, i, i % recipients, channel, text, text) for i in range(count)))
        conn.executemany(
            "INSERT INTO jobs (draft_id, event_id, contact_id, channel, recipient, send_key, text, text_sha256, "
            "send_at, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', 'x', 'x')",
            ((i, i, i % recipients, channel, sender(i % recipients), f"k{i}", text, digest, SENT_AT)
             for i in range(count)))
        if store.dialect == "postgresql":  # explicit ids: move the identity sequences past them
            for table in ("contacts", "events", "drafts"):
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {max(count, recipients)})")
