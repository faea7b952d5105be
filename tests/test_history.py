"""Issue 12 item 12: `history` shows the conversation as the customer saw it, newest last."""

from __future__ import annotations

import json
from datetime import timedelta

from freezegun import freeze_time

from autopilot_cli.cli import app
from autopilot_cli.clock import FixedClock, from_iso, to_iso
from autopilot_cli.contacts import conversation
from autopilot_cli.contacts._history import ENTRY_KEYS

from .conftest import NOW
from .test_review import cfg, config_file, msg, queue, send_due

PHONE = "+4915123456789"


def _conversation_with_a_sent_reply_and_an_opt_out(store):
    """Ana asks (auto-answered and sent), Bo asks, then Ana sends STOP (and gets the one confirmation)."""
    first = queue(store, msg(1, "When are you open?", channel="whatsapp", sender=PHONE, minutes_ago=120),
                  msg(2, "Is this the right charger for my order?", sender="bo@example.org", minutes_ago=100))
    job = store.query("SELECT * FROM jobs")[0]
    assert first.decisions[0].outcome == "auto_scheduled"
    send_at = from_iso(job["send_at"])
    assert send_due(store, cfg(), send_at).sent == 1
    later = send_at + timedelta(minutes=30)
    queue(store, {"channel": "whatsapp", "id": "r3", "from": PHONE, "text": "STOP", "received_at": to_iso(later)},
          clock=FixedClock(later + timedelta(minutes=1)))
    return store.query("SELECT * FROM jobs WHERE id = ?", (job["id"],))[0], later


def test_history_of_a_contact_shows_inbound_outbound_and_opt_outs_newest_last(store, runner, tmp_path) -> None:
    job, stop_at = _conversation_with_a_sent_reply_and_an_opt_out(store)
    result = conversation(store, FixedClock(NOW), PHONE)
    kinds = [(e.kind, e.text, e.state) for e in result.entries]
    assert kinds[:4] == [
        ("inbound", "When are you open?", "auto_scheduled"),
        ("outbound", job["text"], "sent"),
        ("inbound", "STOP", "opted_out"),
        ("opt_out", None, "all"),
    ]
    assert [e.at for e in result.entries] == sorted(e.at for e in result.entries)  # newest last
    sent = result.entries[1]
    assert sent.provider_message_id == job["provider_message_id"] and sent.provider_message_id
    assert sent.at == job["sent_at"] and sent.job_id == job["id"]
    assert result.entries[3].reason == "keyword:STOP — en"
    assert all(e.contact_id == result.contact_id for e in result.entries)
    assert "bo@example.org" not in {e.address for e in result.entries}
    # The contact by #ID gives the same; everyone's history has Bo too.
    assert conversation(store, FixedClock(NOW), f"#{result.contact_id}").entries == result.entries
    everyone = conversation(store, FixedClock(NOW))
    assert "bo@example.org" in {e.address for e in everyone.entries} and everyone.total == len(everyone.entries)

    with freeze_time(stop_at + timedelta(hours=1)):
        human = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)), "history", PHONE])
        as_json = runner.invoke(app, ["--db", store.path, "--config", str(config_file(tmp_path)), "history",
                                      PHONE, "--since", "65m", "--json"])
    assert human.exit_code == 0, human.stderr
    lines = human.output.splitlines()
    assert lines[0].endswith(f"← whatsapp from {PHONE} (event 1, r1, auto_scheduled)")
    assert lines[1] == "    When are you open?"
    assert f"→ whatsapp to {PHONE} · sent · provider id {job['provider_message_id']} (job {job['id']})" in lines[2]
    assert lines[-1].endswith(f"✖ contact #{result.contact_id} opted out (all channels): keyword:STOP — en")
    data = json.loads(as_json.output)
    assert set(data) == {"contact_id", "since", "total", "entries"}
    assert data["since"] == to_iso(stop_at - timedelta(minutes=5))
    assert [e["kind"] for e in data["entries"]][:2] == ["inbound", "opt_out"]  # only from STOP on
    assert all(list(e) == list(ENTRY_KEYS) for e in data["entries"])


def test_history_shows_a_waiting_reply_at_its_planned_time_and_the_limit(store) -> None:
    queue(store, *[msg(i, "When are you open?", sender=f"c{i}@example.org", minutes_ago=60 - i) for i in range(5)])
    result = conversation(store, FixedClock(NOW), limit=3)
    assert result.total == 10 and len(result.entries) == 3
    scheduled = [e for e in result.entries if e.kind == "outbound"]
    assert scheduled and all(e.state == "scheduled" and e.at > to_iso(NOW) for e in scheduled)
    assert result.entries[-1].at == max(r[0] for r in store.query("SELECT send_at FROM jobs"))


def test_history_refusals(store, runner, tmp_path) -> None:
    queue(store, msg(1, "When are you open?"))
    base = ["--db", store.path, "--config", str(config_file(tmp_path)), "history"]
    unknown = runner.invoke(app, [*base, "nobody@example.org", "--json"])
    assert unknown.exit_code == 1 and unknown.stderr.startswith("error: no contact with address")
    assert json.loads(unknown.stdout)["error"]["code"] == "not_found"
    bad = runner.invoke(app, [*base, "--since", "last tuesday"])
    assert bad.exit_code == 2 and "neither an age" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    with freeze_time(NOW):
        none = runner.invoke(app, [*base, "--since", "2030-01-01"])
    assert none.exit_code == 0 and none.output.strip() == "no messages since 2030-01-01 00:00"
