"""Schema migrations: recorded once, applied in place, refused when the database is newer than us."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from autopilot_cli.cli import app
from autopilot_cli.clock import to_iso
from autopilot_cli.db.connection import connect
from autopilot_cli.db.migrations import MIGRATIONS, migrate, open_store
from autopilot_cli.errors import SchemaTooNew

from .conftest import NOW

NAMES = [fn.__name__ for fn in MIGRATIONS]
FIRST = "m001_contacts_and_events"

# For each database in argv[2:], waits until its start time (argv[1] + 0.08 s per round), then
# connects and migrates; prints, per round, the migrations it applied or the error it met.
RACER = """
import json, sys, time
from autopilot_cli.clock import SystemClock
from autopilot_cli.db.migrations import migrate
from autopilot_cli.db.connection import connect
start, out = float(sys.argv[1]), []
for round, path in enumerate(sys.argv[2:]):
    while time.time() < start + round * 0.08:
        time.sleep(0.0005)
    try:
        store = connect(path)
        out.append(migrate(store, SystemClock()))
        store.close()
    except Exception as exc:
        out.append(f"{type(exc).__name__}: {exc}")
print(json.dumps(out))
"""

pytestmark = pytest.mark.sqlite_only  # PRAGMAs, sqlite_master, the file: SQLite's own behaviour


def tables(store) -> set[str]:
    return {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}


def recorded(store) -> list[tuple[str, str]]:
    return [(r["name"], r["applied_at"]) for r in store.query("SELECT name, applied_at FROM _migrations ORDER BY name")]


def test_migration_names_are_numbered_in_order_and_unique() -> None:
    assert NAMES[0] == FIRST
    assert NAMES == sorted(NAMES)
    assert len(set(NAMES)) == len(NAMES)
    assert all(name[0] == "m" and name[1:4].isdigit() and name[4] == "_" for name in NAMES)


def test_fresh_database_records_every_migration_with_the_injected_clock(store) -> None:
    assert recorded(store) == [(name, to_iso(NOW)) for name in NAMES]
    assert {"contacts", "contact_addresses", "events", "rejects", "consent", "consent_changes", "drafts",
            "jobs", "delivery_statuses", "rate_events", "experiments", "variants", "assignments",
            "channel_credentials", "audit_log"} <= tables(store)
    assert store.scalar("PRAGMA quick_check") == "ok"


def test_migrate_twice_is_a_no_op(store, clock) -> None:
    before = recorded(store)
    schema = store.query("SELECT type, name, sql FROM sqlite_master ORDER BY name")
    clock.set(NOW + timedelta(days=3))
    assert migrate(store, clock) == []
    assert migrate(store, clock) == []
    assert recorded(store) == before  # applied_at unchanged
    assert [tuple(r) for r in store.query("SELECT type, name, sql FROM sqlite_master ORDER BY name")] == [
        tuple(r) for r in schema
    ]
    store.close()
    again = open_store(store.path, clock)
    assert recorded(again) == before
    again.close()


def test_upgrade_in_place_keeps_old_rows(tmp_path, clock) -> None:
    store = connect(tmp_path / "old.db")
    assert migrate(store, clock, upto=FIRST) == [FIRST]
    assert [name for name, _ in recorded(store)] == [FIRST]
    assert "drafts" not in tables(store) and "jobs" not in tables(store)
    # Asking again for the same point applies nothing more.
    assert migrate(store, clock, upto=FIRST) == []
    assert [name for name, _ in recorded(store)] == [FIRST]

    old_at = to_iso(NOW)
    with store.transaction() as conn:
        contact = conn.execute(
            "INSERT INTO contacts (name, timezone, created_at, updated_at) VALUES ('Olivia', 'Europe/London', ?, ?)",
            (old_at, old_at),
        ).lastrowid
        conn.execute(
            "INSERT INTO contact_addresses (contact_id, kind, address, created_at) "
            "VALUES (?, 'phone', '+447700900123', ?)",
            (contact, old_at),
        )
        event = conn.execute(
            "INSERT INTO events (channel, external_id, contact_id, sender, message_type, text, format, received_at, "
            "ingested_at) VALUES ('whatsapp', 'wamid.old', ?, '+447700900123', 'text', 'Do you ship abroad?', "
            "'jsonl', ?, ?)",
            (contact, old_at, old_at),
        ).lastrowid
    old_event = dict(store.query("SELECT * FROM events WHERE id = ?", (event,))[0])
    old_contact = dict(store.query("SELECT * FROM contacts WHERE id = ?", (contact,))[0])

    later = NOW + timedelta(days=30)
    clock.set(later)
    assert migrate(store, clock) == NAMES[1:]
    assert recorded(store) == [(FIRST, to_iso(NOW))] + [(name, to_iso(later)) for name in NAMES[1:]]
    assert {"drafts", "jobs", "delivery_statuses", "experiments", "audit_log"} <= tables(store)

    new_event = dict(store.query("SELECT * FROM events WHERE id = ?", (event,))[0])
    assert {k: new_event[k] for k in old_event} == old_event
    new_contact = dict(store.query("SELECT * FROM contacts WHERE id = ?", (contact,))[0])
    assert {k: new_contact[k] for k in old_contact} == old_contact
    assert store.scalar("PRAGMA quick_check") == "ok"
    assert store.query("PRAGMA foreign_key_check") == []

    # The old rows work with the new tables.
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO drafts (event_id, contact_id, channel, text, created_at, updated_at) "
            "VALUES (?, ?, 'whatsapp', 'Yes, we do.', ?, ?)",
            (event, contact, to_iso(later), to_iso(later)),
        )
    assert store.scalar("SELECT count(*) FROM drafts WHERE event_id = ?", (event,)) == 1
    store.close()


def test_migrate_upto_an_unknown_name_is_a_programming_error(store, clock) -> None:
    with pytest.raises(ValueError, match="m999_nope"):
        migrate(store, clock, upto="m999_nope")


def _add_future_migration(path: Path, clock, *, upto: str | None = None) -> None:
    store = connect(path)
    migrate(store, clock, upto=upto)
    with store.transaction() as conn:
        conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_future', ?)", (to_iso(NOW),))
    store.close()


def test_database_from_a_newer_version_is_refused(tmp_path, clock, runner) -> None:
    path = tmp_path / "new.db"
    _add_future_migration(path, clock)
    with pytest.raises(SchemaTooNew) as info:
        open_store(path, clock)
    message = str(info.value)
    assert "m999_future" in message and "upgrade autopilot" in message and "\n" not in message

    result = runner.invoke(app, ["--db", str(path), "status"])
    assert result.exit_code == 4, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "m999_future" in result.stderr and "Traceback" not in result.stderr


def test_newer_database_is_not_partly_migrated(tmp_path, clock) -> None:
    # Old in our terms, new in its own: nothing of ours is applied on top of an unknown schema.
    path = tmp_path / "mixed.db"
    _add_future_migration(path, clock, upto=FIRST)
    with pytest.raises(SchemaTooNew):
        open_store(path, clock)
    with connect(path) as store:
        assert [name for name, _ in recorded(store)] == [FIRST, "m999_future"]
        assert "drafts" not in tables(store)


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "AUTOPILOT_HOME": str(home)}


def test_processes_opening_a_fresh_database_together_migrate_it_once(tmp_path, isolated_home) -> None:
    # Switching a new file to WAL needs an exclusive lock, and SQLite answers
    # SQLITE_BUSY at once (no busy handler) when two connections want it
    # together; connect() must retry. One round in five failed before it did,
    # so race several rounds: three processes, a fresh database each round.
    paths = [tmp_path / f"race{i}.db" for i in range(12)]
    start = time.time() + 1.0  # after every interpreter has started and imported
    procs = [
        subprocess.Popen([sys.executable, "-c", RACER, str(start), *map(str, paths)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(isolated_home))
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    results = [json.loads(out) for out, _ in outputs]
    for round, path in enumerate(paths):
        per_process = [result[round] for result in results]
        assert not any(isinstance(r, str) for r in per_process), per_process
        # Each migration was applied by exactly one of the processes.
        assert sorted(name for applied in per_process for name in applied) == NAMES
        with connect(path) as store:
            assert [name for name, _ in recorded(store)] == NAMES
            assert store.scalar("PRAGMA quick_check") == "ok"


def test_cli_commands_started_together_on_a_fresh_database_both_succeed(tmp_path, isolated_home) -> None:
    path = tmp_path / "race-cli.db"
    # ingest creates the database: both processes race to create and migrate it.
    args = [sys.executable, "-m", "autopilot_cli", "--db", str(path), "ingest", "--format", "jsonl", "--json"]
    procs = [subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env(isolated_home)) for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate("", timeout=60)
        assert proc.returncode == 0, err
        assert json.loads(out)["ingested"] == 0
    with connect(path) as store:
        assert [name for name, _ in recorded(store)] == NAMES
