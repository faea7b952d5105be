"""Helpers shared by the test modules: configs, inbound records and their ingest.

One place for what several modules once defined for themselves (``cfg``, ``msg``, ``ingest``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from autopilot_cli.channels.policy import CHANNELS
from autopilot_cli.clock import Clock, FixedClock, to_iso
from autopilot_cli.config import Config, config_from_dict
from autopilot_cli.inbound import IngestReport, ingest_bytes
from autopilot_cli.secrets import Secrets

from .conftest import NOW


def outbox_channels(rate_per_second: float = 1000) -> dict[str, dict[str, Any]]:
    """Every channel an outbox, fast enough that pacing never slows a test down."""
    return {name: {"adapter": "outbox", "rate_per_second": rate_per_second} for name in CHANNELS}


def outbox_config(mode: str | None = None, **sections: Any) -> Config:
    """A validated config with every channel an outbox (unless ``channels`` is given)."""
    sections.setdefault("channels", outbox_channels())
    if mode is not None:
        sections.setdefault("autopilot", {"mode": mode})
    return config_from_dict(sections)


def message(i: int | str, text: str, *, channel: str = "email", sender: str = "ana@example.org",
            minutes_ago: float = 5, prefix: str = "m", at: datetime | None = None, **extra: Any) -> dict[str, Any]:
    """One JSONL inbound record, received ``minutes_ago`` before NOW (or ``at``)."""
    when = at if at is not None else NOW - timedelta(minutes=minutes_ago)
    return {"channel": channel, "id": f"{prefix}{i}", "from": sender, "text": text, "received_at": to_iso(when),
            **extra}


def ingest_records(store: Any, *records: dict[str, Any], config: Config | None = None,
                   clock: Clock | None = None) -> IngestReport:
    """The real ingest of JSONL records."""
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    return ingest_bytes(store, data, fmt="jsonl", config=config or config_from_dict({}),
                        clock=clock or FixedClock(NOW), secrets=Secrets({}))


def poll(condition: Callable[[], object], what: str, deadline: float = 60.0) -> object:
    """Wait until ``condition()`` is true and return it; the deadline is generous for a busy machine,
    and the loop ends as soon as the condition holds (a poll, not a sleep that hopes)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def thread_asleep_in(pid: int, wait_channel: str) -> bool:
    """Whether a thread of process ``pid`` sleeps in the kernel function ``wait_channel`` (Linux's
    /proc/PID/task/TID/wchan), e.g. ``hrtimer_nanosleep`` for SQLite's busy handler waiting on a lock."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/wchan", encoding="ascii") as f:
                if f.read().strip() == wait_channel:
                    return True
        except OSError:
            continue
    return False
