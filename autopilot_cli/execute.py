"""``autopilot execute``: send due jobs, at most once each, safe to overlap and to kill.

States: scheduled → claimed → sending → sent | retry_wait | failed |
needs_reconcile (plus skipped and cancelled). Every transition is one
``BEGIN IMMEDIATE`` transaction that checks the run still owns the job:

1. **Claim** (per channel, at most what its rate can send within half a
   lease): ``UPDATE … SET state='claimed', lease_owner=?, lease_until=? …
   RETURNING``. Overlapping runs never claim the same job; a claim whose lease
   expired (the run died before sending) is claimed again and sent once.
2. **Check, then mark ``sending``** just before the request: the contact has
   not opted out since scheduling, the text is byte-identical to the approved
   text (hash), the channel's window is open, the channel's policy allows it,
   the recipient gap is kept. ``sending`` is committed before the request
   leaves.
3. **Send** outside any transaction, paced by a token bucket per channel.
4. **Record the outcome** right after. A job found in ``sending`` with its
   lease expired may have reached the provider (crash, lost response): it
   becomes ``needs_reconcile`` and is never re-sent blindly — unless its
   adapter takes an idempotency key (the outbox does). A later status
   webhook (provider id or ``biz_opaque_callback_data``) settles it, or a
   human does with ``autopilot reconcile``.

Nothing due is cheap: one indexed read and no write lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr

from pydantic import BaseModel, Field

from .channels.base import Adapter, Outcome, Outgoing, SendResult
from .channels.registry import Registry
from .clock import Clock, from_iso, to_iso
from .config import Config
from .statuses import adopt_statuses
from .store import Store

DUE = (
    "((state IN ('scheduled', 'retry_wait') AND send_at <= :now) "
    "OR (state = 'claimed' AND lease_until < :now))"
)


class JobResult(BaseModel):
    job_id: int
    channel: str
    outcome: str
    """sent | retry | failed | deferred | needs_reconcile | skipped"""
    provider_message_id: str | None = None
    error: str | None = None


class ExecuteReport(BaseModel):
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    needs_reconcile: int = 0
    skipped: int = 0
    paused_channels: list[str] = Field(default_factory=list)
    jobs: list[JobResult] = Field(default_factory=list)

    @property
    def has_problems(self) -> bool:
        return bool(self.failed or self.needs_reconcile or self.paused_channels)

    def add(self, result: JobResult) -> None:
        key = {"retry": "retried"}.get(result.outcome, result.outcome)
        setattr(self, key, getattr(self, key) + 1)
        self.jobs.append(result)


@dataclass(frozen=True)
class Skip:
    """Why a claimed job is not sent now, and the state it moves to."""

    state: str
    outcome: str
    error: str
    draft_to_review: str | None = None
    send_at: str | None = None


class TokenBucket:
    """Paces sends to ``rate`` per second with bursts of at most ``rate`` (≥ 1)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def anything_due(store: Store, now: datetime) -> bool:
    now_s = to_iso(now)
    return bool(store.query(
        f"SELECT 1 FROM jobs WHERE {DUE} OR (state = 'sending' AND lease_until < :now) LIMIT 1", {"now": now_s}
    ))


