"""``autopilot history``: the conversation as the customer saw it, newest last.

Three kinds of entry, from three tables, in one time line:

- ``inbound`` — what the contact wrote (``events``), at ``received_at``, with
  the provider's message id and how ``process`` decided it (``pending`` if not yet);
- ``outbound`` — every reply we made a job of (``jobs``), with its state, the
  provider's id and the furthest delivery status. Its time is when it was sent;
  a reply still waiting is placed at its planned ``send_at`` (so a reply planned
  for tomorrow is the last entry), one that ended without being sent
  (cancelled, skipped, failed, needs_reconcile) at its last change. The text is
  ``jobs.text``: what was (or will be) sent, byte for byte;
- ``opt_out`` / ``opt_in`` — every consent change (``consent_changes``): its
  scope, its source and rule, and the operator's reason if one was given.

Read only. ``--since`` takes an ISO date or time (UTC when no offset) or an age
such as ``7d``, ``12h`` or ``30m``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from ..clock import Clock, to_iso
from ..db import timeline
from ..db.connection import Store
from ..scheduling.rules import parse_dnd_until
from ._preferences import find_contact_id

ENTRY_KEYS = ("at", "kind", "contact_id", "channel", "address", "text", "state", "provider_message_id",
              "delivery_status", "event_id", "job_id", "reason")
"""The keys of each entry of ``history --json`` (stable: scripts read them)."""

DEFAULT_LIMIT = 200


class HistoryEntry(BaseModel):
    at: str
    kind: Literal["inbound", "outbound", "opt_out", "opt_in"]
    contact_id: int
    channel: str
    """The channel; for a consent change its scope (``all`` or a channel)."""
    address: str | None
    """Who wrote (inbound) or who we wrote to (outbound); null for a consent change."""
    text: str | None
    state: str | None
    """inbound: the event's outcome or ``pending``; outbound: the job's state; consent: its category."""
    provider_message_id: str | None
    delivery_status: str | None
    event_id: int | None
    job_id: int | None
    reason: str | None
    """outbound: the job's error, if any; consent: the rule (or source) and its detail — an operator's reason."""


class Conversation(BaseModel):
    contact_id: int | None
    since: str | None
    total: int
    """Entries matching; ``entries`` holds the newest ``limit`` of them, oldest first."""
    entries: list[HistoryEntry]


def parse_since(text: str, now: datetime) -> datetime:
    """``7d`` / ``12h`` / ``30m`` ago, or an ISO date (midnight UTC) or time; ValueError otherwise."""
    value = text.strip()
    age = re.fullmatch(r"(\d{1,6})\s*([dhm])", value, re.I)
    if age:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[age.group(2).lower()]
        return now - timedelta(**{unit: int(age.group(1))})
    try:
        return parse_dnd_until(value)
    except ValueError:
        raise ValueError(f"{text!r} is neither an age (7d, 12h, 30m) nor a date or time (2026-12-01, "
                         "2026-12-01T09:00+01:00)") from None


def conversation(store: Store, clock: Clock, contact: str | None = None, since: str | None = None,
                 limit: int = DEFAULT_LIMIT) -> Conversation:
    """The entries of one contact (an address, ``channel:address`` or ``#ID``), or of everyone, newest last."""
    conn = store.conn
    contact_id = find_contact_id(conn, contact) if contact is not None else None
    since_at = to_iso(parse_since(since, clock.now())) if since is not None else None
    total, rows = timeline.newest(conn, contact_id=contact_id, since=since_at, limit=limit)
    entries = [HistoryEntry(**{key: row[key] for key in ENTRY_KEYS}) for row in reversed(rows)]
    return Conversation(contact_id=contact_id, since=since_at, total=total, entries=entries)
