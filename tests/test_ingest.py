from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autopilot_cli.clock import FixedClock
from autopilot_cli.config import Config, config_from_dict
from autopilot_cli.errors import ConfigError, InputError, SecretMissing, SignatureMismatch, UnknownFormat
from autopilot_cli.ingest import ingest_bytes
from autopilot_cli.migrations import open_store
from autopilot_cli.secrets import Secrets
from autopilot_cli.signature import sign

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
