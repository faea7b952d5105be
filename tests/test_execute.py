from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from autopilot_cli.channels import Outcome, Outgoing, Registry, SendResult
from autopilot_cli.channels._base import Capabilities
from autopilot_cli.cli import app
from autopilot_cli.clock import FixedClock, to_iso
from autopilot_cli.config import config_from_dict
from autopilot_cli.decide import process_events
from autopilot_cli.decide._process import Services
from autopilot_cli.drafting import KnowledgeIndex, OfflineDrafter
from autopilot_cli.inbound import ingest_bytes
from autopilot_cli.review import reconcile, retry
from autopilot_cli.secrets import Secrets
from autopilot_cli.sending import execute_jobs

from .conftest import NOW
from .helpers import outbox_config

KNOWLEDGE = Path(__file__).parent.parent / "autopilot_cli" / "templates" / "knowledge.toml"


class ScriptedAdapter:
    """A stand-in for a provider: answers from a script and records every send."""

    name = "scripted"

    def __init__(self, script: list[SendResult] | None = None, idempotent: bool = False, window: int | None = None,
                 human_only: bool = False) -> None:
        self.script = list(script or [])
        self.sent: list[Outgoing] = []
        self.capabilities = Capabilities(text_limit=4096, idempotency_key=idempotent, window_hours=window,
                                         human_approved_only=human_only, default_rate_per_second=1000)

    async def send(self, message: Outgoing) -> SendResult:
        self.sent.append(message)
        if self.script:
            return self.script.pop(0)
        return SendResult(Outcome.SENT, provider_message_id=f"prov-{len(self.sent)}")

    async def aclose(self) -> None:
        return None

    def health(self) -> dict:
        return {"ready": True}


class FixedRegistry(Registry):
    def __init__(self, adapters: dict) -> None:
        self._adapters = adapters

    async def aclose(self) -> None:
        return None


def cfg(**sections):
    return outbox_config(**sections)


def schedule(store, *texts, channel="email", sender="ana@example.org", config=None, minutes_ago=5):
    """Real ingest + process: returns the ids of the jobs scheduled."""
    config = config or cfg()
    lines = [json.dumps({"channel": channel, "id": f"{channel}-{sender}-{i}", "from": sender, "text": t,
                         "received_at": to_iso(NOW - timedelta(minutes=minutes_ago))}) for i, t in enumerate(texts)]
    ingest_bytes(store, ("\n".join(lines) + "\n").encode(), fmt="jsonl", config=config, clock=FixedClock(NOW),
                 secrets=Secrets({}))
    report = process_events(store, config, FixedClock(NOW),
                            Services(drafter=OfflineDrafter(), index=KnowledgeIndex.from_file(KNOWLEDGE)))
    return [d.job_id for d in report.decisions if d.job_id]


def run(store, adapters: dict, config=None, at=None, **kw):
    config = config or cfg()
    return execute_jobs(store, config, FixedClock(at or NOW + timedelta(minutes=2)), FixedRegistry(adapters), **kw)


def state(store, job_id):
    return store.scalar("SELECT state FROM jobs WHERE id = ?", (job_id,))


def test_a_due_job_is_sent_once(store) -> None:
    [job] = schedule(store, "When are you open?")
    adapter = ScriptedAdapter()
    report = run(store, {"email": adapter})
    assert (report.sent, len(adapter.sent)) == (1, 1)
    assert adapter.sent[0].text == store.scalar("SELECT approved_text FROM drafts")
    assert adapter.sent[0].reply_to_id == "email-ana@example.org-0"
    assert adapter.sent[0].message_id and adapter.sent[0].message_id.startswith("<")
    row = store.query("SELECT * FROM jobs WHERE id = ?", (job,))[0]
    assert (row["state"], row["provider_message_id"], row["attempts"]) == ("sent", "prov-1", 1)
    assert run(store, {"email": adapter}).sent == 0
    assert len(adapter.sent) == 1


def test_not_due_yet_is_left_alone(store) -> None:
    schedule(store, "When are you open?", minutes_ago=0)  # send_at = now + 60 s
    adapter = ScriptedAdapter()
    assert run(store, {"email": adapter}, at=NOW + timedelta(seconds=30)).sent == 0
    send_at = store.scalar("SELECT send_at FROM jobs")
    assert run(store, {"email": adapter}, at=datetime.fromisoformat(send_at.replace("Z", "+00:00"))).sent == 1


