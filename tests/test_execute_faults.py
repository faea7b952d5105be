"""``autopilot execute`` as a real subprocess against a real SQLite file and a loopback fake Graph API.

Every scenario of reliability.md that needs a process boundary: overlapping
runs, SIGKILL at each point of a send, provider and network faults through the
real WhatsApp adapter, an opt-out landing between claim and send, a full
database. Each one ends by checking the three invariants:

- I1 nothing lost: after the leases expired and a final run, every job is
  sent, failed, needs_reconcile or skipped (the window or an opt-out) — none
  scheduled, claimed, sending or waiting to retry;
- I2 nothing sent twice: per send key (``biz_opaque_callback_data`` in the
  request body) the fake saw at most one request it answered 2xx or never
  answered; a request refused with an error is certainly not a send, so a
  retry after it is fine — where no error was scripted, at most one request
  per send key at all;
- I3 nothing sent that was not allowed: every request carries exactly the
  job's approved text and recipient, and none goes to an opted-out contact.

How the crash points are reached deterministically (the fake server runs in
this process, so the test steers it directly rather than through an
environment variable; core code has no test hook):

- *after the request left*: the fake holds the answer to request N
  (``FakeReply(hold=event)``); the test SIGKILLs the process once it arrived;
- *after the provider answered, before the outcome commit*: the test takes the
  SQLite write lock (``BEGIN IMMEDIATE``), lets the fake answer, waits until the
  answer was written to the socket, then SIGKILLs the process, which is
  blocked on its outcome transaction;
- *after the claim, before any request*: with waves of two, the jobs of later
  waves are claimed but untouched while wave 1 is held at the fake;
- *after the commit*: the wave before the held one is committed ``sent``.

Lease expiry is waited for in real time once (``lease_seconds = 5``); elsewhere
the test moves the dead run's ``lease_until`` into the past, which is what the
clock would do.

Timeouts are lowered through the config (``[execute] send_timeout_seconds``,
``connect_timeout_seconds``). SQLite's ``max_page_count`` is per connection: for
the disk-full scenarios the subprocess is started through a small wrapper
(``_WRAPPER``) that sets the page limit on the CLI's own connection, then runs
the real entry point.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from autopilot_cli.channels import Registry
from autopilot_cli.clock import FixedClock, SystemClock, from_iso, to_iso
from autopilot_cli.config import config_from_dict
from autopilot_cli.contacts import record_change
from autopilot_cli.db.connection import WRITE_LOCK, connect, describe_sqlite_error, table_names
from autopilot_cli.db.migrations import open_store
from autopilot_cli.errors import EXIT_DATABASE, DatabaseFull
from autopilot_cli.secrets import Secrets
from autopilot_cli.sending import execute_jobs

from .fake_graph import TOKEN, FakeGraph, FakeReply, close_after_body, graph_error, rate_limited
from .helpers import poll, thread_asleep_in

FINAL = {"sent", "failed", "needs_reconcile", "skipped"}
TEXT = "Danke {i}! Wir haben Mo–Fr 9:00–18:00 geöffnet ✓ — “Antwort” 😊"
pytestmark = pytest.mark.slow  # real subprocesses: `pytest -m "not slow"` skips them
PAST = "2000-01-01T00:00:00.000Z"
LEASE = 5  # seconds; the smallest lease the config allows
SQLITE_BUSY_WAIT = "hrtimer_nanosleep"  # the kernel wait of SQLite's busy handler (it sleeps, then retries)

# Started instead of ``-m autopilot_cli`` where the scenario needs a knob the CLI does not offer.
_WRAPPER = r"""
import os
pages = os.environ.get("FAULT_MAX_PAGE_COUNT")
if pages:
    import autopilot_cli.db.migrations as migrations
    connect = migrations.connect
    def limited(*args, **kwargs):
        store = connect(*args, **kwargs)
        store.conn.execute(f"PRAGMA max_page_count = {int(pages)}")
        return store
    migrations.connect = limited
