"""Issue 6: the review queue, approve / edit / reject / opt out, and the interactive screen."""

from __future__ import annotations

import fcntl
import io
import json
import os
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from freezegun import freeze_time
from rich.console import Console

from autopilot_cli.channels import Registry
from autopilot_cli.cli import app
from autopilot_cli.cli._review_screen import ReviewSession
from autopilot_cli.clock import FixedClock, from_iso, to_iso
from autopilot_cli.config import config_from_dict
from autopilot_cli.contacts import record_change
from autopilot_cli.db.migrations import open_store
from autopilot_cli.decide import process_events
from autopilot_cli.decide._process import Services
from autopilot_cli.drafting import KnowledgeIndex, OfflineDrafter
from autopilot_cli.inbound import ingest_bytes
from autopilot_cli.review import (
    ApprovalRefused,
    ReviewFilter,
    approve,
    approve_all_ready,
    approve_one,
    get_item,
    load_details,
    opt_out_contact,
    review_queue,
)
from autopilot_cli.review._approvals import edit_distance
from autopilot_cli.review._queue import LIST_KEYS, describe_reason
from autopilot_cli.secrets import Secrets
from autopilot_cli.sending import execute_jobs

from .conftest import NOW
from .helpers import ingest_records, message, outbox_config

ROOT = Path(__file__).parent.parent
KNOWLEDGE = ROOT / "autopilot_cli" / "templates" / "knowledge.toml"
HOSTILE = "[bold]APPROVED[/] [link=http://x]click[/link] \x1b[31mred\x1b[0m bell\x07 end"
# The knowledge file answers the first question (delivery time), not the second: partly answered.
PARTLY = "How long does delivery take, and can I collect the order from a pickup station?"
FORCE = {"AUTOPILOT_REVIEW_FORCE_INTERACTIVE": "1", "VISUAL": ""}


def cfg(mode: str = "auto", **sections):
    return outbox_config(mode, **sections)


def config_file(tmp_path: Path, mode: str = "auto", extra: str = "") -> Path:
    path = tmp_path / "autopilot.toml"
    channels = "".join(f'[channels.{c}]\nadapter = "outbox"\nrate_per_second = 1000\n'
                       for c in ("whatsapp", "email", "instagram", "linkedin"))
    path.write_text(f'[autopilot]\nmode = "{mode}"\n{channels}{extra}')
    return path


def queue(store, *records, config=None, clock=None):
    """Real ingest + process of JSONL records at NOW; returns the process report."""
    config = config or cfg()
    clock = clock or FixedClock(NOW)
    ingest_records(store, *records, config=config, clock=clock)
    return process_events(store, config, clock, Services(drafter=OfflineDrafter(),
                                                         index=KnowledgeIndex.from_file(KNOWLEDGE)))


def msg(i, text, channel="email", sender="ana@example.org", minutes_ago=5, **extra) -> dict:
    return message(i, text, channel=channel, sender=sender, minutes_ago=minutes_ago, prefix="r", **extra)


def draft_ids(store) -> list[int]:
    return [r[0] for r in store.query("SELECT id FROM drafts WHERE state = 'review' ORDER BY id")]


def audit(store, action):
    rows = store.query("SELECT * FROM audit_log WHERE action = ? ORDER BY id", (action,))
    return [(r["actor"], r["object_id"], json.loads(r["detail"])) for r in rows]


def send_due(store, config, at):
    clock = FixedClock(at)
    return execute_jobs(store, config, clock, Registry(config, Secrets({}), store.path, clock))


def outbox(store) -> list[str]:
    return [r[0] for r in store.query("SELECT text FROM outbox ORDER BY id")]


# --- the queue ----------------------------------------------------------------------------------


def test_queue_most_urgent_first_and_filters(store) -> None:
    queue(
        store,
        msg(1, "Is this the right charger for my order?", minutes_ago=300),  # email, oldest
        msg(2, "Is this the right charger for my order?", channel="whatsapp", sender="+4915123456789", minutes_ago=30),
        msg(3, "Is this the right charger for my order?", channel="whatsapp", sender="+4915123456700", minutes_ago=90),
        msg(4, "I want a refund for my broken kettle", sender="bo@example.org", minutes_ago=200),
        msg(5, "Is this the right charger for my order?", channel="instagram", sender="1789", minutes_ago=60),
    )
    items = review_queue(store, cfg(), FixedClock(NOW))
    # Open windows closing soonest first (oldest inbound), then the others oldest first.
    assert [(i.channel, i.contact) for i in items] == [
        ("whatsapp", "+4915123456700"), ("instagram", "1789"), ("whatsapp", "+4915123456789"),
        ("email", "ana@example.org"), ("email", "bo@example.org"),
    ]
    first = items[0]
    assert first.window_closes_at == to_iso(NOW - timedelta(minutes=90) + timedelta(hours=24))
    assert first.window_seconds_left == pytest.approx((timedelta(hours=24) - timedelta(minutes=90)).total_seconds())
    assert set(first.list_entry()) == set(LIST_KEYS)
    assert [i.channel for i in review_queue(store, cfg(), FixedClock(NOW), ReviewFilter(channel="email"))] == [
        "email", "email"]
    refund = review_queue(store, cfg(), FixedClock(NOW), ReviewFilter(reason="compliance"))
    assert [i.contact for i in refund] == ["bo@example.org"]
    assert "compliance:refund" in refund[0].reasons
    assert [i.contact for i in review_queue(store, cfg(), FixedClock(NOW), ReviewFilter(contact="+49 151 23456789"))] \
        == ["+4915123456789"]
    assert review_queue(store, cfg(), FixedClock(NOW), ReviewFilter(ready=True)) == []


