"""Issue 12 item 13: consent in `contacts show` and `contacts list`; `contacts opt-out` / `opt-in`."""

from __future__ import annotations

import json

import pytest
from freezegun import freeze_time

from autopilot_cli.cli import app
from autopilot_cli.clock import FixedClock, to_iso
from autopilot_cli.contacts import opt_in, opt_out
from autopilot_cli.contacts._consent_list import LIST_KEYS
from autopilot_cli.review import opt_out_contact

from .conftest import NOW
from .test_review import audit, cfg, config_file, msg, queue

PHONE = "+4915123456789"


def _cli(runner, store, tmp_path, *args):
    with freeze_time(NOW):
        return runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)), *args])


def _pending(store):
    """Ana: one reply scheduled (auto) and one draft in review; Bo: one draft in review."""
    queue(store, msg(1, "When are you open?", channel="whatsapp", sender=PHONE, minutes_ago=30),
          msg(2, "Is this the right charger for my order?", channel="whatsapp", sender=PHONE, minutes_ago=5),
          msg(3, "Is this the right charger for my order?", sender="bo@example.org"))
    assert [r[0] for r in store.query("SELECT state FROM jobs")] == ["scheduled"]
    assert draft_states(store) == ["scheduled", "review", "review"]


def draft_states(store):
    return [r[0] for r in store.query("SELECT state FROM drafts ORDER BY id")]


@pytest.mark.sqlite_only  # VACUUM INTO: a twin of the SQLite file
def test_opt_out_cancels_pending_sends_exactly_as_the_review_screen_does(store, tmp_path) -> None:
    _pending(store)
    # The same contact state twice: once through `contacts opt-out`, once through the review screen's `o`.
    twin = tmp_path / "twin.db"
    store.conn.execute(f"VACUUM INTO '{twin}'")
    from autopilot_cli.db.migrations import open_store

    with open_store(twin, FixedClock(NOW)) as other:
        ana_draft = other.scalar("SELECT d.id FROM drafts d JOIN events e ON e.id = d.event_id "
                                 "WHERE e.sender = ? AND d.state = 'review'", (PHONE,))
        by_screen = opt_out_contact(other, cfg(), FixedClock(NOW), "ana", ana_draft, note="asked on the phone")
        screen_jobs = other.query("SELECT id, state, error FROM jobs ORDER BY id")
        screen_drafts = other.query("SELECT id, state FROM drafts ORDER BY id")
    change = opt_out(store, FixedClock(NOW), "ana", PHONE, "asked on the phone")
    assert (change.recorded, change.cancelled_jobs, change.cancelled_drafts) == (True, 1, 1)
    assert (by_screen.cancelled_jobs, by_screen.cancelled_drafts) == (1, 1)
    assert [tuple(r) for r in store.query("SELECT id, state, error FROM jobs ORDER BY id")] == \
        [tuple(r) for r in screen_jobs]
    assert [tuple(r) for r in store.query("SELECT id, state FROM drafts ORDER BY id")] == \
        [tuple(r) for r in screen_drafts]
    assert draft_states(store) == ["scheduled", "cancelled", "review"]  # Bo's draft stays
    row = store.query("SELECT * FROM consent_changes")[0]
    assert (row["action"], row["scope"], row["source"], row["rule"], row["detail"], row["at"]) == \
        ("opt_out", "all", "operator", "operator:ana", "asked on the phone", to_iso(NOW))
    [(actor, object_id, detail)] = audit(store, "opt_out")
    assert actor == "ana" and object_id == str(change.contact_id)
    assert detail["reason"] == "asked on the phone" and detail["cancelled_jobs"] == 1
    again = opt_out(store, FixedClock(NOW), "ana", PHONE, "again")
    assert (again.recorded, again.cancelled_jobs) == (False, 0)
    assert store.scalar("SELECT count(*) FROM consent_changes") == 1


def test_opt_out_on_one_channel_and_opt_in(store) -> None:
    _pending(store)
    change = opt_out(store, FixedClock(NOW), "ana", PHONE, "no WhatsApp please", channel="whatsapp")
    assert change.scopes == ["whatsapp"] and change.cancelled_jobs == 1
    back = opt_in(store, FixedClock(NOW), "ana", PHONE, "wrote to say yes again")
    assert back.scopes == ["whatsapp"] and back.recorded and back.still_opted_out == []
    assert [(e.scope, e.state) for e in back.consent] == [("whatsapp", "opted_in")]
    assert opt_in(store, FixedClock(NOW), "ana", PHONE, "twice").recorded is False
    # An opt-out on all channels is not ended by an opt-in on one.
    opt_out(store, FixedClock(NOW), "ana", PHONE, "stop everything")
    partial = opt_in(store, FixedClock(NOW), "ana", PHONE, "whatsapp only", channel="whatsapp")
    assert partial.recorded is False and partial.still_opted_out == ["all"]
    assert [a[2]["scopes"] for a in audit(store, "opt_in")] == [["whatsapp"], [], []]