from autopilot_cli.entry import main
main()
"""


# -- setup ------------------------------------------------------------------
def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def recipient(i: int) -> str:
    return f"+49151{i:08d}"


def make_jobs(db: Path, count: int, *, recipients: int | None = None,
              inbound_age: timedelta = timedelta(minutes=10)) -> list[int]:
    """``count`` due WhatsApp jobs (benchmarks/_jobs.py-style SQL), times relative to the real clock.

    Each answers its own inbound event; the window is open unless ``inbound_age`` says otherwise.
    Appends to an existing database, so jobs with different inbound ages can be mixed.
    """
    now = now_utc()
    with open_store(db, SystemClock()) as store, store.transaction() as conn:
        first = int(conn.execute("SELECT coalesce(max(id), 0) FROM jobs").fetchone()[0]) + 1
        ids = list(range(first, first + count))
        n_recipients = recipients or count
        contact = {i: first + (i - first) % n_recipients for i in ids}
        conn.executemany("INSERT OR IGNORE INTO contacts (id, created_at, updated_at) VALUES (?, 'x', 'x')",
                         ((c,) for c in set(contact.values())))
        conn.executemany(
            "INSERT INTO events (id, channel, external_id, contact_id, sender, message_type, text, format, "
            "received_at, ingested_at, state) VALUES (?, 'whatsapp', ?, ?, ?, 'text', 'q', 'whatsapp', ?, 'x', "
            "'processed')",
            ((i, f"wamid.in{i}", contact[i], recipient(contact[i]), to_iso(now - inbound_age)) for i in ids))
        conn.executemany(
            "INSERT INTO drafts (id, event_id, contact_id, channel, text, approved_text, state, created_at, "
            "updated_at) VALUES (?, ?, ?, 'whatsapp', ?, ?, 'scheduled', 'x', 'x')",
            ((i, i, contact[i], TEXT.format(i=i), TEXT.format(i=i)) for i in ids))
        conn.executemany(
            "INSERT INTO jobs (id, draft_id, event_id, contact_id, channel, recipient, send_key, text, text_sha256, "
            "send_at, state, created_at, updated_at) VALUES (?, ?, ?, ?, 'whatsapp', ?, ?, ?, ?, ?, 'scheduled', "
            "'x', 'x')",
            ((i, i, i, contact[i], recipient(contact[i]), f"sk-{i}", TEXT.format(i=i),
              hashlib.sha256(TEXT.format(i=i).encode()).hexdigest(), to_iso(now - timedelta(seconds=60 - i / 1000)))
             for i in ids))
    return ids


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(WA_TOKEN=TOKEN, NO_PROXY="127.0.0.1,localhost", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)


class Rig:
    """One database, one config file, one fake Graph server, and the ``execute`` subprocesses."""

    def __init__(self, tmp: Path, fake: FakeGraph, db: Path | str | None = None) -> None:
        self.tmp, self.fake = tmp, fake
        self.db = db or tmp / "autopilot.db"  # a file, or a postgresql:// URL
        self.cfg = tmp / "autopilot.toml"
        self.procs: list[subprocess.Popen] = []
        self.configure()

    def configure(self, base_url: str | None = None, rate: float = 1000, min_gap: float = 0, **execute: Any) -> None:
        settings = {"lease_seconds": LEASE, "batch_size": 20, "max_concurrency": 2, "backoff_seconds": 1.0}
        settings.update(execute)
        lines = ["[channels.whatsapp]", 'adapter = "whatsapp"', f'base_url = "{base_url or self.fake.url}"',
                 'phone_number_id = "1064"', 'token_env = "WA_TOKEN"', f"rate_per_second = {rate}",
                 f"min_gap_seconds = {min_gap}", "", "[execute]"]
        lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
        self.cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def argv(self, *args: str, wrapped: bool = False) -> list[str]:
        head = [sys.executable, "-c", _WRAPPER] if wrapped else [sys.executable, "-m", "autopilot_cli"]
        return [*head, "--config", str(self.cfg), "--db", str(self.db), *(args or ("execute", "--json"))]

    def start(self, *args: str, wrapped: bool = False, **env: str) -> subprocess.Popen:
        proc = subprocess.Popen(self.argv(*args, wrapped=wrapped), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=subprocess_env(**env), cwd=self.tmp)
        self.procs.append(proc)
        return proc

    def finish(self, proc: subprocess.Popen, timeout: float = 30) -> Result:
        out, err = proc.communicate(timeout=timeout)
        assert "Traceback" not in err, err
        return Result(proc.returncode, out, err)

    def run(self, *args: str, timeout: float = 30, wrapped: bool = False, **env: str) -> Result:
        return self.finish(self.start(*args, wrapped=wrapped, **env), timeout)

    def kill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)

    # -- the database, read and nudged from outside --------------------------
    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with connect(self.db, busy_timeout_ms=10_000) as store:
            return store.query(sql, params)

    @contextmanager
    def write_lock_held(self) -> Iterator[None]:
        """Another connection holds the database's write lock: SQLite's, or PostgreSQL's advisory one."""
        if isinstance(self.db, Path):
            lock = sqlite3.connect(self.db, isolation_level=None, timeout=10)
            lock.execute("BEGIN IMMEDIATE")
        else:
            lock = psycopg.connect(self.db, autocommit=True)
            lock.execute("BEGIN")
            lock.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        try:
            yield
        finally:
            lock.execute("ROLLBACK")
            lock.close()

    def waiting_for_the_write_lock(self, proc: subprocess.Popen) -> bool:
        """Whether the run ``proc`` waits for that lock (the kernel wait of SQLite's busy handler; a lock
        PostgreSQL has not granted)."""
        if isinstance(self.db, Path):
            return thread_asleep_in(proc.pid, SQLITE_BUSY_WAIT)
        with psycopg.connect(self.db, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()
        return bool(row and row[0])

    def empty_database(self) -> None:
        if isinstance(self.db, Path):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.db}{suffix}").unlink(missing_ok=True)
            return
        with connect(self.db) as store:
            tables = [t for t in table_names(store) if t != "_migrations"]
            if not tables:  # not migrated yet: nothing to empty
                return
            with store.transaction() as conn:
                conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")

    def states(self) -> dict[int, str]:
        return {r["id"]: r["state"] for r in self.query("SELECT id, state FROM jobs")}

    def _move_time(self, sql: str) -> None:
        """What the clock does, without waiting for it: ``sql`` sets a time column to the past."""
        with connect(self.db, busy_timeout_ms=10_000) as store, store.transaction() as conn:
            conn.execute(sql, (PAST,))

    def expire_leases(self) -> None:
        """A dead run's leases run out."""
        self._move_time("UPDATE jobs SET lease_until = ? WHERE state IN ('claimed', 'sending')")

    def make_retries_due(self) -> None:
        """Jobs waiting for their next attempt become due."""
        self._move_time("UPDATE jobs SET send_at = ? WHERE state = 'retry_wait'")

    def settle(self, rounds: int = 5) -> None:
        """Final runs until nothing is due: retry_wait jobs retried, expired leases taken over."""
        for _ in range(rounds):
            self.make_retries_due()
            result = self.run()
            assert result.code in (0, 7), result.stderr
            assert "database is locked" not in result.stderr
            if not self.query("SELECT 1 FROM jobs WHERE state NOT IN ('sent', 'failed', 'needs_reconcile', "
                              "'skipped', 'cancelled')"):
                return

    # -- the invariants ------------------------------------------------------
    def check(self, *, strict: bool = True, opted_out: set[int] = frozenset()) -> dict[int, str]:
        jobs = {r["send_key"]: r for r in self.query("SELECT * FROM jobs")}
        states = {r["id"]: r["state"] for r in jobs.values()}
        # I1: every job has a visible outcome; nothing lost, nothing stuck.
        stuck = {i: s for i, s in states.items() if s not in FINAL}
        assert not stuck, f"I1: jobs not settled: {stuck}"
        for row in jobs.values():
            if row["state"] == "sent":
                assert row["provider_message_id"], f"I1: job {row['id']} sent without a provider id"
            if row["state"] in ("failed", "needs_reconcile", "skipped"):
                assert row["error"], f"I1: job {row['id']} is {row['state']} without a reason"
        # I2: per send key, at most one request the provider may have accepted. A request cut off mid-body by a
        # kill was never whole, so never accepted: it is no send (a provider rejects a short body).
        requests = [r for r in self.fake.requests if r.complete]
        keys = [r.body.get("biz_opaque_callback_data") for r in requests]
        assert None not in keys, "every request carries its send key"
        may_have_sent = Counter(k for k, r in zip(keys, requests) if r.status is None or 200 <= r.status < 300)
        twice = {k: n for k, n in may_have_sent.items() if n > 1}
        assert not twice, f"I2: sent twice: {twice}"
        if strict:
            assert max(Counter(keys).values(), default=0) <= 1, f"I2: more than one request per key: {Counter(keys)}"
        for key, row in jobs.items():
            if row["state"] == "sent":
                assert may_have_sent[key] == 1, f"I2: job {row['id']} is sent but the fake took {may_have_sent[key]}"
        # I3: exactly the approved text, to the job's recipient, never to an opted-out contact.
        approved = {r["id"]: r["approved_text"] for r in self.query("SELECT id, approved_text FROM drafts")}
        for key, request in zip(keys, requests):
            row = jobs[key]
            assert request.authorized and request.path == "/v21.0/1064/messages"
            assert request.body["type"] == "text"
            assert request.body["text"]["body"].encode() == approved[row["draft_id"]].encode() == row["text"].encode()
            assert request.body["to"] == row["recipient"].lstrip("+")
            assert request.body["context"] == {"message_id": f"wamid.in{row['event_id']}"}
            assert row["contact_id"] not in opted_out, f"I3: sent to opted-out contact {row['contact_id']}"
        return states