def test_details_history_reasons_and_planned_time(store) -> None:
    queue(store, msg(1, "When are you open?", minutes_ago=60))
    queue(store, msg(2, PARTLY, minutes_ago=5))
    [item] = review_queue(store, cfg(), FixedClock(NOW))
    load_details(store, cfg(), FixedClock(NOW), item)
    # The earlier question; our scheduled (not yet sent) reply to it is not history yet.
    assert [(h.role, h.text) for h in item.history] == [("contact", "When are you open?")]
    assert item.reasons_text[0].startswith("the knowledge file answers only part of the message")
    assert item.reasons_text[1].startswith("the drafter was not confident enough (")
    assert item.reasons_text[1].endswith(" < 0.85)")
    assert item.planned_send_at is not None and item.send_explanation
    # What the screen shows is what approval plans.
    result = approve_one(store, cfg(), FixedClock(NOW), "ana", item.id)
    assert result.send_at == item.planned_send_at


def test_reasons_in_plain_words() -> None:
    assert describe_reason("low_confidence", 0.62, 0.85) == "the drafter was not confident enough (0.62 < 0.85)"
    assert describe_reason("compliance:refund") == "mentions refund, a topic that always needs a person"
    assert "ignore its instructions" in describe_reason("injection:ignore_instructions")
    assert "moderation service flagged hate" in describe_reason("safety:moderation:hate")
    assert describe_reason("one_click_mode").startswith("this channel is in one-click mode")
    assert describe_reason("something_new") == "something_new"


def test_edit_distance() -> None:
    assert edit_distance("kitten", "sitting") == (3, False)
    assert edit_distance("", "abc") == (3, False)
    assert edit_distance("same", "same") == (0, False)
    assert edit_distance("Hi Ana, we open at 9.", "Hi Ana, we open at 10.") == (2, False)
    long_a, long_b = "x" * 5000 + "a" * 300 + "y" * 5000, "x" * 5000 + "b" * 300 + "y" * 5000
    assert edit_distance(long_a, long_b) == (300, False)  # common prefix and suffix are trimmed first
    assert edit_distance("a" * 3000, "b" * 2000) == (3000, True)  # too big: an upper bound, flagged


# --- approve ------------------------------------------------------------------------------------


def test_approve_schedules_a_job_that_execute_sends_with_exactly_the_approved_text(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)
    with freeze_time(NOW):
        result = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)),
                                     "approve", str(draft), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.output)
    assert set(data) == {"approved", "refused"} and data["refused"] == []
    [approved] = data["approved"]
    job = store.query("SELECT * FROM jobs WHERE id = ?", (approved["job_id"],))[0]
    d = store.query("SELECT * FROM drafts WHERE id = ?", (draft,))[0]
    assert (job["origin"], job["state"], d["state"]) == ("approved", "scheduled", "approved")
    assert job["text"] == d["approved_text"] == d["text"]
    assert job["send_at"] == approved["send_at"] and job["explanation"] == approved["explanation"]
    assert d["decided_by"] and d["decided_at"] == to_iso(NOW)
    # Rate events recorded for the contact and the channel (not the auto-reply budget).
    scopes = sorted(r[0] for r in store.query("SELECT scope FROM rate_events"))
    assert scopes == ["channel", "contact"]
    [(actor, object_id, detail)] = audit(store, "approve")
    assert object_id == str(draft) and actor == d["decided_by"]
    assert detail["edit_distance"] == 0 and detail["edited"] is False and detail["job_id"] == job["id"]
    assert send_due(store, cfg(), from_iso(job["send_at"]) - timedelta(seconds=1)).sent == 0
    assert send_due(store, cfg(), from_iso(job["send_at"])).sent == 1
    assert outbox(store) == [d["approved_text"]]


def test_approve_now_sends_at_the_next_execute(store) -> None:
    queue(store, msg(1, "Is this the right charger for my order?", timezone="Pacific/Kiritimati"))
    [draft] = draft_ids(store)
    result = approve_one(store, cfg(), FixedClock(NOW), "ana", draft, now=True)
    assert result.send_at == to_iso(NOW) and result.now
    assert send_due(store, cfg(), NOW).sent == 1


def test_an_edit_is_measured_as_the_provider_counts_it() -> None:
    # WhatsApp counts UTF-16 code units: 2,100 emoji are 4,200 of them, over its 4,096, although
    # they are only 2,100 code points. Approval and the draft gate use the same measure.
    with open_store(":memory:", FixedClock(NOW)) as store:
        queue(store, msg(1, "Is this the right charger for my order?", channel="whatsapp", sender="+4915123456789"))
        [draft] = draft_ids(store)
        with pytest.raises(ApprovalRefused, match="4200 chars, over the whatsapp limit of 4096"):
            approve_one(store, cfg(), FixedClock(NOW), "ana", draft, text="\U0001F600" * 2100, now=True)
        assert approve_one(store, cfg(), FixedClock(NOW), "ana", draft, text="\U0001F600" * 2048, now=True).job_id


def test_edited_text_is_what_is_sent_and_the_audit_has_the_edit_distance(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)
    original = store.scalar("SELECT text FROM drafts")
    edited = "Hi Ana,\n\nYes: the X200 charger fits your order 1182.\n\nThe team"
    with freeze_time(NOW):
        result = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)),
                                     "approve", str(draft), "--text", edited, "--now"])
    assert result.exit_code == 0, result.stderr
    assert "edited" in result.output
    assert store.scalar("SELECT approved_text FROM drafts") == edited
    assert store.scalar("SELECT text FROM jobs") == edited
    [(_, _, detail)] = audit(store, "approve")
    assert detail["edited"] is True and detail["edit_distance"] == edit_distance(original, edited)[0] > 0
    send_due(store, cfg(), NOW + timedelta(minutes=1))
    assert outbox(store) == [edited]


