"""``autopilot serve``: the webhook receiver (request handling, no printing).

Endpoints (README "autopilot serve"):

- ``GET  /webhooks/{whatsapp,instagram}`` — Meta's verification handshake.
- ``POST /webhooks/{whatsapp,instagram}`` — size limit, ``X-Hub-Signature-256``
  checked over the raw body before anything is parsed, then stored through
  ``ingest.ingest_bytes`` — exactly the code ``autopilot ingest`` runs.
- ``GET|POST /unsubscribe/<token>`` — RFC 8058 one-click unsubscribe.
- ``GET  /healthz`` — database reachable and migrations current.

**Why the standard library's ``ThreadingHTTPServer``** and not uvicorn +
Starlette: the work per request is an HMAC and one short SQLite transaction
(about 0.5 ms), and SQLite takes one writer at a time whatever the framework,
so an event loop buys no throughput — a threaded server does >500 signed
posts/s on two cores (``benchmarks/bench_webhooks.py``). Blocking sqlite3 calls
would need a thread pool under asyncio anyway. It adds no runtime dependency
(and none of an ASGI stack's CVE surface), and it sits behind the operator's
TLS proxy, which handles TLS, HTTP/2 and slow clients. What it lacks we add
here, in little code: a body limit checked before reading, structured access
logs without secrets, and a graceful stop that closes idle keep-alive
connections and lets in-flight requests finish.

Concurrency: one thread per connection (``ThreadingMixIn``). Each request
checks a SQLite connection out of a small pool (``StorePool``, connections
opened with ``migrations.open_store``) and back in, so a connection is only
ever used by one thread at a time and is reused across short-lived
proxy connections. Writes use ``BEGIN IMMEDIATE`` (``Store.transaction``),
waiting up to the busy timeout; a database still locked after
``[server] lock_retry_seconds`` answers 503, so Meta retries. Never 200 for
a payload that was not committed.

Status codes for webhook POSTs: 200 stored (also duplicates, echoes, records
kept in ``rejects``); 400 not JSON at all (``InputError``: nothing stored;
Meta retries any non-2xx, so the operator sees it in the log); 401 no
signature; 403 bad signature; 411 no Content-Length; 413 too large; 503
signature checking not configured, or the database could not store it.
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import hmac
import json
import logging
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .clock import Clock, to_iso
from .config import Config
from .consent import record_change
from .errors import AutopilotError, ConfigError, DatabaseLocked, InputError, StoreError
from .ingest import ingest_bytes
from .migrations import open_store, pending_migrations
from .secrets import Secrets
from .signature import verify
from .store import Store, connect
from .unsubscribe import TokenInvalid, read_token, unsubscribe_secret

LOGGER_NAME = "autopilot_cli.server"
ACCESS_LOGGER_NAME = "autopilot_cli.server.access"
WEBHOOK_CHANNELS = ("whatsapp", "instagram")
# Reads and writes on a client socket time out after this long; it also ends
# idle keep-alive connections (set the proxy's upstream keepalive_timeout lower).
SOCKET_TIMEOUT_SECONDS = 30.0
SMALL_BODY_BYTES = 16 * 1024  # unsubscribe forms and anything that is not a webhook
MAX_CHALLENGE_CHARS = 256
_CHALLENGE = re.compile(r"^[A-Za-z0-9._~-]{1,%d}$" % MAX_CHALLENGE_CHARS)
_LOGGED_PATH_CHARS = 300

log = logging.getLogger(LOGGER_NAME)
access_log = logging.getLogger(ACCESS_LOGGER_NAME)


class ServerError(AutopilotError):
    """The server could not start (address in use, permission denied)."""


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    log_fields: dict[str, Any] = field(default_factory=dict)
    """Extra access-log fields (counts, channel); never bodies or secrets."""
    close: bool = False


def _json(status: int, data: dict[str, Any], **kwargs: Any) -> Response:
    return Response(status, json.dumps(data, separators=(",", ":")).encode("utf-8"), **kwargs)


def _error(status: int, message: str, **kwargs: Any) -> Response:
    return _json(status, {"error": message}, **kwargs)


# --- logging ---------------------------------------------------------------------------------


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": to_iso(datetime.fromtimestamp(record.created, timezone.utc)),
            "level": record.levelname.lower(),
            "logger": "access" if record.name == ACCESS_LOGGER_NAME else record.name,
            "msg": record.getMessage(),
        }
        data.update(getattr(record, "fields", {}) or {})
        if record.exc_info and record.exc_info[0] is not None:
            # Type and a bounded message only: no traceback locals, no request data.
            data["exception"] = f"{record.exc_info[0].__name__}: {str(record.exc_info[1])[:300]}"
        return json.dumps(data, ensure_ascii=False, default=str)


@contextmanager
def json_logging(stream: Any, level: int = logging.INFO) -> Iterator[None]:
    """While open, the server's log lines (access and events) go to ``stream`` as JSON lines."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    saved_handlers, saved_level, saved_propagate = logger.handlers[:], logger.level, logger.propagate
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers[:] = saved_handlers
        logger.setLevel(saved_level)
        logger.propagate = saved_propagate


