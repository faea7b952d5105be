"""OpenAI drafter concurrency: 100 drafts against a loopback stub answering in 300 ms.

    python benchmarks/bench_openai_concurrency.py [--events 100] [--latency 0.3] [--concurrency 16]

Runs ``OpenAIDrafter.draft_many`` with the real openai client against the
test stub (tests/openai_stub.py), once with concurrency 1 and once with
``--concurrency``, and prints both wall times and their ratio.
Target: the concurrent run takes at most 1/5 of the sequential one.

Results and the machine they came from go in the README's "Benchmarks" section.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autopilot_cli.config import DrafterSection
from autopilot_cli.drafting import DraftRequest, Passage
from autopilot_cli.drafting._openai_drafter import OpenAIDrafter
from tests.openai_stub import API_KEY, OpenAIStub, completion

PASSAGE = Passage(entry_id=1, question="When are you open?", answer="Monday to Friday 9:00-18:00.",
                  score=3.0, coverage=1.0, question_coverage=1.0)


def requests(n: int) -> list[DraftRequest]:
    return [DraftRequest(event_id=i, channel="email", contact_name="Ana", inbound_text=f"When are you open? ({i})",
                         template="Hi {greeting_name},\n\n{answer}\n\n{signature}", signature="The team",
                         passages=[PASSAGE]) for i in range(n)]


def timed(stub: OpenAIStub, concurrency: int, batch: list[DraftRequest]) -> float:
    cfg = DrafterSection(kind="openai", base_url=stub.url, concurrency=concurrency, max_retries=0)
    drafter = OpenAIDrafter.from_config(cfg, API_KEY)
    started = time.perf_counter()
    results = drafter.draft_many(batch)
    elapsed = time.perf_counter() - started
    drafter.close()
    failed = [r.error for r in results if r.error]
    if failed:
        raise SystemExit(f"{len(failed)} drafts failed, first: {failed[0]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds the stub waits before answering")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    stub = OpenAIStub().start()
    stub.chat_handler = lambda body: completion(delay=args.latency)
    try:
        batch = requests(args.events)
        sequential = timed(stub, 1, batch)
        concurrent = timed(stub, args.concurrency, batch)
    finally:
        stub.stop()
    print(f"machine: {platform.machine()} {platform.system()}, python {platform.python_version()}")
    print(f"{args.events} drafts, stub latency {args.latency * 1000:.0f} ms")
    print(f"sequential (concurrency 1): {sequential:.2f} s")
    print(f"concurrent (concurrency {args.concurrency}): {concurrent:.2f} s")
    ratio = concurrent / sequential
    print(f"ratio: {ratio:.3f} (target <= 0.200: {'met' if ratio <= 0.2 else 'MISSED'})")


if __name__ == "__main__":
    main()