def test_approve_edit_opens_the_editor(store, runner, tmp_path) -> None:
    queue(store, msg(1, PARTLY))
    [draft] = draft_ids(store)
    script = tmp_path / "editor.py"
    script.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                      "p.write_text(p.read_text().replace('Orders ship', 'Parcels ship') + '\\n')\n")
    env = {"EDITOR": f"{sys.executable} {script}", "VISUAL": "", "AUTOPILOT_REVIEW_FORCE_INTERACTIVE": "1"}
    args = ["--db", store.path, "--config", str(config_file(tmp_path)), "approve", str(draft), "--edit"]
    with freeze_time(NOW):
        result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.stderr
    approved = store.scalar("SELECT approved_text FROM drafts")
    assert "Parcels ship" in approved and not approved.endswith("\n")  # the editor's final newline is dropped
    assert audit(store, "approve")[0][2]["edit_distance"] == edit_distance(store.scalar("SELECT text FROM drafts"),
                                                                          approved)[0]


def test_approving_twice_is_refused_with_who_and_when(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)
    approve_one(store, cfg(), FixedClock(NOW), "bob", draft)
    with freeze_time(NOW):
        again = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)), "approve", str(draft)])
    assert again.exit_code == 1
    assert again.stderr.strip() == (f"error: draft {draft} is no longer in review: it was approved by bob at "
                                    f"{to_iso(NOW)}")
    assert store.scalar("SELECT count(*) FROM jobs") == 1


def test_two_processes_approving_one_draft_make_exactly_one_job(store, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)
    config = config_file(tmp_path)
    env = {**os.environ, "AUTOPILOT_HOME": str(tmp_path)}
    cmd = [sys.executable, "-m", "autopilot_cli", "--db", store.path, "--config", str(config), "approve", str(draft),
           "--now", "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    results = [(p.wait(timeout=60), p.stdout.read(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, _, err in results if code == 1)
    assert f"draft {draft} is no longer in review: it was approved by" in loser
    assert "Traceback" not in loser and "locked" not in loser
    assert store.scalar("SELECT count(*) FROM jobs") == 1
    assert len(audit(store, "approve")) == 1


def test_two_connections_racing_in_threads(store, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def worker(name: str) -> None:
        with open_store(store.path, FixedClock(NOW)) as own:
            barrier.wait()
            try:
                approve_one(own, cfg(), FixedClock(NOW), name, draft)
                outcomes.append("ok")
            except ApprovalRefused as exc:
                outcomes.append(exc.code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("ana", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["not_in_review", "ok"]
    assert store.scalar("SELECT count(*) FROM jobs") == 1


def test_approving_after_the_contact_opted_out_is_refused(store) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)
    contact = store.scalar("SELECT contact_id FROM drafts")
    with store.transaction() as conn:  # a provider-reported opt-out does not touch drafts
        record_change(conn, contact_id=contact, action="opt_out", scope="all", category="all", source="provider",
                      rule="test", at=to_iso(NOW))
    with pytest.raises(ApprovalRefused) as caught:
        approve_one(store, cfg(), FixedClock(NOW), "ana", draft)
    assert caught.value.code == "opted_out" and "ana@example.org opted out" in str(caught.value)
    assert store.scalar("SELECT count(*) FROM jobs") == 0


def test_approving_a_draft_cancelled_by_a_stop_message_says_opted_out(store) -> None:
    queue(store, msg(1, "Is this the right charger for my order?", minutes_ago=10))
    [draft] = draft_ids(store)
    queue(store, msg(2, "STOP", minutes_ago=1))
    batch = approve(store, cfg(), FixedClock(NOW), "ana", [draft])
    assert batch.approved == [] and batch.refused[0].code == "opted_out"


def test_approving_after_the_window_closed_is_refused_or_uses_the_template(store) -> None:
    queue(store, msg(1, "Is this the right charger for my order?", channel="whatsapp", sender="+4915123456789"))
    [draft] = draft_ids(store)
    later = FixedClock(NOW + timedelta(hours=25))
    with pytest.raises(ApprovalRefused) as caught:
        approve_one(store, cfg(), later, "ana", draft)
    assert caught.value.code == "window_closed"
    assert "WhatsApp 24-hour window closed at" in str(caught.value) and "window_template" in str(caught.value)
    item = get_item(store, cfg(), later, draft)
    assert item is not None and not item.window_open
    templated = cfg(channels={"whatsapp": {"adapter": "whatsapp", "phone_number_id": "1", "window_template": "reopen"},
                              "email": {"adapter": "outbox"}})
    result = approve_one(store, templated, later, "ana", draft)
    assert result.template == "reopen" and "template 'reopen'" in result.explanation


def test_a_draft_execute_returned_to_review_is_approved_on_its_own_job_row(store) -> None:
    # Auto-scheduled on WhatsApp; the window closes before execute runs: the job is skipped and the
    # draft goes back to review. Approving it (with a window template) re-arms that same job row.
    queue(store, msg(1, "When are you open?", channel="whatsapp", sender="+4915123456789"))
    job_id = store.scalar("SELECT id FROM jobs")
    late = NOW + timedelta(hours=25)
    assert send_due(store, cfg(), late).skipped == 1
    [draft] = draft_ids(store)
    templated = cfg(channels={"whatsapp": {"adapter": "whatsapp", "phone_number_id": "1", "window_template": "hi"},
                              "email": {"adapter": "outbox"}})
    result = approve_one(store, templated, FixedClock(late), "ana", draft, text="We open at 9.")
    assert result.job_id == job_id and result.template == "hi"
    job = store.query("SELECT * FROM jobs")[0]
    assert (job["state"], job["origin"], job["text"], job["error"]) == ("scheduled", "approved", "We open at 9.", None)
    assert store.scalar("SELECT approved_text FROM drafts") == "We open at 9."


def test_a_failing_editor_is_reported_on_screen(store) -> None:
    from autopilot_cli.errors import AutopilotError

    queue(store, msg(1, "Is this the right charger for my order?"))
    buffer = io.StringIO()
    keys = iter(["e", "q"])

    def broken(text: str) -> str:
        raise AutopilotError("Editing failed (set $EDITOR to your editor)")

    ReviewSession(store=store, config=cfg(), clock=FixedClock(NOW), actor="ana", draft_ids=draft_ids(store),
                  console=Console(file=buffer, width=80, color_system=None), read_key=lambda: next(keys),
                  read_line=lambda prompt: None, edit_text=broken).run()
    assert "editor failed: Editing failed" in buffer.getvalue()


def test_linkedin_replies_are_sent_only_through_approval(store) -> None:
    queue(store, msg(1, "Hi, where are you located?", channel="linkedin", sender="urn:li:person:abc"))
    [draft] = draft_ids(store)
    assert store.scalar("SELECT count(*) FROM jobs") == 0
    assert approve_all_ready(store, cfg(), FixedClock(NOW), "ana").approved == []  # never in bulk
    result = approve_one(store, cfg(), FixedClock(NOW), "ana", draft)
    assert result.send_at == to_iso(NOW) and "no scheduled sends" in result.explanation
    assert store.scalar("SELECT origin FROM jobs") == "approved"
    assert send_due(store, cfg(), NOW).sent == 1
    assert len(outbox(store)) == 1


def test_approve_all_ready_takes_only_drafts_that_passed_every_gate(store, runner, tmp_path) -> None:
    config = cfg("one_click")
    queue(
        store,
        msg(1, "When are you open?"),
        msg(2, "Is this the right charger for my order?", sender="bo@example.org"),
        config=config,
    )
    ready = [r[0] for r in store.query("SELECT id FROM drafts WHERE ready = 1")]
    assert len(ready) == 1
    with freeze_time(NOW):
        result = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path, "one_click")),
                                     "approve", "--all-ready", "--json"])
    assert result.exit_code == 0, result.stderr
    assert [a["draft_id"] for a in json.loads(result.output)["approved"]] == ready
    assert len(draft_ids(store)) == 1


