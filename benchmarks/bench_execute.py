"""Engine overhead of ``execute``: draining due jobs through a no-op transport.

    python benchmarks/bench_execute.py [--jobs 50000] [--memory-jobs 100000]

1. 50,000 due jobs, an adapter that accepts every message at once: jobs/s of
   the engine alone (claims, pre-send checks, two transactions per wave).
   Target ≥ 5,000 jobs/s.
2. Peak memory while draining 100,000 due jobs, sampled as the drain goes:
   it should stay flat (jobs are claimed in batches, not loaded at once).
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


def drain(path: Path, jobs: int, samples: list[float] | None = None) -> float:
    config = config_from_dict({"channels": {"email": {"adapter": "outbox", "rate_per_second": 10_000}},
                               "execute": {"batch_size": 2000, "max_concurrency": 200}})
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
        assert store.scalar("SELECT count(*) FROM jobs WHERE state = 'sent'") == jobs
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--memory-jobs", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "engine.db"
        make_due_jobs(path, args.jobs)
        elapsed = drain(path, args.jobs)
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