def loggable_path(target: str) -> str:
    """The request target minus anything secret: ``hub.verify_token`` and unsubscribe tokens."""
    parts = urlsplit(target[:4096])
    path = parts.path
    if path.startswith("/unsubscribe/"):
        path = "/unsubscribe/<token>"
    if parts.query:
        kept = [(k, v) for k, v in parse_qs(parts.query, keep_blank_values=True).items() if k != "hub.verify_token"]
        query = urlencode([(k, x) for k, values in kept for x in values])
        path = f"{path}?{query}" if query else path
    return path[:_LOGGED_PATH_CHARS]


# --- storage ---------------------------------------------------------------------------------


class StorePool:
    """SQLite connections for request threads: each checked out by one thread at a time.

    A thread-local connection would be opened and dropped with every proxied
    connection (one thread per TCP connection); the pool keeps up to
    ``max_idle`` connections for reuse instead.
    """

    def __init__(self, path: str | Path, clock: Clock, busy_timeout_ms: int, max_idle: int = 16) -> None:
        self.path = path
        self.clock = clock
        self.busy_timeout_ms = busy_timeout_ms
        self.max_idle = max_idle
        self._idle: list[Store] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def store(self) -> Iterator[Store]:
        with self._lock:
            store = self._idle.pop() if self._idle else None
        if store is None:
            store = open_store(self.path, self.clock, busy_timeout_ms=self.busy_timeout_ms, create=False)
        reusable = False
        try:
            yield store
            reusable = True
        except AutopilotError:
            reusable = True  # a refused input or a lock timeout leaves the connection clean
            raise
        finally:
            if reusable and not store.conn.in_transaction:
                with self._lock:
                    if not self._closed and len(self._idle) < self.max_idle:
                        self._idle.append(store)
                        store = None
            if store is not None:
                store.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for store in idle:
            store.close()


# --- the application -------------------------------------------------------------------------