def test_opt_out_after_scheduling_skips_the_send(store) -> None:
    [job] = schedule(store, "When are you open?")
    with store.transaction() as conn:
        conn.execute("INSERT INTO consent (contact_id, scope, category, state, updated_at) "
                     "SELECT contact_id, 'all', 'all', 'opted_out', 'x' FROM jobs WHERE id = ?", (job,))
    adapter = ScriptedAdapter()
    report = run(store, {"email": adapter})
    assert report.skipped == 1 and adapter.sent == []
    assert state(store, job) == "skipped"


@pytest.mark.parametrize("tamper", ["job_text", "approved_text"])
def test_only_the_approved_text_is_ever_sent(store, tamper) -> None:
    [job] = schedule(store, "When are you open?")
    with store.transaction() as conn:
        if tamper == "job_text":
            conn.execute("UPDATE jobs SET text = text || ' P.S. buy now' WHERE id = ?", (job,))
        else:
            conn.execute("UPDATE drafts SET approved_text = 'something else'")
    adapter = ScriptedAdapter()
    report = run(store, {"email": adapter})
    assert report.failed == 1 and adapter.sent == []
    assert "differs from the approved text" in report.jobs[0].error


def test_retryable_errors_back_off_then_fail(store) -> None:
    [job] = schedule(store, "When are you open?")
    errors = [SendResult(Outcome.RETRYABLE, error_code="503", error="unavailable", retry_after=120)] * 3
    adapter = ScriptedAdapter(errors)
    config = cfg(execute={"max_attempts": 3, "backoff_seconds": 10})
    first = run(store, {"email": adapter}, config)
    assert first.retried == 1 and state(store, job) == "retry_wait"
    send_at = store.scalar("SELECT send_at FROM jobs WHERE id = ?", (job,))
    assert send_at >= to_iso(NOW + timedelta(minutes=4))  # Retry-After 120 s honoured over the 10 s backoff
    run(store, {"email": adapter}, config, at=NOW + timedelta(minutes=10))
    last = run(store, {"email": adapter}, config, at=NOW + timedelta(hours=1))
    assert last.failed == 1 and state(store, job) == "failed"
    assert len(adapter.sent) == 3
    assert "gave up after 3 attempts" in last.jobs[0].error
    changes = retry(store, FixedClock(NOW), "tester", None)
    assert [c.job_id for c in changes] == [job]
    assert run(store, {"email": ScriptedAdapter()}, config, at=NOW + timedelta(hours=2)).sent == 1


def test_permanent_error_fails_at_once_with_the_provider_code(store) -> None:
    [job] = schedule(store, "When are you open?")
    adapter = ScriptedAdapter([SendResult(Outcome.PERMANENT, error_code="131026", error="undeliverable")])
    report = run(store, {"email": adapter})
    assert report.failed == 1
    row = store.query("SELECT state, error_code, error FROM jobs WHERE id = ?", (job,))[0]
    assert (row["state"], row["error_code"]) == ("failed", "131026") and "undeliverable" in row["error"]


def test_ambiguous_send_is_never_resent_blindly(store) -> None:
    [job] = schedule(store, "When are you open?")
    adapter = ScriptedAdapter([SendResult(Outcome.AMBIGUOUS, error="read timeout")])
    report = run(store, {"email": adapter})
    assert report.needs_reconcile == 1 and state(store, job) == "needs_reconcile"
    assert run(store, {"email": adapter}, at=NOW + timedelta(hours=1)).jobs == []
    assert len(adapter.sent) == 1
    reconcile(store, FixedClock(NOW), "tester", [job], "resend")
    assert run(store, {"email": adapter}, at=NOW + timedelta(hours=2)).sent == 1
    assert len(adapter.sent) == 2