def test_partial_batch_exits_6_and_usage_errors_exit_2(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)
    base = ["--db", store.path, "--config", str(config_file(tmp_path))]
    with freeze_time(NOW):
        partial = runner.invoke(app, [*base, "approve", str(draft), "999"])
        assert partial.exit_code == 6 and "error: no draft with id 999" in partial.stderr
        for args in (["approve"], ["approve", "1", "--all-ready"], ["approve", "1", "2", "--text", "x"],
                     ["approve", "1", "--text", "x", "--edit"]):
            bad = runner.invoke(app, [*base, *args])
            assert bad.exit_code == 2, args
            assert len(bad.stderr.strip().splitlines()) == 1


def test_reject_records_the_reason_and_who(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"), msg(2, "I want a refund", sender="bo@example.org"))
    first, second = draft_ids(store)
    with freeze_time(NOW):
        result = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)),
                                     "reject", str(first), str(second), "--reason", "answered by phone", "--json"])
    assert result.exit_code == 0, result.stderr
    assert [r["draft_id"] for r in json.loads(result.output)["rejected"]] == [first, second]
    rows = store.query("SELECT state, reject_reason, decided_by FROM drafts ORDER BY id")
    assert {(r["state"], r["reject_reason"]) for r in rows} == {("rejected", "answered by phone")}
    assert [a[2]["reason"] for a in audit(store, "reject")] == ["answered by phone"] * 2
    assert store.scalar("SELECT count(*) FROM jobs") == 0
    with pytest.raises(ApprovalRefused):
        approve_one(store, cfg(), FixedClock(NOW), "ana", first)


def test_opt_out_from_review_cancels_the_contacts_pending_replies(store) -> None:
    queue(store, msg(1, "When are you open?", minutes_ago=30),
          msg(2, "Is this the right charger for my order?", minutes_ago=5))
    [draft] = draft_ids(store)
    result = opt_out_contact(store, cfg(), FixedClock(NOW), "ana", draft)
    assert (result.recorded, result.cancelled_jobs, result.cancelled_drafts, result.scope) == (True, 1, 1, "all")
    change = store.query("SELECT * FROM consent_changes")[0]
    assert (change["source"], change["rule"]) == ("operator", "operator:ana")
    assert audit(store, "opt_out")[0][1] == str(store.scalar("SELECT contact_id FROM drafts LIMIT 1"))


# --- listing ------------------------------------------------------------------------------------


def test_review_list_json_has_exactly_the_documented_keys(store, runner, tmp_path) -> None:
    queue(
        store,
        msg(
            1, PARTLY, channel="whatsapp", sender="+4915123456789"
        ),
    )
    with freeze_time(NOW):
        result = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)),
                                     "review", "--list", "--json"])
    assert result.exit_code == 0, result.stderr
    [entry] = json.loads(result.output)
    assert list(entry) == list(LIST_KEYS)
    assert entry["channel"] == "whatsapp" and entry["contact"] == "+4915123456789"
    assert entry["reasons"] == ["partly_answered", "low_confidence"] and entry["ready"] is False
    assert entry["window_closes_at"] == to_iso(NOW - timedelta(minutes=5) + timedelta(hours=24))