class WebhookApp:
    """Request in, ``Response`` out; knows nothing of sockets."""

    def __init__(self, config: Config, db_path: str | Path, clock: Clock, secrets: Secrets) -> None:
        self.config = config
        self.db_path = db_path
        self.clock = clock
        self.secrets = secrets
        self.settings = config.server
        # One attempt never waits longer than the whole retry budget.
        busy_ms = min(config.database.busy_timeout_ms, int(self.settings.lock_retry_seconds * 1000))
        self.pool = StorePool(db_path, clock, busy_ms)
        self._write_lock = threading.Lock()

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def _writer(self, deadline: float) -> Iterator[None]:
        """One writing request thread at a time in this process.

        SQLite admits one writer anyway; threads that queue here are woken in
        turn, whereas threads racing for SQLite's lock poll with sleeps of up
        to 100 ms (its busy handler), which is what the p99 would show. Other
        processes (``process``, ``execute``) still meet the busy timeout.
        """
        if not self._write_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise DatabaseLocked("timed out waiting for this server's other writes")
        try:
            yield
        finally:
            self._write_lock.release()

    def body_limit(self, method: str, target: str) -> int:
        path = urlsplit(target).path
        if method == "POST" and path.startswith("/webhooks/"):
            return self.settings.max_body_bytes
        return SMALL_BODY_BYTES

    def signature_configured(self, channel: str) -> bool:
        return self._app_secret(channel) is not None

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Response:
        parts = urlsplit(target)
        path = parts.path
        if path == "/healthz":
            return self.healthz() if method == "GET" else _method_not_allowed("GET")
        if path.startswith("/webhooks/"):
            channel = path[len("/webhooks/"):]
            if channel not in WEBHOOK_CHANNELS:
                return _error(404, "not found")
            if method == "GET":
                return self.verify_subscription(channel, parts.query)
            if method == "POST":
                return self.receive(channel, headers, body)
            return _method_not_allowed("GET, POST")
        if path.startswith("/unsubscribe/"):
            token = path[len("/unsubscribe/"):]
            if method == "GET":
                return self.unsubscribe_page(token)
            if method == "POST":
                return self.unsubscribe(token, headers, body)
            return _method_not_allowed("GET, POST")
        return _error(404, "not found")

    # -- webhooks --

    def _channel_setting(self, channel: str, key: str) -> str | None:
        return getattr(self.config.channels.get(channel), key, None)

    def _app_secret(self, channel: str) -> str | None:
        return self.secrets.get(self._channel_setting(channel, "app_secret_env"))

    def verify_subscription(self, channel: str, query: str) -> Response:
        """Meta's handshake: echo ``hub.challenge`` when ``hub.verify_token`` matches."""
        fields = {"channel": channel}
        expected = self.secrets.get(self._channel_setting(channel, "verify_token_env"))
        if expected is None:
            log.warning("verify token not configured", extra={"fields": {
                **fields, "hint": f"set channels.{channel}.verify_token_env and that environment variable"}})
            return _error(403, "forbidden", log_fields=fields)
        params = parse_qs(query, keep_blank_values=True)
        mode = params.get("hub.mode", [""])[0]
        token = params.get("hub.verify_token", [""])[0]
        challenge = params.get("hub.challenge", [""])[0]
        token_ok = hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8"))
        if mode != "subscribe" or not token_ok:
            log.warning("verification refused", extra={"fields": {**fields, "reason": "mode or verify token"}})
            return _error(403, "forbidden", log_fields=fields)
        if not _CHALLENGE.match(challenge):
            return _error(400, "hub.challenge missing or malformed", log_fields=fields)
        return Response(200, challenge.encode("ascii"), content_type="text/plain; charset=utf-8", log_fields=fields)

    def receive(self, channel: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Check the signature over the raw bytes, then store through ``ingest_bytes``."""
        fields: dict[str, Any] = {"channel": channel}
        secret = self._app_secret(channel)
        if secret is None:
            # Never accept unsigned payloads silently: Meta keeps the payload and retries.
            log.error("signature checking not configured", extra={"fields": {
                **fields, "hint": f"set channels.{channel}.app_secret_env and that environment variable"}})
            return _error(503, "signature checking not configured", log_fields=fields, headers={"Retry-After": "60"})
        signature = headers.get("X-Hub-Signature-256")
        if not signature:
            log.warning("missing X-Hub-Signature-256", extra={"fields": {**fields, "request_bytes": len(body)}})
            return _error(401, "missing X-Hub-Signature-256", log_fields=fields)
        try:
            verify(body, signature, secret)
        except InputError:
            log.warning("signature mismatch", extra={"fields": {**fields, "request_bytes": len(body)}})
            return _error(403, "signature mismatch", log_fields=fields)
        return self._store_payload(channel, body, signature, fields)

    def _store_payload(self, channel: str, body: bytes, signature: str, fields: dict[str, Any]) -> Response:
        deadline = time.monotonic() + self.settings.lock_retry_seconds
        delay = 0.005
        attempts = 0
        while True:
            attempts += 1
            try:
                with self._writer(deadline), self.pool.store() as store:
                    report = ingest_bytes(store, body, fmt=channel, config=self.config, clock=self.clock,
                                          secrets=self.secrets, signature=signature, source=f"webhook:{channel}")
            except DatabaseLocked:
                if time.monotonic() + delay < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
                    continue
                log.error("database locked; answered 503 so the provider retries", extra={"fields": {
                    **fields, "attempts": attempts, "lock_retry_seconds": self.settings.lock_retry_seconds}})
                return _error(503, "database busy, retry later", headers={"Retry-After": "5"},
                              log_fields={**fields, "attempts": attempts})
            except InputError as exc:
                # Not JSON at all: nothing was stored, and retrying will not fix it.
                log.warning("payload refused", extra={"fields": {**fields, "reason": str(exc)}})
                return _error(400, "payload is not valid JSON for this webhook", log_fields=fields)
            except (StoreError, ConfigError) as exc:
                log.error("payload not stored; answered 503 so the provider retries",
                          extra={"fields": {**fields, "reason": str(exc)}})
                return _error(503, "not stored, retry later", headers={"Retry-After": "30"}, log_fields=fields)
            counts = {k: getattr(report, k) for k in ("ingested", "duplicates", "statuses", "preferences",
                                                       "ignored", "rejected")}
            if attempts > 1:
                counts["attempts"] = attempts
            return _json(200, {"ok": True}, log_fields={**fields, **counts})

    # -- unsubscribe --

    def _token(self, token: str) -> tuple[Any, Response | None]:
        try:
            secret = unsubscribe_secret(self.config, self.secrets)
        except ConfigError:
            secret = None
        if secret is None:
            log.error("unsubscribe links not configured", extra={"fields": {
                "hint": "set [server] unsubscribe_secret_env and that environment variable"}})
            return None, _page(503, "Unavailable", "Unsubscribing is not available right now. Please try again later.")
        try:
            return read_token(secret, token), None
        except TokenInvalid as exc:
            log.warning("unsubscribe token refused", extra={"fields": {"reason": str(exc)}})
            status = 403 if "signature" in str(exc) else 400
            return None, _page(status, "Invalid link", "This unsubscribe link is not valid.")
        except ConfigError as exc:
            log.error("unsubscribe links not configured", extra={"fields": {"reason": str(exc)}})
            return None, _page(503, "Unavailable", "Unsubscribing is not available right now. Please try again later.")

    def unsubscribe_page(self, token: str) -> Response:
        """A confirmation page with a button; GET never unsubscribes (link scanners follow links)."""
        parsed, refusal = self._token(token)
        if refusal is not None:
            return refusal
        scope = "all our messages" if self.config.consent.scope == "contact" else f"our {parsed.channel} messages"
        form = (
            '<form method="post">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            f'<button type="submit">Unsubscribe from {html.escape(scope)}</button></form>'
        )
        return _page(200, "Unsubscribe", "Do you want to stop receiving messages from us?", extra_html=form,
                     log_fields={"channel": parsed.channel})

    def unsubscribe(self, token: str, headers: Mapping[str, str], body: bytes) -> Response:
        """RFC 8058 one-click: body ``List-Unsubscribe=One-Click``; opt out and cancel scheduled jobs."""
        parsed, refusal = self._token(token)
        if refusal is not None:
            return refusal
        if not is_one_click(headers.get("Content-Type"), body):
            return _page(400, "Bad request", "The request must carry List-Unsubscribe=One-Click.")
        deadline = time.monotonic() + self.settings.lock_retry_seconds
        delay = 0.005
        while True:
            try:
                with self._writer(deadline), self.pool.store() as store:
                    outcome = _record_unsubscribe(store, self.config, parsed, to_iso(self.clock.now()))
                break
            except DatabaseLocked:
                if time.monotonic() + delay < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
                    continue
                log.error("database locked; unsubscribe not recorded", extra={"fields": {"channel": parsed.channel}})
                return _page(503, "Try again", "We could not record this right now. Please try again in a minute.",
                             headers={"Retry-After": "5"})
            except StoreError as exc:
                log.error("unsubscribe not recorded", extra={"fields": {"reason": str(exc)}})
                return _page(503, "Try again", "We could not record this right now. Please try again in a minute.")
        if outcome is None:
            return _page(404, "Unknown", "This unsubscribe link does not match anyone we know.")
        return _page(200, "Unsubscribed", "You are unsubscribed. You will not receive further messages from us.",
                     log_fields={"channel": parsed.channel, **outcome})

    # -- health --

    def healthz(self) -> Response:
        """200 when the database opens and has every migration; 503 otherwise."""
        try:
            store = connect(self.db_path, busy_timeout_ms=1000, create=False)
            try:
                pending = [fn.__name__ for fn in pending_migrations(store)]
            finally:
                store.close()
        except AutopilotError as exc:
            log.error("health check failed", extra={"fields": {"reason": str(exc)}})
            return _json(503, {"status": "unavailable", "reason": "database unavailable"})
        if pending:
            return _json(503, {"status": "unavailable", "reason": "migrations pending", "pending": pending})
        return _json(200, {"status": "ok"})


def _method_not_allowed(allow: str) -> Response:
    return _error(405, "method not allowed", headers={"Allow": allow})


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.6rem 1.2rem}}</style></head>
<body><h1>{title}</h1><p>{text}</p>{extra}</body></html>
"""


def _page(status: int, title: str, text: str, *, extra_html: str = "", headers: dict[str, str] | None = None,
          log_fields: dict[str, Any] | None = None) -> Response:
    body = _PAGE.format(title=html.escape(title), text=html.escape(text), extra=extra_html).encode("utf-8")
    page_headers = {
        # The token is in the URL: keep it out of caches and Referer headers.
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Robots-Tag": "noindex",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        **(headers or {}),
    }
    return Response(status, body, content_type="text/html; charset=utf-8", headers=page_headers,
                    log_fields=log_fields or {})


def is_one_click(content_type: str | None, body: bytes) -> bool:
    """True when the form body carries ``List-Unsubscribe=One-Click``.

    RFC 8058 section 3.2: the POST SHOULD be ``multipart/form-data`` and MAY be
    ``application/x-www-form-urlencoded``; both are accepted.
    """
    kind = (content_type or "application/x-www-form-urlencoded").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            values = parse_qs(body.decode("utf-8"), keep_blank_values=True).get("List-Unsubscribe", [])
        except UnicodeDecodeError:
            return False
        return [v.strip() for v in values] == ["One-Click"]
    if kind == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        if not message.is_multipart():
            return False
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "List-Unsubscribe":
                payload = part.get_payload(decode=True) or b""
                return payload.strip() == b"One-Click"
        return False
    return False


def _record_unsubscribe(store: Store, config: Config, token: Any, now: str) -> dict[str, Any] | None:
    """The opt-out and the cancellation of the contact's pending sends, in one transaction."""
    scope = "all" if config.consent.scope == "contact" else token.channel
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM contacts WHERE id = ?", (token.contact_id,)).fetchone() is None:
            return None
        current = conn.execute(
            "SELECT state FROM consent WHERE contact_id = ? AND scope = ? AND category = 'all'",
            (token.contact_id, scope),
        ).fetchone()
        recorded = current is None or current["state"] != "opted_out"
        if recorded:
            record_change(conn, contact_id=token.contact_id, action="opt_out", scope=scope, category="all",
                          source="unsubscribe_link", rule="rfc8058 one-click", at=now,
                          detail=f"{token.channel} link issued {to_iso(token.issued_at)}")
        channel_filter = "" if scope == "all" else " AND channel = ?"
        params: tuple = (now, token.contact_id) + (() if scope == "all" else (token.channel,))
        cancelled = conn.execute(
            "UPDATE jobs SET state = 'cancelled', error = 'contact unsubscribed', updated_at = ? "
            f"WHERE contact_id = ? AND state IN ('scheduled', 'retry_wait'){channel_filter}",
            params,
        ).rowcount
        # As for an opt-out message (process.py): drafts waiting for review go too.
        conn.execute(
            f"UPDATE drafts SET state = 'cancelled', updated_at = ? WHERE contact_id = ? AND state = 'review'{channel_filter}",
            params,
        )
    return {"recorded": recorded, "cancelled_jobs": cancelled, "scope": scope}


# --- HTTP transport --------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a proxy or client reuses connections
    server_version = "autopilot"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_SECONDS
    disable_nagle_algorithm = True
    server: WebhookServer

    _started: float | None = None
    _request_bytes: int = 0

    def handle_one_request(self) -> None:
        self._started = None
        self._request_bytes = 0
        if not self.server.track_idle(self.connection):
            self.close_connection = True
            return
        super().handle_one_request()

    def parse_request(self) -> bool:
        self._started = time.perf_counter()
        if not self.server.track_busy(self.connection):
            # Closed by a graceful stop while this request was arriving: no reply possible.
            self.close_connection = True
            return False
        return super().parse_request()

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it.
        length = _content_length(self.headers.get("Content-Length"))
        if length is not None and length > self.server.app.body_limit(self.command, self.path):
            self._send(_error(413, "payload too large", close=True))
            return False
        return super().handle_expect_100()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        app = self.server.app
        transfer_encoding = self.headers.get("Transfer-Encoding")
        raw_length = self.headers.get("Content-Length")
        if transfer_encoding is not None:
            # Chunked bodies are not read; both headers at once is a smuggling attempt.
            status, message = (400, "bad request") if raw_length is not None else (411, "Content-Length required")
            self._send(_error(status, message, close=True))
            return
        body = b""
        if raw_length is not None:
            length = _content_length(raw_length)
            if length is None:
                self._send(_error(400, "bad Content-Length", close=True))
                return
            if length > app.body_limit(self.command, self.path):
                self._send(_error(413, "payload too large", close=True))
                return
            body = self.rfile.read(length) if length else b""
            self._request_bytes = len(body)
            if len(body) != length:
                self.close_connection = True  # the client went away mid-body
                self._access(400, 0, {"reason": "incomplete body"})
                return
        elif self.command == "POST":
            self._send(_error(411, "Content-Length required", close=True))
            return
        try:
            response = app.handle(self.command, self.path, self.headers, body)
        except Exception:  # a bug must still answer, and never 200
            log.exception("internal error", extra={"fields": {"path": loggable_path(self.path)}})
            response = _error(500, "internal error")
        self._send(response)

    def _send(self, response: Response) -> None:
        if response.close or self.server.stopping:
            self.close_connection = True
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)
        self._access(response.status, len(response.body), response.log_fields)

    def _access(self, status: int, size: int, extra: dict[str, Any]) -> None:
        started = self._started or time.perf_counter()
        fields = {
            "method": self.command or "-",
            "path": loggable_path(getattr(self, "path", "") or "-"),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "bytes": size,
            "request_bytes": self._request_bytes,
            "client": self.client_address[0] if self.client_address else "-",
            **extra,
        }
        access_log.info("request", extra={"fields": fields})

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The base class calls this for malformed requests; keep its default
        # HTML (which echoes parts of the request) and stderr line out.
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        self._send(_error(code, phrase.lower(), close=True))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _access logs every response, in JSON, without query secrets

    def log_message(self, format: str, *args: Any) -> None:
        log.info("http: " + (format % args)[:200])


