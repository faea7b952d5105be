from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from autopilot_cli.clock import FixedClock
from autopilot_cli.config import Config, config_from_dict
from autopilot_cli.db.migrations import open_store
from autopilot_cli.errors import ConfigError, InputError, SecretMissing, SignatureMismatch, UnknownFormat
from autopilot_cli.inbound import ingest_bytes
from autopilot_cli.inbound._signature import sign
from autopilot_cli.secrets import Secrets

from .conftest import NOW


def jsonl(*records: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def event(i: int = 1, **over) -> dict:
    base = {"channel": "whatsapp", "id": f"wamid.{i}", "from": "+4915123456789", "text": f"hello {i}",
            "received_at": "2026-11-25T10:00:00Z"}
    base.update(over)
    return base


def run(store, data, config, clock, secrets=None, **kw):
    return ingest_bytes(store, data, fmt=kw.pop("fmt", "auto"), config=config, clock=clock,
                        secrets=secrets or Secrets({}), **kw)


def test_jsonl_events_are_normalized_and_stored(store, config, clock) -> None:
    data = jsonl(
        event(1, **{"from": "4915123456789"}, name="Jonas", timezone="Europe/Berlin", metadata={"k": 1}),
        event(2, channel="email", id="<abc@x>", **{"from": "Maria <Maria.Rossi@Example.ORG>"}, subject="Hi"),
        event(3, received_at="2026-11-25T11:00:00+01:00"),
    )
    report = run(store, data, config, clock)
    assert (report.ingested, report.duplicates, report.rejected) == (3, 0, 0)
    rows = store.query("SELECT * FROM events ORDER BY id")
    assert rows[0]["sender"] == "+4915123456789"
    assert rows[0]["timezone"] == "Europe/Berlin"
    assert json.loads(rows[0]["metadata"]) == {"k": 1}
    assert rows[0]["state"] == "pending"
    assert rows[0]["ingested_at"] == "2026-11-25T12:00:00.000Z"
    assert rows[1]["sender"] == "maria.rossi@example.org"
    assert rows[2]["received_at"] == "2026-11-25T10:00:00.000Z"
    # Two messages from one number are one contact; the email is another.
    assert store.scalar("SELECT count(*) FROM contacts") == 2
    assert store.scalar("SELECT name FROM contacts WHERE id = ?", (rows[0]["contact_id"],)) == "Jonas"


def test_same_provider_id_twice_is_one_event(store, config, clock) -> None:
    data = jsonl(event(1), event(2), event(1))
    first = run(store, data, config, clock)
    assert (first.ingested, first.duplicates) == (2, 1)
    second = run(store, data, config, clock)
    assert (second.ingested, second.duplicates) == (0, 3)
    assert store.scalar("SELECT count(*) FROM events") == 2


def test_a_batch_of_messages_is_stored_as_if_one_at_a_time(store, config, clock) -> None:
    """Ingest writes a run of messages in a few statements; what it stores and reports is what writing them
    one by one in order would have: a repeated id is one event, the first; the last name given is kept;
    a bad record between messages is a reject at its line; event ids are reported in input order."""
    run(store, jsonl(event(1, name="Ana")), config, clock)
    other = {"from": "+4915199999999"}
    data = jsonl(
        event(2, name="Ana B."),                          # Ana, renamed
        event(3, **other),                                # a new contact, no name yet
        event(2, text="a retry of 2"),                    # repeated within the batch
        event(1),                                         # stored by the first ingest
        {"channel": "whatsapp", "id": "bad"},             # line 5: no sender, no text
        event(4, **other, name="Bo"),                     # the new contact's name arrives
        event(5, **other),                                # no name: "Bo" stays
        event(6, channel="email", **{"from": "cy@example.org"}, name="Cy"),
    )
    report = run(store, data, config, clock)
    assert (report.ingested, report.duplicates, report.rejected) == (5, 2, 1)
    assert report.errors[0].line == 5
    ids = {r["external_id"]: r["id"] for r in store.query("SELECT id, external_id FROM events")}
    assert report.event_ids == [ids[f"wamid.{i}"] for i in (2, 3, 4, 5)] + [ids["wamid.6"]]
    assert store.scalar("SELECT text FROM events WHERE external_id = 'wamid.2'") == "hello 2"
    names = {r["address"]: r["name"] for r in store.query(
        "SELECT a.address, c.name FROM contacts c JOIN contact_addresses a ON a.contact_id = c.id")}
    assert names == {"+4915123456789": "Ana B.", "+4915199999999": "Bo", "cy@example.org": "Cy"}
    senders = {r["external_id"]: r["contact_id"] for r in store.query("SELECT external_id, contact_id FROM events")}
    assert senders["wamid.1"] == senders["wamid.2"] != senders["wamid.3"] == senders["wamid.4"] == senders["wamid.5"]
    assert store.scalar("SELECT count(*) FROM contacts") == 3
    # The same batch again: every message a duplicate, no contact added.
    again = run(store, data, config, clock)
    assert (again.ingested, again.duplicates, again.rejected) == (0, 7, 1)
    assert store.scalar("SELECT count(*) FROM contacts") == 3


def test_away_notes_in_one_batch_follow_the_order_of_the_messages(store, config, clock) -> None:
    """An out-of-office reply followed by the contact's own message ends the hold; the other way round it
    holds — also when both arrive in one mbox, written together."""
    def mail(sender: str, minutes: int, ooo: bool) -> str:
        body = ("I am out of the office until 14 December 2026 with limited access to email." if ooo
                else "Are you open on Saturday?")
        subject = "Automatic reply: Re: Open" if ooo else "Open Saturday?"
        return (f"From MAILER-DAEMON Wed Nov 25 10:{minutes:02d}:00 2026\nFrom: {sender}\nTo: shop@example.com\n"
                f"Subject: {subject}\nDate: Wed, 25 Nov 2026 10:{minutes:02d}:00 +0000\n"
                f"Message-ID: <{sender}-{minutes}@x>\nContent-Type: text/plain; charset=utf-8\n\n{body}\n\n")

    mbox = (mail("ana@example.org", 1, True) + mail("ana@example.org", 2, False)
            + mail("bo@example.org", 1, False) + mail("bo@example.org", 2, True)).encode()
    report = run(store, mbox, config, clock, fmt="mbox")
    assert (report.ingested, report.rejected) == (4, 0)
    away = {r["address"]: r["away_until"] for r in store.query(
        "SELECT a.address, c.away_until FROM contacts c JOIN contact_addresses a ON a.contact_id = c.id")}
    assert away == {"ana@example.org": None, "bo@example.org": "2026-12-14T00:00:00.000Z"}


def test_same_id_on_two_channels_is_two_events(store, config, clock) -> None:
    report = run(store, jsonl(event(1), event(1, channel="instagram", **{"from": "178414"})), config, clock)
    assert report.ingested == 2


@pytest.mark.parametrize(
    "record, reason",
    [
        ({"channel": "whatsapp"}, "missing required field 'id'"),
        (event(channel="sms"), "'channel'"),
        (event(**{"from": "12"}), "'from'"),
        (event(**{"from": "not-an-email"}, channel="email"), "is not an email address"),
        (event(text="   "), "text is empty"),
        (event(received_at="yesterday"), "'received_at'"),
        (event(timezone="Mars/Phobos"), "not an IANA time zone"),
        (event(colour="red"), "unknown field 'colour'"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bad_records_are_rejected_with_line_and_reason(store, config, clock, record, reason) -> None:
    data = jsonl(event(1)) + json.dumps(record).encode() + b"\n" + jsonl(event(3))
    report = run(store, data, config, clock, fmt="jsonl", source="in.jsonl")
    assert (report.ingested, report.rejected) == (2, 1)
    assert report.errors[0].line == 2
    assert reason in report.errors[0].reason
    kept = store.query("SELECT line, reason, source, raw FROM rejects")
    assert [(r["line"], r["source"]) for r in kept] == [(2, "in.jsonl")]
    assert reason in kept[0]["reason"]


def test_invalid_json_line_is_rejected_and_the_rest_kept(store, config, clock) -> None:
    data = jsonl(event(1)) + b'{"channel": "whatsapp", \n' + jsonl(event(2))
    report = run(store, data, config, clock, fmt="jsonl")
    assert report.ingested == 2
    assert report.errors[0].line == 2 and "invalid JSON" in report.errors[0].reason


def test_a_10mb_message_is_rejected_not_stored(store, config, clock) -> None:
    huge = event(2, text="x" * 10_000_000)
    report = run(store, jsonl(event(1), huge), config, clock, fmt="jsonl")
    assert (report.ingested, report.rejected) == (1, 1)
    # Exact bytes (item 17): "10.0 MB over the 1.0 MB limit" cannot say by how much.
    size = len(json.dumps(huge).encode())
    assert f"record is {size:,} bytes (10.0 MB), over the limit of 1,000,000 bytes (ingest.max_message_bytes)" \
        == report.errors[0].reason
    raw = store.scalar("SELECT raw FROM rejects")
    assert len(raw) < 1000  # a preview, not ten megabytes


def test_binary_garbage_is_refused_as_a_whole(store, config, clock) -> None:
    with pytest.raises(UnknownFormat):
        run(store, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", config, clock)
    with pytest.raises(InputError, match="binary"):
        run(store, b'{"object": "whatsapp_business_account"}\x00\x00', config, clock, fmt="whatsapp")
    assert store.scalar("SELECT count(*) FROM events") == 0


def test_unknown_format_name(store, config, clock) -> None:
    with pytest.raises(InputError, match="unknown format 'csv'"):
        run(store, b"a,b", config, clock, fmt="csv")


def test_format_detection(store, config, clock) -> None:
    assert run(store, jsonl(event(1)), config, clock).format == "jsonl"
    email = b"From: a@example.org\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <m1@x>\r\n\r\nHello\r\n"
    assert run(store, email, config, clock).format == "email"
    with pytest.raises(UnknownFormat, match="JSON but not a format"):
        run(store, b'{"hello": 1}', config, clock)
    with pytest.raises(UnknownFormat):
        run(store, b"   \n", config, clock)


WA_STATUS = {
    "object": "whatsapp_business_account",
    "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "statuses": [],
    }}]}],
}


