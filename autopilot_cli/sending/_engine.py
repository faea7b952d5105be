"""``autopilot execute``: send due jobs, at most once each, safe to overlap and to kill.

States: scheduled → claimed → sending → sent | retry_wait | failed |
needs_reconcile (plus skipped and cancelled). Every transition is made in a
``BEGIN IMMEDIATE`` transaction that checks the run still owns the job
(``lease_owner``):

1. **Claim** per channel, at most what its rate can send within half a lease:
   ``UPDATE … SET state='claimed', lease_owner, lease_until … RETURNING``.
   Overlapping runs never claim the same job; a claim whose lease expired
   (its run died before sending) is claimed again and sent once.
2. **Check, then mark ``sending``** (``send_checks.py``), one transaction per
   wave of jobs about to go: consent, approved-text hash, window, policy,
   recipient gap. ``sending`` is committed before any request leaves.
3. **Send** outside any transaction, paced per channel (at most the rate written in any second).
4. **Record the outcomes** of the wave right after, in one transaction. A
   job left in ``sending`` whose lease expired may have reached the provider
   (crash, lost response): it becomes ``needs_reconcile`` and is never re-sent
   blindly — unless its adapter takes an idempotency key (the outbox does).

Waves make a commit (an fsync with ``synchronous=FULL``) cost per wave, not
per job, without weakening step 2: a crash between a wave's sends and its
outcome commit leaves those jobs in ``sending``, exactly as a crash between
one send and its commit would. Nothing due is cheap: one indexed read, no
write lock (and ``entry.py`` answers it before the CLI is even imported).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import random
import socket
import sqlite3
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from ..channels import MAX_ERROR_CHARS, REQUEST_WRITTEN, Adapter, Outcome, Outgoing, Registry, SendResult
from ..channels.policy import POLICIES
from ..clock import Clock, to_iso
from ..config import Config
from ..db import channel_state, drafts, jobs as job_rows
from ..db.channel_state import paused_channels
from ..db.connection import Store
from ..inbound import adopt_statuses
from ._checks import Skip, new_message_id, outgoing, skip_reason, wave_facts
from ._locks import ChannelLocks


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
    paused_reasons: dict[str, str] = Field(default_factory=dict)
    """Why each paused channel is paused, as the provider or the adapter said (token missing, expired …)."""
    busy_channels: list[str] = Field(default_factory=list)
    """Channels with due jobs left to another run that was already sending on them."""
    jobs: list[JobResult] = Field(default_factory=list)

    @property
    def has_problems(self) -> bool:
        return bool(self.failed or self.needs_reconcile or self.paused_channels)

    def add(self, result: JobResult) -> None:
        key = {"retry": "retried"}.get(result.outcome, result.outcome)
        setattr(self, key, getattr(self, key) + 1)
        self.jobs.append(result)


class RateLimiter:
    """At most ``rate`` requests *written* in any one-second window (below 1/s: one per ``1/rate`` seconds).

    A sliding window rather than a token bucket: a bucket that starts full lets
    its capacity *and* a second's refill through within one second — up to twice
    the rate, which a provider counting over a sliding second answers with 429s.
    The window never goes over, yet lets a wave that waited for its responses
    use the slots that went unused meanwhile, so the configured rate is reached.
    Fractional rates above 1 round down (2.5/s allows 2 in any second).

    The provider counts when requests arrive, so the window holds when each
    request was written to the connection (``channels.base.REQUEST_WRITTEN``;
    when its send returns, for adapters that cannot tell), not when it was let
    through: a request let through just before the event loop stalled on a
    database commit leaves late, and counting it from its release would let
    one more through a second later than it really arrived. A request let
    through but not yet written holds a slot as if written now — it can only
    be written later — so in any window at most ``rate`` writes happen:
    whichever of them was let through last saw all the others either written
    within the window or pending. ``MARGIN`` lengthens the window for the
    network's jitter; catch-up bursts are spread at ``BURST`` times the rate.

    Time is the running event loop's clock (``loop.time()``), the one its
    sleeps and timeouts are measured on: a loop with a virtual clock (the
    tests') drives the limiter without waiting in real time.
    """

    MARGIN = 0.02
    BURST = 3.0

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.size = max(1, int(rate))
        self.window = max(1.0, 1.0 / rate) + self.MARGIN
        self.spacing = 1.0 / (self.BURST * rate)
        self.sent: deque[float] = deque()
        """When requests were written, oldest first (appended as they are, so in order)."""
        self.pending = 0
        self.last = float("-inf")
        self._written = asyncio.Event()
        self._lock = asyncio.Lock()

    async def take(self) -> Callable[[], None]:
        """Wait for a slot; call the returned function once the request is written (again is harmless)."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            while True:
                now = loop.time()
                while self.sent and self.sent[0] + self.window <= now:
                    self.sent.popleft()
                if len(self.sent) + self.pending >= self.size:
                    # Full: until the oldest write leaves the window, or (none written yet) one is written.
                    self._written.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.sent[0] + self.window - now if self.sent else None):
                            await self._written.wait()
                    continue
                pause = self.last + self.spacing - now
                if pause <= 0.001:  # finer than the event loop's timers (1 ms)
                    break
                await asyncio.sleep(pause)
            self.pending += 1
            self.last = now
        done = False

        def written() -> None:
            nonlocal done
            if not done:
                done = True
                self.pending -= 1
                self.sent.append(loop.time())
                self._written.set()

        return written


