"""``autopilot serve`` against a hostile client (issue 12, H3 and H4).

Real server on loopback (in a thread, or ``python -m autopilot_cli serve`` as a
subprocess), real sockets written byte by byte where httpx would tidy the
request up, a real SQLite file. The server's timeouts come from ``[server]`` and
are set small here; nothing waits on a sleep — every wait polls a condition
against a generous deadline.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from autopilot_cli.clock import FixedClock
from autopilot_cli.contacts import TokenInvalid, read_token
from autopilot_cli.contacts._unsubscribe import make_token
from autopilot_cli.db.migrations import open_store
from autopilot_cli.inbound._signature import sign
from autopilot_cli.server import WebhookApp, WebhookServer
from autopilot_cli.server._app import loggable_path

from . import test_server
from .conftest import NOW
from .test_server import (
    ONE_CLICK,
    ROOT,
    SECRETS,
    UNSUB,
    VERIFY,
    WA_SECRET,
    _contact_with_jobs,
    count,
    log_records,
    make_config,
    wa_message,
)

db = test_server.db  # fixtures shared with test_server.py
logs = test_server.logs

pytestmark = pytest.mark.slow  # real subprocesses and floods: `pytest -m "not slow"` skips them

DEADLINE = 20.0  # generous: the machine is shared; the server's own timeouts are far smaller


@contextmanager
def serving(db: Path, **server_settings) -> Iterator[WebhookServer]:
    app = WebhookApp(make_config(**server_settings), db, FixedClock(NOW), SECRETS)
    server = WebhookServer(("127.0.0.1", 0), app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(10)


def wait_for(condition, what: str, deadline: float = DEADLINE):
    end = time.monotonic() + deadline
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)  # polling interval, not synchronisation


def exchange(port: int, data: bytes, *, half_close: bool = False) -> bytes:
    """Send raw bytes, optionally half-close, and read until the server closes (or DEADLINE)."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_to_eof(sock)


def read_to_eof(sock: socket.socket) -> bytes:
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except ConnectionResetError:
        pass
    return out


def status_of(response: bytes) -> int | None:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.") else None


def get(port: int, path: str) -> httpx.Response:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client:
        return client.get(path)


# --- H3: bad input in a signed payload ---------------------------------------------------------


def signed_post(port: int, body: bytes) -> httpx.Response:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=DEADLINE) as client:
        return client.post("/webhooks/whatsapp", content=body,
                           headers={"X-Hub-Signature-256": sign(body, WA_SECRET)})


