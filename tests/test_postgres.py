"""The PostgreSQL backend on a real server (the session's throw-away cluster): the CLI end to end, one-line
errors without the password, one writer at a time, the per-channel send lock across connections, and
duplicate deliveries stored once. The store-level behaviour shared with SQLite runs on both backends through
the ``store`` fixture (conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from autopilot_cli.cli import app
from autopilot_cli.clock import FixedClock
from autopilot_cli.config import config_from_dict
from autopilot_cli.db.connection import Store
from autopilot_cli.db.copy import rows_in
from autopilot_cli.db.migrations import open_store
from autopilot_cli.errors import DatabaseLocked, StoreError
from autopilot_cli.inbound import ingest_bytes
from autopilot_cli.secrets import Secrets
from autopilot_cli.sending._locks import ChannelLocks

from .conftest import NOW
from .pg_cluster import PASSWORD, PASSWORD_USER, PgCluster

SAMPLES = Path(__file__).parent.parent / "autopilot_cli" / "samples"


def cli(runner, *args: str):
    return runner.invoke(app, list(args))


def test_init_ingest_process_execute_and_status_on_postgresql(runner, tmp_path, pg_url) -> None:
    shop = tmp_path / "shop"
    assert cli(runner, "--db", pg_url, "init", str(shop)).exit_code == 0
    config = str(shop / "autopilot.toml")
    first = cli(runner, "--config", config, "--db", pg_url, "ingest", str(SAMPLES / "events.jsonl"), "--json")
    again = cli(runner, "--config", config, "--db", pg_url, "ingest", str(SAMPLES / "events.jsonl"), "--json")
    assert json.loads(first.stdout)["ingested"] == 4  # the sample holds one bad record: exit 6, nothing lost
    assert json.loads(again.stdout)["ingested"] == 0 and json.loads(again.stdout)["duplicates"] == 5
    processed = cli(runner, "--config", config, "--db", pg_url, "process", "--json")
    assert processed.exit_code == 0, processed.output
    assert json.loads(processed.stdout)["processed"] == 4
    drafts = json.loads(cli(runner, "--config", config, "--db", pg_url, "review", "--list", "--json").stdout)
    email = next(d for d in drafts if d["channel"] == "email")  # the sample's WhatsApp windows closed long ago
    approved = cli(runner, "--config", config, "--db", pg_url, "approve", str(email["id"]), "--now")
    assert approved.exit_code == 0, approved.output
    executed = cli(runner, "--config", config, "--db", pg_url, "execute", "--json")
    assert executed.exit_code == 0, executed.output
    assert json.loads(executed.stdout)["sent"] == 1
    status = cli(runner, "--config", config, "--db", pg_url, "status", "--json")
    assert status.exit_code == 0, status.output
    # The same database from the environment instead of --db.
    from_env = runner.invoke(app, ["--config", config, "status", "--json"], env={"AUTOPILOT_DATABASE_URL": pg_url})
    assert from_env.exit_code == 0 and json.loads(from_env.stdout) == json.loads(status.stdout)


def test_init_creates_the_database_the_kept_config_names(runner, tmp_path, pg_url) -> None:
    """``init`` in a folder whose config names PostgreSQL migrates that database, as every other command
    would use it, instead of creating a SQLite file beside the config."""
    shop = tmp_path / "shop"
    shop.mkdir()
    assert cli(runner, "init", str(shop)).exit_code == 0  # the starter config: a SQLite file
    (shop / "autopilot.db").unlink()
    config = shop / "autopilot.toml"
    config.write_text(config.read_text().replace("[database]\n", f'[database]\nurl = "{pg_url}"\n', 1))
    assert pg_url in config.read_text()
    result = cli(runner, "init", str(shop), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["database"] == pg_url and not (shop / "autopilot.db").exists()
    with open_store(pg_url, FixedClock(NOW)) as pg:
        assert pg.scalar("SELECT count(*) FROM _migrations") >= 12


@pytest.mark.parametrize("make_url, expected", [
    (lambda c: f"postgresql://{c.user}:s3cret-pw@/{'nowhere_db'}?host={c.host}&port={c.port}", "nowhere_db"),
    (lambda c: f"postgresql://{c.user}:s3cret-pw@/postgres?host={c.host}&port=1", "cannot open PostgreSQL"),
])
def test_an_unreachable_server_or_missing_database_is_one_line_exit_4_without_the_password(
        runner, pg_cluster: PgCluster, make_url, expected: str) -> None:
    result = cli(runner, "--db", make_url(pg_cluster), "status")
    assert result.exit_code == 4
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.output
    assert "s3cret" not in result.output


def test_a_wrong_password_is_one_line_exit_4_and_never_shown(runner, tmp_path, pg_cluster: PgCluster,
                                                               pg_migrated_url: str) -> None:
    """The password comes from PGPASSWORD or a 0600 PGPASSFILE (libpq reads both); a wrong one is one line
    naming the problem, with the database exit code, and neither password appears anywhere in the output."""
    url = pg_cluster.url(urlsplit(pg_migrated_url).path.lstrip("/"), user=PASSWORD_USER)
    wrong = "wrong-horse-4711"
    refused = runner.invoke(app, ["--db", url, "status"], env={"PGPASSWORD": wrong})
    assert refused.exit_code == 4, refused.output
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1 and "password authentication failed" in lines[0] and PASSWORD_USER in lines[0]
    assert wrong not in refused.output and "Traceback" not in refused.output
    assert runner.invoke(app, ["--db", url, "status", "--json"], env={"PGPASSWORD": PASSWORD}).exit_code == 0
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"*:*:*:{PASSWORD_USER}:{PASSWORD}\n")
    passfile.chmod(0o600)
    from_file = runner.invoke(app, ["--db", url, "status", "--json"], env={"PGPASSFILE": str(passfile)})
    assert from_file.exit_code == 0, from_file.output
    assert PASSWORD not in from_file.output and PASSWORD not in refused.output
    # The URL in the environment (never in the config file) may carry the password itself.
    in_env = url.replace(f"{PASSWORD_USER}@", f"{PASSWORD_USER}:{PASSWORD}@")
    env_ok = runner.invoke(app, ["status", "--json"], env={"AUTOPILOT_DATABASE_URL": in_env})
    assert env_ok.exit_code == 0 and PASSWORD not in env_ok.output, env_ok.output
    env_bad = runner.invoke(app, ["status"], env={"AUTOPILOT_DATABASE_URL": in_env.replace(PASSWORD, wrong)})
    assert env_bad.exit_code == 4 and len(env_bad.output.strip().splitlines()) == 1
    assert wrong not in env_bad.output and "password authentication failed" in env_bad.output


def test_a_password_in_the_config_file_is_refused(runner, tmp_path) -> None:
    config = tmp_path / "autopilot.toml"
    config.write_text('[database]\nurl = "postgresql://shop:hunter22@db.example.com/shop"\n')
    result = cli(runner, "--config", str(config), "status")
    assert result.exit_code == 3
    assert "PGPASSWORD" in result.output and "hunter22" not in result.output


def test_one_writer_at_a_time_and_a_waiting_writer_gives_up_after_the_busy_timeout(pg_url, clock) -> None:
    holder = open_store(pg_url, clock)
    waiter = open_store(pg_url, clock, busy_timeout_ms=200)
    try:
        with holder.transaction() as conn:
            conn.execute("INSERT INTO audit_log (at, actor, action, object_type) VALUES ('x', 'a', 'hold', 'db')")
            with pytest.raises(DatabaseLocked, match="locked"), waiter.transaction():
                pass
            # Readers never wait for the writer.
            assert waiter.scalar("SELECT count(*) FROM audit_log") == 0
        with waiter.transaction() as conn:  # free again once the holder committed
            assert conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1
    finally:
        holder.close()
        waiter.close()


def test_a_write_that_fails_rolls_back_and_foreign_keys_hold(store: Store, backend: str) -> None:
    with pytest.raises(StoreError, match="FOREIGN KEY"), store.transaction() as conn:
        conn.execute("INSERT INTO audit_log (at, actor, action, object_type) VALUES ('x', 'a', 'kept?', 'db')")
        conn.execute("INSERT INTO contact_addresses (contact_id, kind, address, created_at) "
                     "VALUES (999, 'k', 'a', 'x')")
    assert store.scalar("SELECT count(*) FROM audit_log") == 0


def test_the_send_lock_is_one_per_channel_across_connections(pg_url, clock) -> None:
    first, second = open_store(pg_url, clock), open_store(pg_url, clock)
    try:
        mine, theirs = ChannelLocks(first), ChannelLocks(second)
        assert mine.acquire("whatsapp") and mine.acquire("whatsapp")  # held: asking again is fine
        assert not theirs.acquire("whatsapp")
        assert theirs.acquire("email")
        mine.release_all()
        assert theirs.acquire("whatsapp")
        theirs.release_all()
        # A run that dies loses its connection, and with it the lock.
        assert mine.acquire("instagram")
        first.close()
        assert theirs.acquire("instagram")
    finally:
        second.close()


def test_two_writers_taking_the_same_deliveries_store_each_event_once(pg_url, clock) -> None:
    config = config_from_dict({})
    lines = [json.dumps({"channel": "whatsapp", "id": f"wamid.{i}", "from": f"+4915112345{i:03d}",
                         "text": f"hello {i}", "received_at": "2026-11-25T11:00:00Z"}) for i in range(200)]
    payload = "\n".join(lines).encode()
    stores = [open_store(pg_url, clock) for _ in range(2)]
    results: list[object] = []

    def take(store: Store) -> None:
        results.append(ingest_bytes(store, payload, fmt="jsonl", config=config, clock=clock, secrets=Secrets({})))

    threads = [threading.Thread(target=take, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert stores[0].scalar("SELECT count(*) FROM events") == 200
        assert sum(r.ingested for r in results) == 200  # type: ignore[attr-defined]
        assert sum(r.duplicates for r in results) == 200  # type: ignore[attr-defined]
    finally:
        for s in stores:
            s.close()


def test_now_is_the_injected_clock_on_postgresql_too(store: Store) -> None:
    from autopilot_cli.clock import to_iso

    assert store.scalar("SELECT applied_at FROM _migrations ORDER BY name LIMIT 1") == to_iso(NOW)


def shop_with_history(runner, tmp_path: Path) -> tuple[str, Path]:
    """A SQLite shop that has ingested, processed and sent: rows in most tables."""
    shop = tmp_path / "shop"
    assert cli(runner, "init", str(shop)).exit_code == 0
    config, db = str(shop / "autopilot.toml"), shop / "autopilot.db"
    cli(runner, "--config", config, "ingest", str(SAMPLES / "events.jsonl"))
    assert cli(runner, "--config", config, "process").exit_code == 0
    drafts = json.loads(cli(runner, "--config", config, "review", "--list", "--json").stdout)
    email = next(d for d in drafts if d["channel"] == "email")
    assert cli(runner, "--config", config, "approve", str(email["id"]), "--now").exit_code == 0
    assert cli(runner, "--config", config, "execute").exit_code == 0
    return config, db


def test_db_copy_moves_a_shop_to_postgresql_whole_and_it_runs_there(runner, tmp_path, pg_url) -> None:
    config, db = shop_with_history(runner, tmp_path)
    result = cli(runner, "db", "copy", "--from", f"sqlite:///{db}", "--to", pg_url, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"source", "target", "tables", "rows"}
    with open_store(db, clock := FixedClock(NOW)) as sqlite, open_store(pg_url, clock) as pg:
        for table, rows in report["tables"].items():
            assert rows_in(sqlite, table) == rows_in(pg, table) == rows, table
        assert report["rows"] == sum(report["tables"].values()) > 10
        assert [tuple(r) for r in sqlite.query("SELECT * FROM jobs ORDER BY id")] == \
            [tuple(r) for r in pg.query("SELECT * FROM jobs ORDER BY id")]
    # The shop goes on on PostgreSQL: new rows get fresh ids after the copied ones.
    more = tmp_path / "more.jsonl"
    more.write_text(json.dumps({"channel": "email", "id": "after-move-1", "from": "new@example.org",
                                "text": "Are you open on Saturday?", "received_at": "2026-11-25T11:00:00Z"}) + "\n")
    moved = cli(runner, "--config", config, "--db", pg_url, "ingest", str(more), "--json")
    assert moved.exit_code == 0 and json.loads(moved.stdout)["ingested"] == 1, moved.output
    assert cli(runner, "--config", config, "--db", pg_url, "process").exit_code == 0


def test_db_copy_refuses_a_target_that_holds_rows_and_writes_nothing(runner, tmp_path, pg_url) -> None:
    _, db = shop_with_history(runner, tmp_path)
    assert cli(runner, "db", "copy", "--from", str(db), "--to", pg_url).exit_code == 0
    with open_store(pg_url, FixedClock(NOW)) as pg:
        before = rows_in(pg, "events")
    again = cli(runner, "db", "copy", "--from", str(db), "--to", pg_url)
    assert again.exit_code == 4 and "not empty" in again.output and len(again.output.strip().splitlines()) == 1
    with open_store(pg_url, FixedClock(NOW)) as pg:
        assert rows_in(pg, "events") == before


def test_db_copy_back_to_a_new_sqlite_file(runner, tmp_path, pg_url) -> None:
    _, db = shop_with_history(runner, tmp_path)
    assert cli(runner, "db", "copy", "--from", str(db), "--to", pg_url).exit_code == 0
    back = tmp_path / "back.db"
    result = cli(runner, "db", "copy", "--from", pg_url, "--to", str(back), "--json")
    assert result.exit_code == 0, result.output
    with open_store(db, FixedClock(NOW)) as first, open_store(back, FixedClock(NOW)) as second:
        for table in json.loads(result.stdout)["tables"]:
            assert [tuple(r) for r in first.query(f'SELECT * FROM "{table}"')] == \
                [tuple(r) for r in second.query(f'SELECT * FROM "{table}"')], table


def test_claims_skip_rows_another_worker_holds_and_never_wait_for_the_write_lock(pg_url, clock) -> None:
    from autopilot_cli.clock import SystemClock, to_iso
    from autopilot_cli.db import jobs

    from .test_execute_faults import make_jobs

    ids = make_jobs(pg_url, 10)
    now = to_iso(SystemClock().now())
    first, second, writer = (open_store(pg_url, clock, busy_timeout_ms=200) for _ in range(3))
    try:
        with writer.transaction():  # holds the one write lock all along: claims do not queue behind it
            with first.transaction(serialised=False) as conn_a:
                mine = jobs.claim_due(conn_a, channel="whatsapp", owner="a", lease_until="9999", now=now, size=4)
                with second.transaction(serialised=False) as conn_b:  # while the first claim is not committed
                    theirs = jobs.claim_due(conn_b, channel="whatsapp", owner="b", lease_until="9999", now=now,
                                            size=10)
        claimed_a, claimed_b = {r["id"] for r in mine}, {r["id"] for r in theirs}
        assert len(claimed_a) == 4 and len(claimed_b) == 6 and not claimed_a & claimed_b
        assert claimed_a | claimed_b == set(ids)
        owners = {row["id"]: row["lease_owner"] for row in first.query("SELECT id, lease_owner FROM jobs")}
        assert {owners[i] for i in claimed_a} == {"a"} and {owners[i] for i in claimed_b} == {"b"}
    finally:
        for s in (first, second, writer):
            s.close()


def test_a_dry_run_and_eval_on_postgresql_write_nothing(runner, tmp_path, pg_url) -> None:
    shop = tmp_path / "shop"
    assert cli(runner, "--db", pg_url, "init", str(shop)).exit_code == 0
    config = str(shop / "autopilot.toml")
    assert cli(runner, "--config", config, "--db", pg_url, "ingest", str(SAMPLES / "events.jsonl")).exit_code == 6

    def everything() -> list[tuple]:
        with open_store(pg_url, FixedClock(NOW)) as pg:
            return [tuple(r) for t in ("events", "drafts", "jobs", "consent", "audit_log")
                    for r in pg.query(f"SELECT * FROM {t} ORDER BY 1")]

    before = everything()
    dry = cli(runner, "--config", config, "--db", pg_url, "process", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["processed"] == 4 and json.loads(dry.stdout)["dry_run"] is True
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"text": "What are your opening hours?", "expected": "auto", "entry": 0}) + "\n")
    evaluated = cli(runner, "--config", config, "--db", pg_url, "eval", str(cases), "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["auto_correct"] == 1
    assert everything() == before
    assert cli(runner, "--config", config, "--db", pg_url, "process", "--json").exit_code == 0
    assert everything() != before  # the real run writes: the dry run's silence was not for lack of work


def start_serve(config: Path, url: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    import queue

    proc = subprocess.Popen([sys.executable, "-m", "autopilot_cli", "--config", str(config), "--db", url, "serve",
                             "--port", "0"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def drain() -> None:  # read the log to its end: a pipe nobody reads fills up and blocks every request
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put("")

    threading.Thread(target=drain, daemon=True).start()
    while line := lines.get(timeout=30):
        if json.loads(line)["msg"] == "listening":
            return proc, int(json.loads(line)["port"])
    raise AssertionError(f"serve exited before listening: {proc.wait()}")


def test_two_serve_replicas_taking_the_same_500_signed_payloads_store_500_events(tmp_path, pg_url, clock) -> None:
    import httpx

    from .test_server import WA_SECRET, sign, wa_message

    open_store(pg_url, clock).close()  # `init`: the schema exists before the replicas start
    config = tmp_path / "autopilot.toml"
    config.write_text('[channels.whatsapp]\nadapter = "whatsapp"\nphone_number_id = "1"\n'
                      'app_secret_env = "WA_SECRET"\nverify_token_env = "WA_VERIFY"\n')
    env = {**os.environ, "WA_SECRET": WA_SECRET, "WA_VERIFY": "verify-me", "NO_PROXY": "127.0.0.1"}
    replicas = [start_serve(config, pg_url, env) for _ in range(2)]
    bodies = [wa_message(f"wamid.REPLICA{i}", f"question {i}") for i in range(500)]

    codes: list[int] = []

    def deliver(share: list[bytes]) -> None:  # every payload to both replicas: Meta retrying, or both getting it
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False)
                   for _, port in replicas]
        try:
            for body in share:
                for client in clients:
                    codes.append(client.post("/webhooks/whatsapp", content=body, headers={
                        "X-Hub-Signature-256": sign(body, WA_SECRET)}).status_code)
        finally:
            for client in clients:
                client.close()

    try:
        threads = [threading.Thread(target=deliver, args=(bodies[i::8],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert codes == [200] * 1000
        with open_store(pg_url, clock) as store:
            assert store.scalar("SELECT count(*) FROM events") == 500
            assert store.scalar("SELECT count(DISTINCT external_id) FROM events") == 500
    finally:
        for proc, _ in replicas:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in replicas:
            try:
                assert proc.wait(timeout=20) == 0
            finally:
                if proc.poll() is None:  # never leave a server behind, whatever failed
                    proc.kill()
                    proc.wait()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_process_racing_ingest_decides_every_event_exactly_once(kind, tmp_path, clock, request) -> None:
    from autopilot_cli.decide import process_events
    from autopilot_cli.drafting import KnowledgeIndex, OfflineDrafter, Services

    target = request.getfixturevalue("pg_url") if kind == "postgresql" else str(tmp_path / "race.db")
    open_store(target, clock).close()
    config = config_from_dict({})
    services = Services(drafter=OfflineDrafter(), index=KnowledgeIndex.from_file(
        Path(__file__).parent.parent / "autopilot_cli" / "templates" / "knowledge.toml"))
    batches = [("\n".join(json.dumps({"channel": "email", "id": f"race-{b}-{i}", "from": f"c{i % 7}@example.org",
                                      "text": ("When are you open?", "STOP", "Where is my parcel?")[i % 3],
                                      "received_at": "2026-11-25T11:00:00Z"}) for i in range(40))).encode()
               for b in range(10)]
    done = threading.Event()

    def ingest_all() -> None:
        with open_store(target, clock) as writer:
            for batch in batches:
                ingest_bytes(writer, batch, fmt="jsonl", config=config, clock=clock, secrets=Secrets({}))
        done.set()

    thread = threading.Thread(target=ingest_all)
    with open_store(target, clock) as store:
        thread.start()
        while not done.is_set():  # process while the batches arrive
            process_events(store, config, clock, services)
        thread.join()
        process_events(store, config, clock, services)  # what arrived after the last run
        assert store.scalar("SELECT count(*) FROM events") == 400
        assert store.scalar("SELECT count(*) FROM events WHERE state = 'pending'") == 0
        assert store.scalar("SELECT count(*) FROM decisions") == 400
        assert store.scalar("SELECT count(*) FROM (SELECT event_id FROM decisions GROUP BY event_id "
                            "HAVING count(*) > 1) AS twice") == 0


def test_a_job_taken_over_between_the_waves_read_and_its_mark_is_not_sent(pg_migrated_url, clock) -> None:
    """On PostgreSQL a claim takes no write lock, so another run may take a job over while this run's wave
    transaction has already read it. Here the other run holds the job's row while this run reads it, and
    commits its takeover while this run waits to mark it: the mark finds the job no longer ours, and it is
    neither marked nor sent."""
    import psycopg

    from .helpers import poll
    from .test_execute import ScriptedAdapter, cfg, run, schedule

    store = open_store(pg_migrated_url, clock)
    try:
        first, second = (schedule(store, "When are you open?", sender=f"{who}@example.org")[0] for who in ("a", "b"))
        due = datetime.fromisoformat(store.scalar("SELECT max(send_at) FROM jobs").replace("Z", "+00:00"))

        class TakeOverDuringTheFirstSend(ScriptedAdapter):
            async def send(self, message):
                if not self.sent:  # wave 1 is on its way; wave 2 (the second job) is claimed, not yet read
                    rival = psycopg.connect(pg_migrated_url)  # one open transaction, holding the row
                    rival.execute("UPDATE jobs SET lease_owner = 'rival' WHERE id = %s", (second,))
                    threading.Thread(target=commit_once_the_mark_waits, args=(rival,)).start()
                return await super().send(message)

        def commit_once_the_mark_waits(rival) -> None:
            with psycopg.connect(pg_migrated_url, autocommit=True) as watcher:
                poll(lambda: watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY("
                                             "pg_blocking_pids(pid))", (rival.info.backend_pid,)).fetchone()[0],
                     "this run's mark to wait for the rival's row lock")
            rival.commit()
            rival.close()

        adapter = TakeOverDuringTheFirstSend()
        report = run(store, {"email": adapter}, cfg(execute={"max_concurrency": 1}), at=due)
        assert [m.job_id for m in adapter.sent] == [first] and report.sent == 1
        row = store.query("SELECT state, lease_owner, attempts FROM jobs WHERE id = ?", (second,))[0]
        assert tuple(row) == ("claimed", "rival", 0)
    finally:
        store.close()