def wa_status(status: str, ts: int, msg_id: str = "wamid.OUT1", callback: str | None = None) -> bytes:
    payload = json.loads(json.dumps(WA_STATUS))
    record = {"id": msg_id, "status": status, "timestamp": str(ts), "recipient_id": "4915123456789"}
    if callback:
        record["biz_opaque_callback_data"] = callback
    if status == "failed":
        record["errors"] = [{"code": 131026, "title": "Message undeliverable"}]
    payload["entry"][0]["changes"][0]["value"]["statuses"] = [record]
    return json.dumps(payload).encode()


def make_job(store, clock, state="sent", provider_id="wamid.OUT1", send_key="job-key-1") -> int:
    run(store, jsonl(event(99)), Config(), clock)
    with store.transaction() as conn:
        ev = conn.execute("SELECT id, contact_id FROM events WHERE external_id = 'wamid.99'").fetchone()
        draft = conn.execute(
            "INSERT INTO drafts (event_id, contact_id, channel, text, created_at, updated_at, state) "
            "VALUES (?, ?, 'whatsapp', 'hi', 'now', 'now', 'scheduled')", (ev[0], ev[1])).lastrowid
        job = conn.execute(
            "INSERT INTO jobs (draft_id, event_id, contact_id, channel, recipient, send_key, text, text_sha256, "
            "send_at, state, provider_message_id, created_at, updated_at) "
            "VALUES (?, ?, ?, 'whatsapp', '+4915123456789', ?, 'hi', 'h', 'now', ?, ?, 'now', 'now')",
            (draft, ev[0], ev[1], send_key, state, provider_id)).lastrowid
    return int(job)


