"""Which config and database a command uses (issue 12 item 11): found from the current folder up,
every relative path beside the config, never another user's file, and ``status`` says which."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time

import autopilot_cli.inbound._parsers.jsonl  # its pydantic models must be built outside freeze_time
from autopilot_cli.cli import app
from autopilot_cli.clock import SystemClock, to_iso
from autopilot_cli.db.migrations import open_store
from autopilot_cli.discovery import find_config

from .conftest import NOW


def init_shop(runner, shop: Path) -> None:
    result = runner.invoke(app, ["init", str(shop)])
    assert result.exit_code == 0, result.output


def test_after_init_a_subfolder_uses_that_shop_and_status_says_so(runner, tmp_path, monkeypatch,
                                                                  isolated_home) -> None:
    shop = tmp_path / "shop"
    init_shop(runner, shop)
    sub = shop / "inbox" / "today"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["config_path"] == str((shop / "autopilot.toml").resolve())
    assert report["database_path"] == str((shop / "autopilot.db").resolve())
    assert report["config_found_by"] == f"found in {shop.resolve()}"
    # The human screen names them first: the counts mean nothing for the wrong shop.
    human = runner.invoke(app, ["status"]).stdout.splitlines()
    assert human[0] == f"config   {(shop / 'autopilot.toml').resolve()} (found in {shop.resolve()})"
    assert human[1].startswith(f"database {(shop / 'autopilot.db').resolve()} (schema ")
    assert not (isolated_home / "autopilot.db").exists()
    # Outside any shop: the built-in defaults and $AUTOPILOT_HOME's database.
    monkeypatch.chdir(tmp_path)
    open_store(isolated_home / "autopilot.db", SystemClock()).close()
    defaults = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert defaults["config_path"] is None and defaults["config_found_by"] == "defaults"
    assert defaults["database_path"] == str((isolated_home / "autopilot.db").resolve())


KNOWLEDGE = """[[faq]]
questions = ["Do you repair bicycles?"]
answer = "{answer}"
"""


def test_relative_paths_resolve_against_the_config_folder_wherever_the_command_runs(runner, tmp_path,
                                                                                     monkeypatch) -> None:
    shop = tmp_path / "shop"
    init_shop(runner, shop)
    config = shop / "autopilot.toml"
    text = config.read_text()
    text = text.replace('knowledge_file = "knowledge.toml"', 'knowledge_file = "kb/faq.toml"')
    text = text.replace('[channels.email]\nadapter = "outbox"',
                        '[channels.email]\nadapter = "outbox"\npath = "sent/email.jsonl"\nrate_per_second = 1000')
    text = text.replace('path = "autopilot.db"', 'path = "data/shop.db"')
    assert 'kb/faq.toml' in text and 'sent/email.jsonl' in text and 'data/shop.db' in text
    config.write_text(text)
    (shop / "kb").mkdir()
    (shop / "data").mkdir()
    (shop / "sent").mkdir()
    (shop / "kb" / "faq.toml").write_text(KNOWLEDGE.format(answer="Yes, the shop's own answer."))
    # A folder elsewhere holding files of the same relative names: they must never be read or written.
    elsewhere = tmp_path / "elsewhere" / "deep"
    (elsewhere / "kb").mkdir(parents=True)
    for stray in (elsewhere / "kb" / "faq.toml", elsewhere / "knowledge.toml"):
        stray.write_text(KNOWLEDGE.format(answer="A stray answer from the current folder."))
    inbox = tmp_path / "in.jsonl"
    inbox.write_text(json.dumps({"channel": "email", "id": "m1", "from": "ana@example.org",
                                 "text": "Do you repair bicycles?",
                                 "received_at": to_iso(NOW - timedelta(minutes=5))}) + "\n")
    monkeypatch.chdir(elsewhere)
    relative = ["--config", os.path.relpath(config, elsewhere)]  # ../../shop/autopilot.toml
    with freeze_time(NOW):
        for args in (["ingest", str(inbox), "--format", "jsonl"], ["process"]):
            result = runner.invoke(app, relative + args)
            assert result.exit_code == 0, result.output
    db = shop / "data" / "shop.db"
    [(draft, draft_text)] = sqlite3.connect(db).execute("SELECT id, text FROM drafts").fetchall()
    assert "the shop's own answer" in draft_text and "stray" not in draft_text
    # The rest from a subfolder of the shop, found by the walk up, no --config.
    sub = shop / "data"
    monkeypatch.chdir(sub)
    with freeze_time(NOW):
        result = runner.invoke(app, ["approve", str(draft), "--now"])
        assert result.exit_code == 0, result.output

    with freeze_time(NOW + timedelta(minutes=1)):
        result = runner.invoke(app, ["execute", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sent"] == 1
    [line] = (shop / "sent" / "email.jsonl").read_text().splitlines()
    assert "the shop's own answer" in json.loads(line)["text"]
    assert not (sub / "sent").exists() and not (elsewhere / "sent").exists()
    assert not (sub / "data").exists() and not (elsewhere / "data").exists()


def test_the_walk_up_stops_at_the_home_folder(tmp_path) -> None:
    user = tmp_path / "users" / "ana"
    work = user / "shops" / "bikes" / "inbox"
    work.mkdir(parents=True)
    env = {"AUTOPILOT_HOME": str(tmp_path / "nohome"), "HOME": str(user)}
    (tmp_path / "users" / "autopilot.toml").write_text("")  # above $HOME: someone else's folder
    assert find_config(None, env, cwd=work).how == "defaults"
    (user / "autopilot.toml").write_text("")
    assert find_config(None, env, cwd=work).path == (user / "autopilot.toml").resolve()
    (user / "shops" / "autopilot.toml").write_text("")
    assert find_config(None, env, cwd=work).path == (user / "shops" / "autopilot.toml").resolve()
    # Outside $HOME (a server's /srv/...) the walk goes up to the root.
    outside = tmp_path / "srv" / "shop" / "sub"
    outside.mkdir(parents=True)
    (tmp_path / "srv" / "autopilot.toml").write_text("")
    assert find_config(None, env, cwd=outside).path == (tmp_path / "srv" / "autopilot.toml").resolve()


def _owned_by_someone_else(path: Path) -> int:
    """Make ``path`` another user's; returns the uid to look with."""
    if os.geteuid() == 0:
        os.chown(path, 4242, -1)
        return 0
    return os.geteuid() + 1  # as a different (non-root) user, a file of ours is someone else's