def _content_length(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


class WebhookServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that finishes in-flight requests on ``stop``."""

    daemon_threads = False  # server_close() joins request threads: in-flight requests finish
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: WebhookApp) -> None:
        self.app = app
        self.stopping = False
        self._tracking = threading.Lock()
        self._idle: set[socket.socket] = set()
        try:
            super().__init__(address, _Handler)
        except OSError as exc:
            raise ServerError(f"cannot listen on {address[0]}:{address[1]}: {exc.strerror or exc}") from None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def track_idle(self, sock: socket.socket) -> bool:
        """The connection waits for its next request; False when stopping (close it)."""
        with self._tracking:
            if self.stopping:
                return False
            self._idle.add(sock)
            return True

    def track_busy(self, sock: socket.socket) -> bool:
        """A request is arriving; False if a stop already closed this connection."""
        with self._tracking:
            if sock in self._idle:
                self._idle.discard(sock)
                return True
            return not self.stopping

    def close_idle_connections(self) -> None:
        with self._tracking:
            self.stopping = True
            idle, self._idle = self._idle, set()
        for sock in idle:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def shutdown_request(self, request: Any) -> None:
        with self._tracking:
            self._idle.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.debug("connection error", extra={"fields": {"error": type(exc).__name__}})
            return
        log.error("unhandled error in request thread", exc_info=True)

    def stop(self) -> None:
        """Stop accepting, close idle connections, wait for in-flight requests, release the database."""
        self.shutdown()
        self.close_idle_connections()
        self.server_close()
        self.app.close()


def serve_until_signalled(server: WebhookServer, on_ready: Callable[[WebhookServer], None] | None = None) -> int:
    """Serve in this (main) thread until SIGTERM or SIGINT, then stop gracefully; returns 0."""
    stopping = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("stopping", extra={"fields": {"signal": signal.Signals(signum).name}})
            # shutdown() waits for serve_forever() to return, so it runs in another thread.
            threading.Thread(target=server.shutdown, name="autopilot-shutdown", daemon=True).start()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if on_ready is not None:
            on_ready(server)
        server.serve_forever(poll_interval=0.2)
    finally:
        server.close_idle_connections()
        server.server_close()
        server.app.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped", extra={"fields": {}})
    return 0