def test_a_status_webhook_settles_an_ambiguous_whatsapp_send(store) -> None:
    [job] = schedule(store, "When are you open?", channel="whatsapp", sender="+4915123456789")
    adapter = ScriptedAdapter([SendResult(Outcome.AMBIGUOUS, error="connection closed")], window=24)
    run(store, {"whatsapp": adapter})
    send_key = adapter.sent[0].send_key
    status = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550000000", "phone_number_id": "1"},
        "statuses": [{"id": "wamid.LATE", "status": "delivered", "timestamp": str(int(NOW.timestamp()) + 200),
                      "recipient_id": "4915123456789", "biz_opaque_callback_data": send_key}]}}]}]}
    ingest_bytes(store, json.dumps(status).encode(), fmt="whatsapp", config=cfg(), clock=FixedClock(NOW),
                 secrets=Secrets({}))
    row = store.query("SELECT state, provider_message_id, delivery_status FROM jobs WHERE id = ?", (job,))[0]
    assert tuple(row) == ("sent", "wamid.LATE", "delivered")


def test_expired_leases(store) -> None:
    jobs = schedule(store, "When are you open?", "Where is my parcel?")
    later = to_iso(NOW - timedelta(minutes=1))
    with store.transaction() as conn:
        # A run that died after claiming (never sent), and one that died mid-send.
        conn.execute(
            "UPDATE jobs SET state = 'claimed', lease_owner = 'dead', lease_until = ? WHERE id = ?", (later, jobs[0])
        )
        conn.execute(
            "UPDATE jobs SET state = 'sending', lease_owner = 'dead', lease_until = ? WHERE id = ?", (later, jobs[1])
        )
    adapter = ScriptedAdapter()
    report = run(store, {"email": adapter})
    assert [m.job_id for m in adapter.sent] == [jobs[0]]
    assert state(store, jobs[0]) == "sent" and state(store, jobs[1]) == "needs_reconcile"
    assert report.sent == 1


def test_an_idempotent_adapter_may_resend_after_a_crash(store) -> None:
    [job] = schedule(store, "When are you open?")
    with store.transaction() as conn:
        conn.execute("UPDATE jobs SET state = 'sending', lease_owner = 'dead', lease_until = ? WHERE id = ?",
                     (to_iso(NOW - timedelta(minutes=1)), job))
    adapter = ScriptedAdapter(idempotent=True)
    assert run(store, {"email": adapter}).sent == 1
    assert adapter.sent[0].send_key == store.scalar("SELECT send_key FROM jobs WHERE id = ?", (job,))


def test_paused_channel_stops_its_jobs_until_resumed(store, runner, tmp_path) -> None:
    jobs = schedule(store, "When are you open?", "Where is my parcel?")
    adapter = ScriptedAdapter([SendResult(Outcome.PAUSED, error_code="190", error="access token expired")])
    adapter.script.append(SendResult(Outcome.PAUSED, error_code="190", error="access token expired"))
    report = run(store, {"email": adapter})
    # The wave in flight when the token failed also failed; nothing after it was tried.
    first_wave = len(adapter.sent)
    assert report.paused_channels == ["email"] and first_wave <= 2
    assert {state(store, j) for j in jobs} == {"retry_wait"}
    assert store.scalar("SELECT max(attempts) FROM jobs") == 0
    again = run(store, {"email": adapter}, at=NOW + timedelta(hours=1))
    assert len(adapter.sent) == first_wave and again.paused_channels == ["email"]
    result = runner.invoke(app, ["--db", store.path, "channels", "resume", "email"])
    assert result.exit_code == 0 and "resumed" in result.output
    assert run(store, {"email": adapter}, at=NOW + timedelta(hours=2)).sent == 2


def test_window_closed_at_send_time_returns_the_draft_to_review(store) -> None:
    [job] = schedule(store, "When are you open?", channel="whatsapp", sender="+4915123456789", minutes_ago=60)
    adapter = ScriptedAdapter(window=24)
    report = run(store, {"whatsapp": adapter}, at=NOW + timedelta(hours=24))
    assert report.skipped == 1 and adapter.sent == []
    draft = store.query(
        "SELECT d.state, d.reasons FROM drafts d JOIN jobs j ON j.draft_id = d.id WHERE j.id = ?", (job,)
    )[0]
    assert draft["state"] == "review" and "window_closed" in json.loads(draft["reasons"])


def test_human_only_channel_refuses_automatic_jobs(store) -> None:
    [job] = schedule(store, "When are you open?")
    report = run(store, {"email": ScriptedAdapter(human_only=True)})
    assert report.skipped == 1 and "human-approved" in report.jobs[0].error


