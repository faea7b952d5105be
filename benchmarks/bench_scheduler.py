"""Send-time scheduling cost per decision, with 100 past messages per contact.

    python benchmarks/bench_scheduler.py [--decisions 5000] [--history 100] [--seed 1] [--profile]

Builds reproducible contacts spread over several time zones (including
Lord_Howe, Kolkata and Chatham) with ``--history`` past inbound timestamps
each, a channel-wide profile, and a mix of live and old inbound messages on
WhatsApp (window-bound) and email, with quiet hours for a third of the
contacts; then times ``scheduler.plan_send_time`` alone (inputs are built
before the clock starts). Prints the mean and p99 cost per decision.
Target: mean <= 1 ms.

Results and the machine they came from go in the README's "Benchmarks" section.
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autopilot_cli.scheduling._planner import Preferences, default_rules, plan_send_time

TARGET_MS = 1.0
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham",
         "Europe/London", "America/Sao_Paulo")
UTC = timezone.utc


def build(decisions: int, history: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    base = datetime(2026, 10, 20, tzinfo=UTC)
    channel_profile = [float(rng.randint(0, 50)) for _ in range(168)]
    cases = []
    for i in range(decisions):
        tz = ZoneInfo(ZONES[i % len(ZONES)])
        now = base + timedelta(minutes=rng.randint(0, 60 * 24 * 21))
        habit = rng.randint(0, 167)
        past = [now - timedelta(days=rng.randint(1, 180),
                                hours=habit % 24 if rng.random() < 0.7 else rng.randint(0, 23),
                                minutes=rng.randint(0, 59)) for _ in range(history)]
        channel = "whatsapp" if i % 2 else "email"
        received = now - timedelta(minutes=rng.choice((1, 5, 30, 240, 900)))
        cases.append(dict(
            now=now, received_at=received, channel=channel, tz=tz, tz_source="contact preference",
            prefs=Preferences(quiet_hours="22-08") if i % 3 == 0 else Preferences(),
            rules=default_rules(channel), contact_history=past, channel_profile=channel_profile,
            window_closes=received + timedelta(hours=24) if channel == "whatsapp" else None,
            last_send_to_contact=now - timedelta(seconds=rng.randint(1, 600)),
            min_delay=timedelta(seconds=60), holidays=(), seed=f"event-{i}",
        ))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--history", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    cases = build(args.decisions, args.history, args.seed)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [plan_send_time(**c) for c in cases])
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(15)
        return
    for case in cases[:200]:  # warm the zone caches as a long-running process would be
        plan_send_time(**case)
    costs = []
    for case in cases:
        start = time.perf_counter()
        plan_send_time(**case)
        costs.append(time.perf_counter() - start)
    costs.sort()
    mean_ms = sum(costs) / len(costs) * 1000
    p99_ms = costs[int(len(costs) * 0.99)] * 1000
    print(f"python {platform.python_version()} on {platform.machine()} ({platform.system()})")
    print(f"{len(costs)} decisions, {args.history} past messages per contact")
    print(f"mean {mean_ms:.3f} ms per decision, p99 {p99_ms:.3f} ms (target <= {TARGET_MS} ms mean)")
    print("OK" if mean_ms <= TARGET_MS else "SLOWER THAN TARGET")


if __name__ == "__main__":
    main()
