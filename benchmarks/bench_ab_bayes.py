"""Cost of the Bayesian A/B verdict (``ab-report``'s probabilities) for three variants.

    python benchmarks/bench_ab_bayes.py [--draws 100000] [--repeat 5]

Times ``ab.bayes_probabilities`` on three arms of 1,000 sends each with the
default number of draws. Target: under 1 s per report (it runs once per
experiment per ``ab-report``).

Results and the machine they came from go in the README's "Benchmarks" section.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autopilot_cli.experiments._experiments import bayes_probabilities

TARGET_SECONDS = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    arms = [(100, 1000), (120, 1000), (110, 1000)]
    times = []
    for seed in range(args.repeat):
        started = time.perf_counter()
        bayes_probabilities(arms, draws=args.draws, seed=seed)
        times.append(time.perf_counter() - started)
    best, worst = min(times), max(times)
    print(f"machine: {platform.machine()} python {platform.python_version()}")
    print(f"bayes_probabilities, 3 arms, {args.draws:,} draws: best {best * 1000:.0f} ms, worst {worst * 1000:.0f} ms; "
          f"target < {TARGET_SECONDS * 1000:.0f} ms: {'met' if worst < TARGET_SECONDS else 'MISSED'}")
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
