"""Start-up cost of an idle ``autopilot execute`` (what cron pays every minute).

    python benchmarks/bench_startup.py [--runs 20]

Times ``python -c "import sqlite3"`` (the reference), an idle ``autopilot
execute`` (nothing due: the standard-library fast path in entry.py) and
``autopilot status`` (the full CLI), each as a fresh process. Target: the idle
execute at most 3x the reference.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "idle.db")
        cli = [sys.executable, "-m", "autopilot_cli", "--db", db]
        subprocess.run([*cli, "ingest", "--format", "jsonl"], input=b"", check=True, stdout=subprocess.DEVNULL)
        reference = timed([sys.executable, "-c", "import sqlite3"], args.runs)
        idle = timed([*cli, "execute"], args.runs)
        full = timed([*cli, "status"], max(3, args.runs // 4))
    print(f"python -c 'import sqlite3'   {reference * 1000:7.1f} ms (reference)")
    print(f"autopilot execute (idle)     {idle * 1000:7.1f} ms = {idle / reference:.1f}x the reference (target <= 3x)")
    print(f"autopilot status (full CLI)  {full * 1000:7.1f} ms")
    return 0 if idle <= 3 * reference else 1


if __name__ == "__main__":
    raise SystemExit(main())