def test_hostile_text_is_shown_literally(store, runner, tmp_path) -> None:
    queue(store, msg(1, HOSTILE))
    with store.transaction() as conn:
        conn.execute("UPDATE drafts SET text = ?", (HOSTILE,))
    base = ["--db", store.path, "--config", str(config_file(tmp_path))]
    with freeze_time(NOW):
        listing = runner.invoke(app, [*base, "review", "--list"], env={"COLUMNS": "200"})
        screen = runner.invoke(app, [*base, "review"], input="q\n", env=FORCE)
    for result in (listing, screen):
        assert result.exit_code == 0, result.stderr
        out = result.output
        assert "[bold]APPROVED[/]" in out and "[link=http://x]click[/link]" in out
        assert "\x1b" not in out and "\x07" not in out
        assert "⟨U+001B⟩[31mred" in out and "⟨U+0007⟩ end" in out  # escapes shown as code points (issue 12)
    assert screen.output.count("[bold]APPROVED[/]") == 2  # the message and the draft


# --- the interactive screen ---------------------------------------------------------------------


def _screen(runner, store, tmp_path, keys: str, env: dict | None = None, mode: str = "auto"):
    with freeze_time(NOW):
        return runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path, mode)), "review"],
                             input=keys, env={**FORCE, **(env or {})})


