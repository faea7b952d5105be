"""Ingest throughput: a large JSONL file into a fresh database, then the same file again.

    python benchmarks/bench_ingest.py [--events 100000] [--contacts 20000] [--seed 1] [--profile]

Generates a reproducible JSONL file of mixed channels (WhatsApp from valid
E.164 numbers in several countries, email, Instagram, LinkedIn), ingests it
with ``autopilot_cli.inbound._ingest.ingest_bytes`` and the default config (batches of
``ingest.batch_size``) into a new database file, then ingests it again to time
duplicate detection. Prints events, seconds, events/s and peak RSS.
Target: >= 5,000 events/s for the first run. ``--profile`` prints the top of a
cProfile of the first run instead of timing it cleanly.

Results and the machine they came from go in the README's "Benchmarks" section.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import platform
import pstats
import random
import resource
import sqlite3
import sys
import tempfile
import time
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import phonenumbers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autopilot_cli.clock import FixedClock
from autopilot_cli.config import Config
from autopilot_cli.db.migrations import open_store
from autopilot_cli.inbound import IngestReport, ingest_bytes
from autopilot_cli.secrets import Secrets

TARGET_EVENTS_PER_SECOND = 5000
REGIONS = ("DE", "GB", "US", "FR", "ES", "IT", "BR", "IN", "MX", "NG", "NL", "AU")
TIMEZONES = {
    "DE": "Europe/Berlin", "GB": "Europe/London", "US": "America/New_York", "FR": "Europe/Paris",
    "ES": "Europe/Madrid", "IT": "Europe/Rome", "BR": "America/Sao_Paulo", "IN": "Asia/Kolkata",
    "MX": "America/Mexico_City", "NG": "Africa/Lagos", "NL": "Europe/Amsterdam", "AU": "Australia/Sydney",
}
# Share of contacts per channel; events follow the contacts.
CHANNEL_SHARE = (("whatsapp", 0.45), ("email", 0.30), ("instagram", 0.15), ("linkedin", 0.10))
FIRST = ("Olivia", "Jonas", "Maria", "Louis", "Aarav", "Sofia", "Lucas", "Amara", "Chen", "Yuki", "Mateo",
         "Emma", "Noah", "Fatima", "Liam", "Ana", "Ivan", "Zara", "Omar", "Priya")
LAST = ("Brown", "Müller", "Rossi", "Martin", "Sharma", "García", "Silva", "Okafor", "Wang", "Tanaka",
        "López", "Smith", "Dubois", "Kowalski", "Jansen", "Khan", "Novak", "Costa", "Ivanova", "Kim")
WORDS = ("hello hi thanks please order delivery shipping refund invoice price discount size colour "
         "available tomorrow today week address London Berlin kettle shoes jacket broken return "
         "tracking number payment card paypal question could you tell me when will my arrive "
         "is it possible to change the booking appointment opening hours weekend stock again "
         "great service love your products need help urgent asap still waiting reply").split()
DOMAINS = ("gmail.com", "outlook.com", "yahoo.co.uk", "web.de", "example.org", "icloud.com", "proton.me")


def _phone_numbers(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """``count`` distinct valid mobile numbers in E.164, with their region."""
    out: dict[str, str] = {}
    examples = {r: phonenumbers.example_number_for_type(r, phonenumbers.PhoneNumberType.MOBILE) for r in REGIONS}
    while len(out) < count:
        region = rng.choice(REGIONS)
        example = examples[region]
        national = str(example.national_number)
        # Vary the subscriber digits, keep the prefix that makes it a mobile number.
        keep = max(2, len(national) - 6)
        candidate = national[:keep] + "".join(rng.choice("0123456789") for _ in range(len(national) - keep))
        number = phonenumbers.parse("+" + str(example.country_code) + candidate)
        if phonenumbers.is_valid_number(number):
            out[phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)] = region
    return list(out.items())


def _text(rng: random.Random, channel: str) -> str:
    # Chat messages are short (median ~60 chars); emails are longer.
    median = 350 if channel == "email" else 60
    length = min(4000, max(2, int(rng.lognormvariate(0, 0.8) * median)))
    words: list[str] = []
    size = 0
    while size < length:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice(("?", ".", "!", " 🙂", ""))


def _contacts(rng: random.Random, count: int) -> list[dict]:
    contacts: list[dict] = []
    counts = {ch: int(count * share) for ch, share in CHANNEL_SHARE}
    counts["whatsapp"] += count - sum(counts.values())
    for (number, region) in _phone_numbers(rng, counts["whatsapp"]):
        # Senders arrive both as E.164 and as WhatsApp's wa_id (digits only).
        sender = number if rng.random() < 0.5 else number.lstrip("+")
        contacts.append({"channel": "whatsapp", "from": sender, "timezone": TIMEZONES[region]})
    for i in range(counts["email"]):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        contacts.append({"channel": "email", "from": f"{first} {last} <{first}.{last}{i}@{rng.choice(DOMAINS)}>"})
    for i in range(counts["instagram"]):
        contacts.append({"channel": "instagram", "from": str(17841400000000000 + i * 7919)})
    for i in range(counts["linkedin"]):
        contacts.append({"channel": "linkedin", "from": f"urn:li:person:{rng.getrandbits(40):010x}{i}"})
    for c in contacts:
        c["name"] = f"{rng.choice(FIRST)} {rng.choice(LAST)}" if rng.random() < 0.8 else None
    return contacts


def generate(path: Path, events: int, contacts: int, seed: int) -> int:
    """Write the JSONL file; returns its size in bytes."""
    rng = random.Random(seed)
    people = _contacts(rng, contacts)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    with path.open("w", encoding="utf-8") as out:
        for i in range(events):
            # Every contact writes at least once; then a skewed few write a lot.
            who = people[i] if i < len(people) else people[int(len(people) * rng.random() ** 2)]
            channel = who["channel"]
            record: dict = {
                "channel": channel,
                "id": {"whatsapp": f"wamid.HBgM{i:012d}", "email": f"<{i}.{rng.getrandbits(32):08x}@mail.example>",
                       "instagram": f"aWdfZAG1faXRlbToxOklH{i}", "linkedin": f"urn:li:message:{i}"}[channel],
                "from": who["from"],
                "text": _text(rng, channel),
                "received_at": (start + timedelta(seconds=i * 13 + rng.randrange(13)))
                .isoformat().replace("+00:00", "Z"),
            }
            if who["name"]:
                record["name"] = who["name"]
            if channel == "email":
                record["subject"] = "Re: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
                record["thread_id"] = f"thread-{zlib.crc32(who['from'].encode()):08x}"
            if "timezone" in who and rng.random() < 0.3:
                record["timezone"] = who["timezone"]
            if rng.random() < 0.1:
                record["metadata"] = {"campaign": rng.choice(("black-friday", "newsletter", "ads")), "n": i}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path.stat().st_size


def peak_rss_mb() -> float:
    # ru_maxrss is kilobytes on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def run_ingest(db: Path | str, data: bytes, config: Config, clock: FixedClock) -> tuple[IngestReport, float]:
    store = open_store(db, clock)
    try:
        started = time.perf_counter()
        report = ingest_bytes(store, data, fmt="auto", config=config, clock=clock, secrets=Secrets({}),
                              source="bench.jsonl")
        return report, time.perf_counter() - started
    finally:
        store.close()


def postgresql(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from pg_cluster import start_cluster

    config, clock = Config(), FixedClock(datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc))
    cluster = start_cluster()
    try:
        with tempfile.TemporaryDirectory(prefix="autopilot-bench-") as tmp:
            source = Path(tmp) / "events.jsonl"
            generate(source, args.events, min(args.contacts, args.events), args.seed)
            report, seconds = run_ingest(cluster.create_database("bench"), source.read_bytes(), config, clock)
        rate = report.ingested / seconds
        print(f"PostgreSQL: ingested {report.ingested} in {seconds:.2f} s = {rate:,.0f} events/s "
              f"(target {TARGET_EVENTS_PER_SECOND:,}); rejected {report.rejected}")
        return 0 if rate >= TARGET_EVENTS_PER_SECOND else 1
    finally:
        cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile the first run with cProfile")
    parser.add_argument("--postgresql", action="store_true",
                        help="into PostgreSQL (a throw-away cluster, as the tests start one) instead of SQLite")
    args = parser.parse_args(argv)
    if args.postgresql:
        return postgresql(args)

    config = Config()
    clock = FixedClock(datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc))
    with tempfile.TemporaryDirectory(prefix="autopilot-bench-") as tmp:
        source = Path(tmp) / "events.jsonl"
        started = time.perf_counter()
        size = generate(source, args.events, min(args.contacts, args.events), args.seed)
        print(f"generated {args.events} events, {size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")
        print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, {platform.machine()}, "
              f"{platform.system()} {platform.release()}, batch_size {config.ingest.batch_size}")
        data = source.read_bytes()
        db = Path(tmp) / "bench.db"

        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            run_ingest(db, data, config, clock)
            profiler.disable()
            stream = io.StringIO()
            stats = pstats.Stats(profiler, stream=stream)
            stats.sort_stats("cumulative").print_stats(35)
            stats.sort_stats("tottime").print_stats(25)
            print(stream.getvalue())
            return 0

        first, seconds = run_ingest(db, data, config, clock)
        rate = first.ingested / seconds if seconds else float("inf")
        print(f"first run:  ingested {first.ingested}, rejected {first.rejected}, duplicates {first.duplicates}")
        print(f"  seconds {seconds:.2f}, events/s {rate:,.0f} (target {TARGET_EVENTS_PER_SECOND:,})")
        check = sqlite3.connect(db)
        contacts = check.execute("SELECT count(*) FROM contacts").fetchone()[0]
        check.close()
        print(f"  contacts {contacts}, database {db.stat().st_size / 1e6:.1f} MB")

        second, seconds2 = run_ingest(db, data, config, clock)
        dup_rate = second.duplicates / seconds2 if seconds2 else float("inf")
        print(f"second run: ingested {second.ingested}, duplicates {second.duplicates}")
        print(f"  seconds {seconds2:.2f}, duplicates/s {dup_rate:,.0f}")
        print(f"peak RSS {peak_rss_mb():.0f} MB")
        ok = first.ingested == args.events and second.duplicates == args.events
        if not ok:
            print("error: counts do not match the generated events", file=sys.stderr)
            return 1
        if rate < TARGET_EVENTS_PER_SECOND:
            print(f"below target: {rate:,.0f} < {TARGET_EVENTS_PER_SECOND:,} events/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
