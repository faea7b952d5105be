"""Worst-case cost of the five gates on inputs built to trigger regex backtracking.

    python benchmarks/bench_gates_hostile.py [--repeat 3]

Runs every input of ``tests/test_gates.py``'s ``HOSTILE_GATE_INPUTS`` through
safety, compliance, injection, spam and sanity, and prints the slowest input's
time. Target: every input under 0.5 s (they are 20-100 KB; real messages are
capped long before that at ingest).

Results and the machine they came from go in the README's "Benchmarks" section.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autopilot_cli.gates import (  # noqa: E402
    check_compliance,
    check_injection,
    check_safety,
    check_sanity,
    check_spam,
)
from autopilot_cli.gates._compliance import DEFAULT_TOPICS  # noqa: E402
from tests.test_gates import HOSTILE_GATE_INPUTS, PROMPT  # noqa: E402

TARGET_SECONDS = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    worst = (0.0, "")
    for text, _ in HOSTILE_GATE_INPUTS:
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            check_safety(text, text)
            check_compliance(text, text, DEFAULT_TOPICS)
            check_injection(text, {})
            check_spam(text)
            check_sanity(text, "email", PROMPT)
            best = min(best, time.perf_counter() - started)
        worst = max(worst, (best, repr(text[:24])))
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"inputs: {len(HOSTILE_GATE_INPUTS)}; slowest: {worst[0] * 1000:.1f} ms ({worst[1]}); "
          f"target < {TARGET_SECONDS * 1000:.0f} ms: {'met' if worst[0] < TARGET_SECONDS else 'MISSED'}")
    return 0 if worst[0] < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