def test_recipient_gap_defers_the_second_send(store) -> None:
    config = cfg(channels={"email": {"adapter": "outbox", "rate_per_second": 1000, "min_gap_seconds": 30}})
    jobs = schedule(store, "When are you open?", "Where is my parcel?", config=config)
    adapter = ScriptedAdapter()
    report = run(store, {"email": adapter}, config)
    assert (report.sent, report.deferred) == (1, 1)
    assert run(store, {"email": adapter}, config, at=NOW + timedelta(minutes=3)).sent == 1
    assert {state(store, j) for j in jobs} == {"sent"}


@pytest.mark.sqlite_only  # SQLite's own trace of the statements
def test_nothing_due_takes_no_write_lock(store, tmp_path) -> None:
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        report = run(store, {"email": ScriptedAdapter()})  # would raise DatabaseLocked if it wrote
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert report.jobs == []


def test_outbox_records_once_per_send_key(store) -> None:
    [job] = schedule(store, "When are you open?")
    config = cfg()
    clock = FixedClock(NOW + timedelta(minutes=2))
    execute_jobs(store, config, clock, Registry(config, Secrets({}), store.path, clock))
    with store.transaction() as conn:  # an operator resends after a scare
        conn.execute("UPDATE jobs SET state = 'retry_wait' WHERE id = ?", (job,))
    execute_jobs(store, config, clock, Registry(config, Secrets({}), store.path, clock))
    assert store.scalar("SELECT count(*) FROM outbox") == 1


def test_cli_execute_is_silent_under_cron_and_loud_on_problems(store, runner, tmp_path) -> None:
    schedule(store, "When are you open?")
    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text('[channels.email]\nadapter = "outbox"\n')
    ok = runner.invoke(app, ["--config", str(cfg_path), "--db", store.path, "execute"])
    assert ok.exit_code == 0 and ok.output == ""
    with store.transaction() as conn:
        conn.execute("UPDATE jobs SET state = 'needs_reconcile'")
    listing = runner.invoke(app, ["--db", store.path, "reconcile", "--json"])
    assert len(json.loads(listing.output)) == 1
    data = runner.invoke(app, ["--config", str(cfg_path), "--db", store.path, "execute", "--json"])
    assert set(json.loads(data.output)) >= {
        "sent",
        "retried",
        "failed",
        "deferred",
        "needs_reconcile",
        "skipped",
        "jobs",
    }


def test_cli_execute_exit_7_and_a_message_when_a_job_fails(store, runner, tmp_path) -> None:
    schedule(store, "When are you open?")
    cfg_path = tmp_path / "only_whatsapp.toml"
    cfg_path.write_text('[channels.whatsapp]\nadapter = "outbox"\n')
    result = runner.invoke(app, ["--config", str(cfg_path), "--db", store.path, "execute"])
    assert result.exit_code == 7
    assert "channel email is not configured" in result.stderr


def test_email_carries_a_one_click_unsubscribe_link_that_serve_accepts(store) -> None:
    from autopilot_cli.contacts import read_token, unsubscribe_url

    [job] = schedule(store, "When are you open?")
    config = cfg(server={"public_url": "https://hooks.example.com", "unsubscribe_secret_env": "UNSUB"})
    secrets = Secrets({"UNSUB": "a-long-enough-secret-for-hmac"})
    adapter = ScriptedAdapter()
    execute_jobs(store, config, FixedClock(NOW + timedelta(minutes=5)), FixedRegistry({"email": adapter}),
                 unsubscribe_link=lambda cid, ch: unsubscribe_url(config, secrets, cid, ch, NOW))
    url = adapter.sent[0].metadata["unsubscribe_url"]
    assert url.startswith("https://hooks.example.com/unsubscribe/")
    token = read_token("a-long-enough-secret-for-hmac", url.rsplit("/", 1)[1])
    assert token.contact_id == store.scalar("SELECT contact_id FROM jobs WHERE id = ?", (job,))


class SlowAdapter(ScriptedAdapter):
    """Answers only after another run has declared the lease expired (the request outlived it)."""

    def __init__(self, store, result: SendResult) -> None:
        super().__init__([result])
        self.store = store

    async def send(self, message):
        with self.store.transaction() as conn:
            conn.execute("UPDATE jobs SET state = 'needs_reconcile', lease_owner = NULL WHERE id = ?",
                         (message.job_id,))
        return await super().send(message)


