"""The SQLite layer against real database files: pragmas, transactions, and every way a database can fail.

No mocks of our code: a lock is held by a real second process, a full disk is
``PRAGMA max_page_count``, a crash is SIGKILL. Each failure must become one
line on stderr, exit code 4, and a database that is still consistent.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopilot_cli.cli import app
from autopilot_cli.config import config_from_dict
from autopilot_cli.db.connection import connect
from autopilot_cli.db.migrations import open_store
from autopilot_cli.errors import DatabaseCorrupt, DatabaseFull, DatabaseLocked, StoreError
from autopilot_cli.inbound import ingest_bytes

# Holds the write lock of the database in argv[1] until its stdin is closed.
LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO audit_log (at, actor, action, object_type) VALUES ('x', 'holder', 'lock', 'db')")
print("locked", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""

pytestmark = pytest.mark.sqlite_only  # PRAGMAs, sqlite_master, the file: SQLite's own behaviour


def record(i: int) -> dict:
    """A valid JSONL event; channels and senders vary with i."""
    channel = ("whatsapp", "email", "instagram", "linkedin")[i % 4]
    sender = {
        "whatsapp": f"+4915123{i % 997:06d}",
        "email": f"person{i % 991}@example.org",
        "instagram": f"17841400{i % 983:06d}",
        "linkedin": f"urn:li:person:{i % 977}",
    }[channel]
    return {"channel": channel, "id": f"msg-{i:06d}", "from": sender, "name": f"Person {i % 50}",
            "text": f"message number {i}: " + "lorem ipsum dolor sit amet " * (3 + i % 7),
            "received_at": "2026-11-25T10:00:00Z", "metadata": {"n": i}}


def jsonl(records: list[dict]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def cli_env(home: Path) -> dict[str, str]:
    return {**os.environ, "AUTOPILOT_HOME": str(home)}


def assert_one_line_error(stderr: str, *fragments: str) -> None:
    assert stderr.startswith("error: "), stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in stderr, stderr


@pytest.fixture
def db_path(tmp_path: Path, clock) -> Path:
    """A migrated, closed database file."""
    path = tmp_path / "main.db"
    open_store(path, clock).close()
    return path


@pytest.fixture
def short_timeout_config(tmp_path: Path) -> Path:
    path = tmp_path / "short.toml"
    path.write_text("[database]\nbusy_timeout_ms = 200\n")
    return path


@pytest.fixture
def lock_holder(db_path: Path) -> Iterator[subprocess.Popen]:
    """A real process holding the database's write lock (BEGIN IMMEDIATE) while the test runs."""
    proc = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(db_path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- pragmas and transactions -------------------------------------------------------------


def test_connect_sets_wal_foreign_keys_synchronous_full_and_busy_timeout(tmp_path) -> None:
    with connect(tmp_path / "p.db", busy_timeout_ms=1234) as store:
        assert store.scalar("PRAGMA journal_mode") == "wal"
        assert store.scalar("PRAGMA foreign_keys") == 1
        assert store.scalar("PRAGMA synchronous") == 2  # FULL
        assert store.scalar("PRAGMA busy_timeout") == 1234
    with connect(tmp_path / "p.db") as store:
        assert store.scalar("PRAGMA busy_timeout") == 5000
    # WAL is recorded in the file header, so every later connection, ours or not, uses it.
    raw = sqlite3.connect(tmp_path / "p.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_foreign_keys_are_enforced(store) -> None:
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        with store.transaction() as conn:
            conn.execute("INSERT INTO contact_addresses (contact_id, kind, address, created_at) "
                         "VALUES (999, 'email', 'a@b.org', 'x')")


def test_transaction_begins_immediate_and_takes_the_write_lock_up_front(store, tmp_path) -> None:
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    other = sqlite3.connect(store.path, isolation_level=None, timeout=0)
    try:
        with store.transaction() as conn:
            # Nothing written yet, and still no other writer may start.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO contacts (name, created_at, updated_at) VALUES ('a', 'x', 'x')")
        other.execute("BEGIN IMMEDIATE")  # free again after COMMIT
        other.execute("ROLLBACK")
    finally:
        store.conn.set_trace_callback(None)
        other.close()
    assert statements[0] == "BEGIN IMMEDIATE"
    assert statements[-1] == "COMMIT"
    assert store.scalar("SELECT count(*) FROM contacts") == 1


def test_transaction_rolls_back_on_exception(store) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with store.transaction() as conn:
            conn.execute("INSERT INTO contacts (name, created_at, updated_at) VALUES ('gone', 'x', 'x')")
            raise RuntimeError("boom")
    assert not store.conn.in_transaction
    assert store.scalar("SELECT count(*) FROM contacts WHERE name = 'gone'") == 0
    # Another process sees nothing either, and the connection is usable.
    other = sqlite3.connect(store.path)
    assert other.execute("SELECT count(*) FROM contacts").fetchone()[0] == 0
    other.close()
    with store.transaction() as conn:
        conn.execute("INSERT INTO contacts (name, created_at, updated_at) VALUES ('kept', 'x', 'x')")
    assert store.scalar("SELECT count(*) FROM contacts") == 1


def test_a_failed_commit_is_rolled_back_and_releases_the_lock(store) -> None:
    # A deferred foreign key fails at COMMIT, as a full disk or an I/O error
    # while writing the WAL would; SQLite then keeps the transaction open.
    with pytest.raises(StoreError, match="FOREIGN KEY"):
        with store.transaction() as conn:
            conn.execute("PRAGMA defer_foreign_keys = ON")
            conn.execute("INSERT INTO contact_addresses (contact_id, kind, address, created_at) "
                         "VALUES (999, 'email', 'a@b.org', 'x')")
    assert not store.conn.in_transaction
    other = sqlite3.connect(store.path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")  # the write lock was released
    other.execute("ROLLBACK")
    other.close()
    with store.transaction():
        pass
    assert store.scalar("SELECT count(*) FROM contact_addresses") == 0


# --- locked ------------------------------------------------------------------------------


def test_locked_database_raises_database_locked_after_the_busy_timeout(db_path, lock_holder) -> None:
    with connect(db_path, busy_timeout_ms=200) as store:
        # WAL: readers are not blocked by the writer.
        assert store.scalar("SELECT count(*) FROM audit_log") == 0
        started = time.monotonic()
        with pytest.raises(DatabaseLocked) as info:
            with store.transaction():
                pass
        waited = time.monotonic() - started
        assert not store.conn.in_transaction
    assert waited >= 0.15  # the busy timeout was waited out; it raised while the lock was still held
    message = str(info.value)
    assert "\n" not in message
    assert str(db_path) in message and "locked" in message


def test_locked_database_cli_in_process(runner, db_path, lock_holder, short_timeout_config, tmp_path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(jsonl([record(1)]))
    result = runner.invoke(app, ["--config", str(short_timeout_config), "--db", str(db_path), "ingest", str(source)])
    assert result.exit_code == 4, result.output
    assert_one_line_error(result.stderr, "locked", str(db_path))
    # Reading still works while another process writes.
    status = runner.invoke(app, ["--config", str(short_timeout_config), "--db", str(db_path), "status", "--json"])
    assert status.exit_code == 0, status.output


def test_locked_database_cli_real_process(db_path, lock_holder, short_timeout_config, tmp_path, isolated_home) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(jsonl([record(1)]))
    proc = subprocess.run(
        [sys.executable, "-m", "autopilot_cli", "--config", str(short_timeout_config), "--db", str(db_path),
         "ingest", str(source)],
        capture_output=True, text=True, env=cli_env(isolated_home), timeout=60,
    )
    assert proc.returncode == 4, proc.stderr
    assert_one_line_error(proc.stderr, "locked", str(db_path))
    assert proc.stdout == ""


# --- corrupt -----------------------------------------------------------------------------


def _damaged_sqlite(path: Path, clock) -> bytes:
    """A real database whose first page (the schema) is overwritten after the 100-byte header."""
    open_store(path, clock).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = random.Random(7).randbytes(3996)
    return bytes(data)


@pytest.mark.parametrize("kind", ["random bytes", "text file", "damaged sqlite"])
def test_corrupt_database_is_refused_and_left_unchanged(kind, tmp_path, clock, runner) -> None:
    path = tmp_path / "x.db"
    if kind == "random bytes":
        content = random.Random(1).randbytes(8192)
    elif kind == "text file":
        content = b"these are my notes, not a database\n" * 50
    else:
        content = _damaged_sqlite(path, clock)
    path.write_bytes(content)

    with pytest.raises(DatabaseCorrupt) as info:
        open_store(path, clock)
    assert "\n" not in str(info.value) and str(path) in str(info.value)

    source = tmp_path / "in.jsonl"
    source.write_bytes(jsonl([record(1)]))
    for args in (["ingest", str(source)], ["status"]):
        result = runner.invoke(app, ["--db", str(path), *args])
        assert result.exit_code == 4, result.output
        assert_one_line_error(result.stderr, "not a valid SQLite database", str(path))

    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("x.db")) == ["x.db"]


# --- cannot open -------------------------------------------------------------------------


def test_directory_as_database_is_exit_4(runner, tmp_path) -> None:
    folder = tmp_path / "adir"
    folder.mkdir()
    result = runner.invoke(app, ["--db", str(folder), "status"])
    assert result.exit_code == 4, result.output
    assert_one_line_error(result.stderr, "directory", str(folder))
    assert list(folder.iterdir()) == []


def test_database_in_missing_folder_is_exit_4_and_names_the_folder(runner, tmp_path) -> None:
    folder = tmp_path / "no" / "such"
    result = runner.invoke(app, ["--db", str(folder / "x.db"), "status"])
    assert result.exit_code == 4, result.output
    assert_one_line_error(result.stderr, "folder", str(folder))
    assert not (tmp_path / "no").exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root reads and writes files whatever their mode")
def test_unreadable_database_file_is_exit_4(runner, db_path) -> None:
    db_path.chmod(0)
    try:
        result = runner.invoke(app, ["--db", str(db_path), "status"])
    finally:
        db_path.chmod(0o600)
    assert result.exit_code == 4, result.output
    assert_one_line_error(result.stderr, str(db_path))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_database_in_read_only_folder_is_exit_4(runner, tmp_path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        result = runner.invoke(app, ["--db", str(folder / "x.db"), "status"])
    finally:
        folder.chmod(0o700)
    assert result.exit_code == 4, result.output
    assert_one_line_error(result.stderr, str(folder / "x.db"))


# --- disk full ---------------------------------------------------------------------------


def test_disk_full_keeps_committed_batches_whole(store, clock, secrets) -> None:
    config = config_from_dict({"ingest": {"batch_size": 10}})
    records = [record(i) for i in range(2000)]
    data = jsonl(records)
    pages = store.scalar("PRAGMA page_count")
    # Room for a few batches, not for 2,000 events of ~1 kB.
    assert store.scalar(f"PRAGMA max_page_count = {pages + 40}") == pages + 40

    with pytest.raises(DatabaseFull) as info:
        ingest_bytes(store, data, fmt="jsonl", config=config, clock=clock, secrets=secrets)
    assert "\n" not in str(info.value) and "full" in str(info.value)
    assert not store.conn.in_transaction
    store.close()

    # A new connection has no page limit.
    with connect(store.path) as again:
        assert again.scalar("PRAGMA quick_check") == "ok"
        assert again.query("PRAGMA foreign_key_check") == []
        rows = again.query(
            "SELECT e.*, a.address FROM events e JOIN contact_addresses a ON a.contact_id = e.contact_id "
            "ORDER BY e.id"
        )
        count = again.scalar("SELECT count(*) FROM events")
        assert len(rows) == count  # every event has its contact
        assert 0 < count < len(records)
        assert count % 10 == 0, "a batch was partly committed"
        for row, rec in zip(rows, records):
            assert row["external_id"] == rec["id"]
            assert row["channel"] == rec["channel"]
            assert row["text"] == rec["text"]
            assert row["name"] == rec["name"]
            assert json.loads(row["metadata"]) == rec["metadata"]
            assert json.loads(row["raw"]) == rec
            assert row["received_at"] == "2026-11-25T10:00:00.000Z"
            assert row["state"] == "pending"
            assert row["sender"] == row["address"]
        assert again.scalar("SELECT count(*) FROM rejects") == 0

        # With room again, the same input completes without duplicates.
        report = ingest_bytes(again, data, fmt="jsonl", config=config, clock=clock, secrets=secrets)
        assert (report.ingested, report.duplicates) == (len(records) - count, count)
        assert again.scalar("SELECT count(*) FROM events") == len(records)
        assert again.scalar("PRAGMA quick_check") == "ok"


# --- crash safety ------------------------------------------------------------------------


def _count_events(path: Path) -> int:
    if not path.exists():  # connecting would create it
        return 0
    try:
        conn = sqlite3.connect(path, timeout=5)
        try:
            return conn.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:  # not created or not migrated yet
        return 0


def test_sigkill_mid_ingest_loses_no_committed_batch_and_resume_is_idempotent(tmp_path, isolated_home) -> None:
    total, batch = 20_000, 100
    source = tmp_path / "big.jsonl"
    source.write_bytes(jsonl([record(i) for i in range(total)]))
    cfg = tmp_path / "batch.toml"
    cfg.write_text(f"[ingest]\nbatch_size = {batch}\n")
    db = tmp_path / "crash.db"
    args = [
        sys.executable,
        "-m",
        "autopilot_cli",
        "--config",
        str(cfg),
        "--db",
        str(db),
        "ingest",
        "--json",
        str(source),
    ]

    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(isolated_home))
    try:
        deadline = time.monotonic() + 30
        while _count_events(db) < 1000:
            assert proc.poll() is None, "ingest finished before it could be killed"
            assert time.monotonic() < deadline, "ingest made no progress"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    committed = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    ids = [r[0] for r in conn.execute("SELECT external_id FROM events ORDER BY id")]
    conn.close()
    assert 1000 <= committed < total, "the kill did not land mid-way"
    assert committed % batch == 0, "a batch was partly committed"
    assert ids == [f"msg-{i:06d}" for i in range(committed)]

    resumed = subprocess.run(args, capture_output=True, text=True, env=cli_env(isolated_home), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert (report["ingested"], report["duplicates"], report["rejected"]) == (total - committed, committed, 0)

    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == total
    assert conn.execute("SELECT count(DISTINCT external_id) FROM events").fetchone()[0] == total
    assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    conn.close()