def test_review_refuses_without_a_terminal(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    with freeze_time(NOW):
        result = runner.invoke(app, ["--db", store.path, "review"], env={"AUTOPILOT_REVIEW_FORCE_INTERACTIVE": ""})
    assert result.exit_code == 2
    assert result.stderr.strip() == ("error: review is interactive and needs a terminal; use 'autopilot review "
                                     "--list' (add --json for scripts)")


def test_keys_a_approves_and_moves_on(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"), msg(2, "I want a refund", sender="bo@example.org"))
    first, second = draft_ids(store)
    result = _screen(runner, store, tmp_path, "a\nq\n")
    assert result.exit_code == 0, result.stderr
    out = result.output
    assert "review · 1 of 2" in out and "review · 2 of 2" in out
    assert f"approved draft {first}" in out
    assert "approved 1, rejected 0, opted out 0, skipped 0; 1 draft(s) left in review" in out
    assert store.scalar("SELECT state FROM drafts WHERE id = ?", (first,)) == "approved"
    assert store.scalar("SELECT state FROM drafts WHERE id = ?", (second,)) == "review"
    assert store.scalar("SELECT origin FROM jobs") == "approved"


def test_keys_e_then_a_approves_the_edited_text(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    script = tmp_path / "editor.py"
    script.write_text("import sys, pathlib\npathlib.Path(sys.argv[1]).write_text('Hi Ana,\\n\\nYes, it fits.\\n')\n")
    result = _screen(runner, store, tmp_path, "e\na\n", env={"EDITOR": f"{sys.executable} {script}"})
    assert result.exit_code == 0, result.stderr
    assert "EDITED draft" in result.output and "edited (" in result.output
    assert store.scalar("SELECT approved_text FROM drafts") == store.scalar("SELECT text FROM jobs") == \
        "Hi Ana,\n\nYes, it fits."
    assert audit(store, "approve")[0][2]["edit_distance"] > 0


def test_keys_r_asks_a_reason_and_rejects(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    result = _screen(runner, store, tmp_path, "r\nwrong product\n")
    assert result.exit_code == 0, result.stderr
    assert "reason for rejecting" in result.output and "end of the queue" in result.output
    row = store.query("SELECT state, reject_reason FROM drafts")[0]
    assert (row["state"], row["reject_reason"]) == ("rejected", "wrong product")


def test_keys_s_n_p_help_unknown_and_quit(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"), msg(2, "I want a refund", sender="bo@example.org"))
    result = _screen(runner, store, tmp_path, "?\nz\nn\np\np\ns\nq\n")
    assert result.exit_code == 0, result.stderr
    out = result.output
    assert "edit the draft in $VISUAL / $EDITOR, then a approves the edit" in out  # help
    assert "unknown key z" in out
    assert "this is the first draft" in out
    assert out.count("review · 1 of 2") == 3 and out.count("review · 2 of 2") == 2
    assert "skipped 1; 2 draft(s) left in review" in out
    assert store.scalar("SELECT count(*) FROM jobs") == 0


def test_keys_o_opts_the_contact_out_after_confirming(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"), msg(2, "I want a refund", sender="bo@example.org"))
    first, _ = draft_ids(store)
    kept = _screen(runner, store, tmp_path, "o\nn\nq\n")
    assert "opt-out cancelled" in kept.output and store.scalar("SELECT count(*) FROM consent") == 0
    result = _screen(runner, store, tmp_path, "o\ny\nq\n")
    assert result.exit_code == 0, result.stderr
    assert "ana@example.org opted out (all): cancelled 1 draft(s)" in result.output
    assert store.scalar("SELECT state FROM drafts WHERE id = ?", (first,)) == "cancelled"
    assert store.scalar("SELECT state FROM consent") == "opted_out"


def test_a_draft_decided_elsewhere_meanwhile_is_refused_on_screen(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)

    buffer = io.StringIO()
    keys = iter(["a", "q"])
    session = ReviewSession(store=store, config=cfg(), clock=FixedClock(NOW), actor="ana", draft_ids=[draft],
                            console=Console(file=buffer, width=80, color_system=None), read_key=lambda: next(keys),
                            read_line=lambda prompt: None, edit_text=lambda text: text)
    approve_one(store, cfg(), FixedClock(NOW), "bob", draft)  # another terminal, after the queue was read
    session.run()
    assert "already decided: this draft is approved" in buffer.getvalue()
    assert "this draft is no longer in review" in buffer.getvalue()
    assert store.scalar("SELECT count(*) FROM jobs") == 1


def test_screen_fits_80_columns_without_colour(store, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order? " * 8, channel="whatsapp", sender="+4915123456789"))
    buffer = io.StringIO()
    session = ReviewSession(store=store, config=cfg(), clock=FixedClock(NOW), actor="ana", draft_ids=draft_ids(store),
                            console=Console(file=buffer, width=80, color_system=None), read_key=lambda: "q",
                            read_line=lambda prompt: None, edit_text=lambda text: None)
    session.run()
    lines = buffer.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "window: closes in 23 h 55 min" in buffer.getvalue()
    assert "\x1b" not in buffer.getvalue()


def test_end_to_end_under_a_real_pty(store, tmp_path) -> None:
    """The real single-keystroke path: a pseudo-terminal in cbreak mode, keys without Enter, the editor
    and the reject prompt in cooked mode in between, and the terminal restored at the end."""
    now = datetime.now(timezone.utc)
    records = [{"channel": "email", "id": f"pty{i}", "from": f"{name}@x.org", "text": "Is this the right charger?",
                "received_at": to_iso(now - timedelta(minutes=5))} for i, name in enumerate(("a", "b", "c"))]
    queue(store, *records, clock=FixedClock(now))
    first, second, third = draft_ids(store)
    script = tmp_path / "editor.py"
    script.write_text("import sys, pathlib\npathlib.Path(sys.argv[1]).write_text('Yes, the X200 fits.\\n')\n")
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 80, 0, 0))
    before = termios.tcgetattr(slave)
    env = {**os.environ, "AUTOPILOT_HOME": str(tmp_path), "NO_COLOR": "1", "TERM": "xterm", "VISUAL": "",
           "EDITOR": f"{sys.executable} {script}", "AUTOPILOT_REVIEW_FORCE_INTERACTIVE": ""}
    proc = subprocess.Popen([sys.executable, "-m", "autopilot_cli", "--db", store.path, "--config",
                             str(config_file(tmp_path)), "review"], stdin=slave, stdout=slave, stderr=slave, env=env)
    seen = b""

    def wait_for(marker: bytes, timeout: float = 30.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while marker not in seen:
            assert time.monotonic() < deadline, seen.decode(errors="replace")
            if select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 65536)

    try:
        wait_for(b"1 of 3")
        wait_for(b"q quit")
        os.write(master, b"e")
        wait_for(b"EDITED draft")
        os.write(master, b"a")
        wait_for(b"2 of 3")
        os.write(master, b"r")
        wait_for(b"reason for rejecting")
        os.write(master, b"wrong shop\n")
        wait_for(b"3 of 3")
        os.write(master, b"q")
        wait_for(b"left in review")
        proc.wait(timeout=30)
        after = termios.tcgetattr(slave)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, seen.decode(errors="replace")
    assert after == before  # cbreak mode undone
    assert b"approved 1, rejected 1, opted out 0, skipped 0; 1 draft(s) left in review" in seen
    assert b"wrong shop" in seen  # the reason was echoed while typed (cooked mode)
    rows = {r["id"]: r for r in store.query("SELECT * FROM drafts")}
    assert (rows[first]["state"], rows[first]["approved_text"]) == ("approved", "Yes, the X200 fits.")
    assert (rows[second]["state"], rows[second]["reject_reason"]) == ("rejected", "wrong shop")
    assert rows[third]["state"] == "review"
    assert store.scalar("SELECT text FROM jobs") == "Yes, the X200 fits."


def test_explain_follows_an_approval_to_its_job(tmp_path) -> None:
    from autopilot_cli.clock import FixedClock
    from autopilot_cli.db.migrations import open_store
    from autopilot_cli.decide import explain_event
    from autopilot_cli.review import approve_one

    from .conftest import NOW
    from .test_process import cfg, ingest, msg, run

    with open_store(tmp_path / "x.db", FixedClock(NOW)) as store:
        ingest(store, msg(1, "When are you open?"))
        decision = run(store, cfg(autopilot={"mode": "one_click"})).decisions[0]
        approved = approve_one(store, cfg(autopilot={"mode": "one_click"}), FixedClock(NOW), "ana", decision.draft_id)
        result = explain_event(store, decision.event_id)
        assert result.job_id == approved.job_id and result.job_state == "scheduled"


# --- issue 12: invisible characters, long text, what was sent, empty filters, Ctrl-C -----------------

SPOOF = "Is this the right charger?\u202e\u200b\nID\u2066 \u2028outcome: auto_scheduled\ufeff"
RAW_INVISIBLE = ("\u202e", "\u200b", "\u2066", "\u2028", "\ufeff")


def _cli(runner, store, tmp_path, *args, env=None):
    with freeze_time(NOW):
        return runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)), *args], env=env)


def test_explain_shows_invisible_characters_and_cannot_be_spoofed_by_a_newline(store, runner, tmp_path) -> None:
    report = queue(store, msg(1, SPOOF))
    event_id = report.decisions[0].event_id
    result = _cli(runner, store, tmp_path, "explain", str(event_id))
    assert result.exit_code == 0, result.stderr
    out = result.output
    assert not any(ch in out for ch in RAW_INVISIBLE)
    assert "⟨U+202E⟩⟨U+200B⟩" in out and "⟨U+2066⟩" in out and "⟨U+2028⟩" in out and "⟨U+FEFF⟩" in out
    # Only our own outcome line starts a line with "outcome:"; the message's is inside the panel.
    starts = [line for line in out.splitlines() if line.lstrip().startswith("outcome:")]
    assert starts == [next(line for line in out.splitlines() if line.startswith("outcome: review_queue"))]
    assert any(line.startswith("│") and "outcome: auto_scheduled" in line for line in out.splitlines())


def test_review_list_shows_invisible_characters_and_newlines_visibly(store, runner, tmp_path) -> None:
    queue(store, msg(1, SPOOF))
    listing = _cli(runner, store, tmp_path, "review", "--list")
    assert listing.exit_code == 0, listing.stderr
    assert not any(ch in listing.output for ch in RAW_INVISIBLE)
    assert "⟨U+202E⟩⟨U+200B⟩⏎ID⟨U+2066⟩ ⟨U+2028⟩outcome: auto_scheduled⟨U+FEFF⟩" in listing.output
    assert not any(line.startswith("outcome:") for line in listing.output.splitlines())
    screen = _cli(runner, store, tmp_path, "review", env=FORCE)
    assert screen.exit_code == 0 and "⟨U+202E⟩⟨U+200B⟩" in screen.output
    assert not any(ch in screen.output for ch in RAW_INVISIBLE)
    as_json = _cli(runner, store, tmp_path, "review", "--list", "--json")
    assert not any(ch in as_json.output for ch in RAW_INVISIBLE)  # escaped as \u202e…, the data unchanged
    assert json.loads(as_json.output)[0]["inbound_text"] == SPOOF


def test_a_900_kb_message_shows_its_start_and_how_much_more(store, runner, tmp_path) -> None:
    text = "Is this the right charger? " + "spam line\n" * 92_000  # 920,027 characters
    report = queue(store, msg(1, text), config=cfg(ingest={"max_message_bytes": 2_000_000}))
    event_id = report.decisions[0].event_id
    explained = _cli(runner, store, tmp_path, "explain", str(event_id))
    screen = _cli(runner, store, tmp_path, "review", env=FORCE)
    listing = _cli(runner, store, tmp_path, "review", "--list")
    for result in (explained, screen, listing):
        assert result.exit_code == 0, result.stderr
        assert len(result.output.splitlines()) < 120
        assert len(result.output) < 20_000
    fortieth_newline = [i for i, ch in enumerate(text[:2000]) if ch == "\n"][39]  # 40 lines are shown
    assert f"… {len(text) - fortieth_newline:,} more characters" in explained.output
    assert "more characters" in screen.output and "more characters" in listing.output


def test_explain_shows_the_approved_and_the_sent_text(store, runner, tmp_path) -> None:
    report = queue(store, msg(1, "Is this the right charger for my order?"))
    event_id = report.decisions[0].event_id
    [draft] = draft_ids(store)
    approved = _cli(runner, store, tmp_path, "approve", str(draft), "--text", "Yes, the X200 fits.", "--now")
    assert approved.exit_code == 0, approved.stderr
    assert send_due(store, cfg(), NOW).sent == 1
    job = store.query("SELECT * FROM jobs")[0]
    result = _cli(runner, store, tmp_path, "explain", str(event_id))
    assert result.exit_code == 0, result.stderr
    out = result.output
    assert "approved text, edited by" in out and "sent text (the approved text)" in out
    assert out.count("Yes, the X200 fits.") == 2  # approved and sent, besides the original draft
    assert f"job {job['id']}: sent" in out and f"provider id {job['provider_message_id']}" in out
    data = json.loads(_cli(runner, store, tmp_path, "explain", str(event_id), "--json").output)
    assert data["approved_text"] == data["sent_text"] == "Yes, the X200 fits." != data["draft_text"]
    assert data["provider_message_id"] == job["provider_message_id"] and data["sent_at"] == job["sent_at"]
    assert data["approved_by"] and data["approved_at"] == to_iso(NOW)


def test_explain_without_edits_shows_no_approved_or_sent_panel(store, runner, tmp_path) -> None:
    report = queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)
    approve_one(store, cfg(), FixedClock(NOW), "ana", draft, now=True)
    assert send_due(store, cfg(), NOW).sent == 1
    out = _cli(runner, store, tmp_path, "explain", str(report.decisions[0].event_id)).output
    assert "approved text" not in out and "sent text" not in out and ": sent, sent " in out