def test_another_users_config_found_by_the_walk_is_refused(tmp_path) -> None:
    shared = tmp_path / "shared"
    work = shared / "inbox"
    work.mkdir(parents=True)
    planted = shared / "autopilot.toml"
    planted.write_text('[channels.whatsapp]\nadapter = "whatsapp"\nphone_number_id = "1"\n'
                       'base_url = "https://collector.invalid"\n')
    uid = _owned_by_someone_else(planted)
    env = {"AUTOPILOT_HOME": str(tmp_path / "nohome"), "HOME": str(tmp_path / "nohome")}
    found = find_config(None, env, cwd=work, uid=uid)
    assert found.path == planted.resolve() and found.refused and str(planted.resolve()) in found.refused
    # Named explicitly, it is the operator's choice.
    assert find_config(planted, env, cwd=work, uid=uid).refused is None
    # A root-owned file (a system-wide config) is trusted like one's own.
    if os.geteuid() == 0:
        os.chown(planted, 0, -1)
        assert find_config(None, env, cwd=work).refused is None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_every_command_refuses_another_users_config_with_exit_3(runner, tmp_path, monkeypatch,
                                                                 isolated_home) -> None:
    shop = tmp_path / "shop"
    init_shop(runner, shop)
    os.chown(shop / "autopilot.toml", 4242, -1)
    monkeypatch.chdir(shop)
    for args in (["status", "--json"], ["execute"], ["ingest", "-"]):
        result = runner.invoke(app, args, input="")
        assert result.exit_code == 3, (args, result.output)
        assert result.stderr.startswith("error: refusing ") and "--config" in result.stderr
        assert len(result.stderr.splitlines()) == 1
    assert not (isolated_home / "autopilot.db").exists()
    status = runner.invoke(app, ["--config", "autopilot.toml", "status", "--json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["config_found_by"] == "--config"


def test_status_says_when_the_config_came_from_the_environment(runner, tmp_path, monkeypatch) -> None:
    shop = tmp_path / "shop"
    init_shop(runner, shop)
    runner.invoke(app, ["--config", str(shop / "autopilot.toml"), "ingest", "-"], input="")
    monkeypatch.setenv("AUTOPILOT_CONFIG", str(shop / "autopilot.toml"))
    report = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert (report["config_found_by"], report["config_path"]) == ("$AUTOPILOT_CONFIG",
                                                                  str((shop / "autopilot.toml").resolve()))
    other = tmp_path / "other.toml"
    other.write_text('[database]\npath = "shop/autopilot.db"\n')
    report = json.loads(runner.invoke(app, ["--config", str(other), "status", "--json"]).stdout)
    assert (report["config_found_by"], report["config_path"]) == ("--config", str(other.resolve()))