@pytest.fixture
def rig(tmp_path: Path, request: pytest.FixtureRequest):
    """On SQLite; on both backends where a test says ``BOTH`` (the fault scenarios of the PostgreSQL issue)."""
    backend = getattr(request, "param", "sqlite")
    fake = FakeGraph().start()
    rig = Rig(tmp_path, fake, request.getfixturevalue("pg_url") if backend == "postgresql" else None)
    try:
        yield rig
    finally:
        rig.cleanup()
        fake.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- overlapping runs ---------------------------------------------------------
BOTH = pytest.mark.parametrize("rig", ["sqlite", "postgresql"], indirect=True)


@BOTH
@pytest.mark.parametrize("processes", [2, 4])
def test_overlapping_runs_send_every_job_exactly_once(rig: Rig, processes: int) -> None:
    """The database claim on its own, without the per-channel lock file."""
    ids = make_jobs(rig.db, 200)
    rig.configure(max_concurrency=10, one_run_per_channel=False)
    rig.fake.script.extend(FakeReply(delay=0.02) for _ in range(200))  # long enough for the runs to overlap
    procs = [rig.start() for _ in range(processes)]
    results = [rig.finish(p, timeout=60) for p in procs]
    for result in results:
        assert result.code == 0, result.stderr
        assert "locked" not in result.stderr.lower() and result.stderr == ""
    reports = [r.report for r in results]
    assert sum(r["sent"] for r in reports) == 200
    sent_by = Counter(j["job_id"] for r in reports for j in r["jobs"] if j["outcome"] == "sent")
    assert set(sent_by) == set(ids) and set(sent_by.values()) == {1}
    assert sum(1 for r in reports if r["sent"]) >= 2, "the runs did not overlap"
    assert len(rig.fake.requests) == 200
    assert set(rig.check().values()) == {"sent"}