def test_contacts_show_and_list_give_the_consent_state(store, runner, tmp_path) -> None:
    _pending(store)
    before = json.loads(_cli(runner, store, tmp_path, "contacts", "show", PHONE, "--json").output)
    assert (before["opted_out"], before["opted_out_since"], before["consent"]) == (False, None, [])
    queue(store, {"channel": "whatsapp", "id": "s1", "from": PHONE, "text": "STOP", "received_at": to_iso(NOW)})
    shown = _cli(runner, store, tmp_path, "contacts", "show", PHONE, "--json")
    data = json.loads(shown.output)
    assert data["opted_out"] is True and data["opted_out_since"] == to_iso(NOW)
    [entry] = data["consent"]
    assert (entry["scope"], entry["state"], entry["source"], entry["rule"], entry["reason"]) == \
        ("all", "opted_out", "keyword", "keyword:STOP", "en")
    assert entry["event_id"] == store.scalar("SELECT id FROM events WHERE external_id = 's1'")
    human = _cli(runner, store, tmp_path, "contacts", "show", PHONE).output
    assert "opted out" in human and "yes, since 2026-11-25 12:00 UTC" in human
    assert "opted out since 2026-11-25 12:00 UTC — keyword:STOP, en, message event" in human

    listing = _cli(runner, store, tmp_path, "contacts", "list", "--json")
    assert listing.exit_code == 0, listing.stderr
    contacts = json.loads(listing.output)
    assert contacts["total"] == 2 and all(list(c) == list(LIST_KEYS) for c in contacts["contacts"])
    assert [(c["addresses"][0]["address"], c["opted_out"]) for c in contacts["contacts"]] == [
        (PHONE, True), ("bo@example.org", False)]
    only_out = json.loads(_cli(runner, store, tmp_path, "contacts", "list", "--opted-out", "--json").output)
    assert [c["addresses"][0]["address"] for c in only_out["contacts"]] == [PHONE]
    table = _cli(runner, store, tmp_path, "contacts", "list").output
    assert "opted out since 2026-11-25 12:00 UTC" in table and "not opted out" in table


def test_opt_out_and_opt_in_commands(store, runner, tmp_path) -> None:
    _pending(store)
    out = _cli(runner, store, tmp_path, "contacts", "opt-out", PHONE, "--reason", "asked on the phone")
    assert out.exit_code == 0, out.stderr
    assert out.output.strip() == "contact #1 opted out on all channels: cancelled 1 draft(s) and 1 job(s)"
    assert "reason: asked on the phone" in _cli(runner, store, tmp_path, "contacts", "show", "#1").output
    back = _cli(runner, store, tmp_path, "contacts", "opt-in", "#1", "--reason", "called back", "--json")
    assert back.exit_code == 0 and json.loads(back.output)["scopes"] == ["all"]
    assert json.loads(_cli(runner, store, tmp_path, "contacts", "show", "#1", "--json").output)["opted_out"] is False


@pytest.mark.parametrize("args, code, message", [
    (["contacts", "opt-out", PHONE], 2, "Missing option '--reason'"),
    (["contacts", "opt-out", PHONE, "--reason", "  "], 2, "give a reason"),
    (["contacts", "opt-in", PHONE, "--reason", "x", "--channel", "sms"], 2, "unknown channel 'sms'"),
    (["contacts", "opt-out", "nobody@example.org", "--reason", "x"], 1, "no contact with address"),
    (["contacts", "opt-out", "nobody@example.org", "--reason", "x", "--json"], 1, "no contact with address"),
    (["contacts", "show", "nobody@example.org", "--json"], 1, "no contact with address"),
])
def test_opt_out_refusals_are_one_line(store, runner, tmp_path, args, code, message) -> None:
    _pending(store)
    result = _cli(runner, store, tmp_path, *args)
    assert result.exit_code == code
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert store.scalar("SELECT count(*) FROM consent_changes") == 0
    if "--json" in args:
        assert json.loads(result.stdout)["error"] == {"code": "not_found", "message": result.stderr[7:].strip(),
                                                      "exit_code": 1}


def test_contacts_and_history_show_invisible_characters_visibly(store, runner, tmp_path) -> None:
    name = "Ana\u202e\u200b\nblocked: no"
    queue(store, msg(1, "When are you open?\u2066\noutcome: auto_scheduled", sender=PHONE, channel="whatsapp",
                     name=name))
    opt_out(store, FixedClock(NOW), "ana", PHONE, "asked\u202e on the phone\nreason: none")
    for args in (["contacts", "show", PHONE], ["contacts", "list"], ["history", PHONE]):
        result = _cli(runner, store, tmp_path, *args)
        assert result.exit_code == 0, result.stderr
        assert not any(ch in result.output for ch in "\u202e\u200b\u2066"), args
        assert "⟨U+202E⟩" in result.output, args
        assert not any(line.lstrip("│ ").startswith(("blocked: no", "outcome:", "reason: none"))
                       for line in result.output.splitlines()), args