@pytest.mark.parametrize("body", [
    b'{"object":"whatsapp_business_account","entry":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    b'{"object":"whatsapp_business_account","entry":[{"id":' + b"7" * 5000 + b"}]}",
], ids=["deep-nesting", "5000-digit-number"])
def test_signed_payload_that_cannot_be_parsed_gets_400_not_500(db, logs, body) -> None:
    with serving(db) as server:
        r = signed_post(server.port, body)
    assert r.status_code == 400 and r.json() == {"error": "payload is not valid JSON for this webhook"}
    assert count(db, "SELECT count(*) FROM events") == 0
    assert "internal error" not in logs.getvalue()


def _with_bad_second_message(where: str) -> bytes:
    payload = json.loads(wa_message("wamid.GOOD", "keep me"))
    value = payload["entry"][0]["changes"][0]["value"]
    bad_value = json.loads(json.dumps(value))
    bad = dict(bad_value["messages"][0], id="wamid.BAD", **{"from": "16505550000"})
    if where == "text":
        bad["text"] = {"body": "half a pair: \ud83d"}
    bad_value["messages"] = [bad]
    # The sender's profile name: reaches the database write, past the parser's checks.
    bad_value["contacts"] = [{"profile": {"name": "Eve \udc00" if where == "name" else "Eve"},
                              "wa_id": "16505550000"}]
    payload["entry"][0]["changes"].append({"field": "messages", "value": bad_value})
    # ensure_ascii keeps the lone surrogate as a \\udXXX escape, which is valid JSON.
    return json.dumps(payload).encode("ascii")


@pytest.mark.parametrize("where", ["text", "name"])
def test_a_lone_surrogate_in_one_record_stores_the_good_one_and_rejects_the_bad(db, where) -> None:
    body = _with_bad_second_message(where)
    with serving(db) as server:
        r = signed_post(server.port, body)
        assert r.status_code == 200  # 2xx: Meta must not retry a payload that can never change
        # Meta redelivers the same bytes: still 200, nothing doubled.
        assert signed_post(server.port, body).status_code == 200
    conn = sqlite3.connect(db)
    try:
        events = conn.execute("SELECT external_id, text FROM events").fetchall()
        rejects = conn.execute("SELECT reason, raw, location FROM rejects").fetchall()
        contacts = conn.execute("SELECT count(*) FROM contacts").fetchone()[0]
    finally:
        conn.close()
    assert events == [("wamid.GOOD", "keep me")]
    assert len(rejects) == 1
    reason, raw, location = rejects[0]
    assert "surrogate" in reason and location is not None and "changes[1]" in location
    assert "wamid.BAD" in raw
    if where == "text":  # kept with the surrogate escaped, for the operator to see
        assert "\\ud83d" in raw
    assert contacts == 1  # the bad record's contact was rolled back with it


def test_a_parser_failing_midway_keeps_what_it_parsed_and_says_where_it_stopped(db, logs) -> None:
    # One envelope per line (as Meta's tools export them): the second line is nested too deep
    # for the JSON decoder, after the first was parsed and yielded.
    first = json.dumps(json.loads(wa_message("wamid.FIRST"))).encode()
    deep = b'{"object":"whatsapp_business_account","entry":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    with serving(db) as server:
        r = signed_post(server.port, first + b"\n" + deep + b"\n")
    assert r.status_code == 200
    assert count(db, "SELECT count(*) FROM events WHERE external_id = 'wamid.FIRST'") == 1
    assert count(db, "SELECT count(*) FROM rejects") >= 1
    assert "internal error" not in logs.getvalue()


# --- H3: request framing (smuggling) -----------------------------------------------------------


def _signed_head(body: bytes, *extra: str) -> bytes:
    lines = ["POST /webhooks/whatsapp HTTP/1.1", "Host: x", f"X-Hub-Signature-256: {sign(body, WA_SECRET)}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@pytest.mark.parametrize("headers", [
    lambda n: (f"Content-Length: {n}", "Content-Length: 0"),
    lambda n: ("Content-Length: 0", f"Content-Length: {n}"),
    lambda n: (f"Content-Length: {n}", f"Content-Length: {n}"),
    lambda n: (f"Content-Length: {n}, {n}",),
    lambda n: (f"Content-Length: {n}", "Transfer-Encoding: chunked"),
    lambda n: ("Transfer-Encoding: chunked", f"Content-Length: {n}"),
    lambda n: (f"Content-Length : {n}",),
    lambda n: ("X-Note: a", f" Content-Length: {n}"),
    lambda n: (f"Content-Length: +{n}",),
    lambda n: ("Content-Length: ²",),
    lambda n: ("Content-Length: " + "9" * 5000,),
], ids=["two-different", "two-different-reversed", "two-same", "list", "cl-and-te", "te-and-cl",
        "space-before-colon", "obs-fold", "plus-sign", "unicode-digit", "5000-digits"])
def test_ambiguous_framing_is_refused_with_400_and_nothing_is_stored(db, headers) -> None:
    body = wa_message("wamid.SMUGGLED")
    with serving(db) as server:
        response = exchange(server.port, _signed_head(body, *headers(len(body))) + body)
        assert status_of(response) == 400, response[:300]
        assert b"Connection: close" in response
        assert get(server.port, "/healthz").status_code == 200
    assert count(db, "SELECT count(*) FROM events") == 0


def test_a_request_whose_headers_never_end_is_not_dispatched(db, logs) -> None:
    contact, _ = _contact_with_jobs(db)
    token = make_token(UNSUB, contact, "email", NOW)
    with serving(db) as server:
        # Complete, the same request is answered 200 (the confirmation page) …
        assert status_of(exchange(server.port, f"GET /unsubscribe/{token} HTTP/1.1\r\nHost: x\r\n"
                                               "Connection: close\r\n\r\n".encode())) == 200
        # … but with the blank line missing, or even the request line's end, it is refused.
        for partial in (f"GET /unsubscribe/{token} HTTP/1.1\r\nHost: x\r\n",
                        f"GET /unsubscribe/{token} HTTP/1.1\r\nHost: x",
                        f"GET /unsubscribe/{token} HTTP/1.1"):
            response = exchange(server.port, partial.encode(), half_close=True)
            assert status_of(response) == 400, response[:300]
            assert b"Do you want to stop" not in response
        # HTTP/0.9 has no headers at all: refused too.
        for simple in (f"GET /unsubscribe/{token}\r\n", f"GET /unsubscribe/{token}\r\n\r\n"):
            response = exchange(server.port, simple.encode(), half_close=True)
            assert status_of(response) == 400 and b"Do you want to stop" not in response
    statuses = [r["status"] for r in log_records(logs) if r["logger"] == "access"]
    assert statuses.count(200) == 1


# --- H3: secrets stay out of the log -------------------------------------------------------------


def test_verify_and_unsubscribe_tokens_never_reach_the_log(db, logs) -> None:
    contact, _ = _contact_with_jobs(db)
    token = make_token(UNSUB, contact, "email", NOW)
    targets = [
        f"/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=42",
        f"/webhooks/whatsapp?hub.mode=subscribe;hub.verify_token={VERIFY};hub.challenge=42",
        f"/webhooks/whatsapp?hub%2Everify_token={VERIFY}&hub.mode=subscribe&hub.challenge=42",
        f"/webhooks/whatsapp?hub.verify_token={VERIFY}&hub.verify_token={VERIFY}",
        f"/webhooks/whatsapp?token={VERIFY}",
        f"/webhooks/whatsapp?{VERIFY}",
        f"/unsubscribe/{token}",
        f"/unsubscribe/{token}/",
        f"/unsubscribe/{token}?utm=1",
        f"//unsubscribe/{token}",
        f"/Unsubscribe/{token}",
        f"/%75nsubscribe/{token}",
        f"/unsubscribe%2F{token}",
    ]
    with serving(db) as server:
        for target in targets:
            response = exchange(server.port, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            assert status_of(response) is not None
        assert status_of(exchange(server.port, f"POST /unsubscribe/{token} HTTP/1.1\r\nHost: x\r\n"
                                               "Content-Type: application/x-www-form-urlencoded\r\n"
                                               "Content-Length: 26\r\nConnection: close\r\n\r\n"
                                               "List-Unsubscribe=One-Click".encode())) == 200
        wait_for(lambda: len([r for r in log_records(logs) if r["logger"] == "access"]) == len(targets) + 1,
                 "an access line per request")
    text = logs.getvalue()
    assert VERIFY not in text and token not in text and token[:20] not in text
    access = [r for r in log_records(logs) if r["logger"] == "access"]
    assert access[0]["path"] == "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=42"
    assert access[1]["path"] == "/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=42"
    assert {r["path"] for r in access[6:]} >= {"/unsubscribe/<token>", "/Unsubscribe/<token>"}


def test_loggable_path_is_an_allow_list() -> None:
    assert loggable_path("/webhooks/whatsapp?hub.mode=subscribe;hub.verify_token=s3cr3t") == \
        "/webhooks/whatsapp?hub.mode=subscribe"
    assert loggable_path("/x?a=s3cr3t") == "/x"
    assert loggable_path("/unsubscribe") == "/unsubscribe"
    assert loggable_path("/UNSUBSCRIBE/abc%2Fdef") == "/UNSUBSCRIBE/<token>"


# --- H3: only the canonical spelling of an unsubscribe token ------------------------------------


def _token_with(chars: str) -> str:
    for contact in range(1, 10_000):
        token = make_token(UNSUB, contact, "email", NOW)
        if all(c in token for c in chars):
            return token
    raise AssertionError("no token with " + chars)


def test_unsubscribe_token_variants_are_refused() -> None:
    token = _token_with("-_")
    variants = [token.replace("-", "+"), token.replace("_", "/"), token + "=", token + "==",
                token + "\n", " " + token, token + " ", token.replace("-", "+").replace("_", "/") + "=="]
    for variant in variants:
        with pytest.raises(TokenInvalid):
            read_token(UNSUB, variant)
    assert read_token(UNSUB, token).channel == "email"


def test_unsubscribe_token_variants_are_refused_over_http(db) -> None:
    contact, _ = _contact_with_jobs(db)
    token = next(t for t in (make_token(UNSUB, contact, "email", NOW - timedelta(seconds=s)) for s in range(100_000))
                 if "-" in t and "_" in t)
    swapped = token.replace("-", "+").replace("_", "/")
    encoded = token.replace("-", "%2B").replace("_", "%2F")
    variants = [swapped, encoded, token + "=", token + "%3D", token + "%3D%3D", token + "%0A", token + "%20",
                token.replace("-", "%2D")]
    body = b"List-Unsubscribe=One-Click"
    with serving(db) as server:
        for variant in variants:
            response = exchange(server.port, (
                f"POST /unsubscribe/{variant} HTTP/1.1\r\nHost: x\r\n"
                f"Content-Type: {ONE_CLICK['headers']['Content-Type']}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
            assert status_of(response) in (400, 403, 404), (variant, response[:200])
        assert count(db, "SELECT count(*) FROM consent_changes") == 0
        response = exchange(server.port, (f"POST /unsubscribe/{token} HTTP/1.1\r\nHost: x\r\n"
                                          f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body)
        assert status_of(response) == 200
    assert count(db, "SELECT count(*) FROM consent_changes") == 1


# --- H4: slow and flooding clients ----------------------------------------------------------------


def test_a_client_dribbling_its_headers_is_cut_off_at_the_header_deadline(db) -> None:
    # A per-read timeout never fires while a byte arrives every 50 ms; the header deadline does.
    with serving(db, header_timeout_seconds=0.5) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
        sock.sendall(b"POST /webhooks/whatsapp HTTP/1.1\r\nHost: x\r\nX-Padding: ")
        closed, sent = False, 0
        end = time.monotonic() + DEADLINE
        while not closed and time.monotonic() < end:
            try:
                sock.sendall(b"a")
                sent += 1
            except OSError:
                closed = True
                break
            # Waiting up to 50 ms for the server's FIN is also the attacker's pace.
            if select.select([sock], [], [], 0.05)[0]:
                try:
                    closed = sock.recv(4096) == b""
                except OSError:
                    closed = True
        sock.close()
        assert closed, f"the server never closed a connection dribbling its headers ({sent} bytes sent)"
        wait_for(lambda: server.open_connections == 0, "the slow connection's slot to be freed")
        assert get(server.port, "/healthz").status_code == 200


def test_silent_connections_and_slow_bodies_are_closed_and_nothing_is_dispatched(db) -> None:
    body = wa_message("wamid.SLOWBODY")
    with serving(db, header_timeout_seconds=0.3, body_timeout_seconds=0.3, idle_timeout_seconds=0.3) as server:
        silent = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
        slow_body = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
        slow_body.sendall(_signed_head(body, f"Content-Length: {len(body)}") + body[:50])
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_to_eof(silent) == b""
        assert read_to_eof(slow_body) == b""
        kept_alive = read_to_eof(idle)  # the answer, then the server ends the idle keep-alive
        assert status_of(kept_alive) == 200 and b"Connection: close" not in kept_alive
        for sock in (silent, slow_body, idle):
            sock.close()
        wait_for(lambda: server.open_connections == 0, "every slot to be freed")
    assert count(db, "SELECT count(*) FROM events") == 0


def test_connections_over_the_limit_get_503_and_service_resumes_when_they_go(db, logs) -> None:
    with serving(db, max_connections=3, header_timeout_seconds=60) as server, ExitStack() as stack:
        held = [stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE))
                for _ in range(3)]
        for sock in held:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # never finished
        wait_for(lambda: server.open_connections == 3, "three connections admitted")
        refused = exchange(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status_of(refused) == 503 and b"Retry-After: 5" in refused
        head, _, body = refused.partition(b"\r\n\r\n")
        assert json.loads(body) == {"error": "too many open connections"}
        assert f"Content-Length: {len(body)}".encode() in head
        for _ in range(5):
            assert status_of(exchange(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 503
        # A flood must not flood the log: one line for the first refusal, then one per 10 s at most.
        warnings = [r for r in log_records(logs, until="connection limit reached; refusing new connections with 503")
                    if r["msg"] == "connection limit reached; refusing new connections with 503"]
        assert [(w["max_connections"], w["refused_connections"]) for w in warnings] == [(3, 1)]
        for sock in held:
            sock.close()
        wait_for(lambda: server.open_connections == 0, "the held connections to be released")
        assert get(server.port, "/healthz").status_code == 200


def test_slowloris_flood_is_bounded_and_the_server_recovers_once_it_is_torn_down(db) -> None:
    limit, flood = 25, 300
    threads_before = threading.active_count()
    with serving(db, max_connections=limit, header_timeout_seconds=60) as server, ExitStack() as stack:
        sockets = []
        for _ in range(flood):
            sock = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE))
            try:
                sock.sendall(b"POST /webhooks/whatsapp HTTP/1.1\r\nHost: x\r\nX-A: ")
            except OSError:
                pass  # refused already
            sockets.append(sock)
        wait_for(lambda: server.open_connections == limit, "the limit to fill")
        # One thread per admitted connection, no more: the rest were answered 503 and closed.
        assert threading.active_count() <= threads_before + limit + 2
        assert server.open_connections == limit
        # The flood is torn down: the server serves again at once (not after its 60 s timeout).
        for sock in sockets:
            sock.close()
        wait_for(lambda: server.open_connections == 0, "the flood's connections to be released")
        assert get(server.port, "/healthz").status_code == 200
        wait_for(lambda: threading.active_count() <= threads_before + 2, "the request threads to end")


def _rss_and_threads(pid: int) -> tuple[int, int]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]), int(fields["Threads"])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_serve_subprocess_under_a_slowloris_flood_stays_small_and_recovers(tmp_path) -> None:
    limit, flood = 40, 600
    config = tmp_path / "autopilot.toml"
    config.write_text(f'[database]\npath = "serve.db"\n[server]\nmax_connections = {limit}\n'
                      'header_timeout_seconds = 60\n')
    open_store(tmp_path / "serve.db", FixedClock(NOW)).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "autopilot_cli", "--config", str(config), "serve", "--port", "0"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, cwd=tmp_path, text=True)
    try:
        port = None
        while port is None:
            line = proc.stderr.readline()
            assert line, f"serve exited early: {proc.poll()}"
            record = json.loads(line)
            port = record.get("port") if record["msg"] == "listening" else None
        assert get(port, "/healthz").status_code == 200
        rss_before, _ = _rss_and_threads(proc.pid)
        with ExitStack() as stack:
            for _ in range(flood):
                sock = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=DEADLINE))
                try:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nX-A: ")
                except OSError:
                    pass
            wait_for(lambda: _rss_and_threads(proc.pid)[1] >= limit, "the limit to fill")
            rss_during, threads_during = _rss_and_threads(proc.pid)
        # The flood is gone (every socket closed): serving again right away.
        wait_for(lambda: _ok(port), "serve to answer after the flood")
        assert threads_during <= limit + 3
        assert rss_during - rss_before < 60_000  # kB: bounded by max_connections, not by the flood
    finally:
        proc.terminate()
        proc.wait(timeout=DEADLINE)
        proc.stderr.close()


def _ok(port: int) -> bool:
    try:
        return get(port, "/healthz").status_code == 200
    except httpx.HTTPError:
        return False