@BOTH
def test_overlapping_runs_leave_a_channel_to_the_run_sending_on_it(rig: Rig) -> None:
    """With the lock file (the default) four runs never pace one channel at once: in flight at the
    provider stays within one run's concurrency (four runs sharing it would reach 40)."""
    ids = make_jobs(rig.db, 200)
    rig.configure(max_concurrency=10)
    rig.fake.script.extend(FakeReply(delay=0.05) for _ in range(200))  # ~1 s of sending: the runs overlap
    procs = [rig.start() for _ in range(4)]
    results = [rig.finish(p, timeout=60) for p in procs]
    assert [r.code for r in results] == [0] * 4, [r.stderr for r in results]
    reports = [r.report for r in results]
    sent_by = Counter(j["job_id"] for r in reports for j in r["jobs"] if j["outcome"] == "sent")
    assert set(sent_by) == set(ids) and set(sent_by.values()) == {1}
    assert rig.fake.most_in_flight() <= 10
    assert any(r["busy_channels"] == ["whatsapp"] for r in reports), "no run found the channel busy"
    assert all(r["busy_channels"] == [] for r in reports if r["sent"])  # a run that sent held the channel
    rig.settle()
    assert set(rig.check().values()) == {"sent"}


@BOTH
def test_a_killed_run_does_not_keep_its_channel_lock(rig: Rig) -> None:
    [job] = make_jobs(rig.db, 1)
    held = threading.Event()
    rig.fake.script.append(FakeReply(hold=held))
    proc = rig.start()
    rig.fake.wait_requests(1)
    proc.kill()
    proc.wait(10)
    held.set()
    [other] = make_jobs(rig.db, 1)
    second = rig.run()  # at once: the dead run's job is still leased, the new one is due
    assert second.report["busy_channels"] == []
    assert {j["job_id"]: j["outcome"] for j in second.report["jobs"]} == {other: "sent"}
    assert len(rig.fake.requests) == 2 and job != other


# -- SIGKILL at each point of a send ------------------------------------------
@BOTH
def test_kill_after_the_request_left_waits_for_the_lease_then_reconciles(rig: Rig) -> None:
    """Wave 1 committed sent, wave 2 in flight (request 3 held), jobs 5-6 only claimed; then SIGKILL."""
    ids = make_jobs(rig.db, 6)
    held = threading.Event()
    rig.fake.script.extend([FakeReply(), FakeReply(), FakeReply(hold=held)])
    proc = rig.start()
    rig.fake.wait_requests(4)
    rig.fake.wait_answers(3)
    rig.kill(proc)
    held.set()
    assert rig.states() == {ids[0]: "sent", ids[1]: "sent", ids[2]: "sending", ids[3]: "sending",
                            ids[4]: "claimed", ids[5]: "claimed"}
    # A run while the dead run's leases are still valid leaves its jobs alone.
    assert rig.run().report["jobs"] == [] and len(rig.fake.requests) == 4
    rig.expire_leases()
    after = rig.run()
    assert after.code == 7  # the run that found them in doubt tells the operator
    assert {j["job_id"]: j["outcome"] for j in after.report["jobs"]} == {
        ids[2]: "needs_reconcile", ids[3]: "needs_reconcile", ids[4]: "sent", ids[5]: "sent"}
    states = rig.check()
    assert [states[i] for i in ids] == ["sent", "sent", "needs_reconcile", "needs_reconcile", "sent", "sent"]
    assert len(rig.fake.requests) == 6  # the two ambiguous sends were never repeated
    reconcile = rig.run("reconcile", "--json")
    assert sorted(j["id"] for j in json.loads(reconcile.stdout)) == ids[2:4]


