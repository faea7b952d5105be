"""Gathering the scheduler's inputs from the database for one reply.

``scheduler.plan_send_time`` is pure; this module reads what it needs: the
contact's preferences and time zone, their last 100 message times, the
channel-wide hour-of-week profile (computed once per run, from the channel's
last 5,000 inbound messages, in the config's default time zone — a
per-message zone would cost a zone lookup per row for a prior that only
matters for contacts with little history), the last reply to this contact,
and the 24-hour window.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..channels.policy import POLICIES
from ..clock import from_iso
from ..config import Config
from ..contacts import contact_timezone
from ..db import activity
from ..db.contacts import contact_row
from ..db.ratelimits import Limit
from ._planner import Preferences, SendPlan, hour_of_week_profile, plan_send_time

HISTORY = 100
CHANNEL_SAMPLE = 5000


def channel_profile(conn: sqlite3.Connection, channel: str, tz_name: str) -> list[float]:
    times = activity.inbound_times_on_channel(conn, channel, CHANNEL_SAMPLE)
    return hour_of_week_profile((from_iso(t) for t in times), ZoneInfo(tz_name))


def plan_reply_time(conn: sqlite3.Connection, config: Config, now: datetime, event: sqlite3.Row,
                    window_closes: datetime | None, profiles: dict[str, list[float]], *,
                    ignore_dnd: bool = False) -> SendPlan:
    """When this reply should go out. ``ignore_dnd``: an operator chose to send inside the contact's DND."""
    channel = event["channel"]
    if channel not in profiles:
        profiles[channel] = channel_profile(conn, channel, config.autopilot.timezone)
    contact = contact_row(conn, event["contact_id"])
    try:
        prefs = Preferences.from_row(contact)
    except ValueError:
        prefs = Preferences()  # a bad stored preference must not stop the reply; defaults apply
    if ignore_dnd:
        prefs = dataclasses.replace(prefs, dnd_until=None)
    tz, tz_source = contact_timezone(conn, event["contact_id"], config.autopilot.timezone, event=event)
    history = [from_iso(t) for t in activity.inbound_times_of_contact(conn, event["contact_id"], HISTORY)]
    last = activity.last_reply_to_contact(conn, event["contact_id"], channel)
    entry = config.channels.get(channel)
    rules = config.schedule.rules_for(channel, getattr(entry, "min_gap_seconds", None))
    return plan_send_time(
        now=now, received_at=from_iso(event["received_at"]), channel=channel, tz=tz, tz_source=tz_source,
        prefs=prefs, rules=rules, contact_history=history, channel_profile=profiles[channel],
        window_closes=window_closes, last_send_to_contact=from_iso(last) if last else None,
        min_delay=timedelta(seconds=config.autopilot.min_delay_seconds),
        holidays=config.schedule.holidays, seed=str(event["id"]),
    )


WINDOW_CHANNELS = {name: p.window for name, p in POLICIES.items() if p.window is not None}


def window_closes(conn: sqlite3.Connection, event: Mapping[str, Any] | sqlite3.Row) -> datetime | None:
    """When free-form replies to this contact on ``event``'s channel stop being allowed; None: no window."""
    span = WINDOW_CHANNELS.get(event["channel"])
    if span is None:
        return None
    last = activity.last_inbound_at(conn, event["contact_id"], event["channel"])
    assert last is not None, "a reply always answers a stored inbound message"
    return from_iso(last) + span


def reply_limits(config: Config, event: Mapping[str, Any] | sqlite3.Row) -> list[Limit]:
    """The rolling limits a reply on ``event``'s channel to its contact must respect."""
    limits = config.limits
    entry = config.channels.get(event["channel"])
    per_hour = (entry.max_per_hour if entry is not None else None) or limits.per_channel_per_hour
    per_day = (entry.max_per_day if entry is not None else None) or limits.per_channel_per_day
    contact = str(event["contact_id"])
    return [
        Limit("contact", contact, limits.per_contact_per_day, timedelta(days=1), "rate:contact_per_day"),
        Limit("channel", event["channel"], per_hour, timedelta(hours=1), "rate:channel_per_hour"),
        Limit("channel", event["channel"], per_day, timedelta(days=1), "rate:channel_per_day"),
    ]

