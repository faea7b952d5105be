"""A contact's sending preferences: read and change them (``autopilot contacts``).

A contact is named by any of its addresses, normalized the way ingest
normalizes senders (``+49 151 2345 6789`` finds ``+4915123456789``), by
``channel:address`` when an id could belong to several channels, or by
``#ID``. A change is one ``BEGIN IMMEDIATE`` transaction that finds the
contact, updates it and writes an ``audit_log`` row; values are validated
with the scheduler's parsers and stored in canonical form.

Reading a contact also reads its consent state (``consent_entries``): one
entry per scope and category with a recorded choice, since when and why.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import tzinfo
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from ..channels.policy import CHANNELS
from ..clock import Clock, from_iso, to_iso
from ..db import audit, consent as consent_rows, contacts as contact_rows
from ..db.connection import Store
from ..errors import AutopilotError, NotFound
from ..scheduling.rules import format_days, format_hours, parse_days, parse_dnd_until, parse_hours
from ..scheduling.timezones import load_zone, resolve_timezone, zone_name
from ._addresses import AddressError, normalize_address
from ._directory import find_contact

PrefField = Literal["timezone", "quiet_hours", "allowed_hours", "allowed_days", "dnd_until", "preferred_channel"]
FIELDS: tuple[str, ...] = ("timezone", "quiet_hours", "allowed_hours", "allowed_days", "dnd_until", "preferred_channel")


class ContactAddress(BaseModel):
    kind: str
    address: str


class ConsentEntry(BaseModel):
    """The current choice for one scope (``all`` or a channel) and category (``all`` or ``marketing``)."""

    scope: str
    category: str
    state: str
    """``opted_out`` or ``opted_in``."""
    since: str
    source: str | None
    """keyword, natural_language, provider, unsubscribe_link, operator…"""
    rule: str | None
    reason: str | None
    """The operator's reason, or the rule's detail (the keyword's language, the link's issue date)."""
    event_id: int | None


def consent_entries(conn: sqlite3.Connection, contact_id: int) -> list[ConsentEntry]:
    rows = consent_rows.entries(conn, contact_id)
    return [ConsentEntry(scope=r["scope"], category=r["category"], state=r["state"], since=r["updated_at"],
                         source=r["source"], rule=r["rule"], reason=r["detail"], event_id=r["event_id"])
            for r in rows]


def opted_out_since(entries: list[ConsentEntry]) -> str | None:
    """When the contact opted out of every message (on some scope); None if they have not."""
    times = [e.since for e in entries if e.state == "opted_out" and e.category == "all"]
    return min(times) if times else None


class ContactPrefs(BaseModel):
    contact_id: int
    name: str | None
    addresses: list[ContactAddress]
    timezone: str | None
    preferred_channel: str | None
    quiet_hours: str | None
    allowed_hours: str | None
    allowed_days: str | None
    dnd_until: str | None
    """UTC ISO-8601; nothing is sent before it."""
    away_until: str | None = None
    """UTC ISO-8601, from the contact's out-of-office reply: replies wait until then."""
    blocked: bool
    effective_timezone: str
    """The zone the scheduler uses now, and why (``timezone_source``)."""
    timezone_source: str
    updated_at: str
    opted_out: bool = False
    """Opted out of every message, on all channels or on one (``consent`` says which)."""
    opted_out_since: str | None = None
    consent: list[ConsentEntry] = []