@BOTH
def test_kill_after_the_provider_answered_before_the_commit(rig: Rig) -> None:
    ids = make_jobs(rig.db, 6)
    held = threading.Event()
    rig.fake.script.append(FakeReply(hold=held))
    proc = rig.start()
    rig.fake.wait_requests(1)  # wave 1's first request arrived and is held (the second follows its answer)
    with rig.write_lock_held():  # the outcome commit must wait for us
        held.set()
        rig.fake.wait_answers(2)  # the provider answered both requests of the wave
        # The run has read the answers and its outcome transaction waits for our lock.
        poll(lambda: rig.waiting_for_the_write_lock(proc), "the run to wait on the write lock")
        rig.kill(proc)
    assert [rig.states()[i] for i in ids] == ["sending", "sending"] + ["claimed"] * 4
    assert all(r.status == 200 for r in rig.fake.requests)
    rig.expire_leases()
    rig.settle()
    states = rig.check()
    assert [states[i] for i in ids] == ["needs_reconcile"] * 2 + ["sent"] * 4
    assert len(rig.fake.requests) == 6


@BOTH
def test_kill_while_waiting_for_the_first_write_lock_loses_nothing(rig: Rig) -> None:
    ids = make_jobs(rig.db, 4)
    with rig.write_lock_held():
        proc = rig.start()
        poll(lambda: rig.waiting_for_the_write_lock(proc), "the run to wait on the write lock")
        rig.kill(proc)
    assert set(rig.states().values()) == {"scheduled"} and rig.fake.requests == []
    rig.settle()
    assert [rig.check()[i] for i in ids] == ["sent"] * 4


@BOTH
def test_kill_at_random_points(rig: Rig) -> None:
    seed = int(os.environ.get("FAULT_SEED") or time.time())
    rng = random.Random(seed)
    for round_ in range(4):
        # The last round's runs are gone, but a request a killed run had written may still be on
        # its way into the fake; recorded after the clear it would look like this round's duplicate.
        rig.fake.wait_connections_closed()
        rig.fake.requests.clear()
        rig.fake.script.clear()
        rig.empty_database()
        ids = make_jobs(rig.db, 12)
        rig.fake.script.extend(FakeReply(delay=0.05) for _ in range(40))
        delay = rng.uniform(0.0, 1.0)
        proc = rig.start()
        time.sleep(delay)  # not a synchronisation: a random kill point, every outcome is checked below
        # The run may finish on its own between the look and the signal: either way is a valid round.
        proc.send_signal(signal.SIGKILL)
        ended = rig.finish(proc)
        assert ended.code in (0, -signal.SIGKILL), ended.stderr
        killed_in = Counter(rig.states().values())
        rig.expire_leases()
        rig.settle()
        states = rig.check()
        where = f"seed {seed}, round {round_}, kill after {delay:.2f} s, states then {dict(killed_in)}"
        assert set(states.values()) <= {"sent", "needs_reconcile"}, where
        # Only jobs whose request may have left are in doubt: at most one wave of two.
        assert list(states.values()).count("needs_reconcile") <= 2, where
        assert len(states) == len(ids), where


# -- provider and network faults ------------------------------------------------
@pytest.mark.parametrize("retry_after", ["seconds", "http-date"])
def test_429_waits_for_retry_after_then_sends(rig: Rig, retry_after: str) -> None:
    [job] = make_jobs(rig.db, 1)
    # Minutes, not seconds: a run started under load must still find the job not yet due;
    # settle() then moves the time on instead of waiting for it.
    start = now_utc()
    if retry_after == "seconds":
        header, wait = "120", timedelta(seconds=120)
    else:
        when = (start + timedelta(seconds=180)).replace(microsecond=0)
        header, wait = format_datetime(when, usegmt=True), None
    rig.fake.script.append(rate_limited(header))
    first = rig.run()
    end = now_utc()
    assert first.code == 0 and first.report["retried"] == 1
    row = rig.query("SELECT state, send_at, error_code, attempts FROM jobs WHERE id = ?", (job,))[0]
    assert (row["state"], row["error_code"], row["attempts"]) == ("retry_wait", "130429", 1)
    send_at = from_iso(row["send_at"])
    if wait is not None:  # the run answered between start and end, and waits exactly Retry-After from then
        assert start + wait - timedelta(milliseconds=5) <= send_at <= end + wait + timedelta(milliseconds=5)
    else:  # an HTTP-date is a moment, whenever the run read it
        assert when - timedelta(milliseconds=5) <= send_at <= when + timedelta(seconds=1)
    assert rig.run().report["jobs"] == []  # not before Retry-After
    rig.settle()
    assert rig.check(strict=False) == {job: "sent"}
    assert [r.status for r in rig.fake.requests] == [429, 200]