class Executor:
    def __init__(self, store: Store, config: Config, clock: Clock, registry: Registry, *,
                 owner: str | None = None, limit: int | None = None,
                 progress: Callable[[JobResult], None] | None = None) -> None:
        self.store, self.config, self.clock, self.registry = store, config, clock, registry
        self.progress = progress
        self.owner = owner or default_owner()
        self.limit = limit
        self.settings = config.execute
        self.report = ExecuteReport()
        self.buckets: dict[str, TokenBucket] = {}
        self.semaphores: dict[str, asyncio.Semaphore] = {}
        self.paused: dict[str, str] = {}

    # -- bookkeeping -------------------------------------------------------
    def _now(self) -> str:
        return to_iso(self.clock.now())

    def _lease_until(self) -> str:
        return to_iso(self.clock.now() + timedelta(seconds=self.settings.lease_seconds))

    def _rate(self, channel: str, adapter: Adapter | None) -> float:
        cfg = self.config.channels.get(channel)
        return cfg.rate_per_second if cfg is not None else (adapter.capabilities.default_rate_per_second if adapter else 1.0)

    def expire_leases(self) -> None:
        """Jobs whose run died mid-send: ambiguous, so reconcile — unless re-sending is idempotent."""
        now = self._now()
        with self.store.transaction() as conn:
            stuck = conn.execute(
                "SELECT id, channel FROM jobs WHERE state = 'sending' AND lease_until < ?", (now,)
            ).fetchall()
            for row in stuck:
                adapter = self.registry.get(row["channel"])
                if adapter is not None and adapter.capabilities.idempotency_key:
                    conn.execute("UPDATE jobs SET state = 'retry_wait', lease_owner = NULL, updated_at = ? "
                                 "WHERE id = ? AND state = 'sending'", (now, row["id"]))
                else:
                    conn.execute(
                        "UPDATE jobs SET state = 'needs_reconcile', lease_owner = NULL, updated_at = ?, "
                        "error = 'the run sending it stopped before recording the outcome; the message may have "
                        "been sent' WHERE id = ? AND state = 'sending'", (now, row["id"]))
            for row in conn.execute("SELECT channel, reason FROM channel_state WHERE paused_at IS NOT NULL"):
                self.paused[row["channel"]] = row["reason"]

    def claim(self) -> list[dict]:
        now = self._now()
        claimed: list[dict] = []
        with self.store.transaction() as conn:
            channels = [r[0] for r in conn.execute(f"SELECT DISTINCT channel FROM jobs WHERE {DUE}", {"now": now})]
            for channel in channels:
                if channel in self.paused:
                    continue
                adapter = self.registry.get(channel)
                # No more than the channel can send within half a lease, so that
                # a claimed job never waits in our queue until its lease expires.
                cap = max(1, int(self._rate(channel, adapter) * self.settings.lease_seconds / 2))
                size = min(cap, self.settings.batch_size)
                if self.limit is not None:
                    size = min(size, self.limit - len(self.report.jobs) - len(claimed))
                if size <= 0:
                    break
                rows = conn.execute(
                    f"UPDATE jobs SET state = 'claimed', lease_owner = :owner, lease_until = :lease, updated_at = :now "
                    f"WHERE id IN (SELECT id FROM jobs WHERE channel = :channel AND {DUE} "
                    f"ORDER BY send_at, id LIMIT :size) RETURNING *",
                    {"owner": self.owner, "lease": self._lease_until(), "now": now, "channel": channel, "size": size},
                ).fetchall()
                claimed.extend(dict(r) for r in rows)
        claimed.sort(key=lambda r: (r["send_at"], r["id"]))
        return claimed

    # -- one job -----------------------------------------------------------
    def _finish(self, job: dict, state: str, outcome: str, error: str | None = None, *, draft_to_review: str | None = None,
                send_at: str | None = None, error_code: str | None = None, provider_id: str | None = None,
                from_state: str = "claimed") -> JobResult:
        now = self._now()
        with self.store.transaction() as conn:
            updated = conn.execute(
                "UPDATE jobs SET state = ?, error = COALESCE(?, error), error_code = COALESCE(?, error_code), "
                "send_at = COALESCE(?, send_at), provider_message_id = COALESCE(?, provider_message_id), "
                "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END, lease_owner = NULL, lease_until = NULL, "
                "updated_at = ? WHERE id = ? AND lease_owner = ? AND state = ?",
                (state, error, error_code, send_at, provider_id, state, now, now, job["id"], self.owner, from_state),
            ).rowcount
            if updated and draft_to_review:
                draft = conn.execute("SELECT reasons FROM drafts WHERE id = ?", (job["draft_id"],)).fetchone()
                reasons = json.loads(draft["reasons"] or "[]")
                if draft_to_review not in reasons:
                    reasons.append(draft_to_review)
                conn.execute("UPDATE drafts SET state = 'review', ready = 0, reasons = ?, updated_at = ? WHERE id = ?",
                             (json.dumps(reasons), now, job["draft_id"]))
            if updated and state == "sent" and provider_id:
                adopt_statuses(conn, job["id"], job["channel"], provider_id, now)
        return JobResult(job_id=job["id"], channel=job["channel"], outcome=outcome,
                         provider_message_id=provider_id, error=error)

    def _precheck(self, job: dict, adapter: Adapter | None) -> tuple[Outgoing | None, Skip | None]:
        """Inside one transaction: re-check everything, then mark the job ``sending``."""
        now_dt = self.clock.now()
        now = to_iso(now_dt)
        with self.store.transaction() as conn:
            row = conn.execute(
                "SELECT j.*, e.external_id, e.subject, e.thread_id, e.metadata AS event_metadata, "
                "d.approved_text FROM jobs j JOIN events e ON e.id = j.event_id JOIN drafts d ON d.id = j.draft_id "
                "WHERE j.id = ? AND j.lease_owner = ? AND j.state = 'claimed'", (job["id"], self.owner)).fetchone()
            if row is None:
                return None, None  # our lease was taken over: the other run owns it now
            skip = self._skip_reason(conn, row, adapter, now_dt)
            if skip is not None:
                return None, skip
            message_id = row["message_id"]
            if row["channel"] == "email" and message_id is None:
                message_id = self._new_message_id()
            conn.execute(
                "UPDATE jobs SET state = 'sending', attempts = attempts + 1, sending_at = ?, lease_until = ?, "
                "message_id = ?, updated_at = ? WHERE id = ? AND lease_owner = ? AND state = 'claimed'",
                (now, self._lease_until(), message_id, now, row["id"], self.owner))
        return self._outgoing(row, message_id), None

    def _skip_reason(self, conn, row, adapter: Adapter | None, now: datetime) -> Skip | None:
        if adapter is None:
            return Skip("failed", "failed", f"channel {row['channel']} is not configured")
        opted = conn.execute(
            "SELECT 1 FROM consent WHERE contact_id = ? AND category = 'all' AND state = 'opted_out' "
            "AND scope IN ('all', ?)", (row["contact_id"], row["channel"])).fetchone()
        if opted and row["origin"] != "confirmation":
            return Skip("skipped", "skipped", "contact opted out after the reply was scheduled")
        if text_sha256(row["text"]) != row["text_sha256"] or (
            row["approved_text"] is not None and row["approved_text"] != row["text"]
        ):
            return Skip("failed", "failed", "text differs from the approved text; not sent")
        if adapter.capabilities.human_approved_only and row["origin"] != "approved":
            return Skip("skipped", "skipped", f"{row['channel']} sends only human-approved replies",
                                      draft_to_review="human_approval_required")
        window = adapter.capabilities.window_hours
        if window:
            last = conn.execute("SELECT max(received_at) FROM events WHERE contact_id = ? AND channel = ?",
                                (row["contact_id"], row["channel"])).fetchone()[0]
            if last is None or from_iso(last) + timedelta(hours=window) <= now:
                cfg = self.config.channels.get(row["channel"])
                if not getattr(cfg, "window_template", None):
                    return Skip("skipped", "skipped",
                                              f"the {window}-hour window closed before sending",
                                              draft_to_review="window_closed")
        gap = getattr(self.config.channels.get(row["channel"]), "min_gap_seconds", 0.0)
        if gap:
            last_sent = conn.execute(
                "SELECT max(sent_at) FROM jobs WHERE channel = ? AND recipient = ? AND state = 'sent'",
                (row["channel"], row["recipient"])).fetchone()[0]
            if last_sent and from_iso(last_sent) + timedelta(seconds=gap) > now:
                until = to_iso(from_iso(last_sent) + timedelta(seconds=gap))
                return Skip("retry_wait", "deferred", f"keeping {gap:g} s between sends to "
                                          "this recipient", send_at=until)
        return None

    def _new_message_id(self) -> str:
        cfg = self.config.channels.get("email")
        domain = parseaddr(getattr(cfg, "from_address", "") or "")[1].rpartition("@")[2] or "autopilot.invalid"
        return make_msgid(domain=domain)

    def _outgoing(self, row, message_id: str | None) -> Outgoing:
        metadata = json.loads(row["event_metadata"] or "{}")
        references = tuple(metadata.get("references") or ())
        cfg = self.config.channels.get(row["channel"])
        template = None
        window = None
        adapter = self.registry.get(row["channel"])
        if adapter is not None:
            window = adapter.capabilities.window_hours
        if window and getattr(cfg, "window_template", None):
            last = self.store.conn.execute("SELECT max(received_at) FROM events WHERE contact_id = ? AND channel = ?",
                                           (row["contact_id"], row["channel"])).fetchone()[0]
            if last is None or from_iso(last) + timedelta(hours=window) <= self.clock.now():
                template = cfg.window_template
        return Outgoing(
            job_id=row["id"], send_key=row["send_key"], channel=row["channel"], recipient=row["recipient"],
            text=row["text"], reply_to_id=row["external_id"], thread_id=row["thread_id"], subject=row["subject"],
            references=references, message_id=message_id, template=template,
            metadata={"origin": row["origin"], "template_language": getattr(cfg, "template_language", None)},
        )

    def _after_send(self, job: dict, adapter: Adapter, result: SendResult) -> JobResult:
        attempts = int(self.store.scalar("SELECT attempts FROM jobs WHERE id = ?", (job["id"],)) or 1)
        kw = {"error_code": result.error_code, "from_state": "sending"}
        if result.outcome is Outcome.SENT:
            return self._finish(job, "sent", "sent", provider_id=result.provider_message_id, **kw)
        if result.outcome is Outcome.AMBIGUOUS and not adapter.capabilities.idempotency_key:
            return self._finish(job, "needs_reconcile", "needs_reconcile",
                                f"may have been sent: {result.error}", **kw)
        if result.outcome is Outcome.WINDOW_CLOSED:
            return self._finish(job, "skipped", "skipped", f"window closed: {result.error}",
                                draft_to_review="window_closed", **kw)
        if result.outcome is Outcome.PAUSED:
            self._pause(job["channel"], result.error or "channel paused")
            # Not an attempt that counts: the request never left or was refused wholesale.
            with self.store.transaction() as conn:
                conn.execute("UPDATE jobs SET attempts = max(0, attempts - 1) WHERE id = ?", (job["id"],))
            return self._finish(job, "retry_wait", "deferred", f"channel paused: {result.error}", **kw)
        if result.outcome is Outcome.PERMANENT:
            return self._finish(job, "failed", "failed", f"{result.error_code or ''} {result.error or ''}".strip(), **kw)
        # RETRYABLE, or AMBIGUOUS on an adapter whose retries cannot duplicate.
        if attempts >= self.settings.max_attempts:
            return self._finish(job, "failed", "failed", f"gave up after {attempts} attempts: {result.error}", **kw)
        delay = self._backoff(job["send_key"], attempts, result.retry_after)
        send_at = to_iso(self.clock.now() + timedelta(seconds=delay))
        return self._finish(job, "retry_wait", "retry", f"attempt {attempts} failed: {result.error}",
                            send_at=send_at, **kw)

    def _backoff(self, send_key: str, attempts: int, retry_after: float | None) -> float:
        base = min(self.settings.max_backoff_seconds, self.settings.backoff_seconds * 2 ** (attempts - 1))
        # Jitter, deterministic per job and attempt, so retries of many jobs spread out.
        delay = base * (0.5 + 0.5 * random.Random(f"{send_key}:{attempts}").random())
        return max(delay, retry_after or 0.0)

    def _pause(self, channel: str, reason: str) -> None:
        self.paused[channel] = reason
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO channel_state (channel, paused_at, reason) VALUES (?, ?, ?) ON CONFLICT (channel) "
                "DO UPDATE SET paused_at = excluded.paused_at, reason = excluded.reason",
                (channel, self._now(), reason))

    async def _run_job(self, job: dict) -> None:
        channel = job["channel"]
        adapter = self.registry.get(channel)
        if channel in self.paused:
            self._add(self._finish(job, "retry_wait", "deferred", f"channel paused: {self.paused[channel]}"))
            return
        if adapter is not None:
            await self.buckets.setdefault(channel, TokenBucket(self._rate(channel, adapter))).take()
        message, skip = self._precheck(job, adapter)
        if skip is not None:
            self._add(self._finish(job, skip.state, skip.outcome, skip.error,
                                         draft_to_review=skip.draft_to_review, send_at=skip.send_at))
            return
        if message is None:
            return
        assert adapter is not None
        result = await adapter.send(message)
        self._add(self._after_send(job, adapter, result))

    def _add(self, result: JobResult) -> None:
        self.report.add(result)
        if self.progress is not None:
            self.progress(result)

    async def _run_batch(self, jobs: list[dict]) -> None:
        async def guarded(job: dict) -> None:
            channel = job["channel"]
            adapter = self.registry.get(channel)
            limit = max(1, min(self.settings.max_concurrency, int(self._rate(channel, adapter)) or 1))
            async with self.semaphores.setdefault(channel, asyncio.Semaphore(limit)):
                await self._run_job(job)

        await asyncio.gather(*(guarded(job) for job in jobs))

    async def run(self) -> ExecuteReport:
        try:
            if not anything_due(self.store, self.clock.now()):
                self._load_paused()
                return self.report
            self.expire_leases()
            while self.limit is None or len(self.report.jobs) < self.limit:
                jobs = self.claim()
                if not jobs:
                    break
                await self._run_batch(jobs)
        finally:
            await self.registry.aclose()
        self.report.paused_channels = sorted(self.paused)
        return self.report

    def _load_paused(self) -> None:
        for row in self.store.query("SELECT channel FROM channel_state WHERE paused_at IS NOT NULL"):
            self.paused[row[0]] = ""
        self.report.paused_channels = sorted(self.paused)


def execute_jobs(store: Store, config: Config, clock: Clock, registry: Registry, *,
                 limit: int | None = None, owner: str | None = None,
                 progress: Callable[[JobResult], None] | None = None) -> ExecuteReport:
    return asyncio.run(Executor(store, config, clock, registry, owner=owner, limit=limit, progress=progress).run())
