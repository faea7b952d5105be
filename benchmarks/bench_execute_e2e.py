"""``execute`` end to end: the real WhatsApp adapter (httpx) against a loopback fake Graph API.

    python benchmarks/bench_execute_e2e.py [--jobs 5000] [--quick]

The fake runs in its own process (so it does not share the GIL with the
engine), answers every ``POST …/messages`` with a WhatsApp success after an
optional latency, and counts: requests, requests per send key
(``biz_opaque_callback_data``: duplicates), and the requests that arrived when
more than the configured rate had already arrived within the last second — the
429s a provider enforcing that rate over a 1-second sliding window would have
returned (it answers 200 anyway, so the figure measures the pacing alone).

(a) Zero latency, ``[execute] max_concurrency`` 10 and 50: jobs/s through
    ``execute_jobs`` with the real adapter. Target >= 1,000 jobs/s, and 50 no
    worse than 10. Run against a raw-asyncio fake and, for comparison, a
    stdlib ``ThreadingHTTPServer`` fake (the shape of tests/fake_graph.py).
(b) 100 ms latency, ``rate_per_second`` 80 and 200: achieved rate at the fake
    vs configured (target >= 95%), and over-rate requests (target 0). The
    achieved rate is the sustained one: requests in the whole seconds from the
    first arrival, per second (the last, partial second would flatter bursts).
(c) Four ``autopilot execute`` subprocesses started together on 5,000 due jobs
    vs one: duplicates (target 0) and combined throughput (target >= 75% of one run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, deque
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TOKEN = "bench-token"
KEY = re.compile(rb'"biz_opaque_callback_data":\s*"([^"]*)"')


# -- the fake provider (runs in a child process) ---------------------------------
class Stats:
    def __init__(self, rate: float = 0.0, latency: float = 0.0) -> None:
        self.rate, self.latency = rate, latency
        self.keys: Counter[bytes] = Counter()
        self.window: deque[float] = deque()
        self.over = 0
        self.max_window = 0
        self.first = self.last = 0.0
        self.n = 0
        self.arrivals: list[tuple[str, float]] = []

    def record(self, key: bytes) -> int:
        now = time.monotonic()
        self.n += 1
        self.first = self.first or now
        self.last = now
        self.arrivals.append((key.decode(), now))
        self.keys[key] += 1
        if self.rate:
            self.window.append(now)
            while self.window[0] <= now - 1.0:
                self.window.popleft()
            self.max_window = max(self.max_window, len(self.window))
            if len(self.window) > self.rate:
                self.over += 1
        return self.n

    def summary(self) -> dict:
        # Sustained rate: requests in the whole seconds from the first one, per second (a run's
        # last, partial second would flatter a limiter that sends in bursts).
        whole = int(self.last - self.first)
        sustained = sum(1 for _, t in self.arrivals if t < self.first + whole) / whole if whole else 0.0
        return {"requests": self.n, "keys": len(self.keys), "duplicates": sum(n - 1 for n in self.keys.values()),
                "over_rate": self.over, "max_in_1s": self.max_window, "span": self.last - self.first,
                "sustained": sustained}


def _ok(n: int) -> bytes:
    body = (b'{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],'
            b'"messages":[{"id":"wamid.B%d"}]}' % n)
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def _control(stats_box: list, line: bytes, body: bytes) -> bytes:
    if line.startswith(b"POST /_reset"):
        params = json.loads(body or b"{}")
        stats_box[0] = Stats(float(params.get("rate") or 0), float(params.get("latency") or 0))
        out = b"{}"
    elif line.startswith(b"GET /_arrivals"):
        out = json.dumps(stats_box[0].arrivals).encode()
    else:
        out = json.dumps(stats_box[0].summary()).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(out), out)


def serve_asyncio(conn) -> None:
    """HTTP/1.1 keep-alive on raw asyncio streams: a few microseconds per request."""
    stats_box = [Stats()]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                body = await reader.readexactly(int(match.group(1))) if match else b""
                line = head[: head.index(b"\r\n")]
                if b" /_" in line:
                    writer.write(_control(stats_box, line, body))
                    continue
                stats = stats_box[0]
                key = KEY.search(body)
                n = stats.record(key.group(1) if key else b"")
                if stats.latency:
                    await asyncio.sleep(stats.latency)
                writer.write(_ok(n))
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        conn.send(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def serve_threading(conn) -> None:
    """The stdlib ``ThreadingHTTPServer`` (one thread per connection), as tests/fake_graph.py uses."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    stats_box = [Stats()]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _reply(self, raw: bytes) -> None:
            self.wfile.write(raw)

        def do_GET(self) -> None:
            self._reply(_control(stats_box, b"GET " + self.path.encode(), b""))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/_"):
                self._reply(_control(stats_box, b"POST " + self.path.encode(), body))
                return
            key = KEY.search(body)
            with lock:
                stats = stats_box[0]
                n = stats.record(key.group(1) if key else b"")
            if stats.latency:
                time.sleep(stats.latency)
            self._reply(_ok(n))

        def log_message(self, *args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    server = Server(("127.0.0.1", 0), Handler)
    conn.send(server.server_address[1])
    server.serve_forever()


class Fake:
    def __init__(self, kind: str = "asyncio") -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=serve_asyncio if kind == "asyncio" else serve_threading, args=(child,),
                                daemon=True)
        self.proc.start()
        self.port = parent.recv()
        self.kind = kind

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v21.0"

    def _call(self, method: str, path: str, payload: dict | None = None) -> dict:
        data = json.dumps(payload or {}).encode() if method == "POST" else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10) as resp:
            return json.loads(resp.read() or b"{}")

    def reset(self, rate: float = 0.0, latency: float = 0.0) -> None:
        self._call("POST", "/_reset", {"rate": rate, "latency": latency})

    def stats(self) -> dict:
        return self._call("GET", "/_stats")

    def arrivals(self) -> list[tuple[str, float]]:
        """(send key, ``time.monotonic()`` at arrival) per request, for comparing with the sender's clock."""
        return self._call("GET", "/_arrivals")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(5)