@pytest.mark.parametrize("reply, first_state", [
    (graph_error(2, "Service temporarily unavailable", status=500), "retry_wait"),
    (FakeReply(status=503, body=b"Service Unavailable"), "retry_wait"),
    (FakeReply(status=502, body=b"<html>Bad Gateway</html>"), "needs_reconcile"),
], ids=["500-graph-error", "503-plain", "502-from-a-proxy"])
def test_server_errors(rig: Rig, reply: FakeReply, first_state: str) -> None:
    [job] = make_jobs(rig.db, 1)
    rig.fake.script.append(reply)
    first = rig.run()
    assert rig.states() == {job: first_state}
    assert first.code == (7 if first_state == "needs_reconcile" else 0)
    rig.settle()
    if first_state == "retry_wait":
        assert rig.check(strict=False) == {job: "sent"} and len(rig.fake.requests) == 2
    else:  # a 5xx without a Graph error may have been processed behind the proxy: never re-sent
        assert rig.check() == {job: "needs_reconcile"} and len(rig.fake.requests) == 1


def test_connect_refused_is_retried_safely(rig: Rig) -> None:
    ids = make_jobs(rig.db, 2)
    rig.configure(base_url=f"http://127.0.0.1:{closed_port()}/v21.0")
    first = rig.run()
    assert first.code == 0 and first.report["retried"] == 2
    rows = rig.query("SELECT state, error_code, attempts FROM jobs")
    assert {(r["state"], r["error_code"], r["attempts"]) for r in rows} == {("retry_wait", "connect", 1)}
    rig.configure()  # the provider is reachable again
    rig.settle()
    assert rig.check() == dict.fromkeys(ids, "sent")


def test_connect_timeout_is_retried_safely(rig: Rig) -> None:
    """A listening socket whose accept queue is full drops the SYN: a real connect timeout."""
    [job] = make_jobs(rig.db, 1)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(server.getsockname())
        fillers.append(filler)
    try:
        rig.configure(base_url=f"http://127.0.0.1:{server.getsockname()[1]}/v21.0", connect_timeout_seconds=0.5)
        first = rig.run()
    finally:
        for sock in (*fillers, server):
            sock.close()
    assert first.report["retried"] == 1
    row = rig.query("SELECT state, error_code, error FROM jobs")[0]
    assert (row["state"], row["error_code"]) == ("retry_wait", "connect") and "ConnectTimeout" in row["error"]
    rig.configure()
    rig.settle()
    assert rig.check() == {job: "sent"}


def test_read_timeout_needs_reconcile_and_is_never_resent(rig: Rig) -> None:
    [job] = make_jobs(rig.db, 1)
    held = threading.Event()
    rig.fake.script.append(FakeReply(hold=held))
    rig.configure(send_timeout_seconds=1)
    first = rig.run()
    held.set()
    assert first.code == 7 and first.report["needs_reconcile"] == 1
    assert "ReadTimeout" in first.report["jobs"][0]["error"]
    rig.settle()
    assert rig.check() == {job: "needs_reconcile"} and len(rig.fake.requests) == 1


def test_connection_closed_after_the_body_needs_reconcile(rig: Rig) -> None:
    ids = make_jobs(rig.db, 2)
    rig.configure(max_concurrency=1)  # one request at a time: the script's first answer is job 1's
    rig.fake.script.append(close_after_body())
    first = rig.run()
    assert first.code == 7
    outcomes = {j["job_id"]: j["outcome"] for j in first.report["jobs"]}
    assert outcomes == {ids[0]: "needs_reconcile", ids[1]: "sent"}
    rig.settle()
    assert rig.check() == {ids[0]: "needs_reconcile", ids[1]: "sent"}


def test_permanent_400_fails_at_once_with_the_provider_code(rig: Rig) -> None:
    ids = make_jobs(rig.db, 2)
    rig.configure(max_concurrency=1)  # one request at a time: the script's first answer is job 1's
    rig.fake.script.append(graph_error(100, "(#100) Invalid parameter", details="Parameter 'to' is invalid"))
    first = rig.run()
    assert first.code == 7 and (first.report["failed"], first.report["sent"]) == (1, 1)
    row = rig.query("SELECT state, error_code, error, attempts FROM jobs WHERE id = ?", (ids[0],))[0]
    assert (row["state"], row["error_code"], row["attempts"]) == ("failed", "100", 1)
    assert "Invalid parameter" in row["error"] and "'to' is invalid" in row["error"]
    rig.settle()
    assert rig.check() == {ids[0]: "failed", ids[1]: "sent"} and len(rig.fake.requests) == 2


