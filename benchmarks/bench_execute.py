"""Engine overhead of ``execute``: draining due jobs through a no-op transport.

    python benchmarks/bench_execute.py [--jobs 50000] [--memory-jobs 100000]
    python benchmarks/bench_execute.py --postgresql [--workers 4] [--database-url URL]

1. 50,000 due jobs, an adapter that accepts every message at once: jobs/s of
   the engine alone (claims, pre-send checks, two transactions per wave).
   Target ≥ 5,000 jobs/s.
2. Peak memory while draining 100,000 due jobs, sampled as the drain goes:
   it should stay flat (jobs are claimed in batches, not loaded at once).

``--postgresql``: the same drain on PostgreSQL (a throw-away cluster as the tests start one, or
``--database-url`` of an empty database): one worker (target ≥ 3,000 jobs/s), then ``--workers``
processes draining one set of jobs together (more than one worker's figure, 0 duplicates).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _jobs import NOW, make_due_jobs

from autopilot_cli.channels import Outcome, SendResult
from autopilot_cli.channels._base import Capabilities
from autopilot_cli.clock import FixedClock
from autopilot_cli.config import config_from_dict
from autopilot_cli.db.migrations import open_store
from autopilot_cli.sending import execute_jobs


class NoOp:
    name = "noop"
    capabilities = Capabilities(text_limit=100_000, default_rate_per_second=100_000)

    async def send(self, message):
        return SendResult(Outcome.SENT, provider_message_id=f"p{message.job_id}")

    async def aclose(self):
        return None

    def health(self):
        return {}


class Fixed:
    """A registry with one no-op adapter; no secrets configured, so nothing to redact."""

    redactor = None

    def __init__(self) -> None:
        self.adapter = NoOp()

    def get(self, channel):
        return self.adapter

    async def aclose(self):
        return None


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def drain(path: Path | str, jobs: int, samples: list[float] | None = None, *, check: bool = True,
          one_run_per_channel: bool = True) -> tuple[float, int]:
    config = config_from_dict({"channels": {"email": {"adapter": "outbox", "rate_per_second": 10_000}},
                               "execute": {"batch_size": 2000, "max_concurrency": 200,
                                           "one_run_per_channel": one_run_per_channel}})
    clock = FixedClock(NOW + timedelta(minutes=1))
    with open_store(path, clock) as store:
        start = time.perf_counter()
        sent = 0
        while sent < jobs:
            report = execute_jobs(store, config, clock, Fixed(), limit=10_000)
            if not report.sent:
                break
            sent += report.sent
            if samples is not None:
                samples.append(rss_mb())
        elapsed = time.perf_counter() - start
        if check:
            assert store.scalar("SELECT count(*) FROM jobs WHERE state = 'sent'") == jobs
    return elapsed, sent


def _worker(url: str, jobs: int, results) -> None:
    # One channel here: with one run per channel (the default) a second worker would leave it to the first.
    # The workers share it through the database claim alone, as they would share many channels.
    elapsed, sent = drain(url, jobs, check=False, one_run_per_channel=False)
    results.put(sent)


def postgresql(args: argparse.Namespace) -> int:
    import multiprocessing

    cluster = None
    if args.database_url is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from pg_cluster import start_cluster

        cluster = start_cluster()
    try:
        figures = []
        for workers in (1, args.workers):
            url = args.database_url or cluster.create_database(f"bench_{workers}")  # type: ignore[union-attr]
            make_due_jobs(url, args.jobs)
            results: multiprocessing.Queue = multiprocessing.Queue()
            procs = [multiprocessing.Process(target=_worker, args=(url, args.jobs, results)) for _ in range(workers)]
            start = time.perf_counter()
            for p in procs:
                p.start()
            sent = [results.get() for _ in procs]
            for p in procs:
                p.join()
            elapsed = time.perf_counter() - start
            with open_store(url, FixedClock(NOW)) as store:
                stored = store.scalar("SELECT count(*) FROM jobs WHERE state = 'sent'")
            duplicates = sum(sent) - args.jobs
            rate = args.jobs / elapsed
            figures.append(rate)
            print(f"PostgreSQL, {workers} worker{'s' if workers > 1 else ''}: {args.jobs} jobs in {elapsed:.2f} s = "
                  f"{rate:,.0f} jobs/s; sent per worker {sent}; stored as sent {stored}; duplicates {duplicates}")
            if stored != args.jobs or duplicates:
                return 1
            if args.database_url is not None:
                break
        ok = figures[0] >= 3000 and (len(figures) == 1 or figures[1] > figures[0])
        print(f"targets: one worker >= 3,000 jobs/s, {args.workers} workers more than one: "
              f"{'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        if cluster is not None:
            cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--memory-jobs", type=int, default=100_000)
    parser.add_argument("--postgresql", action="store_true", help="benchmark the PostgreSQL backend")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database (default: a throw-away "
                                                              "cluster)")
    args = parser.parse_args()
    if args.postgresql:
        return postgresql(args)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "engine.db"
        make_due_jobs(path, args.jobs)
        elapsed, _ = drain(path, args.jobs)
        rate = args.jobs / elapsed
        print(f"engine, no-op transport  {args.jobs} jobs in {elapsed:.2f} s = {rate:,.0f} jobs/s (target >= 5,000)")
        path = Path(tmp) / "memory.db"
        make_due_jobs(path, args.memory_jobs)
        samples: list[float] = []
        drain(path, args.memory_jobs, samples)
        quarter = max(1, len(samples) // 4)
        print(f"peak RSS while draining {args.memory_jobs}: after 1/4 {samples[quarter - 1]:.0f} MB, "
              f"at the end {samples[-1]:.0f} MB (flat = batches, not one big list)")
    return 0 if rate >= 5000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
