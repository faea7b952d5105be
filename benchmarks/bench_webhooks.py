"""Webhook acknowledgement throughput and latency of ``autopilot serve``.

    python benchmarks/bench_webhooks.py [--seconds 20 | --posts 5000] [--threads 8] [--no-keepalive]
    python benchmarks/bench_webhooks.py --postgresql     # two replicas on one PostgreSQL database

Starts ``python -m autopilot_cli serve`` as a real subprocess on a fresh
database (WhatsApp channel with an app secret), then posts signed WhatsApp
webhooks (one new message each, ~1.5 KB, unique ids) from several client
threads over loopback, for ``--seconds`` or until ``--posts`` were sent.
Every post carries a valid ``X-Hub-Signature-256``, so each one costs the
server a signature check, a JSON parse and one committed ``BEGIN IMMEDIATE``
transaction (``synchronous=FULL``) before the 200.

Prints posts/s, p50/p95/p99/max acknowledgement latency as seen by the client,
and checks that every acknowledged post is in the ``events`` table.
``--no-keepalive`` opens a new connection per post (what nginx does towards an
upstream by default). Target: >= 500 posts/s on the 2-core machine.

``--postgresql``: two ``serve`` replicas on one database of a throw-away cluster (as the tests start
one), the client threads alternating between them (as a load balancer would). Target: >= 500 posts/s
together.

Results and the machine they came from go in the README's "Benchmarks" section.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autopilot_cli.clock import SystemClock  # noqa: E402
from autopilot_cli.db.migrations import open_store  # noqa: E402
from autopilot_cli.inbound._signature import sign  # noqa: E402

TARGET_POSTS_PER_SECOND = 500
SECRET = "bench-app-secret"
TEMPLATE = json.loads((ROOT / "tests" / "fixtures" / "whatsapp" / "text.json").read_text())


def payload(n: int) -> bytes:
    doc = json.loads(json.dumps(TEMPLATE))
    value = doc["entry"][0]["changes"][0]["value"]
    message = dict(value["messages"][0], id=f"wamid.BENCH{n:08d}",
                   text={"body": f"Hello, is order {n} on its way? I ordered it last week."})
    message["from"] = f"4915{n % 5000:09d}"
    value["messages"] = [message]
    value["contacts"] = [{"profile": {"name": f"Customer {n % 5000}"}, "wa_id": message["from"]}]
    return json.dumps(doc).encode()


def start_server(workdir: Path, url: str | None = None) -> tuple[subprocess.Popen, int]:
    config = workdir / "autopilot.toml"
    config.write_text(
        '[database]\npath = "bench.db"\n'
        '[channels.whatsapp]\nadapter = "whatsapp"\nphone_number_id = "106540352242922"\n'
        'app_secret_env = "BENCH_WA_SECRET"\n'
    )
    env = {**os.environ, "BENCH_WA_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    open_store(url or workdir / "bench.db", SystemClock()).close()  # as `autopilot init` would
    proc = subprocess.Popen(
        [sys.executable, "-m", "autopilot_cli", "--config", str(config), *(("--db", url) if url else ()), "serve",
         "--port", "0"],
        env=env, cwd=workdir, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    assert proc.stderr is not None
    while True:
        line = proc.stderr.readline()
        if not line:
            raise SystemExit(f"server did not start (exit {proc.wait()})")
        record = json.loads(line)
        if record.get("msg") == "listening":
            break
    # Drain the access log so the pipe never fills and blocks the server.
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    return proc, int(record["port"])


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="run this long (default 20)")
    parser.add_argument("--posts", type=int, default=None, help="stop after this many posts instead")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--no-keepalive", action="store_true", help="a new TCP connection per post")
    parser.add_argument("--postgresql", action="store_true", help="two replicas on one PostgreSQL database")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    cluster = database = None
    if args.postgresql:
        sys.path.insert(0, str(ROOT / "tests"))
        from pg_cluster import start_cluster

        cluster = start_cluster()
        database = cluster.create_database("bench")
    servers = [start_server(workdir, database) for _ in range(2 if database else 1)]
    urls = [f"http://127.0.0.1:{port}/webhooks/whatsapp" for _, port in servers]
    limit = args.posts
    deadline = time.perf_counter() + (args.seconds if limit is None else 3600)
    counter = iter(range(10**9))
    counter_lock = threading.Lock()
    latencies: list[list[float]] = [[] for _ in range(args.threads)]
    failures: list[str] = []

    def next_n() -> int | None:
        with counter_lock:
            n = next(counter)
        if limit is not None and n >= limit:
            return None
        return n

    def worker(index: int) -> None:
        limits = httpx.Limits(max_keepalive_connections=0 if args.no_keepalive else 1)
        with httpx.Client(timeout=30, limits=limits) as client:
            while time.perf_counter() < deadline:
                n = next_n()
                if n is None:
                    return
                body = payload(n)
                headers = {"X-Hub-Signature-256": sign(body, SECRET), "Content-Type": "application/json"}
                started = time.perf_counter()
                response = client.post(urls[index % len(urls)], content=body, headers=headers)
                elapsed = time.perf_counter() - started
                if response.status_code != 200:
                    failures.append(f"{n}: {response.status_code}")
                else:
                    latencies[index].append(elapsed)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.threads)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started

    for proc, _ in servers:
        proc.send_signal(signal.SIGTERM)
    code = max(abs(proc.wait(timeout=30)) for proc, _ in servers)
    all_latencies = sorted(x for per in latencies for x in per)
    acked = len(all_latencies)
    with open_store(database or workdir / "bench.db", SystemClock()) as store:
        stored = store.scalar("SELECT count(*) FROM events WHERE external_id LIKE 'wamid.BENCH%'")
    if cluster is not None:
        cluster.stop()

    rate = acked / wall
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}")
    print(f"client: {args.threads} threads, {'new connection per post' if args.no_keepalive else 'keep-alive'}; "
          f"{len(servers)} serve replica(s) on {'PostgreSQL' if database else 'SQLite'}")
    print(f"posts acknowledged: {acked} in {wall:.2f} s -> {rate:.0f} posts/s "
          f"(target >= {TARGET_POSTS_PER_SECOND}: {'met' if rate >= TARGET_POSTS_PER_SECOND else 'NOT met'})")
    print("ack latency ms: " + ", ".join(
        f"{name} {percentile(all_latencies, p) * 1000:.1f}" for name, p in (("p50", 50), ("p95", 95), ("p99", 99))
    ) + f", max {all_latencies[-1] * 1000:.1f}" if all_latencies else "no successful posts")
    print(f"non-200 answers: {len(failures)}; stored events: {stored} (acknowledged {acked}); "
          f"server exit code after SIGTERM: {code}")
    if failures or stored < acked or code != 0:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
