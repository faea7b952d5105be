"""``autopilot serve``: a real HTTP client (httpx) on loopback against the running server.

Most tests run the server in a thread of this process (``running``); one runs
``python -m autopilot_cli serve`` as a subprocess and stops it with SIGTERM
while a request is in flight. Nothing is mocked: signatures are real HMACs,
the database is a real SQLite file shared with a real ``process_events`` and
a real lock holder.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from autopilot_cli.clock import FixedClock, to_iso
from autopilot_cli.config import config_from_dict
from autopilot_cli.contacts import TokenInvalid, read_token, unsubscribe_url
from autopilot_cli.contacts._unsubscribe import make_token
from autopilot_cli.db.connection import connect
from autopilot_cli.db.migrations import migrate, open_store
from autopilot_cli.decide import process_events
from autopilot_cli.decide._process import Services
from autopilot_cli.drafting import KnowledgeIndex, OfflineDrafter
from autopilot_cli.errors import ConfigError
from autopilot_cli.inbound import ingest_bytes
from autopilot_cli.inbound._signature import sign
from autopilot_cli.secrets import Secrets
from autopilot_cli.server import WebhookApp, WebhookServer
from autopilot_cli.server._app import LOGGER_NAME, JsonLogFormatter, is_one_click, loggable_path

from .conftest import NOW, fixture_bytes

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "autopilot_cli" / "templates" / "knowledge.toml"
WA_SECRET, IG_SECRET, VERIFY, UNSUB = "wa-app-secret", "ig-app-secret", "verify-me-please", "u" * 32
SECRETS = Secrets({"WA_SECRET": WA_SECRET, "IG_SECRET": IG_SECRET, "WA_VERIFY": VERIFY, "UNSUB_KEY": UNSUB})


def make_config(consent_scope: str = "contact", **server):
    return config_from_dict({
        "server": {"unsubscribe_secret_env": "UNSUB_KEY", "public_url": "https://hooks.example.com", **server},
        "consent": {"scope": consent_scope},
        "channels": {
            "whatsapp": {"adapter": "whatsapp", "phone_number_id": "106540352242922",
                         "app_secret_env": "WA_SECRET", "verify_token_env": "WA_VERIFY"},
            # No verify token configured for Instagram: its handshake must fail closed.
            "instagram": {"adapter": "instagram", "app_secret_env": "IG_SECRET"},
            "email": {"adapter": "outbox"},
        },
    })


@pytest.fixture
def db(tmp_path: Path, clock) -> Path:
    path = tmp_path / "serve.db"
    open_store(path, clock).close()
    return path


@contextmanager
def running(db: Path, config=None, secrets: Secrets = SECRETS) -> Iterator[httpx.Client]:
    app = WebhookApp(config or make_config(), db, FixedClock(NOW), secrets)
    server = WebhookServer(("127.0.0.1", 0), app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=15) as client:
            yield client
    finally:
        server.stop()
        thread.join(5)


@pytest.fixture
def client(db: Path) -> Iterator[httpx.Client]:
    with running(db) as c:
        yield c


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The server's JSON log lines, as the serve command writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def log_records(stream: io.StringIO, until: str = "request") -> list[dict]:
    """Parsed log lines; waits briefly for a line with msg ``until`` (the access line is written after the reply)."""
    deadline = time.monotonic() + 20  # generous: returns as soon as the line is there
    while True:
        records = [json.loads(line) for line in stream.getvalue().splitlines()]
        if any(r["msg"] == until for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.01)


def post(client: httpx.Client, body: bytes, channel: str = "whatsapp", secret: str | None = WA_SECRET,
         **headers: str) -> httpx.Response:
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(body, secret)
    return client.post(f"/webhooks/{channel}", content=body, headers=headers)


def count(db: Path, sql: str, params: tuple = ()) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchone()[0]
    finally:
        conn.close()


def wa_message(message_id: str, text: str = "Is this still available?") -> bytes:
    payload = json.loads(fixture_bytes("whatsapp", "text.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"] = [dict(value["messages"][0], id=message_id, text={"body": text})]
    return json.dumps(payload).encode()


def wa_status(status: str, ts: int, msg_id: str = "wamid.OUT1") -> bytes:
    payload = json.loads(fixture_bytes("whatsapp", "statuses.json"))
    record = {"id": msg_id, "status": status, "timestamp": str(ts), "recipient_id": "16505551234"}
    payload["entry"][0]["changes"][0]["value"]["statuses"] = [record]
    return json.dumps(payload).encode()


# --- verification handshake --------------------------------------------------------------


def test_handshake_echoes_the_challenge_when_the_verify_token_matches(client, logs) -> None:
    r = client.get("/webhooks/whatsapp", params={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                                 "hub.challenge": "1158201444"})
    assert (r.status_code, r.text) == (200, "1158201444")
    access = [rec for rec in log_records(logs) if rec["logger"] == "access"]
    assert access[-1]["path"] == "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1158201444"
    assert VERIFY not in logs.getvalue()


@pytest.mark.parametrize("params", [
    {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
    {"hub.mode": "subscribe", "hub.verify_token": VERIFY[:-1], "hub.challenge": "1"},
    {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1"},
    {"hub.challenge": "1"},
])
def test_handshake_refuses_a_wrong_token_or_mode(client, params) -> None:
    r = client.get("/webhooks/whatsapp", params=params)
    assert r.status_code == 403 and "1" != r.text


def test_handshake_fails_closed_when_no_verify_token_is_configured(client, logs) -> None:
    r = client.get("/webhooks/instagram", params={"hub.mode": "subscribe", "hub.verify_token": "",
                                                  "hub.challenge": "1"})
    assert r.status_code == 403
    assert any(rec["msg"] == "verify token not configured" for rec in log_records(logs))


# --- signed posts ------------------------------------------------------------------------


def test_good_signature_is_stored_and_acknowledged(client, db) -> None:
    r = post(client, fixture_bytes("whatsapp", "text.json"))
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert count(db, "SELECT count(*) FROM events WHERE channel = 'whatsapp' AND format = 'whatsapp'") == 2


def test_instagram_is_signed_with_its_own_secret(client, db) -> None:
    body = fixture_bytes("instagram", "message_text.json")
    assert post(client, body, "instagram", WA_SECRET).status_code == 403
    assert post(client, body, "instagram", IG_SECRET).status_code == 200
    assert count(db, "SELECT count(*) FROM events WHERE channel = 'instagram'") == 1


def test_bad_signature_is_refused_and_logged_without_the_body(client, db, logs) -> None:
    body = fixture_bytes("whatsapp", "text.json")
    r = post(client, body, secret="not-the-app-secret")
    assert r.status_code == 403
    assert count(db, "SELECT count(*) FROM events") == 0
    text = logs.getvalue()
    assert "signature mismatch" in text
    assert "another color" not in text and "Sheena" not in text and WA_SECRET not in text


def test_missing_signature_is_refused(client, db) -> None:
    r = post(client, fixture_bytes("whatsapp", "text.json"), secret=None)
    assert r.status_code == 401
    assert count(db, "SELECT count(*) FROM events") == 0


@pytest.mark.parametrize("header", ["sha256=", "sha1=abc", "sha256=" + "g" * 64, "garbage"])
def test_malformed_signature_is_refused(client, db, header) -> None:
    body = fixture_bytes("whatsapp", "text.json")
    r = client.post("/webhooks/whatsapp", content=body, headers={"X-Hub-Signature-256": header})
    assert r.status_code == 403
    assert count(db, "SELECT count(*) FROM events") == 0


def test_body_altered_by_one_byte_is_refused(client, db) -> None:
    body = fixture_bytes("whatsapp", "text.json")
    signature = sign(body, WA_SECRET)
    altered = bytearray(body)
    altered[body.index(b"another color") + 8] ^= 0x01  # 'c' -> 'b': still valid JSON, one byte differs
    altered = bytes(altered)
    assert len(altered) == len(body) and sum(a != b for a, b in zip(body, altered)) == 1
    r = client.post("/webhooks/whatsapp", content=altered, headers={"X-Hub-Signature-256": signature})
    assert r.status_code == 403
    assert count(db, "SELECT count(*) FROM events") == 0


def test_unsigned_payloads_are_never_accepted_when_no_app_secret_is_configured(db, logs) -> None:
    with running(db, secrets=Secrets({"WA_VERIFY": VERIFY})) as c:  # WA_SECRET unset
        body = fixture_bytes("whatsapp", "text.json")
        for signature in (None, sign(body, WA_SECRET)):
            r = c.post("/webhooks/whatsapp", content=body,
                       headers={"X-Hub-Signature-256": signature} if signature else {})
            assert r.status_code == 503
    assert count(db, "SELECT count(*) FROM events") == 0
    assert "signature checking not configured" in logs.getvalue()


def test_replayed_payload_is_acknowledged_twice_and_stored_once(client, db) -> None:
    body = wa_message("wamid.REPLAY")
    assert post(client, body).status_code == 200
    assert post(client, body).status_code == 200
    assert count(db, "SELECT count(*) FROM events WHERE external_id = 'wamid.REPLAY'") == 1


def test_oversized_body_gets_413_and_nothing_is_read_or_stored(db) -> None:
    with running(db, make_config(max_body_bytes=2048)) as c:
        small = wa_message("wamid.SMALL")
        assert len(small) < 2048 and post(c, small).status_code == 200
        big = wa_message("wamid.BIG", "x" * 4000)
        assert post(c, big).status_code == 413
        # The connection was closed; the client reconnects and the server still works.
        assert c.get("/healthz").status_code == 200
    assert count(db, "SELECT count(*) FROM events WHERE external_id = 'wamid.BIG'") == 0


def test_a_three_megabyte_batch_is_accepted_at_the_default_limit(client, db) -> None:
    payload = json.loads(fixture_bytes("whatsapp", "text.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    template = value["messages"][0]
    value["messages"] = [dict(template, id=f"wamid.B{i}", text={"body": f"{i} " + "y" * 990}) for i in range(2700)]
    body = json.dumps(payload).encode()
    assert 2_900_000 < len(body) <= 3 * 1024 * 1024
    assert post(client, body).status_code == 200
    assert count(db, "SELECT count(*) FROM events") == 2700
    assert post(client, body + b" " * (3 * 1024 * 1024 + 1 - len(body))).status_code == 413


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe\x00garbage"])
def test_invalid_json_gets_400_and_nothing_is_stored(client, db, body) -> None:
    assert post(client, body).status_code == 400
    assert count(db, "SELECT count(*) FROM events") == 0
    assert count(db, "SELECT count(*) FROM rejects") == 0


def test_wrong_object_is_kept_in_rejects_like_autopilot_ingest(client, db) -> None:
    # Authentic (signed) but not a WhatsApp envelope: ingest keeps it in rejects
    # and the provider gets 200 — retrying could never make it parse.
    r = post(client, fixture_bytes("instagram", "message_text.json"))
    assert r.status_code == 200
    assert count(db, "SELECT count(*) FROM events") == 0
    assert count(db, "SELECT count(*) FROM rejects WHERE reason LIKE 'object is %'") == 1


def test_partial_rejects_inside_a_good_payload_still_get_200(client, db) -> None:
    payload = json.loads(wa_message("wamid.GOOD"))
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"].append({"from": "16505551234", "type": "text", "text": {"body": "no id"}})
    assert post(client, json.dumps(payload).encode()).status_code == 200
    assert count(db, "SELECT count(*) FROM events") == 1
    assert count(db, "SELECT count(*) FROM rejects") == 1


def _job(
    db: Path, provider_id: str, state: str = "sent", channel: str = "whatsapp", contact_id: int | None = None
) -> int:
    store = open_store(db, FixedClock(NOW))
    try:
        with store.transaction() as conn:
            ev = conn.execute("SELECT id, contact_id FROM events ORDER BY id LIMIT 1").fetchone()
            contact = contact_id or ev["contact_id"]
            draft = conn.execute(
                "INSERT INTO drafts (event_id, contact_id, channel, text, created_at, updated_at, state) "
                "VALUES (?, ?, ?, 'hi', 'now', 'now', 'scheduled') "
                "ON CONFLICT (event_id) DO UPDATE SET text = 'hi' RETURNING id",
                (ev["id"], contact, channel)).fetchone()[0]
            # One draft per event: extra jobs get their own dummy event.
            if conn.execute("SELECT 1 FROM jobs WHERE draft_id = ?", (draft,)).fetchone():
                event = conn.execute(
                    "INSERT INTO events (channel, external_id, contact_id, sender, message_type, text, format, "
                    "received_at, ingested_at) VALUES (?, ?, ?, 's', 'text', 't', 'jsonl', 'now', 'now')",
                    (channel, f"x-{provider_id}", contact)).lastrowid
                draft = conn.execute(
                    "INSERT INTO drafts (event_id, contact_id, channel, text, created_at, updated_at, state) "
                    "VALUES (?, ?, ?, 'hi', 'now', 'now', 'scheduled')", (event, contact, channel)).lastrowid
            return int(
                conn.execute(
                    "INSERT INTO jobs (draft_id, event_id, contact_id, channel, recipient, send_key, text, "
                    "text_sha256, send_at, state, provider_message_id, created_at, updated_at) "
                    "VALUES (?, (SELECT event_id FROM drafts WHERE id = ?), ?, ?, 'r', ?, 'hi', 'h', 'now', ?, ?, "
                    "'now', 'now')",
                    (draft, draft, contact, channel, f"key-{provider_id}", state, provider_id),
                ).lastrowid
            )
    finally:
        store.close()


def test_statuses_out_of_order_never_regress_a_job(client, db) -> None:
    assert post(client, wa_message("wamid.IN1")).status_code == 200
    job = _job(db, "wamid.OUT1")
    assert post(client, wa_status("read", 1764072600)).status_code == 200
    assert post(client, wa_status("delivered", 1764072500)).status_code == 200  # late
    assert post(client, wa_status("read", 1764072600)).status_code == 200  # replay
    assert count(db, "SELECT count(*) FROM delivery_statuses WHERE job_id = ?", (job,)) == 2
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT delivery_status FROM jobs WHERE id = ?", (job,)).fetchone()[0] == "read"
    conn.close()


@pytest.mark.parametrize("channel, fixture, secret", [
    ("instagram", "message_echo.json", IG_SECRET),
    ("whatsapp", "smb_message_echoes.json", WA_SECRET),
])
def test_echo_messages_are_acknowledged_and_not_stored_as_inbound(client, db, channel, fixture, secret) -> None:
    assert post(client, fixture_bytes(channel, fixture), channel, secret).status_code == 200
    assert count(db, "SELECT count(*) FROM events") == 0


# --- the database is busy --------------------------------------------------------------------


def test_a_lock_held_past_lock_retry_seconds_gets_503_then_the_retry_is_stored(db, logs) -> None:
    holder = sqlite3.connect(db, isolation_level=None)
    with running(db, make_config(lock_retry_seconds=0.3)) as c:
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        r = post(c, wa_message("wamid.LOCKED"))
        elapsed = time.monotonic() - started
        holder.execute("ROLLBACK")
        # ... and then gave up while the lock was still held: the 503 came before the ROLLBACK above.
        assert r.status_code == 503 and r.headers["Retry-After"]
        assert elapsed > 0.25  # it waited out lock_retry_seconds (load only lengthens this) ...
        assert count(db, "SELECT count(*) FROM events") == 0  # never 200 for something not stored
        assert post(c, wa_message("wamid.LOCKED")).status_code == 200  # Meta's retry
    holder.close()
    assert count(db, "SELECT count(*) FROM events WHERE external_id = 'wamid.LOCKED'") == 1
    assert "database locked; answered 503" in logs.getvalue()


def test_concurrent_posts_while_process_and_a_writer_hold_the_lock(db, logs) -> None:
    config = make_config()
    stop = threading.Event()
    errors: list[BaseException] = []
    processed = [0]

    def processor() -> None:
        store = open_store(db, FixedClock(NOW))
        services = Services(drafter=OfflineDrafter(), index=KnowledgeIndex.from_file(KNOWLEDGE))
        try:
            while not stop.is_set():
                processed[0] += process_events(store, config, FixedClock(NOW), services).processed
                time.sleep(0.01)
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    def writer() -> None:
        # Another process's short write transactions (like `execute` claiming jobs).
        conn = sqlite3.connect(db, isolation_level=None, timeout=10)
        try:
            while not stop.is_set():
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO audit_log (at, actor, action, object_type) VALUES ('now', 't', 'x', 'y')")
                time.sleep(0.01)
                conn.execute("COMMIT")
                time.sleep(0.01)
        except BaseException as exc:
            errors.append(exc)
        finally:
            conn.close()

    statuses: list[int] = []
    lock = threading.Lock()
    with running(db, config) as c:
        background = [threading.Thread(target=processor), threading.Thread(target=writer)]
        for t in background:
            t.start()

        def client_thread(n: int) -> None:
            with httpx.Client(base_url=str(c.base_url), timeout=30) as own:
                for i in range(25):
                    r = post(own, wa_message(f"wamid.C{n}-{i}", f"hello {n} {i}"))
                    with lock:
                        statuses.append(r.status_code)

        clients = [threading.Thread(target=client_thread, args=(n,)) for n in range(8)]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        stop.set()
        for t in background:
            t.join()
    assert not errors, errors
    assert statuses == [200] * 200
    assert count(db, "SELECT count(*) FROM events WHERE external_id LIKE 'wamid.C%'") == 200
    assert processed[0] > 0
    assert "locked" not in logs.getvalue()


def test_a_missing_database_gets_503_and_an_unhealthy_healthz(tmp_path) -> None:
    missing = tmp_path / "gone.db"
    with running(missing) as c:
        assert post(c, wa_message("wamid.X")).status_code == 503
        assert c.get("/healthz").status_code == 503
    assert not missing.exists()


# --- health ---------------------------------------------------------------------------------


def test_healthz_ok_when_migrations_are_current(client) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_healthz_503_when_migrations_are_pending(tmp_path, clock) -> None:
    path = tmp_path / "old.db"
    store = connect(path)
    migrate(store, clock, upto="m001_contacts_and_events")
    store.close()
    with running(path) as c:
        r = c.get("/healthz")
    assert r.status_code == 503 and r.json()["reason"] == "migrations pending"


def test_unknown_paths_and_methods(client) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/webhooks/linkedin").status_code == 404
    assert client.post("/healthz", content=b"").status_code == 405
    assert client.put("/webhooks/whatsapp", content=b"x").status_code == 501
    assert client.post("/webhooks/whatsapp", content=b"x", headers={"Transfer-Encoding": "chunked"}).status_code in (
        400,
        411,
    )


# --- unsubscribe ----------------------------------------------------------------------------


def _contact_with_jobs(db: Path) -> tuple[int, dict[str, int]]:
    store = open_store(db, FixedClock(NOW))
    try:
        record = {"channel": "email", "id": "m1", "from": "ana@example.org", "text": "hi",
                  "received_at": to_iso(NOW - timedelta(minutes=5))}
        ingest_bytes(store, json.dumps(record).encode() + b"\n", fmt="jsonl", config=make_config(),
                     clock=FixedClock(NOW), secrets=Secrets({}))
        contact = int(store.scalar("SELECT contact_id FROM events WHERE external_id = 'm1'"))
    finally:
        store.close()
    jobs = {
        "scheduled": _job(db, "p1", "scheduled", "email"),
        "retry_wait": _job(db, "p2", "retry_wait", "email"),
        "sent": _job(db, "p3", "sent", "email"),
        "other_channel": _job(db, "p4", "scheduled", "whatsapp", contact_id=contact),
    }
    return contact, jobs


def job_states(db: Path) -> dict[int, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT id, state FROM jobs").fetchall())
    finally:
        conn.close()


ONE_CLICK = {"content": b"List-Unsubscribe=One-Click",
             "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


def test_unsubscribe_get_shows_a_form_and_changes_nothing(client, db) -> None:
    contact, _ = _contact_with_jobs(db)
    before = job_states(db)
    r = client.get(f"/unsubscribe/{make_token(UNSUB, contact, 'email', NOW)}")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert '<form method="post">' in r.text and 'name="List-Unsubscribe" value="One-Click"' in r.text
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    assert count(db, "SELECT count(*) FROM consent_changes") == 0
    assert job_states(db) == before


def test_unsubscribe_post_opts_out_and_cancels_scheduled_jobs(client, db, logs) -> None:
    contact, jobs = _contact_with_jobs(db)
    token = make_token(UNSUB, contact, "email", NOW - timedelta(days=40))  # old links keep working
    r = client.post(f"/unsubscribe/{token}", **ONE_CLICK)
    assert r.status_code == 200 and "unsubscribed" in r.text
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    change = conn.execute("SELECT * FROM consent_changes").fetchone()
    assert (change["contact_id"], change["action"], change["scope"], change["category"], change["source"],
            change["rule"]) == (contact, "opt_out", "all", "all", "unsubscribe_link", "rfc8058 one-click")
    assert conn.execute("SELECT state FROM consent WHERE contact_id = ?", (contact,)).fetchone()[0] == "opted_out"
    conn.close()
    states = job_states(db)
    assert states[jobs["scheduled"]] == states[jobs["retry_wait"]] == states[jobs["other_channel"]] == "cancelled"
    assert states[jobs["sent"]] == "sent"
    # Posting again is harmless: still 200, one audit row.
    assert client.post(f"/unsubscribe/{token}", **ONE_CLICK).status_code == 200
    assert count(db, "SELECT count(*) FROM consent_changes") == 1
    assert token not in logs.getvalue()


def test_unsubscribe_with_channel_scope_cancels_only_that_channel(db) -> None:
    contact, jobs = _contact_with_jobs(db)
    with running(db, make_config(consent_scope="channel")) as c:
        assert c.post(f"/unsubscribe/{make_token(UNSUB, contact, 'email', NOW)}", **ONE_CLICK).status_code == 200
    states = job_states(db)
    assert states[jobs["scheduled"]] == "cancelled" and states[jobs["other_channel"]] == "scheduled"
    assert count(db, "SELECT count(*) FROM consent WHERE scope = 'email' AND state = 'opted_out'") == 1


def test_unsubscribe_accepts_multipart_form_data(client, db) -> None:
    contact, _ = _contact_with_jobs(db)
    r = client.post(f"/unsubscribe/{make_token(UNSUB, contact, 'email', NOW)}",
                    files={"List-Unsubscribe": (None, "One-Click")})
    assert r.status_code == 200
    assert count(db, "SELECT count(*) FROM consent_changes") == 1


@pytest.mark.parametrize(
    "content", [b"", b"List-Unsubscribe=Yes", b"foo=bar", b"List-Unsubscribe=One-Click&List-Unsubscribe=x"]
)
def test_unsubscribe_post_needs_the_one_click_body(client, db, content) -> None:
    contact, _ = _contact_with_jobs(db)
    r = client.post(f"/unsubscribe/{make_token(UNSUB, contact, 'email', NOW)}", content=content,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400
    assert count(db, "SELECT count(*) FROM consent_changes") == 0


def test_tampered_or_foreign_unsubscribe_tokens_are_refused(client, db) -> None:
    contact, _ = _contact_with_jobs(db)
    token = make_token(UNSUB, contact, "email", NOW)
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for bad, status in ((flipped, 403), (make_token("another-secret-1234", contact, "email", NOW), 403),
                        ("not-a-token", 400), (token + "x", 400)):
        assert client.post(f"/unsubscribe/{bad}", **ONE_CLICK).status_code == status, bad
        assert client.get(f"/unsubscribe/{bad}").status_code == status
    assert count(db, "SELECT count(*) FROM consent_changes") == 0
    assert client.post(f"/unsubscribe/{make_token(UNSUB, 999_999, 'email', NOW)}", **ONE_CLICK).status_code == 404


def test_unsubscribe_without_a_configured_secret_is_503(db) -> None:
    with running(db, secrets=Secrets({"WA_SECRET": WA_SECRET})) as c:
        assert c.post(f"/unsubscribe/{make_token(UNSUB, 1, 'email', NOW)}", **ONE_CLICK).status_code == 503


# --- tokens and helpers (no server) -----------------------------------------------------------


def test_token_round_trip_and_every_single_character_change_is_rejected() -> None:
    token = make_token(UNSUB, 42, "email", NOW)
    parsed = read_token(UNSUB, token)
    assert (parsed.contact_id, parsed.channel, parsed.issued_at) == (42, "email", NOW)
    assert len(token) < 64
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for i in range(len(token)):
        for ch in alphabet[:8] + alphabet[-4:]:
            if ch == token[i]:
                continue
            with pytest.raises(TokenInvalid):
                read_token(UNSUB, token[:i] + ch + token[i + 1:])
    with pytest.raises(TokenInvalid):
        read_token("x" * 32, token)
    with pytest.raises(TokenInvalid, match="expired"):
        read_token(UNSUB, token, now=NOW + timedelta(days=2), max_age_seconds=86400)
    with pytest.raises(ConfigError):
        make_token("short", 1, "email", NOW)


def test_unsubscribe_url_uses_public_url() -> None:
    url = unsubscribe_url(make_config(), SECRETS, 7, "email", NOW)
    assert url.startswith("https://hooks.example.com/unsubscribe/")
    assert read_token(UNSUB, url.rsplit("/", 1)[1]).contact_id == 7


def test_loggable_path_drops_secrets() -> None:
    assert loggable_path("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=s3&hub.challenge=9") == \
        "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=9"
    assert loggable_path("/unsubscribe/AbC123") == "/unsubscribe/<token>"


def test_is_one_click_encodings() -> None:
    assert is_one_click("application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click")
    assert is_one_click(None, b"List-Unsubscribe=One-Click")
    assert not is_one_click("text/plain", b"List-Unsubscribe=One-Click")
    body = (b"--b\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b--\r\n")
    assert is_one_click("multipart/form-data; boundary=b", body)
    assert not is_one_click("multipart/form-data; boundary=b", body.replace(b"One-Click", b"No"))


# --- the real command, stopped with SIGTERM ---------------------------------------------------


def test_serve_subprocess_finishes_an_in_flight_request_on_sigterm(tmp_path) -> None:
    config_path = tmp_path / "autopilot.toml"
    config_path.write_text(
        '[database]\npath = "serve.db"\n'
        '[channels.whatsapp]\nadapter = "whatsapp"\nphone_number_id = "1"\n'
        'app_secret_env = "WA_SECRET"\nverify_token_env = "WA_VERIFY"\n'
    )
    open_store(tmp_path / "serve.db", FixedClock(NOW)).close()
    env = {**os.environ, "WA_SECRET": WA_SECRET, "WA_VERIFY": VERIFY, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "autopilot_cli", "--config", str(config_path), "serve", "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=tmp_path, text=True,
    )
    lines: list[str] = []
    try:
        port = None
        deadline = time.monotonic() + 20
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line, f"server exited early: {proc.poll()} {lines}"
            lines.append(line)
            record = json.loads(line)
            if record["msg"] == "listening":
                port = record["port"]
        assert port
        base = f"http://127.0.0.1:{port}"
        # An idle keep-alive connection must not hold the shutdown up.
        idle = httpx.Client(base_url=base, timeout=10)
        assert idle.get("/healthz").status_code == 200
        # A request in flight: headers and half the body sent, then SIGTERM.
        body = wa_message("wamid.INFLIGHT")
        head = (f"POST /webhooks/whatsapp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"X-Hub-Signature-256: {sign(body, WA_SECRET)}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(head + body[:100])
        # The server accepts connections in order: once a later connection has been answered, the
        # half-sent request's connection has been accepted and is being handled.
        with httpx.Client(base_url=base, timeout=10) as later:
            assert later.get("/healthz").status_code == 200
        proc.send_signal(signal.SIGTERM)
        while (line := proc.stderr.readline()) and json.loads(line)["msg"] != "stopping":
            lines.append(line)
        assert line, f"server exited without logging 'stopping': {proc.poll()} {lines}"
        lines.append(line)
        assert proc.poll() is None  # told to stop, and still finishing the request
        sock.sendall(body[100:])
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
        sock.close()
        assert response.startswith(b"HTTP/1.1 200 "), response[:200]
        assert b"Connection: close" in response
        assert proc.wait(timeout=10) == 0
        idle.close()
        rest = proc.stderr.read()
        lines.extend(rest.splitlines(keepends=True))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        proc.stdout.close()
    assert count(tmp_path / "serve.db", "SELECT count(*) FROM events WHERE external_id = 'wamid.INFLIGHT'") == 1
    records = [json.loads(line) for line in lines if line.strip()]
    assert any(r["msg"] == "stopping" and r["signal"] == "SIGTERM" for r in records)
    assert records[-1]["msg"] == "stopped"
    assert all("Traceback" not in line for line in lines)
    assert "Is this still available" not in "".join(lines)


def test_serve_reports_an_address_in_use_as_a_one_line_error(runner, db) -> None:
    from autopilot_cli.cli import app

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        result = runner.invoke(app, ["--db", str(db), "serve", "--port", str(taken.getsockname()[1])])
    finally:
        taken.close()
    assert result.exit_code == 1
    assert "cannot listen on 127.0.0.1:" in result.output and "Traceback" not in result.output


def test_unsubscribe_cancels_a_job_a_sending_run_has_claimed(client, db) -> None:
    """The link path once skipped 'claimed' jobs, which the opt-out message path cancelled: one
    implementation now (consent.opt_out_and_cancel) for every way a contact opts out."""
    contact, _ = _contact_with_jobs(db)
    claimed = _job(db, "p5", "claimed", "email")
    token = make_token(UNSUB, contact, "email", NOW)
    assert client.post(f"/unsubscribe/{token}", **ONE_CLICK).status_code == 200
    assert job_states(db)[claimed] == "cancelled"
    assert count(db, f"SELECT count(*) FROM jobs WHERE id = {claimed} AND error = 'contact unsubscribed'") == 1