# -- the engine side ---------------------------------------------------------------
def due_jobs(path: Path, count: int) -> None:
    """``count`` due WhatsApp jobs, distinct recipients, with the times moved relative to the real clock."""
    from _jobs import make_due_jobs

    from autopilot_cli.clock import SystemClock, to_iso
    from autopilot_cli.db.migrations import open_store

    make_due_jobs(path, count, "whatsapp")
    now = datetime.now(timezone.utc)
    with open_store(path, SystemClock()) as store, store.transaction() as conn:
        conn.execute("UPDATE jobs SET send_at = ?", (to_iso(now - timedelta(minutes=1)),))
        conn.execute("UPDATE events SET received_at = ?", (to_iso(now - timedelta(minutes=10)),))


def channel_settings(fake: Fake, rate: float) -> dict:
    return {"adapter": "whatsapp", "base_url": fake.base_url, "phone_number_id": "1064", "token_env": "WA_TOKEN",
            "rate_per_second": rate, "min_gap_seconds": 0}


def in_process(fake: Fake, jobs: int, *, rate: float, concurrency: int, latency: float = 0.0) -> tuple[float, dict]:
    """Drain ``jobs`` due jobs with ``execute_jobs`` and the real adapter; (seconds, fake stats)."""
    from autopilot_cli.channels import Registry
    from autopilot_cli.clock import SystemClock
    from autopilot_cli.config import config_from_dict
    from autopilot_cli.db.migrations import open_store
    from autopilot_cli.secrets import Secrets
    from autopilot_cli.sending import execute_jobs

    config = config_from_dict({"channels": {"whatsapp": channel_settings(fake, rate)},
                               "execute": {"max_concurrency": concurrency, "batch_size": 1000}})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "e2e.db"
        due_jobs(path, jobs)
        fake.reset(rate=rate, latency=latency)
        clock = SystemClock()
        with open_store(path, clock) as store:
            start = time.perf_counter()
            registry = Registry(config, Secrets({"WA_TOKEN": TOKEN}), str(path), clock)
            report = execute_jobs(store, config, clock, registry)
            elapsed = time.perf_counter() - start
            assert report.sent == jobs, report.model_dump(exclude={"jobs"})
    return elapsed, fake.stats()


def cli_runs(fake: Fake, jobs: int, processes: int) -> tuple[float, dict, list[int]]:
    """``processes`` ``autopilot execute`` subprocesses started together; (wall seconds, fake stats, sent per run)."""
    with tempfile.TemporaryDirectory() as tmp:
        path, cfg = Path(tmp) / "cli.db", Path(tmp) / "autopilot.toml"
        due_jobs(path, jobs)
        settings = channel_settings(fake, 10_000)
        cfg.write_text("[channels.whatsapp]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items()))
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(WA_TOKEN=TOKEN, NO_PROXY="127.0.0.1")
        argv = [sys.executable, "-m", "autopilot_cli", "--config", str(cfg), "--db", str(path), "execute", "--json"]
        fake.reset()
        start = time.perf_counter()
        procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
                 for _ in range(processes)]
        outs = [p.communicate(timeout=600) for p in procs]
        elapsed = time.perf_counter() - start
        for proc, (_, err) in zip(procs, outs):
            assert proc.returncode == 0 and "locked" not in err, (proc.returncode, err[-2000:])
        sent = [json.loads(out)["sent"] for out, _ in outs]
        assert sum(sent) == jobs, sent
    return elapsed, fake.stats(), sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000, help="jobs for (a) and (c)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each (b) run at the configured rate")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    parser.add_argument("--only", default="abc", help="which parts to run, e.g. --only b")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.seconds = 1000, 3.0
    ok = True
    fast = Fake("asyncio")
    try:
        if "a" in args.only:
            ok &= part_a(fast, args)
        if "b" in args.only:
            ok &= part_b(fast, args)
        if "c" in args.only:
            ok &= part_c(fast, args)
    finally:
        fast.stop()
    return 0 if ok else 1