class PrefsUpdate(BaseModel):
    """Values to set (None = leave as is) and fields to clear; validated and made canonical."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = None
    quiet_hours: str | None = None
    allowed_hours: str | None = None
    allowed_days: str | None = None
    dnd_until: str | None = None
    preferred_channel: str | None = None
    blocked: bool | None = None
    clear: list[PrefField] = []

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else zone_name(load_zone(v))

    @field_validator("quiet_hours", "allowed_hours")
    @classmethod
    def _hours(cls, v: str | None) -> str | None:
        return None if v is None else format_hours(parse_hours(v))

    @field_validator("allowed_days")
    @classmethod
    def _days(cls, v: str | None) -> str | None:
        return None if v is None else format_days(parse_days(v))

    @field_validator("dnd_until")
    @classmethod
    def _dnd(cls, v: str | None) -> str | None:
        return None if v is None else to_iso(parse_dnd_until(v))

    @field_validator("preferred_channel")
    @classmethod
    def _channel(cls, v: str | None) -> str | None:
        if v is not None and v not in CHANNELS:
            raise ValueError(f"unknown channel {v!r}; channels are {', '.join(CHANNELS)}")
        return v

    def values(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {k: getattr(self, k) for k in FIELDS if getattr(self, k) is not None}
        both = sorted(set(out) & set(self.clear))
        if both:
            raise ValueError(f"{both[0]} is both set and cleared")
        out.update({k: None for k in self.clear})
        return out


def find_contact_id(conn: sqlite3.Connection, contact: str) -> int:
    """The contact behind an address, ``channel:address`` or ``#ID``; NotFound otherwise."""
    text = contact.strip()
    if text.startswith("#") and text[1:].isdigit():
        if not contact_rows.exists(conn, int(text[1:])):
            raise NotFound(f"no contact with id {text[1:]}")
        return int(text[1:])
    prefix, sep, rest = text.partition(":")
    channels = [prefix] if sep and prefix in CHANNELS else list(CHANNELS)
    value = rest if sep and prefix in CHANNELS else text
    found: set[int] = set()
    for channel in channels:
        try:
            address = normalize_address(channel, value)
        except AddressError:
            continue
        contact_id = find_contact(conn, channel, address)
        if contact_id is not None:
            found.add(contact_id)
    if not found:
        raise NotFound(f"no contact with address {contact!r}")
    if len(found) > 1:
        ids = ", ".join(f"#{i}" for i in sorted(found))
        raise AutopilotError(f"{contact!r} matches several contacts ({ids}); name one as channel:address or #ID")
    return found.pop()


def contact_timezone(conn: sqlite3.Connection, contact_id: int, default: str,
                     event: sqlite3.Row | None = None) -> tuple[tzinfo, str]:
    """The scheduler's zone for a contact: its preference, else the event's (default: latest) hints."""
    contact = contact_rows.contact_row(conn, contact_id)
    if event is None:
        event = contact_rows.latest_event_hints(conn, contact_id)
    phone = contact_rows.first_phone(conn, contact_id)
    offset, event_tz, at = None, None, None
    if event is not None:
        event_tz, at = event["timezone"], from_iso(event["received_at"])
        offset = json.loads(event["metadata"] or "{}").get("date_utc_offset")
    return resolve_timezone(contact["timezone"], event_tz, offset, phone, default, at=at)


def _read(conn: sqlite3.Connection, contact_id: int, default_timezone: str) -> ContactPrefs:
    row = contact_rows.contact_row(conn, contact_id)
    addresses = contact_rows.addresses(conn, contact_id)
    tz, source = contact_timezone(conn, contact_id, default_timezone)
    consent = consent_entries(conn, contact_id)
    since = opted_out_since(consent)
    return ContactPrefs(
        contact_id=contact_id, name=row["name"],
        addresses=[ContactAddress(kind=a["kind"], address=a["address"]) for a in addresses],
        **{k: row[k] for k in FIELDS}, away_until=row["away_until"], blocked=bool(row["blocked"]),
        effective_timezone=zone_name(tz), timezone_source=source, updated_at=row["updated_at"],
        opted_out=since is not None, opted_out_since=since, consent=consent,
    )


def get_prefs(store: Store, contact: str, default_timezone: str = "UTC") -> ContactPrefs:
    conn = store.conn
    return _read(conn, find_contact_id(conn, contact), default_timezone)


def update_prefs(store: Store, clock: Clock, contact: str, update: PrefsUpdate, *, actor: str = "cli",
                 default_timezone: str = "UTC") -> ContactPrefs:
    """Apply ``update`` in one transaction; raises ValueError when a field is both set and cleared."""
    values = update.values()
    if update.blocked is not None:
        values["blocked"] = int(update.blocked)  # type: ignore[assignment]
    now = to_iso(clock.now())
    with store.transaction() as conn:
        contact_id = find_contact_id(conn, contact)
        if values:
            contact_rows.update_fields(conn, contact_id, values, now)  # keys come from FIELDS, never from input
            audit.record(conn, at=now, actor=actor, action="contact_prefs", object_type="contact",
                         object_id=contact_id, detail=values)
        return _read(conn, contact_id, default_timezone)