def test_an_answer_after_the_lease_ran_out_settles_or_reports_the_job(store) -> None:
    [job] = schedule(store, "When are you open?")
    report = run(store, {"email": SlowAdapter(store, SendResult(Outcome.SENT, provider_message_id="late-1"))})
    assert report.sent == 1 and state(store, job) == "sent"
    assert store.scalar("SELECT provider_message_id FROM jobs WHERE id = ?", (job,)) == "late-1"
    [job2] = schedule(store, "Where is my parcel?", sender="bo@example.org")
    report = run(store, {"email": SlowAdapter(store, SendResult(Outcome.RETRYABLE, error="503"))})
    assert report.needs_reconcile == 1 and state(store, job2) == "needs_reconcile"


def test_reconcile_and_retry_usage_and_state_errors(store, runner) -> None:
    schedule(store, "When are you open?")
    usage = [["reconcile", "--sent"], ["reconcile", "1"], ["retry"], ["retry", "1", "--failed"],
             ["channels", "resume", "fax"]]
    for args in usage:
        result = runner.invoke(app, ["--db", store.path, *args])
        assert result.exit_code == 2, (args, result.stderr)
    state_error = runner.invoke(app, ["--db", store.path, "retry", "1"])
    assert state_error.exit_code == 1 and "not failed; nothing changed" in state_error.stderr