def test_explain_json_refusal_is_a_json_error_object(store, runner, tmp_path) -> None:
    result = _cli(runner, store, tmp_path, "explain", "999", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"error": {"code": "not_found", "message": "no event with id 999",
                                                   "exit_code": 1}}
    assert result.stderr.strip() == "error: no event with id 999"
    human = _cli(runner, store, tmp_path, "explain", "999")
    assert human.exit_code == 1 and human.stdout == ""


def test_review_list_says_when_a_filter_hides_the_drafts_and_previews_them(store, runner, tmp_path) -> None:
    empty = _cli(runner, store, tmp_path, "review", "--list")
    assert empty.output.strip() == "nothing to review: the queue is empty"
    queue(store, msg(1, "Is this the right charger for my order?"), msg(2, "I want a refund", sender="bo@example.org"))
    hidden = _cli(runner, store, tmp_path, "review", "--list", "--channel", "whatsapp")
    assert hidden.exit_code == 0 and hidden.output.strip() == "no draft matches the filter (2 in review)"
    screen = _cli(runner, store, tmp_path, "review", "--channel", "whatsapp", env=FORCE)
    assert screen.exit_code == 0 and screen.output.strip() == "no draft matches the filter (2 in review)"
    some = _cli(runner, store, tmp_path, "review", "--list", "--reason", "compliance")
    draft = store.query("SELECT d.text FROM drafts d JOIN events e ON e.id = d.event_id WHERE e.sender = ?",
                        ("bo@example.org",))[0]["text"]
    assert "↳ " + draft.replace("\n", "⏎")[:40] in some.output
    assert "1 draft(s) of 2 in review" in some.output