def test_statuses_only_move_forward_and_are_deduplicated(store, config, clock) -> None:
    job = make_job(store, clock)
    assert run(store, wa_status("read", 1764072600), config, clock).statuses == 1
    # Meta delivers out of order: a late 'delivered' must not regress 'read'.
    assert run(store, wa_status("delivered", 1764072500), config, clock).statuses == 1
    again = run(store, wa_status("read", 1764072600), config, clock)
    assert (again.statuses, again.duplicates) == (0, 1)
    row = store.query("SELECT delivery_status, delivery_updated_at FROM jobs WHERE id = ?", (job,))[0]
    assert row["delivery_status"] == "read"
    assert store.scalar("SELECT count(*) FROM delivery_statuses WHERE job_id = ?", (job,)) == 2
    run(store, wa_status("failed", 1764072700), config, clock)
    assert store.scalar("SELECT delivery_status FROM jobs WHERE id = ?", (job,)) == "failed"
    run(store, wa_status("sent", 1764072800), config, clock)
    assert store.scalar("SELECT delivery_status FROM jobs WHERE id = ?", (job,)) == "failed"


def test_a_status_settles_a_job_whose_response_was_lost(store, config, clock) -> None:
    job = make_job(store, clock, state="needs_reconcile", provider_id=None, send_key="send-key-42")
    report = run(store, wa_status("delivered", 1764072500, msg_id="wamid.NEW", callback="send-key-42"), config, clock)
    assert report.statuses == 1
    row = store.query("SELECT state, provider_message_id, delivery_status, sent_at FROM jobs WHERE id = ?", (job,))[0]
    assert (row["state"], row["provider_message_id"], row["delivery_status"]) == ("sent", "wamid.NEW", "delivered")
    assert row["sent_at"] is not None


