"""Every parser, fed mutated real payloads, answers with items or an InputError — nothing else.

Issue 12 (H1, H2, H5): fuzzing the ingest with about 1,000 mutations per format of
the real sample payloads found 626 "internal error" exits (RecursionError,
UnicodeEncodeError, a raw pydantic ValidationError, OverflowError, ValueError,
OSError) and inputs that ran for minutes or took gigabytes. This keeps the
fuzzing in the suite:

- a few hundred seeded mutations per format (``tests/parse_helpers.mutate``: byte
  damage, hostile JSON values in place of real ones, records multiplied, mail with
  thousands of headers or parts, deep MIME and HTML, no Date, raw 8-bit headers…);
- each must give items the rest of the pipeline can take (``check_items``: storable
  text, bounded nesting, dates in range) or an ``InputError``, within a CPU-time
  bound per MB (CPU time, so a loaded machine does not fail it);
- a share of them also goes through ``ingest_bytes`` into a real SQLite file, where
  anything but an ``InputError`` is the "internal error" the operator saw.

``AUTOPILOT_FUZZ_CASES=5000`` runs that many per format (and checks wall time too,
generously); ``AUTOPILOT_FUZZ_SEED`` changes the seed. A failure names the format,
seed and case: ``sample_case(fmt, seed, case)`` rebuilds the input.
"""

from __future__ import annotations

import os
import random
import time
import traceback
from pathlib import Path

import pytest

from autopilot_cli.clock import FixedClock
from autopilot_cli.config import Config
from autopilot_cli.db.migrations import open_store
from autopilot_cli.errors import InputError
from autopilot_cli.inbound import FORMATS, ingest_bytes
from autopilot_cli.inbound._parsers import Limits, get_parser
from autopilot_cli.secrets import Secrets

from .conftest import NOW
from .parse_helpers import check_items, mutate, sample_payloads

pytestmark = pytest.mark.slow  # real subprocesses / many cases: `pytest -m "not slow"` skips them

LONG_CASES = int(os.environ.get("AUTOPILOT_FUZZ_CASES", "0") or 0)
SEED = os.environ.get("AUTOPILOT_FUZZ_SEED", "12")
# Per format in CI: a few hundred, the whole file well under 30 s on 2 CPUs.
CI_CASES = {"jsonl": 300, "linkedin": 300, "whatsapp": 300, "instagram": 300, "email": 250, "mbox": 150}
# Through the real ingest into SQLite: every n-th case up to this size.
INGEST_EVERY = 5
INGEST_MAX_BYTES = 200_000
# The target is 2 s per MB (issue 12, H2). CPU seconds are asserted with a margin
# for a shared machine; wall time only in the long mode, with a wider one.
CPU_FLOOR_S, CPU_PER_MB_S = 1.0, 4.0
WALL_FLOOR_S, WALL_PER_MB_S = 3.0, 8.0
LIMITS = Limits(now=NOW)


def sample_case(fmt: str, seed: str, case: int) -> bytes:
    rng = random.Random(f"{seed}-{fmt}-{case}")
    return mutate(fmt, rng.choice(sample_payloads(fmt)), rng)