def bare_httpx(fake: Fake, requests: int, concurrency: int) -> float:
    """The client's own ceiling: the same POSTs in waves of ``concurrency`` with a bare httpx client, no engine."""
    from autopilot_cli.channels._base import HttpOptions
    from autopilot_cli.channels._http import new_client

    body = json.dumps({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "4915000000001",
                       "type": "text", "text": {"preview_url": False, "body": "x" * 64},
                       "context": {"message_id": "m1"}, "biz_opaque_callback_data": "k"}).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    async def go() -> float:
        async with new_client(HttpOptions(connections=concurrency)) as client:
            async def one() -> None:
                (await client.post(f"{fake.base_url}/1064/messages", headers=headers, content=body)).json()

            start = time.perf_counter()
            for _ in range(0, requests, concurrency):
                await asyncio.gather(*(one() for _ in range(concurrency)))
            return requests / (time.perf_counter() - start)

    return asyncio.run(go())


def part_a(fast: Fake, args: argparse.Namespace) -> bool:
    print(f"(a) zero latency, {args.jobs} jobs, rate_per_second 10000, real WhatsApp adapter (in process)")
    for concurrency in (10, 50):
        print(f"    {'bare httpx, no engine':25s} waves of {concurrency:3d}:        "
              f"{bare_httpx(fast, args.jobs, concurrency):7,.0f} requests/s (the HTTP client's own ceiling)")
    rates = {}
    for kind in ("asyncio", "ThreadingHTTPServer"):
        fake = fast if kind == "asyncio" else Fake("threading")
        try:
            for concurrency in (10, 50):
                elapsed, stats = in_process(fake, args.jobs, rate=10_000, concurrency=concurrency)
                rates[kind, concurrency] = args.jobs / elapsed
                print(f"    {kind + ' fake':25s} max_concurrency {concurrency:3d}: {args.jobs / elapsed:7,.0f} jobs/s "
                      f"({elapsed:.2f} s, duplicates {stats['duplicates']})")
        finally:
            if fake is not fast:
                fake.stop()
    ok = rates["asyncio", 10] >= 1000 and rates["asyncio", 50] >= 0.95 * rates["asyncio", 10]
    print(f"    target >= 1,000 jobs/s, and 50 no worse than 10 (within 5%): {'met' if ok else 'MISSED'}")
    return ok


def part_b(fast: Fake, args: argparse.Namespace) -> bool:
    print(f"(b) 100 ms latency, default max_concurrency 50, {args.seconds:g} s worth of jobs per rate")
    ok = True
    for rate in (80, 200):
        jobs = int(rate * args.seconds)
        elapsed, stats = in_process(fast, jobs, rate=rate, concurrency=50, latency=0.1)
        sustained = stats["sustained"]
        met = sustained >= 0.95 * rate and stats["over_rate"] == 0
        ok &= met
        print(f"    rate {rate:3d}/s: sustained {sustained:6.1f}/s at the fake = {sustained / rate:4.0%} "
              f"(whole run {jobs / elapsed:5.1f} jobs/s); over-rate requests {stats['over_rate']} "
              f"(most in any 1 s: {stats['max_in_1s']}); {'met' if met else 'MISSED'}")
    return ok


def part_c(fast: Fake, args: argparse.Namespace) -> bool:
    print(f"(c) {args.jobs} due jobs, `autopilot execute` subprocesses, asyncio fake, zero latency")
    one, stats1, _ = cli_runs(fast, args.jobs, 1)
    four, stats4, sent = cli_runs(fast, args.jobs, 4)
    ratio = one / four
    ok = stats4["duplicates"] == 0 and stats1["duplicates"] == 0 and ratio >= 0.75
    print(f"    one run:   {one:.2f} s = {args.jobs / one:,.0f} jobs/s (process start-up included)")
    print(f"    four runs: {four:.2f} s = {args.jobs / four:,.0f} jobs/s combined = {ratio:.0%} of one run; "
          f"sent per run {sent}; duplicates {stats4['duplicates']}; {'met' if ok else 'MISSED'}")
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
