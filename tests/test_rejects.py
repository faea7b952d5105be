"""``autopilot rejects`` and ``rejects clear``: the rejected records status counts, listed and cleared."""

from __future__ import annotations

import json

from autopilot_cli.cli import app
from autopilot_cli.clock import FixedClock
from autopilot_cli.db.migrations import open_store
from autopilot_cli.db.rejects import clear_rejects

from .conftest import NOW


def good(i: int) -> dict:
    return {"channel": "email", "id": f"m{i}", "from": "a@example.org", "text": f"hi {i}",
            "received_at": "2026-11-25T10:00:00Z"}


def ingest_bad_records(runner, db: str, tmp_path, name: str = "in.jsonl") -> None:
    path = tmp_path / name
    path.write_text("\n".join([
        json.dumps(good(1)),
        json.dumps({**good(2), "channel": "sms"}),
        "[1, 2]",
        json.dumps(good(3)),
    ]) + "\n")
    result = runner.invoke(app, ["--db", db, "ingest", str(path)])
    assert result.exit_code == 6, result.output


def status(runner, db: str) -> dict:
    return json.loads(runner.invoke(app, ["--db", db, "status", "--json"]).output)


def test_rejects_lists_what_status_counts_and_clear_empties_it(runner, tmp_path) -> None:
    db = str(tmp_path / "r.db")
    ingest_bad_records(runner, db, tmp_path)
    assert status(runner, db)["rejects"] == 2

    listed = runner.invoke(app, ["--db", db, "rejects", "--json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert data["total"] == 2
    assert [set(r) for r in data["rejects"]] == [
        {"id", "at", "format", "source", "line", "location", "reason", "raw"}] * 2
    first, second = data["rejects"]
    assert (first["source"], first["line"], first["format"]) == (str(tmp_path / "in.jsonl"), 2, "jsonl")
    assert "'channel'" in first["reason"] and json.loads(first["raw"])["channel"] == "sms"
    assert (second["line"], second["reason"]) == (3, "expected a JSON object, got list")

    human = runner.invoke(app, ["--db", db, "rejects"])
    assert human.exit_code == 0
    assert "in.jsonl, line 2" in human.output and "expected a JSON object, got list" in human.output

    cleared = runner.invoke(app, ["--db", db, "rejects", "clear", "--json"])
    assert cleared.exit_code == 0
    assert json.loads(cleared.output) == {"cleared": [first["id"], second["id"]], "not_found": []}
    assert status(runner, db)["rejects"] == 0
    assert json.loads(runner.invoke(app, ["--db", db, "rejects", "--json"]).output) == {"total": 0, "rejects": []}
    assert "no rejected records" in runner.invoke(app, ["--db", db, "rejects"]).output
    # The good records of that file were not touched.
    assert sum(status(runner, db)["events"].values()) == 2


def test_rejects_clear_named_ids_is_audited_and_names_unknown_ids(runner, tmp_path) -> None:
    db = str(tmp_path / "r.db")
    ingest_bad_records(runner, db, tmp_path)
    ids = [r["id"] for r in json.loads(runner.invoke(app, ["--db", db, "rejects", "--json"]).output)["rejects"]]

    one = runner.invoke(app, ["--db", db, "rejects", "clear", str(ids[0])])
    assert one.exit_code == 0 and "cleared 1 rejected record" in one.output
    left = json.loads(runner.invoke(app, ["--db", db, "rejects", "--json"]).output)
    assert [r["id"] for r in left["rejects"]] == [ids[1]]

    unknown = runner.invoke(app, ["--db", db, "rejects", "clear", str(ids[0]), str(ids[1])])
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == f"error: no reject with id {ids[0]}"
    assert status(runner, db)["rejects"] == 0  # the existing one was still cleared

    with open_store(tmp_path / "r.db", FixedClock(NOW)) as store:
        audit = store.query("SELECT action, object_type, detail FROM audit_log ORDER BY id")
    assert [(a["action"], a["object_type"]) for a in audit] == [("rejects:clear", "reject")] * 2
    assert json.loads(audit[0]["detail"]) == {"count": 1, "ids": [ids[0]]}


def test_rejects_limit_and_hostile_text(runner, tmp_path) -> None:
    db = str(tmp_path / "r.db")
    hostile = {**good(1), "from": "[bold red]APPROVED[/] \x1b[31m", "text": "x" * 5000}
    path = tmp_path / "[link=evil]f.jsonl"
    path.write_text(json.dumps(hostile) + "\n" + "[1]\n")
    assert runner.invoke(app, ["--db", db, "ingest", str(path)]).exit_code == 6

    limited = runner.invoke(app, ["--db", db, "rejects", "--limit", "1"])
    assert limited.exit_code == 0
    assert "[bold red]APPROVED[/]" in limited.output and "\x1b" not in limited.output
    assert "[link=evil]f.jsonl" in limited.output
    assert "1 of 2 shown" in limited.output
    assert "x" * 200 not in limited.output  # the raw text is a preview
    assert len(json.loads(runner.invoke(app, ["--db", db, "rejects", "--json", "--limit", "1"]).output)["rejects"]) == 1
    assert len(json.loads(runner.invoke(app, ["--db", db, "rejects", "--json", "--limit", "0"]).output)["rejects"]) == 2


def test_rejects_on_a_missing_database_is_a_database_error(runner, tmp_path) -> None:
    result = runner.invoke(app, ["--db", str(tmp_path / "none.db"), "rejects"])
    assert result.exit_code == 4 and "database not found" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_clock_is_injected(tmp_path) -> None:
    # The audit row's time comes from the injected clock, not the machine's.
    clock = FixedClock(NOW)
    with open_store(tmp_path / "c.db", clock) as store:
        with store.transaction() as conn:
            conn.execute("INSERT INTO rejects (at, format, reason) VALUES ('t', 'jsonl', 'r')")
        assert clear_rejects(store, clock, "op") == [1]
        assert store.scalar("SELECT at FROM audit_log") == "2026-11-25T12:00:00.000Z"
        assert clear_rejects(store, clock, "op") == []
        assert store.scalar("SELECT count(*) FROM audit_log") == 1  # nothing cleared, nothing audited