def test_ctrl_c_in_the_interactive_review_exits_130_with_one_line(store, tmp_path) -> None:
    now = datetime.now(timezone.utc)
    queue(store, *[{"channel": "email", "id": f"c{i}", "from": f"{n}@x.org", "text": "Is this the right charger?",
                    "received_at": to_iso(now - timedelta(minutes=5))} for i, n in enumerate("ab")],
          clock=FixedClock(now))
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 80, 0, 0))
    env = {**os.environ, "AUTOPILOT_HOME": str(tmp_path), "NO_COLOR": "1", "TERM": "xterm",
           "AUTOPILOT_REVIEW_FORCE_INTERACTIVE": ""}
    proc = subprocess.Popen([sys.executable, "-m", "autopilot_cli", "--db", store.path, "--config",
                             str(config_file(tmp_path)), "review"], stdin=slave, stdout=slave, stderr=slave, env=env,
                            # The pty is the child's controlling terminal, so Ctrl-C there is its SIGINT.
                            start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    seen = b""

    def read_until(done, timeout: float = 30.0) -> None:
        nonlocal seen
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, seen.decode(errors="replace")
            if select.select([master], [], [], 0.1)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    return

    try:
        read_until(lambda: b"q quit" in seen)
        os.write(master, b"a")  # one decision, then Ctrl-C
        read_until(lambda: seen.count(b"q quit") >= 2)
        before = len(seen)
        os.write(master, b"\x03")
        read_until(lambda: proc.poll() is not None and not select.select([master], [], [], 0.2)[0])
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 130, seen.decode(errors="replace")
    tail = seen[before:].decode(errors="replace").strip().splitlines()
    assert tail == ["error: interrupted: approved 1, rejected 0, opted out 0, skipped 0; 1 draft(s) left in review"]
    assert b"Traceback" not in seen


# -- do-not-disturb: --now never overrides it; --override-dnd does, on the record (issue 12 item 5) ----------------


def _with_dnd(store, until: datetime) -> int:
    queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)
    store.conn.execute("UPDATE contacts SET dnd_until = ?", (to_iso(until),))
    return draft


def test_approve_now_still_waits_for_the_contacts_do_not_disturb(store, runner, tmp_path) -> None:
    dnd = NOW + timedelta(days=2)
    draft = _with_dnd(store, dnd)
    with freeze_time(NOW):
        result = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)),
                                     "approve", str(draft), "--now", "--json"])
    assert result.exit_code == 0, result.output
    [approved] = json.loads(result.stdout)["approved"]
    assert approved["send_at"] == to_iso(dnd) and "do-not-disturb" in approved["explanation"]
    assert "--override-dnd" in approved["explanation"]
    assert send_due(store, cfg(), NOW + timedelta(minutes=1)).sent == 0
    assert send_due(store, cfg(), dnd + timedelta(seconds=1)).sent == 1
    assert audit(store, "approve")[0][2]["override_dnd"] is False


def test_override_dnd_sends_inside_it_and_is_audited(store, runner, tmp_path) -> None:
    draft = _with_dnd(store, NOW + timedelta(days=2))
    with freeze_time(NOW):
        result = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)),
                                     "approve", str(draft), "--now", "--override-dnd", "--json"])
    assert result.exit_code == 0, result.output
    [approved] = json.loads(result.stdout)["approved"]
    assert approved["send_at"] == to_iso(NOW) and "--override-dnd" in approved["explanation"]
    assert audit(store, "approve")[0][2]["override_dnd"] is True
    assert send_due(store, cfg(), NOW + timedelta(minutes=1)).sent == 1


def test_a_refusal_caused_by_dnd_recommends_override_dnd_not_now(store) -> None:
    draft = _with_dnd(store, NOW + timedelta(days=30))  # beyond the planner's 7-day horizon
    with pytest.raises(ApprovalRefused) as refused:
        approve_one(store, cfg(), FixedClock(NOW), "ana", draft)
    assert refused.value.code == "no_send_time"
    assert "--override-dnd" in str(refused.value) and "--now" not in str(refused.value)
    planned = approve_one(store, cfg(), FixedClock(NOW), "ana", draft, override_dnd=True)
    assert from_iso(planned.send_at) < NOW + timedelta(days=7) and "overridden" in planned.explanation


def test_override_dnd_is_refused_with_all_ready(store, runner) -> None:
    result = runner.invoke(app, ["--db", store.path, "approve", "--all-ready", "--override-dnd"])
    assert result.exit_code == 2 and "--override-dnd" in result.output


def test_approve_edit_without_a_terminal_refuses_and_opens_no_editor(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)
    marker = tmp_path / "editor-ran"
    script = tmp_path / "editor.py"
    script.write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n")
    result = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)), "approve", str(draft),
                                 "--edit"], env={"EDITOR": f"{sys.executable} {script}", "VISUAL": ""})
    assert result.exit_code == 2 and "needs a terminal" in result.stderr and "--text" in result.stderr
    assert not marker.exists() and store.scalar("SELECT state FROM drafts") == "review"


def test_approve_text_turns_backslash_n_into_new_lines_as_ab_create_does(store, runner, tmp_path) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)
    with freeze_time(NOW):
        result = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)), "approve", str(draft),
                                     "--text", "Hi Ana,\\n\\nYes, it fits.\\n\\nThe team"])
    assert result.exit_code == 0, result.output
    assert store.scalar("SELECT approved_text FROM drafts") == "Hi Ana,\n\nYes, it fits.\n\nThe team"


@pytest.mark.parametrize("text", ["Hi {first_name}, yes it fits.", "Hi {{ name }}, yes.", "Yes. [YOUR NAME]"])
def test_approve_text_with_an_unfilled_placeholder_is_refused(store, runner, tmp_path, text) -> None:
    queue(store, msg(1, "Is this the right charger for my order?"))
    [draft] = draft_ids(store)
    result = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)), "approve", str(draft),
                                 "--text", text])
    assert result.exit_code == 1 and "unfilled placeholders" in result.stderr
    assert store.scalar("SELECT state FROM drafts") == "review" and store.scalar("SELECT count(*) FROM jobs") == 0