def test_expired_token_pauses_the_channel_until_resumed(rig: Rig) -> None:
    ids = make_jobs(rig.db, 6)
    expired = graph_error(190, "Error validating access token: Session has expired", status=401)
    rig.fake.script.extend([expired, expired])  # the whole first wave of two
    first = rig.run()
    assert first.code == 7 and first.report["paused_channels"] == ["whatsapp"]
    assert "access token expired or invalid" in first.report["paused_reasons"]["whatsapp"]
    assert first.report["sent"] == 0 and len(rig.fake.requests) == 2
    assert rig.query("SELECT paused_at IS NOT NULL FROM channel_state WHERE channel = 'whatsapp'")[0][0] == 1
    before = [tuple(r) for r in rig.query("SELECT id, state, attempts, send_at FROM jobs ORDER BY id")]
    assert {r[1] for r in before} == {"retry_wait"} and {r[2] for r in before} == {0}
    # Later runs touch nothing and keep telling the operator, without the token.
    again = rig.run("execute")
    assert again.code == 7 and again.stdout == ""
    assert "whatsapp is paused: " in again.stderr and "autopilot channels resume whatsapp" in again.stderr
    assert "access token expired or invalid" in again.stderr  # why, not only that
    assert TOKEN not in again.stderr + first.stdout + first.stderr
    assert [tuple(r) for r in rig.query("SELECT id, state, attempts, send_at FROM jobs ORDER BY id")] == before
    assert len(rig.fake.requests) == 2
    resumed = rig.run("channels", "resume", "whatsapp")
    assert resumed.code == 0 and "resumed" in resumed.stdout
    last = rig.run()
    assert last.code == 0 and last.report["sent"] == 6
    assert rig.check(strict=False) == dict.fromkeys(ids, "sent")
    assert [r.status for r in rig.fake.requests] == [401, 401] + [200] * 6


def test_window_closed_goes_back_to_review_and_a_stale_window_is_never_sent(rig: Rig) -> None:
    [fresh] = make_jobs(rig.db, 1)
    [stale] = make_jobs(rig.db, 1, inbound_age=timedelta(hours=25))
    rig.fake.script.append(graph_error(131047, "Re-engagement message", details="More than 24 hours have passed"))
    first = rig.run()
    assert first.code == 0 and first.report["skipped"] == 2
    assert rig.check() == {fresh: "skipped", stale: "skipped"}
    assert [r.body["biz_opaque_callback_data"] for r in rig.fake.requests] == [f"sk-{fresh}"]  # I3: not the stale one
    drafts = rig.query("SELECT id, state, reasons FROM drafts ORDER BY id")
    assert [(d["state"], "window_closed" in json.loads(d["reasons"])) for d in drafts] == [("review", True)] * 2


def test_recipient_gap_defers_the_second_send_to_the_same_contact(rig: Rig) -> None:
    first, second = make_jobs(rig.db, 2, recipients=1)
    rig.configure(min_gap=1.5)
    result = rig.run()
    assert result.code == 0 and (result.report["sent"], result.report["deferred"]) == (1, 1)
    row = rig.query("SELECT state, send_at FROM jobs WHERE id = ?", (second,))[0]
    sent_at = from_iso(rig.query("SELECT sent_at FROM jobs WHERE id = ?", (first,))[0][0])
    # I3: the channel's per-recipient policy held — the second send waits exactly the gap after the first.
    assert row["state"] == "retry_wait" and from_iso(row["send_at"]) == sent_at + timedelta(seconds=1.5)
    # The gap passes on the clock, not by waiting: the first send moves into the past (a run that
    # started within 1.5 s of it would rightly defer the second again).
    rig._move_time("UPDATE jobs SET sent_at = ? WHERE state = 'sent'")
    rig.settle()
    assert rig.check() == {first: "sent", second: "sent"}
    assert len(rig.fake.requests) == 2


# -- opt-out between claim and send ---------------------------------------------
def test_opt_out_arriving_between_claim_and_send_skips_the_send(rig: Rig) -> None:
    """Waves of one: job A's request is held at the fake while job B is claimed and not yet checked.

    The opt-out for B's contact is committed then (the run holds no lock while a
    request is in flight); B's pre-send check necessarily runs after A's answer,
    so the order is fixed without any timing guess.
    """
    first, second = make_jobs(rig.db, 2)
    rig.configure(max_concurrency=1)
    held = threading.Event()
    rig.fake.script.append(FakeReply(hold=held))
    proc = rig.start()
    rig.fake.wait_requests(1)
    assert rig.states() == {first: "sending", second: "claimed"}
    contact = rig.query("SELECT contact_id FROM jobs WHERE id = ?", (second,))[0][0]
    with open_store(rig.db, SystemClock()) as store, store.transaction() as conn:
        record_change(conn, contact_id=contact, action="opt_out", scope="all", category="all", source="message",
                      rule="stop", at=to_iso(now_utc()))
    held.set()
    result = rig.finish(proc)
    assert result.code == 0, result.stdout + result.stderr
    outcomes = {j["job_id"]: (j["outcome"], j["error"]) for j in result.report["jobs"]}
    assert outcomes[first] == ("sent", None)
    assert outcomes[second] == ("skipped", "contact opted out after the reply was scheduled")
    rig.settle()
    assert rig.check(opted_out={contact}) == {first: "sent", second: "skipped"}
    assert len(rig.fake.requests) == 1