def test_execute_with_one_click_unsubscribe_configured_sends_with_a_valid_link(tmp_path, runner, monkeypatch) -> None:
    """Issue 12 item 1: the start-up check once built a link for contact id 0 and crashed."""
    from freezegun import freeze_time

    from autopilot_cli.contacts import read_token

    secret = "s" * 40
    monkeypatch.setenv("UNSUB", secret)
    conf = tmp_path / "autopilot.toml"
    conf.write_text('[autopilot]\nmode = "assist"\n[channels.email]\nadapter = "outbox"\nrate_per_second = 1000\n'
                    '[server]\npublic_url = "https://hooks.example.com"\nunsubscribe_secret_env = "UNSUB"\n')
    (tmp_path / "knowledge.toml").write_bytes(
        (Path(__file__).parent.parent / "autopilot_cli" / "templates" / "knowledge.toml").read_bytes())
    db = str(tmp_path / "shop.db")
    inbox = tmp_path / "in.jsonl"
    inbox.write_text(
        json.dumps(
            {
                "channel": "email",
                "id": "m1",
                "from": "ana@example.org",
                "text": "When are you open?",
                "received_at": to_iso(NOW - timedelta(minutes=5)),
            }
        )
        + "\n"
    )
    base = ["--db", db, "--config", str(conf)]
    with freeze_time(NOW):
        for args in (["ingest", str(inbox), "--format", "jsonl"], ["process"]):
            result = runner.invoke(app, base + args)
            assert result.exit_code == 0, result.output
        store = sqlite3.connect(db)
        draft, contact = store.execute("SELECT id, contact_id FROM drafts").fetchone()
        result = runner.invoke(app, base + ["approve", str(draft), "--now"])
        assert result.exit_code == 0, result.output
    with freeze_time(NOW + timedelta(minutes=1)):
        result = runner.invoke(app, base + ["execute", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sent"] == 1
    metadata = json.loads(store.execute("SELECT metadata FROM outbox").fetchone()[0])
    url = metadata["unsubscribe_url"]
    assert url.startswith("https://hooks.example.com/unsubscribe/")
    token = read_token(secret, url.rsplit("/", 1)[1])
    assert (token.contact_id, token.channel) == (contact, "email")


def test_execute_with_a_too_short_unsubscribe_secret_is_a_config_error(store, tmp_path, runner, monkeypatch) -> None:
    monkeypatch.setenv("UNSUB", "short")
    conf = tmp_path / "autopilot.toml"
    conf.write_text('[server]\npublic_url = "https://hooks.example.com"\nunsubscribe_secret_env = "UNSUB"\n')
    result = runner.invoke(app, ["--db", store.path, "--config", str(conf), "execute"])
    assert result.exit_code == 3, result.output
    assert "unsubscribe secret must be at least" in result.output and "Traceback" not in result.output


def test_execute_names_why_a_channel_is_paused_when_its_token_is_missing(store, runner, tmp_path) -> None:
    """Issue 12 item 17: the operator learns the cause (here: the token variable is not set)."""
    schedule(store, "When are you open?", channel="whatsapp", sender="+4915123456789")
    conf = tmp_path / "wa.toml"
    conf.write_text('[channels.whatsapp]\nadapter = "whatsapp"\nphone_number_id = "1064"\ntoken_env = "WA_TOKEN_X"\n'
                    'app_secret_env = "WA_SECRET_X"\nbase_url = "http://127.0.0.1:9"\n')
    from freezegun import freeze_time

    with freeze_time(NOW + timedelta(minutes=1)):
        result = runner.invoke(app, ["--db", store.path, "--config", str(conf), "execute", "--json"])
        human = runner.invoke(app, ["--db", store.path, "--config", str(conf), "execute"])
    assert result.exit_code == 7, result.output
    report = json.loads(result.stdout)
    assert report["paused_channels"] == ["whatsapp"]
    assert report["paused_reasons"]["whatsapp"] == "access token missing: environment variable WA_TOKEN_X is not set"
    assert human.exit_code == 7
    assert (
        "channel whatsapp is paused: access token missing: environment variable WA_TOKEN_X is not set" in human.stderr
    )


@pytest.mark.parametrize("args", [["retry", "999"], ["reconcile", "999", "--cancel"]])
def test_retry_and_reconcile_refusals_print_a_json_error_object(store, runner, args) -> None:
    result = runner.invoke(app, ["--db", store.path, *args, "--json"])
    assert result.exit_code != 0
    error = json.loads(result.stdout)["error"]
    assert "999" in error["message"] and error["exit_code"] == result.exit_code
    assert result.stderr.startswith("error: ")


def test_outbox_file_in_a_folder_that_does_not_exist_yet_is_created(store, tmp_path) -> None:
    path = tmp_path / "not" / "yet" / "outbox.jsonl"
    config = cfg(channels={"email": {"adapter": "outbox", "rate_per_second": 1000, "path": str(path)}})
    [job] = schedule(store, "When are you open?", config=config)
    clock = FixedClock(NOW + timedelta(minutes=5))
    report = execute_jobs(store, config, clock, Registry(config, Secrets({}), store.path, clock))
    assert report.sent == 1 and state(store, job) == "sent"
    [line] = path.read_text().splitlines()
    recorded = json.loads(line)
    assert recorded["channel"] == "email" and recorded["text"] == store.scalar(
        "SELECT text FROM jobs WHERE id = ?", (job,)
    )


def test_channels_lists_each_expected_secret_and_whether_it_is_set(store, runner, tmp_path, monkeypatch) -> None:
    """channel_credentials is read, not only written: which variable each channel expects, set or not."""
    monkeypatch.setenv("WA_TOKEN_SET", "x" * 20)
    conf = tmp_path / "wa.toml"
    conf.write_text('[channels.whatsapp]\nadapter = "whatsapp"\nphone_number_id = "1064"\ntoken_env = "WA_TOKEN_SET"\n'
                    'app_secret_env = "WA_SECRET_UNSET"\n')
    result = runner.invoke(app, ["--db", store.path, "--config", str(conf), "channels", "--json"])
    assert result.exit_code == 0, result.output
    [whatsapp] = [row for row in json.loads(result.stdout) if row["channel"] == "whatsapp"]
    assert {(c["purpose"], c["env_var"], c["set"]) for c in whatsapp["credentials"]} >= {
        ("token", "WA_TOKEN_SET", True), ("app_secret", "WA_SECRET_UNSET", False)}
    assert "x" * 20 not in result.stdout  # names, never values
    assert store.scalar("SELECT count(*) FROM channel_credentials WHERE env_var = 'WA_TOKEN_SET'") == 1


def test_a_wave_marks_and_settles_only_the_jobs_its_run_still_owns(store) -> None:
    """The wave's statements (one per wave, not per job) change exactly the rows this run owns: on PostgreSQL
    a claim takes no write lock, so a job whose lease ran out may be taken over between the wave's read and
    its mark, and must then be neither marked, nor sent, nor settled by the first run."""
    from autopilot_cli.db import jobs

    ids = [schedule(store, "When are you open?", sender=f"c{i}@example.org")[0] for i in range(5)]
    now = store.scalar("SELECT max(send_at) FROM jobs")
    with store.transaction(serialised=False) as conn:
        assert {r["id"] for r in jobs.claim_due(conn, channel="email", owner="a", lease_until="9999", now=now,
                                                size=10)} == set(ids)
    taken, *mine = ids
    with store.transaction() as conn:
        conn.execute("UPDATE jobs SET lease_owner = 'b' WHERE id = ?", (taken,))  # another run took it over
        assert set(jobs.claimed_jobs(conn, ids, "a", "claimed")) == set(mine)
        marked = jobs.mark_sending(conn, [(taken, "<t@x>"), (mine[0], "<m0@x>"), *[(i, None) for i in mine[1:]]],
                                   owner="a", now=now, lease_until="9999")
    assert marked == set(mine)
    rows = {r["id"]: r for r in store.query("SELECT id, state, attempts, message_id, lease_owner FROM jobs")}
    assert (rows[taken]["state"], rows[taken]["attempts"], rows[taken]["lease_owner"]) == ("claimed", 0, "b")
    assert rows[taken]["message_id"] != "<t@x>" and rows[mine[0]]["message_id"] == "<m0@x>"
    assert {rows[i]["state"] for i in mine} == {"sending"} and {rows[i]["attempts"] for i in mine} == {1}
    assert rows[mine[1]]["message_id"] is None or rows[mine[1]]["message_id"] != "<m0@x>"
    with store.transaction() as conn:
        settled = jobs.finish(conn, [
            jobs.Settle(mine[0], "sending", "sent", provider_id="p-0"),
            jobs.Settle(mine[1], "sending", "sent", provider_id="p-1"),
            jobs.Settle(mine[2], "sending", "retry_wait", "attempt 1 failed: 503", "http_503", send_at="2030"),
            jobs.Settle(mine[3], "sending", "retry_wait", "channel paused", uncount=True),
            jobs.Settle(taken, "sending", "sent", provider_id="p-t"),  # not in sending, nor ours
        ], owner="a", now=now)
    assert settled == set(mine)
    rows = {r["id"]: r for r in store.query("SELECT * FROM jobs")}
    assert [(rows[i]["state"], rows[i]["provider_message_id"], rows[i]["sent_at"]) for i in mine[:2]] == [
        ("sent", "p-0", now), ("sent", "p-1", now)]
    assert (rows[mine[2]]["state"], rows[mine[2]]["error_code"], rows[mine[2]]["send_at"],
            rows[mine[2]]["attempts"], rows[mine[2]]["sent_at"]) == ("retry_wait", "http_503", "2030", 1, None)
    assert (rows[mine[3]]["attempts"], rows[mine[3]]["error"], rows[mine[3]]["lease_owner"]) == (
        0, "channel paused", None)
    assert (rows[taken]["state"], rows[taken]["provider_message_id"]) == ("claimed", None)


def test_a_wave_larger_than_one_statement_takes_is_cut_into_several(store) -> None:
    """12,000 jobs' worth of parameters is more than SQLite takes in one statement (32,766): the data layer
    cuts such lists into chunks, and every chunk's rows are answered for."""
    from autopilot_cli.db import jobs

    [real] = schedule(store, "When are you open?")
    now = store.scalar("SELECT send_at FROM jobs")
    with store.transaction(serialised=False) as conn:
        jobs.claim_due(conn, channel="email", owner="a", lease_until="9999", now=now, size=1)
    many = list(range(100_000, 112_000))
    with store.transaction() as conn:
        assert set(jobs.claimed_jobs(conn, [*many, real], "a", "claimed")) == {real}
        marked = jobs.mark_sending(conn, [(i, f"<{i}@x>") for i in [*many, real]], owner="a", now=now,
                                   lease_until="9999")
        assert marked == {real}
        settled = jobs.finish(conn, [jobs.Settle(i, "sending", "sent", provider_id=f"p{i}") for i in [*many, real]],
                              owner="a", now=now)
        assert settled == {real}
    assert store.query("SELECT state, message_id, provider_message_id FROM jobs")[0][:] == ("sent", f"<{real}@x>",
                                                                                          f"p{real}")
