"""The reads ``autopilot demo`` makes to show each step of the pipeline on its scratch database."""

from __future__ import annotations

import sqlite3

from .connection import Store


def events_in_order(store: Store) -> list[sqlite3.Row]:
    """(id, channel, sender, text, automated) of every inbound event, as received."""
    return store.query("SELECT id, channel, sender, text, automated FROM events ORDER BY received_at, id")


def event_text(store: Store, event_id: int) -> str | None:
    """An inbound event's text; None when there is no such event."""
    return store.scalar("SELECT text FROM events WHERE id = ?", (event_id,))


def draft_text(store: Store, draft_id: int) -> str | None:
    """A draft's text as drafted; None when there is no such draft."""
    return store.scalar("SELECT text FROM drafts WHERE id = ?", (draft_id,))


def anything_decided_by(store: Store, actor: str) -> bool:
    """Whether ``actor`` has approved or rejected any draft."""
    return bool(store.scalar("SELECT 1 FROM drafts WHERE decided_by = ?", (actor,)))


def last_scheduled_send_at(store: Store) -> str | None:
    """When the last still-scheduled job is due; None when none is scheduled."""
    return store.scalar("SELECT max(send_at) FROM jobs WHERE state = 'scheduled'")