def _parse(fmt: str, data: bytes) -> list:
    try:
        items = list(get_parser(fmt)(data, LIMITS))
    except InputError as exc:
        assert str(exc).strip() and "\n" not in str(exc), "an InputError is one line with a reason"
        return []
    check_items(items)
    return items


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_samples_never_raise_and_stay_bounded(fmt: str, tmp_path: Path) -> None:
    cases = LONG_CASES or CI_CASES[fmt]
    failures: list[str] = []
    kinds: dict[str, int] = {}
    store = open_store(tmp_path / "fuzz.db", FixedClock(NOW))
    try:
        for case in range(cases):
            data = sample_case(fmt, SEED, case)
            mb = len(data) / 1_000_000
            cpu, wall = time.process_time(), time.perf_counter()
            try:
                items = _parse(fmt, data)
            except Exception as exc:
                failures.append(f"{fmt} seed={SEED} case={case} ({len(data):,} bytes): "
                                f"{traceback.format_exception_only(exc)[-1].strip()[:300]}")
                continue
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if cpu > CPU_FLOOR_S + CPU_PER_MB_S * mb:
                failures.append(f"{fmt} seed={SEED} case={case}: {cpu:.2f} s of CPU for {len(data):,} bytes")
            if LONG_CASES and wall > WALL_FLOOR_S + WALL_PER_MB_S * mb:
                failures.append(f"{fmt} seed={SEED} case={case}: {wall:.2f} s for {len(data):,} bytes")
            for item in items:
                kinds[type(item).__name__] = kinds.get(type(item).__name__, 0) + 1
            if case % INGEST_EVERY == 0 and len(data) <= INGEST_MAX_BYTES:
                try:
                    ingest_bytes(store, data, fmt=fmt, config=Config(), clock=FixedClock(NOW), secrets=Secrets({}))
                except InputError:
                    pass
                except Exception as exc:
                    failures.append(f"{fmt} seed={SEED} case={case} via ingest: "
                                    f"{traceback.format_exception_only(exc)[-1].strip()[:300]}")
    finally:
        store.close()
    assert not failures, f"{len(failures)} of {cases} inputs misbehaved:\n" + "\n".join(failures[:20])
    # The mutations must leave plenty of inputs that parse (or the test proves nothing).
    assert kinds.get("InboundMessage", 0) + kinds.get("StatusUpdate", 0) > cases // 10, kinds
    assert kinds.get("Rejected", 0) > 0, kinds


# --- each finding of the fuzzing, pinned with its reason ------------------------------


def _whatsapp_text(n: int, body: str, timestamp: str = "1744344496") -> dict:
    return {"from": "16505551234", "id": f"wamid.{n}", "timestamp": timestamp, "type": "text", "text": {"body": body}}


def _whatsapp(*messages: dict) -> bytes:
    import json

    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881"},
             "messages": list(messages)}
    doc = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(doc).encode()


def _reasons(items: list) -> list[tuple[str, str | None]]:
    return [(type(i).__name__, getattr(i, "reason", None)) for i in items]


def test_a_lone_surrogate_rejects_its_record_and_keeps_the_good_one(store, config, clock, secrets) -> None:
    # A signed payload holding a good message and one with "\ud800" stored neither (500, and
    # Meta's retries lost the good one for good): the good one is stored, the bad one rejected.
    data = _whatsapp(_whatsapp_text(1, "Hello"), _whatsapp_text(2, "x")).replace(b'"body": "x"', b'"body": "\\ud800"')
    items = _parse("whatsapp", data)
    assert _reasons(items) == [
        ("InboundMessage", None),
        ("Rejected", "record holds a lone surrogate (a \\ud800-style escape that is not Unicode text)"),
    ]
    assert items[1].index == "entry[0].changes[0].value.messages[1]"
    report = ingest_bytes(store, data, fmt="whatsapp", config=config, clock=clock, secrets=secrets)
    assert (report.ingested, report.rejected) == (1, 1)
    assert [tuple(row) for row in store.conn.execute("SELECT text FROM events")] == [("Hello",)]


@pytest.mark.parametrize("fmt", ["whatsapp", "instagram", "linkedin"])
def test_deep_nesting_and_huge_numbers_are_reasons_not_exceptions(fmt: str) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(InputError, match=r"^input is not valid JSON \(nested more than 64 levels deep\)$"):
        list(get_parser(fmt)(deep, LIMITS))
    digits = b'{"a": ' + b"9" * 5000 + b"}"
    with pytest.raises(InputError, match=r"^input is not valid JSON \(a number has more than 4,300 digits\)$"):
        list(get_parser(fmt)(digits, LIMITS))