# -- a full database ------------------------------------------------------------------
def _outbox_config() -> Any:
    return config_from_dict({"channels": {"whatsapp": {"adapter": "outbox", "rate_per_second": 1000}},
                             "execute": {"lease_seconds": LEASE, "batch_size": 10, "max_concurrency": 5}})


def test_disk_full_rolls_back_and_a_later_run_sends_every_job_once(tmp_path: Path) -> None:
    """``PRAGMA max_page_count`` on the run's own connection; the outbox records through another one.

    Each headroom stops the run at a different write (the claim, ``sending``, an
    outcome); whatever it was, the jobs stay in their last committed state, the
    connection stays usable, and a run with room finishes every one of them,
    each recorded once (the outbox is idempotent by send key, so a job left in
    ``sending`` is retried rather than reconciled).
    """
    config = _outbox_config()
    seen: set[str] = set()
    for headroom in (0, 4, 8, 12, 16, 20):
        db = tmp_path / f"full-{headroom}.db"
        ids = make_jobs(db, 300)
        clock = FixedClock(now_utc())
        with open_store(db, clock) as store:
            store.conn.execute(f"PRAGMA max_page_count = {store.scalar('PRAGMA page_count') + headroom}")
            try:
                execute_jobs(store, config, clock, Registry(config, Secrets({}), str(db), clock))
            except DatabaseFull as caught:
                assert "is full" in str(caught) and caught.exit_code == EXIT_DATABASE
            else:
                # Where pages run out depends on the outbox's writes racing the run's; only no
                # headroom at all is certain to fail (at the claim).
                assert headroom > 0
            assert not store.conn.in_transaction  # rolled back: the connection is usable
            at_failure = Counter(r[0] for r in store.query("SELECT state FROM jobs"))
            assert set(at_failure) <= {"scheduled", "claimed", "sending", "sent"}
            seen |= set(at_failure)
            sent_before = at_failure["sent"]
            assert store.scalar("SELECT count(*) FROM outbox") >= sent_before
            store.conn.execute("PRAGMA max_page_count = 1073741823")
            later = FixedClock(clock.now() + timedelta(seconds=LEASE + 1))  # the failed run's leases expired
            report = execute_jobs(store, config, later, Registry(config, Secrets({}), str(db), later))
            assert report.sent == len(ids) - sent_before
            states = dict(store.query("SELECT id, state FROM jobs"))
            assert states == dict.fromkeys(ids, "sent"), f"headroom {headroom}, after {dict(at_failure)}"
            recorded = Counter(r[0] for r in store.query("SELECT send_key FROM outbox"))
            assert set(recorded) == {f"sk-{i}" for i in ids} and set(recorded.values()) == {1}
            assert store.scalar("PRAGMA quick_check") == "ok"
    assert seen & {"claimed", "sending"}, f"no failure in the middle of a run: {seen}"


def test_disk_full_in_the_cli_exits_4_with_one_line(rig: Rig) -> None:
    ids = make_jobs(rig.db, 40)
    full = rig.run(wrapped=True, FAULT_MAX_PAGE_COUNT="1")  # 1 = no more pages than the file has
    assert full.code == 4
    # execute --json answers a refusal with the JSON error object too (issue 12 item 17)
    assert json.loads(full.stdout)["error"] == {"code": "database_full", "message": full.stderr.strip()[7:],
                                                "exit_code": 4}
    assert full.stderr.count("\n") == 1 and full.stderr.startswith("error: database ")
    assert "is full" in full.stderr and "rolled back" in full.stderr
    at_failure = rig.states()
    assert set(at_failure.values()) <= {"scheduled", "claimed", "sending", "sent"}
    rig.expire_leases()
    rig.settle()
    states = rig.check()
    # Only a job whose request left before the failed commit may be in doubt.
    assert {i for i, s in states.items() if s != "sent"} == {i for i, s in at_failure.items() if s == "sending"}
    assert set(states) == set(ids)


def test_sqlite_full_maps_to_database_full() -> None:
    error = describe_sqlite_error(sqlite3.OperationalError("database or disk is full"), "/x/autopilot.db")
    assert isinstance(error, DatabaseFull) and error.exit_code == EXIT_DATABASE
    assert str(error) == "database /x/autopilot.db is full (database or disk is full); the last change was rolled back"
