"""The idle fast path of ``autopilot execute``: only taken when nothing at all can be due."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

from autopilot_cli.clock import SystemClock, to_iso
from autopilot_cli.db.migrations import open_store
from autopilot_cli.entry import nothing_to_do


def make_db(path, job_state=None, send_at=None, paused=False):
    with open_store(path, SystemClock()) as store, store.transaction() as conn:
        if job_state:
            conn.execute("INSERT INTO contacts (id, created_at, updated_at) VALUES (1, 'x', 'x')")
            conn.execute(
                "INSERT INTO events (id, channel, external_id, contact_id, sender, message_type, text, format, "
                "received_at, ingested_at) VALUES (1, 'email', 'e', 1, 'a@b.c', 'text', 't', 'jsonl', 'x', 'x')"
            )
            conn.execute("INSERT INTO drafts (id, event_id, contact_id, channel, text, created_at, updated_at) "
                         "VALUES (1, 1, 1, 'email', 't', 'x', 'x')")
            conn.execute("INSERT INTO jobs (draft_id, event_id, contact_id, channel, recipient, send_key, text, "
                         "text_sha256, send_at, state, lease_until, created_at, updated_at) "
                         "VALUES (1, 1, 1, 'email', 'a@b.c', 'k', 't', 'h', ?, ?, ?, 'x', 'x')",
                         (send_at, job_state, send_at))
        if paused:
            conn.execute("INSERT INTO channel_state (channel, paused_at, reason) VALUES ('email', 'x', 'token')")


def test_idle_database_takes_the_fast_path(tmp_path) -> None:
    db = tmp_path / "idle.db"
    make_db(db)
    assert nothing_to_do(["--db", str(db), "execute"])
    assert nothing_to_do([f"--db={db}", "execute"])


def test_anything_that_might_need_work_takes_the_full_path(tmp_path) -> None:
    past, future = to_iso(SystemClock().now() - timedelta(minutes=1)), to_iso(SystemClock().now() + timedelta(hours=1))
    cases = {"due": ("scheduled", past), "retry": ("retry_wait", past), "stale_claim": ("claimed", past),
             "stale_send": ("sending", past)}
    for name, (job_state, when) in cases.items():
        db = tmp_path / f"{name}.db"
        make_db(db, job_state, when)
        assert not nothing_to_do(["--db", str(db), "execute"]), name
    later = tmp_path / "later.db"
    make_db(later, "scheduled", future)
    assert nothing_to_do(["--db", str(later), "execute"])
    paused = tmp_path / "paused.db"
    make_db(paused, paused=True)
    assert not nothing_to_do(["--db", str(paused), "execute"])  # keep telling the operator


def test_other_commands_flags_and_broken_setups_take_the_full_path(tmp_path) -> None:
    db = tmp_path / "idle.db"
    make_db(db)
    assert not nothing_to_do(["--db", str(db), "status"])
    assert not nothing_to_do(["--db", str(db), "execute", "--json"])
    assert not nothing_to_do(["--db", str(db), "execute", "--limit", "3"])
    assert not nothing_to_do(["--db", str(tmp_path / "missing.db"), "execute"])
    (tmp_path / "bad.toml").write_text("[database\n")
    assert not nothing_to_do(["--config", str(tmp_path / "bad.toml"), "execute"])
    assert not nothing_to_do(["--config", str(tmp_path / "none.toml"), "execute"])
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    assert not nothing_to_do(["--db", str(garbage), "execute"])


def run_cli(*args: str, cwd=None, home=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOPILOT_CONFIG", "AUTOPILOT_DB")}
    if home is not None:
        env["AUTOPILOT_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "autopilot_cli", *args], capture_output=True, text=True, env=env,
                          timeout=60, cwd=cwd)


def test_config_database_path_is_honoured_once_the_full_cli_has_validated_the_config(tmp_path) -> None:
    (tmp_path / "c").mkdir()
    make_db(tmp_path / "c" / "data.db")
    config = tmp_path / "c" / "autopilot.toml"
    config.write_text('[database]\npath = "data.db"\n')
    args = ["--config", str(config), "execute"]
    assert not nothing_to_do(args)  # never validated: the full CLI must look at it first
    assert run_cli(*args).returncode == 0
    assert nothing_to_do(args)
    config.write_text('[database]\npath = "data.db"\n# edited\n')
    assert not nothing_to_do(args)  # any edit: validated again by a full run


def test_an_idle_execute_still_reports_a_config_that_does_not_validate(tmp_path) -> None:
    """Issue 12 item 17: valid TOML, wrong content; the idle fast path once exited 0 in silence."""
    (tmp_path / "c").mkdir()
    make_db(tmp_path / "c" / "data.db")
    config = tmp_path / "c" / "autopilot.toml"
    config.write_text('[database]\npath = "data.db"\n')
    assert run_cli("--config", str(config), "execute").returncode == 0
    config.write_text('[database]\npath = "data.db"\n[autopilot]\nmode = "autopilot"\n')
    result = run_cli("--config", str(config), "execute")
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("error: config error") and "autopilot.mode" in result.stderr


def test_fast_path_and_full_cli_find_the_same_config_from_a_subfolder(tmp_path) -> None:
    shop = tmp_path / "shop"
    assert run_cli("init", str(shop), home=tmp_path / "home").returncode == 0
    sub = shop / "inbox" / "today"
    sub.mkdir(parents=True)
    status = run_cli("status", "--json", cwd=sub, home=tmp_path / "home")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["config"] == str((shop / "autopilot.toml").resolve()) and report["config_found_by"].startswith(
        "found in"
    )
    assert report["database"] == str((shop / "autopilot.db").resolve())
    assert run_cli("execute", cwd=sub, home=tmp_path / "home").returncode == 0  # full run: validates the config
    old = os.getcwd()
    os.chdir(sub)
    try:
        assert nothing_to_do(["execute"])  # the fast path found shop/autopilot.toml and shop/autopilot.db too
    finally:
        os.chdir(old)
    assert not (tmp_path / "home" / "autopilot.db").exists()


def test_console_entry_point_runs_the_full_cli(tmp_path) -> None:
    env = {**os.environ, "AUTOPILOT_HOME": str(tmp_path)}
    make_db(tmp_path / "x.db")
    proc = subprocess.run([sys.executable, "-m", "autopilot_cli", "--db", str(tmp_path / "x.db"), "execute", "--json"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and '"sent": 0' in proc.stdout


def fast_path_taken(result: subprocess.CompletedProcess) -> bool:
    """``-X importtime`` lists every module imported: the full CLI imports typer, the fast path never does."""
    assert "import time:" in result.stderr
    return " typer" not in result.stderr


def test_a_real_idle_execute_from_a_subfolder_takes_the_fast_path_on_the_shops_config(tmp_path) -> None:
    home = tmp_path / "home"
    shop = tmp_path / "shop"
    assert run_cli("init", str(shop), home=home).returncode == 0
    sub = shop / "inbox"
    sub.mkdir()
    args = ["-X", "importtime", "-m", "autopilot_cli", "execute"]
    env = {**{k: v for k, v in os.environ.items() if k not in ("AUTOPILOT_CONFIG", "AUTOPILOT_DB")},
           "AUTOPILOT_HOME": str(home)}
    first = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=60, cwd=sub)
    assert first.returncode == 0 and not fast_path_taken(first)  # never validated: a full run
    second = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=60, cwd=sub)
    assert second.returncode == 0 and fast_path_taken(second), second.stderr[-2000:]
    assert not (home / "autopilot.db").exists()  # both runs used shop/autopilot.db


def test_an_idle_execute_reports_a_found_config_that_no_longer_parses(tmp_path) -> None:
    """Issue 12 item 17: the fast path must not exit 0 in silence on a config that is not TOML any more."""
    home = tmp_path / "home"
    shop = tmp_path / "shop"
    assert run_cli("init", str(shop), home=home).returncode == 0
    assert run_cli("execute", cwd=shop, home=home).returncode == 0  # validated: the next idle run is a fast one
    config = shop / "autopilot.toml"
    config.write_text(config.read_text() + "\n[channels.email\n")
    result = run_cli("execute", cwd=shop, home=home)
    assert result.returncode == 3, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: config error in {config.resolve()}: invalid TOML"), line
    config.write_bytes(b"\xff\xfe not text")
    result = run_cli("execute", cwd=shop, home=home)
    assert result.returncode == 3 and "not UTF-8" in result.stderr


def test_a_shop_on_postgresql_never_takes_the_fast_path_even_with_its_old_idle_file(tmp_path, monkeypatch) -> None:
    """Moved to PostgreSQL (AUTOPILOT_DATABASE_URL), the shop's old SQLite file — idle, its config validated —
    must never answer "nothing to do" for it: jobs waiting in PostgreSQL would never be sent."""
    home, shop = tmp_path / "home", tmp_path / "shop"
    assert run_cli("init", str(shop), home=home).returncode == 0
    assert run_cli("execute", cwd=shop, home=home).returncode == 0  # validated: the next idle run is a fast one
    monkeypatch.chdir(shop)
    monkeypatch.setenv("AUTOPILOT_HOME", str(home))
    monkeypatch.delenv("AUTOPILOT_CONFIG", raising=False)
    monkeypatch.delenv("AUTOPILOT_DB", raising=False)
    assert nothing_to_do(["execute"])
    monkeypatch.setenv("AUTOPILOT_DATABASE_URL", "postgresql://shop@db.example.com/shop")
    assert not nothing_to_do(["execute"])
    monkeypatch.delenv("AUTOPILOT_DATABASE_URL")
    assert not nothing_to_do(["--db", "postgresql://shop@db.example.com/shop", "execute"])