@dataclasses.dataclass(frozen=True)
class _Finish:
    """A job's settlement as the engine decided it: the row's new state (``settle``), the outcome reported,
    and the draft's way back to review when the reply can no longer go as it is."""

    job: dict
    outcome: str
    settle: job_rows.Settle
    draft_to_review: str | None = None


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def anything_due(store: Store, now: datetime) -> bool:
    return job_rows.anything_due(store, to_iso(now))


class Executor:
    def __init__(self, store: Store, config: Config, clock: Clock, registry: Registry, *,
                 owner: str | None = None, limit: int | None = None,
                 progress: Callable[[JobResult], None] | None = None,
                 unsubscribe_link: Callable[[int, str], str] | None = None) -> None:
        self.store, self.config, self.clock, self.registry = store, config, clock, registry
        self.unsubscribe_link = unsubscribe_link
        self.owner = owner or default_owner()
        self.limit = limit
        self.progress = progress
        self.settings = config.execute
        self.report = ExecuteReport()
        self.buckets: dict[str, RateLimiter] = {}
        self.paused: dict[str, str] = {}
        self.locks = ChannelLocks(store, config.execute.one_run_per_channel)
        self.busy: set[str] = set()
        self._expired: list[JobResult] = []

    def _now(self) -> str:
        return to_iso(self.clock.now())

    def _lease_until(self) -> str:
        return to_iso(self.clock.now() + timedelta(seconds=self.settings.lease_seconds))

    def _rate(self, channel: str, adapter: Adapter | None) -> float:
        cfg = self.config.channels.get(channel)
        if cfg is not None:
            return cfg.rate_per_second
        return adapter.capabilities.default_rate_per_second if adapter else 1.0

    def _add(self, result: JobResult) -> None:
        self.report.add(result)
        if self.progress is not None:
            self.progress(result)

    # -- leases and claims -------------------------------------------------
    def expire_leases(self) -> None:
        """Jobs whose run died mid-send: ambiguous, so reconcile — unless re-sending is idempotent."""
        now = self._now()
        with self.store.transaction() as conn:
            for row in job_rows.sending_past_lease(conn, now):
                adapter = self.registry.get(row["channel"])
                if adapter is not None and adapter.capabilities.idempotency_key:
                    job_rows.requeue_expired(conn, row["id"], now)
                else:
                    error = "the run sending it stopped before recording the outcome; the message may have been sent"
                    job_rows.mark_needs_reconcile(conn, row["id"], now, error)
                    # Reported (exit 7) once the run ends, so cron tells the operator; not counted
                    # against --limit, which bounds sends.
                    self._expired.append(JobResult(job_id=row["id"], channel=row["channel"],
                                                   outcome="needs_reconcile", error=error))
            self.paused.update(paused_channels(conn))

    def claim(self) -> dict[str, list[dict]]:
        now = self._now()
        claimed: dict[str, list[dict]] = {}
        taken = 0
        # Serialised on SQLite; on PostgreSQL row locks alone (claim_due skips rows another worker holds).
        with self.store.transaction(serialised=False) as conn:
            for channel in job_rows.due_channels(conn, now):
                if channel in self.paused:
                    continue
                if not self.locks.acquire(channel):
                    self.busy.add(channel)
                    continue
                adapter = self.registry.get(channel)
                # No more than the channel can send within half a lease, so that
                # a claimed job never waits in our queue until its lease expires.
                size = min(max(1, int(self._rate(channel, adapter) * self.settings.lease_seconds / 2)),
                           self.settings.batch_size)
                if self.limit is not None:
                    size = min(size, self.limit - len(self.report.jobs) - taken)
                if size <= 0:
                    break
                rows = job_rows.claim_due(conn, channel=channel, owner=self.owner, lease_until=self._lease_until(),
                                          now=now, size=size)
                if rows:
                    claimed[channel] = sorted((dict(r) for r in rows), key=lambda r: (r["send_at"], r["id"]))
                    taken += len(rows)
        return claimed

    # -- transitions -------------------------------------------------------
    def _settle(self, conn: sqlite3.Connection, finishes: list[_Finish]) -> list[JobResult]:
        """Settle a wave's jobs, in a few statements whatever the wave's size (round trips on PostgreSQL)."""
        if not finishes:
            return []
        now = self._now()
        settled = job_rows.finish(conn, [f.settle for f in finishes], owner=self.owner, now=now)
        results: list[JobResult] = []
        adopted: dict[str, int] = {}
        for f in finishes:
            job_id, updated = f.job["id"], f.job["id"] in settled
            if updated and f.draft_to_review:
                drafts.send_back_to_review(conn, f.job["draft_id"], f.draft_to_review, now)
            if not updated and f.settle.from_state == "sending":
                # Our lease ran out mid-request and another run marked the job needs_reconcile.
                # What we learnt settles it, as a status webhook would; anything else stays for a human.
                provider_id = f.settle.provider_id
                if f.settle.state == "sent" and provider_id and job_rows.settle_reconcile_as_sent(
                        conn, job_id, provider_id, now):
                    updated = True
                else:
                    results.append(JobResult(job_id=job_id, channel=f.job["channel"], outcome="needs_reconcile",
                                             provider_message_id=provider_id,
                                             error="the lease ran out during the request; another run took the "
                                                   "job over"))
                    continue
            if updated and f.settle.state == "sent" and f.settle.provider_id:
                adopted[f.settle.provider_id] = job_id
            results.append(JobResult(job_id=job_id, channel=f.job["channel"], outcome=f.outcome,
                                     provider_message_id=f.settle.provider_id, error=f.settle.error))
        adopt_statuses(conn, finishes[0].job["channel"], adopted, now)
        return results

    def _prepare_wave(self, channel: str, jobs: list[dict], adapter: Adapter | None) -> list[tuple[dict, Outgoing]]:
        """One transaction: re-check each job; mark the sendable ones ``sending``, settle the rest."""
        now_dt = self.clock.now()
        now = to_iso(now_dt)
        rules = POLICIES.get(channel)
        ready: list[tuple[dict, Outgoing]] = []
        with self.store.transaction() as conn:
            # A job missing here was taken over by another run after our lease ran out: it owns it now.
            rows = job_rows.claimed_jobs(conn, [job["id"] for job in jobs], self.owner, "claimed")
            facts = wave_facts(conn, channel, rows.values(), adapter, self.config)
            skipped: list[_Finish] = []
            going: list[tuple[dict, sqlite3.Row, str | None]] = []
            for job in jobs:
                row = rows.get(job["id"])
                if row is None:
                    continue
                skip: Skip | None = skip_reason(facts, row, adapter, self.config, now_dt)
                if skip is not None:
                    skipped.append(_Finish(job, skip.outcome, job_rows.Settle(
                        job["id"], "claimed", skip.state, skip.error, send_at=skip.send_at),
                        draft_to_review=skip.draft_to_review))
                    continue
                message_id = row["message_id"]
                if rules is not None and rules.mints_message_id and message_id is None:
                    message_id = new_message_id(self.config, channel)  # reused on every retry
                going.append((job, row, message_id))
            # On PostgreSQL a claim does not take the write lock: a job whose lease ran out between the read
            # above and this write may have been claimed by another run, and is then not marked (nor sent).
            marked = job_rows.mark_sending(conn, [(row["id"], message_id) for _, row, message_id in going],
                                           owner=self.owner, now=now, lease_until=self._lease_until())
            for job, row, message_id in going:
                if row["id"] not in marked:
                    continue
                assert adapter is not None
                link = (self.unsubscribe_link(row["contact_id"], channel)
                        if self.unsubscribe_link is not None and rules is not None and rules.list_unsubscribe else None)
                ready.append((job, outgoing(facts, row, adapter, self.config, now_dt, message_id, link)))
            for result in self._settle(conn, skipped):
                self._add(result)
        return ready

    def _outcome(self, conn: sqlite3.Connection, job: dict, adapter: Adapter, result: SendResult) -> _Finish:
        """How a send's result settles its job (``_settle`` writes it, with the rest of the wave)."""

        def finish(state: str, outcome: str, error: str | None = None, **kw: Any) -> _Finish:
            return _Finish(job, outcome, job_rows.Settle(
                job["id"], "sending", state, error, result.error_code, provider_id=kw.pop("provider_id", None),
                send_at=kw.pop("send_at", None), uncount=kw.pop("uncount", False)), **kw)

        if result.outcome is Outcome.SENT:
            return finish("sent", "sent", provider_id=result.provider_message_id)
        if result.outcome is Outcome.AMBIGUOUS and not adapter.capabilities.idempotency_key:
            return finish("needs_reconcile", "needs_reconcile", f"may have been sent: {result.error}")
        if result.outcome is Outcome.WINDOW_CLOSED:
            return finish("skipped", "skipped", f"window closed: {result.error}", draft_to_review="window_closed")
        if result.outcome is Outcome.PAUSED:
            self._pause_in(conn, job["channel"], pause_reason(result))
            # Not an attempt that counts: the channel refused everything.
            return finish("retry_wait", "deferred", f"channel paused: {result.error}", uncount=True)
        if result.outcome is Outcome.PERMANENT:
            return finish("failed", "failed", f"{result.error_code or ''} {result.error or ''}".strip())
        # RETRYABLE, or AMBIGUOUS on an adapter whose retries cannot duplicate. (Read here, not for every send:
        # a statement per job is a round trip on PostgreSQL.)
        attempts = job_rows.attempts(conn, job["id"])
        if attempts >= self.settings.max_attempts:
            return finish("failed", "failed", f"gave up after {attempts} attempts: {result.error}")
        delay = self._backoff(job["send_key"], attempts, result.retry_after)
        return finish("retry_wait", "retry", f"attempt {attempts} failed: {result.error}",
                      send_at=to_iso(self.clock.now() + timedelta(seconds=delay)))

    def _backoff(self, send_key: str, attempts: int, retry_after: float | None) -> float:
        base = min(self.settings.max_backoff_seconds, self.settings.backoff_seconds * 2 ** (attempts - 1))
        # Jitter, deterministic per job and attempt, so retries of many jobs spread out.
        delay = base * (0.5 + 0.5 * random.Random(f"{send_key}:{attempts}").random())
        return max(delay, retry_after or 0.0)

    def _pause_in(self, conn: sqlite3.Connection, channel: str, reason: str) -> None:
        self.paused[channel] = reason
        channel_state.pause(conn, channel, self._now(), reason)

    # -- sending -----------------------------------------------------------
    async def _send(self, adapter: Adapter, bucket: RateLimiter, message: Outgoing) -> SendResult:
        written = await bucket.take()
        token = REQUEST_WRITTEN.set(written)  # this task's own context: gather runs each send as a task
        try:
            result = await adapter.send(message)
        except Exception as exc:  # an adapter bug: after the request may have left, so ambiguous
            result = SendResult(Outcome.AMBIGUOUS, error=f"adapter error {type(exc).__name__}: {exc}")
        finally:
            written()
            REQUEST_WRITTEN.reset(token)
        return self._redacted(result)

    def _redacted(self, result: SendResult) -> SendResult:
        """The one place provider text leaves the adapters: every secret the config names, in every
        spelling, is removed from it before it is stored (jobs, channel_state), reported or printed."""
        redact = self.registry.redactor
        if not redact:
            return result
        return dataclasses.replace(
            result, error=None if result.error is None else redact.clip(result.error, MAX_ERROR_CHARS),
            error_code=None if result.error_code is None else redact(result.error_code),
            provider_message_id=None if result.provider_message_id is None else redact(result.provider_message_id))

    def _waves(self, channel: str, jobs: list[dict], size: int) -> list[list[dict]]:
        """Jobs in send order, cut into waves; with a recipient gap, one job per recipient per wave
        (the next wave's check then sees the first one sent and defers the second)."""
        gap = getattr(self.config.channels.get(channel), "min_gap_seconds", 0.0)
        waves: list[list[dict]] = []
        pending = list(jobs)
        while pending:
            wave: list[dict] = []
            later: list[dict] = []
            seen: set[str | None] = set()
            for job in pending:
                recipient = job.get("recipient")
                if len(wave) < size and not (gap and recipient in seen):
                    wave.append(job)
                    seen.add(recipient)
                else:
                    later.append(job)
            waves.append(wave)
            pending = later
        return waves

    async def _run_channel(self, channel: str, jobs: list[dict]) -> None:
        adapter = self.registry.get(channel)
        rate = self._rate(channel, adapter)
        bucket = self.buckets.setdefault(channel, RateLimiter(rate))
        wave_size = self.settings.wave_size(rate)
        for wave in self._waves(channel, jobs, wave_size):
            if channel in self.paused:
                error = f"channel paused: {self.paused[channel]}"
                with self.store.transaction() as conn:
                    for result in self._settle(conn, [_Finish(job, "deferred", job_rows.Settle(
                            job["id"], "claimed", "retry_wait", error)) for job in wave]):
                        self._add(result)
                continue
            ready = self._prepare_wave(channel, wave, adapter)
            if not ready:
                continue
            assert adapter is not None
            results = await asyncio.gather(*(self._send(adapter, bucket, message) for _, message in ready))
            with self.store.transaction() as conn:
                finishes = [self._outcome(conn, job, adapter, result) for (job, _), result in zip(ready, results)]
                for result in self._settle(conn, finishes):
                    self._add(result)

    async def run(self) -> ExecuteReport:
        try:
            if anything_due(self.store, self.clock.now()):
                self.expire_leases()
                while self.limit is None or len(self.report.jobs) < self.limit:
                    claimed = self.claim()
                    if not claimed:
                        break
                    await asyncio.gather(*(self._run_channel(ch, jobs) for ch, jobs in claimed.items()))
                for result in self._expired:
                    self._add(result)
            else:
                self.paused.update(paused_channels(self.store.conn))
        finally:
            try:
                await self.registry.aclose()
            finally:
                self.locks.release_all()
        self.report.paused_channels = sorted(self.paused)
        self.report.paused_reasons = {channel: self.paused[channel] or "reason not recorded"
                                      for channel in self.report.paused_channels}
        self.report.busy_channels = sorted(self.busy)
        return self.report