def test_status_for_an_unknown_message_is_kept(store, config, clock) -> None:
    assert run(store, wa_status("sent", 1764072500, msg_id="wamid.UNKNOWN"), config, clock).statuses == 1
    assert store.scalar("SELECT job_id FROM delivery_statuses") is None


def _signed_config():
    return config_from_dict({"channels": {"whatsapp": {"adapter": "outbox", "app_secret_env": "WA_SECRET"}}})


def test_good_signature_is_accepted(store, clock) -> None:
    body = wa_status("sent", 1764072500)
    report = run(store, body, _signed_config(), clock, Secrets({"WA_SECRET": "s3cret"}),
                 signature=sign(body, "s3cret"))
    assert report.statuses == 1


@pytest.mark.parametrize("mutate", ["one_byte", "wrong_secret", "garbled"])
def test_bad_signature_rejects_the_whole_payload(store, clock, mutate) -> None:
    body = wa_status("sent", 1764072500)
    signature = sign(body, "s3cret")
    if mutate == "one_byte":
        body = body.replace(b"1764072500", b"1764072501")
    elif mutate == "wrong_secret":
        signature = sign(body, "other")
    else:
        signature = "sha256=zz"
    with pytest.raises(InputError) as info:
        run(store, body, _signed_config(), clock, Secrets({"WA_SECRET": "s3cret"}), signature=signature)
    if mutate != "garbled":
        assert isinstance(info.value, SignatureMismatch)
    assert "s3cret" not in str(info.value)
    assert store.scalar("SELECT count(*) FROM delivery_statuses") == 0


