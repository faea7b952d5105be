"""Time and peak RSS of every parser on hostile inputs (issue 12, H2).

    python benchmarks/bench_parsers_hostile.py [--scale 1.0] [--only NAME]

Each input (about 1 MB at scale 1, some larger) is parsed in its own child
process, so that the peak RSS printed is that input's alone; the size limit is
raised to the input's size, so the whole parser runs (the default limit of 1 MB
would refuse the larger ones at once). Printed per input: size, wall and CPU
seconds, seconds per MB, peak RSS, what the parser answered, and OVER when the
target is missed: an answer within 2 s per MB (at least 1 s) and RSS within
200 MB + 10 x the input's size.

The inputs are the shapes that hung or blew up under fuzzing: deep JSON,
5,000-digit numbers, lone surrogates, a payload of thousands of records and
contacts, HTML tables, stray and unterminated tags, tens of thousands of
header fields or MIME parts, an overlong Subject or To, nested multiparts,
signature lines, and an mbox of thousands of empty messages.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MB = 1_000_000
HEAD = b"From: Ann <ann@example.com>\nDate: Mon, 10 Mar 2025 07:45:00 +0000\nMessage-ID: <h@example.com>\n"


def _fill(unit: bytes, size: int) -> bytes:
    return unit * max(1, size // len(unit))


def _jsonl_event(n: int, text: str = "hello") -> bytes:
    return json.dumps({"channel": "email", "id": f"m{n}", "from": "a@example.com", "text": text,
                       "received_at": "2025-03-10T07:45:00Z"}).encode()


def _whatsapp(messages: int, contacts: int) -> bytes:
    value = {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881"},
        "contacts": [{"profile": {"name": f"C{i}"}, "wa_id": str(16505550000 + i)} for i in range(contacts)],
        "messages": [{"from": str(16505550000 + i), "id": f"wamid.{i}", "timestamp": "1744344496", "type": "text",
                      "text": {"body": "hi"}} for i in range(messages)],
    }
    doc = {"object": "whatsapp_business_account",
           "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]}
    return json.dumps(doc).encode()


def _html_mail(html: bytes) -> bytes:
    return HEAD + b"MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n" + html


def inputs(scale: float) -> dict[str, tuple[str, Callable[[], bytes]]]:
    size = int(MB * scale)
    n = max(10, size // 10)
    return {
        "jsonl: 1 MB of good events": ("jsonl", lambda: b"\n".join(_jsonl_event(i) for i in range(size // 110))),
        "jsonl: deep nesting lines": ("jsonl", lambda: _fill(b"[" * 5000 + b"]" * 5000 + b"\n", size)),
        "jsonl: 5,000-digit numbers": ("jsonl", lambda: _fill(b'{"a": ' + b"9" * 5000 + b"}\n", size)),
        "jsonl: lone surrogates": ("jsonl", lambda: _fill(_jsonl_event(1, "x").replace(b'"x"', b'"\\ud800"') + b"\n",
                                                          size)),
        "jsonl: one 20 MB line": ("jsonl", lambda: b'{"text": "' + b"x" * (20 * size) + b'"}\n'),
        "whatsapp: deep nesting": ("whatsapp", lambda: b"[" * (size // 2) + b"]" * (size // 2)),
        "whatsapp: 4,000 messages x 4,000 contacts": ("whatsapp",
                                                      lambda: _whatsapp(int(4000 * scale), int(4000 * scale))),
        "linkedin: deep nesting": ("linkedin",
                                   lambda: b'{"elements": ' + b"[" * (size // 2) + b"]" * (size // 2) + b"}"),
        "email: HTML table": ("email", lambda: _html_mail(b"<table>" + _fill(b"<tr><td>a</td><td>b</td></tr>", size))),
        "email: stray end tags": ("email", lambda: _html_mail(b"<div>" * (n // 2) + b"x" + b"</span>" * n)),
        "email: unterminated '<a'": ("email", lambda: _html_mail(_fill(b"<a", size))),
        "email: unclosed comments among tags": ("email", lambda: _html_mail(_fill(b"<!--<textarea>", size) + b">")),
        "email: 50,000 header fields": ("email", lambda: HEAD + b"".join(b"X-H%d: v\n" % i
                                                                          for i in range(int(50_000 * scale)))
                                        + b"\nhi\n"),
        "email: 280 kB Subject of encoded words": ("email", lambda: HEAD + b"Subject: " + b"=?utf-8?q?a?= " * 20_000
                                                   + b"\n\nhi\n"),
        "email: To with 20,000 addresses": ("email", lambda: HEAD + b"To: "
                                            + b", ".join(b"u%d@example.com" % i for i in range(20_000)) + b"\n\nhi\n"),
        "email: 5,000 nested multiparts": ("email", lambda: HEAD + b'MIME-Version: 1.0\nContent-Type: multipart/mixed; '
                                                            b'boundary="b0"\n\n'
                                           + b"".join(b'--b%d\nContent-Type: multipart/mixed; boundary="b%d"\n\n'
                                                      % (i, i + 1) for i in range(5000))),
        "email: 30,000 MIME parts": ("email", lambda: HEAD + b'MIME-Version: 1.0\nContent-Type: multipart/mixed; '
                                                      b'boundary="b"\n\n'
                                     + b"".join(b"--b\nContent-Type: text/plain\n\npart %d\n" % i
                                                for i in range(int(30_000 * scale))) + b"--b--\n"),
        "email: 300,000 signature lines": ("email", lambda: HEAD + b"\nHi\n" + _fill(b"--\n", size)),
        "email: mobile footer lines": ("email", lambda: HEAD + b"\nHi\n" + _fill(b"Sent from my phone\nx\n", size)),
        "email: raw 8-bit headers": ("email", lambda: HEAD + _fill(b"X-8: caf\xc3\xa9 \xed\xa0\x80 \xff\n", 40_000)
                                     + b"\nhi\n"),
        "mbox: 30,000 empty messages": ("mbox", lambda: _fill(b"From x Mon Mar 17 09:00:00 2025\n\n", size)),
        "mbox: From lines in bodies": ("mbox", lambda: b"From a Mon Mar 17 09:00:00 2025\n" + HEAD + b"\nHi\n"
                                       + _fill(b"From here on\n", size)),
        "mbox: blank lines first, 3,000 messages": ("mbox", lambda: b"\n\n" + _fill(b"From a Mon Mar 17 09:00:00 2025\n"
                                                                                    + HEAD + b"\nHello\n\n", size)),
    }


def child(name: str, scale: float) -> None:
    """Parse one input; print one JSON line with the figures."""
    from autopilot_cli.errors import InputError
    from autopilot_cli.inbound._parsers import Limits, get_parser

    fmt, make = inputs(scale)[name]
    data = make()
    limits = Limits(max_message_bytes=len(data) + 1, now=datetime(2026, 1, 1, tzinfo=UTC))
    kinds: dict[str, int] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        for item in get_parser(fmt)(data, limits):
            kinds[type(item).__name__] = kinds.get(type(item).__name__, 0) + 1
        answer = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
    except InputError as exc:
        answer = f"InputError: {str(exc)[:60]}"
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"bytes": len(data), "wall": wall, "cpu": cpu, "rss": rss, "answer": answer}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="input size factor (1.0: about 1 MB each)")
    parser.add_argument("--only", help="run the inputs whose name contains this text")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.scale)
        return 0
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}; scale {args.scale}")
    print(f"{'input':44} {'size':>9} {'wall s':>7} {'cpu s':>7} {'s/MB':>6} {'RSS MB':>7}  answer")
    over = 0
    for name in inputs(args.scale):
        if args.only and args.only not in name:
            continue
        proc = subprocess.run([sys.executable, __file__, "--child", name, "--scale", str(args.scale)],
                              capture_output=True, text=True, check=False)
        if proc.returncode:
            over += 1
            print(f"{name:44} FAILED (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        mb = r["bytes"] / MB
        missed = r["wall"] > max(1.0, 2.0 * mb) or r["rss"] > 200 * MB + 10 * r["bytes"]
        over += missed
        print(f"{name:44} {mb:8.2f}M {r['wall']:7.2f} {r['cpu']:7.2f} {r['wall'] / max(mb, 1e-9):6.2f} "
              f"{r['rss'] / MB:7.0f}  {r['answer']}{'  OVER' if missed else ''}")
    print(f"{over} input(s) over the target (2 s per MB, at least 1 s; RSS 200 MB + 10 x size)")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
