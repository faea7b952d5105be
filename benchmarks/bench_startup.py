"""Start-up cost: an idle ``autopilot execute`` (what cron pays every minute) and the commands a
person types to look at things.

    python benchmarks/bench_startup.py [--runs 20]

Times ``python -c "import sqlite3"`` (the reference), an idle ``autopilot execute`` (nothing due:
the standard-library fast path in entry.py) and the reading commands (``status``, ``review --list``,
``explain``, ``channels``, ``contacts show``) on a database holding one processed message, each as a
fresh process. Targets: the idle execute at most 3x the reference; each reading command within 0.3 s.
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
        subprocess.run([sys.executable, "-m", "autopilot_cli", "init", tmp], check=True, stdout=subprocess.DEVNULL)
        cli = [sys.executable, "-m", "autopilot_cli", "--config", str(Path(tmp) / "autopilot.toml")]
        record = (b'{"channel": "email", "id": "m1", "from": "ana@example.org", "text": "Are you open on Saturday?", '
                  b'"received_at": "2026-01-05T09:00:00Z"}\n')
        subprocess.run([*cli, "ingest", "--format", "jsonl"], input=record, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*cli, "process"], check=True, stdout=subprocess.DEVNULL)
        reference = timed([sys.executable, "-c", "import sqlite3"], args.runs)
        idle = timed([*cli, "execute"], args.runs)
        reading = {name: timed([*cli, *argv], max(3, args.runs // 2)) for name, argv in (
            ("status", ["status"]), ("review --list", ["review", "--list"]), ("explain 1", ["explain", "1"]),
            ("channels", ["channels"]), ("contacts show", ["contacts", "show", "ana@example.org"]))}
    print(f"python -c 'import sqlite3'   {reference * 1000:7.1f} ms (reference)")
    print(f"autopilot execute (idle)     {idle * 1000:7.1f} ms = {idle / reference:.1f}x the reference (target <= 3x)")
    for name, seconds in reading.items():
        print(f"autopilot {name:<19} {seconds * 1000:7.1f} ms = {seconds / reference:.1f}x (target <= 300 ms)")
    return 0 if idle <= 3 * reference and max(reading.values()) <= 0.3 else 1

if __name__ == "__main__":
    raise SystemExit(main())