def test_jsonl_lines_with_deep_nesting_or_huge_numbers_are_rejected_alone() -> None:
    good = (b'{"channel": "email", "id": "m1", "from": "a@example.com", "text": "hi", '
            b'"received_at": "2025-03-10T07:45:00Z"}')
    lines = [good, b'{"a": ' + b"[" * 2000 + b"]" * 2000 + b"}", b'{"a": ' + b"9" * 5000 + b"}",
             good.replace(b"m1", b"m2").replace(b'"2025-03-10T07:45:00Z"', b"1e20"),
             good.replace(b"m1", b"m3").replace(b'"2025-03-10T07:45:00Z"', b'"0001-01-01T00:00:00+14:00"'),
             good.replace(b"m1", b"m4").replace(b'"hi"', b'"hi", "timezone": "' + b"x" * 5000 + b'"'),
             good.replace(b"m1", b"m5").replace(b'"hi"', b"NaN")]
    items = _parse("jsonl", b"\n".join(lines))
    assert _reasons(items) == [
        ("InboundMessage", None),
        ("Rejected", "invalid JSON: nested more than 64 levels deep"),
        ("Rejected", "invalid JSON: a number has more than 4,300 digits"),
        ("Rejected", "'received_at': not a usable timestamp: 1e+20"),
        ("Rejected", "'received_at': not a usable timestamp: '0001-01-01T00:00:00+14:00'"),
        ("Rejected", "'timezone': " + repr("x" * 64) + " is not an IANA time zone name"),
        ("Rejected", "invalid JSON: NaN is not a JSON number"),
    ]
    assert [i.line for i in items] == [1, 2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [("1e20", "bad 'timestamp' 1e+20 (Meta sends Unix time)"),  # OSError EOVERFLOW from gmtime
     ("1e19", "bad 'timestamp' 1e+19 (Meta sends Unix time)"),  # OverflowError
     ("-5", "bad 'timestamp' -5: out of range (1970 to 2199)"),
     ('"9999999999"', "bad 'timestamp' '9999999999': out of range (1970 to 2199)")],
)
def test_whatsapp_timestamps_out_of_range_are_rejected(timestamp: str, reason: str) -> None:
    data = _whatsapp(_whatsapp_text(1, "Hello", "TS")).replace(b'"TS"', timestamp.encode())
    assert _reasons(_parse("whatsapp", data)) == [("Rejected", f"messages[0]: {reason}")]


@pytest.mark.parametrize(
    ("thread", "reason"),
    [("12", "'activity.thread' is not a string: 12"), ("[1]", "'activity.thread' is not a string: a JSON array"),
     ("1e400", "'activity.thread' is not a string: inf")],
)
def test_linkedin_fields_of_the_wrong_type_are_rejected(thread: str, reason: str) -> None:
    sample = sample_payloads("linkedin")[0]
    data = sample.replace(
        b'"thread": "urn:li:messagingThread:2-YjM4NmQ4ZTgtNWI3Zi00Zjg2"', b'"thread": ' + thread.encode()
    )
    assert data != sample
    assert _reasons(_parse("linkedin", data)) == [("Rejected", reason)]


@pytest.mark.parametrize(
    "html",
    ["<a" * 100_000, "</span>" * 100_000, "<div>" * 100_000 + "x" + "</span>" * 100_000,
     ("<!--" + "<textarea>") * 40_000 + ">", ("<![CDATA[>" + "<title>") * 30_000],
)
def test_html_to_text_is_linear_on_hostile_markup(html: str) -> None:
    from autopilot_cli.inbound._parsers.html_text import html_to_text

    # Each took 4 to 60 s of CPU (stray end tags searched up the stack; html.parser
    # rescanning to the end for every unterminated "<", "<!--" or "<![").
    started = time.process_time()
    html_to_text(html, drop_quotes=True)
    assert time.process_time() - started < 3  # CPU seconds; about 0.3 s here