def pause_reason(result: SendResult) -> str:
    """Why the channel stopped, as the operator needs it: the adapter's words ("access token missing:
    environment variable WA_TOKEN is not set", "access token expired or invalid: …") and the
    provider's own code when it gave one (Graph 190, SMTP 535, HTTP 403), to look up in its docs."""
    reason = result.error or "the provider refused every send"
    code = result.error_code or ""
    if code.removeprefix("http_").isdigit() and f"(#{code})" not in reason:
        reason = f"{reason} (provider code {code})"
    return reason


def execute_jobs(store: Store, config: Config, clock: Clock, registry: Registry, *,
                 limit: int | None = None, owner: str | None = None,
                 progress: Callable[[JobResult], None] | None = None,
                 unsubscribe_link: Callable[[int, str], str] | None = None) -> ExecuteReport:
    """``unsubscribe_link(contact_id, channel)`` gives the RFC 8058 link for outgoing email, if any."""
    executor = Executor(store, config, clock, registry, owner=owner, limit=limit, progress=progress,
                        unsubscribe_link=unsubscribe_link)

    async def run() -> None:
        await executor.run()

    # The report is read from the executor, not returned by the task: on leaving, asyncio.run restores the
    # SIGINT handler, and Python 3.11 builds the repr of the finished task — its result, every JobResult of
    # a 50,000-job report — while doing so (a tenth of the engine's time in bench_execute).
    asyncio.run(run())
    return executor.report