def test_signature_needs_a_configured_and_present_secret(store, config, clock) -> None:
    body = wa_status("sent", 1764072500)
    with pytest.raises(ConfigError, match="channels.whatsapp.app_secret_env is not set"):
        run(store, body, config, clock, signature=sign(body, "x"))
    with pytest.raises(SecretMissing, match="WA_SECRET is not set"):
        run(store, body, _signed_config(), clock, signature=sign(body, "x"))
    with pytest.raises(InputError, match="applies to whatsapp and instagram"):
        run(store, jsonl(event(1)), config, clock, signature=sign(b"", "x"))


def test_batches_commit_separately(tmp_path, clock) -> None:
    config = config_from_dict({"ingest": {"batch_size": 3}})
    with open_store(tmp_path / "b.db", clock) as store:
        report = run(store, jsonl(*(event(i) for i in range(10))), config, clock)
        assert report.ingested == 10
        assert store.scalar("SELECT count(*) FROM events") == 10


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_ingest(tmp_path_factory, data: bytes) -> None:
    clock = FixedClock(NOW)
    path = tmp_path_factory.mktemp("fuzz") / "f.db"
    with open_store(path, clock) as store:
        try:
            report = run(store, data, Config(), clock)
        except InputError:
            assert store.scalar("SELECT count(*) FROM events") == 0
        else:
            # Every record is accounted for: what the report says is what was stored.
            assert store.scalar("SELECT count(*) FROM events") == report.ingested
            assert store.scalar("SELECT count(*) FROM rejects") == report.rejected


def test_the_same_bad_record_twice_is_kept_once(store, config, clock) -> None:
    data = jsonl(event(1)) + b'{"channel": "sms"}\n'
    first = run(store, data, config, clock, fmt="jsonl", source="in.jsonl")
    again = run(store, data, config, clock, fmt="jsonl", source="in.jsonl")
    assert first.rejected == again.rejected == 1  # still reported every time
    assert store.scalar("SELECT count(*) FROM rejects") == 1


def test_ignored_records_say_why(store, config, clock) -> None:
    payload = {"object": "instagram", "entry": [{"id": "17841405822304914", "time": 1, "messaging": [
        {"sender": {"id": "17841405822304914"}, "recipient": {"id": "1"}, "timestamp": 1764072160000,
         "message": {"mid": "m1", "text": "ours", "is_echo": True}},
        {"sender": {"id": "17841405822304914"}, "recipient": {"id": "2"}, "timestamp": 1764072160001,
         "message": {"mid": "m2", "text": "ours too", "is_echo": True}}]}]}
    report = run(store, json.dumps(payload).encode(), config, clock)
    assert report.ignored == 2
    assert len(report.ignored_reasons) == 1 and list(report.ignored_reasons.values()) == [2]
    assert "echo" in next(iter(report.ignored_reasons))


# --- several inputs: one bad file never stops the others (issue 12, item 3) ---------------------

def _cli(runner, db, *args, stdin=None):
    from autopilot_cli.cli import app

    return runner.invoke(app, ["--db", str(db), *args], input=stdin)


