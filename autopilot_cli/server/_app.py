"""``autopilot serve``: the webhook receiver — request handling (the HTTP transport is ``http.py`` beside it).

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
TLS proxy, which handles TLS and HTTP/2. What it lacks we add, in little code:
a body limit checked before reading, structured access logs without secrets,
a graceful stop that closes idle keep-alive connections and lets in-flight
requests finish, and (``http.py``) a bound on connections, per-phase
deadlines against slow clients and refusal of ambiguous request framing.

Concurrency: one thread per connection (``ThreadingMixIn``), at most
``[server] max_connections`` of them. Each request
checks a database connection (SQLite's or PostgreSQL's) out of a small pool
(``StorePool``, connections opened with ``migrations.open_store``) and back in,
so a connection is only ever used by one thread at a time and is reused across
short-lived proxy connections — what psycopg-pool would give, for both
engines, without another dependency. Writes use ``BEGIN IMMEDIATE`` (``Store.transaction``;
on PostgreSQL its advisory lock, shared with every replica),
waiting up to the busy timeout; a database still locked after
``[server] lock_retry_seconds`` answers 503, so Meta retries. Never 200 for
a payload that was not committed.

Status codes for webhook POSTs: 200 stored (also duplicates, echoes, records
kept in ``rejects`` — one bad record never loses the others, see
``inbound._writer.Writer.write_isolated``); 400 when the payload cannot be parsed at
all — not JSON, nested too deep, a 5,000-digit number (``InputError``: nothing
stored; Meta retries any non-2xx, so the operator sees it in the log); 401 no
signature; 403 bad signature; 411 no Content-Length; 413 too large; 503
signature checking not configured, or the database could not store it.
"""

from __future__ import annotations

import email.parser
import email.policy
import hmac
import html
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, unquote_plus, urlencode, urlsplit

from ..channels.policy import channels_where
from ..clock import Clock, to_iso
from ..config import Config
from ..contacts import TokenInvalid, opt_out_and_cancel, read_token, unsubscribe_secret
from ..db.connection import Store, connect
from ..db.events import contact_exists
from ..db.migrations import open_store, pending_migrations
from ..errors import AutopilotError, ConfigError, DatabaseLocked, InputError, StoreError
from ..inbound import ingest_bytes, verify
from ..secrets import Secrets

LOGGER_NAME = "autopilot_cli.server"
ACCESS_LOGGER_NAME = "autopilot_cli.server.access"
WEBHOOK_CHANNELS = channels_where(signed_webhook=True)
# Reads and writes on a client socket time out after this long; it also ends
# idle keep-alive connections (set the proxy's upstream keepalive_timeout lower).
SOCKET_TIMEOUT_SECONDS = 30.0
SMALL_BODY_BYTES = 16 * 1024  # unsubscribe forms and anything that is not a webhook
MAX_CHALLENGE_CHARS = 256
_CHALLENGE = re.compile(rf"^[A-Za-z0-9._~-]{{1,{MAX_CHALLENGE_CHARS}}}$")
_LOGGED_PATH_CHARS = 300
_LOGGED_QUERY_KEYS = frozenset({"hub.mode", "hub.challenge"})
_UNSUBSCRIBE_SEGMENT = re.compile(r"/unsubscribe(?=/|$)", re.IGNORECASE)

log = logging.getLogger(LOGGER_NAME)
access_log = logging.getLogger(ACCESS_LOGGER_NAME)


class ServerError(AutopilotError):
    """The server could not start (address in use, permission denied)."""



class Headers(Protocol):
    """Request headers looked up by name: ``http.client.HTTPMessage`` (case-insensitive), or a dict in tests."""

    def get(self, name: str, /) -> str | None: ...

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
    """The request target minus anything that could be secret.

    An allow-list, not a deny-list: the query keeps only ``hub.mode`` and
    ``hub.challenge`` (so ``hub.verify_token`` goes however it is spelled —
    percent-encoded, after a ``;``, repeated), and everything after an
    ``unsubscribe`` path segment (in any case or encoding) becomes ``<token>``.
    """
    parts = urlsplit(target[:4096])
    path = parts.path
    decoded = unquote(path)
    match = _UNSUBSCRIBE_SEGMENT.search(decoded)
    if match:
        path = decoded[:match.end()] + ("/<token>" if decoded[match.end():].strip("/") else "")
    if parts.query:
        kept = []
        for pair in re.split(r"[&;]", parts.query):
            key, _, value = pair.partition("=")
            if unquote_plus(key) in _LOGGED_QUERY_KEYS:
                kept.append((unquote_plus(key), unquote_plus(value)))
        query = urlencode(kept)
        path = f"{path}?{query}" if query else path
    return path[:_LOGGED_PATH_CHARS]


# --- storage ---------------------------------------------------------------------------------


class StorePool:
    """Database connections for request threads: each checked out by one thread at a time.

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

    def handle(self, method: str, target: str, headers: Headers, body: bytes) -> Response:
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

    def receive(self, channel: str, headers: Headers, body: bytes) -> Response:
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

    def unsubscribe(self, token: str, headers: Headers, body: bytes) -> Response:
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
                return isinstance(payload, bytes) and payload.strip() == b"One-Click"
        return False
    return False


def _record_unsubscribe(store: Store, config: Config, token: Any, now: str) -> dict[str, Any] | None:
    """The opt-out and the cancellation of the contact's pending sends, in one transaction."""
    scope = "all" if config.consent.scope == "contact" else token.channel
    with store.transaction() as conn:
        if not contact_exists(conn, token.contact_id):
            return None
        recorded, cancelled, _ = opt_out_and_cancel(
            conn, contact_id=token.contact_id, scope=scope, source="unsubscribe_link", rule="rfc8058 one-click",
            at=now, detail=f"{token.channel} link issued {to_iso(token.issued_at)}", job_error="contact unsubscribed")
    return {"recorded": recorded, "cancelled_jobs": cancelled, "scope": scope}