def _mixed_inputs(tmp_path):
    files = {
        "a.jsonl": jsonl(event(1)),
        "expected.json": b'{"hello": 1}\n',  # JSON of another shape
        "empty.eml": b"",
        "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "README.md": b"# Inbox\n\nDrop exports here.\n",
        "deep.json": b"[" * 100_000 + b"]" * 100_000,  # the format detection recursed until it crashed
        "b.jsonl": jsonl(event(2)) + b'{"channel": "sms"}\n',
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return [str(tmp_path / name) for name in [*files][:6]] + [str(tmp_path / "missing.json"), str(tmp_path / "b.jsonl")]


def test_one_bad_file_does_not_stop_the_others(runner, tmp_path) -> None:
    paths = _mixed_inputs(tmp_path)
    db = tmp_path / "m.db"
    result = _cli(runner, db, "ingest", "--json", *paths)
    assert result.exit_code == 6, result.output + result.stderr
    assert result.stderr == ""
    out = json.loads(result.stdout)
    by_name = {f["source"].rsplit("/", 1)[-1]: f for f in out["files"]}
    assert [f["source"] for f in out["files"]] == paths  # one result per input, in order
    assert by_name["a.jsonl"]["outcome"] == "ingested" and by_name["a.jsonl"]["ingested"] == 1
    assert by_name["b.jsonl"]["outcome"] == "rejected"
    assert (by_name["b.jsonl"]["ingested"], by_name["b.jsonl"]["rejected"]) == (1, 1)
    unusable = {name: f["reason"] for name, f in by_name.items() if f["outcome"] == "unusable"}
    assert set(unusable) == {"expected.json", "empty.eml", "logo.png", "README.md", "deep.json", "missing.json"}
    assert "JSON but not a format autopilot knows" in unusable["expected.json"]
    assert unusable["empty.eml"] == "input is empty"
    assert "binary" in unusable["logo.png"]
    assert "cannot tell the input's format" in unusable["README.md"]
    assert unusable["deep.json"] == "input is not valid JSON (nested more than 64 levels deep)"
    assert unusable["missing.json"] == f"input file not found: {tmp_path / 'missing.json'}"
    assert (out["ingested"], out["rejected"], out["unusable"]) == (2, 1, 6)
    assert set(out["files"][0]) == {"source", "outcome", "format", "ingested", "duplicates", "statuses",
                                    "preferences", "ignored", "rejected", "reason"}
    with open_store(db, FixedClock(NOW)) as store:
        assert store.scalar("SELECT count(*) FROM events") == 2
        assert store.scalar("SELECT count(*) FROM rejects") == 1  # an unusable file stores nothing

    human = _cli(runner, db, "ingest", *paths)
    assert human.exit_code == 6
    flat = " ".join(human.stdout.split())  # whatever the line wrapping
    assert f"{tmp_path / 'empty.eml'}: unusable, nothing stored: input is empty" in flat
    assert f"{tmp_path / 'a.jsonl'} (jsonl): duplicates 1" in flat
    assert (
        "ingested 0, duplicates 2, statuses 0, preferences 0 (jsonl) ignored 0, rejected 1, unusable inputs 6 of 8"
        in flat
    )


def test_cron_glob_with_an_empty_file_still_reads_every_later_file(runner, tmp_path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(5):
        (inbox / f"{i}.eml").write_bytes(
            f"From: c{i}@example.org\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <m{i}@x>\r\n\r\nHi {i}\r\n"
            .encode())
    (inbox / "1.eml").write_bytes(b"")
    result = _cli(runner, tmp_path / "c.db", "ingest", *sorted(str(p) for p in inbox.iterdir()))
    assert result.exit_code == 6
    assert "ingested 4," in result.output
    with open_store(tmp_path / "c.db", FixedClock(NOW)) as store:
        assert store.scalar("SELECT count(*) FROM events") == 4


def test_single_unusable_input_still_prints_its_result_and_exits_5(runner, tmp_path) -> None:
    result = _cli(runner, tmp_path / "s.db", "ingest", "--json", stdin=b'{"hello": 1}')
    assert result.exit_code == 5
    out = json.loads(result.stdout)
    assert out["files"] == [{"source": "-", "outcome": "unusable", "format": None, "ingested": 0, "duplicates": 0,
                             "statuses": 0, "preferences": 0, "ignored": 0, "rejected": 0,
                             "reason": out["files"][0]["reason"]}]
    assert result.stderr.startswith("error: input is JSON but not a format") and result.stderr.count("\n") == 1
    (tmp_path / "x.eml").write_bytes(b"")
    (tmp_path / "y.eml").write_bytes(b"\x00")
    both = _cli(runner, tmp_path / "s.db", "ingest", str(tmp_path / "x.eml"), str(tmp_path / "y.eml"))
    assert both.exit_code == 5
    assert both.stderr == "error: none of the 2 inputs could be used; nothing stored\n"
    assert f"{tmp_path / 'x.eml'}: unusable, nothing stored: input is empty" in " ".join(both.stdout.split())
    one = _cli(runner, tmp_path / "s.db", "ingest", str(tmp_path / "x.eml"))
    assert one.stderr == f"error: {tmp_path / 'x.eml'}: input is empty\n"


def test_signature_and_format_problems_still_refuse_the_whole_run(runner, tmp_path) -> None:
    (tmp_path / "a.jsonl").write_bytes(jsonl(event(1)))
    two = _cli(runner, tmp_path / "g.db", "ingest", "--signature", "sha256=00", str(tmp_path / "a.jsonl"),
               str(tmp_path / "a.jsonl"))
    assert two.exit_code == 5 and "--signature signs one payload" in two.stderr
    assert _cli(runner, tmp_path / "g.db", "ingest", "--format", "csv", str(tmp_path / "a.jsonl")).exit_code == 5
    with open_store(tmp_path / "g.db", FixedClock(NOW)) as store:
        assert store.scalar("SELECT count(*) FROM events") == 0


def test_a_parser_bug_is_not_hidden_as_bad_input(store, config, clock, monkeypatch) -> None:
    # Only the listed bad-input exceptions make a file unusable (a ValueError from a
    # parser here); a programming error (NameError, standing in for any bug) still
    # surfaces as an internal error.
    import autopilot_cli.inbound._ingest as ingest_module
    from autopilot_cli.inbound import ingest_inputs

    def parser_raising(exc):
        def parse(data, limits):
            raise exc
            yield  # pragma: no cover
        return parse

    monkeypatch.setattr(ingest_module, "get_parser", lambda fmt: parser_raising(ValueError("Exceeds the limit")))
    bad = ingest_inputs(store, ["-"], stdin=lambda: jsonl(event(1)), fmt="jsonl", config=config, clock=clock,
                        secrets=Secrets({}))
    assert (bad.files[0].outcome, bad.files[0].reason) == (
        "unusable", "input cannot be parsed (ValueError: Exceeds the limit)")
    monkeypatch.setattr(ingest_module, "get_parser", lambda fmt: parser_raising(NameError("name 'x' is not defined")))
    with pytest.raises(NameError):
        ingest_inputs(store, ["-"], stdin=lambda: jsonl(event(1)), fmt="jsonl", config=config, clock=clock,
                      secrets=Secrets({}))


def test_unusable_input_stores_nothing_and_rejected_records_are_kept(store, clock) -> None:
    from autopilot_cli.inbound import ingest_inputs

    config = config_from_dict({"ingest": {"batch_size": 2}})
    pretty = json.dumps({"object": "whatsapp_business_account", "entry": []}, indent=2).encode()
    run_ = ingest_inputs(store, ["-"], stdin=lambda: pretty, fmt="jsonl", config=config, clock=clock,
                         secrets=Secrets({}))
    assert run_.files[0].outcome == "unusable"
    assert store.scalar("SELECT count(*) FROM rejects") == 0


# --- --format jsonl on content of another format (item 15) ----------------------------------------

def test_jsonl_ingest_of_a_pretty_printed_webhook_says_which_format_it_looks_like(runner, tmp_path) -> None:
    from autopilot_cli.samples import __path__ as samples_path  # type: ignore[attr-defined]

    webhook = Path(samples_path[0]) / "whatsapp_webhook.json"
    result = _cli(runner, tmp_path / "j.db", "ingest", "--format", "jsonl", "--json", str(webhook))
    assert result.exit_code == 5
    reason = json.loads(result.stdout)["files"][0]["reason"]
    assert reason.startswith("no line is a JSONL event (line 1: invalid JSON")
    assert "looks like a WhatsApp webhook payload (one JSON document over several lines" in reason
    assert reason.endswith("use --format whatsapp or --format auto")
    email = b"From: a@example.org\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\nMessage-ID: <m1@x>\r\n\r\nHello\r\n"
    mail = _cli(runner, tmp_path / "j.db", "ingest", "--format", "jsonl", stdin=email)
    assert mail.exit_code == 5 and "looks like an e-mail message (.eml): use --format email" in mail.stderr
    with open_store(tmp_path / "j.db", FixedClock(NOW)) as store:
        assert store.scalar("SELECT count(*) FROM rejects") == 0  # not one reject per line
    # JSONL whose every line is a bad event is still rejects, as before: it is JSONL.
    bad = _cli(runner, tmp_path / "j.db", "ingest", "--format", "jsonl", stdin=b'{"channel": "sms"}\n')
    assert bad.exit_code == 6


# --- bounded reasons (H4) --------------------------------------------------------------------------

def test_a_12mb_string_in_an_input_gives_a_bounded_reason_stored_and_printed(runner, tmp_path) -> None:
    cfg = tmp_path / "big.toml"
    cfg.write_text("[ingest]\nmax_message_bytes = 30000000\n")
    huge_key = "k" * 12_000_000
    record = json.dumps({**event(1), huge_key: 1}).encode() + b"\n"
    (tmp_path / "big.jsonl").write_bytes(record)
    payload = {"object": "whatsapp_business_account",
               "entry": [{"id": "1", "changes": [{"field": "f" * 12_000_000, "value": {}}]}]}
    (tmp_path / "big.json").write_bytes(json.dumps(payload).encode())
    db = tmp_path / "b.db"
    args = ["--config", str(cfg), "--db", str(db), "ingest"]
    from autopilot_cli.cli import app

    human = runner.invoke(app, [*args, str(tmp_path / "big.jsonl"), str(tmp_path / "big.json")])
    assert human.exit_code == 6, human.output
    assert len(human.output) < 3000
    full = len(f"unknown field '{huge_key}'")
    assert f"… {full - 300:,} more characters" in human.output  # the rejected field's name, cut
    out = json.loads(runner.invoke(app, [*args, "--json", str(tmp_path / "big.jsonl"),
                                         str(tmp_path / "big.json")]).stdout)
    reason = out["errors"][0]["reason"]
    assert reason.startswith("unknown field 'kkk") and len(reason) < 400
    assert all(len(r) < 400 for r in out["ignored_reasons"])
    with open_store(db, FixedClock(NOW)) as store:
        stored = store.scalar("SELECT reason FROM rejects")
    assert stored == reason


# --- progress bar (item 14) -------------------------------------------------------------------------

def _run_on_pty(args: list[str], env: dict) -> str:
    import os
    import pty
    import select
    import subprocess
    import sys
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "autopilot_cli", *args], stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif proc.poll() is not None:
            break
    os.close(master)
    assert proc.wait(timeout=60) in (0, 6)
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_on_a_terminal_only(tmp_path, isolated_home) -> None:
    import os
    import subprocess
    import sys

    big = tmp_path / "big.jsonl"
    big.write_bytes(jsonl(*(event(i, text="hello " * 20) for i in range(6000))))
    assert big.stat().st_size > 1_000_000
    env = {**os.environ, "AUTOPILOT_HOME": str(isolated_home), "TERM": "xterm", "COLUMNS": "120"}

    on_terminal = _run_on_pty(["--db", str(tmp_path / "t1.db"), "ingest", str(big)], env)
    assert "ingesting big.jsonl" in on_terminal and "records" in on_terminal
    assert "ingested 6000," in on_terminal

    as_json = _run_on_pty(["--db", str(tmp_path / "t2.db"), "ingest", "--json", str(big)], env)
    assert "ingesting" not in as_json
    assert json.loads(as_json)["ingested"] == 6000

    piped = subprocess.run([sys.executable, "-m", "autopilot_cli", "--db", str(tmp_path / "t3.db"), "ingest", str(big)],
                           capture_output=True, text=True, env=env, timeout=120)
    assert piped.returncode == 0
    assert "ingesting" not in piped.stdout + piped.stderr and "\x1b" not in piped.stdout
    assert piped.stdout.startswith("ingested 6000,")
